"""Stopping a long-running process (worker, dispatcher) gently: the first SIGINT or SIGTERM lets the work in hand
finish, a second one stops at once."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger("tandem.worker")


@contextmanager
def stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (the ticket in hand finishes); a second one stops at once. Only the main
    thread can take signals; elsewhere the caller's ``stop`` event is the only way to stop."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        log.info("%s: finishing the ticket in hand, then stopping (again to stop at once)",
                 signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
