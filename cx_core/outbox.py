"""The outbox: every outgoing message — a reply to a customer, a note to the field team — is written here in the
transaction that decided it (with its audit event), then delivered by the dispatcher (``cx_core.delivery``).

A reply goes back the way its ticket came in: a mailbox's ticket by e-mail (threaded with ``Message-ID``,
``In-Reply-To`` and ``References``), a helpdesk's as a reply in that helpdesk, an API ticket to the team's webhook;
tickets imported from a file or made by the demo simulator keep their replies in Tandem (``local``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .store.db import utcnow
from .store.tables import MessageRow, NotificationRow, TicketRow

# the destination of a reply, by the source its ticket came from
REPLY_DESTINATIONS = {"email": "email", "chatwoot": "chatwoot", "zendesk": "zendesk", "helpdesk": "helpdesk",
                      "zammad": "zammad", "api": "api"}


def send(s: Session, recipient: str, channel: str, kind: str, subject: str, body: str, ticket_id: str | None,
         destination: str = "local", headers: dict[str, Any] | None = None, message_id: int | None = None,
         key: str | None = None) -> int:
    """Queues one outgoing message in the caller's transaction; the dispatcher delivers it after commit."""
    row = NotificationRow(recipient=recipient, channel=channel, kind=kind, subject=subject[:300], body=body,
                          ticket_id=ticket_id, created_at=utcnow(), destination=destination, status="pending",
                          idempotency_key=key or new_key(), headers=headers or {}, message_id=message_id,
                          attempts=0, next_attempt_at=utcnow())
    s.add(row)
    s.flush()
    return row.id


def new_key() -> str:
    return f"tandem-{uuid.uuid4().hex}"


def reply(s: Session, ticket: TicketRow, recipient: str, subject: str, body: str, author: str,
          sender_domain: str) -> dict[str, Any]:
    """The reply as a message of the ticket's thread and an outbox row to the ticket's own channel, together.
    An e-mail reply gets its ``Message-ID`` now (the message's outside id, so the customer's answer finds the
    ticket) and answers the customer's newest e-mail."""
    destination = REPLY_DESTINATIONS.get(ticket.source, "local")
    key = new_key()
    headers: dict[str, Any] = {}
    external_id = None
    if destination == "email":
        message_id = f"<{key}@{sender_domain or 'tandem.local'}>"
        ids = [str(e).removeprefix("email:") for e in s.scalars(
            select(MessageRow.external_id).where(MessageRow.ticket_id == ticket.id,
                                                 MessageRow.external_id.like("email:%")).order_by(MessageRow.id))]
        inbound = s.scalars(select(MessageRow.external_id).where(
            MessageRow.ticket_id == ticket.id, MessageRow.direction == "in",
            MessageRow.external_id.like("email:%")).order_by(MessageRow.id.desc())).first()
        headers = {"message_id": message_id, "in_reply_to": inbound.removeprefix("email:") if inbound else None,
                   "references": ids[-20:]}
        external_id = f"email:{message_id}"
    m = MessageRow(ticket_id=ticket.id, author=author, body=body, created_at=utcnow(), direction="out",
                   channel=ticket.channel, external_id=external_id)
    s.add(m)
    s.flush()
    nid = send(s, recipient, ticket.channel, "reply", subject, body, ticket.id, destination=destination,
               headers=headers, message_id=m.id, key=key)
    return {"notification_id": nid, "message_id": m.id, "destination": destination}


def for_ticket(s: Session, ticket_id: str) -> list[NotificationRow]:
    return list(s.scalars(select(NotificationRow).where(NotificationRow.ticket_id == ticket_id)
                          .order_by(NotificationRow.id)))
