"""The ticket queue: intake, claiming for processing, the inbox, and the advisor's decisions on proposals."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from . import audit
from .actions import ExecContext, execute
from .actions.reads import find_customer
from .drafting import for_customer
from .errors import InvalidInput, NotAuthorised, NotFound
from .models import ROLE_RANK, Channel, Decision, ProcessResult, Role, TicketIn
from .policy import Policy
from .redact import redact_secrets
from .store.db import Database, utcnow
from .store.tables import MessageRow, ProposalRow, StaffUserRow, TicketRow

URGENCY_RANK = {"critical": 3, "high": 2, "normal": 1, "low": 0}
MAX_BODY = 100_000


@dataclass
class StaffUser:
    username: str
    display_name: str
    role: Role


def require(user: StaffUser, role: Role) -> None:
    """Roles are enforced here, in the core, not only by hiding pages."""
    if ROLE_RANK[user.role] < ROLE_RANK[role]:
        raise NotAuthorised(f"this needs the {role.value} role; you are signed in as {user.role.value}")


# ------------------------------------------------------------------ intake
@dataclass
class ParseError:
    line: int
    message: str


def parse_ticket_file(path: Path) -> tuple[list[tuple[int, TicketIn]], list[ParseError]]:
    """Tickets from a JSONL or CSV file; each bad line becomes an error naming the line, the rest still parse."""
    if not path.exists():
        raise InvalidInput(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text") from exc
    good: list[tuple[int, TicketIn]] = []
    bad: list[ParseError] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if "id" not in (reader.fieldnames or []):
            raise InvalidInput(f"{path}: CSV needs a header with at least an 'id' column")
        rows: list[tuple[int, Any]] = [(reader.line_num, row) for row in reader]
    else:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                bad.append(ParseError(n, f"line {n}: not valid JSON ({exc.msg} at column {exc.colno})"))
    for n, raw in rows:
        if not isinstance(raw, dict):
            bad.append(ParseError(n, f"line {n}: expected a JSON object with id, channel, subject, body"))
            continue
        raw = {k: v for k, v in raw.items() if v not in (None, "")} if path.suffix.lower() == ".csv" else raw
        try:
            ticket = TicketIn.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "ticket"
            bad.append(ParseError(n, f"line {n}: field '{field}': {err['msg']}"))
            continue
        if len(ticket.body) > MAX_BODY:
            ticket.body = ticket.body[:MAX_BODY]
        good.append((n, ticket))
    return good, bad


def add_tickets(db: Database, tickets: list[TicketIn], source: str, actor: str = "intake") -> tuple[int, int]:
    """Stores new tickets (duplicates by id are skipped); returns (added, skipped)."""
    added = skipped = 0
    for t in tickets:
        try:
            with db.tx() as s:
                if s.get(TicketRow, t.id) is not None:
                    skipped += 1
                    continue
                cust = find_customer(s, t.customer)
                created = (t.created_at.replace(tzinfo=None) if t.created_at else utcnow())
                s.add(TicketRow(id=t.id, customer_ref=t.customer, customer_id=cust.user_id if cust else None,
                                channel=t.channel.value, subject=redact_secrets(t.subject)[:500],
                                body=redact_secrets(t.body), created_at=created, source=source, status="new"))
                s.flush()
                s.add(MessageRow(ticket_id=t.id, author="customer", body=redact_secrets(t.body), created_at=created))
                audit.append(s, actor, "ticket.received", t.id, channel=t.channel.value, source=source,
                             customer_id=cust.user_id if cust else None)
                added += 1
        except IntegrityError:
            skipped += 1
    return added, skipped


def claim_next(db: Database, worker: str) -> TicketRow | None:
    """Claims the oldest new ticket (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; a guarded update on SQLite)."""
    with db.tx() as s:
        stmt = select(TicketRow).where(TicketRow.status == "new").order_by(TicketRow.created_at).limit(1)
        if not db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        row = s.scalars(stmt).first()
        if row is None:
            return None
        done = s.execute(update(TicketRow).where(TicketRow.id == row.id, TicketRow.status == "new")
                         .values(status="processing", claimed_by=worker))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return None
        s.expunge(row)
        row.status = "processing"
        return row


def as_ticket_in(row: TicketRow) -> TicketIn:
    return TicketIn(id=row.id, customer=row.customer_ref, channel=Channel(row.channel), subject=row.subject, body=row.body,
                    created_at=row.created_at)


def priority_of(result: ProcessResult, tier: str) -> int:
    t = result.triage
    score = URGENCY_RANK.get(t.urgency, 1) * 100 + int(t.frustration * 50)
    score += 40 if result.escalated else 0
    score += 20 if tier in {"plus", "business"} else 0
    return score


def sla_due(policy: Policy, created: datetime, channel: str, urgency: str, tier: str) -> datetime:
    minutes = policy.sla_minutes.get(channel, 1440)
    if tier in {"plus", "business"}:
        minutes = max(5, minutes // 3)
    if urgency in {"critical", "high"}:
        minutes = min(minutes, 60)
    return created + timedelta(minutes=minutes)


def store_result(db: Database, policy: Policy, result: ProcessResult) -> None:
    """Writes the pipeline's conclusions on the ticket and its proposals, and audits them."""
    with db.tx() as s:
        row = s.get(TicketRow, result.ticket_id)
        if row is None:
            raise NotFound(f"ticket {result.ticket_id} not found")
        tier = "standard"
        if row.customer_id:
            from .actions.reads import find_customer as _find

            c = _find(s, row.customer_id)
            tier = c.tier if c else tier
        t = result.triage
        row.task_type, row.confidence, row.urgency = t.task_type, t.confidence, t.urgency
        row.sentiment, row.language, row.summary = t.sentiment, t.language, result.draft.summary
        row.result = result.model_dump(mode="json")
        row.priority = priority_of(result, tier)
        row.sla_due = sla_due(policy, row.created_at, row.channel, t.urgency, tier)
        row.processed_at = utcnow()
        sent = any(p.action == "send_reply" and p.decision == Decision.executed for p in result.proposals)
        row.status = "escalated" if result.escalated else "resolved" if sent else "open"
        if sent:
            row.resolved_at = utcnow()
        s.query(ProposalRow).filter(ProposalRow.ticket_id == row.id, ProposalRow.status == "pending").delete()
        for i, p in enumerate(result.proposals):
            if p.action == "send_reply":
                continue
            status = {"executed": "executed", "needs_approval": "pending", "escalated": "escalated",
                      "denied": "denied", "abstained": "pending"}[p.decision.value]
            s.add(ProposalRow(ticket_id=row.id, position=i, action=p.action, args=p.args, rationale=p.rationale,
                              decision=p.decision.value, reason=p.reason, required_role=p.required_role.value,
                              status=status, result=p.result))
        audit.append(s, "agent", "ticket.processed", row.id, task_type=t.task_type, confidence=t.confidence,
                     urgency=t.urgency, sentiment=t.sentiment, autonomy=result.autonomy, escalated=result.escalated,
                     escalation_reason=result.escalation_reason, ms=result.ms, engine=result.engine,
                     engine_note=result.engine_note,
                     proposals=[{"action": p.action, "decision": p.decision.value, "reason": p.reason}
                                for p in result.proposals])
        if result.escalated:
            audit.append(s, "agent", "ticket.escalated", row.id, reason=result.escalation_reason,
                         packet=result.packet or {"summary": result.draft.summary})
        from .review import enqueue

        enqueue(s, policy, result)


