"""Planning for the technician's visits: moving a booked installation to a day the customer can be home, and a
disputed call-out charge (credited, and the visit checked by the field team)."""

from __future__ import annotations

import re
from typing import Any

from cx_core import signals
from cx_core.plans import Step
from cx_core.reading import arguments, language
from cx_core.reading.day_times import times_of_days
from cx_core.wording import day, listed, money
from domains.lumen.appointments import pick_appointment, slots_for, visit_of
from domains.lumen.asked import Answer, Asked, Planned


def installation_reschedule(r: Asked) -> Planned:
    appt, wanted_dates, avoid = pick_appointment(r.snap, r.ents, r.text, r.today, r.full_text)
    if appt is None:
        booked = [a for a in r.snap["appointments"] if a["status"] == "booked"]
        if not booked:
            return [], "we could not find a booked installation on your account"
        return [], _which_visit(r, booked)
    own = appt["start"][:10]
    said = arguments.days_said(r.full_text or r.text, r.today, own)
    both = {d for cannot, d in said if cannot} & {d for cannot, d in said if not cannot}
    if both and not [d for d in wanted_dates if d not in both | {own}]:
        # "I can't be home Thursday … could the technician come Thursday?": the day it already is, or one the
        # message both rules out and asks for; ask rather than pick a day the customer did not name
        first = min(both)
        ask = f"your installation is booked for {day(appt['start'])}; which other day or time would suit you?" \
            if own in both else f"you mention {day(first)} both as a day that doesn't suit you and as one you'd " \
            "like; it " + _free_on([appt], first, parts=r.ents.get("time_of_day")) + \
            "; which day and time would suit you best?"
        return [Step("reschedule_appointment", {"appointment_id": appt["appointment_id"]}, r.intent,
                     "the day asked for is the appointment's own day" if own in both else
                     "the day asked for is also named as one that doesn't suit", missing="the new day")], ask
    aid = appt["appointment_id"]
    goods = next((o for o in r.snap.get("orders") or [] if o["order_id"] == appt.get("order_id")
                  and o.get("status") in ("pending", "processed") and o.get("expected_delivery")), None)
    due = str(goods["expected_delivery"]) if goods else ""

    def free(after: str = "", dates: list[str] = wanted_dates) -> list[dict[str, Any]]:
        """The free slots asked for (after the goods' delivery day)."""
        return slots_for({**appt, "free_slots": [x for x in appt["free_slots"] if str(x["start"])[:10] > after]},
                         dates, avoid, r.ents.get("time_of_day"), busy={
            str(a["start"])[:16].replace(" ", "T") for a in r.snap["appointments"]
            if a["status"] == "booked" and a["appointment_id"] != aid},
            near=None if r.ents.get("time_of_day") or r.ents.get("clock_times")
            else int(str(appt["start"])[11:13] or 0), clock=r.ents.get("clock_times"),  # no time said: its own
            text=r.full_text or r.text, days=times_of_days(r.text, r.today))
    slots = free(due)
    if not slots and due and (free() or (wanted_dates and max(wanted_dates) <= due)):  # goods not there yet
        soonest = free(due, [])
        return [Step("reschedule_appointment", {"appointment_id": aid}, r.intent, "the day asked for is not after "
                     "the goods are delivered", missing="a day once the goods are delivered")], (
            f"order {goods['order_id'] if goods else ''}, which the technician is to install, is due to be delivered "
            f"on {day(due)}" + (f", after {day(max(wanted_dates))}" if wanted_dates and max(wanted_dates) < due
                                else "") + ", so the installation needs to be on a later day" + (
                f"; the first free time after that is {day(str(soonest[0]['start']))}: would that suit you?"
                if soonest else "; which day after that would suit you?"))
    if not slots:
        return [Step("reschedule_appointment", {"appointment_id": aid}, r.intent,
                     "no free slot on the requested day", missing="a free slot")], \
            "we have no free slot on that day; would another day suit you?"
    booked = [a for a in r.snap["appointments"] if a["status"] == "booked"]
    wanted = ", ".join(wanted_dates) or "the next free day"
    rebook = Step("notify_field_team", {"appointment_id": aid, "message": (
        f"The customer asked to move appointment {aid} to {wanted}, but scheduling did not answer. "
        "Please call the customer to rebook.")}, r.intent, "scheduling is unavailable: the field team rebooks")
    return [Step("reschedule_appointment", {"appointment_id": aid, "slot_id": slots[0]["slot_id"]}, r.intent,
                 f"first free slot {slots[0]['start']}", defaults={"start": slots[0]["start"], **(
                     {"from": str(appt["start"])} if len(booked) > 1 else {})},
                 alternatives=[{"appointment_id": aid, "slot_id": x["slot_id"]} for x in slots[1:]],
                 fallback=rebook),
            Step("notify_field_team", {"appointment_id": aid, "message": (
                f"Appointment {aid} moved to {{when}} at the customer's request.")}, r.intent,
                "field team must know", depends_on="reschedule_appointment",
                defaults={"when": day(slots[0]["start"])}), *_waived(aid, r.snap, r.intent)], ""


