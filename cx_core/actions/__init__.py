"""Typed actions, their registry and the single ``execute`` chokepoint."""

from .base import REGISTRY, ActionSpec, ExecContext, is_read
from .execute import Outcome, execute, idempotency_key

__all__ = ["REGISTRY", "ActionSpec", "ExecContext", "Outcome", "execute", "idempotency_key", "is_read"]
