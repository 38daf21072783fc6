"""An advisor's decisions on proposals: approve (through ``execute``, which checks policy and the role again),
reject with what to tell the customer instead, and actions a person adds under the same checks."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit, packs, shown
from ..access import StaffUser, require
from ..actions import REGISTRY, ExecContext, action_label
from ..actions.execute import Outcome, execute, validation_message
from ..domain import active
from ..errors import InvalidInput, NotFound
from ..models import ROLE_RANK, Autonomy, Decision, Role
from ..policy import Policy
from ..store.db import Database, utcnow
from ..store.tables import ProposalRow, TicketRow
from ..wording import money_in
from .inbox import escalate, taking
from .queue import reread_related, reread_taken


def decision_context(db: Database, user: StaffUser, ticket_id: str, policy: Policy) -> ExecContext:
    with db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        return ExecContext(actor=user.username, role=user.role, ticket_id=ticket_id, customer_id=row.customer_id,
                           task_type=row.task_type or "unclassified", autonomy=policy.level(row.task_type or ""),
                           today=utcnow().date(), now=utcnow())


def approve(db: Database, policy: Policy, user: StaffUser, proposal_id: int,
            edited_args: dict[str, Any] | None = None, again: str = "") -> dict[str, Any]:
    """Executes a proposal on a person's approval; ``execute`` re-checks policy and the person's role. The very
    action (same details) already done for the customer from another ticket runs again only with ``again``, the
    reason to do it a second time, which the audit log keeps."""
    user = require(user, Role.advisor, db)
    with db.session() as s:
        p = s.get(ProposalRow, proposal_id)
        if p is None:
            raise NotFound(f"proposal {proposal_id} not found")
        if p.status == "executed":
            return {"status": "executed", "reason": "already executed", "result": p.result}
        if p.status == "calling":
            return {"status": "calling", "reason": "already sent; waiting for the system's answer", "result": None}
        if p.status not in {"pending", "escalated", "failed"}:
            raise InvalidInput(f"this proposal is {p.status} and cannot be approved")
        ticket_id, action, args = p.ticket_id, p.action, dict(edited_args if edited_args is not None else p.args)
        _check_dependency(s, p)
        twin = _done_before(s, p, args)
        if twin is not None and not again.strip():
            when = f" on {twin.decided_at:%d %b %Y}" if twin.decided_at else ""
            raise InvalidInput(f"this was already done for the customer{when} from ticket {twin.ticket_id}: give "
                               "the reason to do it again, or reject it")
        done_on = twin.ticket_id if twin is not None else ""
    taking(db, user, ticket_id)
    ctx = decision_context(db, user, ticket_id, policy)
    ctx.idempotency_key = f"proposal:{proposal_id}"

    def record(s: Session, out: Outcome) -> None:
        # in the execution's own transaction: an executed action is never left with a pending proposal
        p = s.get(ProposalRow, proposal_id, with_for_update=True)
        if p is None or p.status == "executed":
            return
        if done_on:  # asked to be done a second time on purpose: who, why, and what came of it
            audit.append(s, user.username, "proposal.again", ticket_id, proposal_id=proposal_id, action=action,
                         done_on=done_on, reason=again.strip()[:500], outcome=out.status)
        if out.status in {"executed", "calling"}:  # calling: sent to the team's system, its answer comes next
            p.edited = edited_args is not None and edited_args != p.args
            p.status, p.args, p.execution_key = out.status, args, out.key
            p.result = out.result if out.status == "executed" else None
            row = s.get(TicketRow, ticket_id)
            if out.status == "executed" and row is not None:  # what changed is seen on the customer's other tickets
                reread_related(s, row.customer_id, [args], ticket_id, f"{action} ran on ticket {ticket_id}",
                               said=True)
                reread_taken(s, action, args, ticket_id, f"{action} on ticket {ticket_id} took what this one asks")
        elif out.status == "denied" and above(out):
            p.required_role = out.required_role  # it waits for someone who may approve it: nothing is refused
            audit.append(s, user.username, "proposal.approved", ticket_id, proposal_id=proposal_id, action=action,
                         edited=edited_args is not None, outcome="referred", reason=out.reason)
            return
        elif out.status == "denied" and out.kind != "invalid":
            # it can never run as proposed (the order moved on, the record is not the customer's): its sentence
            # leaves the reply; arguments an advisor mistyped stay pending, to be corrected
            p.status = "denied"
        p.decided_by, p.decided_at, p.reason = user.username, utcnow(), out.reason
        audit.append(s, user.username, "proposal.approved", ticket_id, proposal_id=proposal_id, action=action,
                     edited=edited_args is not None, outcome=out.status, reason=out.reason)

    def above(out: Outcome) -> bool:  # the approver's role is below what the amount needs
        needed = next((r for r in Role if r.value == out.required_role), None)
        return out.kind == "policy" and needed is not None and ROLE_RANK[needed] > ROLE_RANK[user.role]

    out = execute(db, policy, action, args, ctx, after=record)
    if out.status == "denied" and above(out):  # a refund above the advisor's limit goes to a supervisor, waiting
        with contextlib.suppress(InvalidInput):  # already escalated: it is in the supervisors' queue
            escalate(db, user, ticket_id, f"{out.reason} (above {user.username}'s limit)")
        return {"status": "escalated", "reason": f"{out.reason}; the ticket is in the {out.required_role}s' queue, "
                                                 "the proposal waiting for them", "result": None}
    return {"status": out.status, "reason": out.reason, "result": out.result}


def _done_before(s: Session, p: ProposalRow, args: dict[str, Any]) -> ProposalRow | None:
    """The same write, with the same details, that already ran for this ticket's customer from another ticket."""
    if REGISTRY.get(p.action) is None or not REGISTRY[p.action].writes:
        return None
    customer = s.scalar(select(TicketRow.customer_id).where(TicketRow.id == p.ticket_id))
    if not customer:
        return None
    done = s.scalars(select(ProposalRow).join(TicketRow, TicketRow.id == ProposalRow.ticket_id)
                     .where(TicketRow.customer_id == customer, ProposalRow.ticket_id != p.ticket_id,
                            ProposalRow.action == p.action, ProposalRow.status == "executed")
                     .order_by(ProposalRow.decided_at.desc()).limit(100))
    return next((q for q in done if q.args == args), None)


