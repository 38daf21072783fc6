"""The schema reader as shipped: the trained weights in ``model/reader.joblib`` (rebuilt by ``python -m cx_core
train-reader``) with the shipped MiniLM encoder; loaded once per process, on first use."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..errors import ConfigError

MODEL_FILE = Path(__file__).resolve().parent / "model" / "reader.joblib"
_lock = threading.Lock()
_reader: list[Any] = []


def load_model(path: Path = MODEL_FILE) -> Any:
    import joblib

    if not path.exists():
        raise ConfigError(f"{path}: the schema reader's weights are missing; rebuild them with "
                          "'python -m cx_core train-reader --sgd ../shared/data/sgd'")
    return joblib.load(path)


def schema_reader() -> Any:
    """The process's one ``SchemaReader``."""
    from ..embedding import shared_embedder
    from .schema_reader import SchemaReader

    with _lock:
        if not _reader:
            embedder = shared_embedder()
            _reader.append(SchemaReader(load_model(), lambda texts: embedder.encode(list(texts))))
        return _reader[0]
