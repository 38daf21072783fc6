"""What the reading keeps as it goes: the requests of the message (``_Unit``), what they ask so far per order
(``_State``), and the message they are read in (``_Context``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import _Item


@dataclass
class _Unit:
    """One request of the message: the verbs of a sentence, and what the customer wants instead if it cannot
    be done (a fallback's verbs, or only another payment method)."""

    ops: list[tuple[str, str, str]]  # (verb, segment, sentence)
    sentence: str
    fallback: list[tuple[str, str, str]] | None = None
    fallback_sentence: str = ""


@dataclass
class _State:
    """What the requests read so far ask, by order: items to return, items to change (with the option each
    changes to), cancellations (with the reason), new addresses, the account's new address, the payment methods
    named; and the items the last request spoke of."""

    returns: dict[str, list[_Item]] = field(default_factory=dict)
    changes: dict[str, list[tuple[_Item, dict[str, Any]]]] = field(default_factory=dict)
    cancels: dict[str, str] = field(default_factory=dict)  # order → reason
    addresses: dict[str, dict[str, str]] = field(default_factory=dict)
    default_address: dict[str, str] | None = None
    methods: dict[str, set[str]] = field(default_factory=dict)  # order → methods the requests on it named
    items: list[_Item] = field(default_factory=list)  # the items the last request spoke of ("the other one")

    def copy(self) -> _State:
        return _State({k: list(v) for k, v in self.returns.items()}, {k: list(v) for k, v in self.changes.items()},
                      dict(self.cancels), dict(self.addresses), self.default_address,
                      {k: set(v) for k, v in self.methods.items()}, list(self.items))

    def orders(self) -> set[str]:
        return set(self.returns) | set(self.changes) | set(self.cancels) | set(self.addresses)


@dataclass
class _Context:
    snap: dict[str, Any]
    text: str  # the whole message, as read (option lists already taken out)
    order_ids: list[str]
    hints: list[tuple[str, str]]
    preferences: list[str]
    details: list[str] = field(default_factory=list)  # sentences that ask nothing but may give a detail
    around: str = ""  # the request a fallback replaces, for details it gave (a reason)
    asks: dict[str, str] = field(default_factory=dict)  # ``Reading.asks``, filled as requests are found impossible
    strict: bool = False  # the request has a fallback: an option not spoken of must not change, and what the
