"""The inbox and the ticket as the workspace reads it: filters, search, queue counts, who has which ticket."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, false, func, select, text
from sqlalchemy.orm import Session

from .. import audit, contacts
from ..access import StaffUser, require
from ..errors import InvalidInput, NotAuthorised, NotFound
from ..models import ROLE_RANK, ProcessResult, Role
from ..safe_text import cut_words
from ..store import fulltext
from ..store.db import Database, utcnow
from ..store.tables import MessageRow, NotificationRow, ProposalRow, StaffUserRow, TicketRow


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
    order: str = "sla"  # sla: nearest first-response target first | priority: most urgent first | newest


ACTIVE = ("new", "processing", "open", "escalated")
FACETS = {"task_types": "task_type", "urgencies": "urgency", "sentiments": "sentiment", "channels": "channel"}


def _filtered(f: InboxFilter, dialect: str) -> tuple[Any, Any]:
    """The inbox's query and, when searching, its relevance order (best first); ``None`` without a search."""
    stmt = select(TicketRow).where(TicketRow.status.in_(f.statuses))
    for column, wanted in ((TicketRow.task_type, f.task_types), (TicketRow.urgency, f.urgencies),
                           (TicketRow.sentiment, f.sentiments), (TicketRow.channel, f.channels)):
        if wanted:
            stmt = stmt.where(column.in_(wanted))
    if f.assigned == "mine":
        stmt = stmt.where(TicketRow.assigned_to == f.me)
    elif f.assigned == "unassigned":
        stmt = stmt.where(TicketRow.assigned_to.is_(None))
    if not f.search.strip():
        return stmt, None
    terms = fulltext.parse(f.search)
    if not terms:  # nothing but punctuation: no ticket can match
        return stmt.where(false()), None
    return fulltext.restrict(stmt, dialect, terms)


