"""Persistence: SQLAlchemy tables, engine and migrations."""

from .db import Database, utcnow

__all__ = ["Database", "utcnow"]
