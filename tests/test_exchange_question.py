"""An exchange whose new option is not settled asks with what exists: the options the item is sold in now, and,
when the customer named one it does not come in, that it does not."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest

from cx_core import packs
from cx_core.models import TicketIn
from cx_core.services import Services
from cx_core.wording import day
from tests.conftest import NOW


def delivered_with_options(svc: Services, recent: bool = True) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A customer, a delivered single-item order of theirs (within the 30-day window, or, not ``recent``, past it),
    and its item, whose product is sold in other options none of which is purple."""
    from sqlalchemy import select

    from domains.lumen.tables import CustomerRow

    records = packs.records(svc.pack)
    with svc.db.session() as s:
        for c in s.scalars(select(CustomerRow).order_by(CustomerRow.user_id)):
            snap = records.snapshot(s, c.user_id, NOW)
            for o in snap["orders"]:
                if o["status"] != "delivered" or len(o["items"]) != 1 or not o.get("delivered_on") \
                        or ((NOW.date() - date.fromisoformat(str(o["delivered_on"]))).days <= 30) != recent:
                    continue
                item = o["items"][0]
                others = [v for v in o["variants"].get(item["item_id"], []) if v["available"]
                          and v["item_id"] != item["item_id"]]
                if others and not any("purple" in str(v["options"]).lower() for v in others):
                    return {"email": c.email}, o, item
    raise LookupError("no delivered single-item order with other options")


def test_an_option_that_is_not_sold_is_named_with_what_is(services: Services) -> None:
    customer, o, item = delivered_with_options(services)
    t = TicketIn(id="EX-1", customer=customer["email"], channel="email", subject="Exchange",
                 body=f"I'd like to exchange the {item['name']} from order {o['order_id']} for a purple one.",
                 created_at=NOW)
    out = services.pipeline.process(t, now=NOW)
    reply = out.draft.reply
    assert "does not come in purple" in reply and re.search(r"is available (?:as|in) ", reply), reply
    assert "(size or colour)" not in reply
    swap = next(p for p in out.proposals if p.action == "exchange_item")
    assert swap.args == {"order_id": o["order_id"], "item_ids": [item["item_id"]]}  # the item known, its option not


def test_an_exchange_past_the_window_is_refused_with_the_warranty_and_asks_nothing(services: Services) -> None:
    customer, o, item = delivered_with_options(services, recent=False)
    t = TicketIn(id="EX-2", customer=customer["email"], channel="email", subject="Exchange",
                 body=f"I'd like to exchange the {item['name']} from order {o['order_id']} for a purple one.",
                 created_at=NOW)
    result = services.pipeline.process(t, now=NOW)
    reply = result.draft.reply
    assert "more than 30 days ago" in reply and "warranty" in reply and "?" not in reply, reply
    assert f"was delivered on {day(str(o['delivered_on']))}" in reply and "I'll book it" in reply, reply
    # recorded as refused by the rule (an advisor sees why, and nothing waits for approval)
    assert [(p.action, p.decision.value, p.refused_by) for p in result.proposals] == [("exchange_item", "denied", "invariant")]


def test_a_damaged_present_is_replaced_first_and_a_refund_offered(services: Services) -> None:
    from sqlalchemy import select

    from domains.lumen.tables import CustomerRow

    records = packs.records(services.pack)
    with services.db.session() as s:
        found = [(c, o, o["items"][0]) for c in s.scalars(select(CustomerRow).order_by(CustomerRow.user_id))
                 for o in records.snapshot(s, c.user_id, NOW)["orders"]
                 if o["status"] == "delivered" and len(o["items"]) == 1 and o.get("delivered_on")
                 and (NOW.date() - date.fromisoformat(str(o["delivered_on"]))).days <= 30
                 and any(v["item_id"] == o["items"][0]["item_id"] and v["available"]
                         for v in o["variants"].get(o["items"][0]["item_id"], []))]
    c, o, item = found[0]
    t = TicketIn(id="GIFT-1", customer=c.email, channel="email", subject="Broken",
                 body=f"I ordered this as a present, so the timing matters. The {item['name']} from order "
                      f"{o['order_id']} arrived broken.", created_at=NOW)
    out = services.pipeline.process(t, now=NOW)
    swap = [p for p in out.proposals if p.action == "exchange_item"]
    assert swap and swap[0].args["new_item_ids"] == swap[0].args["item_ids"] == [item["item_id"]], out.proposals
    assert "return_items" not in {p.action for p in out.proposals}
    assert "your money back" in out.draft.reply, out.draft.reply


def test_a_data_request_by_chat_says_the_check_goes_to_the_email_on_file(services: Services) -> None:
    from sqlalchemy import select

    from domains.lumen.tables import CustomerRow

    with services.db.session() as s:
        c = s.scalars(select(CustomerRow).order_by(CustomerRow.user_id)).first()
        assert c is not None
        email = c.email
    t = TicketIn(id="GDPR-1", customer=email, channel="chat", subject="", created_at=NOW,
                 body="Please delete my personal data from your systems.")
    reply = services.pipeline.process(t, now=NOW).draft.reply
    assert "As you wrote to us by chat, they will first write to the email address on your account" in reply, reply
    assert "did not come from" not in reply


