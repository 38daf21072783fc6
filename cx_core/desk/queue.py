"""The work queue: tickets claimed for the agent under a lease a worker renews while it reads, results stored
with the claim that read them, failures kept with their reason and put back in the queue on request."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from .. import audit, contacts, packs
from ..access import StaffUser, require
from ..actions.base import is_read
from ..conversations import (
    customer_text,
    unread_customer_message,
)
from ..domain import active
from ..errors import InvalidInput, LeaseLost, NotFound, TandemError
from ..models import Decision, ProcessResult, Proposal, Role, TicketIn
from ..plans import NOTICED
from ..policy import Policy
from ..review import enqueue, enqueue_one
from ..store.db import Database, utcnow
from ..store.tables import ExecutionRow, HeartbeatRow, ProposalRow, TicketRow

log = logging.getLogger("tandem.desk")

URGENCY_RANK = {"critical": 3, "high": 2, "normal": 1, "low": 0}


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
    samples, so no side effect is left without a trace on its ticket. A ticket read again (the customer wrote
    since) keeps what people decided: proposals still waiting are replaced by the new ones, decided ones stay (an
    executed one the new result repeats is the same row). ``read_through`` is the newest message the result has
    read: when the customer wrote after it, the ticket is read again."""
    def write(s: Session) -> None:
        row = _held(s, result.ticket_id, claim)
        first = row.processed_at is None  # its first reading (a reading again never sends others back)
        done = _unrecorded_executions(s, row.id, {p.execution_key for p in result.proposals if p.execution_key},
                                      row.processed_at)
        outcome = result.model_copy(update={"proposals": [*result.proposals, *done]}) if done else result
        tier = "standard"
        if row.customer_id is None and outcome.customer_id and (row.customer_ref or "").strip():
            row.customer_id = outcome.customer_id  # the sender's own record, not found when the ticket came in
        if row.customer_id:
            try:
                c = packs.records(active()).lookup(s, row.customer_id)
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
                              status=status, result=answer, execution_key=p.execution_key or None,
                              depends_on=p.depends_on or None))
        audit.append(s, "agent", "ticket.processed", row.id, task_type=t.task_type, confidence=t.confidence,
                     urgency=t.urgency, sentiment=t.sentiment, autonomy=outcome.autonomy, escalated=outcome.escalated,
                     escalation_reason=outcome.escalation_reason, ms=outcome.ms, engine=outcome.engine,
                     engine_note=outcome.engine_note, **({"reply_waits": outcome.reply_waits} if outcome.reply_waits else {}),
                     proposals=[{"action": p.action, "decision": p.decision.value, "reason": p.reason}
                                for p in outcome.proposals])
        if outcome.escalated:
            audit.append(s, "agent", "ticket.escalated", row.id, reason=outcome.escalation_reason,
                         packet=outcome.packet or {"summary": outcome.draft.summary})

        enqueue(s, policy, outcome)
        _done_alone(s, row, outcome, set(kept))
        _clashing_again(s, row, outcome, first)

    db.run(write)


def _done_alone(s: Session, row: TicketRow, outcome: ProcessResult, recorded: set[str]) -> None:
    """What the agent changed alone on this reading (not a look-up, nor one recorded before) is seen on the
    customer's other tickets, and a free time it took on another customer's, as an approval's is."""
    for p in outcome.proposals:
        if p.decision != Decision.executed or is_read(p.action) or p.action == "send_reply" \
                or (p.execution_key and p.execution_key in recorded):
            continue
        reread_related(s, row.customer_id, [p.args], row.id, f"{p.action} ran on ticket {row.id}", said=True)
        reread_taken(s, p.action, p.args, row.id, f"{p.action} on ticket {row.id} took what this one asks")


