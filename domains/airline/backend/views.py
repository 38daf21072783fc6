"""The records as the τ-bench airline tools show them: members, reservations, flights for sale, segments and
payment methods, as plain dicts that share nothing with the rows."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from cx_core import shown
from cx_core.wording import money
from domains.airline.backend.lookup import Leg
from domains.airline.tables import AirlineReservationRow, AirlineUserRow


def _segment(leg: Leg, price: int) -> dict[str, Any]:
    return {"origin": leg.flight.origin, "destination": leg.flight.destination, "flight_number": leg.number,
            "date": leg.day.isoformat(), "price": price}


def method_label(method: Mapping[str, Any]) -> str:
    source = method.get("source")
    if source == "credit_card":
        return shown.card(method.get("brand", "card"), method.get("last_four", "????"))
    # a member may hold several gift cards or certificates alike: the last digits of each tell them apart
    digits = "".join(c for c in str(method.get("id", "")) if c.isdigit())[-4:]
    ending = f" ending {digits}" if len(digits) == 4 else ""
    if source == "gift_card":
        left = float(method.get("amount", 0) or 0)
        return f"gift card{ending} ({money(left)} left)" if left > 0 else f"gift card{ending} (used up)"
    return f"travel certificate{ending} ({money(float(method.get('amount', 0)))})"


def user_view(u: AirlineUserRow) -> dict[str, Any]:
    return {"user_id": u.user_id, "name": {"first_name": u.first_name, "last_name": u.last_name},
            "address": copy.deepcopy(u.address), "email": u.email, "dob": u.dob,
            "payment_methods": copy.deepcopy(u.payment_methods), "saved_passengers": copy.deepcopy(u.saved_passengers),
            "membership": u.membership, "reservations": list(u.reservation_ids)}


def reservation_view(r: AirlineReservationRow) -> dict[str, Any]:
    return {"reservation_id": r.reservation_id, "user_id": r.user_id, "origin": r.origin,
            "destination": r.destination, "flight_type": r.flight_type, "cabin": r.cabin,
            "flights": copy.deepcopy(r.flights), "passengers": copy.deepcopy(r.passengers),
            "payment_history": copy.deepcopy(r.payment_history),
            "created_at": r.created_at.isoformat(timespec="seconds"), "total_baggages": r.total_baggages,
            "nonfree_baggages": r.nonfree_baggages, "insurance": "yes" if r.insurance else "no", "status": r.status}


def _direct_view(leg: Leg) -> dict[str, Any]:
    inst = leg.instance
    return {"flight_number": leg.number, "origin": leg.flight.origin, "destination": leg.flight.destination,
            "status": "available", "scheduled_departure_time_est": leg.flight.scheduled_departure_time_est,
            "scheduled_arrival_time_est": leg.flight.scheduled_arrival_time_est, "date": leg.day.isoformat(),
            "available_seats": dict(inst.available_seats or {}) if inst else {},
            "prices": dict(inst.prices or {}) if inst else {}}