def _free_on(appts: list[dict[str, Any]], on: str, parts: list[str] | None = None, busy: set[str] | None = None
             ) -> str:
    """ "has free times at 08:00 and 14:00" on a day (up to four, in the part of the day asked for, never at a time
    the customer's own visits take), or "has no free time left"."""
    times = sorted({x["start"][11:16] for a in appts for x in slots_for(a, [on], parts=parts, busy=busy)})
    return f"has free times at {listed(times[:4])}" if times else "has no free time left"


def _which_visit(r: Asked, booked: list[dict[str, Any]]) -> str:
    """Which of several booked visits to move, after the answer to "is Friday 4 December free?" (the free times
    that day, never a day the message rules out nor a time one of the customer's own visits takes); visits on one
    day are told apart by their times, and may move together."""
    told = r.full_text or r.text
    refused = {d for a in booked for cannot, d in arguments.days_said(told, r.today, a["start"][:10]) if cannot}
    days = {a["start"][:10] for a in booked}
    wanted = [d for d in r.ents.get("dates", []) if d not in refused and d not in days]
    busy = {str(a["start"])[:16].replace(" ", "T") for a in booked}
    free = ""
    if wanted:
        free = f"{day(wanted[0])} {_free_on(booked, wanted[0], busy=busy)}; "
    if len(days) == 1 and len(booked) > 1:  # "the installation on Saturday", and both are on Saturday
        return free + f"you have {len(booked)} visits booked on {day(booked[0]['start'][:10])}: would you like to " \
            "move " + ("both" if len(booked) == 2 else "all of them") + ", or just " + listed(
                [f"the {a['kind']} at {str(a['start'])[11:16]}" for a in booked][:3], "or") + "?"
    return free + "which appointment would you like to move: " + \
        listed([f"the {a['kind']} on {day(a['start'])}" for a in booked][:3], "or") + "?"


def _waived(aid: str, snap: dict[str, Any], intent: str) -> list[Step]:
    """The knowledge base: a call-out charge that came from the appointment being rescheduled now is credited in
    full. The charge is the open call-out charge on the appointment's invoice (else of the amount it billed): one,
    else none."""
    invoices = [i for i in snap["invoices"] if i.get("appointment_id") == aid]
    billed = {round(float(i["amount"]), 2) for i in invoices}
    open_ = [c for c in snap["charges"] if c["kind"] == "callout" and c["amount"] - c["credited"] > 0.005
             and (c.get("invoice_id") in {i["invoice_id"] for i in invoices} if c.get("invoice_id")
                  else round(float(c["amount"]), 2) in billed)]
    if len(open_) != 1:
        return []
    ch = open_[0]
    return [Step("credit_charge", {"charge_id": ch["charge_id"], "amount": round(ch["amount"] - ch["credited"], 2),
                                   "reason": f"{ch['description'].lower()} {WAIVED}"}, intent,
                 WAIVER, depends_on="reschedule_appointment",  # waived only when the visit is rebooked
                 defaults={"charge": ch["description"].lower(), "waived": "1"})]


WAIVED = "waived: its appointment is rebooked"  # a credit's reason under the rebooking rule
WAIVER = "a call-out charge from the appointment being rescheduled is credited in full"


