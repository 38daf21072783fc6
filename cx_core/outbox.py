"""Notifications: the outbox to customers and to the field team."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .store.db import utcnow
from .store.tables import NotificationRow


def send(s: Session, recipient: str, channel: str, kind: str, subject: str, body: str,
         ticket_id: str | None) -> int:
    row = NotificationRow(recipient=recipient, channel=channel, kind=kind, subject=subject[:300], body=body,
                          ticket_id=ticket_id, created_at=utcnow())
    s.add(row)
    s.flush()
    return row.id


def for_ticket(s: Session, ticket_id: str) -> list[NotificationRow]:
    return list(s.scalars(select(NotificationRow).where(NotificationRow.ticket_id == ticket_id)
                          .order_by(NotificationRow.id)))