def mark_failed(db: Database, ticket_id: str, message: str) -> None:
    with db.tx() as s:
        row = s.get(TicketRow, ticket_id)
        if row is not None:
            row.status, row.error = "open", message[:2000]
            audit.append(s, "agent", "ticket.failed", ticket_id, error=message[:500])


# ------------------------------------------------------------------ inbox and workspace
@dataclass
class InboxFilter:
    """What the inbox shows; empty tuples mean "any"."""

    statuses: tuple[str, ...] = ("new", "processing", "open", "escalated")
    task_types: tuple[str, ...] = ()
    urgencies: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    assigned: str = "anyone"  # anyone | mine | unassigned
    me: str = ""
    search: str = ""


def _filtered(f: InboxFilter) -> Any:
    stmt = select(TicketRow).where(TicketRow.status.in_(f.statuses))
    for column, wanted in ((TicketRow.task_type, f.task_types), (TicketRow.urgency, f.urgencies),
                           (TicketRow.sentiment, f.sentiments), (TicketRow.channel, f.channels)):
        if wanted:
            stmt = stmt.where(column.in_(wanted))
    if f.assigned == "mine":
        stmt = stmt.where(TicketRow.assigned_to == f.me)
    elif f.assigned == "unassigned":
        stmt = stmt.where(TicketRow.assigned_to.is_(None))
    if f.search.strip():
        like = f"%{f.search.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(TicketRow.subject).like(like), func.lower(TicketRow.body).like(like),
                              func.lower(TicketRow.id).like(like), func.lower(TicketRow.customer_ref).like(like)))
    return stmt


