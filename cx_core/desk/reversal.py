"""Undoing what the agent did alone, from Review or from the ticket: the action's compensating step runs (see
``review.reverse``) and, when the supervisor says so, the customer is told at once through the ticket's own channel
(the message goes through ``execute`` like any reply); otherwise the ticket reopens with that message drafted."""

from __future__ import annotations

from typing import Any

from .. import audit, review
from ..access import StaffUser, require
from ..actions.execute import execute
from ..drafting import for_customer
from ..models import Role
from ..policy import Policy
from ..store.db import Database
from ..store.tables import ReviewRow, TicketRow
from .decisions import decision_context


def reverse_and_tell(db: Database, policy: Policy, user: StaffUser, review_id: int, note: str,
                     tell: str = "") -> dict[str, Any]:
    """Reverses review item ``review_id``; with ``tell`` (the message), sends it to the customer and leaves the
    ticket waiting on their answer. Returns the reversal, with ``told`` (whether the message went out) and, when
    it could not, ``told_reason``."""
    user = require(user, Role.supervisor, db)
    out = review.reverse(db, user, review_id, note)
    out = {**out, "told": False, "told_reason": ""}
    if out["duplicate"] or not tell.strip():
        return out
    with db.session() as s:
        item = s.get(ReviewRow, review_id)
        ticket_id = item.ticket_id if item is not None else ""
    sent = execute(db, policy, "send_reply", {"body": for_customer(tell)},
                   decision_context(db, user, ticket_id, policy))
    out["told"], out["told_reason"] = sent.status == "executed", sent.reason
    if sent.status == "executed":
        with db.tx() as s:
            row = s.get(TicketRow, ticket_id)
            if row is not None:
                row.status = "waiting"  # the customer has been told; their answer reopens it
            audit.append(s, user.username, "reversal.told", ticket_id, review_id=review_id)
    return out

