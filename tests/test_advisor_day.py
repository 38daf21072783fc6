"""What an advisor reads on a busy day, on real demo records: the same request sent twice is flagged once done, a
formal complaint handed over still names what else its supervisor decides, "How do I return it?" is answered with
how, a knowledge sentence that leans on the one before is never quoted alone, and a refusal offers a colleague
once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from cx_core import desk
from cx_core.access import StaffUser
from cx_core.errors import InvalidInput
from cx_core.models import Passage, Role
from cx_core.services import Services
from cx_core.store.tables import AuditRow
from cx_core.wording import also_decided, offer
from domains.lumen.tables import CustomerRow, OrderItemRow, OrderRow
from tests.conftest import NOW
from tests.helpers import find_callout_with_booking, find_order
from tests.test_workspace_actions import processed

ADVISOR = StaffUser("ada", "Ada Advisor", Role.advisor)
SUPERVISOR = StaffUser("sam", "Sam Supervisor", Role.supervisor)


def recent_delivery(svc: Services) -> dict[str, str]:
    """A single-item order delivered within the return window, and its customer's address."""
    with svc.db.session() as s:
        for o in s.scalars(select(OrderRow).where(OrderRow.status == "delivered").order_by(OrderRow.order_id)):
            items = list(s.scalars(select(OrderItemRow).where(OrderItemRow.order_id == o.order_id)))
            if o.delivered_on and (NOW.date() - o.delivered_on).days < 20 and len(items) == 1:
                c = s.get(CustomerRow, o.user_id)
                assert c is not None
                return {"order_id": o.order_id, "email": c.email, "item": items[0].name.lower()}
    raise LookupError("no recent single-item delivery")


def test_the_same_change_done_from_another_ticket_is_flagged_before_it_is_approved_twice(services: Services) -> None:
    o = find_order(services, "pending")
    body = f"Please send order {o['order_id']} to 12 Elm Street, Springfield, IL 62704 instead."
    # read in the other order (the later message first): each proposes the change, and each is flagged
    processed(services, "TWICE-2", o["email"], body, at=timedelta(minutes=5))
    first = processed(services, "TWICE-1", o["email"], body)
    second = desk.get_ticket(services.db, "TWICE-2")
    move = next(p for p in first["proposals"] if p["action"] == "change_shipping_address")
    again = next(p for p in second["proposals"] if p["action"] == "change_shipping_address")
    assert again["done_elsewhere"]["pending"] and again["done_elsewhere"]["ticket_id"] == "TWICE-1"  # waiting twice
    assert desk.approve(services.db, services.policy(), ADVISOR, move["id"])["status"] == "executed"
    flagged = next(p for p in desk.get_ticket(services.db, "TWICE-2")["proposals"] if p["id"] == again["id"])
    assert flagged["done_elsewhere"]["ticket_id"] == "TWICE-1" and flagged["done_elsewhere"]["decided_by"] == "ada"
    assert not flagged["done_elsewhere"]["pending"]
    assert next(p for p in desk.get_ticket(services.db, "TWICE-1")["proposals"]
                if p["id"] == move["id"])["done_elsewhere"] is None  # the one that ran is not flagged
    # approving the twin needs the reason to do it again, which the audit log keeps
    with pytest.raises(InvalidInput, match="already done for the customer .* give the reason to do it again"):
        desk.approve(services.db, services.policy(), ADVISOR, again["id"])
    assert desk.approve(services.db, services.policy(), ADVISOR, again["id"],
                        again="the courier lost the first parcel")["status"] in ("executed", "denied")
    with services.db.session() as s:
        kept = s.scalars(select(AuditRow).where(AuditRow.kind == "proposal.again")).all()
    assert [e.ticket_id for e in kept] == ["TWICE-2"] and "courier lost" in kept[0].data
    # asked once more, after it ran: never offered as a fresh action; the reply says it is done
    third = processed(services, "TWICE-3", o["email"], body, at=timedelta(minutes=10))
    assert not [p for p in third["proposals"] if p["action"] == "change_shipping_address" and p["status"] == "pending"]
    assert "approve" not in third["result"].draft.reply.lower()


