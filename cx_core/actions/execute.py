"""``execute``: the only way an action reaches a backend system.

Order of checks: the action exists; its arguments validate; the record belongs to the ticket's customer;
policy (re-checked for a person's approval too: a click is input, not permission); the idempotency key has
not run before; then the connector call and the audit event commit together in one transaction.

An agent working under a worker's claim on the ticket acts only while that worker still holds it, so whoever
holds the ticket next sees every execution; and an action an interrupted earlier attempt already ran on the
ticket waits for a person instead of running a second time with arguments read from the changed records.
A database lock is contention: the transaction runs again, and is never reported as a system being down.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from .. import audit, delivery, health, outbox
from ..errors import ConnectorUnavailable, HandedOver, InvalidInput, LeaseLost, NotFound, PolicyDenied
from ..models import Status
from ..policy import Policy, Ruling, Verdict, evaluate
from ..store.db import Database, utcnow
from ..store.tables import ExecutionRow, NotificationRow, TicketRow
from . import conversation as _conversation  # noqa: F401 - registers the engine's own actions
from .base import REGISTRY, ActionSpec, ExecContext


@dataclass
class Outcome:
    status: Status
    reason: str
    result: dict[str, Any] = field(default_factory=dict)
    required_role: str = "advisor"
    duplicate: bool = False
    # why it did not run: policy (a rule refused it), invariant (the record's state refused it),
    # invalid (bad arguments or unknown action), unavailable (the backend did not answer)
    kind: str = ""
    key: str = ""
    hand_over: bool = False  # refused, and the rules send the case to a person (``HandedOver``)


def validation_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "arguments"
    return f"{where}: {err['msg']}"


def idempotency_key(action: str, args: dict[str, Any], ticket_id: str | None) -> str:
    payload = json.dumps([action, args, ticket_id], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:40]


def outbound_key(db: Database, key: str) -> str:
    """The key a call to another system carries: this installation's id in front, so that the same ticket, proposal
    or arguments in a rebuilt or another installation never send a key the system has seen before; the same call
    retried keeps it."""
    prefix = f"tandem-{db.install_id}-"
    return key if key.startswith(prefix) else f"{prefix}{key}"


def _key_for(db: Database, spec: Any, key: str) -> str:
    """An action's idempotency key: for a call to a team's own system, the outbound one (a call already queued under
    the key it had before installations had ids keeps that key, so it is never made twice)."""
    if spec.remote is None:
        return key
    with db.session() as s:
        if s.get(ExecutionRow, key) is not None:
            return key
    return outbound_key(db, key)


def _require_claim(s: Session, ctx: ExecContext) -> None:
    """The worker still holds the ticket. The row lock (PostgreSQL) or the write lock (SQLite) keeps it so until
    this transaction commits, so a worker taking the ticket back always sees this execution."""
    row = s.execute(select(TicketRow.claimed_by, TicketRow.status).where(TicketRow.id == ctx.ticket_id)
                    .with_for_update()).first()
    if row is None or row.claimed_by != ctx.claim or row.status != "processing":
        raise LeaseLost(f"ticket {ctx.ticket_id} was taken back from this worker; its new holder finishes it")


def _ran_in_earlier_attempt(s: Session, action: str, ctx: ExecContext) -> bool:
    """Whether an earlier, interrupted attempt on this ticket already ran ``action`` (with other arguments: the
    same ones share the key and come back as already done)."""
    return bool(s.scalar(select(func.count()).select_from(ExecutionRow).where(
        ExecutionRow.ticket_id == ctx.ticket_id, ExecutionRow.action == action, ExecutionRow.actor == ctx.actor,
        ExecutionRow.claim.is_distinct_from(ctx.claim))))


# Records the caller's side of an outcome (a proposal marked executed) in the transaction that records the outcome.
Recorder = Callable[[Session, Outcome], None]


def _audit_outcome(db: Database, ctx: ExecContext, out: Outcome, after: Recorder | None, kind: str,
                   **data: Any) -> Outcome:
    def write(s: Session) -> None:
        audit.append(s, ctx.actor, kind, ctx.ticket_id, **data)
        if after is not None:
            after(s, out)

    db.run(write)
    return out


@dataclass
class _Asked:
    """One call of ``execute``: the action, its parsed and cleaned arguments, its idempotency key and context."""

    action: str
    spec: ActionSpec
    parsed: Any
    clean: dict[str, Any]
    key: str
    ctx: ExecContext
    policy: Policy
    escalate_because: str


def execute(db: Database, policy: Policy, action: str, args: dict[str, Any], ctx: ExecContext,
            escalate_because: str = "", after: Recorder | None = None) -> Outcome:
    """Runs ``action`` with ``args`` for ``ctx`` if policy allows; every outcome is audited. ``after`` is called
    once with the outcome inside the transaction that records it, so what the caller writes about an execution
    commits together with the execution itself, or not at all."""
    spec = REGISTRY.get(action)
    if spec is None:
        return _audit_outcome(db, ctx, Outcome(Status.denied, f"'{action}' is not an action Tandem knows", kind="invalid"),
                              after, "action.denied", action=action, reason="not in the action registry")
    try:
        parsed = spec.args_model.model_validate(args)
    except ValidationError as exc:
        reason = validation_message(exc)
        return _audit_outcome(db, ctx, Outcome(Status.denied, reason, kind="invalid"), after, "action.denied",
                              action=action, args=args, reason=reason)
    clean = parsed.model_dump(mode="json")
    key = _key_for(db, spec, ctx.idempotency_key or idempotency_key(action, clean, ctx.ticket_id))
    asked = _Asked(action, spec, parsed, clean, key, ctx, policy, escalate_because)

    def attempt(s: Session) -> Outcome:
        out = _decide(s, asked)
        if after is not None:
            after(s, out)
        return out

    try:
        out = db.run(attempt)
        if out.status == Status.calling:
            out = _call_now(db, out, spec.connector)
        return out
    except IntegrityError as exc:  # the same key committed concurrently: that run is the one
        return _done_concurrently(db, asked, after, exc)
    except (PolicyDenied, InvalidInput, NotFound) as exc:
        out = Outcome(Status.denied, str(exc), kind="invariant" if isinstance(exc, PolicyDenied) else "invalid",
                      hand_over=isinstance(exc, HandedOver))
        return _audit_outcome(db, ctx, out, after, "action.denied", action=action, args=clean, reason=str(exc))
    except (OperationalError, ConnectorUnavailable):  # a lock is retried above and never lands here
        reason = f"{spec.connector} is unavailable, nothing was changed"
        return _audit_outcome(db, ctx, Outcome(Status.failed, reason, kind="unavailable"), after, "action.failed",
                              action=action, args=clean, reason=reason)


def _done_concurrently(db: Database, a: _Asked, after: Recorder | None, exc: IntegrityError) -> Outcome:
    """The outcome of the run that committed the same key first."""
    with db.session() as s:
        previous = s.get(ExecutionRow, a.key)
    if previous is None:
        raise exc
    out = Outcome(Status.executed, "already done (same idempotency key)", dict(previous.result), duplicate=True, key=a.key)
    if a.spec.remote is not None and (previous.result or {}).get("_call") == "calling":
        out = Outcome(Status.calling, f"already sent to {a.spec.connector}; waiting for its answer", duplicate=True,
                      key=a.key)
    if after is not None:
        db.run(lambda s: after(s, out))
    return out


def _already(previous: ExecutionRow | None, a: _Asked) -> Outcome | None:
    """What an earlier run with the same key settles: done, or still waiting for the service's answer."""
    if previous is None:
        return None
    state = (previous.result or {}).get("_call") if a.spec.remote is not None else None
    if state == "calling":
        return Outcome(Status.calling, f"already sent to {a.spec.connector}; waiting for its answer", duplicate=True,
                       key=a.key)
    if state not in {"failed", "unknown", "refused"}:
        return Outcome(Status.executed, "already done (same idempotency key)", dict(previous.result), duplicate=True,
                       key=a.key)
    return None


