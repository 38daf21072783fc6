"""Policy as code: the versioned policy file, validated on load, and ``evaluate`` — the one decision on
whether an action may run alone, needs a person (and which role), escalates, or is denied."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .domain import Vocabulary, active
from .errors import ConfigError
from .models import ROLE_RANK, Autonomy, Role
from .plans import NOT_VERIFIED
from .signals import AT_RISK
from .wording import money_in


class Limit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auto_max: float = Field(ge=0)
    advisor_max: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Limit:
        if self.auto_max > self.advisor_max:
            raise ValueError("auto_max must not be above advisor_max")
        return self


class Canary(BaseModel):
    """A trial level for one task type: only for a share of customers and/or chosen channels."""

    model_config = ConfigDict(extra="forbid")
    level: Autonomy
    percent: float = Field(default=0, ge=0, le=100, description="Share of customers (stable per customer).")
    channels: list[str] = Field(default_factory=list, description="Channels where the level applies.")

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: list[str]) -> list[str]:
        """Each one a channel of the active domain (its pack lists them)."""

        names = active().channel_names
        for name in value:
            if name not in names:
                raise ValueError(f"'{name}' is not a channel here (channels are: {', '.join(names)})")
        return value

    def applies(self, customer_id: str | None, channel: str | None) -> bool:
        if channel and channel in set(self.channels):
            return True
        if self.percent <= 0 or not customer_id:
            return False
        bucket = int(hashlib.sha256(customer_id.encode()).hexdigest()[:8], 16) % 10000 / 100
        return bucket < self.percent


class Review(BaseModel):
    """Which autonomous actions a supervisor sees afterwards."""

    model_config = ConfigDict(extra="forbid")
    sample_rate: float = Field(default=0.10, ge=0, le=1, description="Share of autonomous actions sampled.")
    risk_above: float = Field(default=0.6, ge=0, le=1, description="Every action with a higher risk score.")


class Earned(BaseModel):
    """When the evidence recommends promoting or demoting a task type's level."""

    model_config = ConfigDict(extra="forbid")
    window_days: int = Field(default=30, ge=1, le=365)
    min_sample: int = Field(default=20, ge=1)
    promote_min_approval: float = Field(default=0.95, ge=0, le=1)
    promote_max_edit: float = Field(default=0.10, ge=0, le=1)
    max_reversal: float = Field(default=0.02, ge=0, le=1)
    max_reopen: float = Field(default=0.05, ge=0, le=1)
    demote_above_reject: float = Field(default=0.20, ge=0, le=1)


class Escalation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confidence_below: float = Field(default=0.45, ge=0, le=1)
    frustration_above: float = Field(default=0.85, ge=0, le=1)
    legal_signals: bool = True
    safety_signals: bool = True
    repeated_contact: int = Field(default=3, ge=1)
    act_alone_min_confidence: float = Field(default=0.75, ge=0, le=1)
    # customer tiers whose standing needs the company already holds (a priority-services register): a carer, a
    # disability or age told of by such a customer is answered, and hands the ticket to a person only with a crisis
    # (a death, a stay in hospital) or another reason
    needs_on_record: list[str] = Field(default_factory=list)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    kill_switch: bool = False
    default_autonomy: Autonomy = Autonomy.copilot
    autonomy: dict[str, Autonomy] = Field(default_factory=dict)
    canary: dict[str, Canary] = Field(default_factory=dict)
    limits: dict[str, Limit] = Field(default_factory=dict)
    never_autonomous: list[str] = Field(default_factory=list)
    escalation: Escalation = Field(default_factory=Escalation)
    review: Review = Field(default_factory=Review)
    earned: Earned = Field(default_factory=Earned)
    # first-response targets by channel, over the domain's own (each channel of the pack brings its default)
    sla_minutes: dict[str, int] = Field(default_factory=dict)

    def sla_for(self, channel: str) -> int:
        """Minutes to the first response on ``channel``: this policy's, else the domain's default for it."""
        if channel in self.sla_minutes:
            return int(self.sla_minutes[channel])

        return active().channel(channel).sla_minutes

    def level(self, task_type: str, customer_id: str | None = None, channel: str | None = None) -> int:
        """The autonomy level in force for a task type, for this customer and channel when a canary applies.
        The kill switch caps everything at copilot."""
        level = int(self.autonomy.get(task_type, self.default_autonomy))
        canary = self.canary.get(task_type)
        if canary is not None and canary.applies(customer_id, channel):
            level = int(canary.level)
        if task_type == "unclassified":
            level = min(level, int(Autonomy.copilot))
        return min(level, int(Autonomy.copilot)) if self.kill_switch else level


