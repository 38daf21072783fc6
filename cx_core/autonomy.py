"""Per-task-type autonomy: saving policy changes (versioned, audited with who, why and the diff), the kill switch,
and earned autonomy — the evidence that recommends promoting or demoting a task type. Nothing changes level
without an admin saving it."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from . import audit
from .access import StaffUser, require
from .errors import InvalidInput
from .models import Autonomy, Role
from .packs import vocabulary
from .policy import Policy, diff, dump_policy, parse_policy
from .store.db import Database, utcnow
from .store.tables import ExecutionRow, PolicyChangeRow, ProposalRow, ReviewRow, TicketRow

LEVEL_NAMES = {0: "manual", 1: "answer", 2: "copilot", 3: "supervised", 4: "orchestrate"}


def save_policy(db: Database, path: Path, current: Policy, new: Policy | dict[str, Any], user: StaffUser,
                why: str) -> dict[str, Any]:
    """Validates and saves a new policy version; the file is replaced atomically and the change is audited."""
    user = require(user, Role.admin, db)
    if not why.strip():
        raise InvalidInput("say why the policy changes (it goes in the audit log)")
    raw = new.model_dump(mode="json") if isinstance(new, Policy) else dict(new)
    raw["version"] = current.version + 1
    candidate = parse_policy(raw, "new policy", known=vocabulary())
    changes = diff(current, candidate)
    if not changes:
        raise InvalidInput("nothing changed")
    text = dump_policy(candidate)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".policy-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    with db.tx() as s:
        s.add(PolicyChangeRow(version=candidate.version, at=utcnow(), by=user.username, why=why.strip(),
                              diff=changes, text=text))
        audit.append(s, user.username, "policy.changed", None, version=candidate.version, why=why.strip(),
                     diff=changes)
        os.replace(tmp, path)  # the file changes only if the audit event commits
    return {"version": candidate.version, "diff": changes}


def set_level(db: Database, path: Path, current: Policy, user: StaffUser, task_type: str, level: int,
              why: str) -> dict[str, Any]:
    if not 0 <= level <= 4:
        raise InvalidInput("a level is 0 (manual) to 4 (orchestrate)")
    raw = current.model_dump(mode="json")
    raw["autonomy"] = {**raw["autonomy"], task_type: level}
    return save_policy(db, path, current, raw, user, why)


def set_kill_switch(db: Database, path: Path, current: Policy, user: StaffUser, on: bool, why: str) -> dict[str, Any]:
    raw = current.model_dump(mode="json")
    raw["kill_switch"] = on
    return save_policy(db, path, current, raw, user, why)


def history(db: Database, user: StaffUser, limit: int = 50) -> list[dict[str, Any]]:
    """The policy's versions, newest first: who changed it, when, why and what (admins)."""
    require(user, Role.admin, db)
    with db.session() as s:
        rows = s.scalars(select(PolicyChangeRow).order_by(PolicyChangeRow.id.desc()).limit(limit)).all()
        return [{"version": r.version, "at": r.at, "by": r.by, "why": r.why, "diff": r.diff, "text": r.text}
                for r in rows]


# ------------------------------------------------------------------ earned autonomy
@dataclass
class Evidence:
    task_type: str
    level: int
    decided: int = 0
    approved: int = 0
    edited: int = 0
    rejected: int = 0
    autonomous: int = 0
    reviewed: int = 0
    reversed: int = 0
    resolved: int = 0
    reopened: int = 0
    recommendation: str = "hold"  # promote | demote | hold
    to_level: int | None = None
    reasons: list[str] = field(default_factory=list)

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def approval_rate(self) -> float | None:
        return self._rate(self.approved + self.edited, self.decided)

    @property
    def edit_rate(self) -> float | None:
        return self._rate(self.edited, self.decided)

    @property
    def reject_rate(self) -> float | None:
        return self._rate(self.rejected, self.decided)

    @property
    def reversal_rate(self) -> float | None:
        return self._rate(self.reversed, self.reviewed)

    @property
    def reopen_rate(self) -> float | None:
        return self._rate(self.reopened, self.resolved)

    @property
    def sample(self) -> int:
        return self.decided + self.reviewed

    def as_row(self) -> dict[str, Any]:
        def pct(v: float | None) -> float | None:
            return None if v is None else round(100 * v, 1)

        return {"task_type": self.task_type, "level": self.level, "level_name": LEVEL_NAMES[self.level],
                "sample": self.sample, "approval_%": pct(self.approval_rate), "edit_%": pct(self.edit_rate),
                "reject_%": pct(self.reject_rate), "autonomous": self.autonomous, "reversal_%": pct(self.reversal_rate),
                "reopen_%": pct(self.reopen_rate), "recommendation": self.recommendation, "to_level": self.to_level,
                "why": "; ".join(self.reasons)}


