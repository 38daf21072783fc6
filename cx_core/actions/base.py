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
    in_force: int | None = None  # the task type's own level, when the engine acts under another (an answer alone)


Runner = Callable[[Session, Any, ExecContext], dict[str, Any]]


ENUM_LABELS = "x-enum-labels"  # what customers call each value of an enum: {FIX12: Fixed 12}


def enum_labels(arg: Any) -> dict[str, str]:
    """What customers call each value of an argument's enum (a pydantic field's ``x-enum-labels``), or none."""
    extra = arg.json_schema_extra if isinstance(getattr(arg, "json_schema_extra", None), dict) else {}
    labels = extra.get(ENUM_LABELS)
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def is_read(name: str) -> bool:
    """The action only reads (a look-up an answer may make alone); unknown names are not reads."""
    spec = REGISTRY.get(name)
    return spec is not None and not spec.writes


def action_label(name: str) -> str:
    """An action as people name it: its label, else its name in words ("notify field team")."""
    spec = REGISTRY.get(name)
    return (spec.label if spec else "") or name.replace("_", " ")
Probe = Callable[[Session, Any], Any]
# What running the action would change, with no side effect anywhere: arguments and preconditions checked against
# the current records (refusals raise as the run would), nothing written, no outside system called.
Previewer = Callable[[Session, Any, ExecContext], dict[str, Any]]
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
    preview: Previewer | None = None
    # Writes only the database Tandem owns: a run inside a rolled-back savepoint changes nothing anywhere, so it can
    # serve as the preview. An action that reaches an outside system says so (local=False) and brings a preview.
    local: bool = True
    # a call to a team's own system (a declared HTTP action, an MCP tool): a write goes through the outbox and its
    # dispatcher, so a crash or two approvals at once still make exactly one call
    remote: Any = None
    # list arguments two calls on the same record may be joined by (the items of one return): such steps combine
    combine: tuple[str, ...] = ()
    # whenever the rules allow it, it gives back everything the customer paid (a whole booking cancelled): a
    # customer's condition on getting all their money back is then met
    refunds_in_full: bool = False

    def check(self, s: Session, args: Any, ctx: ExecContext) -> dict[str, Any]:
        """What running would change, with no side effect: the action's own preview, or a run of a local action
        inside a savepoint that is rolled back. Refusals raise exactly as the run would raise them."""
        if self.preview is not None:
            return self.preview(s, args, ctx)
        savepoint = s.begin_nested()
        try:
            return self.run(s, args, ctx)
        finally:
            savepoint.rollback()

    def tool_schema(self) -> dict[str, Any]:
        """OpenAI-style function schema derived from the args model."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.args_model.model_json_schema()}}


# The actions in force: the engine's own (replies, escalation, notes) and the active domain pack's.
REGISTRY: dict[str, ActionSpec] = {}
_PACKS: dict[str, dict[str, ActionSpec]] = {}  # a pack's module prefix → its actions
_LOOSE: dict[tuple[str, str], ActionSpec] = {}  # registered outside any known pack: (module, name) → spec
_active: list[str] = []  # the active pack's module prefix, when one is


def _pack_of(module: str) -> str | None:
    return next((p for p in _PACKS if module == p or module.startswith(p + ".")), None)


def _register(module: str, spec: ActionSpec) -> None:
    pack = _pack_of(module)
    if pack is None:
        _LOOSE[(module, spec.name)] = spec
        REGISTRY[spec.name] = spec
        return
    _PACKS[pack][spec.name] = spec
    if _active and _active[0] == pack:
        REGISTRY[spec.name] = spec


def use_pack(prefix: str, modules: tuple[str, ...]) -> dict[str, ActionSpec]:
    """Makes the pack whose modules live under ``prefix`` the active one: its actions (importing ``modules``
    registers them) join the engine's, and any other pack's leave. Returns the pack's own actions."""
    import importlib

    known = _PACKS.setdefault(prefix, {})
    for key in [k for k in _LOOSE if k[0] == prefix or k[0].startswith(prefix + ".")]:
        known[key[1]] = _LOOSE.pop(key)  # imported before the pack was known
    _active[:] = [prefix]
    for module in modules:
        importlib.import_module(module)
    REGISTRY.clear()
    REGISTRY.update({name: spec for (_m, name), spec in _LOOSE.items()})
    REGISTRY.update(known)
    return dict(known)


def speaks_of(name: str) -> bool:
    """Whether a reply in this process can speak of ``name``: once a pack is active, only the actions in force;
    before, any action not known to belong to another pack."""
    if _active:
        return name in REGISTRY
    return not any(name in specs for specs in _PACKS.values())


def forget(name: str, declared: bool = False) -> None:
    """Removes an action everywhere (an action registered for a test or a pack being reloaded); with ``declared``,
    only where it is one declared in an actions file (another pack's own action of the same name stays)."""
    def gone(spec: ActionSpec | None) -> bool:
        return spec is not None and (not declared or spec.remote is not None)

    if gone(REGISTRY.get(name)):
        del REGISTRY[name]
    for key in [k for k, spec in _LOOSE.items() if k[1] == name and gone(spec)]:
        del _LOOSE[key]
    for specs in _PACKS.values():
        if gone(specs.get(name)):
            del specs[name]


def action(*, name: str, args: type[Args], writes: bool, reversible: bool, risk: str, connector: str,
           task_types: tuple[str, ...], owner: Probe, amount: Probe | None = None,
           label: str = "", confirm: bool = False,
           compensate: Compensator | None = None, preview: Previewer | None = None,
           local: bool = True, combine: tuple[str, ...] = (),
           refunds_in_full: bool = False) -> Callable[[Runner], Runner]:
    """Registers the decorated runner; its docstring becomes the tool description. A reversible action that
    writes must say how it is undone (``compensate``); one that writes outside Tandem's own database must say what
    it would change without doing it (``preview``)."""
    if writes and reversible and compensate is None:
        raise TypeError(f"action {name} is reversible but has no compensating action")
    if writes and not local and preview is None:
        raise TypeError(f"action {name} reaches an outside system but has no preview")

    def wrap(fn: Runner) -> Runner:
        _register(fn.__module__, ActionSpec(name=name, args_model=args, run=fn, description=(fn.__doc__ or "").strip(),
                                    writes=writes, reversible=reversible, risk=risk, connector=connector,
                                    task_types=task_types, owner=owner, amount=amount,
                                    label=label or name.replace("_", " ").capitalize(), confirm=confirm,
                                    compensate=compensate, preview=preview, local=local, combine=combine,
                                    refunds_in_full=refunds_in_full))
        return fn

    return wrap