def _verdict(s: Session, a: _Asked, amount: float | None) -> Verdict:
    """The policy's verdict, held for a person when an interrupted earlier attempt already ran the write."""
    spec, ctx = a.spec, a.ctx
    verdict = evaluate(a.policy, action=a.action, writes=spec.writes, amount=amount, actor_role=ctx.role,
                       autonomy=ctx.autonomy, verified=ctx.verified, escalate_because=a.escalate_because,
                       confidence=ctx.confidence, confirm=spec.confirm, in_force=ctx.in_force)
    if (spec.writes and verdict.decision == Ruling.allow and ctx.claim and ctx.role is None
            and _ran_in_earlier_attempt(s, a.action, ctx)):
        verdict = Verdict(Ruling.needs_approval, f"an interrupted earlier attempt already ran '{spec.label}' on this "
                                            "ticket; a person confirms before it runs again", verdict.required_role)
    if spec.writes and verdict.decision in {Ruling.allow, Ruling.needs_approval}:
        health.check(spec.connector)
    if verdict.decision == Ruling.needs_approval and spec.writes:
        # a person is never asked to approve what the action's own invariants would refuse; the check has no
        # side effect (the action's preview), so nothing acts before approval
        spec.check(s, a.parsed, ctx)
    return verdict


def _decide(s: Session, a: _Asked) -> Outcome:
    spec, ctx = a.spec, a.ctx
    previous = s.get(ExecutionRow, a.key)
    settled = _already(previous, a)
    if settled is not None:
        return settled
    owner = spec.owner(s, a.parsed)
    if owner is not None and owner != ctx.customer_id:
        reason = ("the record does not belong to the customer on this ticket" if ctx.customer_id
                  else "this ticket names no known customer")
        audit.append(s, ctx.actor, "action.denied", ctx.ticket_id, action=a.action, args=a.clean, reason=reason)
        return Outcome(Status.denied, reason, kind="policy")
    amount = spec.amount(s, a.parsed) if spec.amount else None
    verdict = _verdict(s, a, amount)
    if verdict.decision != Ruling.allow:
        status = {Ruling.needs_approval: Status.needs_approval, Ruling.escalate: Status.escalated}.get(
            verdict.decision, Status.denied)
        audit.append(s, ctx.actor, f"action.{status}", ctx.ticket_id, action=a.action, args=a.clean,
                     reason=verdict.reason, required_role=verdict.required_role.value)
        return Outcome(status, verdict.reason, required_role=verdict.required_role.value, kind="policy")
    return _act(s, a, verdict, amount, previous)