def test_a_write_already_done_from_another_ticket_is_recorded_as_done_not_offered_again() -> None:
    from datetime import datetime

    from cx_core.actions import ExecContext
    from cx_core.models import Decision
    from cx_core.plans import Step
    from cx_core.step_runner import StepRunner

    ran = {"action": "refund", "args": {"order_id": "#W1", "amount": 6.0}, "result": {"refunded": 6.0},
           "ticket_id": "T-1", "decided_at": datetime(2026, 11, 19, 10), "execution_key": "proposal:7"}
    run = StepRunner(None, None, ExecContext(actor="agent", role=None, ticket_id="T-2", customer_id="u1"), "",  # type: ignore[arg-type]
                     elsewhere=[ran])
    assert run._settled(Step("refund", {"order_id": "#W1", "amount": 6.0}, "refund", "asked"),
                        {"order_id": "#W1", "amount": 6.0})
    [p] = run.proposals
    assert p.decision == Decision.executed and p.reason == "already done on 19 Nov from ticket T-1"
    assert p.route == "earlier" and p.execution_key == "proposal:7"
    # other details are a new request: offered as usual
    assert not run._settled(Step("refund", {"order_id": "#W1", "amount": 9.0}, "refund", "asked"),
                            {"order_id": "#W1", "amount": 9.0})


def test_a_formal_complaint_handed_over_names_the_other_request_its_supervisor_decides(services: Services) -> None:
    o = recent_delivery(services)
    data = processed(services, "FORMAL-1", o["email"],
                     f"My {o['item']} from order {o['order_id']} arrived broken. I want to make a formal complaint "
                     "about how my order was handled.")
    reply = data["result"].draft.reply
    assert "formal complaint" in reply and "supervisor" in reply
    assert f"They will also decide on the return for order {o['order_id']}." in reply


def test_how_do_i_return_it_is_answered_with_how_and_the_offer(services: Services) -> None:
    o = recent_delivery(services)
    data = processed(services, "HOW-1", o["email"], f"How do I return an item? Order {o['order_id']}.")
    reply = data["result"].draft.reply
    assert "prepaid return label" in reply and "Just reply to this message" in reply
    assert "I'm arranging a return" not in reply  # only offered: the customer asked how
    # the item is unwanted ("isn't right for us"): asking how to send it back is asking for the return
    data = processed(services, "HOW-2", o["email"],
                     f"The {o['item']} isn't right for us. How do I return it? Order {o['order_id']}.")
    reply = data["result"].draft.reply
    assert "I'm arranging a return" in reply and "prepaid label" in reply and "Just reply" not in reply
    assert [p.action for p in data["result"].proposals if p.action != "refund"] == ["return_items"]


def test_an_offer_says_how_it_goes_when_its_action_tells() -> None:
    said = offer("return_items", {"order_id": "#W1000001"})
    assert said.startswith("I can arrange the return for order #W1000001 for you: ")
    assert offer("reschedule_delivery", {"order_id": "#W1000001"}).startswith("If you would like me to arrange")
    assert also_decided([("return_items", {"order_id": "#W1"}), ("book_repair", {"order_id": "#W2"})]) == (
        "They will also decide on the return for order #W1 and the warranty repair for order #W2.")
    assert also_decided([]) == ""


def test_a_sentence_that_leans_on_the_one_before_is_never_quoted_alone(services: Services) -> None:
    p = Passage(doc_id="acc", title="Account access", heading="Locked account", score=1.0,
                text="After 5 failed attempts the account locks for 30 minutes. After that the customer can try "
                     "again or reset the password.")
    quotes = [q for q, _ in services.pipeline.drafter.best_sentences("Can I try again or reset the password?", [p],
                                                                      n=1, least=0.0)]
    assert quotes and not quotes[0].startswith("After that")


def test_an_advisor_approving_above_their_limit_refers_it_to_a_supervisor_refusing_nothing(services: Services) -> None:
    o = find_order(services, "delivered", min_total=600)
    processed(services, "LIMIT-1", o["email"], "Hello, can you send me a copy of my invoice please?")
    added = desk.add_action(services.db, services.policy(), ADVISOR, "LIMIT-1", "refund",
                            {"order_id": o["order_id"], "amount": 550.0, "reason": "goodwill"})
    policy = services.policy()
    out = desk.approve(services.db, policy, ADVISOR, added["id"])
    assert out["status"] == "escalated" and "needs a supervisor" in out["reason"] and "of $" in out["reason"]
    data = desk.get_ticket(services.db, "LIMIT-1")
    waiting = next(p for p in data["proposals"] if p["id"] == added["id"])
    assert waiting["status"] == "pending" and waiting["required_role"] == "supervisor"  # nothing refused
    assert data["ticket"]["status"] == "escalated"  # in the supervisors' queue
    assert desk.approve(services.db, policy, SUPERVISOR, added["id"])["status"] == "executed"