def charge_dispute(r: Asked) -> Planned:
    charges = [c for c in r.snap["charges"] if c["amount"] - c["credited"] > 0.005]
    named = [c for c in charges if c["charge_id"] in r.ents.get("charge_ids", [])]
    by_amount = [c for c in charges if any(abs(c["amount"] - a) < 0.01 for a in r.ents.get("amounts", []))]
    callout = [c for c in charges if c["kind"] == "callout"] if re.search(r"call.?out|technician|engineer|visit|"
                                                                           r"missed|appointment", r.text, re.I) else []
    # the only charge, unless the customer gives an amount it does not have ("over $850 you've taken")
    only = charges if len(charges) == 1 and not r.ents.get("amounts") else []
    pick = named or by_amount or callout or only
    if not pick:
        return [], "which charge would you like us to review (the date and amount are enough)?"
    if len(pick) > 1 and not named:  # two alike (two call-outs of $49): the day named settles it, else ask
        alike = [c for c in pick if c in callout] if by_amount and callout else pick
        dated = [c for c in alike if c["created_on"] in {str(d) for d in r.ents.get("dates", [])}]
        told = r.full_text or r.text  # a visit they say came late, or not at all, is one whose day has come
        came = [c for c in alike if (signals.NO_SHOW.search(told) or signals.CAME_LATE.search(told)) and (v := visit_of(c, r.snap))
                and str(v["start"])[:10] <= r.today.isoformat()]
        pick = dated or (came if len(came) == 1 else alike)
        if len(pick) > 1:
            return [], "which charge do you mean: " + " or ".join(
                f"the {c['description'].lower()} of {money(c['amount'])} on {day(c['created_on'])}"
                for c in pick[:3]) + "?"
    ch = pick[0]
    text = r.full_text or r.text
    if signals.WHAT_IS.search(r.text) and not signals.DISPUTES.search(text) and not signals.NO_SHOW.search(text):
        # asked what it is, not to take it off: what it was for, and how to dispute it
        visit = visit_of(ch, r.snap) if ch["kind"] == "callout" else None
        return [], (f"the {money(ch['amount'])} charged on {day(ch['created_on'])} is the "
                    f"{ch['description'].lower()}" + (f" for your appointment on {day(visit['start'])}"
                                                      if visit else "") +
                    "; if you believe it should not apply to you, just reply and tell us why, and we'll look at it "
                    "straight away")
    no_show, late = signals.NO_SHOW.search(text), signals.CAME_LATE.search(text)
    if ch["kind"] == "callout" and not (no_show or late) and language.ADMITS.search(text):
        # "that one's on me, I was out when he came … could you take it off?": the rule it was charged under
        visit = visit_of(ch, r.snap)
        same = visit is not None and str(visit["start"])[:10] == str(ch["created_on"])[:10]
        return [], Answer(f"the {money(ch['amount'])} call-out charge of {day(ch['created_on'])}" + (
            " for that day's visit" if same else f" for your appointment on {day(visit['start'])}" if visit else "")
            + " applies when our technician comes and nobody is home, as you say happened, so it stands")
    seen = visit_of(ch, r.snap) if ch["kind"] == "callout" else None  # which charge, and why: its day and visit
    credit = Step("credit_charge", {"charge_id": ch["charge_id"], "amount": round(ch["amount"] - ch["credited"], 2),
                                    "reason": f"customer disputes {ch['description'].lower()}"}, r.intent,
                  f"{ch['description']} of {ch['amount']:.2f} disputed", defaults={"charge": ch["description"].lower(),
                                                                                   "billed": (
                      f"billed on {day(ch['created_on'])}" + (" for that day's visit" if seen and str(
                          seen["start"])[:10] == str(ch["created_on"])[:10] else "")), **(
                      # "why is there a call-out charge? nobody came": when it is billed, and why it goes
                      {"why": "no_show" if no_show else "late"} if ch["kind"] == "callout" and (no_show or late)
                      and signals.WHAT_IS.search(r.text) else {})})
    visit = visit_of(ch, r.snap) if ch["kind"] == "callout" and (no_show or late) else None
    if visit is None:
        return [credit], ""
    # the knowledge base: a dispute about a technician's visit goes to the field team, to check the visit report
    # a visit still ahead of the charge is the one on file, not the one billed: said as such, never as billed
    billed = (f"the visit billed on {day(ch['created_on'])} (appointment {visit['appointment_id']})"
              if str(visit.get("start", ""))[:10] <= str(ch["created_on"])[:10] else
              f"the visit billed on {day(ch['created_on'])} (the appointment on file is {visit['appointment_id']} on "
              f"{day(str(visit['start']))})")
    return [credit, Step("notify_field_team", {"appointment_id": visit["appointment_id"], "message": (
        f"The customer disputes the {ch['description'].lower()} of {money(ch['amount'])} ({ch['charge_id']}): they "
        f"say the technician {'did not come' if no_show else 'came late'} for {billed}. Please check the visit "
        "report.")}, r.intent, "a disputed visit: the field team checks its report")], ""
