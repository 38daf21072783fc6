"""``Pipeline.process``: triage → knowledge → planning → policy (through ``execute``) → drafting."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from . import answer_check, contacts, packs, plan_check
from .actions import REGISTRY, ExecContext, is_read
from .actions.execute import execute
from .domain import Customer, DomainPack, active
from .drafting import Drafter, StepOutcome, for_customer, label, sendable, signed_name
from .entities import REFERENCE, whole_text
from .knowledge import KnowledgeBase
from .llm import Engine, OfflineEngine, Polished
from .models import Autonomy, Decision, Draft, Passage, ProcessResult, Proposal, TicketIn, Triage
from .plans import ANOTHER_ADDRESS, ONLY_THE_HOLDER, Plan, Step
from .policy import Policy, escalation_reason
from .reading import guard
from .reading.reader import read
from .reading.types import Reading
from .signals import held_first
from .signals import safety as danger
from .step_runner import StepRunner
from .store.db import Database, utcnow
from .store.tables import ProposalRow, TicketRow
from .triage import Triager
from .wording import WORDING, claimed_actions, names_in

ANSWERED_FROM_ANY = {"technical_question", "account_access", "payment_method"}


def naive(at: datetime) -> datetime:
    """A time as naive UTC (the store's and the clock's form)."""
    from datetime import UTC

    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def suggested_next(refused: dict[str, Any] | None, reason: str) -> str:
    if refused is not None:
        spec = REGISTRY.get(refused["action"])
        what = spec.label if spec else refused["action"]
        return (f"Check and approve '{what}' as a {refused.get('required_role', 'advisor')}, or tell the customer "
                f"why not ({refused['reason']}).")
    if "legal" in reason or "safety" in reason:
        return "A supervisor reads the whole conversation and answers personally before anything else is done."
    if "vulnerable" in reason:
        return "Call the customer back and agree the next steps with them; offer the support options."
    if "frustration" in reason or "repeated" in reason:
        return "Apologise, own the case end to end and give the customer a direct way back to you."
    if "confidence" in reason:
        return "Read the ticket, set the right task type and pick the actions by hand."
    return "Review the ticket and decide the next step with the customer."


def context_packet(summary: str, tri: Triage, proposals: list[Proposal], reason: str,
                   refused: dict[str, Any] | None, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything a person needs to pick up an escalated ticket without rereading it, with the customer's earlier
    tickets about the same problem."""
    return {
        "history": [{"id": h["id"], "at": h["at"].isoformat(timespec="minutes"), "subject": h["subject"],
                     "status": h["status"]} for h in history or []],
        "reason": reason,
        "summary": summary,
        "task_type": tri.task_type,
        "urgency": tri.urgency,
        "sentiment": tri.sentiment,
        "entities": {k: v for k, v in tri.entities.items() if v},
        "steps_done": [{"action": p.action, "args": p.args, "result": p.result} for p in proposals
                       if p.decision == Decision.executed],
        "refused": refused,
        "waiting": [{"action": p.action, "args": p.args, "decision": p.decision.value, "reason": p.reason}
                    for p in proposals if p.decision not in (Decision.executed, Decision.denied)
                    and p.route != "refused"],
        "refused_steps": [{"action": p.action, "args": p.args, "reason": p.reason} for p in proposals
                          if p.decision == Decision.denied],
        "suggested_next": suggested_next(refused, reason),
    }


