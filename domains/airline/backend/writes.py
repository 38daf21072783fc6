"""The writes by name: each one's preview and write, and the dollars an action would move."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from cx_core.errors import TandemError
from domains.airline.backend.arguments import _as_dict, _choice, _flight_refs, _int, _text, _yes_no
from domains.airline.backend.booking import book_reservation, preview_book_reservation
from domains.airline.backend.cancel import cancel_reservation, preview_cancel_reservation
from domains.airline.backend.changes import (
    preview_update_reservation_baggages,
    preview_update_reservation_flights,
    preview_update_reservation_passengers,
    update_reservation_baggages,
    update_reservation_flights,
    update_reservation_passengers,
)
from domains.airline.backend.compensation import preview_send_certificate, send_certificate
from domains.airline.backend.lookup import _leg, _reservation
from domains.airline.backend.policy import BAG_FEE, INSURANCE_FEE
from domains.airline.tables import CABINS


def money_at_stake(s: Session, action: str, args: Mapping[str, Any] | BaseModel) -> float | None:
    """The dollars an action would move, from the records alone (no clock, no rule checks): the refund of a
    cancellation, the price difference of a change, the fee for bags, the price of a booking, the certificate's
    value. None when the records it names do not exist."""
    a = _as_dict(args)
    try:
        if action == "send_certificate":
            return float(_int(a, "amount"))
        if action == "book_reservation":
            pax = len(a.get("passengers") or [])
            cabin = _choice(a, "cabin", CABINS)
            fares = sum(_leg(s, n, d).price(cabin) for n, d in _flight_refs(a.get("flights"))) * pax
            insured = _yes_no(a.get("insurance"), "insurance")
            return float(fares + (INSURANCE_FEE * pax if insured else 0) + BAG_FEE * _int(a, "nonfree_baggages"))
        r = _reservation(s, _text(a, "reservation_id"))
        if action == "cancel_reservation":
            return float(sum(p["amount"] for p in r.payment_history))
        if action == "update_reservation_baggages":
            return float(BAG_FEE * max(_int(a, "nonfree_baggages") - r.nonfree_baggages, 0))
        if action == "update_reservation_flights":
            cabin = _choice(a, "cabin", CABINS)
            kept = {(f["flight_number"], f["date"]): int(f["price"]) for f in r.flights}
            new = 0
            for n, d in _flight_refs(a.get("flights")):
                key = (n, d.isoformat())
                new += kept[key] if key in kept and cabin == r.cabin else _leg(s, n, d).price(cabin)
            return float(abs(new - sum(kept.values())) * len(r.passengers))
        if action == "update_reservation_passengers":
            return 0.0
    except TandemError:
        return None
    return None


PREVIEWS = {
    "cancel_reservation": preview_cancel_reservation,
    "update_reservation_flights": preview_update_reservation_flights,
    "update_reservation_baggages": preview_update_reservation_baggages,
    "update_reservation_passengers": preview_update_reservation_passengers,
    "book_reservation": preview_book_reservation,
    "send_certificate": preview_send_certificate,
}
WRITES = {
    "cancel_reservation": cancel_reservation,
    "update_reservation_flights": update_reservation_flights,
    "update_reservation_baggages": update_reservation_baggages,
    "update_reservation_passengers": update_reservation_passengers,
    "book_reservation": book_reservation,
    "send_certificate": send_certificate,
}
