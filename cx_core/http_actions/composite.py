"""One step made of several declared actions, approved once: a reschedule where the team's system has no "move" (cancel
the booked visit, then book the new one), declared in ``actions.yaml`` under ``composites``:

```yaml
composites:
  - name: reschedule_visit
    label: Move an engineer visit
    description: Cancel the booked visit and book the new time, as one change.
    arguments: {type: object, required: [visit_id, account_id, date, period], properties: {…}}
    parts:
      - {action: cancel_visit, args: {visit_id: "{visit_id}"}}
      - {action: book_visit, args: {account_id: "{account_id}", date: "{date}", period: "{period}"}}
    wording: {proposed: "I've asked a colleague to approve moving your visit to {date:date}…"}
```

Each part is a declared write of the same file. The whole is checked as one action (its arguments, owner, policy
and limits), previewed part by part, approved once and sent once through the outbox; the parts run in order, each
with its own idempotency key (the whole's key and the part's place), so a retry never does a part twice. When a
later part fails, the parts that ran are undone where each has an undo, and the whole fails with what was undone.
A part may use what an earlier one returned: ``{parts.0.id}``. The whole is reversible when every part is, undone
last part first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..actions.base import REGISTRY, ActionSpec, ExecContext
from ..errors import ConfigError, PolicyDenied, TandemError
from . import calls
from .schema import model_from_schema
from .spec import Composite


def _part_args(name: str, template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    spec = REGISTRY[name]
    return dict(spec.args_model.model_validate(calls.render(template, values)).model_dump(mode="json"))


@dataclass
class CompositeRemote:
    """The outside side of a composite: its parts' calls in order, undone when a later one fails."""

    comp: Composite

    @property
    def idempotent(self) -> bool:
        return all(getattr(REGISTRY[p.action].remote, "idempotent", False) for p in self.comp.parts)

    def call(self, args: dict[str, Any], key: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        done: list[dict[str, Any]] = []
        facts: list[dict[str, Any]] = []
        for i, part in enumerate(self.comp.parts):
            spec = REGISTRY[part.action]
            try:
                part_args = _part_args(part.action, part.args, {**args, "parts": [d["result"] for d in done]})
                result, fact = spec.remote.call(part_args, key=f"{key}:{i}" if key else None)
            except (calls.CallFailed, ConfigError, ValueError) as exc:
                undone = undo_parts(done, key)
                how = (f"; {', '.join(undone)} undone" if undone else
                       "; nothing had run before it" if not done else "; what ran before it could not be undone")
                facts_of = exc.facts if isinstance(exc, calls.CallFailed) else {}
                raise calls.CallFailed(f"{spec.label or part.action} failed: {exc}{how}", facts=facts_of) from exc
            done.append({"action": part.action, "args": part_args, "result": result})
            facts.append(fact)
        return {"parts": done, **(done[-1]["result"] if done else {})}, {"parts": facts}


def undo_parts(done: list[dict[str, Any]], key: str | None) -> list[str]:
    """Undoes the parts that ran, last first, where each has an undo; returns the labels of those undone."""
    undone = []
    for i, part in reversed(list(enumerate(done))):
        spec = REGISTRY.get(part["action"])
        if spec is None or spec.compensate is None:
            continue
        ctx = ExecContext(actor="agent", role=None, ticket_id=None, customer_id=None,
                          idempotency_key=f"{key or part['action']}:{i}")
        try:
            spec.compensate(None, spec.args_model.model_validate(part["args"]), part["result"], ctx)  # type: ignore[arg-type]
        except TandemError:
            continue
        undone.append(spec.label or part["action"])
    return undone


def build(comp: Composite) -> ActionSpec:
    """The registry's spec for a composite whose parts are in force."""
    model = model_from_schema(comp.name, comp.arguments, f"composites.{comp.name}.arguments")
    remote = CompositeRemote(comp)
    first = REGISTRY[comp.parts[0].action]

    def dump(a: Any) -> dict[str, Any]:
        return dict(a.model_dump(mode="json"))

    def run(s: Session, a: Any, ctx: ExecContext) -> dict[str, Any]:
        return calls.run_remote(remote, a, ctx.idempotency_key)

    def owner(s: Session, a: Any) -> str | None:
        """Whose record it changes: every part's owner, and all the same customer (else nobody's, so refused)."""
        owners = set()
        for part in comp.parts:
            spec = REGISTRY[part.action]
            if spec.owner is None or "{parts." in str(part.args):
                continue
            owners.add(spec.owner(s, spec.args_model.model_validate(calls.render(part.args, dump(a)))))
        return owners.pop() if len(owners) == 1 else None if owners else None

    def preview(s: Session, a: Any, ctx: ExecContext) -> dict[str, Any]:
        """Each part's own preview (a part that reads an earlier part's result is checked when it runs)."""
        seen = []
        for part in comp.parts:
            spec = REGISTRY[part.action]
            if "{parts." in str(part.args) or spec.preview is None:
                continue
            try:
                part_args = spec.args_model.model_validate(calls.render(part.args, dump(a)))
            except ValueError as exc:
                raise PolicyDenied(f"{spec.label}: {exc}") from exc
            seen.append({"action": part.action, **spec.preview(s, part_args, ctx)})
        return {"parts": seen, **dump(a)}

    def undo(s: Session, a: Any, result: dict[str, Any], ctx: ExecContext) -> dict[str, Any]:
        done = list(result.get("parts") or [])
        undone = undo_parts(done, ctx.idempotency_key)
        if len(undone) < len(done):
            raise PolicyDenied(f"only {len(undone)} of its {len(done)} parts could be undone")
        return {"undone": True, "parts": undone}

    reversible = all(REGISTRY[p.action].compensate is not None for p in comp.parts)
    return ActionSpec(name=comp.name, args_model=model, run=run, description=comp.description, writes=True,
                      reversible=reversible, risk=comp.risk, connector=first.connector,
                      task_types=tuple(comp.task_types), owner=owner, label=comp.label or comp.name.replace("_", " ")
                      .capitalize(), confirm=comp.confirm if comp.confirm is not None else True,
                      compensate=undo if reversible else None, preview=preview, local=False, remote=remote)