def swappable(svc: Services) -> dict[str, str]:
    """A recent delivery with an item (named once on its order) sold in another colour, all else the same."""
    from domains.lumen.records import snapshot

    with svc.db.session() as s:
        for o in s.scalars(select(OrderRow).where(OrderRow.status == "delivered").order_by(OrderRow.order_id)):
            if not o.delivered_on or (NOW.date() - o.delivered_on).days >= 20:
                continue
            view = next(v for v in snapshot(s, o.user_id, NOW)["orders"] if v["order_id"] == o.order_id)
            names = [i["name"] for i in view["items"]]
            for item in view["items"]:
                other = [v for v in view["variants"][item["item_id"]] if v["available"] and v["options"].get("color")
                         and v["options"].get("color") != item["options"].get("color")
                         and all(v["options"].get(k) == x for k, x in item["options"].items() if k != "color")]
                if other and names.count(item["name"]) == 1:
                    c = s.get(CustomerRow, o.user_id)
                    assert c is not None
                    return {"email": c.email, "order_id": o.order_id, "name": item["name"],
                            "colour": other[0]["options"]["color"], "now": str(item["options"]["color"])}
    raise LookupError("no recent delivery with an item in another colour")


def test_an_item_named_in_the_sentence_before_can_i_swap_it_is_exchanged_with_its_words(services: Services) -> None:
    x = swappable(services)
    data = processed(services, "SWAP-1", x["email"], f"the {x['name'].lower()} from {x['order_id']} is lovely but I "
                                                     f"wanted it in {x['colour']}. Can I swap it?")
    swap = next(p for p in data["proposals"] if p["action"] == "exchange_item")
    assert swap["args"].get("new_item_ids") and swap["decision"] == "needs_approval"
    assert f"the exchange of the {x['name']} for the {x['colour']} one" in data["result"].draft.reply


def test_an_exchange_to_the_colour_it_already_has_is_said_so_never_swapped_for_another_size(
        services: Services) -> None:
    x = swappable(services)
    data = processed(services, "SWAP-2", x["email"], f"the {x['name'].lower()} from {x['order_id']} is lovely but I "
                                                     f"wanted it in {x['now']}. Can I swap it?")
    reply = data["result"].draft.reply
    assert f"is already {x['now']}" in reply and "which other option would you like instead?" in reply.lower()
    assert "I'm arranging" not in reply


def test_the_weekday_of_a_visit_names_it_among_several_booked() -> None:
    from datetime import date

    from domains.lumen.appointments import pick_appointment

    def visit(aid: str, start: str) -> dict[str, object]:
        return {"appointment_id": aid, "order_id": "", "status": "booked", "start": start, "free_slots": []}

    snap = {"appointments": [visit("APT-1", "2026-12-02T16:00"), visit("APT-2", "2026-12-04T10:00")], "orders": []}
    text = "I can't be home for the installation on Friday. Could the technician come on Monday 30 November?"
    appt, wanted, _ = pick_appointment(snap, {"dates": ["2026-11-30"]}, text, date(2026, 11, 25))
    assert appt is not None and appt["appointment_id"] == "APT-2" and wanted == ["2026-11-30"]
    # a weekday with a date is a day asked for, never the visit's own weekday
    appt, _, _ = pick_appointment(snap, {"dates": []}, "Could the technician come on Friday 11 December?",
                                  date(2026, 11, 25))
    assert appt is None  # which of the two is not said: the reply asks, naming both


def test_a_formal_complaint_typed_fast_is_still_one() -> None:
    from cx_core.signals import FORMAL_COMPLAINT as FORMAL

    assert FORMAL.search("I want to make a foraml copmlaint about how my odrer was handled.")
    assert FORMAL.search("I wish to complain formally.") and not FORMAL.search("the formula is complex")


def booked_on_saturday() -> dict[str, object]:
    slots = [{"slot_id": f"SL-{n}", "start": start} for n, start in enumerate(
        ["2026-11-20T08:00", "2026-11-20T14:00", "2026-11-27T08:00", "2026-11-27T14:00"])]
    return {"profile": {"user_id": "u1"}, "orders": [], "invoices": [], "charges": [], "appointments": [
        {"appointment_id": "APT-1", "order_id": "", "kind": "installation", "status": "booked",
         "start": "2026-11-28T10:00", "free_slots": slots}]}


def test_a_day_ruled_out_in_a_sentence_of_its_own_is_never_the_one_moved_to() -> None:
    from datetime import date

    from cx_core.reading.language import CONDITION
    from domains.lumen.appointments import pick_appointment

    full = "The installation on Saturday won't work for me. Friday doesn't work either. Is Friday 27 November free?"
    asked = "The installation on Saturday won't work for me. Is Friday 27 November free?"  # the request's own words
    appt, wanted, avoid = pick_appointment(booked_on_saturday(), {"dates": ["2026-11-20", "2026-11-27"]}, asked,
                                           date(2026, 11, 18), full)
    assert appt is not None and wanted == ["2026-11-27"] and "2026-11-20" in avoid
    assert not CONDITION.search(full)  # "doesn't work either." sets no condition


