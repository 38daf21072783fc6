"""What a reply says about each of the airline's write actions: once done, and while it waits for a person (never
that it is done). Registered beside the engine's wording when the pack's actions are imported."""

from __future__ import annotations

import re
from typing import Any

from cx_core.wording import CONFIRM, WORDING, Wording, _claim, day, listed, money
from domains.airline.backend.policy import CABIN_WORDS, at_airport


def _flights(a: dict[str, Any]) -> str:
    return listed([f"{f['flight_number']} on {day(str(f['date']))}" for f in a.get("flights") or []])


def _refund(r: dict[str, Any]) -> str:
    total = r.get("refund_total")
    return f" {money(float(total))} goes back to the original payment method within 5 to 7 business days." \
        if total else ""


def _as_we(p: dict[str, str]) -> str:
    """A cancellation's cause, when it is ours: "As we cancelled flight HAT049 on Wednesday 18 November, "."""
    return f"As we cancelled flight {p['we_cancelled']}, " if p.get("we_cancelled") else ""


_NEVER = re.compile(r"(?!)")  # a look-up is never "done" in a way a reply could claim falsely


def clock(airport: str, when: str) -> str:
    """A departure as the traveller reads it at ``airport``: "06:05 local time" (with the day, when the airport's
    day is not the Eastern one: "22:30 local time on Wednesday 15 May")."""
    said, other_day = at_airport(airport, when)
    return f"{said} on {day(other_day.isoformat())}" if other_day else said


def _leaves(r: dict[str, Any]) -> str:
    """Each flight with its departure: "HAT039 on Friday 11 December at 06:00 (cancelled)"."""
    times = {(f["flight_number"], f["date"]): f for f in r.get("schedule") or []}
    out = []
    for f in r.get("flights") or []:
        known = times.get((f["flight_number"], f["date"]), {})
        leaves = str(known.get("departure") or "")
        when = day(str(f["date"])) + (f" at {clock(f.get('origin', ''), leaves)}" if len(leaves) >= 16 else "")
        state = known.get("status")
        note = " (cancelled)" if state == "cancelled" else " (delayed)" if state == "delayed" else ""
        out.append(f"{f['flight_number']} from {f.get('origin', '')} to {f.get('destination', '')} on {when}{note}"
                   .replace(" from  to ", " "))
    return "; ".join(out)


def _booking(a: dict[str, Any], r: dict[str, Any], p: dict[str, str]) -> str:
    if not r:
        return ""
    pax = len(r.get("passengers") or [])
    bags = int(r.get("total_baggages") or 0)
    trip = "round trip" if r.get("flight_type") == "round_trip" else "one way"
    return (f"Reservation {r['reservation_id']} is {trip} from {r['origin']} to {r['destination']} in "
            f"{CABIN_WORDS.get(r.get('cabin', ''), r.get('cabin', ''))}{' (cancelled)' if r.get('status') == 'cancelled' else ''}"
            f", departing: {_leaves(r)}. {pax} passenger{'s' if pax != 1 else ''}, "
            f"{bags or 'no'} checked bag{'s' if bags != 1 else ''} booked"
            f"{', travel insurance' if r.get('insurance') == 'yes' else ''}.")


def _status(a: dict[str, Any], r: dict[str, Any], p: dict[str, str]) -> str:
    if not r:
        return ""
    state = str(r.get("status"))
    planned = f"{r['date']}T{str(r.get('scheduled_departure_time_est', ''))[:5]}"
    head = f"Flight {r['flight_number']} from {r['origin']} to {r['destination']} on {day(r['date'])}"

    def at(when: str) -> str:
        return clock(r["origin"], when)

    if state == "cancelled":
        return f"{head} is cancelled."
    if state in ("landed", "flying"):
        return (f"{head} {'has landed' if state == 'landed' else 'is in the air'} (it left at "
                f"{at(str(r.get('actual_departure_time_est') or planned))}).")
    if state == "delayed":
        expected = str(r.get("estimated_departure_time_est") or "")
        return (f"{head} is delayed: it is now expected to leave at "
                f"{at(expected) if expected else 'a time not yet set'} instead of {at(planned)}.")
    when = str(r.get("estimated_departure_time_est") or planned)
    return f"{head} is {'on time' if state == 'on time' else 'scheduled'} to leave at {at(when)}."


