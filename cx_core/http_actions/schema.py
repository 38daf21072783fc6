"""JSON Schema → the pydantic argument model every action has, so a declared action is validated, edited in the
workspace and refused in one line exactly like one written in Python (unknown fields refused)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, create_model

from ..actions.base import ENUM_LABELS, Args
from ..errors import InvalidInput

_SIMPLE: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}


def _type(name: str, schema: dict[str, Any], where: str) -> Any:
    if "enum" in schema:
        values = tuple(schema["enum"])
        if not values:
            raise InvalidInput(f"{where}: enum is empty")
        return Literal[values]  # type: ignore[valid-type]
    kind = schema.get("type", "string")
    if isinstance(kind, list):  # ["string", "null"]: optional
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if kinds else "string"
    if kind == "string" and schema.get("format") == "date":
        return date
    if kind == "string" and schema.get("format") == "date-time":
        return datetime
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind == "array":
        return list[_type(name, schema.get("items") or {"type": "string"}, f"{where}.items")]  # type: ignore[misc]
    if kind == "object":
        return dict[str, Any]
    raise InvalidInput(f"{where}: type '{kind}' is not supported (string, integer, number, boolean, array, object)")


LABELS = ENUM_LABELS  # a mapping of each enum value to its name, or a list of names in the enum's order


def enum_labels(schema: dict[str, Any], where: str) -> dict[str, str]:
    """An enum's ``x-enum-labels`` as value → label (a mapping, or a list in the order of ``enum``); a label for a
    value the enum does not have, or a list of another length, is one line naming the field."""
    raw = schema.get(LABELS)
    if raw is None:
        return {}
    values = [str(v) for v in schema.get("enum") or []]
    if not values:
        raise InvalidInput(f"{where}.{LABELS}: labels need an enum beside them")
    if isinstance(raw, list):
        if len(raw) != len(values):
            raise InvalidInput(f"{where}.{LABELS}: {len(raw)} labels for {len(values)} enum values: give one each")
        raw = dict(zip(values, raw, strict=True))
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}.{LABELS}: must map each enum value to its name, e.g. {{FIX12: Fixed 12}}")
    unknown = [str(k) for k in raw if str(k) not in values]
    if unknown:
        raise InvalidInput(f"{where}.{LABELS}: {', '.join(unknown)} not among the enum values ({', '.join(values)})")
    return {str(k): str(v) for k, v in raw.items() if str(v).strip()}


def _constraints(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for json_key, field_key in (("minimum", "ge"), ("maximum", "le"), ("exclusiveMinimum", "gt"),
                                ("exclusiveMaximum", "lt"), ("minLength", "min_length"), ("maxLength", "max_length"),
                                ("minItems", "min_length"), ("maxItems", "max_length"), ("pattern", "pattern")):
        if json_key in schema and not isinstance(schema[json_key], bool):
            out[field_key] = schema[json_key]
    return out


def model_from_schema(name: str, schema: dict[str, Any], where: str = "arguments") -> type[Args]:
    """A pydantic model (subclass of ``Args``: unknown fields refused) for an object JSON Schema: required
    properties are required, the others optional (their ``default`` kept); descriptions become field help."""
    if not isinstance(schema, dict):
        raise InvalidInput(f"{where}: must be a JSON Schema object")
    if schema.get("type", "object") != "object":
        raise InvalidInput(f"{where}: must be an object schema (type: object)")
    props = schema.get("properties") or {}
    if not isinstance(props, dict):
        raise InvalidInput(f"{where}.properties: must be a mapping of field names to schemas")
    required = set(schema.get("required") or [])
    unknown = required - set(props)
    if unknown:
        raise InvalidInput(f"{where}.required: {', '.join(sorted(unknown))} not among the properties")
    fields: dict[str, Any] = {}
    for field, sub in props.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(field)) or str(field).startswith("model_"):
            raise InvalidInput(f"{where}.properties.{field}: use letters, digits and _ for argument names")
        if not isinstance(sub, dict):
            raise InvalidInput(f"{where}.properties.{field}: must be a schema")
        kind = _type(field, sub, f"{where}.properties.{field}")
        extra = {"description": sub.get("description") or None, **_constraints(sub)}
        labels = enum_labels(sub, f"{where}.properties.{field}")
        if labels:
            extra["json_schema_extra"] = {LABELS: labels}
        if field in required:
            fields[field] = (kind, Field(..., **extra))
        else:
            fields[field] = (kind | None, Field(default=sub.get("default"), **extra))
    model_name = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part) or "Declared"
    try:
        return create_model(f"{model_name}Args", __base__=Args, **fields)  # type: ignore[no-any-return,call-overload]
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{where}: {exc}") from exc