def test_a_day_named_both_as_impossible_and_as_wanted_is_asked_about_with_its_free_times() -> None:
    from datetime import date

    from domains.lumen.asked import Asked
    from domains.lumen.visits import installation_reschedule

    text = ("The installation on Saturday won't work for me. Friday doesn't work either. Could you move it to Friday "
            "the 20th in the afternoon?")
    steps, ask = installation_reschedule(Asked("installation_reschedule", text, {
        "dates": ["2026-11-20"], "time_of_day": ["afternoon"]}, booked_on_saturday(), date(2026, 11, 18), text))
    assert [s.missing for s in steps] == ["the new day"]  # nothing is moved on a guess
    assert ask == ("you mention Friday 20 November both as a day that doesn't suit you and as one you'd like; it has "
                   "free times at 14:00; which day and time would suit you best?")


def test_a_formal_complaint_naming_nothing_is_handed_over_and_asked_what_happened(services: Services) -> None:
    o = recent_delivery(services)
    data = processed(services, "FORMAL-2", o["email"], "I want to make a formal complaint. This is the worst service "
                                                       "I have ever had.")
    reply = data["result"].draft.reply
    assert "supervisor, who now owns your case" in reply
    assert "So that they can look into it straight away, " in reply and reply.count("?") == 1


def test_an_address_changed_for_one_item_says_the_rest_of_the_order_goes_there_too(services: Services) -> None:
    with services.db.session() as s:
        for o in s.scalars(select(OrderRow).where(OrderRow.status == "pending").order_by(OrderRow.order_id)):
            names = [i.name for i in s.scalars(select(OrderItemRow).where(OrderItemRow.order_id == o.order_id))]
            if len(set(names)) == 2 and len(names) == 2:
                c = s.get(CustomerRow, o.user_id)
                assert c is not None
                email, order_id = c.email, o.order_id
                break
    data = processed(services, "ALONG-1", email, f"Hi, could you send the {names[0].lower()} from order {order_id} to "
                                                 "my office instead: 500 Market Street, Suite 200, San Francisco, CA "
                                                 "94105?")
    assert [p["action"] for p in data["proposals"]] == ["change_shipping_address"]
    assert f"An order ships to one address, so the {names[1]} will go there too." in data["result"].draft.reply


def test_which_of_two_visits_on_the_day_ruled_out_is_asked_after_the_free_times_of_the_day_asked_for() -> None:
    from datetime import date

    from domains.lumen.asked import Asked
    from domains.lumen.visits import installation_reschedule

    slots = [{"slot_id": f"SL-{n}", "start": start} for n, start in enumerate(
        ["2026-11-28T08:00", "2026-11-28T12:00", "2026-12-04T08:00", "2026-12-04T14:00"])]
    snap = {"profile": {"user_id": "u1"}, "orders": [], "invoices": [], "charges": [], "appointments": [
        {"appointment_id": f"APT-{n}", "order_id": "", "kind": "installation", "status": "booked", "start": start,
         "free_slots": slots} for n, start in enumerate(["2026-11-28T08:00", "2026-11-28T10:00"])]}
    text = "need to rebook the install, Saturday doesn't work anymore. is Friday 4 December free?"
    steps, ask = installation_reschedule(Asked("installation_reschedule", text, {
        "dates": ["2026-11-28", "2026-12-04"]}, snap, date(2026, 11, 25), text))
    assert steps == [] and ask == (
        "Friday 4 December has free times at 08:00 and 14:00; you have 2 visits booked on Saturday 28 November: "
        "would you like to move both, or just the installation at 08:00 or the installation at 10:00?")


def test_an_item_that_came_broken_is_not_told_when_it_was_delivered(services: Services) -> None:
    o = recent_delivery(services)
    data = processed(services, "CAME-1", o["email"], f"{o['item']} came broken!! order {o['order_id']} I'm fed up "
                                                     "with waiting.")
    reply = data["result"].draft.reply
    assert "I'm sorry it arrived damaged, and that you have been kept waiting." in reply
    assert "was delivered on" not in reply and "We have received the order" not in reply
    assert [p["action"] for p in data["proposals"] if p["action"] != "refund"] == ["return_items"]


def test_a_delivery_asked_for_the_day_it_is_due_is_told_so_with_no_rule_beside_it(services: Services) -> None:
    with services.db.session() as s:
        o = next(o for o in s.scalars(select(OrderRow).where(OrderRow.status == "pending").order_by(OrderRow.order_id))
                 if o.expected_delivery and o.expected_delivery > NOW.date())
        c = s.get(CustomerRow, o.user_id)
        assert c is not None
        email, order_id, due = c.email, o.order_id, o.expected_delivery
    data = processed(services, "DUE-1", email, f"I won't be in for the delivery of order {order_id}. Could it come on "
                                               f"{due:%A} {due.day} {due:%B} instead?")
    reply = data["result"].draft.reply
    assert f"Order {order_id} is already due on {due:%A} {due.day} {due:%B}, the day you ask for." in reply
    assert "[" not in reply and "rescheduled" not in reply  # no rule quoted beside what the records answer


