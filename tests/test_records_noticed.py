"""What the records show beyond what the message asks, on real demo records: a payment taken twice is refunded even
when the customer wrote about something else (never for a sender not verified as them); a double charge named
inside another request's sentence is still read; a vague complaint is asked about the customer's ticket still
open; a cancellation and a change of the same order on two tickets are named together; a return of part of an
order names what goes back; a reply that owes the customer word back keeps the ticket with us."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cx_core import desk
from cx_core.access import StaffUser
from cx_core.desk.reply import owes_word_back
from cx_core.models import Role, TicketIn
from cx_core.services import Services
from cx_core.triage import Triager
from domains.lumen.backend import billing
from domains.lumen.tables import AppointmentRow, CustomerRow, OrderItemRow, OrderRow
from tests.conftest import NOW
from tests.helpers import find_order
from tests.test_workspace_actions import processed

ADVISOR = StaffUser("ada", "Ada Advisor", Role.advisor)


def two_customers_one_free_time(svc: Services) -> tuple[list[str], list[str], datetime]:
    """Two customers with a visit booked in one region, their visits and a free time there ahead: the emails, the
    appointment ids and the free time's start (skipped when the world's free times are all past)."""
    from domains.lumen.tables import AppointmentRow, SlotRow

    with svc.db.session() as s:
        booked = list(s.scalars(select(AppointmentRow).where(AppointmentRow.status == "booked")
                                .order_by(AppointmentRow.appointment_id)))
        a, b = next((a, b) for a in booked for b in booked if a.region == b.region and a.user_id != b.user_id)
        slot = s.scalars(select(SlotRow).where(SlotRow.region == a.region, SlotRow.free.is_(True),
                                               SlotRow.start > datetime.now() + timedelta(days=2)).order_by(SlotRow.start)).first()
        if slot is None:
            pytest.skip("the demo world's free times are all in the past")
        emails = [s.get(CustomerRow, x.user_id).email for x in (a, b)]  # type: ignore[union-attr]
        return emails, [a.appointment_id, b.appointment_id], slot.start


def twice_and_another(svc: Services) -> dict[str, str]:
    """A customer with a payment taken twice on one order and a pending order without one."""
    with svc.db.session() as s:
        for o in s.scalars(select(OrderRow).where(OrderRow.status == "pending").order_by(OrderRow.order_id)):
            if billing.duplicate_payment(s, o.order_id) is not None:
                continue
            twice = [x for x in s.scalars(select(OrderRow).where(OrderRow.user_id == o.user_id))
                     if billing.duplicate_payment(s, x.order_id) is not None]
            if len(twice) == 1:
                c = s.get(CustomerRow, o.user_id)
                assert c is not None
                return {"order_id": o.order_id, "twice": twice[0].order_id, "email": c.email}
    raise LookupError("no customer with a double charge and another pending order")


def test_a_payment_taken_twice_is_refunded_though_the_message_is_about_another_order(services: Services) -> None:
    c = twice_and_another(services)
    data = processed(services, "SEEN-1", c["email"], f"Where is my order {c['order_id']}?")
    refund = [p for p in data["proposals"] if p["action"] == "refund"]
    assert [p["args"]["order_id"] for p in refund] == [c["twice"]] and refund[0]["args"]["reason"] == "duplicate charge"
    reply = data["result"].draft.reply
    assert re.search(rf"I also noticed that your order {re.escape(c['twice'])} was charged twice, so I'm arranging a "
                     r"refund of the duplicate \$[\d,.]+ payment, to your ", reply), reply
    assert reply.index(c["order_id"]) < reply.index("I also noticed")  # what they asked comes first
    # their next message, while that refund still waits on the first ticket: not proposed a second time
    again = processed(services, "SEEN-1b", c["email"], "Can you send me a copy of my invoice?", at=timedelta(minutes=5))
    assert not [p for p in again["proposals"] if p["action"] == "refund"]
    # the same message with no address on it: nothing read from the records is said, nothing extra proposed
    stranger = processed(services, "SEEN-2", "", f"Where is my order {c['order_id']}?")
    assert "charged twice" not in stranger["result"].draft.reply
    assert not [p for p in stranger["proposals"] if p["action"] == "refund"]


def test_a_double_charge_inside_another_requests_sentence_is_refunded_too(services: Services) -> None:
    o = find_order(services, "delivered", duplicate=True)
    data = processed(services, "SEEN-3", o["email"],
                     f"I want to send back the {o['item']} from {o['order_id']}, and you also took the money twice")
    assert any(p["action"] == "refund" and p["args"]["order_id"] == o["order_id"]
               and p["args"]["reason"] == "duplicate charge" for p in data["proposals"])
    assert "I also noticed" not in data["result"].draft.reply  # the customer said it: nothing to notice


def test_a_vague_complaint_is_asked_about_the_customers_ticket_still_open(services: Services) -> None:
    o = find_order(services, "pending")
    processed(services, "OPEN-1", o["email"], f"Can you send order {o['order_id']} to 12 Elm Street, Springfield, "
              "IL 62704 instead?", subject="New address for my order")
    data = processed(services, "OPEN-2", o["email"], "I am really disappointed with the service lately. Nobody calls "
                     "back.", at=timedelta(minutes=30))
    assert 'Is this about your message earlier today, "New address for my order"? That request is under way with us.' in \
        data["result"].draft.reply


def test_a_cancellation_and_a_change_of_the_same_order_on_two_tickets_are_named_together(services: Services) -> None:
    o = find_order(services, "pending")
    processed(services, "BOTH-1", o["email"], f"Please cancel order {o['order_id']}, I changed my mind.",
              subject="Cancel my order")
    data = processed(services, "BOTH-2", o["email"], f"Please send order {o['order_id']} to 12 Elm Street, "
                     "Springfield, IL 62704 instead.", at=timedelta(minutes=10))
    assert (f"I can see your message earlier today asking to cancel {o['order_id']}; please tell us which you "
            "would like: this change, or the cancellation.") in data["result"].draft.reply
    later = processed(services, "BOTH-3", o["email"], f"Actually just cancel order {o['order_id']}, please.",
                      subject="Cancel it", at=timedelta(days=1))
    assert (f"I can also see your message of Wednesday 18 November asking to change address for {o['order_id']}; as "
            f"you now ask to cancel {o['order_id']}, that will not go ahead.") in later["result"].draft.reply


def test_a_cancellation_the_rules_refused_is_not_weighed_against_another_request(services: Services) -> None:
    order_id, item, email = recent_order(services, lambda s, items: len(items) == 1)
    refused = processed(services, "DEN-1", email, f"Please cancel order {order_id}, I ordered it by mistake.",
                        subject="Cancel")
    assert [p["status"] for p in refused["proposals"] if p["action"] == "cancel_order"] == ["denied"]
    data = processed(services, "DEN-2", email, f"I'd like to send back the {item.lower()} from order {order_id} and "
                     "get my money back.", at=timedelta(minutes=10))
    assert any(p["action"] == "return_items" for p in data["proposals"])
    assert "see your message" not in data["result"].draft.reply
    assert desk.clash_note(services.db, "DEN-2") == ""


def recent_order(svc: Services, fits: Any) -> tuple[str, str, str]:
    """(order id, first item's name, customer's email) of the first order delivered within the return window whose
    items ``fits(session, items)`` accepts."""
    with svc.db.session() as s:
        for order in s.scalars(select(OrderRow).where(OrderRow.status == "delivered").order_by(OrderRow.order_id)):
            items = list(s.scalars(select(OrderItemRow).where(OrderItemRow.order_id == order.order_id)))
            if order.delivered_on and (NOW.date() - order.delivered_on).days < 20 and fits(s, items):
                customer = s.get(CustomerRow, order.user_id)
                assert customer is not None
                return order.order_id, items[0].name, customer.email
    raise LookupError("no recent delivery fits")


def test_a_return_of_part_of_an_order_names_what_goes_back(services: Services) -> None:
    order_id, item, email = recent_order(services, lambda s, items: len(items) == 2
                                         and len({i.name for i in items}) == 2)
    data = processed(services, "PART-1", email,
                     f"I'd like to send back the {item.lower()} from order {order_id} and get my money back.")
    back = next(p for p in data["proposals"] if p["action"] == "return_items")
    assert back["decision"] == "needs_approval" and len(back["args"]["item_ids"]) == 1
    assert f"a return of the {item} from order {order_id}" in data["result"].draft.reply


def test_a_reply_that_owes_word_back_keeps_the_ticket_with_us(services: Services) -> None:
    assert owes_word_back("A colleague is looking at your message and will get back to you shortly.")
    assert not owes_word_back("Which colour would you like?")
    o = find_order(services, "pending")
    processed(services, "OWED-1", o["email"], "Hello, can you send me a copy of my invoice please?")
    desk.send_reply(services.db, services.policy(), ADVISOR, "OWED-1",
                    "Hi,\n\nA colleague is looking at your message and will get back to you shortly.", resolve=False,
                    override="the invoice waits for a colleague")
    assert desk.get_ticket(services.db, "OWED-1")["ticket"]["status"] == "open"
    processed(services, "OWED-2", o["email"], "Hello, can you send me a copy of my invoice please?")
    desk.send_reply(services.db, services.policy(), ADVISOR, "OWED-2", "Hi,\n\nWhich order is it for?",
                    resolve=False, override="asking first")
    assert desk.get_ticket(services.db, "OWED-2")["ticket"]["status"] == "waiting"


def test_an_english_message_full_of_names_and_codes_reads_as_english() -> None:
    assert Triager.language("Robot vacuum RV-200 kaput, my order W1234567 came broken and I want it fixed") == "en"
    assert Triager.language("Ik wil mijn bestelling retourneren, het pakket is beschadigd en ik wil mijn geld terug") \
        == "nl"


def test_a_later_cancellation_of_the_same_order_is_shown_beside_the_earlier_change(services: Services) -> None:
    o = find_order(services, "pending")
    processed(services, "LATER-1", o["email"], f"Please send order {o['order_id']} to 12 Elm Street, Springfield, "
              "IL 62704 instead.")
    assert desk.clash_note(services.db, "LATER-1") == ""
    processed(services, "LATER-2", o["email"], f"Please cancel order {o['order_id']}, I don't need it any more.",
              subject="Cancel my order", at=timedelta(minutes=20))
    assert desk.clash_note(services.db, "LATER-1") == (
        f"The newer ticket “Cancel my order” of this customer, still open, asks to cancel {o['order_id']}: decide the "
        "two together.")


def test_a_later_message_asking_otherwise_holds_the_cancellation_and_asks_which(services: Services) -> None:
    o = find_order(services, "pending")
    processed(services, "LATEST-1", o["email"], f"Please cancel order {o['order_id']}, I don't need it any more.",
              subject="Cancel my order")
    processed(services, "LATEST-2", o["email"], f"Please send order {o['order_id']} to 12 Elm Street, Springfield, "
              "IL 62704 instead.", subject="New address", at=timedelta(minutes=20))
    again = TicketIn(id="LATEST-1", customer=o["email"], subject="Cancel my order", created_at=NOW,
                     body=f"Please cancel order {o['order_id']}, I don't need it any more.")
    desk.store_result(services.db, services.policy(), services.pipeline.process(
        again, now=NOW + timedelta(minutes=21)))  # read again, as the queue does once the later message came
    data = desk.get_ticket(services.db, "LATEST-1")
    reply = data["result"].draft.reply
    assert "I can see your later message asking to " in reply and "that, or the cancellation." in reply
    assert "arranging the cancellation" not in reply  # their latest word asks otherwise: nothing cancelled yet
    assert desk.clash_note(services.db, "LATEST-1").startswith("The newer ticket “New address”")


def test_two_different_changes_to_one_order_on_two_tickets_are_named_together(services: Services) -> None:
    o = find_order(services, "pending")
    processed(services, "TWO-1", o["email"], f"Please ship order {o['order_id']} to 556 Willow Street, Boston, MA "
              "02116 instead.")
    second = processed(services, "TWO-2", o["email"], f"Please ship order {o['order_id']} to 614 Willow Street, "
                       "Raleigh, NC 27601.", subject="Address", at=timedelta(minutes=30))
    reply = second["result"].draft.reply
    assert (f"I can see your message earlier today asking for a different change to {o['order_id']}: \"Please "
            f"ship order {o['order_id']} to 556 Willow Street, Boston, MA 02116 instead\"; please tell us which you "
            "would like.") in reply
    assert "arranging to change the shipping address" not in reply
    assert desk.get_ticket(services.db, "TWO-1")["ticket"]["status"] == "new"  # the first goes back to be read again
    first = TicketIn(id="TWO-1", customer=o["email"], subject="A question", created_at=NOW,
                     body=f"Please ship order {o['order_id']} to 556 Willow Street, Boston, MA 02116 instead.")
    desk.store_result(services.db, services.policy(), services.pipeline.process(first, now=NOW + timedelta(minutes=31)))
    again = desk.get_ticket(services.db, "TWO-1")["result"].draft.reply
    assert f"I can see your later message asking for a different change to {o['order_id']}: \"Please" in again
    assert "arranging to change the shipping address" not in again
    assert desk.clash_note(services.db, "TWO-1").startswith("The newer ticket “Address”")
    assert desk.clash_note(services.db, "TWO-2") == (
        f"The older ticket “A question” of this customer, still open, asks for a different change to {o['order_id']}: "
        "decide the two together.")


def test_the_same_change_asked_again_in_other_words_is_proposed_once(services: Services) -> None:
    o = find_order(services, "pending")
    first = processed(services, "SAME-1", o["email"], f"Please ship order {o['order_id']} to 556 Willow Street, "
                      "Boston, MA 02116 instead.")
    assert [p["action"] for p in first["proposals"]] == ["change_shipping_address"]
    second = processed(services, "SAME-2", o["email"], f"Hello, order {o['order_id']} should go to 556 Willow Street, "
                       "Boston, MA 02116 please.", subject="Address", at=timedelta(minutes=30))
    reply = second["result"].draft.reply
    assert (f"I can see you asked for the same on order {o['order_id']} in your message earlier today, and we're "
            "already arranging it from there: you'll hear from us as soon as it goes through.") in reply
    assert not second["proposals"] and "arranging to change the shipping address" not in reply
    assert desk.get_ticket(services.db, "SAME-1")["ticket"]["status"] != "new"  # the first stands as it was
    assert [p["status"] for p in desk.get_ticket(services.db, "SAME-1")["proposals"]] == ["pending"]
    # once it runs there, the second reply ("already arranging it") is stale: it goes back to be read again
    change = desk.get_ticket(services.db, "SAME-1")["proposals"][0]
    assert desk.approve(services.db, services.policy(), ADVISOR, change["id"])["status"] == "executed"
    assert desk.get_ticket(services.db, "SAME-2")["ticket"]["status"] == "new"
    again = processed(services, "SAME-2", o["email"], f"Hello, order {o['order_id']} should go to 556 Willow Street, "
                      "Boston, MA 02116 please.", subject="Address", at=timedelta(minutes=40))["result"].draft.reply
    assert "already arranging" not in again and "556 Willow Street" in again


def test_a_large_appliance_returned_is_collected_from_home_not_posted(services: Services) -> None:
    from domains.lumen.tables import ProductRow

    def large(s: Any, items: list[Any]) -> bool:  # not installed yet (an installed appliance is no longer returned)
        product = s.get(ProductRow, items[0].product_id) if len(items) == 1 else None
        return product is not None and product.needs_installation and not s.scalars(select(AppointmentRow).where(
            AppointmentRow.order_id == items[0].order_id, AppointmentRow.status == "completed")).first()

    order_id, item, email = recent_order(services, large)
    data = processed(services, "BIG-1", email,
                     f"I'd like to send back the {item.lower()} from order {order_id} and get my money back.")
    reply = data["result"].draft.reply
    assert "book a collection from your home" in reply and "prepaid label" not in reply, reply


def test_a_ticket_whose_record_changed_elsewhere_goes_back_to_the_agent(services: Services) -> None:
    o = find_order(services, "pending")
    processed(services, "AGAIN-1", o["email"], f"Please send order {o['order_id']} to 12 Elm Street, Springfield, "
              "IL 62704 instead.")
    assert desk.get_ticket(services.db, "AGAIN-1")["ticket"]["status"] == "open"
    # a later message cancels the same order: the earlier ticket is read again, to see it
    cancel = processed(services, "AGAIN-2", o["email"], f"Please cancel order {o['order_id']}, I changed my mind.",
                       at=timedelta(minutes=10))
    assert desk.get_ticket(services.db, "AGAIN-1")["ticket"]["status"] == "new"
    from cx_core import audit
    from tests.helpers import DEMO_ADMIN

    assert any(e.kind == "ticket.reread" for e in audit.events(services.db, DEMO_ADMIN, ticket_id="AGAIN-1"))
    # the cancellation runs: a ticket still open on that order is read again too
    processed(services, "AGAIN-3", o["email"], f"Can you also move the delivery of order {o['order_id']} to Friday?",
              at=timedelta(minutes=20))
    with services.db.tx() as s:
        from cx_core.store.tables import TicketRow
        row = s.get(TicketRow, "AGAIN-3")
        assert row is not None
        row.status = "open"
    step = next(p for p in cancel["proposals"] if p["action"] == "cancel_order")
    assert desk.approve(services.db, services.policy(), ADVISOR, step["id"])["status"] == "executed"
    assert desk.get_ticket(services.db, "AGAIN-3")["ticket"]["status"] == "new"


def test_an_address_typed_in_capitals_is_read_not_asked_for_again() -> None:
    from cx_core.entities import find_address

    assert find_address("PLEASE SHIP ORDER #W1002697 TO 459 CEDAR LANE, COLUMBUS, OH 43215 INSTEAD.") == {
        "address1": "459 Cedar Lane", "address2": "", "city": "Columbus", "state": "OH", "zip": "43215",
        "country": "USA"}


def test_a_customer_who_moved_hears_what_cannot_follow_them() -> None:
    from cx_core.plans import Step
    from domains.lumen.questions import also_moved

    home = {"address1": "1 Old Road", "zip": "10001"}
    snap = {"profile": {"address": home}, "orders": [
        {"order_id": "#W1", "status": "pending", "address": home, "items": [{"name": "Kettle"}]},
        {"order_id": "#W2", "status": "pending", "address": home, "items": [{"name": "Toaster"}]},
        {"order_id": "#W3", "status": "processed", "address": home, "items": [{"name": "Fridge"}]},
        {"order_id": "#W4", "status": "processed", "address": {"address1": "9 Else St", "zip": "2"}, "items": []}],
        "appointments": [{"order_id": "#W3", "status": "booked", "start": "2026-12-04T10:00"},
                         {"order_id": "#W4", "status": "booked", "start": "2026-12-05T10:00"}]}
    step = Step("change_shipping_address", {"order_id": "#W1", "address1": "5 New Lane"}, "address_change", "")
    said = also_moved([step], {}, snap, "We have moved house, please send order #W1 to 5 New Lane.")
    assert said.startswith("order #W2 (Toaster) is also due at your old address; shall I change that too?")
    assert "Order #W3 has already left for your old address, so its address can no longer change." in said
    assert "The technician's visit on Friday 4 December at 10:00 (order #W3) is booked at your old address" in said
    assert "#W4" not in said


def test_a_double_charge_noticed_on_one_ticket_and_asked_on_the_next_is_refunded_once(services: Services) -> None:
    from cx_core.models import TicketIn

    c = twice_and_another(services)
    first = processed(services, "ONCE-1", c["email"], f"Where is my order {c['order_id']}?")
    assert [p["args"]["order_id"] for p in first["proposals"] if p["action"] == "refund"] == [c["twice"]]
    asked = processed(services, "ONCE-2", c["email"], f"You charged me twice for order {c['twice']}, please refund one.",
                      at=timedelta(minutes=20))
    assert [p["args"]["order_id"] for p in asked["proposals"] if p["action"] == "refund"] == [c["twice"]]
    assert desk.get_ticket(services.db, "ONCE-1")["ticket"]["status"] == "new"  # sent back to be read again
    row = desk.get_ticket(services.db, "ONCE-1")["ticket"]
    again = TicketIn(id="ONCE-1", customer=c["email"], subject=row["subject"], body=row["body"], created_at=NOW)
    desk.store_result(services.db, services.policy(), services.pipeline.process(again, now=NOW + timedelta(minutes=21)))
    now_first = desk.get_ticket(services.db, "ONCE-1")
    assert not [p for p in now_first["proposals"] if p["action"] == "refund" and p["status"] == "pending"]
    assert "charged twice" not in now_first["result"].draft.reply


def test_a_double_charge_on_an_order_another_message_cancels_is_not_refunded_beside_it(services: Services) -> None:
    c = twice_and_another(services)
    with services.db.session() as s:
        pending = s.get(OrderRow, c["twice"])
        assert pending is not None
        is_pending = pending.status == "pending"
    if not is_pending:
        return  # the cancellation would be refused: nothing to weigh
    processed(services, "CAN-1", c["email"], f"Please cancel order {c['twice']}, I ordered it by mistake.",
              subject="Cancel")
    data = processed(services, "CAN-2", c["email"], f"Where is my order {c['order_id']}?", at=timedelta(minutes=5))
    assert not [p for p in data["proposals"] if p["action"] == "refund"]


def test_contact_details_change_only_from_the_address_on_file_or_a_call(services: Services) -> None:
    from cx_core.models import TicketIn

    o = find_order(services, "pending")
    said = "My new phone number is 512-555-0199, please update my account."
    for channel, proposed in (("chat", False), ("social", False), ("email", True), ("phone", True)):
        t = TicketIn(id=f"PHONE-{channel}", customer=o["email"], channel=channel, subject="", body=said, created_at=NOW)
        result = services.pipeline.process(t, now=NOW)
        assert any(p.action == "update_contact_details" for p in result.proposals) == proposed, channel
        if not proposed:
            assert "email address on your account" in result.draft.reply and "512-555-0199" not in result.draft.reply
            assert "[1]" not in result.draft.reply  # no "you can update your phone number" quoted beside the rule


def test_a_reply_naming_a_record_changed_on_another_ticket_is_read_again(services: Services) -> None:
    o = find_order(services, "pending")
    processed(services, "SAID-1", o["email"], f"Can you resend the invoice? Also, is order {o['order_id']} on its way?")
    before = desk.get_ticket(services.db, "SAID-1")
    assert o["order_id"] in before["result"].draft.reply
    data = processed(services, "SAID-2", o["email"], f"Please send order {o['order_id']} to 12 Elm Street, Springfield, "
                     "IL 62704 instead.", at=timedelta(minutes=5))
    change = next(p for p in data["proposals"] if p["action"] == "change_shipping_address")
    desk.approve(services.db, services.policy(), ADVISOR, change["id"])
    if before["ticket"]["status"] == "open":  # its reply speaks of the order as it was: read again
        assert desk.get_ticket(services.db, "SAID-1")["ticket"]["status"] == "new"


def test_every_order_charged_twice_is_refunded_beside_another_request(services: Services) -> None:
    from sqlalchemy import text

    with services.db.session() as s:
        rows = s.execute(text(
            "select o.user_id, p.order_id from billing_payments p join orders_orders o on o.order_id = p.order_id "
            "where p.transaction_type = 'payment' group by o.user_id, p.order_id, p.amount having count(*) > 1")).all()
        user = next(u for u, _ in rows if sum(1 for v, _ in rows if v == u) == 2)
        email = s.get(CustomerRow, user).email
    data = processed(services, "TWICE-ALL", email, "Hi, can I get a copy of my latest invoice please?")
    refunds = [p for p in data["proposals"] if p["action"] == "refund"]
    assert sorted(p["args"]["order_id"] for p in refunds) == sorted(o for u, o in rows if u == user)
    reply = data["result"].draft.reply
    assert reply.count("I also noticed that your order") == 1 and reply.count("was charged twice as well") == 1


def test_two_changes_paid_with_one_card_to_two_bookings_are_no_choice_between_them() -> None:
    from cx_core.contacts import other_change, target

    here = ("update_reservation_flights", {"reservation_id": "AAA111", "cabin": "economy", "payment_id": "card_1"})
    there = {"action": "update_reservation_flights",
             "args": {"reservation_id": "BBB222", "cabin": "business", "payment_id": "card_1"}}
    assert target(here[1]) == {"AAA111"} and other_change([here], [there]) == ""  # the card is no record changed
    there["args"]["reservation_id"] = "AAA111"
    assert other_change([here], [there]) == "AAA111"


def test_a_free_time_booked_for_one_customer_sends_anothers_proposal_for_it_back_to_be_planned(
        services: Services) -> None:
    from cx_core.entities import part_of_day

    advisor = StaffUser("ada", "Ada Advisor", Role.advisor)
    emails, ids, start = two_customers_one_free_time(services)
    when, slot_hour = f"{start:%A} {start.day} {start:%B}", start.hour
    for n, (email, aid) in enumerate(zip(emails, ids, strict=True)):
        processed(services, f"SLOT-{n}", email, f"Please move my installation appointment {aid} to {when} in the "
                  f"{part_of_day(slot_hour)}.")
    moves = [next(p for p in desk.get_ticket(services.db, f"SLOT-{n}")["proposals"]
                  if p["action"] == "reschedule_appointment") for n in range(2)]
    assert moves[0]["args"]["slot_id"] == moves[1]["args"]["slot_id"]  # both offered the first free time that day
    out = desk.approve(services.db, services.policy(), advisor, moves[0]["id"])
    assert out["status"] == "executed", out
    assert desk.get_ticket(services.db, "SLOT-1")["ticket"]["status"] == "new"  # planned anew, with what is free now


def test_a_cancellation_asked_later_sends_back_the_ticket_whose_reply_speaks_of_the_order(services: Services) -> None:
    o = find_order(services, "pending")
    first = processed(services, "STALE-1", o["email"], f"Where is my order {o['order_id']}?")
    assert o["order_id"] in first["result"].draft.reply
    with services.db.session() as s:  # answered, and kept open by the advisor
        from cx_core.store.tables import TicketRow

        row = s.get(TicketRow, "STALE-1")
        assert row is not None
        row.status = "open"
        s.commit()
    processed(services, "STALE-2", o["email"], f"Please cancel order {o['order_id']}, I ordered it by mistake.",
              subject="Cancel", at=timedelta(minutes=20))
    assert desk.get_ticket(services.db, "STALE-1")["ticket"]["status"] == "new"  # read again, with the cancellation


def test_an_order_cancelled_that_was_paid_twice_is_not_refunded_beside_the_cancellation(services: Services) -> None:
    try:
        o = find_order(services, "pending", duplicate=True)
    except LookupError:
        pytest.skip("no pending order paid twice in this world")
    data = processed(services, "CANTWICE-1", o["email"], f"I ordered it by mistake, please cancel order {o['order_id']}.")
    assert [p["action"] for p in data["proposals"] if p["args"].get("order_id") == o["order_id"]] == ["cancel_order"]
    assert "can have only one of these" not in data["result"].draft.reply


def test_a_refund_only_noticed_on_a_ticket_naming_the_order_is_no_request_asked_before(services: Services) -> None:
    c = twice_and_another(services)
    first = processed(services, "NOTED-1", c["email"], f"Where is my order {c['twice']}?")
    assert [p["args"]["order_id"] for p in first["proposals"] if p["action"] == "refund"] == [c["twice"]]
    asked = processed(services, "NOTED-2", c["email"], f"You charged me twice for order {c['twice']}, please refund "
                      "one.", at=timedelta(minutes=20))
    assert "asked for the same" not in asked["result"].draft.reply
    assert [p["args"]["order_id"] for p in asked["proposals"] if p["action"] == "refund"] == [c["twice"]]


def test_a_free_time_the_agent_booked_alone_sends_anothers_proposal_for_it_back_to_be_planned(
        services: Services) -> None:
    from cx_core import autonomy

    emails, ids, start = two_customers_one_free_time(services)
    when = f"{start:%A} {start.day} {start:%B} at {start:%H:%M}"
    waiting = processed(services, "ALONE-1", emails[1], f"Please move my installation appointment {ids[1]} to {when}.")
    wanted = next(p for p in waiting["proposals"] if p["action"] == "reschedule_appointment")
    assert wanted["status"] == "pending"
    autonomy.set_level(services.db, services.settings.writable_policy_file, services.policy(),
                       StaffUser("root", "Root Admin", Role.admin), "installation_reschedule", 3, "trial")
    done = processed(services, "ALONE-0", emails[0], f"Please move my installation appointment {ids[0]} to {when}.")
    move = next(p for p in done["proposals"] if p["action"] == "reschedule_appointment")
    assert move["status"] == "executed" and move["args"]["slot_id"] == wanted["args"]["slot_id"], move
    assert desk.get_ticket(services.db, "ALONE-1")["ticket"]["status"] == "new"  # planned anew, with what is free now


def test_another_message_is_quoted_by_its_request_never_by_its_subject_line() -> None:
    from cx_core.contacts import _their_words

    text = ("Change flight YB2DBN\nCould I move my BOS-JFK flight on December 2 to the next day, December 3? Booking "
            "reference YB2DBN. Please use my card on file for any difference.")
    assert _their_words({"text": text}, "YB2DBN") == ("Could I move my BOS-JFK flight on December 2 to the next day, "
                                                      "December 3? Booking reference YB2DBN")
    assert _their_words({"text": "Change flight YB2DBN\nPlease help."}, "YB2DBN") == "Change flight YB2DBN"


def test_a_change_weighed_against_a_cancellation_asks_which_before_any_of_its_details(services: Services) -> None:
    o = find_order(services, "pending")
    processed(services, "WHICH-1", o["email"], f"Please cancel order {o['order_id']}, I no longer need it.")
    data = processed(services, "WHICH-2", o["email"], f"I'd like to change the shipping address of order "
                     f"{o['order_id']}.", subject="Address", at=timedelta(minutes=30))
    reply = data["result"].draft.reply
    assert f"asking to cancel {o['order_id']}; please tell us which you would like" in reply, reply
    assert "new address" not in reply, reply  # its details are asked once the customer keeps the order
    change = next(p for p in data["proposals"] if p["action"] == "change_shipping_address")
    assert change["decision"] != "needs_approval"


def test_a_disputed_call_out_credited_then_replied_to_as_drafted_is_sent(services: Services) -> None:
    from tests.helpers import find_callout_with_booking
    from tests.test_workspace_actions import ADVISOR

    c = find_callout_with_booking(services)
    data = processed(services, "LATE-1", c["email"], "dispute the $49 callout charge, your engineer was 3 hours late")
    for p in data["proposals"]:
        if p["status"] == "pending" and p["decision"] != "abstained":
            desk.approve(services.db, services.policy(), ADVISOR, p["id"])
    _, reply = desk.reply_draft(desk.get_ticket(services.db, "LATE-1"))
    assert "I've credited $49.00" in reply, reply  # the credit's own words: no claim of a refund that never ran
    out = desk.send_reply(services.db, services.policy(), ADVISOR, "LATE-1", reply)
    assert out["status"] == "executed"


def test_a_sender_on_no_account_whom_nobody_called_back_is_offered_a_call(services: Services) -> None:
    data = processed(services, "RING-1", "someone@mailinator.example", "I am really disappointed with the service "
                     "I've had from Lumen Home lately. Nobody calls back.")
    reply = data["result"].draft.reply
    assert "could not match your message to an account" in reply
    assert "If you would rather we called you, reply with a good time and the number to ring." in reply, reply


def test_a_visit_weighed_against_another_message_holds_what_hangs_on_it_and_quotes_that_message(
        services: Services) -> None:
    from tests.test_orchestration import booked_with_its_call_out_billed

    email, _ = booked_with_its_call_out_billed(services, only=True)[0]
    first = processed(services, "VISIT-1", email, "I can't be home for the installation. Could the technician come "
                      "another day?")
    assert any(p["action"] == "reschedule_appointment" and p["args"].get("slot_id") for p in first["proposals"])
    aid = next(p["args"]["appointment_id"] for p in first["proposals"] if p["action"] == "reschedule_appointment")
    later = (NOW + timedelta(days=12)).strftime("%A %d %B").replace(" 0", " ")
    data = processed(services, "VISIT-2", email, f"Please move my installation appointment {aid} to {later}.",
                     subject="Installation", at=timedelta(minutes=30))
    reply = data["result"].draft.reply
    assert f"asking for a different change to {aid}: \"I can't be home for the installation" in reply, reply
    assert "asked for the same" not in reply and "arranging a credit" not in reply, reply
    assert all(p["decision"] == "abstained" for p in data["proposals"] if p["action"] != "lookup_order")


def test_a_contact_change_by_chat_says_why_and_how_and_a_bare_complaint_names_its_owner(services: Services) -> None:
    o = find_order(services, "pending")
    t = TicketIn(id="CHAT-PHONE", customer=o["email"], channel="chat", subject="", created_at=NOW,
                 body="Hi, my mobile number has changed, it's now 415-555-0199.")
    reply = services.pipeline.process(t, now=NOW).draft.reply
    assert "As you wrote to us by chat, I haven't changed your contact details" in reply, reply
    assert "Just email us from that address, or call us" in reply
    data = processed(services, "OWN-1", o["email"], "I am really disappointed with the service lately. Nobody calls "
                     "back.")
    reply = data["result"].draft.reply
    assert "I'll look after your case myself from now on and update you within one business day. " in reply, reply


def test_a_sender_on_no_account_asking_where_an_order_is_is_asked_who_they_are(services: Services) -> None:
    data = processed(services, "WHERE-1", "someone@mailinator.example", "Hi, where is my coffee machine? No update "
                     "for days.")
    reply = data["result"].draft.reply
    assert "could not match your message to an account" in reply and "A colleague is looking" not in reply, reply