def reject(db: Database, user: StaffUser, proposal_id: int, reason: str, say_instead: str = "") -> None:
    """Rejects a proposal; its sentence leaves the reply, replaced by ``say_instead`` when the advisor gives it."""
    user = require(user, Role.advisor, db)
    if not reason.strip():
        raise InvalidInput("give a reason for rejecting the proposal")
    with db.tx() as s:
        p = s.get(ProposalRow, proposal_id)
        if p is None:
            raise NotFound(f"proposal {proposal_id} not found")
        taking(s, user, p.ticket_id)
        if p.status != "pending" and p.status != "escalated":
            raise InvalidInput(f"this proposal is {p.status} and cannot be rejected")
        p.status, p.reject_reason, p.decided_by, p.decided_at = "rejected", reason.strip(), user.username, utcnow()
        p.customer_note = say_instead.strip() or None
        audit.append(s, user.username, "proposal.rejected", p.ticket_id, proposal_id=proposal_id, action=p.action,
                     reason=reason.strip(), say_instead=say_instead.strip())
        _reject_dependents(s, user, p)


def _dependency(s: Session, p: ProposalRow) -> ProposalRow | None:
    """The step of the same plan ``p`` needs to have run first (the nearest one before it), if it is on the ticket."""
    if not p.depends_on:
        return None
    return s.scalars(select(ProposalRow).where(ProposalRow.ticket_id == p.ticket_id,
                                               ProposalRow.action == p.depends_on,
                                               ProposalRow.position < p.position)
                     .order_by(ProposalRow.position.desc()).limit(1)).first()


def _check_dependency(s: Session, p: ProposalRow) -> None:
    """A step runs only after the one it depends on: never once that one was turned down."""
    first = _dependency(s, p)
    if first is None or first.status == "executed":
        return
    what = action_label(first.action)
    if first.status in {"rejected", "denied", "reversed"}:
        raise InvalidInput(f"this step depends on '{what}', which was {first.status}: add it again by hand if it is "
                           "still wanted")
    raise InvalidInput(f"approve '{what}' first: this step depends on it")


