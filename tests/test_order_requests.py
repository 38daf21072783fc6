"""Reading what a customer wants done with their orders: grounded in their records, unsure rather than wrong."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from cx_core.actions import ExecContext
from cx_core.actions.execute import execute
from cx_core.models import Role
from cx_core.services import Services
from domains.lumen.backend import orders as orders_connector
from domains.lumen.order_requests import interpret
from domains.lumen.tables import CustomerRow, OrderItemRow, PaymentRow, VariantRow
from tests.conftest import NOW
from tests.helpers import find_order, order

SHIRTS = [
    {"item_id": "S-BLUE-M", "options": {"color": "blue", "size": "M", "material": "cotton"}, "available": True,
     "price": 20.0},
    {"item_id": "S-BLUE-L", "options": {"color": "blue", "size": "L", "material": "cotton"}, "available": True,
     "price": 21.0},
    {"item_id": "S-RED-M", "options": {"color": "red", "size": "M", "material": "cotton"}, "available": True,
     "price": 22.0},
    {"item_id": "S-RED-MP", "options": {"color": "red", "size": "M", "material": "polyester"}, "available": True,
     "price": 23.0},
    {"item_id": "S-BLACK-M", "options": {"color": "black", "size": "M", "material": "cotton"}, "available": False,
     "price": 24.0},
]
LAMPS = [
    {"item_id": "L-1", "options": {"brightness": "high", "color": "white"}, "available": True, "price": 40.0},
    {"item_id": "L-2", "options": {"brightness": "low", "color": "white"}, "available": True, "price": 30.0},
    {"item_id": "L-3", "options": {"brightness": "low", "color": "black"}, "available": True, "price": 25.0},
]
HOME = {"address1": "1 Main Street", "address2": "", "city": "Austin", "state": "TX", "country": "USA",
        "zip": "78701"}
NYC = {"address1": "5 Park Avenue", "address2": "Apt 2", "city": "New York", "state": "NY", "country": "USA",
       "zip": "10016"}


def _item(item_id: str, name: str, options: dict[str, str], price: float) -> dict[str, Any]:
    return {"item_id": item_id, "product_id": name, "name": name, "price": price, "options": options,
            "status": "ordered"}


def _order(oid: str, status: str, items: list[dict[str, Any]], address: dict[str, str] = HOME,
           method: str = "credit_card_1") -> dict[str, Any]:
    variants = {i["item_id"]: SHIRTS if i["name"] == "T-Shirt" else LAMPS for i in items}
    return {"order_id": oid, "status": status, "items": items, "address": address, "variants": variants,
            "payments": [{"type": "payment", "amount": sum(i["price"] for i in items), "method": method}]}


def snap() -> dict[str, Any]:
    shirt = _item("S-BLUE-M", "T-Shirt", SHIRTS[0]["options"], 20.0)
    lamp = _item("L-1", "Desk Lamp", LAMPS[0]["options"], 40.0)
    pending_shirt = _item("S-BLUE-L", "T-Shirt", SHIRTS[1]["options"], 21.0)
    return {
        "profile": {"user_id": "ana_lee_1234", "address": HOME},
        "orders": [_order("#W1000001", "delivered", [shirt, lamp]),
                   _order("#W1000002", "pending", [pending_shirt], address=NYC, method="gift_card_9"),
                   _order("#W1000003", "pending", [_item("L-2", "Desk Lamp", LAMPS[1]["options"], 30.0)])],
        "payment_methods": [{"id": "credit_card_1", "source": "credit_card", "brand": "visa"},
                            {"id": "gift_card_9", "source": "gift_card", "brand": None},
                            {"id": "paypal_3", "source": "paypal", "brand": None}],
    }


def steps(text: str) -> list[tuple[str, dict[str, Any]]]:
    reading = interpret(text, snap())
    assert not reading.unsure, reading.unsure
    return [(a, args) for a, args, _ in reading.steps]


def unsure(text: str) -> str:
    reading = interpret(text, snap())
    assert not reading.steps
    assert reading.found and reading.unsure
    return reading.unsure


def test_returns_the_named_delivered_item_to_the_original_method() -> None:
    assert steps("I'd like to return the desk lamp I received.") == [
        ("return_items", {"order_id": "#W1000001", "item_ids": ["L-1"], "payment_method_id": "credit_card_1"})]


def test_everything_except_keeps_the_named_item() -> None:
    assert steps("Please return everything from order #W1000001 except the lamp.")[0][1]["item_ids"] == ["S-BLUE-M"]


def test_refund_to_a_gift_card_is_allowed_but_not_to_another_card() -> None:
    assert steps("Return the desk lamp I received, refund to my gift card please.")[0][1]["payment_method_id"] \
        == "gift_card_9"
    assert "original payment method" in unsure("Return the desk lamp I received and refund it to PayPal.")


def test_exchange_keeps_the_options_not_spoken_of() -> None:
    assert steps("I want to exchange the t-shirt I received for a red one.") == [
        ("exchange_item", {"order_id": "#W1000001", "item_ids": ["S-BLUE-M"], "new_item_ids": ["S-RED-M"],
                           "payment_method_id": "credit_card_1"})]


def test_a_preference_breaks_a_tie_and_an_unavailable_option_is_never_picked() -> None:
    assert steps("Exchange the t-shirt I received for a red one, preferably polyester.")[0][1]["new_item_ids"] \
        == ["S-RED-MP"]
    assert "no available" in unsure("Exchange the t-shirt I received for a black one.")


def test_one_size_up_and_the_cheapest() -> None:
    assert steps("Exchange the t-shirt I received for one size bigger.")[0][1]["new_item_ids"] == ["S-BLUE-L"]
    assert steps("Change my pending desk lamp to the cheapest one.")[0][1]["new_item_ids"] == ["L-3"]


def test_pending_items_are_changed_not_exchanged_with_the_named_payment_method() -> None:
    assert steps("Please change the pending t-shirt to a red one, size M, and use my gift card.") == [
        ("modify_order_items", {"order_id": "#W1000002", "item_ids": ["S-BLUE-L"], "new_item_ids": ["S-RED-M"],
                                "payment_method_id": "gift_card_9"})]


def test_option_pairs_name_the_item_and_the_new_options() -> None:
    text = ("For #W1000001, exchange T-Shirt {'color': 'blue', 'size': 'M', 'material': 'cotton'} to "
            "{'color': 'red', 'material': 'polyester'}")
    assert steps(text)[0][1]["new_item_ids"] == ["S-RED-MP"]


def test_cancel_needs_a_reason_and_whole_orders() -> None:
    assert steps("Cancel order #W1000003, I ordered it by mistake.") == [
        ("cancel_order", {"order_id": "#W1000003", "reason": "ordered by mistake"})]
    assert "reason for cancelling" in unsure("Cancel order #W1000003 please.")
    assert steps("Cancel all my pending orders, I no longer need them.") == [
        ("cancel_order", {"order_id": "#W1000002", "reason": "no longer needed"}),
        ("cancel_order", {"order_id": "#W1000003", "reason": "no longer needed"})]


def test_addresses_from_the_text_another_order_or_a_city_on_record() -> None:
    new = "Please change the address of order #W1000003 to 12 Oak Street, Dallas, TX 75201."
    assert steps(new)[0] == ("change_shipping_address", {"order_id": "#W1000003", "address1": "12 Oak Street",
                                                         "address2": "", "city": "Dallas", "state": "TX",
                                                         "country": "USA", "zip": "75201"})
    assert steps("Change the address of order #W1000003 to be the same as order #W1000002.")[0][1]["city"] \
        == "New York"
    moved = steps("Change the shipping address of order #W1000003 to my NYC address, along with my default address.")
    assert [a for a, _ in moved] == ["change_shipping_address", "update_default_address"]
    assert moved[1][1]["user_id"] == "ana_lee_1234" and moved[1][1]["zip"] == "10016"
    titled = steps("Address change\nPlease change the address of order #W1000003 to 12 Oak Street, Dallas, TX 75201.")
    assert titled == steps(new)  # a subject line's bare verb names nothing


def test_written_out_lists_methods_and_reasons_apply_to_their_own_orders() -> None:
    assert steps("Return #W1000001 via credit_card_1: T-Shirt; Desk Lamp; ") == [
        ("return_items", {"order_id": "#W1000001", "item_ids": ["L-1", "S-BLUE-M"], "payment_method_id": "credit_card_1"})]
    both = steps("For #W1000001, exchange T-Shirt {'Color': 'blue', 'size': 'M'} to {'color': 'red'}; via paypal_3. "
                 "For #W1000003, modify Desk Lamp {'brightness': 'low', 'color': 'white'} to {'color': 'black'}; "
                 "via gift_card_9.")
    assert [(a, g["new_item_ids"], g["payment_method_id"]) for a, g in both] == [
        ("exchange_item", ["S-RED-M"], "paypal_3"), ("modify_order_items", ["L-3"], "gift_card_9")]
    cancels = steps("Cancel order #W1000002 because no longer needed. Cancel order #W1000003 because ordered by mistake.")
    assert [g["reason"] for _, g in cancels] == ["no longer needed", "ordered by mistake"]


def test_an_empty_option_list_is_an_identical_replacement_not_a_change() -> None:
    same = steps("For #W1000001, exchange Desk Lamp {'brightness': 'high', 'color': 'white'} to {}; via credit_card_1.")
    assert same == [("exchange_item", {"order_id": "#W1000001", "item_ids": ["L-1"], "new_item_ids": ["L-1"],
                                       "payment_method_id": "credit_card_1"})]
    assert "already has" in unsure("For #W1000003, modify Desk Lamp {'brightness': 'low', 'color': 'white'} to {}.")
    assert "not on the customer's account" in unsure("Return #W1000001 via credit_card_77: Desk Lamp;")


@pytest.mark.parametrize("text, why", [
    ("Return the desk lamp if the refund is more than $30.", "condition"),
    ("Exchange the t-shirt I received for a red one, but then you regret it.", "change their mind"),
    ("Return the lamp and the shirt and the watch from order #W1000009.", "not on the customer's account"),
    ("I want to exchange the desk lamp I received for a nicer one.", "compare"),
    ("Exchange the t-shirt I received for a 64GB one.", "not an option"),
    ("Change my desk lamp to a white one.", "more than one Desk Lamp"),
])
def test_unsure_rather_than_wrong(text: str, why: str) -> None:
    assert why in unsure(text)


def test_each_request_is_read_on_its_own() -> None:
    # one request the reading cannot settle leaves the others standing, and says why
    reading = interpret("Cancel order #W1000003, I ordered it by mistake. Also exchange the t-shirt I received for "
                        "a 64GB one.", snap())
    assert [(a, args) for a, args, _ in reading.steps] == [
        ("cancel_order", {"order_id": "#W1000003", "reason": "ordered by mistake"})]
    assert "not an option" in reading.unsure
    # a doubt that speaks of nothing in particular holds every request
    held = interpret("Cancel order #W1000003 by mistake. If the agent says no, do whatever you think is best.", snap())
    assert not held.steps and "condition" in held.unsure


@pytest.mark.parametrize("text, expected", [
    # a fallback applies only when the request cannot be done under the rules or with what is in stock
    ("Return the desk lamp. If that is not possible, cancel my pending order.",
     [("return_items", {"order_id": "#W1000001", "item_ids": ["L-1"], "payment_method_id": "credit_card_1"})]),
    ("Return the pending desk lamp. If it cannot be returned, cancel it since I no longer need it.",
     [("cancel_order", {"order_id": "#W1000003", "reason": "no longer needed"})]),
    ("Remove the pending desk lamp from my order. If removing one item is not possible, cancel the whole order, "
     "I ordered it by mistake.", [("cancel_order", {"order_id": "#W1000003", "reason": "ordered by mistake"})]),
    # meaning, not phrasing: a refund for a received item is a return; a reason other than a mistake
    ("The desk lamp I received is faulty and I want a full refund.",
     [("return_items", {"order_id": "#W1000001", "item_ids": ["L-1"], "payment_method_id": "credit_card_1"})]),
    ("Please cancel order #W1000003 since we found it cheaper elsewhere.",
     [("cancel_order", {"order_id": "#W1000003", "reason": "no longer needed"})]),
    ("I no longer need the pending desk lamp.", [("cancel_order", {"order_id": "#W1000003",
                                                                   "reason": "no longer needed"})]),
    # "if" meaning "whether" is no condition
    ("I want to know if my parcel has shipped, and please cancel order #W1000003 as I ordered it by mistake.",
     [("cancel_order", {"order_id": "#W1000003", "reason": "ordered by mistake"})]),
    # comparisons with the current option, and another item of the customer's as the model
    ("Exchange the desk lamp I received for a dimmer one.",
     [("exchange_item", {"order_id": "#W1000001", "item_ids": ["L-1"], "new_item_ids": ["L-2"],
                         "payment_method_id": "credit_card_1"})]),
    ("Exchange the t-shirt I received for a slightly bigger one.",
     [("exchange_item", {"order_id": "#W1000001", "item_ids": ["S-BLUE-M"], "new_item_ids": ["S-BLUE-L"],
                         "payment_method_id": "credit_card_1"})]),
    ("Change the pending desk lamp to the same type as the one I already received.",
     [("modify_order_items", {"order_id": "#W1000003", "item_ids": ["L-2"], "new_item_ids": ["L-1"],
                              "payment_method_id": "credit_card_1"})]),
    # a refund method that is not allowed, with a fallback to one that is
    ("Return the desk lamp I received and refund to paypal. If refund to paypal is not possible, refund to the "
     "gift card.", [("return_items", {"order_id": "#W1000001", "item_ids": ["L-1"],
                                      "payment_method_id": "gift_card_9"})]),
])
def test_requests_read_for_their_meaning(text: str, expected: list[tuple[str, dict[str, Any]]]) -> None:
    assert steps(text) == expected


@pytest.mark.parametrize("text, why", [
    ("Exchange the t-shirt I received for a red one. If the agent asks for confirmation, only exchange the lamp.",
     "condition"),
    ("Return the desk lamp I received. And the other one too.", "other"),  # the other lamp is not delivered
    ("Cancel my pending desk lamp order.", "reason"),  # no reason given: a person asks
    ("Return the desk lamp I received and refund to paypal.", "original payment method"),
    ("I want a full refund.", "not clear"),
])
def test_unsure_when_the_meaning_is_not_settled(text: str, why: str) -> None:
    assert why in unsure(text)


def test_a_partly_settled_message_proposes_what_is_settled_and_holds_the_rest() -> None:
    from cx_core.models import Request, Triage
    from domains.lumen.planner import plan

    text = "Cancel order #W1000003, I ordered it by mistake. Also exchange the t-shirt I received for a 64GB one."
    tri = Triage(task_type="order_cancel", intent="order_cancel", confidence=0.9,
                 requests=[Request(intent="order_cancel", text=text, confidence=0.9)])
    got = plan(tri, snap(), NOW.date(), text)
    firm = [(st.action, st.args) for st in got.steps if not st.missing and not st.held]
    assert firm == [("cancel_order", {"order_id": "#W1000003", "reason": "ordered by mistake"})]
    assert any(st.missing and "not an option" in st.held for st in got.steps)  # a person decides the rest


def test_a_question_alone_asks_for_nothing() -> None:
    reading = interpret("How long does a return take? I'm only asking for now.", snap())
    assert not reading.steps and "without wanting it done" in reading.unsure
    assert not interpret("Where is my parcel?", snap()).found


def ctx(customer_id: str, role: Role | None = Role.advisor) -> ExecContext:
    return ExecContext(actor="tester", role=role, ticket_id="T-1", customer_id=customer_id, autonomy=2,
                       today=NOW.date(), now=NOW)


def test_modify_order_items_once_settles_the_difference_and_reverses(services: Services) -> None:
    o = find_order(services, "pending")
    with services.db.session() as s:
        row = s.scalars(select(OrderItemRow).where(OrderItemRow.order_id == o["order_id"])).first()
        assert row is not None
        other = s.scalars(select(VariantRow).where(VariantRow.product_id == row.product_id,
                                                   VariantRow.item_id != row.item_id,
                                                   VariantRow.available.is_(True))).first()
        assert other is not None
        old_id, new_id, diff = row.item_id, other.item_id, round(other.price - row.price, 2)
        paid_before = len(list(s.scalars(select(PaymentRow).where(PaymentRow.order_id == o["order_id"]))))
    args = {"order_id": o["order_id"], "item_ids": [old_id], "new_item_ids": [new_id]}
    out = execute(services.db, services.policy(), "modify_order_items", args, ctx(o["user_id"], Role.supervisor))
    assert out.status == "executed", out.reason
    assert order(services, o["order_id"]).status == orders_connector.ITEMS_MODIFIED
    assert out.result["price_difference"] == diff
    again = execute(services.db, services.policy(), "modify_order_items", {**args, "item_ids": [new_id],
                    "new_item_ids": [old_id]}, ctx(o["user_id"], Role.supervisor))
    assert again.status == "denied" and "already changed once" in again.reason
    with services.db.tx() as s:
        from cx_core.actions import REGISTRY
        spec = REGISTRY["modify_order_items"]
        spec.compensate(s, spec.args_model.model_validate(args), out.result, ctx(o["user_id"]))  # type: ignore[misc]
    with services.db.session() as s:
        rows = list(s.scalars(select(OrderItemRow).where(OrderItemRow.order_id == o["order_id"])))
        assert old_id in {r.item_id for r in rows}
        assert len(list(s.scalars(select(PaymentRow).where(PaymentRow.order_id == o["order_id"])))) == paid_before
    assert order(services, o["order_id"]).status == "pending"


def test_modify_order_items_refuses_delivered_orders_and_other_products(services: Services) -> None:
    o = find_order(services, "delivered")
    out = execute(services.db, services.policy(), "modify_order_items",
                  {"order_id": o["order_id"], "item_ids": [o["item_id"]], "new_item_ids": [o["item_id"]]},
                  ctx(o["user_id"], Role.supervisor))
    assert out.status == "denied" and "only pending" in out.reason
    pending = find_order(services, "pending")
    same = execute(services.db, services.policy(), "modify_order_items",
                   {"order_id": pending["order_id"], "item_ids": [pending["item_id"]],
                    "new_item_ids": [pending["item_id"]]}, ctx(pending["user_id"], Role.supervisor))
    assert same.status != "executed" and "different option" in same.reason


def test_an_identical_replacement_is_an_exchange(services: Services) -> None:
    """A faulty unit can be exchanged for the very same option (τ-bench allows it too)."""
    with services.db.session() as s:
        rows = s.execute(select(OrderItemRow.order_id, OrderItemRow.item_id, CustomerRow.user_id)
                         .join(VariantRow, VariantRow.item_id == OrderItemRow.item_id)
                         .join(CustomerRow, CustomerRow.user_id == select(orders_connector.OrderRow.user_id).where(
                             orders_connector.OrderRow.order_id == OrderItemRow.order_id).scalar_subquery())
                         .where(VariantRow.available.is_(True))).all()
    for order_id, item_id, user_id in rows:
        out = execute(services.db, services.policy(), "exchange_item",
                      {"order_id": order_id, "item_ids": [item_id], "new_item_ids": [item_id]},
                      ctx(user_id, Role.supervisor))
        if out.status != "denied" or "different option" in out.reason:
            assert out.status in {"executed", "needs_approval"}, out.reason
            return
    pytest.skip("no delivered demo item is open for an exchange")


def test_update_default_address_and_its_reversal(services: Services) -> None:
    o = find_order(services, "pending")
    new = {"user_id": o["user_id"], "address1": "44 Lake Road", "city": "Boise", "state": "ID", "zip": "83702"}
    with services.db.session() as s:
        c = s.get(CustomerRow, o["user_id"])
        assert c is not None
        before = c.address1
    out = execute(services.db, services.policy(), "update_default_address", new, ctx(o["user_id"]))
    assert out.status == "executed", out.reason
    with services.db.session() as s:
        c = s.get(CustomerRow, o["user_id"])
        assert c is not None and c.address1 == "44 Lake Road" and c.city == "Boise"
    bad = execute(services.db, services.policy(), "update_default_address", {**new, "zip": "8370"}, ctx(o["user_id"]))
    assert bad.status == "denied" and "zip" in bad.reason
    with services.db.tx() as s:
        from cx_core.actions import REGISTRY
        spec = REGISTRY["update_default_address"]
        spec.compensate(s, spec.args_model.model_validate(new), out.result, ctx(o["user_id"]))  # type: ignore[misc]
    with services.db.session() as s:
        c = s.get(CustomerRow, o["user_id"])
        assert c is not None and c.address1 == before


def test_a_certain_reading_carries_a_ticket_the_classifier_could_not_place() -> None:
    from cx_core.models import Triage
    from domains.lumen.planner import grounded

    placed_nowhere = Triage(task_type="unclassified", intent="unclassified", confidence=0.52, abstained=True)
    text = "Return #W1000001 via credit_card_1: T-Shirt; Desk Lamp; Cancel order #W1000003 because no longer needed."
    tri = grounded(placed_nowhere, snap(), text)
    assert not tri.abstained and tri.task_type == "return_refund" and tri.confidence == 0.52
    assert [r.intent for r in tri.requests] == ["return_refund", "order_cancel"]  # in the order asked
    unsure_text = "Return the desk lamp. If the refund is under $30, cancel my pending order."
    assert grounded(placed_nowhere, snap(), unsure_text).abstained  # a doubt leaves it with a person
    assert grounded(placed_nowhere, None, text).abstained  # no customer, no reading


@pytest.mark.parametrize("text", ["Please return everything from order #W1000001 but the lamp.",
                                  "Return all items of order #W1000001 except for the desk lamp.",
                                  "I want to return everything in #W1000001, apart from the lamp."])
def test_every_way_of_saying_all_but_keeps_the_named_item(text: str) -> None:
    assert steps(text)[0][1]["item_ids"] == ["S-BLUE-M"]


@pytest.mark.parametrize("text, words", [
    ("Exchange the t-shirt I received for the best one I can get for what I paid.", "“best”, “for what I paid”"),
    ("Change my pending desk lamp to one that costs less than $35.", "“less than $35”"),
    ("Exchange the t-shirt I received for the newest colour.", "“newest”"),
])
def test_a_superlative_or_a_bound_it_cannot_apply_leaves_the_request_to_a_person(text: str, words: str) -> None:
    why = unsure(text)
    assert words in why and why.startswith("a person to apply what the customer said")


def test_a_qualifier_holds_the_requests_on_the_orders_it_speaks_of() -> None:
    snapshot = snap()
    snapshot["orders"][2]["items"][0]["name"] = snapshot["orders"][2]["items"][0]["product_id"] = "Wall Clock"
    reading = interpret("Return the desk lamp I received. Also change the wall clock of order #W1000003 to one under "
                        "$35.", snapshot)
    assert [a for a, _, _ in reading.steps] == ["return_items"] and "“under $35”" in reading.unsure


def test_a_new_address_asked_for_without_the_word_change() -> None:
    oak = {"address1": "12 Oak Street", "city": "Dallas", "zip": "75201"}
    for text in ("The delivery address on #W1000003 is wrong, it should be 12 Oak Street, Dallas, TX 75201.",
                 "hi, the address on my order W1000003 is wrong. it should be 12 Oak Street, Dallas, TX 75201",
                 "can u send my desk lamp to 12 Oak Street, Dallas, TX 75201?"):
        (action, args), = steps(text)
        assert action == "change_shipping_address" and args["order_id"] == "#W1000003", text
        assert oak.items() <= args.items(), text
    # a question about the address asks for nothing; a replacement sent somewhere is not an address change
    assert not interpret("Is 1 Main Street, Austin, TX 78701 the address on #W1000003?", snap()).steps
    assert not interpret("Please send a replacement to 12 Oak Street, Dallas, TX 75201.", snap()).steps


def test_a_device_that_will_not_switch_on_asks_for_no_exchange() -> None:
    for text in ("My desk lamp from order #W1000001 arrived cracked and it won't switch on.",
                 "I can't get the lamp to switch on."):
        reading = interpret(text, snap())
        assert not reading.steps and not reading.unsure, text


def test_an_item_named_by_its_kind_or_misspelt_is_the_one_meant() -> None:
    from domains.lumen.picking import pick_items

    order = {"items": [{"name": n, "status": "ordered", "item_id": n} for n in
                       ("Smart Speaker", "Washing Machine", "Smart Thermostat", "Wi-Fi Mesh System", "Smart TV",
                        "Coffee Machine")]}
    said = {"my thermostat arrived cracked": ["Smart Thermostat"], "return the mesh system": ["Wi-Fi Mesh System"],
            "the smrat tv is broken": ["Smart TV"], "the coffe machine leaks": ["Coffee Machine"],
            "the machine leaks": [], "my smart home is great": []}  # two machines: which is not said
    for text, names in said.items():
        assert [i["name"] for i in pick_items(order, text)] == names, text


def test_an_item_described_by_what_came_with_it_is_the_one_meant() -> None:
    """"the speaker that came in one box with my kettle and the lamp": the speaker; the kettle and the lamp only say
    which order it is."""
    from domains.lumen.picking import pick_items

    order = {"items": [{"name": n, "status": "ordered", "item_id": n} for n in
                       ("Electric Kettle", "Desk Lamp", "Smart Speaker")]}
    said = {"the little white speaker that came in one box with my black kettle and the gold lamp is too quiet":
            ["Smart Speaker"],
            "the lamp in the same parcel as the kettle flickers": ["Desk Lamp"],
            "it came with the kettle": ["Electric Kettle"]}  # nothing else named: the words are all there is
    for text, names in said.items():
        assert [i["name"] for i in pick_items(order, text)] == names, text


def test_an_order_cancelled_for_one_of_its_items_asks_whole_order_or_that_item() -> None:
    two = snap()
    two["orders"].append(_order("#W1000004", "pending", [_item("L-3", "Desk Lamp", LAMPS[2]["options"], 25.0),
                                                        _item("S-RED-M", "T-Shirt", SHIRTS[2]["options"], 22.0)]))
    asked = interpret("I ordered the dsek lamp by mistake, please cancel order #W1000004.", two)
    assert not asked.steps and "only whole orders" in asked.unsure and "T-Shirt" in asked.unsure
    whole = interpret("Please cancel the whole order #W1000004, I ordered the desk lamp by mistake.", two)
    assert [a for a, _, _ in whole.steps] == ["cancel_order"] and not whole.unsure


def test_i_dont_want_it_any_more_is_a_reason_for_cancelling() -> None:
    assert steps("Please cancel order #W1000003. I don't want it anymore.") == [
        ("cancel_order", {"order_id": "#W1000003", "reason": "no longer needed"})]


def test_a_wish_for_another_option_without_a_verb_of_changing() -> None:
    assert steps("On my pending desk lamp order, can I have the black one instead of white?") == [
        ("modify_order_items", {"order_id": "#W1000003", "item_ids": ["L-2"], "new_item_ids": ["L-3"],
                                "payment_method_id": "credit_card_1"})]


def test_it_is_the_item_said_before_the_request_not_one_said_after() -> None:
    text = ("I picked the blue t-shirt in my pending order by mistake. Can you change it to a red one? "
            "The desk lamp in my other order is fine.")
    assert steps(text)[0][1]["new_item_ids"] == ["S-RED-M"]


def test_both_items_said_before_change_to_the_option_said_once() -> None:
    records = snap()
    delivered = records["orders"][0]
    delivered["items"][1] = _item("L-2", "Desk Lamp", LAMPS[1]["options"], 30.0)
    delivered["variants"] = {"S-BLUE-M": [dict(v, available=True) for v in SHIRTS], "L-2": LAMPS}
    reading = interpret("From order #W1000001 - the t-shirt in blue and the white desk lamp - could I swap both for "
                        "the black versions? Any money back can go to my Visa.", records)
    assert not reading.unsure, reading.unsure
    [(action, args, _)] = reading.steps
    assert action == "exchange_item" and args["payment_method_id"] == "credit_card_1"
    assert dict(zip(args["item_ids"], args["new_item_ids"], strict=True)) == {"S-BLUE-M": "S-BLACK-M", "L-2": "L-3"}


def test_where_the_money_goes_is_a_detail_not_a_refund_asked_for() -> None:
    assert steps("I'd like to return the desk lamp I received. Rather than putting the money back on my Visa, "
                 "could the refund go onto my gift card?") == [
        ("return_items", {"order_id": "#W1000001", "item_ids": ["L-1"], "payment_method_id": "gift_card_9"})]
    assert steps("Please return the desk lamp I received. Any money back can go to my gift card.")[0][1][
        "payment_method_id"] == "gift_card_9"


def test_a_contact_detail_to_update_is_no_order_change() -> None:
    assert steps("New phone number is (512) 555-0172, please update it on my account.") == []


def test_the_one_described_among_two_of_a_kind() -> None:
    assert steps("I have two desk lamps on order and I only need one. Cancel the low brightness one.") == [
        ("cancel_order", {"order_id": "#W1000003", "reason": "no longer needed"})]


def test_a_new_address_said_to_be_the_one_on_file_is_the_accounts_not_an_orders() -> None:
    said = steps("We've moved, new address is 12 Oak Street, Dallas, TX 75201 - please put that as my address on "
                 "file. But leave the address on my pending orders alone.")
    assert [a for a, _ in said] == ["update_default_address"] and said[0][1]["zip"] == "75201"
    assert steps("We've moved, new address is 12 Oak Street, Dallas, TX 75201.") == []


def test_a_fallback_to_a_request_read_as_it_stands_is_kept_as_the_second_choice() -> None:
    """"Send back the lamp; if you won't take it back, cancel my other order instead": the return is the request,
    and the cancellation of the other order waits as the customer's second choice."""
    reading = interpret("Could I send back the desk lamp from order #W1000001? If for whatever reason you won't take "
                        "it back, then cancel my pending order #W1000002 instead.", snap())
    assert [(a, args["order_id"]) for a, args, _ in reading.steps] == [("return_items", "#W1000001")]
    [(action, args, _, first)] = reading.second
    assert (action, args["order_id"], args["reason"], first) == ("cancel_order", "#W1000002", "no longer needed",
                                                                 "return_items")
    # no fallback, no second choice
    assert not interpret("Could I send back the desk lamp from order #W1000001?", snap()).second


