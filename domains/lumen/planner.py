"""The rule/slot planner: for each request of a ticket, the typed actions that would resolve it, with arguments
filled from the ticket's entities and the customer's records. When an argument cannot be filled with certainty
the step is kept but marked as missing it, so that a person decides instead of the agent guessing."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

from cx_core.entities import find_dates, part_of_day
from cx_core.models import Request, Triage
from cx_core.plans import Plan, Step
from domains.lumen import PACK
from domains.lumen.order_requests import ORDER_INTENTS, interpret

WRITE_FREE = PACK.informational

# A request that depends on a condition, an exception or a change of mind is a person's call, not the agent's.
CONDITIONAL = re.compile(r"\b(?:if(?! (?:possible|you can|you could|that'?s (?:ok|okay|fine)|needed))|unless|otherwise|"
                         r"in case|depending on|regret|not sure|except|but not|instead of|rather than|either)\b", re.I)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{3,}", text.lower()))


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _mentions_item(text: str, item: dict[str, Any]) -> bool:
    """The item's full product name appears in the text (singular or plural)."""
    name_words = {_stem(w) for w in _words(item["name"])}
    return bool(name_words) and name_words <= {_stem(w) for w in _words(text)}


def pick_order(snap: dict[str, Any], ents: dict[str, Any], statuses: tuple[str, ...], text: str
               ) -> tuple[dict[str, Any] | None, str]:
    """The order a request is about, or (None, what to ask)."""
    own = {o["order_id"]: o for o in snap["orders"]}
    named = [own[o] for o in ents.get("order_ids", []) if o in own]
    foreign = [o for o in ents.get("order_ids", []) if o not in own]
    if named:
        return named[0], ""
    if foreign:
        return None, f"we could not find order {foreign[0]} on your account; could you check the number?"
    candidates = [o for o in snap["orders"] if o["status"] in statuses]
    by_item = [o for o in candidates if any(_mentions_item(text, i) for i in o["items"])]
    if len(by_item) == 1:
        return by_item[0], ""
    if len(candidates) == 1:
        return candidates[0], ""
    if not candidates:
        return None, "we could not find an order on your account that this applies to; could you send the order number?"
    return None, "could you confirm the order number (it starts with #W)?"


def pick_items(order: dict[str, Any], text: str) -> list[dict[str, Any]]:
    open_items = [i for i in order["items"] if i["status"] == "ordered"]
    if re.search(r"\b(everything|all (?:the |of the )?items|whole order|entire order)\b", text, re.I):
        return open_items
    mentioned = [i for i in open_items if _mentions_item(text, i)]
    if mentioned:
        return mentioned[:1] if len({i["name"] for i in mentioned}) == 1 else mentioned
    return open_items if len(open_items) == 1 else []


def pick_new_variant(order: dict[str, Any], item: dict[str, Any], ents: dict[str, Any]) -> dict[str, Any] | None:
    wanted = {w.lower() for w in ents.get("colours", []) + ents.get("sizes", [])}
    size_map = {"small": "s", "medium": "m", "large": "l"}
    wanted |= {size_map[w] for w in wanted if w in size_map}
    if not wanted:
        return None
    best = None
    for v in order["variants"].get(item["item_id"], []):
        if v["item_id"] == item["item_id"] or not v["available"]:
            continue
        values = {str(x).lower() for x in v["options"].values()}
        score = len(values & wanted)
        same = len(values & {str(x).lower() for x in item["options"].values()})
        if score and (best is None or (score, same) > best[0]):
            best = ((score, same), v, False)
        elif best is not None and score and (score, same) == best[0]:
            best = (best[0], best[1], True)  # a tie: the customer has to choose
    return best[1] if best and not best[2] else None


def pick_appointment(snap: dict[str, Any], ents: dict[str, Any], text: str, today: date
                     ) -> tuple[dict[str, Any] | None, list[str], set[str]]:
    """The booked appointment a request is about, and the days the customer wants instead. A day the customer
    names that is an appointment's current day says which appointment it is ("I can't be home on Wednesday"),
    not where to move it."""
    appts = [a for a in snap["appointments"] if a["status"] == "booked"]
    dates = ents.get("dates", [])
    items = {o["order_id"]: o["items"] for o in snap["orders"]}
    for found in ([a for a in appts if a["appointment_id"] in ents.get("appointment_ids", [])],
                  [a for a in appts if a["order_id"] and a["order_id"] in ents.get("order_ids", [])],
                  [a for a in appts if a["start"][:10] in dates],
                  [a for a in appts if any(_mentions_item(text, i) for i in items.get(a["order_id"], []))],
                  appts):
        if len(found) == 1:
            appt = found[0]
            day = appt["start"][:10]
            refused = {d.isoformat() for part in re.split(r"(?<=[.!?;])\s+", text) if CANNOT.search(part)
                       for d in find_dates(part, today)}  # "Wednesday doesn't work": not a day to move to
            others = [d for d in dates if d != day and d not in refused]
            if others or CANNOT.search(text):
                return appt, others, refused | {day}  # "I can't be home on Wednesday": any day but that one
            return appt, dates, set()  # "move it to Friday 27 November", the day it is on: another time that day
        if len(found) > 1:
            break
    return None, [], set()