_MARKUP = [(re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links and images: their words
           (re.compile(r"<[^>]{1,200}>"), " "),  # tags
           (re.compile(r"(\*\*|__|~~|`+)"), ""),  # emphasis and code marks
           (re.compile(r"(?m)^\s{0,3}(#{1,6}|>|[-*+]|\d+[.)])\s+"), ""),  # headings, quotes, list marks
           (re.compile(r"(?<!\w)[*_](\S[^*_]*\S|\S)[*_](?!\w)"), r"\1")]  # single emphasis


def plain(text: str) -> str:
    """A subject or message as plain words on one line, for previews: markdown and tags gone, their words kept."""
    out = text or ""
    for pattern, repl in _MARKUP:
        out = pattern.sub(repl, out)
    return " ".join(out.split())


_GREETING = re.compile(r"^\s*(?:hi|hello|hey|dear\b[^,\n]{0,40}|good (?:morning|afternoon|evening))\b[^\n,!.]{0,20}"
                       r"[,!.]?\s*", re.I)


def opening(body: str) -> str:
    """A message's first words for a title where it has no subject: the greeting ("Hi,", "Good morning,") left
    out."""
    return plain(_GREETING.sub("", body or "", count=1))


ORDERS: dict[str, list[Any]] = {
    "sla": [TicketRow.sla_due.asc().nulls_last(), TicketRow.priority.desc(), TicketRow.created_at.asc()],
    "priority": [TicketRow.priority.desc(), TicketRow.sla_due.asc().nulls_last(), TicketRow.created_at.asc()],
    "newest": [TicketRow.created_at.desc()],
}


def inbox(db: Database, *, statuses: tuple[str, ...] = ACTIVE, search: str = "", limit: int = 50, offset: int = 0,
          where: InboxFilter | None = None) -> tuple[list[dict[str, Any]], int]:
    """Tickets for the inbox in the filter's order, by default the nearest first-response target first (with a
    search: most relevant first); filtered
    and paged in SQL through indexes, so a page costs what its filters select, not what the store holds."""
    f = where or InboxFilter(statuses=statuses, search=search)
    with db.session() as s:
        stmt, relevance = _filtered(f, db.engine.dialect.name)
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        order = ORDERS.get(f.order, ORDERS["sla"])
        if "resolved" in f.statuses and len(f.statuses) > 1:  # "All": what is still to do first, the closed after
            order = [case((TicketRow.status == "resolved", 1), else_=0), *order]
        rows = s.scalars(stmt.order_by(*([relevance] if relevance is not None else []), *order)
                         .limit(limit).offset(offset)).all()
        pending = dict(s.execute(select(ProposalRow.ticket_id, func.count()).where(
            ProposalRow.ticket_id.in_([r.id for r in rows]), ProposalRow.status == "pending")
            .group_by(ProposalRow.ticket_id)).all())
        return [{"id": r.id, "subject": plain(r.subject) or opening(r.body)[:300], "customer": r.customer_ref or "unknown",
                 "channel": r.channel, "status": r.status, "task_type": r.task_type or "…",
                 "requests": _requests(r), "urgency": r.urgency or "…", "sentiment": r.sentiment or "…", "priority": r.priority,
                 "sla_due": r.sla_due, "created_at": r.created_at, "pending": int(pending.get(r.id, 0)),
                 "assigned_to": r.assigned_to, "customer_replied": bool(r.customer_replied)} for r in rows], int(total)


def _requests(r: TicketRow) -> list[str]:
    """The kinds of request the agent read in the ticket, in the order the customer wrote them (the ticket's task
    type alone when it read none)."""
    said = [str(q.get("intent")) for q in ((r.result or {}).get("triage") or {}).get("requests") or []
            if isinstance(q, dict) and q.get("intent")]
    return list(dict.fromkeys(said)) or ([r.task_type] if r.task_type else [])


def counts(db: Database, me: str = "") -> dict[str, int]:
    """Tickets per status of the live queue (new, processing, open, escalated; absent when none), plus ``mine``
    (open or escalated work assigned to ``me``) and ``unassigned`` open or escalated work. Counted from the
    tickets themselves through the (status, assigned_to) index, so they cannot drift from the truth and cost
    what the live queue holds, never the resolved history."""
    with db.session() as s:
        out = {k: int(v) for k, v in s.execute(select(TicketRow.status, func.count())
                                                .where(TicketRow.status.in_((*ACTIVE, "waiting")))
                                                .group_by(TicketRow.status))}
        active = TicketRow.status.in_(("open", "escalated"))
        out["unassigned"] = int(s.scalar(select(func.count()).where(active, TicketRow.assigned_to.is_(None))) or 0)
        if me:
            out["mine"] = int(s.scalar(select(func.count()).where(active, TicketRow.assigned_to == me)) or 0)
        return out


def customer_tickets(db: Database, customer_id: str, exclude: str = "", limit: int = 10) -> list[dict[str, Any]]:
    """The customer's other tickets, newest first (the workspace's contact history), read backwards along the
    (customer_id, created_at) index."""
    with db.session() as s:
        rows = s.scalars(select(TicketRow).where(TicketRow.customer_id == customer_id, TicketRow.id != exclude)
                         .order_by(TicketRow.created_at.desc()).limit(limit)).all()
        return [{"id": r.id, "subject": r.subject or opening(r.body)[:80], "created_at": r.created_at, "status": r.status,
                 "task_type": r.task_type or "…"} for r in rows]


def filter_options(db: Database) -> dict[str, list[str]]:
    """The values present, for the inbox's filter menus. Each column's index is walked from one distinct value to
    the next (a recursive query, one index seek per value), so the cost follows the number of values, not of
    tickets."""
    with db.session() as s:
        return {name: sorted(v for v in s.scalars(text(_DISTINCT.format(column=column))) if v)
                for name, column in FACETS.items()}


# A loose index scan: the smallest value, then repeatedly the smallest value above the previous one.
_DISTINCT = """WITH RECURSIVE v(x) AS (
    SELECT (SELECT {column} FROM tickets WHERE {column} IS NOT NULL ORDER BY {column} LIMIT 1)
    UNION ALL
    SELECT (SELECT {column} FROM tickets WHERE {column} > v.x ORDER BY {column} LIMIT 1) FROM v WHERE v.x IS NOT NULL
) SELECT x FROM v WHERE x IS NOT NULL"""


def assign(db: Database, user: StaffUser, ticket_id: str, to: str | None) -> str | None:
    """Claim (``to`` = yourself), hand over or release a ticket, so two people never work it unknowingly.
    Advisors claim free tickets and release their own; taking someone else's ticket needs a supervisor."""
    user = require(user, Role.advisor, db)
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


def escalate(db: Database, user: StaffUser, ticket_id: str, reason: str) -> None:
    """An advisor hands a ticket to a supervisor, saying why: it joins the escalated queue, free for a supervisor
    to take, with the reason in front of them and in the audit log."""
    user = require(user, Role.advisor, db)
    why = " ".join(str(reason or "").split())
    if not why:
        raise InvalidInput("say why the ticket needs a supervisor (one sentence is enough)")
    if len(why) > 500:
        raise InvalidInput(f"the reason is {len(why)} characters long; keep it under 500")
    with db.tx() as s:
        row = s.get(TicketRow, ticket_id)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        check_not_taken(s, user, ticket_id)
        if row.status not in ("open", "waiting"):
            raise InvalidInput(f"ticket {ticket_id} is {row.status}; only an open or waiting ticket can be escalated")
        result = dict(row.result or {})
        result.update(escalated=True, escalation_reason=f"{user.username} asked for a supervisor: {why}")
        row.result, row.status, row.assigned_to, row.assigned_at = result, "escalated", None, None
        audit.append(s, user.username, "ticket.escalated", ticket_id, reason=why)


def check_not_taken(db: Database | Any, user: StaffUser, ticket_id: str) -> None:
    """An advisor cannot act on a ticket another person has claimed (supervisors can, knowingly: the role as
    stored, not the one the object handed in claims). ``db`` is a database or an open session."""
    if isinstance(db, Database):
        with db.session() as s:
            return check_not_taken(s, user, ticket_id)
    row = db.get(TicketRow, ticket_id)
    owner = row.assigned_to if row is not None else None
    if not owner or owner == user.username:
        return
    stored = db.get(StaffUserRow, user.username)
    role = Role(stored.role) if stored is not None and stored.active else Role.advisor
    if ROLE_RANK[role] < ROLE_RANK[Role.supervisor]:
        raise InvalidInput(f"{owner} is working on this ticket; ask them or a supervisor to hand it over")


def taking(db: Database | Any, user: StaffUser, ticket_id: str) -> None:
    """Before a decision on a ticket: nobody else works it (``check_not_taken``), and a free one is taken by the
    person deciding, so that opening a ticket to read it never claims it. ``db`` is a database or an open session."""
    if isinstance(db, Database):
        with db.tx() as s:
            taking(s, user, ticket_id)
        return
    check_not_taken(db, user, ticket_id)
    row = db.get(TicketRow, ticket_id)
    if row is not None and row.assigned_to is None and row.status in {"open", "escalated", "waiting"}:
        row.assigned_to, row.assigned_at = user.username, utcnow()
        audit.append(db, user.username, "ticket.assigned", ticket_id, previous=None, to=user.username,
                     on="first decision")


def get_ticket(db: Database, ticket_id: str) -> dict[str, Any]:
    with db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        messages = s.scalars(select(MessageRow).where(MessageRow.ticket_id == ticket_id).order_by(MessageRow.id)).all()
        proposals = s.scalars(select(ProposalRow).where(ProposalRow.ticket_id == ticket_id)
                              .order_by(ProposalRow.position)).all()
        elsewhere = _elsewhere(s, row, list(proposals))
        return {
            "ticket": {c: getattr(row, c) for c in ("id", "customer_ref", "customer_id", "channel", "subject", "body",
                                                    "created_at", "status", "priority", "sla_due", "task_type",
                                                    "confidence", "urgency", "sentiment", "language", "summary",
                                                    "error", "assigned_to", "resolved_at", "processed_at",
                                                    "read_through", "customer_replied", "source")},
            "result": ProcessResult.model_validate(row.result) if row.result else None,
            "messages": [{"author": m.author, "body": m.body, "at": m.created_at, "direction": m.direction}
                         for m in messages],
            "proposals": [{**{c: getattr(p, c) for c in ("id", "position", "action", "args", "rationale", "decision",
                                                          "reason", "required_role", "status", "result", "decided_by",
                                                          "reject_reason", "customer_note", "execution_key", "depends_on")},
                           "call": _call_progress(s, p), "done_elsewhere": _done_elsewhere(elsewhere, p)}
                          for p in proposals],
        }


def _elsewhere(s: Session, row: TicketRow, proposals: list[ProposalRow]) -> list[Any]:
    """The customer's proposals on their other tickets that ran or wait, for the actions this ticket has pending:
    one query for the whole ticket."""
    actions = {p.action for p in proposals if p.status == "pending"}
    if not actions or not row.customer_id:
        return []
    return list(s.execute(select(ProposalRow, func.coalesce(func.nullif(TicketRow.subject, ""),
                                                           func.substr(TicketRow.body, 1, 80)), TicketRow.status)
                          .join(TicketRow, TicketRow.id == ProposalRow.ticket_id)
                          .where(TicketRow.customer_id == row.customer_id, ProposalRow.ticket_id != row.id,
                                 ProposalRow.action.in_(actions), ProposalRow.status.in_(("executed", "pending")))
                          .order_by(ProposalRow.decided_at.desc())).all())


def _done_elsewhere(done: list[Any], p: ProposalRow) -> dict[str, Any] | None:
    """A pending proposal whose very action (same arguments) already ran for this customer from another ticket,
    e.g. the same request sent twice: the ticket it ran on and when, so it is not done a second time unseen."""
    if p.status != "pending":
        return None
    # done already; else waiting on another open ticket too (the same request sent twice): approve it on one only
    mine = [(q, subject, status) for q, subject, status in done if q.action == p.action and q.args == p.args]
    same = next(((q, subject) for q, subject, _ in mine if q.status == "executed"), None) or next(
        ((q, subject) for q, subject, status in mine if status in ("open", "escalated", "waiting")), None)
    if same is None:
        return None
    return {"ticket_id": same[0].ticket_id, "subject": same[1], "decided_at": same[0].decided_at,
            "decided_by": same[0].decided_by, "pending": same[0].status == "pending"}


def _call_progress(s: Session, p: ProposalRow) -> dict[str, Any] | None:
    """For a proposal sent to a team's own system: where its call stands (sending, retrying with the reason…)."""
    if p.status not in {"calling", "failed"} or not p.execution_key:
        return None

    row = s.scalars(select(NotificationRow).where(NotificationRow.idempotency_key == p.execution_key)).first()
    if row is None:
        return None
    return {"status": row.status, "error": row.last_error, "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at}


def processing_mark(db: Database, ticket_id: str) -> datetime | None:
    """When the agent last finished reading the ticket (the workspace follows it live)."""
    with db.session() as s:
        return s.scalar(select(TicketRow.processed_at).where(TicketRow.id == ticket_id))


def clash_note(db: Database, ticket_id: str) -> str:
    """For the advisor: another open ticket of the customer's, older or newer, that cancels a record this ticket's
    pending actions change (or changes one this ticket cancels), so the two are decided together; '' if none."""
    with db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is None or not row.customer_id:
            return ""
        pending = list(s.scalars(select(ProposalRow).where(ProposalRow.ticket_id == ticket_id,
                                                           ProposalRow.status == "pending")))
    if not pending:
        return ""
    cancels = any("cancel" in p.action for p in pending)
    found = contacts.clash([p.args for p in pending], cancels, contacts.open_elsewhere(
        db, row.customer_id, ticket_id, utcnow(), after=row.created_at), [p.action for p in pending])
    if found is None:
        return ""
    hit, t, kind = found
    said = cut_words(" ".join(str(t["subject"]).split()), 60)
    return (f"The {'newer' if t.get('later') else 'older'} ticket “{said}” of this customer, still open, " + (
        f"asks for a different change to {hit}" if kind == "differs" else
        f"asks for something else on {hit}, which this one cancels" if cancels else f"asks to cancel {hit}")
        + ": decide the two together.")
