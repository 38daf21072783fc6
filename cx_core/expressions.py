"""Values computed from a customer's records, as data a recipe states: JMESPath expressions (a well-kept query
language with no code execution: https://jmespath.org) over the snapshot the pack's reads made.

- ``compute``: an argument's value, e.g. the sum of the latest bill's lines that are not the plan,
  ``sum(max_by(bills, &issued_on).lines[?kind != 'plan'].amount)``, optionally capped (``cap``: a number or another
  expression);
- ``filter``: which rows a record binding may choose, e.g. every tariff other than the account's current one,
  ``code != {@accounts.tariff}``, or ``contains(name, 'Fibre')``.

An expression may name what the step bound before it: ``{account_id}`` (an argument) or ``{@accounts.tariff}`` (a
field of the record bound from the read ``accounts``), unquoted: each is put in as a literal (a string quoted, a
number as a number), so a value from the records can never change what the expression does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jmespath
from jmespath import exceptions as jmes_errors
from jmespath.parser import ParsedResult

from .errors import ConfigError

_PLACE = re.compile(r"\{(@?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}")


class NoValue(Exception):
    """The expression names something not bound yet, or finds nothing: the argument is not bound."""


def problem(text: str) -> str:
    """Why ``text`` is not an expression ('' when it is one), for ``domain check`` and the recipes' loader."""
    try:
        jmespath.compile(_PLACE.sub("'x'", text))
    except jmes_errors.JMESPathError as exc:
        return f"not a JMESPath expression: {str(exc).splitlines()[0]}"
    return ""


@lru_cache(maxsize=512)
def _compiled(text: str) -> ParsedResult:
    try:
        return jmespath.compile(text)
    except jmes_errors.JMESPathError as exc:
        raise ConfigError(f"recipes: {text!r} is not a JMESPath expression: {str(exc).splitlines()[0]}") from exc


def _literal(value: Any) -> str:
    """A value as a JMESPath literal: a string as a raw string, anything else as JSON."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "`" + json.dumps(value) + "`"


def _at(node: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            raise NoValue(".".join(path))
        node = node[part]
    return node


def with_values(text: str, bound: Mapping[str, Any]) -> str:
    """``text`` with each ``{name}`` and ``{@read.field}`` put in as a literal; ``NoValue`` when one is not bound."""
    def put(m: re.Match[str]) -> str:
        name, *path = m.group(1).split(".")
        if name not in bound:
            raise NoValue(m.group(1))
        return _literal(_at(bound[name], path))

    return _PLACE.sub(put, text)


def evaluate(text: str, data: Any, bound: Mapping[str, Any]) -> Any:
    """The expression's value over ``data`` (the snapshot, or one row for a filter); ``NoValue`` when the records
    do not have the shape it needs (a sum over nothing)."""
    try:
        return _compiled(with_values(text, bound)).search(data)
    except jmes_errors.JMESPathError as exc:
        raise NoValue(text) from exc


def computed(text: str, snapshot: Mapping[str, Any], bound: Mapping[str, Any], cap: Any = None) -> Any:
    """A ``compute`` binding's value: the expression over the snapshot, at most ``cap`` (a number or an
    expression); an amount is rounded to cents. ``NoValue`` when it finds nothing."""
    value = evaluate(text, dict(snapshot), bound)
    if value is None or value == [] or value == "":
        raise NoValue(text)
    if cap is not None:
        limit = evaluate(cap, dict(snapshot), bound) if isinstance(cap, str) else cap
        if isinstance(limit, int | float) and isinstance(value, int | float) and not isinstance(value, bool):
            value = min(value, limit)
    return round(value, 2) if isinstance(value, float) else value


def keeps(text: str, row: Any, bound: Mapping[str, Any]) -> bool:
    """Whether a ``filter`` expression keeps ``row``."""
    return bool(evaluate(text, row, bound))
