"""The same message sent again. A customer who hears nothing for a while often sends their message a second time
(or their mail client does): a new message from the same sender with the same subject and words as a ticket of
theirs still open, within a week, joins that ticket's thread instead of opening a second ticket that would be
answered, and acted on, twice. The ticket is not read again for it (it says nothing new); the audit records
``message.repeated``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .store.tables import TicketRow

WITHIN = timedelta(days=7)
OPEN = ("new", "processing", "open", "escalated", "waiting")


def key(customer: str | None, subject: str, body: str, owner: int | None = None) -> tuple[Any, ...] | None:
    """What makes two messages the same: sender, owner (an API token's tickets are its own), subject and words,
    ignoring case and spacing. None for a message with no sender, which is never taken for another's."""
    sender = (customer or "").strip().casefold()
    if not sender:
        return None
    return (sender, owner, " ".join(subject.split()).casefold(), " ".join(body.split()).casefold())


def set_aside(s: Session, rows: list[dict[str, Any]], messages: list[dict[str, Any]]) -> dict[str, str]:
    """Of the new tickets ``rows`` (with their first ``messages``, in the same order), those repeating an open
    ticket of the same sender (stored, or earlier in ``rows``): their message is re-addressed to that ticket.
    Returns {id of the ticket not to open: id of the ticket its message joins}."""
    keys = [key(r["customer_ref"], r["subject"], r["body"], r.get("api_token_id")) for r in rows]
    senders = {k[0] for k in keys if k}
    if not senders:
        return {}
    oldest = min(r["created_at"] for r in rows) - WITHIN
    stored = s.execute(select(TicketRow.id, TicketRow.customer_ref, TicketRow.api_token_id, TicketRow.subject,
                              TicketRow.body, TicketRow.created_at)
                       .where(func.lower(TicketRow.customer_ref).in_(senders), TicketRow.status.in_(OPEN),
                              TicketRow.created_at >= oldest).order_by(TicketRow.created_at)).all()
    first: dict[tuple[Any, ...], tuple[str, Any]] = {}
    for t in stored:
        k = key(t.customer_ref, t.subject or "", t.body or "", t.api_token_id)
        if k is not None:
            first.setdefault(k, (t.id, t.created_at))
    aside: dict[str, str] = {}
    for row, message, k in zip(rows, messages, keys, strict=True):
        if k is None:
            continue
        earlier = first.get(k)
        if earlier is None or not earlier[1] - WITHIN <= row["created_at"] <= earlier[1] + WITHIN:
            first[k] = (row["id"], row["created_at"])
            continue
        aside[row["id"]] = message["ticket_id"] = earlier[0]
    return aside