def test_a_message_the_agent_cannot_place_is_not_asked_for_the_reference_it_gives(services: Services) -> None:
    from cx_core.models import Triage

    def reply(referenced: bool) -> str:
        triage = Triage(task_type="unclassified", intent="unclassified", confidence=0.2, abstained=True,
                        entities={"referenced": referenced})
        customer = {"first_name": "Jimmy", "name": "Jimmy Allen", "tier": "standard"}
        return services.pipeline.drafter.draft(triage, customer, "email", {}, [], {}, "", 2).reply

    assert "A colleague is reviewing it and will reply shortly." in reply(True)
    assert "reference number" not in reply(True) and "reference number" in reply(False)


def test_an_item_named_with_a_slip_of_the_keys_is_the_one_returned() -> None:
    from cx_core.reading.naming import typed_fast as _typed_fast

    assert _typed_fast("i'd like to send back the cfofee machine from order #W1007468", "Coffee Machine")
    assert not _typed_fast("i'd like to send back the machine from order #W1007468", "Coffee Machine")
    assert not _typed_fast("the toffee tin arrived", "Coffee Machine")


def test_a_charger_sent_back_is_a_return_not_a_charge_dispute(services: Services) -> None:
    from cx_core.models import Request, Triage
    from domains.lumen.planner import grounded

    said = "the ev charger isn't right for us. How do I return it?"
    triage = Triage(task_type="charge_dispute", intent="charge_dispute", confidence=0.78,
                    requests=[Request(intent="charge_dispute", text=said, confidence=0.78)])
    snap = {"orders": [], "profile": {"user_id": "u1"}}
    assert [r.intent for r in grounded(triage, snap, said).requests] == ["return_refund"]
    charged = "Why was I charged $49 for the charger visit?"  # a charge named: a dispute it stays
    triage = triage.model_copy(update={"requests": [Request(intent="charge_dispute", text=charged, confidence=0.8)]})
    assert [r.intent for r in grounded(triage, snap, charged).requests] == ["charge_dispute"]


def test_a_visit_moved_with_no_time_said_keeps_its_time_of_day() -> None:
    from datetime import date

    from domains.lumen.asked import Asked
    from domains.lumen.visits import installation_reschedule

    text = "Please move my installation to Friday 27 November."
    snap = booked_on_saturday()
    snap["appointments"][0]["start"] = "2026-11-28T13:00"
    snap["appointments"][0]["free_slots"][2:2] = [{"slot_id": f"SL-X{h}", "start": f"2026-11-27T{h}:00"}
                                                  for h in ("09", "10", "11", "12")]  # more than four that day
    steps, _ = installation_reschedule(Asked("installation_reschedule", text, {"dates": ["2026-11-27"]}, snap,
                                             date(2026, 11, 18), text))
    assert steps[0].args["slot_id"] == "SL-X12"  # 12:00, the free time nearest the 13:00 it is booked at


def test_a_sender_on_no_account_is_asked_for_what_their_channel_can_give() -> None:
    from domains.lumen.planner import _no_account

    assert "could you write to us from the email address on your account" in _no_account("order_status", "email")
    assert _no_account("charge_dispute", "chat").endswith("could you tell us the email address on your account, or "
                                                          "your order number?")


def test_the_visit_on_the_day_ruled_out_moves_to_the_day_of_another_visit_at_a_free_time() -> None:
    from datetime import date

    from domains.lumen.asked import Asked
    from domains.lumen.visits import installation_reschedule

    slots = [{"slot_id": f"SL-{n}", "start": start} for n, start in enumerate(
        ["2026-12-04T14:00", "2026-12-04T16:00", "2026-12-05T16:00"])]
    snap = {"profile": {"user_id": "u1"}, "orders": [], "invoices": [], "charges": [], "appointments": [
        {"appointment_id": f"APT-{n}", "order_id": "", "kind": "installation", "status": "booked", "start": start,
         "free_slots": slots} for n, start in enumerate(["2026-11-30T16:00", "2026-12-04T14:00"])]}
    text = "i can't be home for the installation on Monday. Culd the technician come on Friday 4 December?"
    steps, ask = installation_reschedule(Asked("installation_reschedule", text, {
        "dates": ["2026-11-30", "2026-12-04"]}, snap, date(2026, 11, 25), text))
    assert ask == "" and steps[0].args == {"appointment_id": "APT-0", "slot_id": "SL-1"}  # never the other's 14:00
    assert steps[0].defaults["from"].startswith("2026-11-30")  # the reply says which of the two moves