def inbox(db: Database, *, statuses: tuple[str, ...] = ("new", "processing", "open", "escalated"),
          search: str = "", limit: int = 50, offset: int = 0,
          where: InboxFilter | None = None) -> tuple[list[dict[str, Any]], int]:
    """Tickets for the inbox, most urgent first, then nearest SLA; filtered and paged in SQL."""
    f = where or InboxFilter(statuses=statuses, search=search)
    with db.session() as s:
        stmt = _filtered(f)
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = s.scalars(stmt.order_by(TicketRow.priority.desc(), TicketRow.sla_due.asc().nulls_last(),
                                       TicketRow.created_at.asc()).limit(limit).offset(offset)).all()
        pending = dict(s.execute(select(ProposalRow.ticket_id, func.count()).where(
            ProposalRow.ticket_id.in_([r.id for r in rows]), ProposalRow.status == "pending")
            .group_by(ProposalRow.ticket_id)).all())
        return [{"id": r.id, "subject": r.subject or r.body[:80], "customer": r.customer_ref or "unknown",
                 "channel": r.channel, "status": r.status, "task_type": r.task_type or "…",
                 "urgency": r.urgency or "…", "sentiment": r.sentiment or "…", "priority": r.priority,
                 "sla_due": r.sla_due, "created_at": r.created_at, "pending": int(pending.get(r.id, 0)),
                 "assigned_to": r.assigned_to} for r in rows], int(total)


def counts(db: Database, me: str = "") -> dict[str, int]:
    """Tickets per status, plus ``mine`` (open work assigned to ``me``) and ``unassigned`` open work."""
    with db.session() as s:
        out = {k: int(v) for k, v in s.execute(select(TicketRow.status, func.count()).group_by(TicketRow.status))}
        active = TicketRow.status.in_(("open", "escalated"))
        out["unassigned"] = int(s.scalar(select(func.count()).where(active, TicketRow.assigned_to.is_(None))) or 0)
        if me:
            out["mine"] = int(s.scalar(select(func.count()).where(active, TicketRow.assigned_to == me)) or 0)
        return out


def customer_tickets(db: Database, customer_id: str, exclude: str = "", limit: int = 10) -> list[dict[str, Any]]:
    """The customer's other tickets, newest first (the workspace's contact history)."""
    with db.session() as s:
        rows = s.scalars(select(TicketRow).where(TicketRow.customer_id == customer_id, TicketRow.id != exclude)
                         .order_by(TicketRow.created_at.desc()).limit(limit)).all()
        return [{"id": r.id, "subject": r.subject or r.body[:80], "created_at": r.created_at, "status": r.status,
                 "task_type": r.task_type or "…"} for r in rows]


def filter_options(db: Database) -> dict[str, list[str]]:
    """The values present, for the inbox's filter menus."""
    with db.session() as s:
        return {name: sorted(v for v in s.scalars(select(col).distinct()) if v)
                for name, col in (("task_types", TicketRow.task_type), ("urgencies", TicketRow.urgency),
                                  ("sentiments", TicketRow.sentiment), ("channels", TicketRow.channel))}


def assign(db: Database, user: StaffUser, ticket_id: str, to: str | None) -> str | None:
    """Claim (``to`` = yourself), hand over or release a ticket, so two people never work it unknowingly.
    Advisors claim free tickets and release their own; taking someone else's ticket needs a supervisor."""
    require(user, Role.advisor)
    with db.tx() as s:
        row = s.get(TicketRow, ticket_id)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        current = row.assigned_to
        if current == to:
            return current
        is_supervisor = ROLE_RANK[user.role] >= ROLE_RANK[Role.supervisor]
        if not is_supervisor:
            if to not in (None, user.username):
                raise NotAuthorised("only a supervisor assigns tickets to someone else")
            if current not in (None, user.username):
                raise InvalidInput(f"{current} is working on this ticket; ask them or a supervisor to hand it over")
        if to is not None:
            target = s.get(StaffUserRow, to)
            if target is None or not target.active:
                raise InvalidInput(f"there is no active user '{to}'")
        row.assigned_to, row.assigned_at = to, (utcnow() if to else None)
        audit.append(s, user.username, "ticket.assigned" if to else "ticket.released", ticket_id,
                     previous=current, to=to)
        return to


def _check_not_taken(db: Database | Any, user: StaffUser, ticket_id: str) -> None:
    """An advisor cannot act on a ticket another person has claimed (supervisors can, knowingly).
    ``db`` is a database or an open session."""
    if isinstance(db, Database):
        with db.session() as s:
            row = s.get(TicketRow, ticket_id)
    else:
        row = db.get(TicketRow, ticket_id)
    owner = row.assigned_to if row is not None else None
    if owner and owner != user.username and ROLE_RANK[user.role] < ROLE_RANK[Role.supervisor]:
        raise InvalidInput(f"{owner} is working on this ticket; ask them or a supervisor to hand it over")


