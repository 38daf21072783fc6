"""Column types whose values pass the masking step on their way into the database: every insert and update,
through the ORM or a bulk ``update(...).values(...)``, so an error text or a path that echoes a secret is stored
with ``[secret removed]`` in its place (``cx_core.secret_mask``). Reading returns what was stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ..secret_mask import mask, mask_data


class MaskedText(TypeDecorator[str]):
    """``Text`` with secrets masked on the way in."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return mask(value) if isinstance(value, str) else value


class MaskedString(TypeDecorator[str]):
    """``String(n)`` with secrets masked on the way in."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return mask(value) if isinstance(value, str) else value


class MaskedJSON(TypeDecorator[Any]):
    """``JSON`` with every string inside masked on the way in."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return mask_data(value)