def _clashing_again(s: Session, row: TicketRow, outcome: ProcessResult, first: bool) -> None:
    """On a ticket's first reading (a reading again never sends others back): a message that cancels what another
    open ticket changes, or changes what it cancels, sends that one back to the agent."""
    if not first:
        return
    waiting = [p for p in outcome.proposals if p.decision.value in ("needs_approval", "abstained", "escalated")]
    reread_related(s, row.customer_id, [p.args for p in waiting], row.id, f"ticket {row.id} asks about the same record",
                   cancels=any("cancel" in p.action for p in waiting))
    # what another ticket only noticed on the records, this one asks for: read that one again (one pass for all)
    reread_related(s, row.customer_id, [p.args for p in waiting], row.id, f"ticket {row.id} asks for the same",
                   actions={p.action for p in waiting})
    # a cancellation asked here: a reply drafted there that speaks of the record (offers to cancel it) is stale
    cancelled = [p.args for p in waiting if "cancel" in p.action]
    if cancelled:
        reread_related(s, row.customer_id, cancelled, row.id, f"ticket {row.id} asks to cancel a record it speaks of",
                       said=True)
    # the same change asked there with other details (another address for the order): both ask which
    reread_related(s, row.customer_id, [p.args for p in waiting], row.id,
                   f"ticket {row.id} asks for a different change to the same record",
                   changes=[(p.action, p.args) for p in waiting])


def reread_related(s: Session, customer_id: str | None, args: list[dict[str, Any]], exclude: str, why: str,
                   cancels: bool | None = None, actions: set[str] | None = None, said: bool = False,
                   changes: list[tuple[str, dict[str, Any]]] | None = None) -> list[str]:
    """The customer's other open tickets whose waiting proposals act on a record these ``args`` name go back to the
    agent, to be read again with what changed (what people decided there stays decided): a cancellation that ran, or
    one asked later, is then seen there. Given whether these ``cancels``, only where one side cancels and the other
    does not; given ``actions``, only where one of them waits there, raised from the records, not asked;
    with ``said``, also a ticket whose drafted reply names the record (a notice about it is stale now); given
    ``changes``, only where the same action waits on the record with other details."""
    ids = contacts.record_ids(args)
    if not customer_id or not ids:
        return []
    again = []
    for row in s.scalars(select(TicketRow).where(TicketRow.customer_id == customer_id, TicketRow.id != exclude,
                                                 TicketRow.status == "open")):
        waiting = s.execute(select(ProposalRow.action, ProposalRow.args, ProposalRow.rationale).where(
            ProposalRow.ticket_id == row.id, ProposalRow.status == "pending")).all()
        reply = str(((row.result or {}).get("draft") or {}).get("reply") or "") if said else ""
        if not ids & contacts.record_ids([a for w, a, why in waiting if actions is None or (w in actions
                                                                                            and why.endswith(NOTICED))]) \
                and not any(i.lstrip("#") in reply for i in ids):
            continue
        if cancels is not None and cancels == any("cancel" in act for act, _, _ in waiting):
            continue
        if changes is not None and not contacts.other_change(changes, [{"action": w, "args": a} for w, a, _ in waiting]):
            continue
        row.status = "new"
        audit.append(s, "agent", "ticket.reread", row.id, reason=why)
        again.append(row.id)
    return again


def reread_taken(s: Session, action: str, args: dict[str, Any], exclude: str, why: str) -> list[str]:
    """Open tickets (any customer's) whose waiting proposal would take what this action just took (the free time a
    reschedule booked: the same ``…_id`` of another record than theirs) go back to the agent, to be planned anew."""
    own = contacts.target(args)
    taken = {k: v for k, v in args.items() if k.endswith("_id") and isinstance(v, str) and len(v) >= 5
             and v not in own and k != "user_id"}
    if not taken:
        return []
    again = []
    for p in s.scalars(select(ProposalRow).where(ProposalRow.action == action, ProposalRow.status == "pending",
                                                 ProposalRow.ticket_id != exclude)):
        row = s.get(TicketRow, p.ticket_id)
        if row is not None and row.status == "open" and contacts.target(p.args or {}) != own and \
                any((p.args or {}).get(k) == v for k, v in taken.items()):
            row.status = "new"
            audit.append(s, "agent", "ticket.reread", row.id, reason=why)
            again.append(row.id)
    return again


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