def _act(s: Session, a: _Asked, verdict: Verdict, amount: float | None, previous: ExecutionRow | None) -> Outcome:
    """Runs an allowed action: a rehearsal only checks, a declared one is queued for its service, a write is
    recorded under its key."""
    spec, ctx = a.spec, a.ctx
    if spec.writes and ctx.dry_run:  # a rehearsal (replay, evaluation): what would change, nothing changes
        result = spec.check(s, a.parsed, ctx)
        audit.append(s, ctx.actor, "action.rehearsed", ctx.ticket_id, action=a.action, args=a.clean,
                     result=result, reason=verdict.reason, amount=amount)
        return Outcome(Status.executed, f"{verdict.reason} (rehearsal: nothing was changed)", result,
                       verdict.required_role.value, key=a.key)
    if spec.writes and ctx.claim:
        _require_claim(s, ctx)
    if spec.writes and spec.remote is not None:
        return _queue_call(s, spec, a.clean, ctx, a.key, verdict, amount, previous)
    result = spec.run(s, a.parsed, ctx)
    if spec.writes:
        s.add(ExecutionRow(idempotency_key=a.key, action=a.action, args=a.clean, ticket_id=ctx.ticket_id,
                           actor=ctx.actor, result=result, created_at=utcnow(), claim=ctx.claim))
        s.flush()
        audit.append(s, ctx.actor, "action.executed", ctx.ticket_id, action=a.action, args=a.clean,
                     result=result, reason=verdict.reason, amount=amount, key=a.key)
    return Outcome(Status.executed, verdict.reason, result, verdict.required_role.value, key=a.key)


def _queue_call(s: Session, spec: Any, clean: dict[str, Any], ctx: ExecContext, key: str, verdict: Verdict,
                amount: float | None, previous: ExecutionRow | None) -> Outcome:
    """A call to a team's own system, decided: its execution and an outbox row with the idempotency key commit with
    the decision and its audit event; the dispatcher (or the caller, at once) makes the call. A call that failed
    before is sent again under the same key, on a person's new approval."""

    if previous is not None:  # failed or of unknown outcome before: a person approved it again
        previous.result = {"_call": "calling"}
        row = s.scalars(select(NotificationRow).where(NotificationRow.idempotency_key == key)).first()
        if row is not None:
            row.status, row.next_attempt_at, row.lease_until, row.attempts = "pending", utcnow(), None, 0
            row.handed_over_at = None  # whether the earlier call was done, the person has decided
    else:
        s.add(ExecutionRow(idempotency_key=key, action=spec.name, args=clean, ticket_id=ctx.ticket_id,
                           actor=ctx.actor, result={"_call": "calling"}, created_at=utcnow(), claim=ctx.claim))
        s.flush()
        outbox.send(s, spec.connector, "action", "action_call", spec.label, json.dumps({"action": spec.name,
                                                                                       "args": clean}),
                    ctx.ticket_id, destination="action", key=key,
                    headers={"actor": ctx.actor, "amount": amount, "reason": verdict.reason})
    audit.append(s, ctx.actor, "action.calling", ctx.ticket_id, action=spec.name, args=clean, key=key,
                 reason=verdict.reason, amount=amount, again=previous is not None)
    return Outcome(Status.calling, f"sent to {spec.connector}; waiting for its answer", {},
                   verdict.required_role.value, key=key)


def _call_now(db: Database, out: Outcome, connector: str) -> Outcome:
    """Makes the queued call at once (the dispatcher would, a moment later) and says how it ended: done, refused,
    or still waiting with the reason."""

    delivery.deliver_key(db, out.key)
    with db.session() as s:
        row = s.get(ExecutionRow, out.key)
        result = dict(row.result or {}) if row is not None else {}
    state = result.get("_call")
    if state == "calling":
        why = result.get("last_error")
        why = f"not done yet, retrying: {why}" if why else f"sent to {connector}; waiting for its answer"
        return Outcome(Status.calling, why, required_role=out.required_role, duplicate=out.duplicate, key=out.key)
    if state == "refused":
        return Outcome(Status.denied, str(result.get("reason") or "refused"), kind="invariant", key=out.key)
    if state in {"failed", "unknown"}:
        return Outcome(Status.failed, str(result.get("reason") or "not done"), kind="unavailable", key=out.key)
    return Outcome(Status.executed, out.reason if out.duplicate else f"done by {connector}", result,
                   out.required_role, duplicate=out.duplicate, key=out.key)
