"""Which backend systems are answering. An operator can take one out of service with
``TANDEM_CONNECTORS_DOWN=billing,scheduling``; the orchestrator then takes the alternative route."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import ConnectorUnavailable

_down: set[str] = set()


def down() -> set[str]:
    configured = {c.strip() for c in os.environ.get("TANDEM_CONNECTORS_DOWN", "").split(",") if c.strip()}
    return configured | _down


def check(connector: str) -> None:
    if connector in down():
        raise ConnectorUnavailable(f"{connector} is unavailable, nothing was changed")


@contextmanager
def outage(*connectors: str) -> Iterator[None]:
    """Marks connectors as down for the duration (maintenance windows and fault drills)."""
    added = set(connectors) - _down
    _down.update(added)
    try:
        yield
    finally:
        _down.difference_update(added)
