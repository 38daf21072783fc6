"""Action specs and the registry. The LLM tool schema is derived from each args model, never hand-written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from ..models import Role


class Args(BaseModel):
    """Base of every action's arguments: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


@dataclass
class ExecContext:
    """Who acts, for which ticket and customer, under which autonomy level."""

    actor: str
    role: Role | None  # None: the agent acting alone
    ticket_id: str | None
    customer_id: str | None
    verified: bool = True
    task_type: str = "unclassified"
    autonomy: int = 2
    signals: dict[str, Any] = field(default_factory=dict)
    confidence: float = 1.0
    idempotency_key: str | None = None
    claim: str | None = None  # the worker's lease on the ticket: its actions run only while it still holds it
    today: date = field(default_factory=lambda: datetime.now().date())
    now: datetime = field(default_factory=datetime.now)
    dry_run: bool = False


Runner = Callable[[Session, Any, ExecContext], dict[str, Any]]
Probe = Callable[[Session, Any], Any]
# Undoes an executed action from its arguments and result (the compensating action of a reversal).
Compensator = Callable[[Session, Any, dict[str, Any], ExecContext], dict[str, Any]]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    args_model: type[Args]
    run: Runner
    description: str
    writes: bool
    reversible: bool
    risk: str
    connector: str
    task_types: tuple[str, ...]
    owner: Probe  # the customer id whose record the action touches
    amount: Probe | None = None
    label: str = ""
    confirm: bool = False  # cannot be undone: a person confirms before it ever runs
    compensate: Compensator | None = None

    def tool_schema(self) -> dict[str, Any]:
        """OpenAI-style function schema derived from the args model."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.args_model.model_json_schema()}}


REGISTRY: dict[str, ActionSpec] = {}


def action(*, name: str, args: type[Args], writes: bool, reversible: bool, risk: str, connector: str,
           task_types: tuple[str, ...], owner: Probe, amount: Probe | None = None,
           label: str = "", confirm: bool = False,
           compensate: Compensator | None = None) -> Callable[[Runner], Runner]:
    """Registers the decorated runner; its docstring becomes the tool description. A reversible action that
    writes must say how it is undone (``compensate``)."""
    if writes and reversible and compensate is None:
        raise TypeError(f"action {name} is reversible but has no compensating action")

    def wrap(fn: Runner) -> Runner:
        REGISTRY[name] = ActionSpec(name=name, args_model=args, run=fn, description=(fn.__doc__ or "").strip(),
                                    writes=writes, reversible=reversible, risk=risk, connector=connector,
                                    task_types=task_types, owner=owner, amount=amount,
                                    label=label or name.replace("_", " ").capitalize(), confirm=confirm,
                                    compensate=compensate)
        return fn

    return wrap