def load_policy(path: Path, known: Vocabulary | None = None) -> Policy:
    """Reads and validates a policy file, and with ``known`` checks every name in it against the active domain;
    errors name the file, the line and the field."""
    if not path.exists():
        raise ConfigError(f"{path}: policy file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path.name}{where}: not valid YAML") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: the policy must be a mapping of fields")
    return parse_policy(raw, path.name, path.read_text(encoding="utf-8"), known)


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest YAML node on the path ``loc`` (for error messages)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if str(k.value) == str(key)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def parse_policy(raw: dict[str, Any], name: str = "policy", text: str = "", known: Vocabulary | None = None
                 ) -> Policy:
    """Validates a policy; with ``known`` (the active domain's task types, actions and channels) a name the domain
    does not have is refused with its line and field instead of being silently ignored."""
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise _located(name, text, tuple(err["loc"]), err["msg"]) from exc
    if known is not None:
        problem = unknown_names(policy, known)
        if problem:
            loc, msg = problem[0]
            raise _located(name, text, loc, msg)
    return policy


def _located(name: str, text: str, loc: tuple[Any, ...], msg: str) -> ConfigError:
    field = ".".join(str(p) for p in loc)
    line = _line_of(text, loc) if text else None
    where = f" line {line}" if line else ""
    return ConfigError(f"{name}{where}: field '{field}': {msg}")


def unknown_names(policy: Policy, known: Vocabulary) -> list[tuple[tuple[Any, ...], str]]:
    """Every name in the policy that the domain does not have, as (field path, message), in file order."""
    def hint(kind: str, values: frozenset[str]) -> str:
        return f"{kind}s are: {', '.join(sorted(values))}"

    out: list[tuple[tuple[Any, ...], str]] = []
    for section in ("autonomy", "canary"):
        for task_type in getattr(policy, section):
            if task_type not in known.task_types:
                out.append(((section, task_type), f"unknown task type '{task_type}' ("
                            f"{hint('task type', known.task_types)})"))
    for action in policy.limits:
        if action not in known.actions:
            out.append((("limits", action), f"unknown action '{action}' ({hint('action', known.actions)})"))
    for i, action in enumerate(policy.never_autonomous):
        if action not in known.actions:
            out.append((("never_autonomous", i), f"unknown action '{action}' ({hint('action', known.actions)})"))
    for channel in policy.sla_minutes:
        if channel not in known.channels:
            out.append((("sla_minutes", channel), f"unknown channel '{channel}' ({hint('channel', known.channels)})"))
    for task_type, canary in policy.canary.items():
        for i, ch in enumerate(canary.channels):
            if ch not in known.channels:
                out.append((("canary", task_type, "channels", i), f"unknown channel '{ch}'"))
    return out


def dump_policy(policy: Policy) -> str:
    header = ("# Tandem policy: autonomy per task type and hard limits. Validated on load; every change is audited.\n"
              "# Levels: 0 manual, 1 answer, 2 copilot, 3 supervised, 4 orchestrate. Amounts in USD.\n")
    return header + yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


class Ruling(StrEnum):
    """What policy rules for one action: it may run, a person approves it first, a person takes the ticket, or it
    may not run at all."""

    allow = "allow"
    needs_approval = "needs_approval"
    escalate = "escalate"
    deny = "deny"


@dataclass
class Verdict:
    decision: Ruling
    reason: str
    required_role: Role = Role.advisor