CANNOT = re.compile(r"\b(?:can'?t|cannot|won'?t|not|no longer|doesn'?t|isn'?t|unable)\b", re.I)


def _slots_for(appt: dict[str, Any], dates: list[str], avoid: set[str] | None = None,
               parts: list[str] | None = None) -> list[dict[str, Any]]:
    """Free slots on the asked-for days in order, or, when no day was given, the next free slots on a day the
    customer did not rule out; in the part of the day the customer asked for, when they named one."""
    slots = [x for x in appt["free_slots"] if not parts or part_of_day(int(x["start"][11:13])) in parts]
    if not dates:
        return [x for x in slots if x["start"][:10] not in (avoid or set())][:4]
    return [slot for d in dates for slot in slots if slot["start"].startswith(d)][:4]


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
    steps, ask = _plan_request(req, triage, snap, today, full_text)
    if req.intent not in WRITE_FREE and steps and CONDITIONAL.search(full_text or triage_text(triage, req.text)):
        return [replace(st, missing=st.missing or "a person's decision on the customer's conditions")
                for st in steps], ask
    return steps, ask


def _plan_request(req: Request, triage: Triage, snap: dict[str, Any], today: date, full_text: str = ""
                  ) -> tuple[list[Step], str]:
    ents = triage.entities
    text = req.text
    intent = req.intent
    uid = snap["profile"]["user_id"]
    steps: list[Step] = []

    def need_order(statuses: tuple[str, ...]) -> tuple[dict[str, Any] | None, str]:
        return pick_order(snap, ents, statuses, text + " " + " ".join(ents.get("order_ids", [])))

    if intent == "order_status":
        order, ask = need_order(("pending", "processed", "delivered"))
        if order:
            steps.append(Step("lookup_order", {"order_id": order["order_id"]}, intent, "customer asks about the order"))
        return steps, ask
    if intent == "delivery_reschedule":
        order, ask = need_order(("pending", "processed"))
        if not order:
            return steps, ask
        if not ents.get("dates"):
            return [Step("reschedule_delivery", {"order_id": order["order_id"]}, intent, "customer wants another day",
                         missing="new delivery date")], "which day would suit you for the delivery?"
        steps.append(Step("reschedule_delivery", {"order_id": order["order_id"], "new_date": ents["dates"][0]},
                          intent, "customer asked for this date"))
        return steps, ""
    if intent == "address_change":
        order, ask = need_order(("pending",))
        if not order:
            return steps, ask
        if not ents.get("address"):
            return [Step("change_shipping_address", {"order_id": order["order_id"]}, intent, "new address requested",
                         missing="the full new address")], "could you send the full new address, including the ZIP code?"
        steps.append(Step("change_shipping_address", {"order_id": order["order_id"], **ents["address"]}, intent,
                          "customer gave the new address"))
        return steps, ""
    if intent == "order_cancel":
        order, ask = need_order(("pending",))
        if not order:
            any_order, _ = need_order(("processed", "delivered", "cancelled"))
            if any_order:
                steps.append(Step("cancel_order", {"order_id": any_order["order_id"],
                                                   "reason": ents.get("cancel_reason", "no longer needed")},
                                  intent, "customer asked to cancel"))
                return steps, ""
            return steps, ask
        steps.append(Step("cancel_order", {"order_id": order["order_id"],
                                           "reason": ents.get("cancel_reason", "no longer needed")},
                          intent, "customer asked to cancel a pending order"))
        return steps, ""
    if intent in {"return_refund", "damaged_item"}:
        order, ask = need_order(("delivered",))
        if not order:
            return steps, ask
        chosen = pick_items(order, text)
        if not chosen and full_text:  # "The mesh system isn't right for us. How do I return it?"
            named = pick_items(order, full_text)
            chosen = named if len(named) == 1 else []
        if not chosen:
            return [Step("return_items", {"order_id": order["order_id"]}, intent, "return requested",
                         missing="which items")], "which items from the order would you like to return?"
        why = "item arrived damaged" if intent == "damaged_item" else "customer wants to return"
        steps.append(Step("return_items", {"order_id": order["order_id"],
                                           "item_ids": [i["item_id"] for i in chosen]}, intent, why))
        return steps, ""
    if intent == "exchange":
        order, ask = need_order(("delivered",))
        if not order:
            return steps, ask
        chosen = pick_items(order, text)
        new = pick_new_variant(order, chosen[0], ents) if len(chosen) == 1 else None
        if not chosen or new is None:
            return [Step("exchange_item", {"order_id": order["order_id"]}, intent, "exchange requested",
                         missing="the item and the new option")], \
                "which item would you like to exchange, and for which option (size or colour)?"
        steps.append(Step("exchange_item", {"order_id": order["order_id"], "item_ids": [chosen[0]["item_id"]],
                                            "new_item_ids": [new["item_id"]]}, intent,
                          f"same product, new option {new['options']}"))
        return steps, ""
    if intent == "duplicate_charge":
        named = [o for o in snap["orders"] if o["order_id"] in ents.get("order_ids", [])]
        pool = named or snap["orders"]
        dups = [o for o in pool if o.get("duplicate_payment")]
        if len(dups) == 1:
            o = dups[0]
            steps.append(Step("refund", {"order_id": o["order_id"], "amount": o["duplicate_payment"],
                                         "reason": "duplicate charge"}, intent,
                              f"two payments of {o['duplicate_payment']:.2f} on {o['order_id']}"))
            return steps, ""
        if not dups:
            return steps, "we could not find a duplicate payment on your orders; could you send the date and amount from your statement?"
        return steps, "could you tell us which order the duplicate charge is for?"
    if intent == "resend_invoice":
        invoices = snap["invoices"]
        named = [i for i in invoices if i["invoice_id"] in ents.get("invoice_ids", [])]
        by_order = [i for i in invoices if i["order_id"] and i["order_id"] in ents.get("order_ids", [])]
        pick = (named or by_order or ([invoices[0]] if len(invoices) == 1 else []))
        if re.search(r"instal", text, re.I) and not pick:
            pick = [i for i in invoices if i["appointment_id"]][:1]
        if pick:
            steps.append(Step("resend_invoice", {"invoice_id": pick[0]["invoice_id"]}, intent, "customer asked"))
            return steps, ""
        if invoices:
            steps.append(Step("resend_invoice", {"invoice_id": invoices[0]["invoice_id"]}, intent,
                              "most recent invoice", missing="which invoice"))
        return steps, "which invoice do you need (the order number is enough)?"
    if intent == "contact_update":
        current = snap["profile"]
        new_emails = [e for e in ents.get("emails", []) if e != current["email"].lower()]
        new_phones = [p for p in ents.get("phones", []) if p != current.get("phone")]
        args: dict[str, Any] = {"user_id": uid}
        if new_emails:
            args["email"] = new_emails[0]
        if new_phones:
            args["phone"] = new_phones[0]
        if len(args) == 1:
            return steps, "which details should we update, and to what?"
        steps.append(Step("update_contact_details", args, intent, "customer gave new contact details"))
        return steps, ""
    if intent == "installation_reschedule":
        appt, wanted_dates, avoid = pick_appointment(snap, ents, text, today)
        if appt is None:
            return steps, ("we could not find a booked installation on your account"
                           if not any(a["status"] == "booked" for a in snap["appointments"])
                           else "which appointment would you like to move?")
        slots = _slots_for(appt, wanted_dates, avoid, ents.get("time_of_day"))
        if not slots:
            return [Step("reschedule_appointment", {"appointment_id": appt["appointment_id"]}, intent,
                         "no free slot on the requested day", missing="a free slot")], \
                "we have no free slot on that day; would another day suit you?"
        aid = appt["appointment_id"]
        wanted = ", ".join(wanted_dates) or "the next free day"
        rebook = Step("notify_field_team", {"appointment_id": aid, "message": (
            f"The customer asked to move appointment {aid} to {wanted}, but scheduling did not answer. "
            "Please call the customer to rebook.")}, intent, "scheduling is unavailable: the field team rebooks")
        steps.append(Step("reschedule_appointment", {"appointment_id": aid, "slot_id": slots[0]["slot_id"]}, intent,
                          f"first free slot {slots[0]['start']}", defaults={"start": slots[0]["start"]},
                          alternatives=[{"appointment_id": aid, "slot_id": x["slot_id"]} for x in slots[1:]],
                          fallback=rebook))
        steps.append(Step("notify_field_team", {"appointment_id": aid, "message": (
            f"Appointment {aid} moved to {{start}} at the customer's request.")}, intent,
            "field team must know", depends_on="reschedule_appointment", defaults={"start": slots[0]["start"]}))
        return steps, ""
    if intent == "charge_dispute":
        charges = [c for c in snap["charges"] if c["amount"] - c["credited"] > 0.005]
        named = [c for c in charges if c["charge_id"] in ents.get("charge_ids", [])]
        by_amount = [c for c in charges if any(abs(c["amount"] - a) < 0.01 for a in ents.get("amounts", []))]
        callout = [c for c in charges if c["kind"] == "callout"] if re.search(r"call.?out|technician|engineer|visit|"
                                                                               r"missed|appointment", text, re.I) else []
        pick = named or by_amount or callout or (charges if len(charges) == 1 else [])
        if not pick:
            return steps, "which charge would you like us to review (the date and amount are enough)?"
        ch = pick[0]
        steps.append(Step("credit_charge", {"charge_id": ch["charge_id"], "amount": round(ch["amount"] - ch["credited"], 2),
                                            "reason": f"customer disputes {ch['description'].lower()}"}, intent,
                          f"{ch['description']} of {ch['amount']:.2f} disputed"))
        return steps, ""
    if intent == "complaint":
        steps.append(Step("add_internal_note", {"user_id": uid, "body": f"Complaint: {text[:500]}"}, intent,
                          "record the complaint on the customer"))
        return steps, ""
    if intent == "data_request":
        steps.append(Step("add_internal_note", {"user_id": uid, "body": f"Data protection request: {text[:500]}"},
                          intent, "privacy team handles it within 30 days"))
        return steps, ""
    return steps, ""


