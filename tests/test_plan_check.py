"""A plan checked as a whole: steps of one action on one record combined, steps that earlier ones make impossible
held for the customer's choice, and nothing changed by the rehearsal."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cx_core import plan_check
from cx_core.actions import ExecContext
from cx_core.plans import Step
from cx_core.services import Services
from domains.lumen.tables import OrderItemRow, OrderRow, VariantRow
from tests.conftest import NOW


def _delivered_with_two_items(svc: Services) -> dict[str, Any]:
    with svc.db.session() as s:
        for o in s.scalars(select(OrderRow).where(OrderRow.status == "delivered").order_by(OrderRow.order_id)):
            items = list(s.scalars(select(OrderItemRow).where(OrderItemRow.order_id == o.order_id)
                                   .order_by(OrderItemRow.position)))
            if len(items) < 2:
                continue
            other = s.scalars(select(VariantRow).where(VariantRow.product_id == items[1].product_id,
                                                       VariantRow.item_id != items[1].item_id,
                                                       VariantRow.available.is_(True))).first()
            if other is None:
                continue
            return {"order_id": o.order_id, "user_id": o.user_id, "a": items[0].item_id, "b": items[1].item_id,
                    "b_new": other.item_id, "today": o.delivered_on or NOW.date()}
    raise LookupError("no delivered order with two items and another option")


def _ctx(o: dict[str, Any]) -> ExecContext:
    """The agent on a ticket of the order's customer, on a day its return window is open."""
    return ExecContext(actor="agent", role=None, ticket_id="PLAN-1", customer_id=o["user_id"], today=o["today"],
                       now=NOW)


def test_a_return_and_an_exchange_of_one_delivered_order_wait_for_the_customers_choice(services: Services) -> None:
    o = _delivered_with_two_items(services)
    steps = [Step("return_items", {"order_id": o["order_id"], "item_ids": [o["a"]]}, "return_refund", "return A"),
             Step("exchange_item", {"order_id": o["order_id"], "item_ids": [o["b"]], "new_item_ids": [o["b_new"]]},
                  "exchange", "exchange B")]
    checked = plan_check.check(services.db, steps, _ctx(o))
    assert checked.conflicts == 1
    assert all(st.missing.startswith("the customer to choose either 'return items' or 'exchange item' on order")
               for st in checked.steps)
    assert o["order_id"] in checked.questions["exchange"] and "Which would you like?" in checked.questions["exchange"]
    with services.db.session() as s:  # the rehearsal changed nothing
        row = s.get(OrderRow, o["order_id"])
        assert row is not None and row.status == "delivered"


def test_two_returns_of_one_order_become_one_and_steps_on_different_orders_stand(services: Services) -> None:
    o = _delivered_with_two_items(services)
    steps = [Step("return_items", {"order_id": o["order_id"], "item_ids": [o["a"]]}, "return_refund", "return A"),
             Step("return_items", {"order_id": o["order_id"], "item_ids": [o["b"]]}, "return_refund", "return B")]
    checked = plan_check.check(services.db, steps, _ctx(o))
    assert checked.combined == 1 and len(checked.steps) == 1
    assert checked.steps[0].args["item_ids"] == [o["a"], o["b"]] and not checked.steps[0].missing
    assert checked.conflicts == 0 and checked.questions == {}


def test_a_step_refused_on_its_own_is_not_a_conflict(services: Services) -> None:
    o = _delivered_with_two_items(services)
    steps = [Step("return_items", {"order_id": o["order_id"], "item_ids": [o["a"]]}, "return_refund", "return A"),
             Step("cancel_order", {"order_id": o["order_id"], "reason": "no longer needed"}, "order_cancel",
                  "cancel")]
    checked = plan_check.check(services.db, steps, _ctx(o))
    assert checked.conflicts == 0 and not any(st.missing for st in checked.steps)  # the cancel is refused alone


def test_a_write_two_requests_ask_for_is_proposed_once_and_its_missing_value_not_asked() -> None:
    """"One unit of my mesh pack arrived cracked … I'd like a replacement": read as a damaged item (a replacement,
    same option) and as an exchange (which option?), the settled step stands for both."""
    from cx_core.plans import Plan

    done = Step("exchange_item", {"order_id": "#W1", "item_ids": ["1"], "new_item_ids": ["1"]}, "damaged_item",
                "a replacement of the damaged item")
    asked = Step("exchange_item", {"order_id": "#W1", "item_ids": ["1"]}, "exchange", "an exchange",
                 missing="the new option")
    other = Step("exchange_item", {"order_id": "#W2", "item_ids": ["7"]}, "exchange", "an exchange",
                 missing="the new option")
    plan = Plan(steps=[done, asked], questions={"exchange": "which option would you like?"})
    plan.asked_once()
    assert plan.steps == [done] and plan.questions == {} and plan.covered == ["exchange"]
    plan = Plan(steps=[done, other], questions={"exchange": "which option would you like?"})
    plan.asked_once()  # another record: still asked
    assert plan.steps == [done, other] and plan.questions and plan.covered == []
