"""Typed actions and their registry (``base``), the engine's own actions (``conversation``) and the single
``execute`` chokepoint (``execute``), imported from its module so that reading the registry never loads it."""

from .base import REGISTRY, ActionSpec, ExecContext, action_label, is_read

__all__ = ["REGISTRY", "ActionSpec", "ExecContext", "action_label", "is_read"]
