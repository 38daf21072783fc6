"""``execute``: invariants in the action code, owner checks, roles, idempotency, audit events."""

from __future__ import annotations

from sqlalchemy import func, select

from cx_core import audit
from cx_core.actions import REGISTRY, ExecContext
from cx_core.actions.execute import execute
from cx_core.models import Role
from cx_core.services import Services
from cx_core.store.tables import AuditRow, ExecutionRow
from tests.conftest import NOW
from tests.helpers import DEMO_ADMIN, find_order, order, refunds


def ctx(customer_id: str | None, role: Role | None = None, autonomy: int = 3, **kw: object) -> ExecContext:
    return ExecContext(actor="tester" if role else "agent", role=role, ticket_id="T-1", customer_id=customer_id,
                       autonomy=autonomy, today=NOW.date(), now=NOW, **kw)  # type: ignore[arg-type]


def kinds(svc: Services) -> list[str]:
    return [e.kind for e in reversed(audit.events(svc.db, DEMO_ADMIN))]


def test_every_action_has_a_docstring_and_a_schema() -> None:
    from cx_core.domain import active

    active()  # the demo company's actions in force, whichever test ran first
    assert len(REGISTRY) >= 14
    for spec in REGISTRY.values():
        assert spec.description, spec.name
        schema = spec.tool_schema()["function"]["parameters"]
        assert schema.get("additionalProperties") is False


def test_cancel_only_pending(services: Services) -> None:
    o = find_order(services, "processed")
    out = execute(services.db, services.policy(), "cancel_order", {"order_id": o["order_id"],
                  "reason": "no longer needed"}, ctx(o["user_id"], Role.advisor))
    assert out.status == "denied" and "only pending" in out.reason
    assert order(services, o["order_id"]).status == "processed"
    assert kinds(services)[-1] == "action.denied"


def test_cancel_pending_refunds_everything(services: Services) -> None:
    o = find_order(services, "pending")
    out = execute(services.db, services.policy(), "cancel_order", {"order_id": o["order_id"],
                  "reason": "ordered by mistake"}, ctx(o["user_id"], Role.supervisor))
    assert out.status == "executed"
    assert order(services, o["order_id"]).status == "cancelled"
    assert abs(sum(refunds(services, o["order_id"])) - o["total"]) < 0.01


def test_address_changes_once(services: Services) -> None:
    o = find_order(services, "pending")
    args = {"order_id": o["order_id"], "address1": "12 Oak Street", "city": "Austin", "state": "TX", "zip": "78701"}
    first = execute(services.db, services.policy(), "change_shipping_address", args, ctx(o["user_id"], Role.advisor))
    assert first.status == "executed"
    second = execute(services.db, services.policy(), "change_shipping_address", {**args, "address1": "9 Elm Road"},
                     ctx(o["user_id"], Role.advisor))
    assert second.status == "denied" and "already changed once" in second.reason
    assert order(services, o["order_id"]).address1 == "12 Oak Street"


def test_refund_never_above_paid(services: Services) -> None:
    o = find_order(services, "delivered", max_total=400)
    out = execute(services.db, services.policy(), "refund", {"order_id": o["order_id"], "amount": o["total"] + 1,
                  "reason": "test"}, ctx(o["user_id"], Role.supervisor))
    assert out.status == "denied" and "above what remains paid" in out.reason
    assert refunds(services, o["order_id"]) == []


def test_exchange_stays_within_the_product(services: Services) -> None:
    o = find_order(services, "delivered", single_item=True)
    other = find_order(services, "delivered", other_than=o["user_id"])
    out = execute(services.db, services.policy(), "exchange_item", {"order_id": o["order_id"],
                  "item_ids": [o["item_id"]], "new_item_ids": [other["item_id"]]}, ctx(o["user_id"], Role.advisor))
    if o["item"] != other["item"]:
        assert out.status == "denied" and "same product" in out.reason


def test_record_of_another_customer_is_refused(services: Services) -> None:
    o = find_order(services, "pending")
    out = execute(services.db, services.policy(), "cancel_order", {"order_id": o["order_id"],
                  "reason": "no longer needed"}, ctx("somebody_else_1234", Role.supervisor))
    assert out.status == "denied" and "does not belong" in out.reason
    nobody = execute(services.db, services.policy(), "lookup_order", {"order_id": o["order_id"]}, ctx(None))
    assert nobody.status == "denied"
    assert order(services, o["order_id"]).status == "pending"


def test_unknown_action_and_extra_fields_are_refused(services: Services) -> None:
    o = find_order(services, "pending")
    assert execute(services.db, services.policy(), "wire_money", {}, ctx(o["user_id"])).status == "denied"
    out = execute(services.db, services.policy(), "lookup_order", {"order_id": o["order_id"], "approved": True},
                  ctx(o["user_id"]))
    assert out.status == "denied" and "approved" in out.reason


def test_roles_are_rechecked_on_approval(services: Services) -> None:
    o = find_order(services, "delivered", min_total=600)
    args = {"order_id": o["order_id"], "amount": 550.0, "reason": "goodwill"}
    advisor = execute(services.db, services.policy(), "refund", args, ctx(o["user_id"], Role.advisor))
    assert advisor.status == "denied" and "supervisor" in advisor.reason
    supervisor = execute(services.db, services.policy(), "refund", args, ctx(o["user_id"], Role.supervisor))
    assert supervisor.status == "executed"


def test_idempotency_never_repeats_a_side_effect(services: Services) -> None:
    o = find_order(services, "delivered", min_total=60)
    args = {"order_id": o["order_id"], "amount": 10.0, "reason": "late delivery"}
    c = ctx(o["user_id"], Role.advisor, idempotency_key="proposal:42")
    first = execute(services.db, services.policy(), "refund", args, c)
    again = execute(services.db, services.policy(), "refund", args, c)
    assert first.status == again.status == "executed" and again.duplicate
    assert refunds(services, o["order_id"]) == [10.0]
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ExecutionRow)) == 1
        assert s.scalar(select(func.count()).where(AuditRow.kind == "action.executed")) == 1


def test_agent_waits_for_approval_below_level_three(services: Services) -> None:
    o = find_order(services, "pending")
    args = {"order_id": o["order_id"], "address1": "12 Oak Street", "city": "Austin", "state": "TX", "zip": "78701"}
    out = execute(services.db, services.policy(), "change_shipping_address", args, ctx(o["user_id"], autonomy=2))
    assert out.status == "needs_approval"
    assert order(services, o["order_id"]).address1 != "12 Oak Street"
    assert kinds(services)[-1] == "action.needs_approval"