def escalation_reason(policy: Policy, signals: dict[str, Any], confidence: float, frustration: float,
                      tier: str = "") -> str:
    """Why a ticket must go to a person before any action, or '' when nothing requires it (``tier``: the
    customer's)."""
    e = policy.escalation
    if e.safety_signals and signals.get("safety"):
        return "safety signals in the ticket"
    if e.legal_signals and signals.get("legal"):
        return "legal signals in the ticket"
    if signals.get("vulnerable") and (tier not in e.needs_on_record or signals.get("vulnerable_crisis", True)):
        return "the customer may be vulnerable"
    if signals.get("account_at_risk"):
        return AT_RISK
    if signals.get("cancel_service"):
        return "the customer wants to close an account or cancel a service"
    if int(signals.get("contacts") or 1) >= e.repeated_contact:
        n = int(signals["contacts"])
        nth = {2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(n, f"{n}th")
        return (f"this is at least the customer's {nth} contact about it, by their own words or their earlier "
                f"tickets (a person answers from contact {e.repeated_contact} on)")
    if frustration > e.frustration_above:
        return (f"the customer is very upset (frustration {frustration:.0%}; a person takes over above "
                f"{e.frustration_above:.0%})")
    if confidence < e.confidence_below:
        return (f"the agent is not sure what the customer asks ({confidence:.0%} sure; a person reads it below "
                f"{e.confidence_below:.0%})")
    return ""


def required_role(policy: Policy, action: str, amount: float | None) -> Role:
    limit = policy.limits.get(action)
    if limit is not None and amount is not None and amount > limit.advisor_max:
        return Role.supervisor
    return Role.advisor


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def diff(old: Policy, new: Policy) -> list[dict[str, Any]]:
    """Field-by-field differences between two policies (``version`` aside)."""
    a = flatten(old.model_dump(mode="json", exclude={"version"}))
    b = flatten(new.model_dump(mode="json", exclude={"version"}))
    return [{"field": k, "before": a.get(k), "after": b.get(k)} for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def evaluate(policy: Policy, *, action: str, writes: bool, amount: float | None, actor_role: Role | None,
             autonomy: int, verified: bool, escalate_because: str = "", confidence: float = 1.0,
             confirm: bool = False, in_force: int | None = None) -> Verdict:
    """Decides one action. ``actor_role`` is None when the agent would act alone; ``confirm`` marks an action
    that cannot be undone, which a person always confirms before it runs. ``in_force`` is the task type's level when
    the engine decides under another one (an answer sent alone at level 1 is decided as a level-3 send): the reason
    names the level in force."""
    role = required_role(policy, action, amount)
    if actor_role is not None:
        if ROLE_RANK[actor_role] < ROLE_RANK[role]:
            what = action.replace("_", " ") + (f" of {money_in(amount)}" if amount is not None else "")
            return Verdict(Ruling.deny, f"{what} needs a {role.value} to approve it", role)
        article = "an" if actor_role.value[0] in "aeiou" else "a"
        return Verdict(Ruling.allow, f"approved by {article} {actor_role.value}", role)
    if not writes:
        return Verdict(Ruling.allow, "read-only", role)
    if escalate_because:
        return Verdict(Ruling.escalate, escalate_because, role)
    if not verified:
        return Verdict(Ruling.needs_approval, NOT_VERIFIED, role)
    if autonomy < int(Autonomy.supervised):
        return Verdict(Ruling.needs_approval, "an advisor approves it: " + (
            "for this kind of request the agent proposes and a person decides" if autonomy == int(Autonomy.copilot)
            else "for this kind of request the agent answers questions alone, and a person decides on actions"), role)
    if confidence < policy.escalation.act_alone_min_confidence:
        return Verdict(Ruling.needs_approval, f"triage confidence {confidence:.2f} is below "
                                         f"{policy.escalation.act_alone_min_confidence:.2f} for acting alone", role)
    if action in policy.never_autonomous:
        return Verdict(Ruling.needs_approval, f"{action} is never done without a person", role)
    if confirm:
        return Verdict(Ruling.needs_approval, "this cannot be undone: a person confirms it first", role)
    limit = policy.limits.get(action)
    if limit is not None and amount is not None and amount > limit.auto_max:
        return Verdict(Ruling.needs_approval, f"{money_in(amount)} is above the automatic limit of "
                                              f"{money_in(limit.auto_max)}", role)
    level = autonomy if in_force is None else in_force
    name = Autonomy(level).name if level in set(Autonomy) else ""
    return Verdict(Ruling.allow, f"within policy at autonomy level {level}" + (f" ({name})" if name else ""), role)
