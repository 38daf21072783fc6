"""What an advisor reads and approves on real demo records: one request read once, every request proposed at its
own level, the installation moved to the day asked for, and knowledge quoted as whole sentences."""

from __future__ import annotations

from datetime import date

from cx_core import desk
from cx_core.drafting import customer_facing
from cx_core.entities import whole_text
from cx_core.models import Decision, ProcessResult, TicketIn
from cx_core.passages import quotable_sentences
from cx_core.services import Services
from domains.lumen.records import snapshot
from domains.lumen.tables import AppointmentRow
from tests.conftest import NOW
from tests.helpers import find_callout_with_booking, find_order, installable_slots


def process(svc: Services, ticket_id: str, customer: str, subject: str, body: str) -> ProcessResult:
    t = TicketIn(id=ticket_id, customer=customer, subject=subject, body=body, created_at=NOW)
    desk.add_tickets(svc.db, [t], source="test")
    return svc.pipeline.process(t, now=NOW)


def actions(result: ProcessResult) -> list[str]:
    return [p.action for p in result.proposals if p.action != "send_reply"]


def test_a_refund_asked_after_a_double_charge_is_that_refund_not_a_return(services: Services) -> None:
    o = find_order(services, "delivered", duplicate=True)
    r = process(services, "R-dup", o["email"], "",
                f"My card was charged twice for order {o['order_id']}. Please refund one.")
    assert [q.intent for q in r.triage.requests] == ["duplicate_charge"]
    assert actions(r) == ["refund"]
    assert "can't" not in r.draft.reply


def test_a_write_request_beside_an_answer_level_question_is_still_proposed(services: Services) -> None:
    o = find_order(services, "processed")
    r = process(services, "R-mixed", o["email"], "",
                f"Where is order {o['order_id']}? Also my mobile number has changed, it's now 415-555-0142.")
    assert {q.intent for q in r.triage.requests} == {"order_status", "contact_update"}
    update = next(p for p in r.proposals if p.action == "update_contact_details")
    assert update.args["phone"] == "415-555-0142" and update.decision == Decision.needs_approval
    assert "415-555-0142" in r.draft.reply


def test_the_day_the_customer_cannot_make_is_not_the_day_the_installation_moves_to(services: Services) -> None:
    callout = find_callout_with_booking(services)
    with services.db.session() as s:
        appt = s.get(AppointmentRow, callout["appointment_id"])
        assert appt is not None
        current = appt.start.date()
        snap = snapshot(s, callout["user_id"], NOW)
    free = installable_slots(snap, callout["appointment_id"])
    wanted = next(x for x in free if x["start"][:10] != current.isoformat())
    day = wanted["start"][:10]
    asked = date.fromisoformat(day).strftime("%A %d %B").replace(" 0", " ")
    r = process(services, "R-appt", callout["email"], "",
                f"I can't be home for the installation on {current.strftime('%A')}. "
                f"Is {asked} free?")
    assert [q.intent for q in r.triage.requests] == ["installation_reschedule"]
    move = next(p for p in r.proposals if p.action == "reschedule_appointment")
    slot_day = next(x["start"][:10] for x in free if x["slot_id"] == move.args["slot_id"])
    assert slot_day == day
    assert asked in r.draft.reply  # the reply names the new day


def test_a_subject_repeating_the_body_asks_for_nothing_twice(services: Services) -> None:
    o = find_order(services, "delivered", single_item=True)
    sentence = f"want to return the {o['item']} ({o['order_id']}) for a refund"
    assert whole_text(sentence[:70], sentence) == sentence
    assert whole_text("Return", "hello") == "Return\nhello"
    r = process(services, "R-subject", o["email"], sentence[:70], f"Hello,\n\n{sentence}\n\nThanks")
    ret = [p for p in r.proposals if p.action == "return_items"]
    assert len(ret) == 1 and len(ret[0].args.get("item_ids", [])) == len(set(ret[0].args.get("item_ids", [])))
    # a subject cut off mid-date ("… to Thursday 26…") is no second day: only the body's date is read
    cut = services.triager.triage("Please move my installation to Thursday 26…",
                                  "Please move my installation to Thursday 26 November.", today=NOW.date())
    assert cut.entities["dates"] == ["2026-11-26"]


def test_one_question_is_put_once_however_many_requests_need_it(services: Services) -> None:
    r = process(services, "R-stranger", "nobody@example.org", "",
                "I want to return the lamp from my order. I also need my invoice resent.")
    assert len(r.triage.requests) >= 2
    assert r.draft.reply.count("could not match your message") == 1


