"""The ticket queue: intake, claiming for processing, the inbox, and the advisor's decisions on proposals."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, false, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import audit
from .actions import ExecContext, execute, is_read
from .actions.execute import Outcome
from .conversations import (
    conversation_problem,
    customer_text,
    naive_utc,
    reserved_id_problem,
    unread_customer_message,
)
from .domain import active
from .drafting import ProposalState, for_customer, recompose, render
from .errors import InvalidInput, LeaseLost, NotAuthorised, NotFound, ReplyHeld, TandemError
from .models import ROLE_RANK, Autonomy, Decision, ImportedTicket, ProcessResult, Proposal, ReplyPart, Role, TicketIn
from .policy import Policy
from .redact import redact_secrets
from .store import fulltext
from .store.db import Database, utcnow
from .store.tables import ExecutionRow, MessageRow, ProposalRow, StaffUserRow, TicketRow
from .wording import WORDING, claimed_actions, claims, names

log = logging.getLogger("tandem.tickets")

URGENCY_RANK = {"critical": 3, "high": 2, "normal": 1, "low": 0}


@dataclass
class StaffUser:
    username: str
    display_name: str
    role: Role


def current(db: Database, user: StaffUser) -> StaffUser:
    """The account as stored now: the object a page holds may predate a deactivation or a role change."""
    with db.session() as s:
        row = s.get(StaffUserRow, user.username)
    if row is None:
        raise NotAuthorised("your account no longer exists; sign in again")
    if not row.active:
        raise NotAuthorised("your account was deactivated; sign in again")
    return StaffUser(row.username, row.display_name, Role(row.role))


def require(user: StaffUser, role: Role, db: Database | None = None) -> StaffUser:
    """Roles are enforced here, in the core, not only by hiding pages. Every call that changes something passes
    ``db``: the account is re-read, so a stale session of someone deactivated or demoted since is refused.
    Returns the user as stored, to act as from here on (their role now, not the one they signed in with)."""
    stored = current(db, user) if db is not None else user
    if ROLE_RANK[stored.role] < ROLE_RANK[role]:
        now = "your role is now" if stored.role != user.role else "you are signed in as"
        raise NotAuthorised(f"this needs the {role.value} role; {now} {stored.role.value}")
    return stored


# ------------------------------------------------------------------ intake
@dataclass
class ParseError:
    line: int
    message: str


def parse_ticket_file(path: Path, intake: bool = False) -> tuple[list[tuple[int, TicketIn]], list[ParseError]]:
    """Tickets from a JSONL or CSV file; each bad line becomes an error naming the line, the rest still parse.
    For ``intake`` (an import into the live queue), an id named like a channel's tickets is refused unless the line
    names that channel's conversation it continues."""
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
            ticket = ImportedTicket.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "ticket"
            bad.append(ParseError(n, f"line {n}: field '{field}': {err['msg'].removeprefix('Value error, ')}"))
            continue
        problem = _intake_problem(ticket) if intake else None
        if problem:
            bad.append(ParseError(n, f"line {n}: {problem}"))
            continue
        good.append((n, ticket))
    return good, bad


def _intake_problem(ticket: ImportedTicket) -> str | None:
    if ticket.conversation:
        problem = conversation_problem(ticket.conversation)
        if problem:
            return f"field 'conversation': {problem}"
    problem = reserved_id_problem(ticket.id, ticket.conversation)
    return f"field 'id': {problem}" if problem else None


IMPORT_BATCH = 500