AIRLINE_WORDING = {
    "get_reservation_details": Wording("the booking look-up", _booking, lambda a, p: "", _NEVER, ()),
    "get_flight_status": Wording("the flight status look-up", _status, lambda a, p: "", _NEVER, ()),
    "cancel_reservation": Wording(
        "the cancellation of the booking",
        lambda a, r, p: f"{_as_we(p)}I've cancelled reservation {a['reservation_id']}.{_refund(r)}",
        lambda a, p: (f"{_as_we(p)}I'm arranging the cancellation of reservation {a['reservation_id']}"
                      + (f" ({p['flights']})" if p.get("flights") else "")
                      + f", and {'the ' + p['paid'] + ' you paid' if p.get('paid') else 'what you paid'} will go back "
                      f"to the original payment method within 5 to 7 business days. {CONFIRM}"),
        _claim(r"cancell?ed|refunded", r"reservation|booking|flight"), ("reservation_id",)),
    "update_reservation_flights": Wording(
        "the change of flights or cabin",
        lambda a, r, p: (f"I've changed reservation {a['reservation_id']} to {CABIN_WORDS[a['cabin']]}: "
                         f"{_flights(a)}."),
        lambda a, p: (f"I'm arranging the change of reservation {a['reservation_id']} to {_flights(a)}"
                      f" in {CABIN_WORDS[a['cabin']]}. {CONFIRM}"),
        _claim(r"changed|moved|upgraded|downgraded|rebooked|switched|updated", r"reservation|booking|flight|cabin"),
        ("reservation_id",)),
    "update_reservation_baggages": Wording(
        "the checked bags",
        lambda a, r, p: (f"I've updated reservation {a['reservation_id']} to {a['total_baggages']} checked "
                         f"bag{'s' if a['total_baggages'] != 1 else ''}."),
        lambda a, p: (f"I'm arranging for reservation {a['reservation_id']} to have {a['total_baggages']} checked "
                      f"bag{'s' if a['total_baggages'] != 1 else ''} in all. {CONFIRM}"),
        _claim(r"added|updated|booked|included", r"bag|luggage|suitcase"), ("reservation_id",)),
    "update_reservation_passengers": Wording(
        "the passenger change",
        lambda a, r, p: f"I've updated the passengers on reservation {a['reservation_id']}.",
        lambda a, p: f"I'm arranging the passenger change on reservation {a['reservation_id']}. {CONFIRM}",
        _claim(r"updated|changed|corrected|replaced", r"passenger|name"), ("reservation_id",)),
    "book_reservation": Wording(
        "the new booking",
        lambda a, r, p: (f"I've booked your trip from {a['origin']} to {a['destination']}"
                         f"{': reservation ' + r['reservation_id'] if r.get('reservation_id') else ''}."),
        lambda a, p: f"I'm arranging your booking from {a['origin']} to {a['destination']}. {CONFIRM}",
        _claim(r"booked|reserved|confirmed", r"trip|flight|booking|reservation"), ()),
    "send_certificate": Wording(
        "the travel certificate",
        lambda a, r, p: (f"I've sent you a travel certificate of {money(float(a['amount']))} for reservation "
                         f"{a['reservation_id']}; it is in your profile for a future booking."),
        lambda a, p: (f"I'm arranging a travel certificate of {money(float(a['amount']))} for reservation "
                      f"{a['reservation_id']}. {CONFIRM}"),
        _claim(r"sent|issued|added|credited", r"certificate|voucher|compensation"), ("reservation_id",)),
}
WORDING.update(AIRLINE_WORDING)
