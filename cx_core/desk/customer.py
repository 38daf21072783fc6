"""The customer beside a ticket: the card and the record choices, read once per version of the ticket.

What the card shows comes from the pack's records (or the reads its ``card.yaml`` declares, which call the team's
systems). A view is kept until the ticket changes (a message, the agent's new reading, a decision on a proposal, a
reply) or for ``VIEW_SECONDS``, so the workspace's reruns never call those systems again; "read again" asks now."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from .. import packs
from ..access import StaffUser, require
from ..domain import DomainPack
from ..errors import NotFound, TandemError
from ..models import Role
from ..store.db import Database, utcnow
from ..store.tables import MessageRow, ProposalRow, TicketRow
from .decisions import record_choices

VIEW_SECONDS = 300.0  # how long a ticket view's reads are kept when the ticket does not change
_VIEWS_KEPT = 256
_VIEWS: OrderedDict[tuple[Any, ...], tuple[float, dict[str, Any]]] = OrderedDict()
_VIEWS_LOCK = threading.Lock()


def ticket_version(db: Database, ticket_id: str) -> tuple[Any, ...]:
    """What changes when the customer's records may have: the agent's new reading, a new message, a decision on a
    proposal, a reply sent. Read from Tandem's own tables only."""
    with db.session() as s:
        row = s.execute(select(TicketRow.processed_at, TicketRow.status, TicketRow.customer_id)
                        .where(TicketRow.id == ticket_id)).first()
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        last = s.scalar(select(func.max(MessageRow.id)).where(MessageRow.ticket_id == ticket_id))
        decided = tuple(s.execute(select(ProposalRow.id, ProposalRow.status)
                                  .where(ProposalRow.ticket_id == ticket_id).order_by(ProposalRow.id)).all())
    return (str(row.processed_at), row.status, row.customer_id, last, tuple(tuple(d) for d in decided))


def customer_view(db: Database, pack: DomainPack, user: StaffUser, ticket_id: str, customer_id: str,
                  now: datetime | None = None, fresh: bool = False) -> dict[str, Any]:
    """The card and the record choices (``desk.record_choices``) for the customer on a ticket, read once per
    version of the ticket (``fresh`` reads again; advisors)."""
    require(user, Role.advisor, db)
    version = ticket_version(db, ticket_id)
    key = (db.url, pack.name, ticket_id, customer_id, version)
    with _VIEWS_LOCK:
        kept = _VIEWS.get(key)
        if kept is not None and not fresh and time.monotonic() - kept[0] < VIEW_SECONDS:
            _VIEWS.move_to_end(key)
            return kept[1]
    records: Any = packs.records(pack)
    now = now or utcnow()
    with db.session() as s:
        if callable(getattr(records, "view", None)):
            card, snap = records.view(s, customer_id, now)
        else:
            card = records.card(s, customer_id, now)
            try:
                snap = records.snapshot(s, customer_id, now)
            except TandemError:
                snap = {}
    view = {"card": card, "choices": record_choices(snap)}
    with _VIEWS_LOCK:
        for old in [k for k in _VIEWS if k[:4] == key[:4]]:
            _VIEWS.pop(old, None)
        _VIEWS[key] = (time.monotonic(), view)
        while len(_VIEWS) > _VIEWS_KEPT:
            _VIEWS.popitem(last=False)
    return view