class Pipeline:
    def __init__(self, db: Database, kb: KnowledgeBase, triager: Triager, drafter: Drafter,
                 policy: Callable[[], Policy], engine: Engine | None = None, pack: DomainPack | None = None
                 ) -> None:
        self.engine: Engine = engine or OfflineEngine()
        self.pack = pack or active()
        self.db = db
        self.kb = kb
        self.triager = triager
        self.drafter = drafter
        self.policy = policy
        # a rehearsal (replay, evaluation) previews every write and changes nothing, here or in any outside system
        self.rehearsal = False
        self.answers = answer_check.Answers(kb, self.pack)

    def _customer(self, ticket: TicketIn, text: str, now: datetime
                  ) -> tuple[Customer | None, Any, dict[str, Any] | None, bool]:
        """The customer the ticket is from (named by its sender, else identified by its text, never verified
        then), what the planner reads about them, the profile a reply may use, and whether the sender is verified."""
        records = packs.records(self.pack)
        with self.db.session() as s:
            customer = records.lookup(s, ticket.customer)
            named_only = customer is None and not (ticket.customer or "").strip()
            if named_only:
                customer = records.identify(s, text)  # identified, never verified
            snap = records.snapshot(s, customer.id, now) if customer else None
            about = getattr(records, "for_message", None)  # optional: what the message's own words look up
            if snap is not None and about is not None:
                snap = about(s, snap, text, now)
            profile = customer.shown_profile() if customer else None
        verified = customer is not None and bool(ticket.customer) and "@" in (ticket.customer or "") \
            and customer.email.lower() == (ticket.customer or "").strip().lower()
        if profile is not None and named_only:
            profile = {**profile, "unverified": True}  # named in the message only: the summary says so
        if snap is not None and customer is not None and verified and not self.rehearsal:  # what it may be about
            snap = {**snap, "open_tickets": contacts.open_elsewhere(self.db, customer.id, ticket.id, now,
                                                                    after=ticket.created_at)}
        return customer, snap, profile, verified

    def _plan(self, planner: Any, tri: Triage, snap: dict[str, Any] | None, today: Any, ticket: TicketIn,
              text: str, reading: Reading) -> Plan:
        """The pack's plan (a planner that reads the Reading is handed it); when the sender is on no account but the
        message names one, its questions say why nothing is done from here instead of asking for what the customer
        gave."""
        takes = "reading" in inspect.signature(planner.plan).parameters
        plan: Plan = planner.plan(tri, snap, today, text, reading=reading) if takes else \
            planner.plan(tri, snap, today, text)
        plan.asked_once()
        if snap is None and plan.questions and self._named_elsewhere(ticket, text):
            plan.questions = dict.fromkeys(plan.questions, ANOTHER_ADDRESS)
        also, waits = contacts.same_record(plan.steps, (snap or {}).get("open_tickets"))
        # what is weighed against another message (and what hangs on it) waits for their choice: not "asked before"
        weighed = [st for st in plan.steps if waits and (waits in contacts.record_ids([st.args]) or any(
            o.action == st.depends_on and waits in contacts.record_ids([o.args]) for o in plan.steps))]
        again, gone = contacts.asked_before([st for st in plan.steps if st not in weighed],
                                            (snap or {}).get("open_tickets"), text)
        if again:  # proposed once, on the ticket that asked first; what was said there of it is not said again
            plan.steps = [st for st in plan.steps if st not in gone]
            for intent in dict.fromkeys(st.intent for st in gone):
                said = plan.answers.get(intent, "").rstrip()
                plan.answers[intent] = (said + ("" if said.endswith((".", "?", "!")) else ".") + " " if said
                                        else "") + again
            there = contacts.record_ids([st.args for st in gone])
            plan.notices = [n for n in plan.notices if not any(i in n for i in there)]
        if also:
            plan.asides.append(also)
        if waits:  # the customer says which first: nothing on that record is proposed as sure, nor its details asked
            asking = {st.intent for st in weighed if st.missing and not (st.final or st.refused)} \
                - {st.intent for st in plan.steps if st not in weighed}
            plan.steps = [replace(st, held=st.held or "another open message of the customer's asks otherwise on "
                                  f"{waits}: they say which") if st in weighed else st for st in plan.steps]
            for intent in asking:
                plan.questions.pop(intent, None)
        return plan

    @staticmethod
    def _for_sender(outcomes: list[StepOutcome], plan: Plan, unverified: bool) -> list[StepOutcome]:
        """What the reply may speak of: to a sender not verified as the customer (a message with no address that
        names an order), nothing read from the records is said back and nothing is promised (the knowledge base:
        change nothing for a sender not verified); it says why, and the advisor sees it all and decides."""
        if not unverified:
            return outcomes
        # the planner's questions, notices and asides speak of the records ("order #W… is also due at your old
        # address"): the holder hears them, from the account's address
        plan.questions = dict.fromkeys({*plan.questions, *(o.intent for o in outcomes)}, ONLY_THE_HOLDER)
        plan.notices, plan.asides = [], []
        return [replace(o, decision=Decision.abstained, reason=ONLY_THE_HOLDER, result=None) for o in outcomes]

    def _named_elsewhere(self, ticket: TicketIn, text: str) -> bool:
        """Whether a message from an address on no account names a customer in its text (their id, a booking):
        the reply says why nothing is done from here, rather than asking for what the customer already gave."""
        if not (ticket.customer or "").strip():
            return False
        with self.db.session() as s:
            return packs.records(self.pack).identify(s, text) is not None

    def _passages(self, tri: Triage) -> dict[str, list[Passage]]:
        """The three closest knowledge passages for each request."""
        passages: dict[str, list[Passage]] = {}
        for req in tri.requests:
            # a request to act is explained from the articles written for its task type (a damaged item from the
            # damage policy, not the item's set-up guide) or for none in particular (a new upload not yet
            # tagged); a question is answered from whichever article is closest
            strict = req.intent not in ANSWERED_FROM_ANY
            said = req.read_as or req.text  # its slips of the keys put right
            found = self.kb.retrieve(f"{label(req.intent)}: {said}", k=3, task_type=req.intent,
                                     only_task_type=strict, untagged=True)
            if strict:
                found += self.kb.retrieve(said, k=2, task_type=req.intent, only_task_type=True, untagged=True)
            if not strict or not found:
                found += self.kb.retrieve(said, k=2)
            unique = {(p.doc_id, p.heading): p for p in found}
            passages[req.intent] = sorted(unique.values(), key=lambda p: -p.similarity)[:3]
        return passages | {f"?{q}": self.kb.retrieve(q, k=2) for q in tri.entities.get("also_asked", ())}

    def _explain_refusals(self, outcomes: list[StepOutcome], passages: dict[str, list[Passage]]) -> None:
        """A refusal is explained from the rule behind it, so that passage comes first."""
        for o in outcomes:
            if o.decision == Decision.denied and o.reason:
                self._rule_first(passages, o.intent, o.reason, 2)

    def _explain_answers(self, questions: dict[str, str], passages: dict[str, list[Passage]]) -> None:
        """What the plan tells the customer instead of asking ("the $49.00 is the call-out charge …") is explained
        from the rule behind it, so that passage comes first."""
        for intent, said in questions.items():
            if said and not said.rstrip().endswith("?"):
                self._rule_first(passages, intent, said, 1)

    def _rule_first(self, passages: dict[str, list[Passage]], intent: str, said: str, k: int) -> None:
        """The ``k`` passages closest to what the reply says for ``intent``, put before that request's own."""
        why = self.kb.retrieve(f"{label(intent)}: {said}", k=k, task_type=intent)
        known = {(p.doc_id, p.heading) for p in why}
        passages[intent] = why + [p for p in passages.get(intent, []) if (p.doc_id, p.heading) not in known]

    def _polished(self, draft: Draft, passages: list[Passage], tri: Triage, profile: dict[str, Any] | None,
                  proposals: list[Proposal]) -> tuple[Draft, Polished | None]:
        """The draft as the model rewrote it, unless the rewrite says an action was done that did not run."""
        names = str(profile["name"]).split() if profile else []
        polished = self.engine.polish(draft, passages, tri.language, names) if draft.reply else None
        if polished is not None and polished.draft is not draft:
            ran = {p.action for p in proposals if p.decision == Decision.executed}
            false = [a for a in claimed_actions(polished.draft.reply) if a not in ran]
            if false:
                polished = Polished(draft, OfflineEngine.name,
                                    f"the model's reply said {WORDING[false[0]].noun} was done, and it was not")
            else:
                draft = polished.draft
        return draft, polished

    def _answers_alone(self, tri: Triage, level: int, proposals: list[Proposal]) -> bool:
        """Whether the level lets the reply go without a person: questions only from level 1, and once every write
        has run from level 3."""
        writes_pending = any(p.decision != Decision.executed for p in proposals if not is_read(p.action))
        informational = bool(tri.requests) and all(r.intent in self.pack.informational for r in tri.requests)
        return (level >= 1 and informational) or (level >= 3 and not writes_pending)

    def _send(self, policy: Policy, ctx: ExecContext, draft: Draft, level: int) -> Proposal:
        """Sends the reply through ``execute`` as the agent, within autonomy."""
        reply_ctx = replace(ctx, autonomy=max(level, int(Autonomy.supervised)), in_force=level)
        out = execute(self.db, policy, "send_reply", {"body": for_customer(draft.reply)}, reply_ctx)
        return Proposal(action="send_reply", args={"body": for_customer(draft.reply)},
                        rationale="answer within autonomy", decision=out.status.decision,
                        reason=out.reason, result=out.result or None, execution_key=out.key)

    def _escalation(self, policy: Policy, tri: Triage, cid: str | None, kinds: list[str], ticket: TicketIn,
                    now: datetime, text: str) -> tuple[str, Any]:
        """Why the ticket goes to a person before any plan (policy: unsure, very upset; a repeated contact), and the
        customer's earlier contacts about it."""
        # a question the knowledge base answers is not one the agent is unsure of, whatever the classifier said
        sure = 1.0 if tri.entities.get("from_knowledge") else tri.confidence
        escalation = escalation_reason(policy, tri.entities, sure, tri.frustration, str(tri.entities.get("tier", "")))
        # the tickets before this one (a later message is no earlier contact; a rehearsal reads each ticket alone)
        sent = ticket.created_at if ticket.created_at is not None and (ticket.created_at.tzinfo is None) == (
            now.tzinfo is None) and ticket.created_at < now else now
        contact = contacts.count(self.db, None if self.rehearsal else cid, kinds, ticket.id, sent, text)
        # the reply's apology counts the earlier tickets too, not only what the message says of itself
        tri.entities["contacts"] = max(int(tri.entities.get("contacts") or 1), contact.number)
        if not escalation and contact.number >= policy.escalation.repeated_contact:
            escalation = contact.reason(label(tri.task_type).lower())
        return escalation, contact

    def _run_plan(self, run: StepRunner, plan: Plan, steps: list[Step], level: int, known: bool,
                  escalated: bool) -> None:
        """The plan's steps the levels allow, combined and rehearsed as a whole (their questions added to the
        plan's), then run: as a plan at level 4, else one by one."""
        if known and len(steps) > 1:
            checked = plan_check.check(self.db, steps, run.ctx)
            steps = checked.steps
            for intent, question in checked.questions.items():
                plan.questions[intent] = (f"{plan.questions[intent]} {question}" if intent in plan.questions
                                          else question)
        if not steps:
            return
        if level >= int(Autonomy.orchestrate) and known and not escalated:
            run.orchestrate(steps)
        else:
            for step in steps:
                run.single(step, known)

    def _done_elsewhere(self, customer_id: str | None, ticket_id: str) -> list[dict[str, Any]]:
        """The customer's writes that ran from their other tickets, newest first."""
        if not customer_id or self.rehearsal:
            return []
        with self.db.session() as s:
            rows = s.scalars(select(ProposalRow).join(TicketRow, TicketRow.id == ProposalRow.ticket_id)
                             .where(TicketRow.customer_id == customer_id, ProposalRow.ticket_id != ticket_id,
                                    ProposalRow.status == "executed").order_by(ProposalRow.decided_at.desc())
                             .limit(200)).all()
            return [{"action": r.action, "args": r.args, "result": r.result, "ticket_id": r.ticket_id,
                     "decided_at": r.decided_at, "execution_key": r.execution_key}
                    for r in rows if not is_read(r.action)]

    def process(self, ticket: TicketIn, now: datetime | None = None, autonomy: int | None = None,
                claim: str | None = None, prior: list[dict[str, Any]] | None = None) -> ProcessResult:
        """Everything the agent concludes and may do for one ticket; side effects only through ``execute``, and
        under a worker's ``claim`` only while that worker still holds the ticket. ``prior`` is what was decided on
        the ticket before it was read again: the same action with the same arguments is not run twice, one a person
        rejected is not proposed again, and one that ran with other arguments waits for a person."""
        started = time.perf_counter()
        now = now or utcnow()
        today = now.date()
        # the message is read as on the day it was written, never by the clock of the machine that reads it
        written = naive(ticket.created_at) if ticket.created_at is not None and naive(ticket.created_at) <= now \
            else now
        policy = self.policy()
        text = whole_text(ticket.subject, ticket.body)
        planner = packs.planner(self.pack)
        customer, snap, profile, verified = self._customer(ticket, text, now)
        tri = self.triager.triage(ticket.subject, ticket.body, tier=customer.tier if customer else "standard",
                                  channel=ticket.channel, today=written.date())
        tri.entities.update(verified=verified, channel=ticket.channel)  # reading beyond the asked: the holder's alone
        tri = self.answers.read_anew(tri, ticket, snap, profile)
        tri = planner.grounded(tri, snap, text) if hasattr(planner, "grounded") else tri
        tri.entities.update({} if profile else {"signed": signed_name(ticket.body)})  # greets an unknown sender
        kinds = [r.intent for r in tri.requests] or [tri.task_type]
        cid = customer.id if customer else None
        # each request keeps its own task type's level (a copilot request is still proposed beside an answer-level
        # question); the ticket acts alone only as far as its lowest level allows
        levels = {k: policy.level(k, cid, ticket.channel) if autonomy is None else autonomy for k in kinds}
        level = min(levels.values())
        level = min(level, int(Autonomy.copilot)) if policy.kill_switch else level
        escalation, contact = self._escalation(policy, tri, cid, kinds, ticket, now, text)
        reading = read(text, written, packs.reading(self.pack), tri.requests)
        plan = guard.apply(self._plan(planner, tri, snap, today, ticket, text, reading), reading, snap,
                           first=held_first(tri.entities, text))
        if plan.escalate_queue or plan.escalate_because:  # a team takes it over, whatever else escalated it
            escalation = escalation or plan.escalate_because or "data protection requests are handled by the privacy team"
            tri.entities["handed_over"] = plan.handed_over  # what the customer is told instead of "a colleague…"
        passages = self._passages(tri)
        # escalated: nothing runs alone; a team that takes the case over (privacy) holds its steps, else the person
        # it escalates to approves them as proposed
        ctx = ExecContext(actor="agent", role=None, ticket_id=ticket.id, customer_id=cid, verified=verified,
                          task_type=tri.task_type, autonomy=min(level, int(Autonomy.copilot)) if escalation else level,
                          today=today, now=now, confidence=tri.confidence, claim=claim, dry_run=self.rehearsal)
        run = StepRunner(self.db, policy, ctx, escalation if "handed_over" in tri.entities else "",
                         prior=list(prior or []), elsewhere=self._done_elsewhere(cid, ticket.id), names=names_in(snap))

        def allowed(step: Step) -> bool:
            own = levels.get(step.intent, level)
            return own >= int(Autonomy.copilot) or (own >= int(Autonomy.answer) and is_read(step.action))

        self._run_plan(run, plan, [st for st in plan.steps if allowed(st)], level, customer is not None,
                       bool(escalation))
        outcomes, proposals = self._for_sender(run.outcomes, plan, bool((profile or {}).get("unverified"))), run.proposals
        if (run.stopped or run.handed_over) and not escalation:
            escalation = run.stopped or run.handed_over
        self._explain_refusals(outcomes, passages)
        self._explain_answers(plan.questions, passages)
        if tri.entities.get("safety") and (word := danger(text)):  # what to do about the danger, first
            plan.notices[:0] = answer_check.what_to_do(self.kb, text, word)
        tri.entities.update(answered=sorted({*plan.answers, *plan.covered}), referenced=bool(REFERENCE.search(text)))  # see draft()
        draft = self.drafter.draft(tri, profile, ticket.channel, passages, outcomes,
                                   {**plan.answers, **plan.questions}, escalation, level, plan.notices, plan.asides)
        all_passages = list({(p.doc_id, p.heading): p for ps in passages.values() for p in ps}.values())
        draft, polished = self._polished(draft, all_passages, tri, profile, proposals)
        may_send = (customer is not None and verified and not escalation and not tri.abstained and not plan.questions
                    and sendable(draft))
        alone = may_send and self._answers_alone(tri, level, proposals)
        waits = self.answers.why_it_waits(tri, snap, profile) if alone else ""
        if alone and not waits:
            proposals.append(self._send(policy, ctx, draft, level))
        escalated = bool(escalation) or any(p.decision == Decision.escalated for p in proposals)
        packet = context_packet(draft.summary, tri, proposals, escalation or "an action was escalated",
                                run.refused, contact.earlier) if escalated else None
        return ProcessResult(
            ticket_id=ticket.id, customer_id=customer.id if customer else None, triage=tri,
            passages=all_passages, draft=draft, proposals=proposals, escalated=escalated,
            escalation_reason=escalation, autonomy=level, ms=round((time.perf_counter() - started) * 1000, 1),
            engine=polished.engine if polished else self.engine.name,
            engine_note=polished.fallback_reason if polished else "", packet=packet, no_action=plan.no_action,
            reading=reading, reply_waits=waits,
        )