def _reject_dependents(s: Session, user: StaffUser, first: ProposalRow) -> None:
    """Rejecting a step rejects the open steps of its plan that need it (and those that need them)."""
    later = s.scalars(select(ProposalRow).where(ProposalRow.ticket_id == first.ticket_id,
                                                ProposalRow.position > first.position,
                                                ProposalRow.status.in_(("pending", "escalated")))
                      .order_by(ProposalRow.position)).all()
    for p in later:
        dep = _dependency(s, p)
        if dep is not None and dep.status == "rejected":
            p.status, p.decided_by, p.decided_at = "rejected", user.username, utcnow()
            p.reject_reason = f"'{action_label(dep.action)}', which this step depends on, was rejected"
            audit.append(s, user.username, "proposal.rejected", p.ticket_id, proposal_id=p.id, action=p.action,
                         reason=p.reject_reason, because_of=first.id)


# ------------------------------------------------------------------ actions a person adds
def addable_actions() -> list[str]:
    """The writes an advisor may add to a ticket by hand: every write of the actions in force but the reply and
    the escalation, which have their own buttons."""

    return sorted((n for n, spec in REGISTRY.items() if spec.writes and n not in {"send_reply", "escalate_to_human"}),
                  key=lambda n: REGISTRY[n].label or n)


class Choices(dict[str, list[tuple[str, str]]]):
    """Record choices by field, each value knowing the records it sits under (an item its order, an option its
    item), so that an action's fields offer only what goes with the records its other fields name."""

    def __init__(self, found: dict[str, list[tuple[str, str]]], under: dict[tuple[str, str], set[tuple[str, str]]]
                 ) -> None:
        super().__init__(found)
        self.under = under

    def within(self, args: dict[str, Any]) -> Choices:
        """The choices for an action with ``args``: a field whose values sit under the records the other fields
        name offers those alone (the items of the order being changed, the options of the item being swapped);
        the value it holds now always stays."""
        named = {(k[:-1] if k.endswith("_ids") else k, str(x)) for k, v in args.items()
                 for x in (v if isinstance(v, list) else [v]) if isinstance(x, str | int) and not isinstance(x, bool)}
        out = {}
        for field, values in self.items():
            many = args.get(field + "s")
            current = {str(x) for x in (many if isinstance(many, list) else [args.get(field)]) if isinstance(x, str | int)}
            others = {n for n in named if n[0] != field}
            near = {x: len(self.under.get((field, x), set()) & others) for x, _ in values}
            most = max(near.values(), default=0)  # the option under the very item named, not its order's others
            fits = [(x, t) for x, t in values if (most and near[x] == most) or x in current]
            out[field] = fits if any(x not in current for x, _ in fits) else values
        return Choices(out, self.under)


