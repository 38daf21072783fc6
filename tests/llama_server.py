"""``python -m llama_cpp.server`` as the tests start it, with llama.cpp's weight-repacking buffers turned off.

Built on a CPU with AMX (Sapphire Rapids and later), llama-cpp-python 0.3.36 repacks the weights for AMX and crashes
with a segmentation fault on the first token; the plain CPU buffers compute the same answers. Run as
``python -m tests.llama_server --model … --port …`` (the server's own arguments)."""

from __future__ import annotations

from llama_cpp import llama_cpp as native
from llama_cpp.server.__main__ import main

_defaults = native.llama_model_default_params


def _without_repacking() -> native.llama_model_params:
    params = _defaults()
    params.use_extra_bufts = False
    return params


native.llama_model_default_params = _without_repacking  # read by llama_cpp.Llama each time a model loads

if __name__ == "__main__":
    main()
