"""The engine's own actions, the same in every domain: replying to the customer and handing a ticket to a person."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy.orm import Session

from .. import outbox
from ..declared_records import records_of
from ..domain import active
from ..drafting import reply_subject
from ..errors import InvalidInput
from ..store.db import require_row
from ..store.tables import TicketRow
from .base import Args, ExecContext, action


class SendReply(Args):
    body: str = Field(min_length=1, max_length=20000)
    subject: str = Field(default="", max_length=300)


def _ticket_owner(s: Session, _a: Any) -> str | None:
    return None


def _ticket(s: Session, ctx: ExecContext) -> TicketRow:
    if not ctx.ticket_id:
        raise InvalidInput("this action needs a ticket")
    return require_row(s, TicketRow, ctx.ticket_id, "ticket")


@action(name="send_reply", args=SendReply, writes=True, reversible=False, risk="low", connector="notifications",
        task_types=(), owner=_ticket_owner, label="Send reply")
def send_reply(s: Session, a: SendReply, ctx: ExecContext) -> dict[str, Any]:
    """Send the reply to the customer on the ticket's channel and record it in the conversation."""
    ticket = _ticket(s, ctx)
    recipient = ticket.customer_ref or "unknown sender"
    customer = records_of(active()).lookup(s, ticket.customer_id) if ticket.customer_id else None
    if customer is not None and ticket.source not in outbox.REPLY_DESTINATIONS:
        recipient = customer.email
    sender = active().brand.sender
    queued = outbox.reply(s, ticket, recipient, a.subject or _subject(ticket.subject, ticket.channel), a.body,
                          ctx.actor, sender.rsplit("@", 1)[-1] if "@" in sender else "")
    ticket.customer_replied = False
    return {"notification_id": queued["notification_id"], "sent_to": recipient, "via": queued["destination"]}


class Escalate(Args):
    reason: str = Field(min_length=3, max_length=2000)
    queue: Literal["supervisor", "billing", "privacy", "security", "retention"] = "supervisor"


def _undo_escalate(s: Session, a: Escalate, result: dict[str, Any], ctx: ExecContext) -> dict[str, Any]:
    ticket = _ticket(s, ctx)
    ticket.status = "open"
    return {"ticket_id": ticket.id, "status": "open"}


@action(name="escalate_to_human", args=Escalate, writes=True, reversible=True, risk="low", connector="tickets",
        task_types=(), owner=_ticket_owner, label="Escalate to a person", compensate=_undo_escalate)
def escalate_to_human(s: Session, a: Escalate, ctx: ExecContext) -> dict[str, Any]:
    """Hand the ticket to a person in the named queue with the reason."""
    ticket = _ticket(s, ctx)
    ticket.status = "escalated"
    return {"ticket_id": ctx.ticket_id, "queue": a.queue}


def _subject(ticket_subject: str, channel: str) -> str:

    return reply_subject(ticket_subject, channel)
