"""The rule/slot planner: for each request of a ticket, the typed actions that would resolve it, with arguments
filled from the ticket's entities and the customer's records. When an argument cannot be filled with certainty
the step is kept but marked as missing it, so that a person decides instead of the agent guessing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from cx_core import contacts, signals
from cx_core.entities import split_sentences
from cx_core.models import Request, Triage
from cx_core.plans import ASKS_ONLY, NOTICED, SECOND_CHOICE, Plan, Step
from cx_core.reading import cuts, language, topics, when
from cx_core.reading.arguments import said_against
from cx_core.signals import CALL_NOTES
from cx_core.wording import also_decided, day, listed
from domains.lumen import PACK
from domains.lumen.asked import Answer, Asked, Planned, order_refs
from domains.lumen.backend.orders import RETURN_WINDOW_DAYS, delivery_refusal, past_window
from domains.lumen.goodwill import money_off
from domains.lumen.installed import not_once_installed
from domains.lumen.invoices import resend_invoice
from domains.lumen.noticed import noticed_twice, refunded_already
from domains.lumen.order_requests import ORDER_INTENTS, interpret
from domains.lumen.order_requests.details import Unsure, _cancel_reason
from domains.lumen.picking import (
    mentions_item,
    pick_items,
    pick_new_variant,
    planned_words,
    repair_words,
    return_words,
    swap_words,
    the_names,
)
from domains.lumen.questions import also_moved, exchange_question, missing_option, sent_back, which_items
from domains.lumen.records import paid_words, refund_route
from domains.lumen.visits import WAIVER, charge_dispute, installation_reschedule
from domains.lumen.wording import DUPLICATE, address_words

WRITE_FREE = PACK.informational
_FROM_ACCOUNT = {"order_status"}  # a question only the customer's own records answer: asked of a sender on none

# A request that depends on a condition, an exception or a change of mind is a person's call, not the agent's.

_ACTION_FOR = {"delivery_reschedule": "reschedule_delivery", "address_change": "change_shipping_address",
               "order_cancel": "cancel_order", "return_refund": "return_items", "damaged_item": "return_items",
               "exchange": "exchange_item", "duplicate_charge": "refund", "resend_invoice": "resend_invoice",
               "contact_update": "update_contact_details", "installation_reschedule": "reschedule_appointment",
               "charge_dispute": "credit_charge"}


def triage_text(triage: Triage, fallback: str) -> str:
    return " ".join(r.text for r in triage.requests) or fallback


def plan_request(req: Request, triage: Triage, snap: dict[str, Any], today: date, full_text: str = ""
                 ) -> tuple[list[Step], str]:
    """Steps for one request, and a question for the customer if something is missing. A request that would act
    while the message sets a condition waits for a person's decision (one that finds nothing to do does not)."""
    if req.intent in _MONEY_OR_ORDER and language.ASKS_ABOUT.match(req.text) and not triage.entities.get("order_ids"):
        return [], ""  # "How long does a refund take?": the knowledge base answers; nothing is arranged
    if req.intent == "return_refund" and (back := sent_back(snap, triage.entities, full_text or req.text)):
        return [], back  # already on its way back: nothing to arrange again
    return _plan_request(req, triage, snap, today, full_text)  # a condition the customer sets: the engine's guard


_RING = " If you would rather we called you, reply with a good time and the number to ring."  # nobody called back
# the knowledge base: one colleague now owns the case and updates the customer within one business day
_OWNED = "I'll look after your case myself from now on and update you within one business day. "
_WHAT_ABOUT = "so that we can put it right, which order or request is this about?"  # asked of a complaint alone
FORMAL_HANDED_OVER = ("I've passed your formal complaint to a supervisor, who now owns your case and will look at "
                      "everything you have told us; we answer formal complaints within 5 business days.")
PRIVACY_HANDED_OVER = ("I've passed your data protection request to our privacy team, who handle it personally and "
                       "answer within 30 days.")
PRIVACY_CHECK = (" As you wrote to us {by}, they will first write to the email address on your account to confirm it "
                 "is you; personal data is only ever sent there.")
_BY = {"chat": "by chat", "social": "on social media"}


def _order_status(r: Asked) -> Planned:
    order, ask = r.order(("pending", "processed", "delivered"))
    if not order:
        return [], ask
    return [Step("lookup_order", {"order_id": order["order_id"]}, r.intent, "customer asks about the order")], ask