def test_why_a_call_out_charge_is_answered_before_it_is_credited(services: Services) -> None:
    c = find_callout_with_booking(services)
    data = processed(services, "WHY-1", c["email"], "Why is there a call-out charge of $49 on my account? I was home "
                     "all day and nobody came.")
    reply = data["result"].draft.reply
    assert ("A call-out charge is billed when a technician arrives and nobody is home, or when a visit is changed "
            "less than 24 hours before its window. As you tell us nobody came, I'm arranging a credit of $49.00") in reply
    plain = processed(services, "WHY-2", c["email"], "Please take the $49 call-out charge off, nobody came.")
    assert "is billed when" not in plain["result"].draft.reply  # not asked why: not told


def test_the_brand_in_a_greeting_never_reads_as_the_home_address() -> None:
    from domains.lumen.order_requests import interpret

    snap = {"profile": {"user_id": "u1", "address": {"address1": "1 Main St", "address2": "", "city": "Austin",
                                                      "state": "TX", "country": "USA", "zip": "73301"}},
            "orders": [{"order_id": "#W1000001", "status": "pending", "items": [], "variants": {},
                        "address": {"address1": "1 Main St", "address2": "", "city": "Austin", "state": "TX",
                                    "country": "USA", "zip": "73301"}}], "payments": [], "payment_methods": []}
    read = interpret("Dear Lumen Home team,\n\nThe delivery address on #W1000001 is wrong, it should be 215 Harbor "
                     "Road, Boston, MA 02116.\n\nKind regards,\nAlbert", snap)
    assert [a for a, _, _ in read.steps] == ["change_shipping_address"]


def test_a_complaint_alone_from_a_sender_on_no_account_asks_who_they_are(services: Services) -> None:
    data = processed(services, "NOACC-1", "someone.new@example.org", "I am really disappointed. Nobody ever calls me "
                     "back when you say you will.")
    reply = data["result"].draft.reply
    assert "could you write to us from the email address on your account, or send your order number?" in reply
    assert "[1]" not in reply  # no rule quoted beside the question


def test_a_present_whose_timing_matters_hears_when_its_order_is_due_beside_a_double_charge(services: Services) -> None:
    o = find_order(services, "pending", duplicate=True)
    data = processed(services, "GIFT-1", o["email"], f"I ordered this as a present, so the timing matters. My card "
                     f"was charged twice for order {o['order_id']}. Please refund one.")
    reply = data["result"].draft.reply
    assert any(p["action"] == "refund" for p in data["proposals"])
    assert re.search(rf"Your order {re.escape(o['order_id'])} is still due on \w+day \d+ \w+\.", reply), reply
    assert reply.index("refund") < reply.index("is still due on")  # the answer first, the timing after


def test_a_cancellation_says_where_the_money_goes_back_and_when_it_shows(services: Services) -> None:
    o = find_order(services, "pending", single_item=True)
    data = processed(services, "CANCEL-WHEN", o["email"], f"Please cancel my order {o['order_id']}, I changed my mind.")
    assert any(p["action"] == "cancel_order" for p in data["proposals"])
    reply = data["result"].draft.reply
    assert re.search(r"will go back to your [\w ]+?(?: ending \d{4})?, where it shows (?:at once|within \d to \d "
                     r"business days)\.", reply), reply


def test_a_present_already_due_on_the_day_asked_is_told_so_once(services: Services) -> None:
    o = find_order(services, "pending", single_item=True)
    with services.db.session() as s:
        due = s.get(OrderRow, o["order_id"]).expected_delivery  # type: ignore[union-attr]
    if due is None or due <= NOW.date() + timedelta(days=1):
        pytest.skip("the order has no delivery day ahead")
    data = processed(services, "GIFT-2", o["email"], f"I ordered this as a present, so the timing matters. I won't be "
                     f"in for the delivery of order {o['order_id']}. Could it come on {due:%A} {due.day} {due:%B} "
                     "instead?")
    reply = data["result"].draft.reply
    assert "already due" in reply and "is still due on" not in reply, reply


def test_a_message_read_again_after_a_later_one_is_not_apologised_for_as_a_chase(services: Services) -> None:
    from cx_core.models import TicketIn

    o = find_order(services, "pending", single_item=True)
    first = TicketIn(id="LATER-1", customer=o["email"], subject="Delivery", created_at=NOW,
                     body=f"Could the delivery of order {o['order_id']} come on Friday 4 December instead?")
    processed(services, "LATER-1", o["email"], first.body, subject="Delivery")
    processed(services, "LATER-2", o["email"], f"Actually, could order {o['order_id']} come on Monday 7 December?",
              subject="Delivery", at=timedelta(hours=1))
    again = services.pipeline.process(first, now=NOW + timedelta(hours=2))  # read again, with the later one on file
    assert "again about" not in again.draft.reply, again.draft.reply
    assert int(again.triage.entities.get("contacts") or 1) == 1


