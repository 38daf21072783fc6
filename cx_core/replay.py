"""Replay before go-live: tickets processed in a throw-away copy of the backends (nothing real changes), under
the active policy or a candidate one, and the comparison of the two."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from . import desk, setup
from .config import Settings, load_settings
from .errors import TandemError
from .models import Role, TicketIn
from .policy import Policy
from .services import Services
from .store.db import has_schema, make_engine
from .store.tables import TicketRow


def throwaway_copy(settings: Settings, tmp: Path) -> Settings:
    """Settings pointing at a private copy of the backends (SQLite), with the knowledge index and model copied."""

    target = tmp / "replay.db"
    src_engine = make_engine(settings.db_url)
    if settings.db_url.startswith("sqlite:///") and has_schema(src_engine):
        src = sqlite3.connect(settings.db_url.removeprefix("sqlite:///"))
        dst = sqlite3.connect(str(target))
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
    src_engine.dispose()
    copy = load_settings(data_dir=tmp, database_url=f"sqlite:///{target}", knowledge_dir=settings.knowledge_dir,
                         policy_file=settings.active_policy_file)
    if settings.chroma_path.exists() and (settings.model_dir / "task_types.joblib").exists():
        shutil.copytree(settings.chroma_path, copy.chroma_path, dirs_exist_ok=True)
        shutil.copytree(settings.model_dir, copy.model_dir, dirs_exist_ok=True)
    return copy


def as_of(ticket: TicketIn, today: date | None) -> tuple[TicketIn, datetime | None]:
    """The ticket and the moment it is read at, as on ``today``: the time of day it was written (09:00 when it
    says none), on that day; a ticket that gives no time of writing is written then."""
    if today is None:
        return ticket, None
    at = ticket.created_at.time() if ticket.created_at is not None else time(9, 0)
    now = datetime.combine(today, at)
    if ticket.created_at is None or ticket.created_at.date() != today:
        ticket = ticket.model_copy(update={"created_at": now})
    return ticket, now.replace(tzinfo=None)


def run(settings: Settings, items: list[tuple[int, TicketIn]], policy: Policy | None = None,
        autonomy: int | None = None, on_error: Callable[[int, str], None] | None = None,
        today: date | None = None) -> Iterator[dict[str, Any]]:
    """Replay records (the ARCHITECTURE.md contract), one per ticket, from a fresh throw-away copy; with ``today``
    each ticket is read as on that day (its dates, the records' states, the rules' deadlines), whatever the
    clock of the machine says."""

    with tempfile.TemporaryDirectory(prefix="tandem-replay-") as tmp:
        services = Services(throwaway_copy(settings, Path(tmp)))
        try:
            if not services.pack.has_demo:  # a team's own pack: its schema, knowledge and classifier as they are now
                setup.prepare(services)
            elif not has_schema(services.db.engine) or services.kb.count() == 0:
                setup.build_demo(services, tickets_n=0, process=False, quiet=True)
            else:
                setup.retrain_if_stale(services)
            if policy is not None:
                services.policy = lambda: policy  # type: ignore[method-assign]
            services.pipeline.rehearsal = True  # nothing acts, here or outside
            for n, raw in items:
                ticket, now = as_of(raw, today)
                desk.add_tickets(services.db, [ticket], source="replay")
                try:
                    result = services.pipeline.process(ticket, now=now, autonomy=autonomy)
                except TandemError as exc:
                    if on_error:
                        on_error(n, str(exc))
                    continue
                yield result.replay_record()
        finally:
            services.close()


def _decisions(record: dict[str, Any]) -> list[str]:
    return [f"{p['action']}={p['decision']}" for p in record["proposals"]]


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    decisions = Counter(p["decision"] for r in records for p in r["proposals"] if p["action"] != "send_reply")
    return {"tickets": len(records), "escalated": sum(r["escalated"] for r in records),
            "replies_sent": sum(any(p["action"] == "send_reply" and p["decision"] == "executed"
                                    for p in r["proposals"]) for r in records),
            "actions": {k: decisions.get(k, 0) for k in ("executed", "needs_approval", "escalated", "denied",
                                                          "abstained")}}


def compare(settings: Settings, items: list[tuple[int, TicketIn]], active: Policy, candidate: Policy,
            autonomy: int | None = None) -> dict[str, Any]:
    """The same tickets under the active policy and a candidate, each in its own throw-away copy: counts side by
    side and every ticket whose outcome differs."""
    before = list(run(settings, items, active, autonomy))
    after = list(run(settings, items, candidate, autonomy))
    old = {r["ticket_id"]: r for r in before}
    subjects = {t.id: t.subject or t.body[:60] for _, t in items}
    differences = []
    for r in after:
        o = old.get(r["ticket_id"])
        if o is None:
            continue
        if _decisions(o) != _decisions(r) or o["escalated"] != r["escalated"]:
            differences.append({"ticket_id": r["ticket_id"], "subject": subjects.get(r["ticket_id"], ""),
                                "task_type": r["task_type"],
                                "active": _decisions(o), "candidate": _decisions(r),
                                "escalated": [o["escalated"], r["escalated"]]})
    changed = {d["ticket_id"] for d in differences}
    return {"active": {"version": active.version, **summarise(before)},
            "candidate": {"version": candidate.version, **summarise(after)}, "differences": differences,
            "held": held_by([r for r in after if r["ticket_id"] not in changed])}


def held_by(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Why the tickets the change leaves as they are still wait for a person: each reason (a limit, a missing fact,
    a rule) with the tickets it holds, the most common first. A ticket with nothing waiting is not listed."""
    tickets: dict[str, list[str]] = {}
    for r in records:
        for p in r["proposals"]:
            if p["action"] == "send_reply" or p["decision"] == "executed" or not p.get("reason"):
                continue
            reason = str(p["reason"]).strip()
            if r["ticket_id"] not in tickets.setdefault(reason, []):
                tickets[reason].append(r["ticket_id"])
    return [{"reason": reason, "tickets": ids} for reason, ids in sorted(tickets.items(), key=lambda kv: -len(kv[1]))]


def compare_for(db: Any, user: desk.StaffUser, settings: Settings, items: list[tuple[int, TicketIn]],
                active: Policy, candidate: Policy) -> dict[str, Any]:
    """``compare`` for an admin on the Autonomy page, before raising a level. ``compare`` itself checks no role:
    the operator's ``replay --compare`` runs it."""

    desk.require(user, Role.admin, db)
    return compare(settings, items, active, candidate)


def recent_tickets(db: Any, user: desk.StaffUser, task_type: str | None = None, limit: int = 20
                   ) -> list[tuple[int, TicketIn]]:
    """The latest stored tickets (of one task type) as replay input (admins, who replay before raising a level)."""
    from sqlalchemy import select


    desk.require(user, Role.admin, db)
    with db.session() as s:
        stmt = select(TicketRow).where(TicketRow.source != "replay")
        if task_type:
            stmt = stmt.where(TicketRow.task_type == task_type)
        rows = s.scalars(stmt.order_by(TicketRow.created_at.desc()).limit(limit)).all()
        return [(i, desk.as_ticket_in(r)) for i, r in enumerate(rows, 1)]
