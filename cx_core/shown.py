"""Values as people read them on screen: dates and times written out, code words ("basic_economy") as words,
nested records as short phrases, never a dict or a raw timestamp. Ids stay as they are: they are what one copies."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from .wording import money_in

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_CODE_WORD = re.compile(r"^[a-z]+(?:_[a-z]+)+$")  # snake_case words without digits: a code, not an id


def when(value: date | datetime) -> str:
    """``1 Dec 2026`` or ``1 Dec 2026, 08:00``."""
    if isinstance(value, datetime):
        text = f"{value.day} {value:%b %Y}"
        return text if (value.hour, value.minute) == (0, 0) and not value.second else f"{text}, {value:%H:%M}"
    return f"{value.day} {value:%b %Y}"


def card(brand: Any, last_four: Any) -> str:
    """A card as people name it, in a sentence too: "Visa card ending 3681", "Mastercard ending 0252"."""
    name = str(brand).title()
    return f"{name}{'' if name.lower().endswith('card') else ' card'} ending {last_four}"


def field(name: str) -> str:
    """An argument or column as a person says it: ``item_ids`` → ``Items``, ``new_slot_id`` → ``New slot``."""
    words = name.removesuffix("_ids").removesuffix("_id").replace("_", " ").strip()
    return (words + ("s" if name.endswith("_ids") and not words.endswith("s") else "")).capitalize()


def value(v: Any) -> str:
    """One value as text a person reads: ``2026-12-01T08:00`` → ``1 Dec 2026, 08:00``, ``basic_economy`` →
    ``basic economy``, ``{"flight_number": "HAT052", "date": "2026-12-01"}`` → ``HAT052, 1 Dec 2026``,
    ``True`` → ``yes``."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, datetime | date):
        return when(v)
    if isinstance(v, float):
        return f"{v:,.2f}".rstrip("0").rstrip(".") if v != int(v) else f"{int(v):,}"
    if isinstance(v, dict):
        return _record(v)
    if isinstance(v, list | tuple):
        return "; ".join(value(x) for x in v) if any(isinstance(x, dict) for x in v) else ", ".join(
            value(x) for x in v)
    text = str(v)
    if _ISO_DATE.match(text):
        return when(date.fromisoformat(text))
    if _ISO_TIME.match(text):
        try:
            return when(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            return text
    if _CODE_WORD.match(text):
        return text.replace("_", " ")
    return text


_NAME_PART = re.compile(r"(?:^|_)(?:first|middle|last|given|family)_?name$")
_BIRTH = {"dob", "date_of_birth", "birth_date", "birthday"}
_MONEY = {"amount", "price", "total", "balance", "fare", "cost"}


def _record(v: dict[str, Any]) -> str:
    """A small record as a phrase: name parts as one name, a birth date as "born …", an amount as money."""
    out, name = [], []
    for k, x in v.items():
        if x in (None, "", [], {}):
            continue
        if _NAME_PART.search(k) and isinstance(x, str):
            name.append(x)
        elif k in _BIRTH:
            out.append(f"born {value(x)}")
        elif k in _MONEY and isinstance(x, int | float) and not isinstance(x, bool):
            out.append(money_in(float(x)))
        else:
            out.append(value(x))
    return ", ".join([" ".join(name)] * bool(name) + out)


def pairs(values: dict[str, Any], skip: tuple[str, ...] = ("message",)) -> str:
    """``Key: value · Key: value`` for the fields that hold something."""
    return " · ".join(f"{field(k)}: {value(v)}" for k, v in values.items()
                      if k not in skip and v not in ("", None, [], {}))