def _asked_days(r: Asked, due: str) -> list[str]:
    """The days the message names for the delivery, less those its words rule out ("I'm out of town Monday and
    Tuesday") and, beside another, the day it is due already ("down to arrive on Monday … the Saturday after")."""
    ruled = {w.value for w in when.dates(r.full_text, r.today, False) if said_against(r.full_text, w.start, w.end)}
    days = [d for d in r.ents.get("dates") or [] if d not in ruled]
    return [d for d in days if d != due] if len(days) > 1 else days


def _delivery_reschedule(r: Asked) -> Planned:
    order, ask = r.order(("pending", "processed"))
    if not order:
        return [], ask
    due = str(order.get("expected_delivery") or "")
    r = replace(r, ents={**r.ents, "dates": _asked_days(r, due)})
    if not r.ents.get("dates") and due and (moved := when.shifted(r.text, date.fromisoformat(due[:10]))):
        r = replace(r, ents={**r.ents, "dates": [moved.isoformat()]})  # "push it back by a week"
    if not r.ents.get("dates"):
        return [Step("reschedule_delivery", {"order_id": order["order_id"]}, r.intent, "customer wants another day",
                     missing="new delivery date")], "which day would suit you for the delivery?"
    if order.get("expected_delivery") == r.ents["dates"][0]:  # the day asked for is the day it is due already
        return [], Answer(f"order {order['order_id']} is already due on {day(order['expected_delivery'])}, the day "
                          "you ask for")
    # "on Sunday the 29th? If you don't deliver on Sundays then the Monday after is fine too": the first day asked
    # for that a delivery can move to, with why the ones before it cannot
    refused = [(d, delivery_refusal(date.fromisoformat(d), r.today)) for d in r.ents["dates"]]
    wanted = next((d for d, why in refused if not why), None)
    if wanted is None or wanted == order.get("expected_delivery"):
        return [Step("reschedule_delivery", {"order_id": order["order_id"]}, r.intent, refused[0][1],
                     missing="new delivery date")], f"{refused[0][1]}; which other day would suit you?"
    why = refused[0][1] if wanted != r.ents["dates"][0] else ""
    lead = f"{why}, so it comes on {day(wanted)}, the other day you gave" if why else ""
    return [Step("reschedule_delivery", {"order_id": order["order_id"], "new_date": wanted}, r.intent,
                 "customer asked for this date" + (f" ({why} on {day(r.ents['dates'][0])})" if why else ""))], \
        "; ".join(x for x in (lead, _visit_before(r.snap, order["order_id"], wanted)) if x)


def _visit_before(snap: dict[str, Any], order_id: str, new_day: str) -> str:
    """A visit booked for the order's goods (an installation) that would now come before them: raised, so that the
    technician does not arrive first; '' when there is none."""
    early = [a for a in snap.get("appointments") or [] if a.get("order_id") == order_id and a.get("status") == "booked"
             and str(a.get("start", ""))[:10] < new_day]
    if not early:
        return ""
    a = early[0]
    return (f"your {str(a.get('kind') or 'visit').replace('_', ' ')} appointment for this order is booked for "
            f"{day(str(a['start']))}, before the new delivery day; shall I move it to a day after the delivery?")


def _address_change(r: Asked) -> Planned:
    order, ask = r.order(("pending",))
    if not order:
        return [], ask
    if not r.ents.get("address"):
        return [Step("change_shipping_address", {"order_id": order["order_id"]}, r.intent, "new address requested",
                     missing="the full new address")], "could you send the full new address, including the ZIP code?"
    now, asked = order.get("address") or {}, r.ents["address"]
    if all(" ".join(str(now.get(k) or "").lower().split()) == " ".join(str(asked.get(k) or "").lower().split())
           for k in ("address1", "zip")):  # asked again once done: it ships there already
        return [], Answer(f"order {order['order_id']} is already set to ship to {address_words(now)}, as you ask")
    return [Step("change_shipping_address", {"order_id": order["order_id"], **r.ents["address"]}, r.intent,
                 "customer gave the new address", defaults=_along(order, r.text))], ""


def _no_account(intent: str, channel: str) -> str:
    """What a sender on no account is asked: a data protection request, only from the address on file; anything
    else, the address or an order number (a chat or a call comes from no address of theirs)."""
    if intent == "data_request":
        return ("to protect your data, we act on a data protection request only when it comes from the email address "
                "on your account: please write to us from that address, and our privacy team will answer within 30 "
                "days")
    return "we could not match your message to an account; " + (
        "could you write to us from the email address on your account, or send your order number?" if channel == "email" else
        "could you tell us the email address on your account, or your order number?")