def get_ticket(db: Database, ticket_id: str) -> dict[str, Any]:
    with db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        messages = s.scalars(select(MessageRow).where(MessageRow.ticket_id == ticket_id).order_by(MessageRow.id)).all()
        proposals = s.scalars(select(ProposalRow).where(ProposalRow.ticket_id == ticket_id)
                              .order_by(ProposalRow.position)).all()
        return {
            "ticket": {c: getattr(row, c) for c in ("id", "customer_ref", "customer_id", "channel", "subject", "body",
                                                    "created_at", "status", "priority", "sla_due", "task_type",
                                                    "confidence", "urgency", "sentiment", "language", "summary",
                                                    "error", "assigned_to", "resolved_at", "processed_at")},
            "result": ProcessResult.model_validate(row.result) if row.result else None,
            "messages": [{"author": m.author, "body": m.body, "at": m.created_at} for m in messages],
            "proposals": [{c: getattr(p, c) for c in ("id", "action", "args", "rationale", "decision", "reason",
                                                       "required_role", "status", "result", "decided_by",
                                                       "reject_reason")} for p in proposals],
        }


def _context(db: Database, user: StaffUser, ticket_id: str, policy: Policy) -> ExecContext:
    with db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        return ExecContext(actor=user.username, role=user.role, ticket_id=ticket_id, customer_id=row.customer_id,
                           task_type=row.task_type or "unclassified", autonomy=policy.level(row.task_type or ""),
                           today=utcnow().date(), now=utcnow())


def approve(db: Database, policy: Policy, user: StaffUser, proposal_id: int,
            edited_args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Executes a proposal on a person's approval; ``execute`` re-checks policy and the person's role."""
    require(user, Role.advisor)
    with db.session() as s:
        p = s.get(ProposalRow, proposal_id)
        if p is None:
            raise NotFound(f"proposal {proposal_id} not found")
        if p.status == "executed":
            return {"status": "executed", "reason": "already executed", "result": p.result}
        if p.status not in {"pending", "escalated"}:
            raise InvalidInput(f"this proposal is {p.status} and cannot be approved")
        ticket_id, action, args = p.ticket_id, p.action, dict(edited_args if edited_args is not None else p.args)
    _check_not_taken(db, user, ticket_id)
    ctx = _context(db, user, ticket_id, policy)
    ctx.idempotency_key = f"proposal:{proposal_id}"
    out = execute(db, policy, action, args, ctx)
    with db.tx() as s:
        p = s.get(ProposalRow, proposal_id)
        assert p is not None
        if out.status == "executed":
            p.edited = edited_args is not None and edited_args != p.args
            p.status, p.result, p.args = "executed", out.result, args
        p.decided_by, p.decided_at, p.reason = user.username, utcnow(), out.reason
        audit.append(s, user.username, "proposal.approved", ticket_id, proposal_id=proposal_id, action=action,
                     edited=edited_args is not None, outcome=out.status, reason=out.reason)
    return {"status": out.status, "reason": out.reason, "result": out.result}


def reject(db: Database, user: StaffUser, proposal_id: int, reason: str) -> None:
    require(user, Role.advisor)
    if not reason.strip():
        raise InvalidInput("give a reason for rejecting the proposal")
    with db.tx() as s:
        p = s.get(ProposalRow, proposal_id)
        if p is None:
            raise NotFound(f"proposal {proposal_id} not found")
        _check_not_taken(s, user, p.ticket_id)
        if p.status != "pending" and p.status != "escalated":
            raise InvalidInput(f"this proposal is {p.status} and cannot be rejected")
        p.status, p.reject_reason, p.decided_by, p.decided_at = "rejected", reason.strip(), user.username, utcnow()
        audit.append(s, user.username, "proposal.rejected", p.ticket_id, proposal_id=proposal_id, action=p.action,
                     reason=reason.strip())


def send_reply(db: Database, policy: Policy, user: StaffUser, ticket_id: str, body: str,
               resolve: bool = True) -> dict[str, Any]:
    """Sends the (edited) reply through ``execute`` and resolves the ticket."""
    require(user, Role.advisor)
    if not body.strip():
        raise InvalidInput("the reply is empty")
    _check_not_taken(db, user, ticket_id)
    ctx = _context(db, user, ticket_id, policy)
    out = execute(db, policy, "send_reply", {"body": for_customer(body)}, ctx)
    if out.status == "executed" and resolve:
        with db.tx() as s:
            row = s.get(TicketRow, ticket_id)
            if row is not None:
                row.status, row.resolved_at = "resolved", utcnow()
                audit.append(s, user.username, "ticket.resolved", ticket_id)
    return {"status": out.status, "reason": out.reason, "result": out.result}