def test_list_items_are_quoted_with_their_lead_in_and_instructions_turn_to_the_customer() -> None:
    text = ("The charge is credited in full when:\n- the technician arrived late;\n- we moved it ourselves.\n\n"
            "- Any charge billed twice.\n- Restart the router from the app.")
    got = quotable_sentences(text, "When we credit")
    assert got == ["The charge is credited in full when the technician arrived late.",
                   "The charge is credited in full when we moved it ourselves.",
                   "When we credit: any charge billed twice.",
                   "Restart the router from the app."]
    assert quotable_sentences("- Any charge billed twice.", "") == []
    assert customer_facing("Tell the customer to reset their password.", True) == "Please reset your password."



def test_the_part_of_the_day_the_customer_named_is_booked_and_never_asked_for_again(services: Services) -> None:
    callout = find_callout_with_booking(services)
    with services.db.session() as s:
        appt = s.get(AppointmentRow, callout["appointment_id"])
        assert appt is not None
        current = appt.start.date()
        snap = snapshot(s, callout["user_id"], NOW)
    free = installable_slots(snap, callout["appointment_id"])
    days = [x["start"][:10] for x in free if x["start"][:10] != current.isoformat()]
    day = next(d for d in days if any(x["start"].startswith(d) and int(x["start"][11:13]) < 12 for x in free)
               and any(x["start"].startswith(d) and int(x["start"][11:13]) >= 12 for x in free))
    asked = date.fromisoformat(day).strftime("%A %d %B").replace(" 0", " ")
    r = process(services, "R-afternoon", callout["email"], "",
                f"Good morning, could the technician come on {asked} in the afternoon instead?")
    assert r.triage.entities["time_of_day"] == ["afternoon"]  # "Good morning" greets; it asks for no time
    move = next(p for p in r.proposals if p.action == "reschedule_appointment")
    start = next(x["start"] for x in free if x["slot_id"] == move.args["slot_id"])
    assert start[:10] == day and int(start[11:13]) >= 12, start
    assert "morning or" not in r.draft.reply.lower()


def test_a_recipe_binds_the_time_of_day_from_the_message_and_a_question_it_answers_is_not_put() -> None:
    from cx_core.drafting import answered
    from cx_core.entities import extract
    from cx_core.models import Request, Triage
    from cx_core.recipe_book import parse
    from cx_core.recipes import plan

    book = parse({"recipes": {"callback": {"steps": [{"action": "book_callback", "args": {
        "day": {"entity": "dates", "ask": "which day suits you?"},
        "time_of_day": {"entity": "time_of_day", "ask": "would the morning or the afternoon suit you better?"}}}]}}})
    ask = "would the morning or the afternoon suit you better?"

    def read(text: str) -> tuple[Triage, dict[str, object], str]:
        triage = Triage(task_type="callback", intent="callback", confidence=0.9, entities=extract(text, NOW.date()),
                        requests=[Request(intent="callback", text=text, confidence=0.9)])
        got = plan(book, triage, {}, NOW.date(), text)
        return triage, got.steps[0].args, got.questions.get("callback", "")

    triage, args, question = read("Please call me back on Saturday afternoon.")
    assert args == {"day": "2026-11-21", "time_of_day": "afternoon"} and question == ""
    assert answered(ask, triage)  # were a pack still to ask it, the reply would not put it
    triage, args, question = read("Please call me back on Saturday.")
    assert "time_of_day" not in args and question == ask and not answered(ask, triage)
    triage, args, question = read("Call me Saturday, not in the morning please, afternoon is fine.")
    assert args["time_of_day"] == "afternoon"


def test_a_how_to_answer_reads_its_sections_steps_whole(services: Services) -> None:
    from tests.helpers import find_order
    from tests.test_workspace_actions import processed

    o = find_order(services, "delivered")
    wifi = processed(services, "HOW-1", o["email"], "My smart thermostat won't connect to the Wi-Fi, what should I do?")
    reply = wifi["result"].draft.reply
    assert all(step in reply for step in ("2.4 GHz Wi-Fi only", "network is not hidden", "Settings → Restart")), reply
    pair = processed(services, "HOW-2", o["email"], "How do I pair my thermostat with Apple Home?")
    assert "open Integrations in the Lumen Home app" in pair["result"].draft.reply  # the step itself, not only who