def test_an_installed_appliance_is_not_returned_and_its_fault_is_repaired(services: Services) -> None:
    from sqlalchemy import select

    from domains.lumen.tables import CustomerRow

    records = packs.records(services.pack)
    with services.db.session() as s:
        found = [(c.email, o, i) for c in s.scalars(select(CustomerRow).order_by(CustomerRow.user_id))
                 for snap in [records.snapshot(s, c.user_id, NOW)] for o in snap["orders"]
                 if o["status"] == "delivered" and o.get("delivered_on")
                 and (NOW.date() - date.fromisoformat(str(o["delivered_on"]))).days <= 30
                 and any(a["order_id"] == o["order_id"] and a["status"] == "completed" for a in snap["appointments"])
                 for i in o["items"][:1] if i.get("at_home")]
    if not found:
        pytest.skip("this demo world has no appliance installed within 30 days of its delivery")
    email, o, item = found[0]
    back = services.pipeline.process(TicketIn(
        id="INST-1", customer=email, channel="email", subject="Return", created_at=NOW,
        body=f"I'd like to return the {item['name']} from order {o['order_id']} for a refund."), now=NOW)
    assert "so it can no longer be returned" in back.draft.reply and "I'll book it" in back.draft.reply, back.draft.reply
    assert [(p.action, p.decision.value) for p in back.proposals] == [("return_items", "denied")]
    broken = services.pipeline.process(TicketIn(
        id="INST-2", customer=email, channel="email", subject="Broken", created_at=NOW,
        body=f"The {item['name']} from order {o['order_id']} arrived damaged, the panel is cracked."), now=NOW)
    assert "book_repair" in [p.action for p in broken.proposals], broken.proposals
    assert "return_items" not in [p.action for p in broken.proposals]
    reply = broken.draft.reply  # why a repair: its installation, never a delivery "more than 30 days ago"
    assert "was installed on" in reply and "more than 30 days" not in reply and "replacement" not in reply, reply
    present = services.pipeline.process(TicketIn(
        id="INST-4", customer=email, channel="email", subject="Broken present", created_at=NOW,
        body=f"I ordered this as a present, so the timing matters. The {item['name']} from order {o['order_id']} "
             "arrived broken."), now=NOW)
    assert [p.action for p in present.proposals if p.action != "lookup_order"] == ["book_repair"], present.proposals


def test_an_installation_is_not_moved_before_its_goods_arrive(services: Services) -> None:
    from sqlalchemy import select

    from domains.lumen.tables import CustomerRow

    records = packs.records(services.pack)
    tomorrow = (NOW + timedelta(days=1)).date().isoformat()
    with services.db.session() as s:
        found = [(c.email, a, o) for c in s.scalars(select(CustomerRow).order_by(CustomerRow.user_id))
                 for snap in [records.snapshot(s, c.user_id, NOW)] for a in snap["appointments"]
                 if a["status"] == "booked" for o in snap["orders"] if o["order_id"] == a["order_id"]
                 and o["status"] in ("pending", "processed") and str(o.get("expected_delivery") or "") > tomorrow
                 and a.get("free_slots")]
    if not found:
        pytest.skip("this demo world has no installation booked for goods still to come")
    email, a, o = found[0]
    # the times offered for it all come after the goods: none on or before their delivery day
    assert all(str(f["start"])[:10] > str(o["expected_delivery"]) for f in a["free_slots"])
    early = date.fromisoformat(tomorrow)
    out = services.pipeline.process(TicketIn(
        id="INST-3", customer=email, channel="email", subject="Installation", created_at=NOW,
        body=f"Could the technician come for installation {a['appointment_id']} on {day(early.isoformat())} instead?"),
        now=NOW)
    moves = [p for p in out.proposals if p.action == "reschedule_appointment"]
    assert not any(p.args.get("slot_id") for p in moves), moves  # nothing booked before the goods come
    assert f"is due to be delivered on {day(str(o['expected_delivery']))}, after {day(early.isoformat())}, so the " \
        "installation needs to be on a later day; the first free time after that is " in out.draft.reply, \
        out.draft.reply  # and a day offered
    later = {day(str(f["start"])) for f in a["free_slots"] if str(f["start"])[:10] > str(o["expected_delivery"])}
    assert any(f"the first free time after that is {x}: would that suit you?" in out.draft.reply for x in later)


def test_the_options_nearest_the_customers_own_are_named_first_each_with_its_price() -> None:
    from domains.lumen.questions import exchange_question

    item = {"item_id": "1", "name": "Robot Vacuum", "options": {"model": "standard", "color": "black"}, "price": 349.0}
    order = {"items": [item], "variants": {"1": [
        {"item_id": "1", "options": item["options"], "available": True, "price": 349.0},
        {"item_id": "2", "options": {"model": "mop combo", "color": "black"}, "available": True, "price": 399.0},
        {"item_id": "3", "options": {"model": "mop combo", "color": "white"}, "available": True, "price": 399.0},
        {"item_id": "4", "options": {"model": "standard", "color": "white"}, "available": False, "price": 349.0}]}}
    asked = exchange_question(order, [item], {"colours": ["silver"]})
    assert asked.startswith("the Robot Vacuum does not come in silver; it comes in black, like yours, as the mop "
                            "combo (at $399.00); it also comes as the mop combo in white (at $399.00). Which would "
                            "you like?"), asked


def test_a_weekday_ruled_out_is_the_visits_own_and_a_day_written_in_full_is_the_one_asked() -> None:
    from cx_core.reading.arguments import days_said
    from cx_core.reading.arguments import own_weekday as said_as_weekday

    today, own = date(2026, 11, 26), "2026-12-05"  # a Thursday; the visit is on Saturday 5 December
    text = "need to rebook the install, Saturday doesn't work anymore. is Saturday 28 November free?"
    assert said_as_weekday(text, today, own) == set()  # 28 November is written out: it is the day asked for
    assert days_said(text, today, own) == [(True, own), (False, "2026-11-28")]
    assert said_as_weekday("Saturday doesn't work anymore.", today, own) == {"2026-11-28"}
