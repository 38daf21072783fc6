"""What a reply says about each of the airline's write actions: once done, and while it waits for a person (never
that it is done). Registered beside the engine's wording when the pack's actions are imported."""

from __future__ import annotations

import re
from typing import Any

from cx_core.wording import CONFIRM, WORDING, Wording, _claim, day, money

_CABIN = {"basic_economy": "basic economy", "economy": "economy", "business": "business"}


def _flights(a: dict[str, Any]) -> str:
    return ", ".join(f"{f['flight_number']} on {day(str(f['date']))}" for f in a.get("flights") or [])


def _refund(r: dict[str, Any]) -> str:
    total = r.get("refund_total")
    return f" {money(float(total))} goes back to the original payment method within 5 to 7 business days." \
        if total else ""


_NEVER = re.compile(r"(?!)")  # a look-up is never "done" in a way a reply could claim falsely


def _booking(a: dict[str, Any], r: dict[str, Any], p: dict[str, str]) -> str:
    if not r:
        return ""
    pax = len(r.get("passengers") or [])
    bags = r.get("total_baggages", 0)
    trip = "round trip" if r.get("flight_type") == "round_trip" else "one way"
    return (f"Reservation {r['reservation_id']} is {trip} from {r['origin']} to {r['destination']} in "
            f"{_CABIN.get(r.get('cabin', ''), r.get('cabin', ''))}: {_flights(r)}; {pax} passenger"
            f"{'s' if pax != 1 else ''}, {bags} checked bag{'s' if bags != 1 else ''}"
            f"{', travel insurance' if r.get('insurance') == 'yes' else ''}"
            f"{' (cancelled)' if r.get('status') == 'cancelled' else ''}.")


def _status(a: dict[str, Any], r: dict[str, Any], p: dict[str, str]) -> str:
    if not r:
        return ""
    state = {"available": "scheduled", "on time": "on time", "delayed": "delayed", "flying": "in the air",
             "landed": "landed", "cancelled": "cancelled"}.get(str(r.get("status")), str(r.get("status")))
    when = r.get("estimated_departure_time_est") or r.get("actual_departure_time_est") or \
        f"{r['date']} {r.get('scheduled_departure_time_est', '')}".strip()
    return (f"Flight {r['flight_number']} from {r['origin']} to {r['destination']} on {day(r['date'])} is {state} "
            f"(departure {when} Eastern time).")


AIRLINE_WORDING = {
    "get_reservation_details": Wording("the booking look-up", _booking, lambda a, p: "", _NEVER, ()),
    "get_flight_status": Wording("the flight status look-up", _status, lambda a, p: "", _NEVER, ()),
    "cancel_reservation": Wording(
        "the cancellation of the booking",
        lambda a, r, p: f"I've cancelled reservation {a['reservation_id']}.{_refund(r)}",
        lambda a, p: f"I'm arranging the cancellation of reservation {a['reservation_id']}. {CONFIRM}",
        _claim(r"cancell?ed|refunded", r"reservation|booking|flight"), ("reservation_id",)),
    "update_reservation_flights": Wording(
        "the change of flights or cabin",
        lambda a, r, p: (f"I've changed reservation {a['reservation_id']} to {_CABIN[a['cabin']]}: "
                         f"{_flights(a)}."),
        lambda a, p: (f"I'm arranging the change of reservation {a['reservation_id']} to {_CABIN[a['cabin']]} "
                      f"({_flights(a)}). {CONFIRM}"),
        _claim(r"changed|moved|upgraded|downgraded|rebooked|switched|updated", r"reservation|booking|flight|cabin"),
        ("reservation_id",)),
    "update_reservation_baggages": Wording(
        "the checked bags",
        lambda a, r, p: (f"I've updated reservation {a['reservation_id']} to {a['total_baggages']} checked "
                         f"bag{'s' if a['total_baggages'] != 1 else ''}."),
        lambda a, p: (f"I'm arranging {a['total_baggages']} checked bag{'s' if a['total_baggages'] != 1 else ''} "
                      f"on reservation {a['reservation_id']}. {CONFIRM}"),
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
