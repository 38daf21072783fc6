"""A morning of advisor work on any pack's demo tickets, so that Insights, Review and the audit log start with history:
a colleague takes tickets, approves what the customers asked for and replies."""

from __future__ import annotations

import os
import random
from contextlib import suppress
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from . import desk
from .access import StaffUser
from .actions.base import is_read
from .errors import TandemError
from .models import Role
from .services import Services
from .store.tables import ProposalRow, TicketRow

ADVISOR = StaffUser("bo", "Bo Advisor", Role.advisor)  # a colleague: what the demo shows done is not yours
PENDING = "demo-history.pending"  # in the data folder: the colleague's morning is still to do


def _marker(services: Services) -> Path:
    return Path(services.settings.data_dir) / PENDING


def mark_pending(services: Services) -> None:
    """The first batch is left to the worker to read; the colleague's morning waits until it has."""
    _marker(services).parent.mkdir(parents=True, exist_ok=True)
    _marker(services).write_text("the demo colleague's work waits for the first batch to be read\n")


def finish_if_due(services: Services) -> int | None:
    """Once the worker has read the first batch, the colleague's morning (``work_some``), done by one worker only:
    the one that takes the marker. ``None`` when nothing was due."""
    marker = _marker(services)
    taken = marker.with_name(f"{PENDING}.{os.getpid()}")
    try:
        marker.rename(taken)
    except FileNotFoundError:
        return None
    try:
        return work_some(services)
    finally:
        taken.unlink(missing_ok=True)


def work_some(services: Services, share: float = 0.4, seed: int = 7) -> int:
    """Resolve about ``share`` of the open tickets as an advisor would; returns how many were resolved."""
    rng = random.Random(seed)
    with services.db.session() as s:
        open_ids = list(s.scalars(select(TicketRow.id).where(TicketRow.status == "open").order_by(TicketRow.created_at)))
    chosen = [t for t in open_ids if rng.random() < share]
    policy = services.policy()
    done = 0
    for tid in chosen:
        data = desk.get_ticket(services.db, tid)
        if data["ticket"]["status"] != "open":
            continue  # sent back to be read again (another ticket of theirs changed its record): its draft is stale
        try:
            desk.assign(services.db, ADVISOR, tid, ADVISOR.username)
            for p in data["proposals"]:  # what the customer plainly asked, and what the records raised, approved:
                # a colleague never asks a customer to confirm what they asked for
                if p["status"] == "pending" and p["decision"] != "abstained" and not is_read(p["action"]):
                    desk.approve(services.db, policy, ADVISOR, p["id"])
            if data["result"] is None:
                continue
            _, reply = desk.reply_draft(desk.get_ticket(services.db, tid))  # the draft as decided: no rejected offer
            # a reply that asks the customer something waits for their answer, as the workspace's default send does
            out = desk.send_reply(services.db, policy, ADVISOR, tid, reply, resolve=not desk.promises_follow_up(reply))
            if out["status"] != "executed":
                raise TandemError("not sent")
        except TandemError:  # left for the advisors on shift: back in the queue, held by nobody
            with suppress(TandemError):
                desk.assign(services.db, ADVISOR, tid, None)
            continue
        with services.db.tx() as s:  # a believable handle time: picked up 3–25 minutes before the reply
            row = s.get(TicketRow, tid)
            if row is not None and row.resolved_at is not None:
                row.assigned_at = row.resolved_at - timedelta(minutes=rng.uniform(3, 25))
                for p in s.scalars(select(ProposalRow).where(ProposalRow.ticket_id == tid)):
                    if p.decided_at is not None:
                        p.decided_at = row.assigned_at + timedelta(minutes=rng.uniform(1, 3))
        done += 1
    return done
