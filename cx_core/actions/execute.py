"""``execute``: the only way an action reaches a backend system.

Order of checks: the action exists; its arguments validate; the record belongs to the ticket's customer;
policy (re-checked for a person's approval too: a click is input, not permission); the idempotency key has
not run before; then the connector call and the audit event commit together in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError

from .. import audit
from ..connectors import health
from ..errors import ConnectorUnavailable, InvalidInput, NotFound, PolicyDenied, TandemError
from ..policy import Policy, evaluate
from ..store.db import Database, utcnow
from ..store.tables import ExecutionRow
from . import definitions as _definitions  # noqa: F401 - registers the actions
from .base import REGISTRY, ExecContext


@dataclass
class Outcome:
    status: str  # executed | needs_approval | escalated | denied | failed
    reason: str
    result: dict[str, Any] = field(default_factory=dict)
    required_role: str = "advisor"
    duplicate: bool = False
    # why it did not run: policy (a rule refused it), invariant (the record's state refused it),
    # invalid (bad arguments or unknown action), unavailable (the backend did not answer)
    kind: str = ""
    key: str = ""


def validation_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "arguments"
    return f"{where}: {err['msg']}"


def idempotency_key(action: str, args: dict[str, Any], ticket_id: str | None) -> str:
    payload = json.dumps([action, args, ticket_id], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:40]


def _rehearse(s: Any, spec: Any, parsed: Any, ctx: ExecContext) -> None:
    """Runs the action inside a savepoint and rolls it back: a person is never asked to approve an action
    that its own invariants would refuse (the refusal propagates as PolicyDenied / InvalidInput / NotFound)."""
    savepoint = s.begin_nested()
    try:
        spec.run(s, parsed, ctx)
    finally:
        savepoint.rollback()


def _audit_outcome(db: Database, ctx: ExecContext, kind: str, **data: Any) -> None:
    with db.tx() as s:
        audit.append(s, ctx.actor, kind, ctx.ticket_id, **data)


def execute(db: Database, policy: Policy, action: str, args: dict[str, Any], ctx: ExecContext,
            escalate_because: str = "") -> Outcome:
    """Runs ``action`` with ``args`` for ``ctx`` if policy allows; every outcome is audited."""
    spec = REGISTRY.get(action)
    if spec is None:
        _audit_outcome(db, ctx, "action.denied", action=action, reason="not in the action registry")
        return Outcome("denied", f"'{action}' is not an action Tandem knows", kind="invalid")
    try:
        parsed = spec.args_model.model_validate(args)
    except ValidationError as exc:
        reason = validation_message(exc)
        _audit_outcome(db, ctx, "action.denied", action=action, args=args, reason=reason)
        return Outcome("denied", reason, kind="invalid")
    clean = parsed.model_dump(mode="json")
    key = ctx.idempotency_key or idempotency_key(action, clean, ctx.ticket_id)
    try:
        with db.tx() as s:
            previous = s.get(ExecutionRow, key)
            if previous is not None:
                return Outcome("executed", "already done (same idempotency key)", dict(previous.result),
                               duplicate=True, key=key)
            owner = spec.owner(s, parsed)
            if owner is not None and owner != ctx.customer_id:
                reason = ("the record does not belong to the customer on this ticket" if ctx.customer_id
                          else "this ticket names no known customer")
                audit.append(s, ctx.actor, "action.denied", ctx.ticket_id, action=action, args=clean, reason=reason)
                return Outcome("denied", reason, kind="policy")
            amount = spec.amount(s, parsed) if spec.amount else None
            verdict = evaluate(policy, action=action, writes=spec.writes, amount=amount, actor_role=ctx.role,
                               autonomy=ctx.autonomy, verified=ctx.verified, escalate_because=escalate_because,
                               confidence=ctx.confidence, confirm=spec.confirm)
            if spec.writes and verdict.decision in {"allow", "needs_approval"}:
                health.check(spec.connector)
            if verdict.decision == "needs_approval" and spec.writes:
                _rehearse(s, spec, parsed, ctx)
            if verdict.decision != "allow":
                status = {"needs_approval": "needs_approval", "escalate": "escalated"}.get(verdict.decision, "denied")
                audit.append(s, ctx.actor, f"action.{status}", ctx.ticket_id, action=action, args=clean,
                             reason=verdict.reason, required_role=verdict.required_role.value)
                return Outcome(status, verdict.reason, required_role=verdict.required_role.value, kind="policy")
            result = spec.run(s, parsed, ctx)
            if spec.writes:
                s.add(ExecutionRow(idempotency_key=key, action=action, args=clean, ticket_id=ctx.ticket_id,
                                   actor=ctx.actor, result=result, created_at=utcnow()))
                s.flush()
                audit.append(s, ctx.actor, "action.executed", ctx.ticket_id, action=action, args=clean,
                             result=result, reason=verdict.reason, amount=amount, key=key)
            return Outcome("executed", verdict.reason, result, verdict.required_role.value, key=key)
    except IntegrityError:
        with db.session() as s:
            previous = s.get(ExecutionRow, key)
            if previous is not None:
                return Outcome("executed", "already done (same idempotency key)", dict(previous.result),
                               duplicate=True, key=key)
        raise
    except (PolicyDenied, InvalidInput, NotFound) as exc:
        _audit_outcome(db, ctx, "action.denied", action=action, args=clean, reason=str(exc))
        return Outcome("denied", str(exc), kind="invariant" if isinstance(exc, PolicyDenied) else "invalid")
    except (OperationalError, ConnectorUnavailable):
        reason = f"{spec.connector} is unavailable, nothing was changed"
        _audit_outcome(db, ctx, "action.failed", action=action, args=clean, reason=reason)
        return Outcome("failed", reason, kind="unavailable")
    except TandemError:
        raise