def test_a_visit_moved_to_any_time_after_an_hour_takes_the_first_free_slot_at_or_after_it() -> None:
    from datetime import date

    from cx_core.entities import find_clock_times
    from domains.lumen.asked import Asked
    from domains.lumen.visits import installation_reschedule

    slots = [{"slot_id": f"SL-{n}", "start": start} for n, start in enumerate(
        ["2026-12-03T08:00", "2026-12-03T12:00", "2026-12-03T14:00", "2026-12-03T16:00"])]
    snap = {"profile": {"user_id": "u1"}, "orders": [], "invoices": [], "charges": [], "appointments": [
        {"appointment_id": "APT-1", "order_id": "", "kind": "installation", "status": "booked",
         "start": "2026-12-01T08:00", "free_slots": slots}]}
    for text, want in [("Please move the installation from Tuesday 1 December to Thursday 3 December, any time "
                        "after 2pm.", "SL-2"),
                       ("Please move the installation to Thursday 3 December, before noon if you can.", "SL-0"),
                       ("Please move the installation to Thursday 3 December at about 4pm.", "SL-3")]:
        ents = {"dates": ["2026-12-03", "2026-12-01"], "clock_times": find_clock_times(text)}
        steps, _ = installation_reschedule(Asked("installation_reschedule", text, ents, snap, date(2026, 11, 20),
                                                 text))
        assert steps[0].args["slot_id"] == want, text


def test_a_delivery_day_the_shop_cannot_do_gives_way_to_the_other_day_the_customer_gave() -> None:
    from datetime import date

    from cx_core.entities import find_dates
    from domains.lumen.asked import Asked
    from domains.lumen.planner import _delivery_reschedule

    snap = {"profile": {"user_id": "u1"}, "orders": [{"order_id": "#W1", "status": "pending", "items": [
        {"name": "Headphones"}], "expected_delivery": "2026-11-26"}], "appointments": []}
    today = date(2026, 11, 20)
    text = ("Can my headphones be delivered on Sunday the 29th? If you don't deliver on Sundays the Monday after is "
            "fine.")
    ents = {"dates": [d.isoformat() for d in find_dates(text, today)], "order_ids": ["#W1"]}
    steps, said = _delivery_reschedule(Asked("delivery_reschedule", text, ents, snap, today, text))
    assert steps[0].args == {"order_id": "#W1", "new_date": "2026-11-30"}
    assert str(said).startswith("we do not deliver on Sundays, so it comes on Monday 30 November")
    text = "Could the headphones come on Sunday the 29th instead?"  # the only day given cannot be done: asked again
    ents = {"dates": [d.isoformat() for d in find_dates(text, today)], "order_ids": ["#W1"]}
    steps, said = _delivery_reschedule(Asked("delivery_reschedule", text, ents, snap, today, text))
    assert steps[0].missing and "new_date" not in steps[0].args
    assert said == "we do not deliver on Sundays; which other day would suit you?"



def test_a_public_holiday_asked_for_gives_way_to_the_other_day_and_both_points_at_the_sentence_before() -> None:
    """Thanksgiving is no delivery day: "could you bring both on Thursday? If Thursday can't be done, make it
    Wednesday" moves the order the sentence before names to the Wednesday; the other order stays put."""
    from datetime import date

    from cx_core.entities import find_dates
    from domains.lumen.asked import Asked
    from domains.lumen.backend.orders import public_holiday
    from domains.lumen.planner import _delivery_reschedule

    assert public_holiday(date(2026, 11, 26)) == "Thanksgiving" and public_holiday(date(2026, 11, 25)) == ""
    assert public_holiday(date(2027, 5, 31)) == "Memorial Day" and public_holiday(date(2026, 12, 25))
    snap = {"profile": {"user_id": "u1"}, "appointments": [], "orders": [
        {"order_id": "#W1", "status": "processed", "items": [{"name": "Washing Machine"}, {"name": "Dishwasher"}],
         "expected_delivery": "2026-11-23"},
        {"order_id": "#W2", "status": "processed", "items": [{"name": "Coffee Maker"}],
         "expected_delivery": "2026-11-23"}]}
    today = date(2026, 11, 20)
    whole = ("The washing machine and dishwasher I ordered are due on Monday. Could you bring both on Thursday? If "
             "Thursday can't be done, make it Wednesday.")
    asked = "Could you bring both on Thursday? If Thursday can't be done, make it Wednesday."
    ents = {"dates": [d.isoformat() for d in find_dates(whole, today)]}
    steps, said = _delivery_reschedule(Asked("delivery_reschedule", asked, ents, snap, today, whole,
                                             ("order_status", "delivery_reschedule")))
    assert steps[0].args == {"order_id": "#W1", "new_date": "2026-11-25"}
    assert str(said).startswith("we do not deliver on public holidays (Thanksgiving), so it comes on Wednesday")


