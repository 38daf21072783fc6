"""What an advisor decides on in the workspace: actions they add by hand (checked, rehearsed, approved and audited
like the agent's own), the customer's records offered as choices, repeat contacts escalated with their history,
a reversal that reopens its ticket with a message drafted, the money on an order, and the inbox's order and
previews."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cx_core import audit, desk, review
from cx_core.access import StaffUser
from cx_core.errors import InvalidInput
from cx_core.models import Role, TicketIn
from cx_core.services import Services
from tests.conftest import NOW
from tests.helpers import DEMO_ADMIN, find_order, order, refunds

ADVISOR = StaffUser("ada", "Ada Advisor", Role.advisor)
SUPERVISOR = StaffUser("sam", "Sam Supervisor", Role.supervisor)


def processed(svc: Services, ticket_id: str, email: str, body: str, subject: str = "A question",
              at: timedelta = timedelta(0)) -> dict:
    t = TicketIn(id=ticket_id, customer=email, subject=subject, body=body, created_at=NOW + at)
    desk.add_tickets(svc.db, [t], source="test")
    desk.store_result(svc.db, svc.policy(), svc.pipeline.process(t, now=NOW + at))
    return desk.get_ticket(svc.db, ticket_id)


def test_an_added_action_is_checked_waits_for_approval_and_is_worded_in_the_reply(services: Services) -> None:
    o = find_order(services, "delivered", max_total=400, min_total=20)
    data = processed(services, "ADD-1", o["email"], "Hello, can you send me a copy of my invoice please?")
    choices = desk.ticket_choices(services.db, "ADD-1")
    assert o["order_id"] in dict(choices["order_id"]) and o["item_id"] in dict(choices["item_id"])
    assert dict(choices["order_id"])[o["order_id"]].startswith(o["order_id"] + " · ")
    before = refunds(services, o["order_id"])

    out = desk.add_action(services.db, services.policy(), ADVISOR, "ADD-1", "refund",
                             {"order_id": o["order_id"], "amount": 10.0, "reason": "goodwill"})
    assert out["status"] == "pending"
    assert refunds(services, o["order_id"]) == before  # rehearsed, nothing ran
    data = desk.get_ticket(services.db, "ADD-1")
    added = next(p for p in data["proposals"] if p["id"] == out["id"])
    assert added["status"] == "pending" and added["rationale"] == "added by Ada Advisor"
    _, text = desk.reply_draft(data)
    assert "refund" in text.lower() and "refunded" not in text.lower()  # said as waiting, never as done
    events = audit.events(services.db, DEMO_ADMIN, ticket_id="ADD-1")
    assert any(e.kind == "proposal.added" for e in events)

    done = desk.approve(services.db, services.policy(), ADVISOR, out["id"])
    assert done["status"] == "executed" and len(refunds(services, o["order_id"])) == len(before) + 1
    _, text = desk.reply_draft(desk.get_ticket(services.db, "ADD-1"))
    assert "refund" in text.lower()


def test_an_added_action_is_refused_in_one_line_and_nothing_is_stored(services: Services) -> None:
    o = find_order(services, "delivered", max_total=400, min_total=20)
    other = find_order(services, "delivered", other_than=o["user_id"])
    processed(services, "ADD-2", o["email"], "Hello, can you send me a copy of my invoice please?")
    count = len(desk.get_ticket(services.db, "ADD-2")["proposals"])
    cases = [("refund", {"order_id": o["order_id"], "amount": "lots", "reason": "x"}, "amount"),
             ("refund", {"order_id": other["order_id"], "amount": 5.0, "reason": "goodwill"}, "customer"),
             ("refund", {"order_id": o["order_id"], "amount": o["total"] + 1000, "reason": "goodwill"}, "Refund: "),
             ("send_reply", {"body": "hi"}, "not an action that can be added"),
             ("no_such_action", {}, "not an action that can be added")]
    for action, args, says in cases:
        with pytest.raises(InvalidInput, match=says) as err:
            desk.add_action(services.db, services.policy(), ADVISOR, "ADD-2", action, args)
        assert "\n" not in str(err.value)
    assert len(desk.get_ticket(services.db, "ADD-2")["proposals"]) == count


def test_an_added_refund_above_the_advisor_limit_waits_for_a_supervisor(services: Services) -> None:
    o = find_order(services, "delivered", min_total=600)
    processed(services, "ADD-3", o["email"], "Hello, can you send me a copy of my invoice please?")
    out = desk.add_action(services.db, services.policy(), ADVISOR, "ADD-3", "refund",
                             {"order_id": o["order_id"], "amount": 550.0, "reason": "goodwill"})
    assert out["required_role"] == "supervisor"


def test_the_third_contact_about_one_problem_is_escalated_with_its_history(services: Services) -> None:
    o = find_order(services, "pending")
    body = f"Where is my order {o['order_id']}? It has not arrived yet."
    first = processed(services, "REP-1", o["email"], body, "Where is my order")
    second = processed(services, "REP-2", o["email"], body, "Where is my order", at=timedelta(days=2))
    assert first["ticket"]["status"] != "escalated" and second["ticket"]["status"] != "escalated"
    third = processed(services, "REP-3", o["email"], body, "Where is my order", at=timedelta(days=4))
    result = third["result"]
    assert third["ticket"]["status"] == "escalated" and "third contact" in result.escalation_reason
    assert [h["id"] for h in result.packet["history"]] == ["REP-1", "REP-2"]


def test_a_message_that_says_it_is_a_third_contact_is_escalated(services: Services) -> None:
    o = find_order(services, "pending")
    data = processed(services, "REP-9", o["email"], f"This is the third time I'm writing about order {o['order_id']}. "
                     "Where is it?", "Order")
    assert data["ticket"]["status"] == "escalated"
    reason = data["result"].escalation_reason
    assert "third contact" in reason or "at least 3 times" in reason


def test_a_reversal_reopens_the_ticket_with_a_message_drafted(services: Services) -> None:
    from tests.test_orchestration import run, with_policy

    with_policy(services, review={"sample_rate": 1.0, "risk_above": 1.0})
    o = find_order(services, "pending")
    run(services, "REV-1", o["email"], f"Please change the address of {o['order_id']} to 12 Oak Street, Austin, "
                                       "TX 73301.", 3)
    item = next(i for i in review.queue(services.db, SUPERVISOR)[0] if i["ticket_id"] == "REV-1")
    review.reverse(services.db, SUPERVISOR, item["id"], "the customer wrote from a shared mailbox")
    data = desk.get_ticket(services.db, "REV-1")
    assert data["ticket"]["status"] == "open" and data["ticket"]["resolved_at"] is None
    _, text = desk.reply_draft(data)
    assert "reversed" in text and o["order_id"] in text
    assert order(services, o["order_id"]).address1 != "12 Oak Street"
    assert "ticket.reopened" in [e.kind for e in audit.events(services.db, DEMO_ADMIN, ticket_id="REV-1")]


def test_the_customer_card_shows_what_was_paid_refunded_and_is_refundable(services: Services) -> None:
    from cx_core.domain import active
    from cx_core.store.db import utcnow

    o = find_order(services, "delivered", max_total=400, min_total=20)
    with services.db.session() as s:
        card = active().module("records").card(s, o["user_id"], utcnow())
    row = next(r for r in card["tabs"]["Payments"] if r["order"] == o["order_id"])
    assert row["refundable now"] == pytest.approx(o["total"]) and row["paid"] >= row["refundable now"]
    assert "payment" in row["movements"]


def test_inbox_previews_are_plain_words_cut_at_a_word() -> None:
    assert desk.plain("**Refund** for [my order](http://x.example) `now`") == "Refund for my order now"
    assert desk.plain("# Heading\n> quoted\n- item") == "Heading quoted item"
    cut = desk.cut_words("The quick brown fox jumps over the lazy dog", 18)
    assert cut == "The quick brown…" and len(cut) <= 19
    assert desk.cut_words("short", 18) == "short"


def test_an_advisor_escalates_with_a_reason_and_a_supervisor_finds_it_free(services: Services) -> None:
    o = find_order(services, "delivered", max_total=400, min_total=20)
    processed(services, "ESC-1", o["email"], "Hello, can you send me a copy of my invoice please?")
    desk.assign(services.db, SUPERVISOR, "ESC-1", "sam")
    with pytest.raises(InvalidInput, match="sam is working on this ticket"):  # not someone else's ticket
        desk.escalate(services.db, ADVISOR, "ESC-1", "mine now")
    desk.assign(services.db, SUPERVISOR, "ESC-1", "ada")
    with pytest.raises(InvalidInput, match="say why"):
        desk.escalate(services.db, ADVISOR, "ESC-1", "   ")
    with pytest.raises(InvalidInput, match="under 500"):
        desk.escalate(services.db, ADVISOR, "ESC-1", "x" * 501)
    assert desk.get_ticket(services.db, "ESC-1")["ticket"]["status"] == "open"  # nothing changed by the refusals
    desk.escalate(services.db, ADVISOR, "ESC-1", "The customer asks for a manager.")
    data = desk.get_ticket(services.db, "ESC-1")
    assert data["ticket"]["status"] == "escalated" and data["ticket"]["assigned_to"] is None
    assert data["result"].escalated and data["result"].escalation_reason == "ada asked for a supervisor: The customer asks for a manager."
    assert any(e.kind == "ticket.escalated" for e in audit.events(services.db, DEMO_ADMIN, ticket_id="ESC-1"))
    with pytest.raises(InvalidInput, match="only an open or waiting ticket"):
        desk.escalate(services.db, ADVISOR, "ESC-1", "again")


def test_a_reply_that_asks_or_promises_keeps_the_ticket_open_by_default() -> None:
    assert desk.promises_follow_up("Which day would suit you?")
    assert desk.promises_follow_up("I'm arranging it. I'll confirm by email as soon as it goes through.")
    assert desk.promises_follow_up("A colleague in billing will get back to you within a day.")
    assert not desk.promises_follow_up("I've refunded $20.00 on order #W1000001. Kind regards")


def test_a_payment_names_its_method_as_people_read_it_not_its_amount() -> None:
    snap = {"reservations": [{"reservation_id": "ABC123",
                              "payment_history": [{"payment_id": "credit_card_1", "amount": 135}]}],
            "user": {"payment_methods": [{"id": "credit_card_1", "source": "credit_card",
                                          "label": "Visa ending 3681"}]}}
    [(value, text)] = desk.record_choices(snap)["payment_id"]
    assert value == "credit_card_1" and "Visa ending 3681" in text and "135" not in text


def test_a_free_slot_reads_as_its_time_and_an_order_keeps_its_number() -> None:
    from pages.fields import said_as, value_text

    snap = {"orders": [{"order_id": "#W1000001", "status": "delivered"}],
            "appointments": [{"appointment_id": "APT-1", "kind": "installation", "start": "2026-11-29T10:00",
                              "free_slots": [{"slot_id": "SL-00271", "start": "2026-11-30T09:00"}]}]}
    choices = desk.record_choices(snap)
    assert value_text("slot_id", "SL-00271", choices) == "30 Nov 2026, 09:00"
    assert value_text("slot_id", "SL-00346", choices) == "SL-00346 (no longer available)"  # booked by someone since
    assert value_text("order_id", "#W1000001", choices).startswith("#W1000001 · ")
    assert said_as("credit_card_1 · Visa ending 3681") == "Visa ending 3681"


def test_an_items_other_options_are_offered_under_its_product_name() -> None:
    snap = {"orders": [{"order_id": "#W1000001", "items": [{"item_id": "1111111", "name": "Desk Lamp"}],
                        "variants": {"1111111": [{"item_id": "2222222", "options": {"color": "black"},
                                                  "available": True, "price": 25.0}]}}]}
    [(value, text)] = desk.record_choices(snap)["new_item_id"]
    assert value == "2222222" and "Desk Lamp" in text and "black" in text


def test_an_escalated_ticket_drafts_the_full_answer_for_the_person_who_takes_it(services: Services) -> None:
    o = find_order(services, "pending")
    due = order(services, o["order_id"]).expected_delivery
    asked = "Tuesday 24 November" if due is not None and due.isoformat() == "2026-11-23" else "Monday 23 November"
    data = processed(services, "REP-FULL", o["email"], f"This is the third time I'm writing! Please move the delivery "
                     f"of order {o['order_id']} to {asked}.", "Delivery")
    result = data["result"]
    assert data["ticket"]["status"] == "escalated"
    move = next(p for p in result.proposals if p.action == "reschedule_delivery")
    assert move.decision.value == "needs_approval"  # nothing runs alone; the person approves it as proposed
    assert "move the delivery of order" in result.draft.reply and "specialist colleague" not in result.draft.reply
    assert "again about this" in result.draft.reply  # the apology for writing again


def test_a_sender_who_is_no_longer_the_accounts_address_is_flagged_and_money_reads_as_money() -> None:
    from pages.fields import sender_moved, shown_rows

    contact = "plus · karen.castro.94@mailbox.org · 238-719-7136"
    assert "karen.castro986@example.com" in sender_moved("karen.castro986@example.com", contact)
    assert sender_moved("Karen.Castro.94@mailbox.org", contact) == ""
    assert sender_moved("", contact) == "" and sender_moved("a@b.com", "plus · no address") == ""
    [row] = shown_rows([{"paid": 1001, "order_id": "#W1000001", "credited": 0.0}])
    assert row["Paid"] == "$1,001.00" and row["Credited"] == "$0.00" and "#W1000001" in row.values()


def test_a_ticket_without_a_subject_is_titled_by_its_words_not_its_greeting() -> None:
    assert desk.opening("Good morning,\n\nPlease cancel reservation 11JPES") == "Please cancel reservation 11JPES"
    assert desk.opening("Dear Lumen Home team,\n\nMy lamp is broken") == "My lamp is broken"
    assert desk.opening("High time you answered") == "High time you answered"


def test_an_actions_fields_offer_only_what_goes_with_the_records_its_other_fields_name() -> None:
    snap = {"orders": [{"order_id": "#W1", "items": [{"item_id": "11", "name": "Desk Lamp"},
                                                      {"item_id": "12", "name": "Kettle"}],
                        "variants": {"11": [{"item_id": "21", "options": {"color": "black"}}],
                                     "12": [{"item_id": "22", "options": {"color": "red"}}]}},
                       {"order_id": "#W2", "items": [{"item_id": "13", "name": "Toaster"}]}]}
    choices = desk.record_choices(snap)
    assert {x for x, _ in choices["item_id"]} == {"11", "12", "13"}
    swap = choices.within({"order_id": "#W1", "item_ids": ["11"], "new_item_ids": []})
    assert {x for x, _ in swap["item_id"]} == {"11", "12"}  # the order's own items, not the toaster of #W2
    assert {x for x, _ in swap["new_item_id"]} == {"21"}  # the lamp's other colours only
    assert {x for x, _ in swap["order_id"]} == {"#W1", "#W2"}  # an order sits under nothing: every one stays
    # a value held now stays whatever it sits under; nothing named: everything
    assert {x for x, _ in choices.within({"order_id": "#W2", "item_ids": ["11"]})["item_id"]} == {"11", "13"}
    assert choices.within({})["item_id"] == choices["item_id"]
