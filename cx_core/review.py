"""Supervised autonomy, afterwards: every action the agent took alone is recorded for supervisors; a stable sample
plus everything above a risk score is put in front of them to review (status ``open``), the rest stays findable
(``unsampled``). A supervisor confirms, flags, or reverses one with the action's own compensating step, from Review
or from its ticket. Roles are checked here, not only in the page."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from . import audit, health
from .access import StaffUser, current, require
from .actions.base import REGISTRY, ExecContext, is_read
from .domain import active
from .drafting import render
from .errors import ConnectorUnavailable, InvalidInput, NotFound, PolicyDenied
from .models import ROLE_RANK, Decision, ProcessResult, Proposal, ReplyPart, Role
from .policy import Policy
from .store.db import Database, utcnow
from .store.tables import ExecutionRow, ProposalRow, ReviewRow, TicketRow
from .wording import noun_for

UNDECIDED = ("open", "unsampled")  # what a supervisor may still confirm, flag or reverse
RISK_BASE = {"low": 0.15, "medium": 0.4, "high": 0.6}


def risk_score(policy: Policy, action: str, amount: float | None, frustration: float, confidence: float) -> float:
    """0..1: the action's own risk, how close the amount came to the automatic limit, the customer's mood and how
    sure triage was."""
    spec = REGISTRY[action]
    score = RISK_BASE.get(spec.risk, 0.4)
    limit = policy.limits.get(action)
    if amount is not None and limit is not None and limit.auto_max > 0:
        score += 0.25 * min(1.0, amount / limit.auto_max)
    score += 0.15 * frustration + 0.2 * max(0.0, 1.0 - confidence)
    return round(min(1.0, score), 3)


def sampled(key: str, rate: float) -> bool:
    """A stable draw: the same execution is always in or out of the sample."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 10000 < rate * 10000


def enqueue(s: Session, policy: Policy, result: ProcessResult) -> int:
    """Puts the ticket's autonomous actions that are sampled or risky in the review queue; returns how many."""
    t = result.triage
    return sum(enqueue_one(s, policy, result.ticket_id, p, t.task_type, t.frustration, t.confidence)
               for p in result.proposals)


def enqueue_one(s: Session, policy: Policy, ticket_id: str, p: Proposal, task_type: str, frustration: float,
                confidence: float) -> bool:
    """Records one executed proposal for supervisors, once per execution however often the ticket's result is
    stored: to review (``open``) when it is sampled or risky, otherwise ``unsampled`` (listed, not queued).
    Returns whether it was queued for review now."""
    if p.decision != Decision.executed or not p.execution_key or is_read(p.action):
        return False
    if s.scalar(select(func.count()).select_from(ReviewRow).where(ReviewRow.execution_key == p.execution_key)):
        return False
    amount = p.args.get("amount") if isinstance(p.args.get("amount"), int | float) else None
    if amount is None and p.result and isinstance(p.result.get("refunded"), int | float):
        amount = float(p.result["refunded"])
    risk = risk_score(policy, p.action, amount, frustration, confidence)
    why = ""
    if risk > policy.review.risk_above:
        why = f"risk {risk:.2f} is above {policy.review.risk_above:.2f}"
    elif sampled(p.execution_key, policy.review.sample_rate):
        why = f"random sample ({policy.review.sample_rate:.0%})"
    status = "open" if why else "unsampled"
    s.add(ReviewRow(ticket_id=ticket_id, execution_key=p.execution_key, action=p.action, args=p.args,
                    result=p.result or {}, task_type=task_type, risk=risk, status=status,
                    why=why or "not in the sample: within the limits, below the risk threshold",
                    created_at=utcnow()))
    s.flush()
    if why:
        audit.append(s, "agent", "review.queued", ticket_id, action=p.action, risk=risk, why=why)
    return bool(why)