READING_INTENT = {"cancel_order": "order_cancel", "change_shipping_address": "address_change",
                  "update_default_address": "address_change", "return_items": "return_refund",
                  "exchange_item": "exchange", "modify_order_items": "exchange"}


def grounded(triage: Triage, snap: dict[str, Any] | None, text: str) -> Triage:
    """A ticket the classifier could not place, but whose order requests the reading settles with certainty
    against the customer's own records, goes ahead as those requests (the classifier knows the company's
    example tickets, not every way of writing); a request the reading could not settle still waits for a person
    (``plan`` says so). The classifier's confidence is kept as it was."""
    if not triage.abstained or snap is None or not text.strip():
        return triage
    reading = interpret(text, snap)
    if not reading.steps:
        return triage
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


def plan(triage: Triage, snap: dict[str, Any] | None, today: date, text: str = "") -> Plan:
    """A plan for every request of the ticket, in the order the customer asked."""
    result = Plan()
    if triage.abstained:
        return result
    order_reqs = [r for r in triage.requests if r.intent in ORDER_INTENTS]
    reading = interpret(text or triage_text(triage, ""), snap) if snap is not None and order_reqs else None
    if reading is not None and reading.steps:
        kinds = {r.intent for r in order_reqs}
        for action, args, why in reading.steps:
            intent = READING_INTENT[action]
            if intent == "return_refund" and "damaged_item" in kinds:
                intent = "damaged_item"
            result.steps.append(Step(action, args, intent, why))
        if reading.unsure:  # the requests it settled are proposed; the one it could not waits for a person
            first = order_reqs[0].intent if order_reqs else "order_cancel"
            result.steps.append(Step(_ACTION_FOR.get(first, "add_internal_note"), {}, first,
                                     "part of the message needs a person", missing=reading.unsure))
    for req in triage.requests:
        if snap is None:
            if req.intent not in WRITE_FREE:
                result.questions[req.intent] = ("we could not match your message to an account; please write from "
                                                "the email address on your account or send your order number")
            continue
        if reading is not None and reading.steps and req.intent in ORDER_INTENTS:
            continue
        steps, ask = plan_request(req, triage, snap, today, text)
        if reading is not None and reading.unsure and reading.found and req.intent in ORDER_INTENTS:
            steps = [replace(st, missing=st.missing or reading.unsure) for st in steps] or [
                Step(_ACTION_FOR.get(req.intent, "add_internal_note"), {}, req.intent, "the request needs a person",
                     missing=reading.unsure)]
        seen = {(s.action, str(sorted(s.args.items()))) for s in result.steps}
        result.steps.extend(s for s in steps if (s.action, str(sorted(s.args.items()))) not in seen)
        if ask:
            result.questions[req.intent] = ask
        if req.intent == "data_request":
            result.escalate_queue = "privacy"
    return result
