"""Policy as code: the versioned policy file, validated on load, and ``evaluate`` — the one decision on
whether an action may run alone, needs a person (and which role), escalates, or is denied."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError
from .models import ROLE_RANK, Autonomy, Role


class Limit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auto_max: float = Field(ge=0)
    advisor_max: float = Field(ge=0)


class Escalation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confidence_below: float = Field(default=0.45, ge=0, le=1)
    frustration_above: float = Field(default=0.85, ge=0, le=1)
    legal_signals: bool = True
    safety_signals: bool = True
    repeated_contact: int = Field(default=3, ge=1)
    act_alone_min_confidence: float = Field(default=0.75, ge=0, le=1)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    kill_switch: bool = False
    default_autonomy: Autonomy = Autonomy.copilot
    autonomy: dict[str, Autonomy] = Field(default_factory=dict)
    limits: dict[str, Limit] = Field(default_factory=dict)
    never_autonomous: list[str] = Field(default_factory=list)
    escalation: Escalation = Field(default_factory=Escalation)
    sla_minutes: dict[str, int] = Field(default_factory=lambda: {"chat": 15, "social": 240, "phone": 240,
                                                                 "email": 1440})

    def level(self, task_type: str) -> int:
        """The autonomy level in force for a task type (the kill switch caps everything at copilot)."""
        level = int(self.autonomy.get(task_type, self.default_autonomy))
        if task_type == "unclassified":
            level = min(level, int(Autonomy.copilot))
        return min(level, int(Autonomy.copilot)) if self.kill_switch else level


def load_policy(path: Path) -> Policy:
    """Reads and validates a policy file; errors name the file and the field."""
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
    return parse_policy(raw, path.name)


def parse_policy(raw: dict[str, Any], name: str = "policy") -> Policy:
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{name}: field '{field}': {err['msg']}") from exc


@dataclass
class Verdict:
    decision: str  # allow | needs_approval | escalate | deny
    reason: str
    required_role: Role = Role.advisor


def escalation_reason(policy: Policy, signals: dict[str, Any], confidence: float, frustration: float) -> str:
    """Why a ticket must go to a person before any action, or '' when nothing requires it."""
    e = policy.escalation
    if e.safety_signals and signals.get("safety"):
        return "safety signals in the ticket"
    if e.legal_signals and signals.get("legal"):
        return "legal signals in the ticket"
    if signals.get("vulnerable"):
        return "the customer may be vulnerable"
    if signals.get("cancel_service"):
        return "the customer wants to close an account or cancel a service"
    if frustration > e.frustration_above:
        return f"frustration {frustration:.2f} is above {e.frustration_above:.2f}"
    if confidence < e.confidence_below:
        return f"triage confidence {confidence:.2f} is below {e.confidence_below:.2f}"
    return ""


def required_role(policy: Policy, action: str, amount: float | None) -> Role:
    limit = policy.limits.get(action)
    if limit is not None and amount is not None and amount > limit.advisor_max:
        return Role.supervisor
    return Role.advisor


def evaluate(policy: Policy, *, action: str, writes: bool, amount: float | None, actor_role: Role | None,
             autonomy: int, verified: bool, escalate_because: str = "", confidence: float = 1.0) -> Verdict:
    """Decides one action. ``actor_role`` is None when the agent would act alone."""
    role = required_role(policy, action, amount)
    if actor_role is not None:
        if ROLE_RANK[actor_role] < ROLE_RANK[role]:
            return Verdict("deny", f"{action} for {amount:.2f} needs a {role.value}", role)
        article = "an" if actor_role.value[0] in "aeiou" else "a"
        return Verdict("allow", f"approved by {article} {actor_role.value}", role)
    if not writes:
        return Verdict("allow", "read-only", role)
    if escalate_because:
        return Verdict("escalate", escalate_because, role)
    if not verified:
        return Verdict("needs_approval", "the sender is not verified as the customer", role)
    if autonomy < int(Autonomy.supervised):
        return Verdict("needs_approval", f"autonomy level {autonomy}: an advisor approves", role)
    if confidence < policy.escalation.act_alone_min_confidence:
        return Verdict("needs_approval", f"triage confidence {confidence:.2f} is below "
                                         f"{policy.escalation.act_alone_min_confidence:.2f} for acting alone", role)
    if action in policy.never_autonomous:
        return Verdict("needs_approval", f"{action} is never done without a person", role)
    limit = policy.limits.get(action)
    if limit is not None and amount is not None and amount > limit.auto_max:
        return Verdict("needs_approval", f"{amount:.2f} is above the automatic limit of {limit.auto_max:.2f}", role)
    return Verdict("allow", f"within policy at autonomy level {autonomy}", role)
