"""Repeat contacts: how many times a customer has written about one problem, from their earlier tickets of the same
task type and from what the message itself says ("this is the third time I've written")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from .store.db import Database
from .store.tables import TicketRow

WINDOW = timedelta(days=30)
# what a message says of its own place in a series of contacts: the contact number it implies
_SAID = [
    (re.compile(r"\b(fifth|5th)\s+(time|email|message|call)\b", re.I), 5),
    (re.compile(r"\b(fourth|4th)\s+(time|email|message|call)\b", re.I), 4),
    (re.compile(r"\b(third|3rd)\s+(time|email|message|call)\b", re.I), 3),
    (re.compile(r"\b(several|multiple|many|countless|numerous)\s+times\b|\bkeep\s+(asking|writing|calling|"
                r"chasing|emailing)\b|\b(twice|two times)\s+(already|before)\b|\b(wrote|written|emailed|called|"
                r"contacted\s+you|messaged|asked)\s+(twice|two times)\b", re.I), 3),
    (re.compile(r"\b(second|2nd)\s+(time|email|message|call)\b|\balready\s+(asked|told|wrote|written|called|"
                r"emailed|contacted)\b|\b(wrote|emailed|called|contacted you|asked)\s+(last week|yesterday|"
                r"before|earlier)\b|\bstill\s+(no|not|nothing|waiting)\b", re.I), 2),
]


@dataclass
class Contacts:
    """The contact number of this ticket about its problem and the earlier tickets it follows."""

    number: int = 1
    earlier: list[dict[str, Any]] = field(default_factory=list)
    said: str = ""  # the customer's own words about earlier contacts, when they count

    def reason(self, what: str) -> str:
        ordinal = {2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(self.number, f"{self.number}th")
        parts = [f"repeated contact: the customer's {ordinal} contact about {what}"]
        if self.earlier:
            parts.append("earlier tickets " + ", ".join(f"{e['at']:%d %b}" for e in self.earlier))
        if self.said:
            parts.append(f"the customer says \"{self.said}\"")
        return "; ".join(parts)


def said_number(text: str) -> tuple[int, str]:
    """The contact number a message implies of itself, and the words that say so (1 and '' when it says none)."""
    for pattern, number in _SAID:
        m = pattern.search(text)
        if m:
            return number, m.group(0)
    return 1, ""


def count(db: Database, customer_id: str | None, task_types: list[str], ticket_id: str, now: datetime,
          text: str) -> Contacts:
    """This ticket's contact number about its problem: one more than the customer's earlier tickets of the same
    task types in the last 30 days, or what the message says of itself when that is more."""
    earlier: list[dict[str, Any]] = []
    kinds = [k for k in task_types if k and k not in {"unclassified", "none"}]
    if customer_id and kinds:
        with db.session() as s:
            rows = s.scalars(select(TicketRow).where(
                TicketRow.customer_id == customer_id, TicketRow.id != ticket_id, TicketRow.task_type.in_(kinds),
                TicketRow.created_at >= now - WINDOW, TicketRow.created_at <= now)
                .order_by(TicketRow.created_at).limit(20)).all()
            earlier = [{"id": r.id, "at": r.created_at, "subject": r.subject or r.body[:80], "status": r.status,
                        "task_type": r.task_type} for r in rows]
    number, words = said_number(text)
    counted = len(earlier) + 1
    return Contacts(number=max(counted, number), earlier=earlier, said=words if number > counted else "")