def record_choices(snapshot: dict[str, Any] | None) -> Choices:
    """The customer's own records as choices for an action's fields, by field name: every ``…_id`` value found in
    the snapshot (an order's ``order_id``, its items' ``item_id``, an appointment's free ``slot_id``…), the ``id``
    of a record listed under a plural key (``payment_methods`` gives ``payment_method_id``), and the other options
    of a product (``variants``) as ``new_item_id``; each with a short label a person recognises."""
    out: dict[str, dict[str, str]] = {}

    def describe(record: dict[str, Any], key: str) -> str:
        if record.get("brand") and record.get("last_four"):  # a card as people name it
            return f"{record[key]} · {shown.card(record['brand'], record['last_four'])}"
        if isinstance(record.get("label"), str) and record["label"].strip():  # the records' own name for it
            return f"{record[key]} · {record['label']}"
        bits = []
        for k in ("name", "description", "source", "options", "kind", "status", "start", "date", "brand", "last_four",
                  "label", "origin", "destination", "amount", "price"):
            if k == "kind" and record.get("description"):  # "Call-out charge" says it; "callout" is its code
                continue
            if k == "status" and record.get("options"):  # an item is what it is ("Desk Lamp · white"), not "ordered"
                continue
            v = record.get(k)
            if isinstance(v, dict):
                v = " ".join(str(x) for x in v.values())
            if isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v).strip():
                bits.append(money_in(float(v)) if k in ("amount", "price") and isinstance(v, int | float)
                            else shown.value(v))
        return f"{record[key]} · {' · '.join(bits[:3])}" if bits else str(record[key])

    def walk(value: Any, parent: str, prefix: str = "", path: tuple[tuple[str, str], ...] = ()) -> None:
        if isinstance(value, dict):
            own = next((k for k in value if k.endswith("_id")), "")  # the record's own id; later ones refer on
            if own and isinstance(value[own], str | int) and not isinstance(value[own], bool):
                path = (*path, (prefix + own, str(value[own])))
            for key, v in value.items():
                if key.endswith("_id") and isinstance(v, (str, int)) and not isinstance(v, bool) and str(v):
                    # an invoice names its appointment: the appointment's own record says what it is
                    if key == own:
                        out.setdefault(prefix + key, {})[str(v)] = describe(value, key)
                        under.setdefault((prefix + key, str(v)), set()).update(path[:-1])
                        if isinstance(value.get("start"), str):  # a time on offer: read in time order, once
                            starts[(prefix + key, str(v))] = value["start"]
                    else:
                        out.setdefault(prefix + key, {}).setdefault(str(v), str(v))
                elif key == "id" and parent.endswith("s") and isinstance(v, (str, int)) and str(v):
                    owners[str(v)] = describe(value, key)
                    out.setdefault(prefix + parent[:-1] + "_id", {}).setdefault(str(v), owners[str(v)])
                if key == "variants" and isinstance(v, dict):  # each item's other options, named by its product
                    names = {str(i.get("item_id")): i.get("name") for i in value.get("items") or []
                             if isinstance(i, dict)}
                    for item, options in v.items():
                        for o in options if isinstance(options, list) else []:
                            if isinstance(o, dict) and o.get("item_id"):
                                named = {**o, "name": o.get("name") or names.get(str(item)) or ""}
                                out.setdefault("new_item_id", {})[str(o["item_id"])] = describe(named, "item_id")
                                under.setdefault(("new_item_id", str(o["item_id"])), set()).update(
                                    {*path, ("item_id", str(item))})
                elif key == "variants":
                    walk(v, key, "new_", path)
                elif isinstance(v, (dict, list)) and key not in {"payments", "changes", "notes"}:
                    walk(v, key, prefix, path)
        elif isinstance(value, list):
            for v in value:
                walk(v, parent, prefix, path)

    under: dict[tuple[str, str], set[tuple[str, str]]] = {}  # (field, value) → the records it sits under
    owners: dict[str, str] = {}  # a value's label from the record it is the id of ("Visa card ending 3681")
    starts: dict[tuple[str, str], str] = {}
    walk(snapshot or {}, "")
    # a payment's ``payment_id`` names a payment method: it reads as that method, not as the payment's amount
    found = {k: sorted((x, owners.get(x, text)) for x, text in v.items()) for k, v in out.items()}
    return Choices({k: _times_once(k, v, starts) if any((k, x) in starts for x, _ in v) else v
                    for k, v in found.items()}, under)


def _times_once(field: str, choices: list[tuple[str, str]], starts: dict[tuple[str, str], str]
                ) -> list[tuple[str, str]]:
    """Times on offer (free slots), in time order; several free at the same time (one per technician, say) read
    alike and say how many are free, so a list shows each time once (``once_each``) and any of them still names
    its time."""
    alike: dict[str, list[str]] = {}
    for x, text in sorted(choices, key=lambda c: (starts.get((field, c[0]), ""), c[0])):
        alike.setdefault(text.split(" · ", 1)[-1], []).append(x)
    return [(x, f"{x} · {when}" + (f" · {len(ids)} free at this time" if len(ids) > 1 else ""))
            for when, ids in alike.items() for x in ids]