def test_a_delivery_never_moves_to_a_day_ruled_out_nor_to_the_day_it_is_due_already() -> None:
    from datetime import date

    from cx_core.entities import find_dates
    from domains.lumen.asked import Asked
    from domains.lumen.planner import _delivery_reschedule

    snap = {"profile": {"user_id": "u1"}, "orders": [{"order_id": "#W1", "status": "pending", "items": [
        {"name": "Espresso Machine"}], "expected_delivery": "2026-11-23"}], "appointments": []}
    today = date(2026, 11, 20)
    text = ("The espresso machine is down to arrive on Monday but I'm out of town Monday and Tuesday for work. Can "
            "you have it brought the Saturday after, the 28th?")
    ents = {"dates": [d.isoformat() for d in find_dates(text, today)], "order_ids": ["#W1"]}
    steps, _ = _delivery_reschedule(Asked("delivery_reschedule", text, ents, snap, today, text))
    assert steps[0].args == {"order_id": "#W1", "new_date": "2026-11-28"}


def test_of_the_free_slots_at_one_time_the_technician_the_customer_names_comes_first() -> None:
    from domains.lumen.appointments import slots_for

    appt = {"free_slots": [{"slot_id": f"SL-{n}", "start": "2026-12-01T12:00", "technician": who}
                           for n, who in enumerate(["Sam Ortiz", "Jo Whitaker", "Lee Chan"])]}
    text = "Tuesday week, same time? And if at all possible keep Jo Whitaker."
    assert slots_for(appt, ["2026-12-01"], near=12, text=text)[0]["slot_id"] == "SL-1"
    assert slots_for(appt, ["2026-12-01"], near=12)[0]["slot_id"] == "SL-0"  # no one named: the first free


def test_a_payment_taken_twice_on_both_orders_is_refunded_on_each_and_no_other_charge_is_assumed() -> None:
    from datetime import date

    from domains.lumen.asked import Asked
    from domains.lumen.planner import _duplicate_charge
    from domains.lumen.visits import charge_dispute

    today = date(2026, 11, 20)
    orders = [{"order_id": f"#W{n}", "status": "processed", "items": [{"name": name}], "duplicate_payment": amount,
               "payments": []} for n, name, amount in ((1, "Smart TV", 717.05), (2, "Thermostat", 139.82))]
    snap = {"profile": {"user_id": "u1"}, "orders": orders, "payment_methods": [], "charges": [
        {"charge_id": "CHG-1", "amount": 79.0, "credited": 0.0, "kind": "service", "description": "Installation",
         "created_on": "2026-11-12"}], "appointments": [], "invoices": []}
    text = "You've taken the money twice for both of the orders I put in this week, the tv and the thermostat."
    steps, _ = _duplicate_charge(Asked("duplicate_charge", text, {}, snap, today, text))
    assert [(s.action, s.args["order_id"]) for s in steps] == [("refund", "#W1"), ("refund", "#W2")]
    said = "That's over $850 you've taken that you shouldn't have."
    steps, ask = charge_dispute(Asked("charge_dispute", said, {"amounts": [850.0]}, snap, today, text + " " + said))
    assert steps == [] and "which charge" in ask


def test_a_second_choice_goes_ahead_only_once_the_rules_refuse_the_first() -> None:
    from cx_core.actions import ExecContext
    from cx_core.models import Decision, Proposal
    from cx_core.plans import SECOND_CHOICE, Step
    from cx_core.step_runner import StepRunner

    run = StepRunner(None, None, ExecContext(actor="agent", role=None, ticket_id="T-3", customer_id="u1"), "")  # type: ignore[arg-type]
    second = Step("cancel_order", {"order_id": "#W2", "reason": "no longer needed"}, "return_refund", "asked",
                  held=SECOND_CHOICE, instead_of="return_items")
    assert run._second_choice(second) is second  # the first has not been refused: it waits
    run.proposals.append(Proposal(action="return_items", args={"order_id": "#W1"}, rationale="asked",
                                  decision=Decision.needs_approval, reason="an advisor approves it"))
    assert run._second_choice(second).held == SECOND_CHOICE  # the first may still run
    run.proposals.append(Proposal(action="return_items", args={"order_id": "#W1"}, rationale="asked",
                                  decision=Decision.denied, refused_by="invariant",
                                  reason="order #W1 was delivered more than 30 days ago. If anything is wrong …"))
    released = run._second_choice(second)
    assert released.held == "" and released.instead_of == "return_items"
    assert "second choice" in released.rationale and "more than 30 days ago" in released.rationale