def _kitchen() -> dict[str, Any]:
    plain = {"color": "white"}
    return {**snap(), "orders": [
        _order("#W1000004", "pending", [_item("C-1", "Coffee Machine", plain, 120.0),
                                        _item("T-1", "Smart Thermostat", plain, 90.0)]),
        _order("#W1000005", "pending", [_item("P-1", "Air Purifier", plain, 200.0)]),
        _order("#W1000006", "pending", [_item("SP-1", "Smart Speaker", plain, 60.0),
                                        _item("D-1", "Video Doorbell", plain, 80.0)])]}


@pytest.mark.parametrize("text, want", [
    ("Please cancel my doorbell and speaker order, I found them cheaper elsewhere.",
     [("cancel_order", {"order_id": "#W1000006", "reason": "no longer needed"})]),
    ("I ordered a coffee machine and a thermostat this morning by accident. Could you cancel that order?",
     [("cancel_order", {"order_id": "#W1000004", "reason": "ordered by mistake"})]),
    ("Cancel the coffee machine order, I no longer need it, but keep the air purifier one.",
     [("cancel_order", {"order_id": "#W1000004", "reason": "no longer needed"})]),
])
def test_an_order_named_by_what_it_holds_or_pointed_back_at_is_cancelled_whole(
        text: str, want: list[tuple[str, dict[str, Any]]]) -> None:
    """"my doorbell and speaker order" (two things, each by a word of its own), "that order" after the things
    ordered were told, "the coffee machine order … but keep the air purifier one": the whole order those words name."""
    reading = interpret(text, _kitchen())
    assert not reading.unsure, reading.unsure
    assert [(a, args) for a, args, _ in reading.steps] == want