def _recommend(ev: Evidence, policy: Policy) -> None:
    e = policy.earned
    bad = []
    if ev.reject_rate is not None and ev.reject_rate > e.demote_above_reject:
        bad.append(f"{ev.reject_rate:.0%} of proposals rejected (limit {e.demote_above_reject:.0%})")
    if ev.reversal_rate is not None and ev.reversal_rate > e.max_reversal:
        bad.append(f"{ev.reversal_rate:.0%} of reviewed actions reversed (limit {e.max_reversal:.0%})")
    if ev.reopen_rate is not None and ev.reopen_rate > e.max_reopen:
        bad.append(f"{ev.reopen_rate:.0%} reopened within 7 days (limit {e.max_reopen:.0%})")
    if ev.sample < e.min_sample:
        ev.reasons = [f"{ev.sample} decisions in {e.window_days} days; {e.min_sample} needed before a recommendation"]
        return
    if bad and ev.level > int(Autonomy.manual):
        ev.recommendation, ev.to_level, ev.reasons = "demote", ev.level - 1, bad
        return
    ok = (ev.approval_rate is not None and ev.approval_rate >= e.promote_min_approval
          and (ev.edit_rate or 0.0) <= e.promote_max_edit and not bad)
    if ok and ev.level < int(Autonomy.orchestrate):
        ev.recommendation, ev.to_level = "promote", ev.level + 1
        ev.reasons = [f"{ev.approval_rate:.0%} approved, {ev.edit_rate or 0:.0%} edited over {ev.decided} decisions",
                      f"{ev.reversed} of {ev.reviewed} reviewed actions reversed"]
        return
    ev.reasons = bad or ["the evidence is within limits but not strong enough to promote"]


def earned_autonomy(db: Database, user: StaffUser, policy: Policy, now: datetime | None = None) -> list[Evidence]:
    """Per task type, over the policy's window: person decisions on proposals, autonomous actions, reviews,
    reversals and reopened tickets; each with a recommendation (admins)."""
    require(user, Role.admin, db)
    now = now or utcnow()
    since = now - timedelta(days=policy.earned.window_days)
    out: dict[str, Evidence] = {}

    def ev(task_type: str | None) -> Evidence:
        key = task_type or "unclassified"
        if key not in out:
            out[key] = Evidence(key, policy.level(key))
        return out[key]

    with db.session() as s:
        decided = s.execute(
            select(TicketRow.task_type, ProposalRow.status, ProposalRow.edited, func.count())
            .join(TicketRow, TicketRow.id == ProposalRow.ticket_id)
            .where(ProposalRow.decided_by.is_not(None), ProposalRow.decided_at >= since)
            .group_by(TicketRow.task_type, ProposalRow.status, ProposalRow.edited)).all()
        for task_type, status, edited, n in decided:
            e = ev(task_type)
            if status == "executed":
                e.decided += n
                if edited:
                    e.edited += n
                else:
                    e.approved += n
            elif status == "rejected":
                e.decided += n
                e.rejected += n
        auto = s.execute(select(TicketRow.task_type, func.count()).join(ExecutionRow, ExecutionRow.ticket_id == TicketRow.id)
                         .where(ExecutionRow.actor == "agent", ExecutionRow.created_at >= since)
                         .group_by(TicketRow.task_type)).all()
        for task_type, n in auto:
            ev(task_type).autonomous += n
        reviews = s.execute(select(ReviewRow.task_type, ReviewRow.status, func.count())
                            .where(ReviewRow.created_at >= since, ReviewRow.status != "open")
                            .group_by(ReviewRow.task_type, ReviewRow.status)).all()
        for task_type, status, n in reviews:
            e = ev(task_type)
            e.reviewed += n
            if status == "reversed":
                e.reversed += n
        resolved = s.execute(select(TicketRow.id, TicketRow.task_type, TicketRow.customer_id, TicketRow.resolved_at)
                             .where(TicketRow.resolved_at.is_not(None), TicketRow.resolved_at >= since,
                                    TicketRow.customer_id.is_not(None))).all()
        customers = {r.customer_id for r in resolved}
        contacts: dict[tuple[str | None, str | None], list[datetime]] = {}
        if customers:
            for cid, task_type, created in s.execute(
                    select(TicketRow.customer_id, TicketRow.task_type, TicketRow.created_at)
                    .where(TicketRow.customer_id.in_(customers), TicketRow.created_at >= since)):
                contacts.setdefault((cid, task_type), []).append(created)
        for r in resolved:
            e = ev(r.task_type)
            e.resolved += 1
            window_end = r.resolved_at + timedelta(days=7)
            if any(r.resolved_at < c <= window_end for c in contacts.get((r.customer_id, r.task_type), [])):
                e.reopened += 1
    for task_type in policy.autonomy:
        ev(task_type)
    for e in out.values():
        _recommend(e, policy)
    return sorted(out.values(), key=lambda e: (e.recommendation == "hold", e.task_type))