def add_tickets(db: Database, tickets: list[TicketIn], source: str, actor: str = "intake",
                progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Stores new tickets, a few hundred per transaction, each still its own ``ticket.received`` audit event;
    duplicates by id (stored already, or repeated in ``tickets``) are skipped. ``progress`` is told how many
    tickets each batch handled. Returns (added, skipped)."""
    added = skipped = 0
    for start in range(0, len(tickets), IMPORT_BATCH):
        batch = tickets[start:start + IMPORT_BATCH]
        try:
            got = _add_batch(db, batch, source, actor)
        except IntegrityError:  # another writer stored one of these ids meanwhile: this batch one by one
            got = (0, 0)
            for t in batch:
                try:
                    one = _add_batch(db, [t], source, actor)
                except IntegrityError:
                    one = (0, 1)
                got = (got[0] + one[0], got[1] + one[1])
        added, skipped = added + got[0], skipped + got[1]
        if progress is not None:
            progress(len(batch))
    return added, skipped


def _add_batch(db: Database, batch: list[TicketIn], source: str, actor: str) -> tuple[int, int]:
    """One transaction: the tickets not stored yet, their first message and one audit event each, in order."""
    with db.tx() as s:
        added = insert_tickets(s, batch, source, actor)
        return len(added), len(batch) - len(added)


def insert_tickets(s: Session, batch: list[TicketIn], source: str, actor: str,
                   extras: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Stores the tickets of ``batch`` not stored yet, each with its first message and a ``ticket.received`` audit
    event, in the caller's transaction; ``extras`` adds columns by ticket id (its outside conversation, and under
    ``message`` the first message's own). Returns the ids added."""
    records = active().records()
    extras = dict(extras or {})
    for t in batch:  # a file's ticket that continues a helpdesk's conversation keeps its link (and its way back)
        conversation = getattr(t, "conversation", None)
        if conversation and t.id not in extras:
            source, _, value = conversation.partition(":")
            extras[t.id] = {"external_ref": f"{source.strip().lower()}:{value.strip()}"[:400],
                            "source": source.strip().lower()}
    seen = set(s.scalars(select(TicketRow.id).where(TicketRow.id.in_({t.id for t in batch}))))
    refs = [e["external_ref"] for e in extras.values() if e.get("external_ref")]
    if refs:  # a conversation already here is not opened twice
        linked = set(s.scalars(select(TicketRow.external_ref).where(TicketRow.external_ref.in_(refs))))
        seen |= {t.id for t in batch if extras.get(t.id, {}).get("external_ref") in linked}
    customers: dict[str | None, str | None] = {}
    fresh: list[tuple[TicketIn, str | None]] = []
    rows: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for t in batch:
        if t.id in seen:
            continue
        seen.add(t.id)
        if t.customer not in customers:
            try:
                cust = records.lookup(s, t.customer)
            except TandemError as exc:  # the team's records do not answer: the customer is found when it is read
                log.warning("ticket %s: its customer could not be looked up now: %s", t.id, exc)
                cust = None
            customers[t.customer] = cust.id if cust else None
        customer_id = customers[t.customer]
        created = naive_utc(t.created_at) if t.created_at else utcnow()
        body = redact_secrets(t.body)
        extra = dict(extras.get(t.id, {}))
        message = {"author": "customer", "direction": "in", "channel": t.channel, **extra.pop("message", {})}
        rows.append({"id": t.id, "customer_ref": t.customer, "customer_id": customer_id,
                     "channel": t.channel, "subject": redact_secrets(t.subject)[:500], "body": body,
                     "created_at": created, "source": source, "status": "new", "external_ref": None,
                     "api_token_id": None, **extra})
        messages.append({"ticket_id": t.id, "body": body, "created_at": created, "external_id": None, **message})
        fresh.append((t, customer_id))
    if fresh:
        s.execute(insert(TicketRow), rows)
        s.execute(insert(MessageRow), messages)
        audit.append_many(s, actor, "ticket.received", [
            (t.id, {"channel": t.channel, "source": source, "customer_id": customer_id})
            for t, customer_id in fresh])
    return [t.id for t, _ in fresh]


def _waiting(now: datetime) -> Any:
    """A ticket a worker may claim: new, or held by a worker whose lease ran out (it died, or hung past it).
    A ticket left in processing without a lease (claimed before leases existed) is taken back at once."""
    return or_(TicketRow.status == "new",
               and_(TicketRow.status == "processing",
                    or_(TicketRow.lease_until.is_(None), TicketRow.lease_until < now)))


def claim_next(db: Database, worker: str, lease_seconds: float = 60.0) -> TicketRow | None:
    """Claims the oldest waiting ticket for ``lease_seconds`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; a guarded
    update on SQLite). The returned row's ``claimed_by`` is this claim's token: the worker renews the lease with it
    while it works (``renew_lease``) and stores the result with it; once the lease has run out, any worker (or the
    app, ``release_expired``) takes the ticket back, so a killed worker strands nothing."""
    claim = f"{worker[:70]}/{uuid.uuid4().hex[:8]}"

    def take(s: Session) -> TicketRow | None:
        now = utcnow()
        stmt = select(TicketRow).where(_waiting(now)).order_by(TicketRow.created_at).limit(1)
        if not db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        row = s.scalars(stmt).first()
        if row is None:
            return None
        was, previous = row.status, row.claimed_by
        done = s.execute(update(TicketRow).where(TicketRow.id == row.id, _waiting(now))
                         .values(status="processing", claimed_by=claim,
                                 lease_until=now + timedelta(seconds=lease_seconds)),
                         execution_options={"synchronize_session": False})
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return None
        if was == "processing":
            audit.append(s, "agent", "ticket.lease_expired", row.id, previous=previous, taken_by=claim)
        s.expunge(row)
        row.status, row.claimed_by = "processing", claim
        return row

    return db.run(take)


def renew_lease(db: Database, ticket_id: str, claim: str, lease_seconds: float) -> bool:
    """Extends the claim's lease (the worker's heartbeat while it processes the ticket); False when the claim was
    lost, the ticket having been taken back by another worker."""
    def extend(s: Session) -> bool:
        done = s.execute(update(TicketRow).where(TicketRow.id == ticket_id, TicketRow.claimed_by == claim,
                                                 TicketRow.status == "processing")
                         .values(lease_until=utcnow() + timedelta(seconds=lease_seconds)),
                         execution_options={"synchronize_session": False})
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    return db.run(extend)


def release(db: Database, ticket_id: str, claim: str, reason: str) -> bool:
    """Puts a ticket the worker still holds back in the queue at once (a worker told to stop mid-ticket); what
    that attempt already executed is recorded by the next one. False when the claim was already lost."""
    def give_back(s: Session) -> bool:
        done = s.execute(update(TicketRow).where(TicketRow.id == ticket_id, TicketRow.claimed_by == claim,
                                                 TicketRow.status == "processing")
                         .values(status="new", claimed_by=None, lease_until=None),
                         execution_options={"synchronize_session": False})
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return False
        audit.append(s, "agent", "ticket.requeued", ticket_id, previous=claim, reason=reason)
        return True

    return db.run(give_back)


def release_expired(db: Database) -> int:
    """Puts every ticket whose worker's lease ran out back in the queue (the app calls it, so a dead worker's
    tickets come back even when no other worker is running); returns how many."""
    def give_back(s: Session) -> int:
        now = utcnow()
        expired = s.execute(select(TicketRow.id, TicketRow.claimed_by).where(
            TicketRow.status == "processing", or_(TicketRow.lease_until.is_(None), TicketRow.lease_until < now))).all()
        n = 0
        for ticket_id, previous in expired:
            done = s.execute(update(TicketRow).where(TicketRow.id == ticket_id, _waiting(now),
                                                     TicketRow.status == "processing")
                             .values(status="new", claimed_by=None, lease_until=None),
                             execution_options={"synchronize_session": False})
            if done.rowcount == 1:  # type: ignore[attr-defined]
                audit.append(s, "agent", "ticket.lease_expired", ticket_id, previous=previous, taken_by=None)
                n += 1
        return n

    return db.run(give_back)


_SWEPT: dict[str, float] = {}
_SWEEP_LOCK = threading.Lock()


def sweep_expired(db: Database, every: float = 30.0) -> int:
    """``release_expired`` at most once every ``every`` seconds per database: the live inbox calls it on each refresh,
    so a dead worker's tickets come back to the queue even while no worker runs."""
    with _SWEEP_LOCK:
        now = time.monotonic()
        if now - _SWEPT.get(db.url, -every) < every:
            return 0
        _SWEPT[db.url] = now
    return release_expired(db)


def _held(s: Session, ticket_id: str, claim: str | None) -> TicketRow:
    """The ticket row, locked until commit; with a ``claim``, only while that claim still holds the ticket."""
    row = s.get(TicketRow, ticket_id, with_for_update=True)
    if row is None:
        raise NotFound(f"ticket {ticket_id} not found")
    if claim is not None and (row.claimed_by != claim or row.status != "processing"):
        raise LeaseLost(f"ticket {ticket_id} was taken back from this worker; its new holder finishes it")
    return row


def _unrecorded_executions(s: Session, ticket_id: str, known: set[str], since: datetime | None = None
                           ) -> list[Proposal]:
    """The agent's executions on the ticket that no proposal records yet (an attempt interrupted between running an
    action and storing the ticket's result), as executed proposals; ``since`` is when the ticket's last reading was
    stored (what ran before it belongs to that reading, like the reply it sent)."""
    recorded = set(s.scalars(select(ProposalRow.execution_key).where(ProposalRow.ticket_id == ticket_id,
                                                                     ProposalRow.execution_key.is_not(None))))
    q = select(ExecutionRow).where(ExecutionRow.ticket_id == ticket_id, ExecutionRow.actor == "agent")
    if since is not None:
        q = q.where(ExecutionRow.created_at > since)
    rows = s.scalars(q.order_by(ExecutionRow.created_at)).all()
    return [Proposal(action=e.action, args=dict(e.args), rationale="run by an earlier attempt that was interrupted",
                     decision=Decision.executed, reason="done before the worker stopped; recorded on the next attempt",
                     result=dict(e.result), execution_key=e.idempotency_key)
            for e in rows if e.idempotency_key not in known | recorded]


def for_agent(db: Database, row: TicketRow) -> tuple[TicketIn, int | None, list[dict[str, Any]]]:
    """The ticket as the agent reads it: the whole conversation's customer messages as its text, the newest
    message that text includes, and what was decided on the ticket before (executed and rejected proposals)."""
    with db.session() as s:
        body, latest = customer_text(s, row.id, row.body)
        prior = [{"action": p.action, "args": dict(p.args), "status": p.status, "result": p.result,
                  "execution_key": p.execution_key}
                 for p in s.scalars(select(ProposalRow).where(ProposalRow.ticket_id == row.id,
                                                              ProposalRow.status.in_(("executed", "rejected")))
                                    .order_by(ProposalRow.id))]
    return as_ticket_in(row).model_copy(update={"body": body}), latest, prior


def as_ticket_in(row: TicketRow) -> TicketIn:
    return TicketIn(id=row.id, customer=row.customer_ref, channel=row.channel, subject=row.subject, body=row.body,
                    created_at=row.created_at)


def priority_of(result: ProcessResult, tier: str) -> int:
    t = result.triage
    score = URGENCY_RANK.get(t.urgency, 1) * 100 + int(t.frustration * 50)
    score += 40 if result.escalated else 0
    score += 20 if tier in {"plus", "business"} else 0
    return score


def sla_due(policy: Policy, created: datetime, channel: str, urgency: str, tier: str) -> datetime:
    minutes = policy.sla_for(channel)
    if tier in {"plus", "business"}:
        minutes = max(5, minutes // 3)
    if urgency in {"critical", "high"}:
        minutes = min(minutes, 60)
    return created + timedelta(minutes=minutes)


def store_result(db: Database, policy: Policy, result: ProcessResult, claim: str | None = None,
                 read_through: int | None = None) -> None:
    """Writes the pipeline's conclusions on the ticket and its proposals, and audits them, once: with the worker's
    ``claim``, only while that claim still holds the ticket (``LeaseLost`` otherwise). Executions of an earlier,
    interrupted attempt that the result does not mention are recorded too, as executed proposals with their review
    samples, so no side effect is left without a trace on its ticket.

    A ticket read again (the customer wrote since) keeps what people decided: proposals still waiting are replaced
    by the new ones, decided ones stay (an executed one the new result repeats is the same row). ``read_through`` is
    the newest message the result has read: when the customer wrote after it, the ticket is read again."""
    def write(s: Session) -> None:
        row = _held(s, result.ticket_id, claim)
        done = _unrecorded_executions(s, row.id, {p.execution_key for p in result.proposals if p.execution_key},
                                      row.processed_at)
        outcome = result.model_copy(update={"proposals": [*result.proposals, *done]}) if done else result
        tier = "standard"
        if row.customer_id is None and outcome.customer_id and (row.customer_ref or "").strip():
            row.customer_id = outcome.customer_id  # the sender's own record, not found when the ticket came in
        if row.customer_id:
            try:
                c = active().records().lookup(s, row.customer_id)
            except TandemError as exc:  # the team's records do not answer now: the standard targets apply
                log.warning("ticket %s: the customer's tier could not be read: %s", row.id, exc)
                c = None
            tier = c.tier if c else tier
        t = outcome.triage
        row.task_type, row.confidence, row.urgency = t.task_type, t.confidence, t.urgency
        row.sentiment, row.language, row.summary = t.sentiment, t.language, outcome.draft.summary
        row.result = outcome.model_dump(mode="json")
        row.priority = priority_of(outcome, tier)
        row.sla_due = sla_due(policy, row.created_at, row.channel, t.urgency, tier)
        row.processed_at = utcnow()
        row.lease_until = None
        row.error = None  # read without a failure this time
        sent = any(p.action == "send_reply" and p.decision == Decision.executed for p in outcome.proposals)
        row.status = "escalated" if outcome.escalated else "resolved" if sent else "open"
        if sent:
            row.resolved_at = utcnow()
        row.read_through = read_through if read_through is not None else row.read_through
        if unread_customer_message(s, row.id, read_through):
            row.status = "new"  # the customer wrote while this was read: read the whole conversation again
        s.query(ProposalRow).filter(ProposalRow.ticket_id == row.id, ProposalRow.decided_by.is_(None),
                                    ProposalRow.position < 1000,  # those a person added stay
                                    ProposalRow.status.in_(("pending", "escalated"))).delete()
        kept = {k.execution_key: k for k in s.scalars(select(ProposalRow).where(ProposalRow.ticket_id == row.id))
                if k.execution_key}
        for k in s.scalars(select(ProposalRow).where(ProposalRow.ticket_id == row.id, ProposalRow.position >= 0,
                                                     ProposalRow.position < 1000)):
            k.position = -k.id  # decided on an earlier reading: history now, unless this reading names it again
        s.flush()
        for i, p in enumerate(outcome.proposals):
            if p.action == "send_reply":
                continue
            if p.execution_key and p.execution_key in kept:
                kept[p.execution_key].position = i
                continue
            status = {"executed": "executed", "needs_approval": "pending", "escalated": "escalated",
                      "denied": "denied", "abstained": "pending"}[p.decision.value]
            answer = p.result
            if p.decision == Decision.needs_approval and p.execution_key:
                status, answer = _call_state(s, p.execution_key)  # sent to a team's system alone: as it stands
            s.add(ProposalRow(ticket_id=row.id, position=i, action=p.action, args=p.args, rationale=p.rationale,
                              decision=p.decision.value, reason=p.reason, required_role=p.required_role.value,
                              status=status, result=answer, execution_key=p.execution_key or None))
        audit.append(s, "agent", "ticket.processed", row.id, task_type=t.task_type, confidence=t.confidence,
                     urgency=t.urgency, sentiment=t.sentiment, autonomy=outcome.autonomy, escalated=outcome.escalated,
                     escalation_reason=outcome.escalation_reason, ms=outcome.ms, engine=outcome.engine,
                     engine_note=outcome.engine_note,
                     proposals=[{"action": p.action, "decision": p.decision.value, "reason": p.reason}
                                for p in outcome.proposals])
        if outcome.escalated:
            audit.append(s, "agent", "ticket.escalated", row.id, reason=outcome.escalation_reason,
                         packet=outcome.packet or {"summary": outcome.draft.summary})
        from .review import enqueue

        enqueue(s, policy, outcome)

    db.run(write)


def _call_state(s: Session, key: str) -> tuple[str, dict[str, Any] | None]:
    """A call the agent sent alone, as its proposal stands now (still calling, done, refused or not done), and its
    result once done."""
    row = s.get(ExecutionRow, key)
    result = dict(row.result or {}) if row is not None else {"_call": "calling"}
    state = result.get("_call")
    if state is None:
        return "executed", result
    return {"refused": "denied", "failed": "failed", "unknown": "failed"}.get(state, "calling"), None


def mark_failed(db: Database, ticket_id: str, message: str, claim: str | None = None,
                policy: Policy | None = None) -> None:
    """Hands a ticket the agent could not process to the advisors, with the error; with the worker's ``claim``, only
    while it still holds the ticket (``LeaseLost`` otherwise). What the failed attempt had already executed is
    recorded as executed proposals (and, given the ``policy``, their review samples)."""
    from .review import enqueue_one

    reason = failure_line(message)

    def write(s: Session) -> None:
        row = _held(s, ticket_id, claim)
        row.status, row.error, row.lease_until = "open", reason, None
        done = _unrecorded_executions(s, ticket_id, set(), row.processed_at)
        first = int(s.scalar(select(func.count()).select_from(ProposalRow).where(ProposalRow.ticket_id == ticket_id))
                    or 0)
        for i, p in enumerate(done, first):
            s.add(ProposalRow(ticket_id=ticket_id, position=i, action=p.action, args=p.args, rationale=p.rationale,
                              decision=p.decision.value, reason=p.reason, required_role=p.required_role.value,
                              status="executed", result=p.result, execution_key=p.execution_key))
            if policy is not None:
                # nothing is known of the customer's mood or of triage's certainty: reviewed as if unsure
                enqueue_one(s, policy, ticket_id, p, row.task_type or "unclassified", frustration=0.0,
                            confidence=0.0)
        audit.append(s, "agent", "ticket.failed", ticket_id, error=reason,
                     recorded=[p.action for p in done])

    db.run(write)


def failure_line(message: str) -> str:
    """Why the agent could not process a ticket, as the one line people read (the traceback is in the worker's
    log, never on screen)."""
    words = " ".join(str(message).split())
    return words if len(words) <= 300 else words[:299].rstrip() + "…"


def _retry(s: Session, row: TicketRow, actor: str) -> None:
    audit.append(s, actor, "ticket.retried", row.id, error=row.error)
    row.status, row.error, row.claimed_by, row.lease_until = "new", None, None, None


def retry(db: Database, user: StaffUser, ticket_id: str) -> None:
    """Puts a ticket the agent failed on back in the queue, for the agent to read again (advisors; audited
    ``ticket.retried``)."""
    user = require(user, Role.advisor, db)

    def write(s: Session) -> None:
        row = s.get(TicketRow, ticket_id, with_for_update=True)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        if row.status in {"new", "processing"}:
            raise InvalidInput(f"ticket {ticket_id} is already waiting for the agent")
        if not row.error:
            raise InvalidInput(f"the agent did not fail on ticket {ticket_id}")
        _retry(s, row, user.username)

    db.run(write)


def retry_failed(db: Database, ticket_ids: list[str] | None = None, actor: str = "cli") -> list[str]:
    """Puts the named tickets (or every ticket the agent failed on) back in the queue; returns their ids. An id
    that is not a failed ticket is refused in one line, and nothing is changed."""
    def write(s: Session) -> list[str]:
        if ticket_ids:
            rows = []
            for tid in ticket_ids:
                row = s.get(TicketRow, tid, with_for_update=True)
                if row is None:
                    raise NotFound(f"ticket {tid} not found")
                if not row.error or row.status in {"new", "processing"}:
                    raise InvalidInput(f"ticket {tid} has not failed (it is {row.status})")
                rows.append(row)
        else:
            rows = list(s.scalars(select(TicketRow).where(TicketRow.error.is_not(None),
                                                          TicketRow.status.not_in(("new", "processing")))
                                  .order_by(TicketRow.created_at)))
        for row in rows:
            _retry(s, row, actor)
        return [r.id for r in rows]

    return db.run(write)


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


def cut_words(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, with "…" when anything was cut."""
    if len(text) <= limit:
        return text
    head = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return head.rstrip(" ,;:-") + "…"


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
        rows = s.scalars(stmt.order_by(*([relevance] if relevance is not None else []), *order)
                         .limit(limit).offset(offset)).all()
        pending = dict(s.execute(select(ProposalRow.ticket_id, func.count()).where(
            ProposalRow.ticket_id.in_([r.id for r in rows]), ProposalRow.status == "pending")
            .group_by(ProposalRow.ticket_id)).all())
        return [{"id": r.id, "subject": plain(r.subject) or plain(r.body)[:300], "customer": r.customer_ref or "unknown",
                 "channel": r.channel, "status": r.status, "task_type": r.task_type or "…",
                 "urgency": r.urgency or "…", "sentiment": r.sentiment or "…", "priority": r.priority,
                 "sla_due": r.sla_due, "created_at": r.created_at, "pending": int(pending.get(r.id, 0)),
                 "assigned_to": r.assigned_to, "customer_replied": bool(r.customer_replied)} for r in rows], int(total)


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
        return [{"id": r.id, "subject": r.subject or r.body[:80], "created_at": r.created_at, "status": r.status,
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
                                                    "error", "assigned_to", "resolved_at", "processed_at",
                                                    "read_through", "customer_replied", "source")},
            "result": ProcessResult.model_validate(row.result) if row.result else None,
            "messages": [{"author": m.author, "body": m.body, "at": m.created_at, "direction": m.direction}
                         for m in messages],
            "proposals": [{**{c: getattr(p, c) for c in ("id", "position", "action", "args", "rationale", "decision",
                                                          "reason", "required_role", "status", "result", "decided_by",
                                                          "reject_reason", "customer_note")},
                           "call": _call_progress(s, p)} for p in proposals],
        }


def _call_progress(s: Session, p: ProposalRow) -> dict[str, Any] | None:
    """For a proposal sent to a team's own system: where its call stands (sending, retrying with the reason…)."""
    if p.status not in {"calling", "failed"} or not p.execution_key:
        return None
    from .store.tables import NotificationRow

    row = s.scalars(select(NotificationRow).where(NotificationRow.idempotency_key == p.execution_key)).first()
    if row is None:
        return None
    return {"status": row.status, "error": row.last_error, "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at}


def processing_mark(db: Database, ticket_id: str) -> datetime | None:
    """When the agent last finished reading the ticket (the workspace follows it live)."""
    with db.session() as s:
        return s.scalar(select(TicketRow.processed_at).where(TicketRow.id == ticket_id))


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
    user = require(user, Role.advisor, db)
    with db.session() as s:
        p = s.get(ProposalRow, proposal_id)
        if p is None:
            raise NotFound(f"proposal {proposal_id} not found")
        if p.status == "executed":
            return {"status": "executed", "reason": "already executed", "result": p.result}
        if p.status == "calling":
            return {"status": "calling", "reason": "already sent; waiting for the system's answer", "result": None}
        if p.status not in {"pending", "escalated", "failed"}:
            raise InvalidInput(f"this proposal is {p.status} and cannot be approved")
        ticket_id, action, args = p.ticket_id, p.action, dict(edited_args if edited_args is not None else p.args)
    _check_not_taken(db, user, ticket_id)
    ctx = _context(db, user, ticket_id, policy)
    ctx.idempotency_key = f"proposal:{proposal_id}"

    def record(s: Session, out: Outcome) -> None:
        # in the execution's own transaction: an executed action is never left with a pending proposal
        p = s.get(ProposalRow, proposal_id, with_for_update=True)
        if p is None or p.status == "executed":
            return
        if out.status in {"executed", "calling"}:  # calling: sent to the team's system, its answer comes next
            p.edited = edited_args is not None and edited_args != p.args
            p.status, p.args, p.execution_key = out.status, args, out.key
            p.result = out.result if out.status == "executed" else None
        elif out.status == "denied" and out.kind != "invalid":
            # it can never run as proposed (the order moved on, the record is not the customer's): its sentence
            # leaves the reply; arguments an advisor mistyped stay pending, to be corrected
            p.status = "denied"
        p.decided_by, p.decided_at, p.reason = user.username, utcnow(), out.reason
        audit.append(s, user.username, "proposal.approved", ticket_id, proposal_id=proposal_id, action=action,
                     edited=edited_args is not None, outcome=out.status, reason=out.reason)

    out = execute(db, policy, action, args, ctx, after=record)
    return {"status": out.status, "reason": out.reason, "result": out.result}


def reject(db: Database, user: StaffUser, proposal_id: int, reason: str, say_instead: str = "") -> None:
    """Rejects a proposal; its sentence leaves the reply, replaced by ``say_instead`` when the advisor gives it."""
    user = require(user, Role.advisor, db)
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
        p.customer_note = say_instead.strip() or None
        audit.append(s, user.username, "proposal.rejected", p.ticket_id, proposal_id=proposal_id, action=p.action,
                     reason=reason.strip(), say_instead=say_instead.strip())


# ------------------------------------------------------------------ actions a person adds
def addable_actions() -> list[str]:
    """The writes an advisor may add to a ticket by hand: every write of the actions in force but the reply and
    the escalation, which have their own buttons."""
    from .actions import REGISTRY

    return sorted((n for n, spec in REGISTRY.items() if spec.writes and n not in {"send_reply", "escalate_to_human"}),
                  key=lambda n: REGISTRY[n].label or n)


def record_choices(snapshot: dict[str, Any] | None) -> dict[str, list[tuple[str, str]]]:
    """The customer's own records as choices for an action's fields, by field name: every ``…_id`` value found in
    the snapshot (an order's ``order_id``, its items' ``item_id``, an appointment's free ``slot_id``…), the ``id``
    of a record listed under a plural key (``payment_methods`` gives ``payment_method_id``), and the other options
    of a product (``variants``) as ``new_item_id``; each with a short label a person recognises."""
    out: dict[str, dict[str, str]] = {}

    def describe(record: dict[str, Any], key: str) -> str:
        bits = []
        for k in ("name", "description", "options", "kind", "status", "start", "date", "brand", "last_four", "label",
                  "origin", "destination", "amount", "price"):
            v = record.get(k)
            if isinstance(v, dict):
                v = " ".join(str(x) for x in v.values())
            if isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v).strip():
                bits.append(str(v).replace("T", " ") if k == "start" else str(v))
        return f"{record[key]} · {' · '.join(bits[:3])}" if bits else str(record[key])

    def walk(value: Any, parent: str, prefix: str = "") -> None:
        if isinstance(value, dict):
            for key, v in value.items():
                if key.endswith("_id") and isinstance(v, (str, int)) and not isinstance(v, bool) and str(v):
                    out.setdefault(prefix + key, {}).setdefault(str(v), describe(value, key))
                elif key == "id" and parent.endswith("s") and isinstance(v, (str, int)) and str(v):
                    out.setdefault(prefix + parent[:-1] + "_id", {}).setdefault(str(v), describe(value, key))
                if key == "variants":
                    walk(v, key, "new_")
                elif isinstance(v, (dict, list)) and key not in {"payments", "changes", "notes"}:
                    walk(v, key, prefix)
        elif isinstance(value, list):
            for v in value:
                walk(v, parent, prefix)

    walk(snapshot or {}, "")
    return {k: sorted(v.items()) for k, v in out.items()}


def ticket_choices(db: Database, ticket_id: str) -> dict[str, list[tuple[str, str]]]:
    """``record_choices`` for the customer on a ticket (none when the ticket names no known customer)."""
    with db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        if not row.customer_id:
            return {}
        snap = active().records().snapshot(s, row.customer_id, utcnow())
    return record_choices(snap)


def add_action(db: Database, policy: Policy, user: StaffUser, ticket_id: str, action: str,
               args: dict[str, Any]) -> dict[str, Any]:
    """A proposal a person adds to a ticket by hand, held to everything the agent's own are: its arguments
    validated, its owner checked against the ticket's customer, policy decided and the change rehearsed against the
    records with no side effect. Nothing runs here: it waits for approval like any proposal (and for a supervisor
    above the advisor's limit). A refusal raises one line and stores nothing."""
    from .actions import REGISTRY
    from .actions.execute import validation_message

    user = require(user, Role.advisor, db)
    spec = REGISTRY.get(action)
    if spec is None or not spec.writes or action not in addable_actions():
        raise InvalidInput(f"action: '{action}' is not an action that can be added here")
    try:
        clean = spec.args_model.model_validate(args).model_dump(mode="json")
    except ValidationError as exc:
        raise InvalidInput(f"{spec.label}: {validation_message(exc).replace('_', ' ')}") from exc
    with db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        if row.status not in {"open", "escalated", "waiting"}:
            raise InvalidInput(f"this ticket is {row.status}; actions are added to open, escalated or waiting tickets")
    _check_not_taken(db, user, ticket_id)
    ctx = _context(db, user, ticket_id, policy)
    # decided as the agent's own proposals are (a person approves it), and only rehearsed, never run, here
    ctx.role, ctx.autonomy, ctx.dry_run = None, int(Autonomy.copilot), True
    box: dict[str, Any] = {}

    def record(s: Session, out: Outcome) -> None:
        if out.status != "needs_approval":
            return
        position = (s.scalar(select(func.max(ProposalRow.position)).where(ProposalRow.ticket_id == ticket_id))
                    or 0) + 1
        role = out.required_role or Role.advisor.value
        p = ProposalRow(ticket_id=ticket_id, position=max(position, 1000), action=action, args=clean,
                        rationale=f"added by {user.display_name}", decision=Decision.needs_approval.value,
                        reason="checked against the customer's records; waits for approval"
                        + (f" by a {role}" if role != Role.advisor.value else ""),
                        required_role=role, status="pending")
        s.add(p)
        s.flush()
        box["id"] = p.id
        audit.append(s, user.username, "proposal.added", ticket_id, proposal_id=p.id, action=action, args=clean,
                     required_role=role)

    out = execute(db, policy, action, clean, ctx, after=record)
    if "id" not in box:
        why = "it was already done on this ticket" if out.duplicate else out.reason or "it cannot be done here"
        raise InvalidInput(f"{spec.label}: {why}")
    return {"id": box["id"], "status": "pending", "required_role": out.required_role or Role.advisor.value}


def added_parts(parts: list[ReplyPart], proposals: list[dict[str, Any]]) -> list[ReplyPart]:
    """The reply's parts with a sentence for every proposal a person added, in a paragraph of their own before
    the sign-off (whose paragraph moves down by one)."""
    known = {p.proposal for p in parts if p.proposal is not None}
    extra = [p for p in proposals if p["position"] >= 1000 and p["position"] not in known]
    if not extra or not parts:
        return parts
    last = max(p.paragraph for p in parts)
    head = [p for p in parts if p.paragraph != last]
    tail = [p.model_copy(update={"paragraph": last + 1}) for p in parts if p.paragraph == last]
    from .actions import REGISTRY

    def intent(action: str) -> str:
        spec = REGISTRY.get(action)
        return spec.task_types[0] if spec is not None and spec.task_types else ""

    return [*head, *(ReplyPart(text="", paragraph=last, kind="action", proposal=p["position"],
                               intent=intent(p["action"])) for p in extra), *tail]


def align(before: list[ReplyPart], after: list[ReplyPart]) -> list[ReplyPart]:
    """``before`` with an empty part where ``after`` has a sentence for a proposal ``before`` did not know (one a
    person added since), so the two can be compared part by part."""
    if len(before) == len(after):
        return before
    known = {p.proposal for p in before if p.proposal is not None}
    rest = iter(before)
    out = []
    for part in after:
        if part.kind == "action" and part.proposal is not None and part.proposal not in known:
            out.append(part.model_copy(update={"text": ""}))
        else:
            out.append(next(rest, part.model_copy(update={"text": ""})))
    return out


def proposal_states(proposals: list[dict[str, Any]]) -> dict[int, ProposalState]:
    """The ticket's proposals by position, as the reply's wording needs them."""
    return {p["position"]: ProposalState(p["action"], dict(p["args"]), p["decision"], p["status"], p["result"],
                                         p["reason"], p.get("customer_note") or "") for p in proposals}


def reply_draft(data: dict[str, Any]) -> tuple[list[ReplyPart], str]:
    """The agent's reply as it reads now, for a ticket from ``get_ticket``: every action sentence worded for its
    proposal's current state. A reply rewritten by a language model has no parts and stays as written."""
    result: ProcessResult | None = data["result"]
    if result is None:
        return [], ""
    if not result.draft.parts:
        return [], result.draft.reply
    parts = recompose(added_parts(result.draft.parts, data["proposals"]), proposal_states(data["proposals"]))
    return parts, render(parts)


UNDECIDED = {"pending", "escalated"}


def reply_problems(data: dict[str, Any], body: str, resolve: bool) -> list[tuple[str, bool]]:
    """Why ``body`` may not be sent on this ticket as it stands, each with whether a person may override it:
    a sentence that says an action was done when it was not (never overridable); a sentence about an action that
    still waits for a decision; resolving while proposals are undecided; a claim of an action nobody proposed."""
    props = [p for p in data["proposals"] if p["action"] in WORDING]
    problems: list[tuple[str, bool]] = []
    for action in {p["action"] for p in props} | set(claimed_actions(body)):
        mine = [p for p in props if p["action"] == action]
        done = [p for p in mine if p["status"] == "executed"]
        not_done = [p for p in mine if p["status"] != "executed"]
        noun = WORDING[action].noun
        for said in claims(body, action):
            if _accounted(said, action, props):
                continue
            if not mine:
                problems.append((f"The reply says {noun} is done, but no such action ran on this ticket: remove "
                                 f"\"{_clip(said)}\", or send anyway if it was done elsewhere", True))
            elif not_done and not (done and any(names(said, p["args"], action) for p in done)
                                   and not any(names(said, p["args"], action) for p in not_done)):
                state = not_done[0]["status"]
                state = "it still waits for a decision" if state in UNDECIDED else f"it was {state}"
                problems.append((f"{noun[0].upper() + noun[1:]} has not been done ({state}): remove the sentence "
                                 f"that says it was: \"{_clip(said)}\"", False))
    parts, _ = reply_draft(data)
    for part in parts:
        if part.kind != "action" or part.proposal is None or not part.text or part.text not in body:
            continue
        p = next((x for x in props if x["position"] == part.proposal), None)
        if p is not None and p["status"] in UNDECIDED:
            problems.append((f"Approve or reject {WORDING[p['action']].noun} first, or remove the sentence about it",
                             True))
    if resolve:
        waiting = [p for p in data["proposals"] if p["status"] in UNDECIDED and not is_read(p["action"])]
        if waiting:
            what = ", ".join(dict.fromkeys(WORDING[p["action"]].noun if p["action"] in WORDING
                                           else p["action"].replace("_", " ") for p in waiting))
            problems.append((f"{len(waiting)} proposed action{'s' if len(waiting) > 1 else ''} still wait"
                             f"{'' if len(waiting) > 1 else 's'} for a decision ({what}): approve or reject "
                             f"{'them' if len(waiting) > 1 else 'it'} first, or resolve anyway", True))
    return list(dict.fromkeys(problems))


def _accounted(said: str, action: str, props: list[dict[str, Any]]) -> bool:
    """A sentence that also reads as another action which did run, on the record it names, speaks of that one
    ("I've changed the shipping address of order #W1" is no claim that the account's address changed)."""
    for p in props:
        if p["action"] != action and p["status"] == "executed" and claims(said, p["action"]):
            if names(said, p["args"], p["action"]) or not WORDING[p["action"]].ids:
                return True
    return False


def _clip(text: str, limit: int = 90) -> str:
    text = for_customer(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def send_reply(db: Database, policy: Policy, user: StaffUser, ticket_id: str, body: str,
               resolve: bool = True, override: str = "") -> dict[str, Any]:
    """Sends the (edited) reply through ``execute`` and, with ``resolve``, resolves the ticket; otherwise the ticket
    waits for the customer (status ``waiting``) until they answer. A reply that says an action was done when it was not is refused, always; one that
    speaks of an undecided action, or resolves a ticket whose proposals are undecided, is refused unless the
    advisor sends anyway with a reason (``override``), which is audited."""
    user = require(user, Role.advisor, db)
    if not body.strip():
        raise InvalidInput("the reply is empty")
    _check_not_taken(db, user, ticket_id)
    problems = reply_problems(get_ticket(db, ticket_id), body, resolve)
    hard = [m for m, overridable in problems if not overridable]
    if hard:
        raise ReplyHeld(hard[0], overridable=False)
    if problems and not override.strip():
        raise ReplyHeld(problems[0][0], overridable=True)
    ctx = _context(db, user, ticket_id, policy)
    if problems:
        with db.tx() as s:
            audit.append(s, user.username, "reply.override", ticket_id, reason=override.strip(),
                         problems=[m for m, _ in problems], resolve=resolve)
    out = execute(db, policy, "send_reply", {"body": for_customer(body)}, ctx)
    if out.status == "executed":
        with db.tx() as s:
            row = s.get(TicketRow, ticket_id)
            if row is not None and resolve:
                row.status, row.resolved_at = "resolved", utcnow()
                audit.append(s, user.username, "ticket.resolved", ticket_id)
            elif row is not None:
                row.status = "waiting"  # on the customer: their answer reopens it for the agent
                audit.append(s, user.username, "ticket.replied", ticket_id, resolved=False)
    return {"status": out.status, "reason": out.reason, "result": out.result}