def once_each(choices: list[tuple[str, str]], current: str | None = None) -> list[tuple[str, str]]:
    """Choices a person reads the same (the same time, free with several technicians) offered once: the one
    already chosen where it is among them, else the first."""
    def said(text: str) -> str:
        return text.split(" · ", 1)[-1]

    chosen = {said(t) for x, t in choices if x == current}
    out: dict[str, tuple[str, str]] = {}
    for x, text in choices:
        if said(text) not in out or (x == current and said(text) in chosen):
            out[said(text)] = (x, text)
    return list(out.values())


def field_options(db: Database, action: str, args: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """What the pack's systems offer for an action's fields now, by field (each value as JSON, with a label a
    person reads): the flights for sale on a booking's route around its dates, say. Empty when the pack searches
    for nothing."""
    search = getattr(packs.records(active()), "field_options", None)
    if search is None:
        return {}
    with db.session() as s:
        found = search(s, action, dict(args), utcnow())
    return {field: [(json.dumps(v, sort_keys=True), text) for v, text in options] for field, options in found.items()}


def ticket_choices(db: Database, ticket_id: str) -> Choices:
    """``record_choices`` for the customer on a ticket, or the account its message names (none when it names no
    known customer)."""
    with db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        # the account the message named, when its sender is not verified: its records are named for the advisor
        customer_id = row.customer_id or (row.result or {}).get("customer_id")
        if not customer_id:
            return Choices({}, {})
        snap = packs.records(active()).snapshot(s, customer_id, utcnow())
    return record_choices(snap)


def add_action(db: Database, policy: Policy, user: StaffUser, ticket_id: str, action: str,
               args: dict[str, Any]) -> dict[str, Any]:
    """A proposal a person adds to a ticket by hand, held to everything the agent's own are: its arguments
    validated, its owner checked against the ticket's customer, policy decided and the change rehearsed against the
    records with no side effect. Nothing runs here: it waits for approval like any proposal (and for a supervisor
    above the advisor's limit). A refusal raises one line and stores nothing."""

    user = require(user, Role.advisor, db)
    spec = REGISTRY.get(action)
    if spec is None or not spec.writes or action not in addable_actions():
        raise InvalidInput(f"action: '{action}' is not an action that can be added here")
    try:
        clean = spec.args_model.model_validate(args).model_dump(mode="json")
    except ValidationError as exc:
        raise InvalidInput(f"{spec.label}: {validation_message(exc).replace('_', ' ')}") from exc
    with db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        if row.status not in {"open", "escalated", "waiting"}:
            raise InvalidInput(f"this ticket is {row.status}; actions are added to open, escalated or waiting tickets")
    taking(db, user, ticket_id)
    ctx = decision_context(db, user, ticket_id, policy)
    # decided as the agent's own proposals are (a person approves it), and only rehearsed, never run, here
    ctx.role, ctx.autonomy, ctx.dry_run = None, int(Autonomy.copilot), True
    box: dict[str, Any] = {}

    def record(s: Session, out: Outcome) -> None:
        if out.status != "needs_approval":
            return
        position = (s.scalar(select(func.max(ProposalRow.position)).where(ProposalRow.ticket_id == ticket_id))
                    or 0) + 1
        role = out.required_role or Role.advisor.value
        p = ProposalRow(ticket_id=ticket_id, position=max(position, 1000), action=action, args=clean,
                        rationale=f"added by {user.display_name}", decision=Decision.needs_approval.value,
                        reason="checked against the customer's records; waits for approval"
                        + (f" by a {role}" if role != Role.advisor.value else ""),
                        required_role=role, status="pending")
        s.add(p)
        s.flush()
        box["id"] = p.id
        audit.append(s, user.username, "proposal.added", ticket_id, proposal_id=p.id, action=action, args=clean,
                     required_role=role)

    out = execute(db, policy, action, clean, ctx, after=record)
    if "id" not in box:
        why = "it was already done on this ticket" if out.duplicate else out.reason or "it cannot be done here"
        raise InvalidInput(f"{spec.label}: {why}")
    return {"id": box["id"], "status": "pending", "required_role": out.required_role or Role.advisor.value}


