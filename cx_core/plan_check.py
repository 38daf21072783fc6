"""A plan checked as a whole before anyone sees it.

Each proposed write is checked on its own by its action (its preview, or a run rolled back). That is not enough
when a ticket asks for several: a return and an exchange of one delivered order can each be done, but never both;
a change to an order that another step cancels cannot be done after it. So the steps are also rehearsed together,
in order, inside one savepoint that is rolled back: each step that changes Tandem's own records runs, and the steps
after it are checked against the state it leaves. Nothing changes, here or in any outside system.

- Two steps of the same action on the same record, differing only in lists the action declares it can take
  together (``combine``: the items of one return), become one step.
- A step that can be done alone but not after an earlier one is not proposed as it stands: both wait for the
  customer to choose, and the draft asks which one (the step's ``missing`` says so to the advisor).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from .actions.base import REGISTRY, ActionSpec, ExecContext
from .errors import InvalidInput, NotFound, PolicyDenied
from .plans import Step
from .store.db import Database
from .wording import WORDING

REFUSALS = (PolicyDenied, InvalidInput, NotFound)


@dataclass
class Checked:
    """The steps as they may be proposed, and a question per request intent for the customer."""

    steps: list[Step]
    questions: dict[str, str]
    combined: int = 0
    conflicts: int = 0


def _spec(step: Step) -> ActionSpec | None:
    spec = REGISTRY.get(step.action)
    return spec if spec is not None and spec.writes else None


def _ready(step: Step) -> bool:
    """A write that can be tried: nothing missing, nothing it waits on, and no person to decide first (a step held
    for a danger or a condition is theirs, not the customer's choice)."""
    return _spec(step) is not None and not step.missing and not step.depends_on and not step.held


def combine(steps: list[Step]) -> tuple[list[Step], int]:
    """Steps of one action that differ only in the lists the action can take together, as one step (lists joined
    in order); returns the steps and how many were folded into another."""
    out: list[Step] = []
    folded = 0
    for step in steps:
        spec = _spec(step)
        lists = spec.combine if spec is not None and _ready(step) else ()
        target = next((o for o in out if lists and o.action == step.action and _ready(o)
                       and _same_except(o.args, step.args, lists)), None)
        if target is None:
            out.append(step)
            continue
        target.args = {**target.args, **{k: [*target.args.get(k, []), *step.args.get(k, [])] for k in lists}}
        if step.rationale and step.rationale not in target.rationale:
            target.rationale = f"{target.rationale}; {step.rationale}" if target.rationale else step.rationale
        folded += 1
    return out, folded


def _same_except(a: dict[str, Any], b: dict[str, Any], lists: tuple[str, ...]) -> bool:
    keys = (set(a) | set(b)) - set(lists)
    return all(a.get(k) == b.get(k) for k in keys) and all(isinstance(a.get(k, []), list)
                                                          and isinstance(b.get(k, []), list) for k in lists)


def check(db: Database, steps: list[Step], ctx: ExecContext) -> Checked:
    """The steps combined where their action allows and rehearsed together; a step that earlier steps make
    impossible waits, with the earlier one, for the customer's choice."""
    steps, folded = combine(steps)
    ready = [i for i, st in enumerate(steps) if _ready(st)]
    questions: dict[str, str] = {}
    if len(ready) < 2:
        return Checked(steps, questions, folded)
    rehearsal = replace(ctx, dry_run=True)
    parsed: dict[int, Any] = {}
    for i in ready:
        spec = _spec(steps[i])
        assert spec is not None
        try:
            parsed[i] = spec.args_model.model_validate(steps[i].args)
        except ValidationError:
            continue  # refused on its own when it is run
    conflicts = 0
    with db.session() as s:
        try:  # one savepoint per trial, all rolled back; a database too busy to rehearse in leaves the steps as they are
            alone = {i for i in parsed if _refusal(s, steps, parsed, [], i, rehearsal) is None}
            held: set[int] = set()
            for j in sorted(alone):
                for i in sorted(alone):
                    if i >= j or i in held or j in held or not _changes_state(steps[i]):
                        continue
                    why = _refusal(s, steps, parsed, [i], j, rehearsal)
                    if why is None:
                        continue
                    conflicts += 1
                    held |= {i, j}
                    _hold(steps, i, j, why, questions)
                    break
        except OperationalError:
            pass
        finally:
            s.rollback()
    return Checked(steps, questions, folded, conflicts)


def _changes_state(step: Step) -> bool:
    """A step whose rehearsal leaves a state later steps can be checked against: one that only writes Tandem's own
    records (an outside system's write is previewed, and its preview changes nothing)."""
    spec = _spec(step)
    return spec is not None and spec.local and spec.preview is None and spec.remote is None


def _refusal(s: Any, steps: list[Step], parsed: dict[int, Any], earlier: list[int], j: int, ctx: ExecContext
             ) -> str | None:
    """Why step ``j`` is refused after the ``earlier`` steps ran (in a savepoint rolled back), or None."""
    savepoint = s.begin_nested()
    try:
        for i in earlier:
            spec = _spec(steps[i])
            assert spec is not None
            spec.run(s, parsed[i], ctx)
        spec_j = _spec(steps[j])
        assert spec_j is not None
        spec_j.check(s, parsed[j], ctx)
        return None
    except REFUSALS as exc:
        return str(exc)
    finally:
        savepoint.rollback()


def _record_words(a: dict[str, Any], b: dict[str, Any]) -> str:
    """The record two steps share, as people name it ("order 1001"), from an ``…_id`` argument both carry."""
    for key, value in a.items():
        if key.endswith("_id") and isinstance(value, str) and value and b.get(key) == value:
            return f"{key[:-3].replace('_', ' ')} {value}"
    return ""


def _noun(action: str) -> str:
    """How a reply names the action ("the return"), else its label."""
    w = WORDING.get(action)
    return w.noun if w is not None else f"the {REGISTRY[action].label.lower()}"


def _hold(steps: list[Step], i: int, j: int, why: str, questions: dict[str, str]) -> None:
    a, b = REGISTRY[steps[i].action].label.lower(), REGISTRY[steps[j].action].label.lower()
    record = _record_words(steps[i].args, steps[j].args)
    on = f" on {record}" if record else ""
    head = (record[0].upper() + record[1:]) if record else "This"
    if a == b:
        choice = f"which {a}{on} they want (only one can be done: {why})"
        ask = f"Only one {_noun(steps[i].action).removeprefix('the ')}{on} can be done; which would you like?"
    else:
        choice = f"either '{a}' or '{b}'{on} (only one can be done: {why})"
        ask = (f"{head} can have only one of these: {_noun(steps[i].action)} or {_noun(steps[j].action)}. "
               "Which would you like?")
    for k in (i, j):
        steps[k] = replace(steps[k], missing=f"the customer to choose {choice}")
    intent = steps[j].intent or steps[i].intent
    questions[intent] = f"{questions[intent]} {ask}" if intent in questions else ask
