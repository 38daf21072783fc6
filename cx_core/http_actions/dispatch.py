"""The dispatcher's side of calls to a team's own systems: the call made with Tandem's idempotency key, and its
outcome recorded where people see it — the execution's result, the proposal (done, refused, or not done with the
reason), the audit log (method, host, path, status and digests, never secrets) and the list of recent calls."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..actions.base import REGISTRY
from ..channels.base import DeliveryFailed, Outgoing
from ..errors import ConfigError
from ..store.db import utcnow
from ..store.tables import ActionCallRow, ExecutionRow, NotificationRow, ProposalRow
from . import calls


class CallNotDone(DeliveryFailed):
    """A call that did not succeed: ``outcome`` is refused (the system said no: nothing changed), unknown (it may
    have been done: a write without an idempotency key that timed out or failed on the server) or failed."""

    def __init__(self, message: str, retry: bool, outcome: str, facts: dict[str, Any]) -> None:
        super().__init__(message, retry=retry, in_doubt=outcome == "unknown")
        self.outcome, self.facts = outcome, facts


class ActionCaller:
    """Delivers the outbox's ``action_call`` rows: the action's call, with the row's key as idempotency key. A write
    without a key whose earlier call was sent and never answered (the dispatcher died meanwhile) is not made again:
    it may have been done, and a person checks and decides."""

    name = "action"
    hands_over = True

    def deliver(self, item: Outgoing) -> dict[str, Any]:

        payload = json.loads(item.body)
        spec = REGISTRY.get(payload["action"])
        if spec is None or spec.remote is None:
            raise CallNotDone(f"'{payload['action']}' is no longer an action here", retry=False, outcome="failed",
                              facts={})
        if item.in_doubt and not getattr(spec.remote, "idempotent", False):
            raise CallNotDone("an earlier call was sent and its answer never came back: it may have been done; check "
                              "the system before trying again", retry=False, outcome="unknown", facts={})
        item.handing_over()
        try:
            result, facts = spec.remote.call(payload["args"], key=item.key)
        except calls.CallFailed as exc:
            status = exc.facts.get("status")
            refused = isinstance(status, int) and 400 <= status < 500 and status not in {408, 429}
            idempotent = bool(getattr(spec.remote, "idempotent", False))
            unknown = not refused and not idempotent and (exc.unknown or (isinstance(status, int) and status >= 500))
            outcome = "refused" if refused else "unknown" if unknown else "failed"
            message = str(exc)
            if unknown:
                message += ": it may have been done; check the system before trying again"
            raise CallNotDone(message, retry=exc.retry and idempotent and not refused, outcome=outcome,
                              facts=exc.facts) from exc
        except ConfigError as exc:
            raise CallNotDone(str(exc), retry=True, outcome="failed", facts={}) from exc
        return {"result": result, "facts": facts, "action": payload["action"]}


def _record(s: Session, row: NotificationRow, action: str, facts: dict[str, Any], ok: bool,
            error: str | None) -> None:
    s.add(ActionCallRow(action=action, ticket_id=row.ticket_id, key=row.idempotency_key,
                        method=str(facts.get("method") or ""), host=str(facts.get("host") or ""),
                        path=str(facts.get("path") or "")[:500], status=facts.get("status"), ok=ok,
                        latency_ms=facts.get("latency_ms"), error=error,
                        request_digest=str(facts.get("request_digest") or ""),
                        response_digest=str(facts.get("response_digest") or ""), at=utcnow()))


def called(s: Session, row: NotificationRow, answer: dict[str, Any]) -> None:
    """A call succeeded: its execution and proposal are done, with the answer as their result, and audited."""
    key = row.idempotency_key or ""
    result = dict(answer.get("result") or {})
    facts = dict(answer.get("facts") or {})
    action = str(answer.get("action") or "")
    execution = s.get(ExecutionRow, key)
    if execution is not None:
        execution.result = result
    for p in s.scalars(select(ProposalRow).where(ProposalRow.execution_key == key,
                                                 ProposalRow.status.in_(("calling", "failed")))):
        p.status, p.result = "executed", result
    _record(s, row, action, facts, True, None)
    audit.append(s, (row.headers or {}).get("actor") or "dispatcher", "action.executed", row.ticket_id,
                 action=action, args=json.loads(row.body).get("args"), result=result, key=key,
                 amount=(row.headers or {}).get("amount"), reason=(row.headers or {}).get("reason"), call=facts)


def call_failed(s: Session, row: NotificationRow, exc: BaseException, reason: str) -> None:
    """A call did not succeed: while it is retried the proposal says so; once it is refused or given up, its
    execution is marked so a person can decide again, and the proposal shows the reason."""
    key = row.idempotency_key or ""
    facts = getattr(exc, "facts", {}) or {}
    outcome = getattr(exc, "outcome", "failed")
    action = json.loads(row.body).get("action", "")
    _record(s, row, action, facts, False, reason)
    execution = s.get(ExecutionRow, key)
    if row.status == "retrying":
        if execution is not None:
            execution.result = {"_call": "calling", "last_error": reason}
        if row.attempts == 1:
            audit.append(s, "dispatcher", "action.retrying", row.ticket_id, action=action, key=key, reason=reason,
                         call=facts)
        return
    if execution is not None:
        execution.result = {"_call": outcome, "reason": reason}
    status = "denied" if outcome == "refused" else "failed"
    for p in s.scalars(select(ProposalRow).where(ProposalRow.execution_key == key, ProposalRow.status == "calling")):
        p.status, p.reason = status, reason
    audit.append(s, "dispatcher", "action.refused" if outcome == "refused" else "action.failed", row.ticket_id,
                 action=action, key=key, reason=reason, outcome=outcome, call=facts)