def queue(db: Database, user: StaffUser, status: str = "open", limit: int = 50, offset: int = 0
          ) -> tuple[list[dict[str, Any]], int]:
    """Review items, paged in SQL: with ``status="all"`` every action the agent took alone, those to review first;
    within a status, riskiest first."""
    require(user, Role.supervisor, db)
    with db.session() as s:
        stmt = select(ReviewRow)
        if status != "all":
            stmt = stmt.where(ReviewRow.status == status)
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        first = case((ReviewRow.status == "open", 0), (ReviewRow.status == "flagged", 1), else_=2)
        rows = s.scalars(stmt.order_by(first, ReviewRow.risk.desc(), ReviewRow.id.desc())
                         .limit(limit).offset(offset)).all()
        subjects = {tid: subject or body[:90] for tid, subject, body in s.execute(
            select(TicketRow.id, TicketRow.subject, TicketRow.body).where(
                TicketRow.id.in_([r.ticket_id for r in rows])))}
        return [{"id": r.id, "ticket_id": r.ticket_id, "subject": subjects.get(r.ticket_id, ""), "action": r.action,
                 "label": REGISTRY[r.action].label if r.action in REGISTRY else r.action, "args": r.args,
                 "result": r.result, "task_type": r.task_type, "risk": r.risk, "why": r.why, "status": r.status,
                 "note": r.note, "reversible": bool(REGISTRY.get(r.action) and REGISTRY[r.action].compensate),
                 "compensation": r.compensation, "created_at": r.created_at, "decided_by": r.decided_by}
                for r in rows], int(total)


def for_ticket(db: Database, user: StaffUser, ticket_id: str) -> dict[str, dict[str, Any]]:
    """The actions the agent took alone on one ticket, by execution key, as a supervisor acts on them from the
    ticket: the review item's id, its status and whether the action can be undone. Empty for other roles (the role
    as stored now, not the one the object handed in claims)."""
    if ROLE_RANK[current(db, user).role] < ROLE_RANK[Role.supervisor]:
        return {}
    with db.session() as s:
        rows = s.scalars(select(ReviewRow).where(ReviewRow.ticket_id == ticket_id)).all()
        return {r.execution_key: {"id": r.id, "status": r.status, "why": r.why,
                                  "reversible": bool(REGISTRY.get(r.action) and REGISTRY[r.action].compensate)}
                for r in rows}


def escalations(db: Database, user: StaffUser, limit: int = 50) -> list[dict[str, Any]]:
    """Escalated tickets with their context packets, most urgent first."""
    require(user, Role.supervisor, db)
    with db.session() as s:
        rows = s.scalars(select(TicketRow).where(TicketRow.status == "escalated")
                         .order_by(TicketRow.priority.desc(), TicketRow.created_at).limit(limit)).all()
        return [{"id": r.id, "subject": r.subject or r.body[:90], "customer": r.customer_ref or "unknown", "task_type": r.task_type,
                 "urgency": r.urgency, "created_at": r.created_at,
                 "packet": (r.result or {}).get("packet") or {"reason": (r.result or {}).get("escalation_reason", ""),
                                                                "summary": r.summary or ""}}
                for r in rows]


def _decide(db: Database, user: StaffUser, review_id: int, status: str, note: str) -> dict[str, Any]:
    user = require(user, Role.supervisor, db)
    with db.tx() as s:
        row = s.get(ReviewRow, review_id)
        if row is None:
            raise NotFound(f"review item {review_id} not found")
        if row.status not in UNDECIDED:
            raise InvalidInput(f"this item is already {row.status}")
        row.status, row.note, row.decided_by, row.decided_at = status, note.strip(), user.username, utcnow()
        audit.append(s, user.username, f"review.{status}", row.ticket_id, review_id=review_id, action=row.action,
                     note=note.strip())
        return {"status": status}


def confirm(db: Database, user: StaffUser, review_id: int, note: str = "") -> dict[str, Any]:
    return _decide(db, user, review_id, "confirmed", note)


def flag(db: Database, user: StaffUser, review_id: int, note: str) -> dict[str, Any]:
    if not note.strip():
        raise InvalidInput("say what is wrong, so the team can learn from it")
    return _decide(db, user, review_id, "flagged", note)


