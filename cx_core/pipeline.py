"""``Pipeline.process``: triage → knowledge → planning → policy (through ``execute``) → drafting."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from . import planning
from .actions import ExecContext, execute
from .actions.reads import customer_profile, find_customer, snapshot
from .drafting import Drafter, StepOutcome, for_customer, label
from .knowledge import KnowledgeBase
from .llm import Engine, OfflineEngine
from .models import Decision, Passage, ProcessResult, Proposal, Role, TicketIn
from .policy import Policy, escalation_reason
from .store.db import Database, utcnow
from .triage import Triager

STATUS_TO_DECISION = {
    "executed": Decision.executed, "needs_approval": Decision.needs_approval, "escalated": Decision.escalated,
    "denied": Decision.denied,
}


class Pipeline:
    def __init__(self, db: Database, kb: KnowledgeBase, triager: Triager, drafter: Drafter,
                 policy: Callable[[], Policy], engine: Engine | None = None) -> None:
        self.engine: Engine = engine or OfflineEngine()
        self.db = db
        self.kb = kb
        self.triager = triager
        self.drafter = drafter
        self.policy = policy

    def process(self, ticket: TicketIn, now: datetime | None = None, autonomy: int | None = None) -> ProcessResult:
        """Everything the agent concludes and may do for one ticket; side effects only through ``execute``."""
        started = time.perf_counter()
        now = now or utcnow()
        today = now.date()
        policy = self.policy()
        with self.db.session() as s:
            customer = find_customer(s, ticket.customer)
            snap = snapshot(s, customer.user_id, now) if customer else None
            profile = customer_profile(customer) if customer else None
        verified = customer is not None and bool(ticket.customer) and "@" in (ticket.customer or "") \
            and customer.email.lower() == (ticket.customer or "").strip().lower()
        tri = self.triager.triage(ticket.subject, ticket.body, tier=profile["tier"] if profile else "standard",
                                  channel=ticket.channel.value, today=today)
        level = policy.level(tri.task_type) if autonomy is None else autonomy
        if policy.kill_switch:
            level = min(level, 2)
        escalation = escalation_reason(policy, tri.entities, tri.confidence, tri.frustration)
        plan = planning.plan(tri, snap, today)
        if plan.escalate_queue and not escalation:
            escalation = "data protection requests are handled by the privacy team"

        passages: dict[str, list[Passage]] = {}
        for req in tri.requests:
            passages[req.intent] = self.kb.retrieve(f"{label(req.intent)}: {req.text}", k=3, task_type=req.intent)

        outcomes: list[StepOutcome] = []
        proposals: list[Proposal] = []
        if level >= 1:
            for step in plan.steps:
                if level < 2 and step.action != "lookup_order":
                    continue
                if step.missing or customer is None:
                    reason = f"needs {step.missing}" if step.missing else "no known customer on this ticket"
                    outcomes.append(StepOutcome(step.action, step.args, step.intent, Decision.abstained, reason, None,
                                                step.missing))
                    proposals.append(Proposal(action=step.action, args=step.args, rationale=step.rationale,
                                              decision=Decision.abstained, reason=reason))
                    continue
                ctx = ExecContext(actor="agent", role=None, ticket_id=ticket.id, customer_id=customer.user_id,
                                  verified=verified, task_type=tri.task_type, autonomy=level, today=today, now=now,
                                  confidence=tri.confidence)
                out = execute(self.db, policy, step.action, step.args, ctx, escalate_because=escalation)
                decision = STATUS_TO_DECISION.get(out.status, Decision.denied)
                outcomes.append(StepOutcome(step.action, step.args, step.intent, decision, out.reason,
                                            out.result or None))
                proposals.append(Proposal(action=step.action, args=step.args, rationale=step.rationale,
                                          decision=decision, reason=out.reason, required_role=Role(out.required_role),
                                          result=out.result or None))

        draft = self.drafter.draft(tri, profile, ticket.channel.value, passages, outcomes, plan.questions, escalation,
                                   level)
        all_passages = list({(p.doc_id, p.heading): p for ps in passages.values() for p in ps}.values())
        polished = self.engine.polish(draft, all_passages, tri.language) if draft.reply else None
        if polished is not None:
            draft = polished.draft
        writes_pending = any(p.decision != Decision.executed for p in proposals if p.action != "lookup_order")
        informational = bool(tri.requests) and all(r.intent in planning.WRITE_FREE for r in tri.requests)
        may_send = (customer is not None and verified and not escalation and not tri.abstained and not plan.questions
                    and draft.reply and ((level >= 1 and informational) or (level >= 3 and not writes_pending)))
        if may_send:
            ctx = ExecContext(actor="agent", role=None, ticket_id=ticket.id, customer_id=customer.user_id if customer
                              else None, verified=verified, task_type=tri.task_type, autonomy=max(level, 3),
                              today=today, now=now, confidence=tri.confidence)
            out = execute(self.db, policy, "send_reply", {"body": for_customer(draft.reply)}, ctx)
            proposals.append(Proposal(action="send_reply", args={"body": for_customer(draft.reply)},
                                      rationale="answer within autonomy", decision=STATUS_TO_DECISION.get(
                                          out.status, Decision.denied), reason=out.reason, result=out.result or None))
        escalated = bool(escalation) or any(p.decision == Decision.escalated for p in proposals)
        return ProcessResult(
            ticket_id=ticket.id, customer_id=customer.user_id if customer else None, triage=tri,
            passages=all_passages, draft=draft, proposals=proposals, escalated=escalated,
            escalation_reason=escalation, autonomy=level, ms=round((time.perf_counter() - started) * 1000, 1),
            engine=polished.engine if polished else self.engine.name,
            engine_note=polished.fallback_reason if polished else "",
        )
