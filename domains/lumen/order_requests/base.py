"""What every part of the reading of order requests shares: what a reading found (``Reading``), the two ways a
request stays unsettled (``Unsure``, a doubt a person resolves; ``Impossible``, a fact of the records or of the
shop's rules, where a fallback the customer gave applies), and an item of one of the customer's orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reading:
    """What the text asks for: typed steps ready for ``execute`` (action, args, why) for the requests it settled,
    and why the rest (or all of it, when there are no steps) is unsure."""

    steps: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    unsure: str = ""
    found: bool = False  # the text asks for something done with an order at all
    asks: dict[str, str] = field(default_factory=dict)  # for a reason a request cannot be done: what to ask instead


class Unsure(Exception):
    pass


class Impossible(Unsure):
    """The request is clear but cannot be done under the shop's rules or with what is in stock (a fact of the
    records, not a doubt of the reading): a fallback the customer gave ("if not possible, …") applies. ``items``
    are the items the request spoke of, which the fallback's "it" stands for."""

    def __init__(self, why: str, items: list[_Item] | None = None, ask: str = "") -> None:
        super().__init__(why)
        self.items = items or []
        self.ask = ask  # the way forward the rules leave, as a question to the customer


@dataclass
class _Item:
    order: dict[str, Any]
    item: dict[str, Any]