def reverse(db: Database, user: StaffUser, review_id: int, note: str) -> dict[str, Any]:
    """Undoes an autonomous action with its compensating action, in one transaction with its audit event.
    Reversing twice does nothing the second time."""
    user = require(user, Role.supervisor, db)
    if not note.strip():
        raise InvalidInput("give the reason for reversing it")
    with db.tx() as s:
        row = s.get(ReviewRow, review_id)
        if row is None:
            raise NotFound(f"review item {review_id} not found")
        if row.status == "reversed":
            return {"status": "reversed", "compensation": row.compensation, "duplicate": True}
        spec = REGISTRY.get(row.action)
        if spec is None or spec.compensate is None:
            raise InvalidInput(f"'{spec.label if spec else row.action}' cannot be undone; contact the customer instead")
        executed = s.get(ExecutionRow, row.execution_key)
        if executed is None:
            raise NotFound("the execution behind this item was not found")
        ticket = s.get(TicketRow, row.ticket_id)
        ctx = ExecContext(actor=user.username, role=user.role, ticket_id=row.ticket_id,
                          customer_id=ticket.customer_id if ticket else None, today=utcnow().date(), now=utcnow(),
                          idempotency_key=row.execution_key)  # an undo's key is its execution's: unique, and stable
        try:
            health.check(spec.connector)
            compensation = spec.compensate(s, spec.args_model.model_validate(executed.args), dict(executed.result), ctx)
        except (PolicyDenied, InvalidInput, NotFound) as exc:
            raise InvalidInput(f"could not reverse it: {exc}") from exc
        except ConnectorUnavailable as exc:
            raise ConnectorUnavailable(f"could not reverse it now: {exc}") from exc
        row.status, row.note, row.decided_by, row.decided_at = "reversed", note.strip(), user.username, utcnow()
        row.compensation = compensation
        for proposal in s.scalars(select(ProposalRow).where(ProposalRow.execution_key == row.execution_key)):
            proposal.status, proposal.decided_by, proposal.decided_at = "reversed", user.username, utcnow()
            proposal.reject_reason = note.strip()
        audit.append(s, user.username, "action.reversed", row.ticket_id, review_id=review_id, action=row.action,
                     args=executed.args, compensation=compensation, note=note.strip(), key=row.execution_key)
        if ticket is not None:
            reopen_for_reversal(s, ticket, row.action, dict(executed.args), user)
        return {"status": "reversed", "compensation": compensation, "duplicate": False}


def reversal_message(ticket: TicketRow, action: str, args: dict[str, Any]) -> list[ReplyPart]:
    """The message that tells the customer an action taken for them was undone, naming it as replies do ("the
    shipping address change for order #W1000430"): a draft for the advisor to check and send, never sent by
    itself."""

    result = ProcessResult.model_validate(ticket.result) if ticket.result else None
    first = (result.draft.parts[0].text if result and result.draft.parts else "Hello,").strip()
    about = noun_for(action, args)
    if not about:
        spec = REGISTRY.get(action)
        records = ", ".join(str(v) for k, v in args.items() if k.endswith("_id") and isinstance(v, (str, int)))
        about = f"the {((spec.label if spec else '') or action.replace('_', ' ')).lower()} action" + (
            f" for {records}" if records else "")
    return [ReplyPart(text=first, paragraph=0),
            ReplyPart(text=f"I'm writing about {about} we made for you earlier. On review, a colleague found it "
                           "should not have been made, and it has been reversed.", paragraph=1),
            ReplyPart(text="I'm sorry for the confusion. If you have any questions, or would like us to look at "
                           "your request again, just reply to this message.", paragraph=1),
            ReplyPart(text=active().brand.signature, paragraph=2)]


def reversal_text(db: Database, user: StaffUser, review_id: int) -> str:
    """The message that would tell the customer of this item's reversal, for the supervisor to read and edit."""
    require(user, Role.supervisor, db)
    with db.session() as s:
        row = s.get(ReviewRow, review_id)
        if row is None:
            raise NotFound(f"review item {review_id} not found")
        ticket = s.get(TicketRow, row.ticket_id)
        if ticket is None:
            return ""
        return render(reversal_message(ticket, row.action, dict(row.args)))


def reopen_for_reversal(s: Session, ticket: TicketRow, action: str, args: dict[str, Any], user: StaffUser) -> None:
    """After a reversal the ticket goes back to work: open again for the advisor who had it (or the queue), with a
    drafted message to the customer in place of the reply, which now said something no longer true."""

    parts = reversal_message(ticket, action, args)
    what = noun_for(action, args) or action.replace("_", " ")
    if ticket.result:
        result = ProcessResult.model_validate(ticket.result)
        draft = result.draft.model_copy(update={"parts": parts, "reply": render(parts), "citations": []})
        ticket.result = result.model_copy(update={"draft": draft}).model_dump(mode="json")
    was = ticket.status
    ticket.status, ticket.resolved_at = "open", None
    ticket.sla_due = utcnow() + timedelta(hours=4)
    audit.append(s, user.username, "ticket.reopened", ticket.id, was=was, reason=f"{what} was reversed",
                 assigned_to=ticket.assigned_to)


def counts(db: Database, user: StaffUser) -> dict[str, int]:
    """Reviewed actions by status (supervisors)."""
    require(user, Role.supervisor, db)
    with db.session() as s:
        return {k: int(v) for k, v in s.execute(select(ReviewRow.status, func.count()).group_by(ReviewRow.status))}