def _back_in_queue(s: Session, row: TicketRow, actor: str, event: str, **facts: Any) -> None:
    """The ticket goes back to the agent (audited ``event``); what people decided on it stays decided."""
    audit.append(s, actor, event, row.id, **facts)
    row.status, row.error, row.claimed_by, row.lease_until = "new", None, None, None


def _retry(s: Session, row: TicketRow, actor: str) -> None:
    _back_in_queue(s, row, actor, "ticket.retried", error=row.error)


def _not_queued(s: Session, ticket_id: str) -> TicketRow:
    """The ticket, locked, when it is not already waiting for the agent; else one line saying why not."""
    row = s.get(TicketRow, ticket_id, with_for_update=True)
    if row is None:
        raise NotFound(f"ticket {ticket_id} not found")
    if row.status in {"new", "processing"}:
        raise InvalidInput(f"ticket {ticket_id} is already waiting for the agent")
    return row


def retry(db: Database, user: StaffUser, ticket_id: str) -> None:
    """Puts a ticket the agent failed on back in the queue, for the agent to read again (advisors; audited
    ``ticket.retried``)."""
    user = require(user, Role.advisor, db)

    def write(s: Session) -> None:
        row = _not_queued(s, ticket_id)
        if not row.error:
            raise InvalidInput(f"the agent did not fail on ticket {ticket_id}")
        _retry(s, row, user.username)

    db.run(write)


_READABLE = ("open", "escalated", "waiting")


def _readable(s: Session, ticket_id: str) -> TicketRow:
    row = _not_queued(s, ticket_id)
    if row.status not in _READABLE:
        raise InvalidInput(f"ticket {ticket_id} is {row.status}: only an open ticket is read again")
    return row


def reread(db: Database, user: StaffUser, ticket_id: str) -> None:
    """Puts an open ticket back in the queue for the agent to read again with the pack as it is now (after a fix
    to the pack): what people decided on it stays decided, only what waits is proposed anew (advisors; audited
    ``ticket.reread``)."""
    user = require(user, Role.advisor, db)
    db.run(lambda s: _back_in_queue(s, _readable(s, ticket_id), user.username, "ticket.reread",
                                    reason="read again on request"))


def reread_waiting(db: Database, ticket_ids: list[str] | None = None, task_type: str | None = None,
                   actor: str = "cli", why: str = "read again on request") -> list[str]:
    """Puts open tickets back in the queue, to be read again with the pack as it is now; returns their ids. Named
    tickets must be open (an id that is not is refused in one line, and nothing is changed); without names, every
    open ticket nobody has taken (of ``task_type``, when given): a ticket an advisor works on is theirs to read
    again. What people decided stays decided."""
    def write(s: Session) -> list[str]:
        if ticket_ids:
            rows = [_readable(s, tid) for tid in ticket_ids]
        else:
            stmt = select(TicketRow).where(TicketRow.status.in_(_READABLE), TicketRow.assigned_to.is_(None))
            if task_type:
                stmt = stmt.where(TicketRow.task_type == task_type)
            rows = list(s.scalars(stmt.order_by(TicketRow.created_at)))
        for row in rows:
            _back_in_queue(s, row, actor, "ticket.reread", reason=why)
        return [r.id for r in rows]

    return db.run(write)


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


def worker_seen(db: Database) -> datetime | None:
    """When a worker last said it was alive (None: no worker has run yet)."""
    with db.session() as s:
        beat = s.scalars(select(HeartbeatRow).order_by(HeartbeatRow.at.desc())).first()
    return beat.at if beat is not None else None
