"""What every part of the reading of order requests shares: what a reading found (``Reading``), the two ways a
request stays unsettled (the engine's ``Unsure``, a doubt a person resolves, and ``Impossible``, a fact of the records
or of the shop's rules, where a fallback the customer gave applies), and an item of one of the customer's orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cx_core.reading.options import Impossible, Unsure

ORDER = "order"  # what the customers call the records these requests act on (``reading.yaml``'s records)


@dataclass
class Reading:
    """What the text asks for: typed steps ready for ``execute`` (action, args, why) for the requests it settled,
    and why the rest (or all of it, when there are no steps) is unsure."""

    steps: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    unsure: str = ""
    found: bool = False  # the text asks for something done with an order at all
    asks: dict[str, str] = field(default_factory=dict)  # for a reason a request cannot be done: what to ask instead
    # the steps the customer wants only if a first choice cannot be done: (action, args, why, the first's action)
    second: list[tuple[str, dict[str, Any], str, str]] = field(default_factory=list)
    fallbacks: list[int] = field(default_factory=list)  # the requests (by place) that give a fallback


@dataclass
class _Item:
    order: dict[str, Any]
    item: dict[str, Any]


__all__ = ["ORDER", "Impossible", "Reading", "Unsure", "_Item"]
