"""Repeat contacts: how many times a customer has written about one problem, from their earlier tickets of the same
task type and from what the message itself says ("this is the third time I've written")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from .store.db import Database
from .store.tables import TicketRow
from .triage import contacts as said_contacts

WINDOW = timedelta(days=30)


@dataclass
class Contacts:
    """The contact number of this ticket about its problem and the earlier tickets it follows."""

    number: int = 1
    earlier: list[dict[str, Any]] = field(default_factory=list)

    def reason(self, what: str) -> str:
        ordinal = {2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(self.number, f"{self.number}th")
        parts = [f"repeated contact: the customer's {ordinal} contact about {what}"]
        if self.earlier:
            parts.append("earlier tickets " + ", ".join(f"{e['at']:%d %b}" for e in self.earlier))
        return "; ".join(parts)


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
    counted = len(earlier) + 1
    return Contacts(number=max(counted, said_contacts(text)), earlier=earlier)
