"""Which booked installation a message is about, the days the customer names for it (and those they rule out),
and the free slots that fit."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from cx_core.entities import part_of_day
from cx_core.reading import arguments, records, topics, when
from domains.lumen.picking import mentions_item


def pick_appointment(snap: dict[str, Any], ents: dict[str, Any], text: str, today: date, full: str = ""
                     ) -> tuple[dict[str, Any] | None, list[str], set[str]]:
    """The booked appointment a request is about, and the days the customer wants instead. A day the customer
    names that is an appointment's current day says which appointment it is ("I can't be home on Wednesday"),
    not where to move it; a day ruled out anywhere in the message (``full``) is not one to move to."""
    appts = [a for a in snap["appointments"] if a["status"] == "booked"]
    # the days the request's own words name first, when they name one to move to: "twice on Wednesday" of a
    # payment is no day for the visit
    own = {w.value for w in when.dates(text, today, day_first=False)}
    dates = [d for d in ents.get("dates", []) if d in own]
    dates = dates if set(dates) - {a["start"][:10] for a in appts} else ents.get("dates", [])
    items = {o["order_id"]: o["items"] for o in snap["orders"]}
    for found in ([a for a in appts if a["appointment_id"] in ents.get("appointment_ids", [])],
                  [a for a in appts if a["order_id"] and a["order_id"] in ents.get("order_ids", [])],
                  # "I can't be home on Monday. Could they come on Friday 4 December?": the day ruled out names it
                  [a for a in appts if _ruled_out(full or text, today, a["start"][:10])],
                  [a for a in appts if a["start"][:10] in dates],
                  # "I can't be home for the installation on Friday": the weekday alone names the visit on it
                  [a for a in appts if re.search(rf"\b{date.fromisoformat(a['start'][:10]):%A}s?\b(?!,?\s+\d)", text,
                                                 re.I)],
                  [a for a in appts if any(mentions_item(text, i) for i in items.get(a["order_id"], []))],
                  appts):
        if len(found) == 1:
            appt = found[0]
            day = appt["start"][:10]
            said = arguments.days_said(full or text, today, day)
            # "Wednesday doesn't work": not a day to move to, unless another sentence asks for it
            refused = {d for cannot, d in said if cannot} - {d for cannot, d in said if not cannot}
            dates = [d for d in dates if d not in arguments.own_weekday(full or text, today, day)]
            others = [d for d in dates if d != day and d not in refused]
            if others or topics.CANNOT.search(full or text):
                return appt, others, refused | {day}  # "I can't be home on Wednesday": any day but that one
            return appt, dates, set()  # "move it to Friday 27 November", the day it is on: another time that day
        if len(found) > 1:
            break
    return None, [], set()


def _ruled_out(text: str, today: date, own: str) -> bool:
    """Whether the message rules out the day ``own`` (a visit's day) and asks for it nowhere."""
    said = arguments.days_said(text, today, own)
    return (True, own) in said and (False, own) not in said


def slots_for(appt: dict[str, Any], dates: list[str], avoid: set[str] | None = None,
              parts: list[str] | None = None, busy: set[str] | None = None, near: int | None = None,
              clock: list[dict[str, str]] | None = None, text: str = "",
              days: dict[str, dict[str, list[Any]]] | None = None) -> list[dict[str, Any]]:
    """Free slots on the asked-for days in order, or, when no day was given, the next free slots on a day the
    customer did not rule out; in the part of the day the customer asked for, when they named one; never at the
    time of another visit the customer has booked (``busy``: their starts); on each day asked for, the one nearest
    the hour ``near`` first (a visit moved with no time said keeps its time of day); within the clock times the
    customer bounds (``clock``: "after 2pm", "before 11", "by noon"), a time given alone ranking its nearest first;
    a day with times of its own (``days``: "Friday 2 to 4, else Monday morning") within those alone.
    """
    def fits(x: dict[str, Any], parts: list[str] | None, clock: list[dict[str, str]] | None) -> bool:
        bounded = [c for c in clock or [] if c.get("bound") in ("after", "before", "by")]
        return (bool(bounded) or not parts or part_of_day(int(x["start"][11:13])) in parts) \
            and all(_within(str(x["start"])[11:16], c) for c in bounded)

    own = days or {}
    slots = [x for x in appt["free_slots"] if str(x["start"])[:16].replace(" ", "T") not in (busy or set())
             and (fits(x, own[x["start"][:10]]["parts"], own[x["start"][:10]]["clock"]) if x["start"][:10] in own
                  else fits(x, parts, clock))]
    exact = [c["at"] for c in clock or [] if c.get("bound") in ("", "around")]
    if exact and near is None:
        near = int(exact[0][:2])
    if not dates:
        return [x for x in slots if x["start"][:10] not in (avoid or set())][:4]
    # of the slots at one time, the one whose technician the customer names ("keep Jo Whitaker") first
    liked = {slots[i]["slot_id"] for i in records.named(text, [{"technician": x.get("technician", "")} for x in slots])
             } if text else set()
    return [slot for d in dates for slot in sorted(
        (x for x in slots if x["start"].startswith(d)),
        key=lambda x: (0 if near is None else abs(int(x["start"][11:13]) - near), x["slot_id"] not in liked))][:4]


def _within(start: str, bound: dict[str, str]) -> bool:
    """A slot's start ("14:00") against a bound time: after it (or at it), before it, or by it."""
    at = str(bound["at"])
    return start >= at if bound["bound"] == "after" else start < at if bound["bound"] == "before" else start <= at


def visit_of(charge: dict[str, Any], snap: dict[str, Any]) -> dict[str, Any] | None:
    """The visit a call-out charge was billed for: the appointment its invoice names, else the customer's last
    appointment on or before the charge's day, else their only one."""
    billed = {i.get("appointment_id") for i in snap["invoices"] if i["invoice_id"] == charge.get("invoice_id")}
    named = [a for a in snap["appointments"] if a["appointment_id"] in billed]
    before = [a for a in snap["appointments"] if str(a.get("start", ""))[:10] <= str(charge["created_on"])[:10]]
    only = snap["appointments"] if len(snap["appointments"]) == 1 else []
    return max(named or before or only, key=lambda a: str(a["start"]), default=None)