def _worded(action: str, args: dict[str, Any], order: dict[str, Any] | None, text: str,
            methods: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """A step the reading settled, in the words its sentence needs (an address change: what goes along; a
    cancellation: where the money goes back and when it shows, when one method paid it all)."""
    back = paid_words(order, action, args, methods or [])
    return {**planned_words(action, args, order), **back,
            **(_along(order, text) if action == "change_shipping_address" else {})}


def _along(order: dict[str, Any] | None, text: str) -> dict[str, str]:
    """"Send the doorbell to…": an address is the whole order's; the other items, for the reply to name."""
    items = (order or {}).get("items", [])
    named = [i for i in items if mentions_item(text, i)]
    rest = [i for i in items if i not in named] if named else []
    return {"with": listed(the_names(rest))} if rest else {}


def _order_cancel(r: Asked) -> Planned:
    try:
        reason = _cancel_reason(r.text, r.full_text) or "no longer needed"
    except Unsure:
        reason = "no longer needed"
    order, ask = r.order(("pending",))
    if not order:
        any_order, _ = r.order(("processed", "delivered", "cancelled"))
        if any_order:
            return [Step("cancel_order", {"order_id": any_order["order_id"], "reason": reason}, r.intent,
                         "customer asked to cancel")], ""
        return [], ask
    return [Step("cancel_order", {"order_id": order["order_id"], "reason": reason}, r.intent,
                 "customer asked to cancel a pending order")], ""


def _return_items(r: Asked) -> Planned:
    order, ask = r.order(("delivered",))
    if not order:
        return [], ask
    chosen = pick_items(order, r.text)
    if not chosen and r.full_text:  # "The mesh system isn't right for us. How do I return it?"
        named = pick_items(order, r.full_text)
        chosen = named if len(named) == 1 else []
    if not chosen:
        return [Step("return_items", {"order_id": order["order_id"]}, r.intent, "return requested",
                     missing="which items")], which_items(order, "return")
    if r.intent == "damaged_item" and _past_return_window(order, r.today):  # the warranty covers it: a repair
        return [Step("book_repair", {"order_id": order["order_id"], "item_ids": [i["item_id"] for i in chosen],
                                     "fault": _fault(r.text or r.full_text)}, r.intent,
                     "a fault after the 30-day return window: covered by the two-year warranty",
                     defaults=repair_words(order, chosen))], ""
    ids = [i["item_id"] for i in chosen]
    names = listed(the_names(chosen))
    sold = all(any(v["item_id"] == i["item_id"] and v["available"] for v in order["variants"].get(i["item_id"], []))
               for i in chosen)
    refund_asked = topics.REFUND.search(r.full_text or r.text)
    # the same item, sent again: asked for, or a present whose timing matters (a refund would not arrive in time)
    if r.intent == "damaged_item" and (topics.REPLACEMENT.search(r.full_text or r.text) or (
            r.ents.get("gift_in_time") and sold and not refund_asked)):
        if not sold:
            return [Step("return_items", {"order_id": order["order_id"], "item_ids": ids}, r.intent,
                         "item arrived damaged; the same one is out of stock", missing="whether a refund will do")], (
                f"{names} {'are' if len(chosen) > 1 else 'is'} out of stock at the moment, so we cannot send a replacement yet; would you like a full "
                "refund instead, or to wait until it is back?")
        asked = bool(topics.REPLACEMENT.search(r.full_text or r.text))
        return [Step("exchange_item", {"order_id": order["order_id"], "item_ids": ids, "new_item_ids": ids},
                     r.intent, "item arrived damaged: the customer asks for a replacement of the same one" if asked
                     else "item arrived damaged, a present whose timing matters: a replacement of the same one",
                     defaults={"items": names})], "" if asked else (
            "as it is a present and the timing matters, a replacement gets it to you soonest; if you would rather "
            "have your money back, just reply and I'll arrange a return instead")
    why = "item arrived damaged" if r.intent == "damaged_item" else "customer wants to return"
    other = (f"if you would rather have a replacement of {names}, just reply and I'll arrange that instead"
             if r.intent == "damaged_item" and sold and not refund_asked else "")
    return [Step("return_items", {"order_id": order["order_id"], "item_ids": ids}, r.intent, why,
                 defaults=return_words(order, {"item_ids": ids}))], other


def _past_return_window(order: dict[str, Any], today: date) -> bool:
    delivered = order.get("delivered_on")
    try:
        return bool(delivered) and (today - date.fromisoformat(str(delivered))).days > RETURN_WINDOW_DAYS
    except ValueError:
        return False


def _fault(text: str) -> str:
    """The customer's description of the fault, as one line for the repair booking (without a phone advisor's
    "Call notes: customer says")."""
    words = CALL_NOTES.sub("", " ".join(text.split()))
    return (words if len(words) <= 300 else words[:299] + "…") or "fault reported by the customer"


def _exchange(r: Asked) -> Planned:
    order, ask = r.order(("delivered",))
    if not order:
        return [], ask
    chosen = pick_items(order, r.text) or (pick_items(order, r.full_text) if r.full_text else [])
    if _past_return_window(order, r.today):  # refused whatever the new option: the rule and the way forward
        why = past_window(order["order_id"], order.get("delivered_on"))
        return [Step("exchange_item", {"order_id": order["order_id"], "item_ids": [i["item_id"] for i in chosen]},
                     r.intent, "exchange requested", refused=why)], ""
    new = pick_new_variant(order, chosen[0], r.ents) if len(chosen) == 1 else None
    if not chosen or new is None:
        return [Step("exchange_item", {"order_id": order["order_id"], **(  # the item is known: only the option waits
                    {"item_ids": [chosen[0]["item_id"]]} if len(chosen) == 1 else {})}, r.intent, "exchange requested",
                     missing=missing_option(order, chosen[0], r.ents) if len(chosen) == 1
                     else "the item and the new option")], exchange_question(order, chosen, r.ents)
    args = {"order_id": order["order_id"], "item_ids": [chosen[0]["item_id"]], "new_item_ids": [new["item_id"]]}
    return [Step("exchange_item", args, r.intent, f"same product, new option {new['options']}",
                 defaults=swap_words(order, args))], ""


def _duplicate_charge(r: Asked) -> Planned:
    noticed = r.ents.get("noticed_twice") or []  # found on the records, not written of
    said = set(order_refs(r.text))  # the order this request names
    named = [o for o in r.snap["orders"] if o["order_id"] in (said or set(r.ents.get("order_ids", [])))]
    dups = [o for o in named or r.snap["orders"] if o.get("duplicate_payment")]
    if noticed:
        dups = [o for o in r.snap["orders"] if o["order_id"] in noticed]
    if len(dups) == 1 or (noticed and dups) or (dups and language.EVERY.search(r.full_text)):  # "both of the orders"
        return [Step("refund", {"order_id": o["order_id"], "amount": o["duplicate_payment"],
                                "reason": DUPLICATE}, r.intent,
                     f"two payments of {o['duplicate_payment']:.2f} on {o['order_id']}"
                     + (NOTICED if noticed else ""),
                     defaults={**refund_route(o, o["duplicate_payment"], r.snap.get("payment_methods", [])),
                               **({"noticed": "again" if n else "yes"} if noticed else {})})
                for n, o in enumerate(dups)], ""
    done = [back for o in named or r.snap["orders"] if (back := refunded_already(o, r.snap.get("payment_methods", [])))]
    if not dups and done:  # refunded since the customer wrote, or before: said, never asked for again
        return [], done[0] + "."
    if not dups:
        return [], "we could not find a duplicate payment on your orders; could you send the date and amount from your statement?"
    return [], "could you tell us which order the duplicate charge is for?"


def _contact_update(r: Asked) -> Planned:
    current = r.snap["profile"]
    low = r.full_text.lower()  # an address only given as where to send something is no new detail of theirs
    new_emails = [e for e in r.ents.get("emails", []) if e != current["email"].lower() and not (
        (at := [m.start() for m in re.finditer(re.escape(e), low)]) and all(language.sent_to(low, a) for a in at))]
    new_phones = [p for p in r.ents.get("phones", []) if p != current.get("phone")]
    args: dict[str, Any] = {"user_id": r.uid}
    if new_emails:
        args["email"] = new_emails[0]
    if new_phones:
        args["phone"] = new_phones[0]
    if len(args) == 1:
        return [], "which details should we update, and to what?"
    channel = str(r.ents.get("channel", "email"))
    if channel not in ("email", "phone"):  # the knowledge base: from the address on file or a verified call only
        return [], Answer(f"as you wrote to us {_BY.get(channel, 'here')}, I haven't changed your contact details: for "
                          "your security, they change only on a request sent from the email address on your account, "
                          "or in a phone call where we verify you. Just email us from that address, or call us, and "
                          "we'll update them")  # the rule itself: no "you can update…" quoted beside it
    return [Step("update_contact_details", args, r.intent, "customer gave new contact details")], ""


def _complaint(r: Asked) -> Planned:
    """A complaint made ("I want to make a formal complaint") is recorded on the account, and one naming no order
    asks what it is about; a remark of frustration ("fed up with waiting") is answered, not recorded."""
    named = bool(r.ents.get("order_ids") or order_refs(r.full_text))
    if not topics.COMPLAINS.search(r.full_text):  # unhappy, with nothing named to look into: what it is about
        phone = str(r.snap["profile"].get("phone") or "")  # the number on file is not asked for again
        ring = (f" If you would rather we called you, reply with a good time and we'll ring you on {phone}." if phone
                else _RING) \
            if topics.CALL_BACK.search(r.full_text) else ""  # nobody called back: a call is offered
        what = _about_open(r.snap) or _WHAT_ABOUT
        return [], "" if named else _OWNED + what[:1].upper() + what[1:] + ring
    formal = {"formal": "yes"} if signals.FORMAL_COMPLAINT.search(r.full_text) else {}
    return [Step("add_internal_note", {"user_id": r.uid, "body": f"Complaint: {r.text[:500]}"}, r.intent,
                 "record the complaint on the customer", defaults=formal)], \
        "" if named else _about_open(r.snap) or "so that we can look into it, which order is it about, and what happened?"


def _about_open(snap: dict[str, Any]) -> str:
    """What a message naming nothing is likely about: the customer's newest open ticket, in its own words."""
    mine = snap.get("open_tickets") or []
    if not mine:
        return ""
    said = " ".join(str(mine[0]["subject"]).split()).rstrip(".?! ")
    said = said[:1].upper() + said[1:]  # their words, as a sentence
    under_way = " That request is under way with us." if mine[0].get("pending") else ""
    return (f"is this about your message {contacts.sent(mine[0])}, \"{said}\"?{under_way} If it is something else, "
            "which order or request is it about?")


def _data_request(r: Asked) -> Planned:
    return [Step("add_internal_note", {"user_id": r.uid, "body": f"Data protection request: {r.text[:500]}"},
                 r.intent, "privacy team handles it within 30 days")], ""


# how each kind of request is planned; a kind not here (a question the reply answers) plans no action
_PLANNERS: dict[str, Callable[[Asked], Planned]] = {
    "order_status": _order_status, "delivery_reschedule": _delivery_reschedule, "address_change": _address_change,
    "order_cancel": _order_cancel, "return_refund": _return_items, "damaged_item": _return_items,
    "exchange": _exchange, "duplicate_charge": _duplicate_charge, "resend_invoice": resend_invoice,
    "contact_update": _contact_update, "installation_reschedule": installation_reschedule,
    "charge_dispute": charge_dispute, "complaint": _complaint, "data_request": _data_request,
}


def _plan_request(req: Request, triage: Triage, snap: dict[str, Any], today: date, full_text: str = ""
                  ) -> Planned:
    """Steps for one request, planned by its kind, and what to ask the customer."""
    planner = _PLANNERS.get(req.intent)
    if planner is None:
        return [], ""
    return planner(Asked(req.intent, req.text, triage.entities, snap, today, full_text,
                         tuple(r.intent for r in triage.requests)))


_MONEY_OR_ORDER = {"order_status", "delivery_reschedule", "address_change", "order_cancel", "return_refund",
                   "damaged_item", "exchange", "duplicate_charge", "charge_dispute"}
READING_INTENT = {"cancel_order": "order_cancel", "change_shipping_address": "address_change",
                  "update_default_address": "address_change", "return_items": "return_refund",
                  "exchange_item": "exchange", "modify_order_items": "exchange"}


# what a charge dispute names: a charge, a fee, a bill, an amount ("charger" is an item, not a charge)
_IT_CAME = {"damaged_item", "return_refund", "exchange"}  # requests about an order that has reached the customer


def _one_field_note(steps: list[Step]) -> None:
    """One message to the field team per appointment: a disputed visit's note rides on the note of its move (and on
    the move's fallback, when scheduling does not answer)."""
    moves = {st.args.get("appointment_id"): st for st in steps if st.action == "reschedule_appointment"}
    for note in [st for st in steps if st.action == "notify_field_team" and not st.depends_on]:
        move = moves.get(note.args.get("appointment_id"))
        told = next((st for st in steps if st.action == "notify_field_team" and st.depends_on and
                     st.args.get("appointment_id") == note.args.get("appointment_id")), None)
        if move is None or told is None:
            continue
        told.args = {**told.args, "message": f"{told.args['message']} {note.args['message']}"}
        if move.fallback is not None:
            move.fallback.args = {**move.fallback.args,
                                  "message": f"{move.fallback.args['message']} {note.args['message']}"}
        steps.remove(note)


def grounded(triage: Triage, snap: dict[str, Any] | None, text: str) -> Triage:
    """A ticket the classifier could not place, but whose order requests the reading settles with certainty
    against the customer's own records, goes ahead as those requests (the classifier knows the company's
    example tickets, not every way of writing); a request the reading could not settle still waits for a person
    (``plan`` says so). The classifier's confidence is kept as it was. A placed ticket keeps its requests, and
    gains an order request the classifier missed but the reading settles ("return the TV (#W…) for a refund I need
    a copy of invoice…" read as the invoice alone)."""
    kept = [r for i, r in enumerate(triage.requests) if not (i and r.intent == "order_cancel" and signals.NOT_WANTED.search(
        r.text) and not cuts.speaks_of("cancel").search(r.text))]  # "… a refund for the X? I don't want it any more."
    if {r.intent for r in kept} & _IT_CAME:  # "came broken!! … fed up with waiting": it came, no status is asked
        kept = [r for r in kept if not (r.intent == "order_status" and "?" not in r.text)]
    if len(kept) < len(triage.requests):
        triage = triage.model_copy(update={"requests": kept})
    if not triage.abstained and (twice := signals.CHARGED_TWICE.search(text)) and \
            not {r.intent for r in triage.requests} & {"duplicate_charge", "charge_dispute"}:
        # "…and you also took the money twice": a second request inside another's sentence
        said = next((x for x in split_sentences(text) if twice.group(0) in x), twice.group(0))
        triage = triage.model_copy(update={"requests": [*triage.requests, Request(
            intent="duplicate_charge", text=said, confidence=triage.confidence)]})
    if snap is None or not text.strip():
        return triage
    triage = noticed_twice(triage, snap, text)
    reading = interpret(text, snap)
    if any(r.intent == "charge_dispute" and not topics.CHARGE.search(r.text) and topics.SEND_BACK.search(r.text)
           for r in triage.requests):  # "the ev charger isn't right for us. How do I return it?": no charge named
        triage = triage.model_copy(update={"requests": [
            r.model_copy(update={"intent": "return_refund"}) if r.intent == "charge_dispute" and not topics.CHARGE.search(
                r.text) and topics.SEND_BACK.search(r.text) else r for r in triage.requests]})
    if not reading.steps:
        return triage
    if not triage.abstained:
        have = {r.intent for r in triage.requests}
        if have & _MONEY_OR_ORDER:  # the classifier placed an order or money request: the reading adds nothing
            return triage
        missed = [(READING_INTENT[a], why) for a, _, why in reading.steps if READING_INTENT[a] not in have]
        extra = {intent: Request(intent=intent, text=why, confidence=triage.confidence) for intent, why in missed}
        return triage.model_copy(update={"requests": [*triage.requests, *extra.values()]}) if extra else triage
    requests: dict[str, Request] = {}
    low = text.lower()

    def asked_at(args: dict[str, Any]) -> int:  # requests keep the order the customer wrote them in
        at = low.find(str(args.get("order_id", "")).lstrip("#").lower()) if args.get("order_id") else -1
        return at if at >= 0 else len(low)

    for action, _, why in sorted(reading.steps, key=lambda st: asked_at(st[1])):
        intent = READING_INTENT[action]
        if intent in requests:
            requests[intent].text += "; " + why
        else:
            requests[intent] = Request(intent=intent, text=why, confidence=triage.confidence)
    first = next(iter(requests))
    return triage.model_copy(update={"task_type": first, "intent": first, "abstained": False,
                                     "requests": list(requests.values())})


def _formal(result: Plan, triage: Triage) -> None:
    """Whatever else the message asks, the knowledge base hands a formal complaint to a supervisor, who owns the
    case and asks or offers what is still open; a complaint naming nothing else is asked what it is about, so that
    they can look into it."""
    result.escalate_because = "a formal complaint: a supervisor owns it and answers within 5 business days"
    result.handed_over = " ".join(filter(None, [FORMAL_HANDED_OVER, also_decided(
        [(st.action, st.args) for st in result.steps if st.action != "add_internal_note"])]))
    if (what := result.questions.get("complaint", "")) and len(triage.requests) == 1:
        result.handed_over += " So that they can look into it straight away, " + \
            what.removeprefix("so that we can look into it, ")
    result.questions = {}


def _read_steps(reading: Any, order_reqs: list[Request], snap: dict[str, Any] | None, today: date, text: str
                ) -> list[Step]:
    """The order requests the reading settled, as steps (a fault past the return window is repaired), and one that
    waits for a person for the part it could not settle."""
    steps, kinds = [], {r.intent for r in order_reqs}
    for action, args, why in reading.steps:
        intent = READING_INTENT[action]
        if intent == "return_refund" and "damaged_item" in kinds:
            intent = "damaged_item"
        order = next((o for o in snap["orders"] if o["order_id"] == args.get("order_id")), None) if snap else None
        if intent == "damaged_item" and action == "return_items" and order and _past_return_window(order, today):
            action, why = "book_repair", "a fault after the 30-day return window: covered by the warranty"
            args = {"order_id": args["order_id"], "item_ids": args.get("item_ids", []), "fault": _fault(text)}
        steps.append(Step(action, args, intent, why, defaults=_worded(action, args, order, text,
                                                                       (snap or {}).get("payment_methods"))))
    for action, args, why, first in reading.second:  # proposed only once the first choice is refused
        order = next((o for o in snap["orders"] if o["order_id"] == args.get("order_id")), None) if snap else None
        intent = next((s.intent for s in steps if s.action == first), READING_INTENT[action])  # it stands in for it
        steps.append(Step(action, args, intent, why, held=SECOND_CHOICE, instead_of=first,
                          defaults=_worded(action, args, order, text, (snap or {}).get("payment_methods"))))
    if reading.unsure:  # the requests it settled are proposed; the one it could not waits for a person
        first = order_reqs[0].intent if order_reqs else "order_cancel"
        steps.append(Step(_ACTION_FOR.get(first, "add_internal_note"), {}, first, "part of the message needs a person",
                          missing="the details of the request", held=reading.unsure))
    return steps


def plan(triage: Triage, snap: dict[str, Any] | None, today: date, text: str = "") -> Plan:
    """A plan for every request of the ticket, in the order the customer asked."""
    result = Plan()
    if triage.abstained:
        return result
    order_reqs = [r for r in triage.requests if r.intent in ORDER_INTENTS]
    off = money_off(triage, snap, today, text)  # "take $75 off and I'll keep it": nothing returned or exchanged
    reading = interpret(text or triage_text(triage, ""), snap) if snap is not None and order_reqs and not (
        off and {r.intent for r in order_reqs} <= off[1]) else None
    if reading is not None and reading.unsure and not reading.steps and topics.REPLACEMENT.search(text) and \
            any(r.intent == "damaged_item" for r in order_reqs):
        reading = None  # "can you replace it?" of a damaged item: the same one again, not another option
    if reading is not None and reading.unsure == ASKS_ONLY and language.UNWANTED.search(text):
        reading.unsure = ""  # "The kettle isn't right for us. How do I return it?": the return is wanted
    if reading is not None and snap is not None and sent_back(snap, triage.entities, text):
        reading.steps = [st for st in reading.steps if st[0] != "return_items"]
    if reading is not None and reading.steps:
        result.steps.extend(_read_steps(reading, order_reqs, snap, today, text))
    for req in triage.requests:
        if snap is None:
            if req.intent == "complaint" and not topics.COMPLAINS.search(text or req.text) and len(triage.requests) > 1:
                continue  # "fed up with waiting": a remark, answered with the rest; no account is needed for it
            # a question about one of their orders ("where is order #W…?") is answered from the account, too
            if req.intent not in WRITE_FREE or req.intent in _FROM_ACCOUNT or triage.entities.get("order_ids") \
                    or order_refs(req.text):
                result.questions[req.intent] = _no_account(req.intent, str(triage.entities.get("channel", "email")))
                if req.intent == "complaint" and topics.CALL_BACK.search(text or req.text):  # nobody called back: a call
                    result.asides.append(_RING.strip())
            continue
        if reading is not None and reading.steps and req.intent in ORDER_INTENTS:
            continue
        if off is not None and req.intent in off[1]:
            result.steps.extend([] if off[0] in result.steps else [off[0]])
            continue
        steps, ask = plan_request(req, triage, snap, today, text)
        if reading is not None and reading.unsure and reading.found and req.intent in ORDER_INTENTS:
            steps = [st if st.missing else replace(st, held=st.held or reading.unsure) for st in steps] or ([] if (
                isinstance(ask, Answer)) else [  # the records answer it: nothing for a person to settle
                Step(_ACTION_FOR.get(req.intent, "add_internal_note"), {}, req.intent, "the request needs a person",
                     missing="the details of the request", held=reading.unsure)])
        seen = {(s.action, str(sorted(s.args.items()))) for s in result.steps}
        result.steps.extend(s for s in steps if (s.action, str(sorted(s.args.items()))) not in seen)
        if isinstance(ask, Answer):  # the records answer it: said, with no rule quoted beside it
            result.answers[req.intent] = ask
        elif ask:
            result.questions[req.intent] = ask
        if req.intent == "data_request":  # the knowledge base: only from the email on file, or verified by phone
            channel = str(triage.entities.get("channel") or "email")
            check = PRIVACY_CHECK.format(by=_BY.get(channel, "here")) if channel not in ("email", "phone") else ""
            result.escalate_queue, result.handed_over = "privacy", PRIVACY_HANDED_OVER + check
    if len(triage.requests) > 1 and "which order or request is" in result.questions.get("complaint", ""):
        del result.questions["complaint"]  # the other requests say what it is about
    if snap is not None and signals.FORMAL_COMPLAINT.search(text or " ".join(r.text for r in triage.requests)):
        _formal(result, triage)
    not_once_installed(result, snap, _fault(text or " ".join(r.text for r in triage.requests)))
    _one_field_note(result.steps)
    came = {st.args.get("order_id") for st in result.steps if st.intent in _IT_CAME}  # it arrived: no "delivered on"
    result.steps = [st for st in result.steps if not (st.action == "lookup_order" and st.args.get("order_id") in came)]
    _waiver_disputed(result, text)
    if ask := also_moved(result.steps, result.questions, snap, text):
        result.questions["address_change"] = ask
    if reading is not None and reading.unsure in reading.asks:  # a rule refuses it: say so, and ask what instead
        result.questions[order_reqs[0].intent] = (
            f"Unfortunately, {reading.unsure}. {reading.asks[reading.unsure][:1].upper()}{reading.asks[reading.unsure][1:]}")
    said = " ".join([*map(str, result.answers.values()), *map(str, result.questions.values())])
    result.asides.extend(_in_time(triage, snap, result.steps, said))
    return result


def _waiver_disputed(result: Plan, text: str) -> None:
    """A call-out charge both waived by a visit's move and disputed: credited once; when the customer did not say
    which charge, the one the moved visit names is the disputed one, credited for the customer's reason."""
    credited = [st.args["charge_id"] for st in result.steps if st.action == "credit_charge" and st.rationale != WAIVER]
    result.steps = [st for st in result.steps if not (st.rationale == WAIVER and st.args["charge_id"] in credited)]
    if any(st.rationale == WAIVER for st in result.steps) and result.questions.get("charge_dispute", "").startswith(
            "which charge do you mean"):
        del result.questions["charge_dispute"]
        asked_why = {"why": "no_show" if signals.NO_SHOW.search(text) else "late"} if signals.WHAT_IS.search(text) and (
            signals.NO_SHOW.search(text) or signals.CAME_LATE.search(text)) else {}  # "why is there a call-out charge? nobody came"
        result.steps = [replace(st, args={**st.args, "reason": "customer disputes call-out charge"}, depends_on="",
                                intent="charge_dispute", rationale="call-out charge disputed (its visit is rebooked)",
                                defaults={**st.defaults, "waived": "", **asked_why})
                        if st.rationale == WAIVER else st for st in result.steps]


_MOVES_IT = {"reschedule_delivery", "cancel_order", "lookup_order", "change_address"}  # they say its day themselves


def _in_time(triage: Triage, snap: dict[str, Any] | None, steps: list[Step], said: str) -> list[str]:
    """For a present whose timing matters ("I ordered this as a present, so the timing matters"): when each order
    the message names and nothing here moves is still due, said from the records (the plan leaves out an order its
    answers already speak of)."""
    if snap is None or not triage.entities.get("gift_in_time"):
        return []
    moved = {st.args.get("order_id") for st in steps if st.action in _MOVES_IT}
    return [f"Your order {o['order_id']} is still due on {day(str(o['expected_delivery']))}."
            for o in snap["orders"] if o["order_id"] in triage.entities.get("order_ids", []) and o["order_id"] not in
            moved and o["order_id"] not in said and o.get("status") in ("pending", "processed") and o.get("expected_delivery")]
