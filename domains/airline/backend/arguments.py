"""Reading a write's arguments: a mapping or a model, with required text, whole numbers, dates, yes or no,
choices, passengers and flights checked one by one. A malformed argument raises ``InvalidInput``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from cx_core.errors import InvalidInput


def _as_dict(args: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(args, BaseModel):
        return args.model_dump()
    if isinstance(args, Mapping):
        return dict(args)
    raise InvalidInput(f"arguments must be a mapping, not {type(args).__name__}")


def _text(a: Mapping[str, Any], key: str) -> str:
    value = a.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{key} is required")
    return value.strip()


def _int(a: Mapping[str, Any], key: str, minimum: int = 0) -> int:
    value = a.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise InvalidInput(f"{key} must be a whole number")
    if value < minimum:
        raise InvalidInput(f"{key} must be at least {minimum}")
    return int(value)


def _day(value: Any, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidInput(f"{what} must be a date as YYYY-MM-DD, not {value!r}")


def _yes_no(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("yes", "no"):
        return value == "yes"
    raise InvalidInput(f"{key} must be 'yes' or 'no'")


def _choice(a: Mapping[str, Any], key: str, allowed: Iterable[str]) -> str:
    value = _text(a, key)
    options = tuple(allowed)
    if value not in options:
        raise InvalidInput(f"{key} must be one of {', '.join(options)}, not '{value}'")
    return value


def _passengers(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple) or not value:
        raise InvalidInput("passengers must be a non-empty list of {first_name, last_name, dob}")
    out = []
    for i, p in enumerate(value, 1):
        p = _as_dict(p)
        first, last = str(p.get("first_name") or "").strip(), str(p.get("last_name") or "").strip()
        if not first or not last:
            raise InvalidInput(f"passenger {i} needs a first and a last name")
        dob = _day(p.get("dob"), f"passenger {i}'s date of birth")
        if dob >= date.today() or dob.year < 1900:
            raise InvalidInput(f"passenger {i}'s date of birth {dob.isoformat()} is not plausible")
        out.append({"first_name": first, "last_name": last, "dob": dob.isoformat()})
    return out


def _flight_refs(value: Any) -> list[tuple[str, date]]:
    if not isinstance(value, list | tuple) or not value:
        raise InvalidInput("flights must be a non-empty list of {flight_number, date}")
    refs = []
    for i, f in enumerate(value, 1):
        f = _as_dict(f)
        number = str(f.get("flight_number") or "").strip().upper()
        if not number:
            raise InvalidInput(f"flight {i} needs a flight_number")
        refs.append((number, _day(f.get("date"), f"flight {number}'s date")))
    seen = [r for r, n in Counter(refs).items() if n > 1]
    if seen:
        raise InvalidInput(f"flight {seen[0][0]} on {seen[0][1].isoformat()} is listed twice")
    return refs
