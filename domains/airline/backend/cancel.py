"""Cancelling a whole reservation: when the policy allows it (booked within 24 hours, a flight cancelled by the
airline, business cabin, or insurance covering the reason), and the refunds to the original payment methods."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from cx_core.errors import HandedOver, InvalidInput, PolicyDenied
from domains.airline.backend.arguments import _as_dict, _text
from domains.airline.backend.ledger import _history, _move_seats
from domains.airline.backend.lookup import Leg, _reservation, legs_of, user_row
from domains.airline.backend.policy import CANCEL_REASONS, CANCEL_WINDOW, INSURED_REASONS, airline_now, money
from domains.airline.backend.views import reservation_view
from domains.airline.tables import AirlineReservationRow


def _cancel_basis(r: AirlineReservationRow, legs: list[Leg], reason: str | None, now: datetime) -> list[str]:
    basis = []
    if now - r.created_at <= CANCEL_WINDOW:
        basis.append(f"booked within the last 24 hours ({r.created_at.isoformat(sep=' ', timespec='minutes')})")
    cancelled = [leg for leg in legs if leg.status == "cancelled"]
    if cancelled:
        basis.append(f"flight {cancelled[0].label()} was cancelled by the airline")
    if r.cabin == "business":
        basis.append("business cabin")
    if r.insurance and reason in INSURED_REASONS:
        basis.append(f"travel insurance covers {reason}")
    if basis:
        return basis
    hours = int((now - r.created_at).total_seconds() // 3600)
    # just past the 24-hour window: "more than 24 hours", never "24 hours", which reads as within it
    age = "more than 24 hours" if hours == 24 else f"{hours} hours" if hours < 48 else f"{hours // 24} days"
    if not r.insurance:
        cover = "without travel insurance"
    elif reason is None:
        cover = "and its travel insurance needs a health or weather reason, which was not given"
    else:
        cover = f"and its travel insurance does not cover {reason.replace('_', ' ')}"
    way = ("If you would rather travel on other dates, its flights can still be changed instead"
           if r.cabin != "basic_economy" else "If you would rather travel on other dates, it can still be upgraded "
           "to economy and its flights then changed")
    raise PolicyDenied(f"reservation {r.reservation_id} cannot be cancelled for a refund: this "
                       f"{r.cabin.replace('_', ' ')} booking was made {age} ago, {cover}"
                       + (", and none of its flights was cancelled by us" if reason == "airline_cancelled" else "")
                       + ". We can refund a cancelled booking only when it was made in the last 24 hours, is in "
                         "business, has a flight we cancelled, or has travel insurance and is cancelled for a health "
                         "or weather reason. "
                       + way)


def preview_cancel_reservation(s: Session, args: Mapping[str, Any] | BaseModel, now: datetime) -> dict[str, Any]:
    """Whether the whole reservation may be cancelled and what would be refunded to which payment method."""
    a = _as_dict(args)
    r = _reservation(s, _text(a, "reservation_id"))
    reason = a.get("reason") or None
    if reason is not None and reason not in CANCEL_REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(CANCEL_REASONS)}, not '{reason}'")
    clock = airline_now(now)
    if r.status == "cancelled":
        raise PolicyDenied(f"reservation {r.reservation_id} is already cancelled")
    legs = legs_of(s, r)
    flown = [leg for leg in legs if leg.flown(clock)]
    insured = ", with your travel insurance in mind," if r.insurance and reason in ("health", "weather") else ""
    if flown and len(flown) == len(legs):  # the whole trip's time has passed: what can be refunded, if anything
        raise HandedOver(f"reservation {r.reservation_id} can no longer be cancelled, as its "
                         f"{'flight has' if len(legs) == 1 else 'flights have'} already left (flight "
                         f"{flown[-1].label()}). I've passed your request to a colleague in our reservations team, "
                         f"who will look at whether anything can be refunded{insured} and write to you")
    if flown:
        raise HandedOver(f"reservation {r.reservation_id} can no longer be cancelled as a whole, as flight "
                         f"{flown[0].label()} has already been flown. I've passed your request to a colleague in our "
                         "reservations team, who will look at what can be done for the part of the trip not flown, a "
                         f"refund included{insured}, and write to you")
    basis = _cancel_basis(r, legs, reason, clock)
    u = user_row(s, r.user_id)
    net: dict[str, float] = {}
    for p in r.payment_history:
        net[p["payment_id"]] = net.get(p["payment_id"], 0) + p["amount"]
    refunds = []
    for pid, amount in net.items():
        if amount:
            method = u.payment_methods.get(pid, {"source": pid.rsplit("_", 1)[0]})
            refunds.append({"payment_id": pid, "source": method.get("source"), "amount": money(amount)})
    seats = [{"flight_number": leg.number, "date": leg.day.isoformat(), "cabin": r.cabin,
              "seats": len(r.passengers)} for leg in legs if leg.status == "available"]
    return {"action": "cancel_reservation", "reservation_id": r.reservation_id, "user_id": r.user_id,
            "reason": reason, "basis": basis, "status_after": "cancelled", "refunds": refunds,
            "refund_total": money(sum(net.values())),
            "refund_timing": "to the original payment methods within 5 to 7 business days",
            "seats_released": seats}


def cancel_reservation(s: Session, args: Mapping[str, Any] | BaseModel, now: datetime) -> dict[str, Any]:
    """Cancels the whole reservation (after ``preview_cancel_reservation`` allows it): every payment is reversed
    to its original method and the seats go back on sale."""
    plan = preview_cancel_reservation(s, args, now)
    r = _reservation(s, plan["reservation_id"])
    history = copy.deepcopy(r.payment_history)
    r.payment_history = history + [{"payment_id": p["payment_id"], "amount": -p["amount"]} for p in history]
    r.status = "cancelled"
    _move_seats(s, plan["seats_released"])
    _history(r, airline_now(now), "cancel", reason=plan["reason"], basis=plan["basis"])
    s.flush()
    return {**plan, "reservation": reservation_view(r)}
