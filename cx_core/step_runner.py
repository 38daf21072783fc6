"""``StepRunner``: the planned steps of one ticket run through ``execute`` and recorded as proposals: one by one
(levels 1-3), or as a plan (level 4) that takes another route when a step fails and stops at the first step policy
refuses, unless the customer gave a second choice for it. A step the customer wants only if the first choice cannot
be done (``Step.instead_of``) waits while the first may run, and goes ahead in its place when the rules refuse it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from . import audit
from .actions import REGISTRY, ExecContext, is_read
from .actions.execute import Outcome, execute
from .drafting import StepOutcome
from .models import Autonomy, Decision, Proposal, Role, Status
from .plans import ASKS_ONLY, Step
from .policy import Policy
from .store.db import Database
from .wording import NAMED, enum_labels_of


@dataclass
class StepRunner:
    """Runs planned steps through ``execute``: one by one (levels 1-3), or as a plan (level 4) that takes the
    alternative route when a step fails and stops, escalating, at the first step policy refuses."""

    db: Database
    policy: Policy
    ctx: ExecContext
    escalation: str
    outcomes: list[StepOutcome] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    # what people and the agent already decided on this ticket (it is being read again after the customer wrote)
    prior: list[dict[str, Any]] = field(default_factory=list)
    # the customer's writes that already ran from their other tickets (the same request sent twice)
    elsewhere: list[dict[str, Any]] = field(default_factory=list)
    stopped: str = ""
    handed_over: str = ""  # a refusal whose rules send the case to a person: the ticket goes to one
    refused: dict[str, Any] | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # the customer's records' names of codes (``names_in``)

    def _record(self, step: Step, args: dict[str, Any], decision: Decision, reason: str,
                result: dict[str, Any] | None = None, role: str = "advisor", key: str = "", route: str = "",
                refused_by: str = "") -> None:
        labels = enum_labels_of(step.action)
        shown = {NAMED + k: self.names.get(v) or labels[k][v] for k, v in args.items()
                 if isinstance(v, str) and (v in self.names or v in labels.get(k, {}))}
        self.outcomes.append(StepOutcome(step.action, args, step.intent, decision, reason, result, step.missing,
                                         {**step.defaults, **shown}))
        self.proposals.append(Proposal(action=step.action, args=args, rationale=step.rationale, decision=decision,
                                       reason=reason, required_role=Role(role), result=result, execution_key=key,
                                       route=route, refused_by=refused_by if decision == Decision.denied else "",
                                       depends_on=step.depends_on))

    def _exec(self, action: str, args: dict[str, Any], ctx: ExecContext | None = None) -> Outcome:
        out = execute(self.db, self.policy, action, args, ctx or self.ctx, escalate_because=self.escalation)
        if out.hand_over and not self.handed_over:
            # the rule, for the person it goes to; what the customer is told is the refusal's own sentence
            self.handed_over = f"{REGISTRY[action].label or action}: {out.reason.split(';')[0]}"
        return out

    def _args(self, step: Step) -> dict[str, Any]:
        return step.rendered(self.results.get(step.depends_on))

    def _earlier(self, step: Step, args: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """What was decided before on this ticket about the same action: ``done`` (the same arguments ran),
        ``rejected`` (a person turned the same arguments down) or ``again`` (it ran with other arguments, so it
        never runs alone a second time)."""
        same = [p for p in self.prior if p["action"] == step.action]
        for status in ("executed", "rejected"):
            for p in same:
                if p["status"] == status and p["args"] == args:
                    return ("done" if status == "executed" else "rejected"), p
        ran = next((p for p in same if p["status"] == "executed"), None)
        return ("again", ran) if ran is not None and not is_read(step.action) else None

    def _settled(self, step: Step, args: dict[str, Any]) -> bool:
        """Records a step already decided on this ticket instead of running it again; True when it was."""
        earlier = self._earlier(step, args)
        twin = next((p for p in self.elsewhere if p["action"] == step.action and p["args"] == args), None)
        if (earlier is None or earlier[0] == "again") and twin is not None and not is_read(step.action):
            # asked again in another message: already arranged, never offered as a fresh action
            when = f" on {twin['decided_at']:%d %b}" if twin.get("decided_at") else ""
            self.results[step.action] = dict(twin["result"] or {})
            self._record(step, args, Decision.executed, f"already done{when} from ticket {twin['ticket_id']}",
                         twin["result"] or None, key=twin["execution_key"] or "", route="earlier")
            return True
        if earlier is None or earlier[0] == "again":
            return False
        what, p = earlier
        if what == "done":
            self.results[step.action] = dict(p["result"] or {})
            self._record(step, args, Decision.executed, "done earlier on this ticket", p["result"] or None,
                         key=p["execution_key"] or "", route="earlier")
        return True

    def _again_ctx(self, step: Step, args: dict[str, Any]) -> ExecContext | None:
        """A context that makes a person decide, for an action that already ran on this ticket with other
        arguments (a customer writing again never makes the agent repeat a change alone)."""
        earlier = self._earlier(step, args)
        if earlier is None or earlier[0] != "again":
            return None
        return replace(self.ctx, autonomy=min(self.ctx.autonomy, int(Autonomy.copilot)))

    def _second_choice(self, step: Step) -> Step:
        """A step the customer wants only if their first choice cannot be done: in its place, as a step of its own,
        when the rules refused that one on this ticket; else as it is (it waits)."""
        first = next((p for p in self.proposals if p.action == step.instead_of and p.decision == Decision.denied
                      and p.refused_by in {"invariant", "policy"}), None)
        if not step.instead_of or first is None:
            return step
        label_ = REGISTRY[first.action].label if first.action in REGISTRY else first.action
        return replace(step, held="", rationale=f"{step.rationale}; the customer's second choice, as "
                                                f"'{label_}' cannot be done ({first.reason.split('. ')[0]})")

    def single(self, step: Step, known_customer: bool) -> None:
        """Levels 1-3: each step on its own; what may not run alone waits for a person."""
        step = self._second_choice(step)
        if step.refused:
            self._record(step, step.args, Decision.denied, step.refused, refused_by="invariant")
            return
        if step.missing or not known_customer:
            reason = step.waiting_reason() if step.missing else "no known customer on this ticket"
            self._record(step, step.args, Decision.abstained, reason)
            return
        args = self._args(step)
        if step.unfilled(args):  # the step it reads from did not run (refused, or waiting for a person)
            self._record(step, args, Decision.abstained, f"needs {step.depends_on} to run first")
            return
        if self._settled(step, args):
            return
        if step.held:  # prepared for a person, who approves it as it stands or changes it: never proposed as sure
            # checked as a person would approve it: one that already ran (before a crash) is recorded as done; one
            # only asked about is offered in the reply, unless the rules refuse it anyway
            check = self._exec(step.action, args, replace(self.ctx, autonomy=int(Autonomy.copilot)))
            if check.status.decision == Decision.executed:
                self.results[step.action] = check.result
                self._record(step, args, Decision.executed, check.reason, check.result or None, check.required_role,
                             check.key, refused_by=check.kind)
            elif step.held == ASKS_ONLY and check.status.decision == Decision.denied:
                self._record(step, args, Decision.denied, check.reason, refused_by=check.kind)
            else:
                self._record(step, args, Decision.abstained, step.waiting_reason())
            return
        again = self._again_ctx(step, args)
        out = self._exec(step.action, args, again)
        if out.status in {"denied", "failed"} and out.kind in {"invariant", "unavailable"}:
            for alt in step.alternatives:  # the customer's second choice, when the first cannot be
                tried = self._exec(step.action, alt, again)
                if tried.status not in {"denied", "failed"}:
                    tried.reason = f"{tried.reason} (the customer's second choice: the first could not be, {out.reason})"
                    out, args = tried, alt
                    break
        if again is not None and out.status == "needs_approval":
            out.reason = f"{REGISTRY[step.action].label} already ran on this ticket; a person decides on it again"
        if out.status == "failed":
            out.reason += "; retry when it is back"
        if out.status == "executed":
            self.results[step.action] = out.result
        self._record(step, args, out.status.decision, out.reason,
                     out.result or None, out.required_role, out.key, refused_by=out.kind)

    def orchestrate(self, steps: list[Step]) -> None:
        """Level 4: the plan in order. A failed step tries its alternatives, then its fallback route; a step policy
        refuses (or one with no route left) stops the plan, and the rest waits for a person."""
        audit_ctx = self.ctx
        with self.db.tx() as s:
            audit.append(s, "agent", "plan.started", audit_ctx.ticket_id,
                         steps=[{"action": st.action, "args": st.args} for st in steps])
        fell_back: set[str] = set()
        for i, step in enumerate(steps):
            if step.depends_on and step.depends_on in fell_back:
                self._record(step, step.args, Decision.abstained, f"not needed: {step.depends_on} took another route",
                             route="skipped")
                continue
            if step.instead_of:  # the customer's second choice: not needed once the first ran, in its place if refused
                if any(p.action == step.instead_of and p.decision == Decision.executed for p in self.proposals):
                    self._record(step, step.args, Decision.abstained, f"not needed: {step.instead_of} ran",
                                 route="skipped")
                    continue
                step = self._second_choice(step)
            if step.refused:
                refusal = Outcome(Status.denied, step.refused, kind="invariant")
                if not self._refused_before_second_choice(step, step.args, refusal, steps[i + 1:]):
                    self._stop(step, step.args, step.refused, "advisor", steps[i + 1:], refusal)
                    return
                continue
            if step.missing:
                self._stop(step, step.args, step.waiting_reason(), "advisor", steps[i + 1:])
                return
            args = self._args(step)
            if step.unfilled(args):
                self._stop(step, args, f"needs {step.depends_on} to run first", "advisor", steps[i + 1:])
                return
            if self._settled(step, args):
                continue
            if step.held:
                self._stop(step, args, step.waiting_reason(), "advisor", steps[i + 1:])
                return
            again = self._again_ctx(step, args)
            if again is not None:
                held = self._exec(step.action, args, again)
                self._stop(step, args, f"{REGISTRY[step.action].label} already ran on this ticket; a person decides "
                                       "on it again", held.required_role, steps[i + 1:], held)
                return
            out = self._exec(step.action, args)
            route = "planned"
            if out.status in {"denied", "failed"} and out.kind in {"invariant", "unavailable"}:
                for alt in step.alternatives:
                    alt_out = self._exec(step.action, alt)
                    if alt_out.status == "executed" or alt_out.kind not in {"invariant", "unavailable"}:
                        out, args, route = alt_out, alt, "alternative"
                        break
            if out.status == "failed" and step.fallback is not None:
                fb = step.fallback
                fb_out = self._exec(fb.action, fb.args)
                self._record(step, args, Decision.needs_approval, out.reason, route="failed")
                if fb_out.status == "executed":
                    fell_back.add(step.action)
                    self._record(fb, fb.args, Decision.executed, f"alternative route: {fb.rationale}",
                                 fb_out.result or None, fb_out.required_role, fb_out.key, route="fallback")
                    continue
                out, step, args = fb_out, fb, fb.args
            if out.status != "executed":
                if not self._refused_before_second_choice(step, args, out, steps[i + 1:]):
                    self._stop(step, args, out.reason, out.required_role, steps[i + 1:], out)
                    return
                continue
            self.results[step.action] = out.result
            self._record(step, args, Decision.executed, out.reason, out.result or None, out.required_role, out.key,
                         route=route)
        with self.db.tx() as s:
            audit.append(s, "agent", "plan.completed", audit_ctx.ticket_id,
                         steps=[{"action": p.action, "route": p.route, "decision": p.decision.value}
                                for p in self.proposals])

    def _refused_before_second_choice(self, step: Step, args: dict[str, Any], out: Outcome, rest: list[Step]) -> bool:
        """A step the rules refuse, with the customer's second choice later in the plan: recorded as refused and the
        plan goes on to the second choice (True); anything else stops the plan (False)."""
        if out.status != Status.denied or out.kind not in {"invariant", "policy"}:
            return False
        if not any(later.instead_of == step.action for later in rest):
            return False
        self._record(step, args, Decision.denied, out.reason, role=out.required_role, route="refused",
                     refused_by=out.kind)
        with self.db.tx() as s:
            audit.append(s, "agent", "plan.second_choice", self.ctx.ticket_id, step=step.action, reason=out.reason)
        return True

    def _stop(self, step: Step, args: dict[str, Any], reason: str, role: str, rest: list[Step],
              out: Outcome | None = None) -> None:
        decision = out.status.decision if out else Decision.abstained
        if decision == Decision.executed:
            decision = Decision.needs_approval
        self._record(step, args, decision, reason, role=role, route="refused", refused_by=out.kind if out else "")
        label_ = REGISTRY[step.action].label if step.action in REGISTRY else step.action
        self.stopped = f"the plan stopped at '{label_}': {reason}"
        self.refused = {"action": step.action, "args": args, "reason": reason, "required_role": role}
        waiting = replace(self.ctx, autonomy=int(Autonomy.copilot))
        for later in rest:  # prepared for a person, never run
            if later.missing:
                self._record(later, later.args, Decision.abstained, later.waiting_reason())
                continue
            later_args = self._args(later)
            if later.unfilled(later_args):
                self._record(later, later_args, Decision.abstained, f"needs {later.depends_on} to run first")
                continue
            o = self._exec(later.action, later_args, waiting)
            self._record(later, later_args, o.status.decision,
                         "waiting: the plan stopped before this step", role=o.required_role)
        with self.db.tx() as s:
            audit.append(s, "agent", "plan.stopped", self.ctx.ticket_id, step=step.action, args=args, reason=reason,
                         done=[p.action for p in self.proposals if p.decision == Decision.executed])
