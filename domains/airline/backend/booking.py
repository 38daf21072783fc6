"""Booking a new reservation: flights for sale that make the trip, the price (fares, insurance, paid bags) and
how it is paid from saved methods within the policy's limits; numbered HATHAT, HATHAU, … as in τ-bench."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from cx_core.errors import InvalidInput, PolicyDenied
from domains.airline.backend.arguments import _as_dict, _choice, _flight_refs, _int, _passengers, _text, _yes_no
from domains.airline.backend.checks import _check_bookable, _check_route, _check_timing, _profile_method
from domains.airline.backend.ledger import _move_seats
from domains.airline.backend.lookup import _leg, user_row
from domains.airline.backend.policy import (
    BAG_FEE,
    BOOKING_PAYMENT_LIMITS,
    FREE_BAGS,
    INSURANCE_FEE,
    MAX_PASSENGERS,
    airline_now,
    free_bag_allowance,
    money,
)
from domains.airline.backend.views import _segment, method_label, reservation_view
from domains.airline.tables import CABINS, FLIGHT_TYPES, AirlineReservationRow, AirlineUserRow

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_FIRST_RESERVATION_ID = "HATHAT"  # τ-bench numbers new reservations HATHAT, HATHAU, HATHAV, …


def _next_reservation_id(s: Session) -> str:
    taken = set(s.scalars(select(AirlineReservationRow.reservation_id)
                          .where(AirlineReservationRow.reservation_id.like(_FIRST_RESERVATION_ID[:3] + "%"))))
    digits = [_ID_ALPHABET.index(c) for c in _FIRST_RESERVATION_ID]
    for _ in range(len(_ID_ALPHABET) ** 3):
        candidate = "".join(_ID_ALPHABET[d] for d in digits)
        if candidate not in taken:
            return candidate
        i = len(digits) - 1
        while True:
            digits[i] = (digits[i] + 1) % len(_ID_ALPHABET)
            if digits[i] or i == 0:
                break
            i -= 1
    raise InvalidInput("no reservation number is free in the HAT series")  # pragma: no cover


def _booking_payments(u: AirlineUserRow, payments: Any) -> list[dict[str, Any]]:
    """The saved methods paying for a booking, each with its amount: at most one certificate, one credit card
    and three gift cards, none listed twice, no gift card or certificate beyond its balance (a certificate's
    remainder is forfeited)."""
    if not isinstance(payments, list | tuple) or not payments:
        raise InvalidInput("payment_methods must list {payment_id, amount} for at least one saved method")
    plan_payments, kinds, seen = [], Counter[str](), set()
    for p in payments:
        p = _as_dict(p)
        pid = _text(p, "payment_id")
        amount = _int(p, "amount", minimum=1)
        if pid in seen:
            raise InvalidInput(f"payment method {pid} is listed twice")
        seen.add(pid)
        method = _profile_method(u, pid)
        kinds[method["source"]] += 1
        limit = BOOKING_PAYMENT_LIMITS.get(method["source"], 0)
        if kinds[method["source"]] > limit:
            raise PolicyDenied("a booking can use at most one travel certificate, one credit card and three gift "
                               f"cards ({kinds[method['source']]} {method['source'].replace('_', ' ')}s given)")
        entry = {"payment_id": pid, "source": method["source"], "amount": amount, "label": method_label(method)}
        if method["source"] in ("gift_card", "certificate"):
            balance = method.get("amount", 0)
            if amount > balance:
                raise PolicyDenied(f"{method['source'].replace('_', ' ')} {pid} has {balance} left, {amount} asked")
            entry["balance_after"] = money(balance - amount)
            if method["source"] == "certificate" and balance > amount:
                entry["forfeited"] = money(balance - amount)  # a certificate's remainder is not refundable
        plan_payments.append(entry)
    return plan_payments


def preview_book_reservation(s: Session, args: Mapping[str, Any] | BaseModel, now: datetime) -> dict[str, Any]:
    """The reservation a booking would create, its price (fares, insurance, bags) and how it would be paid."""
    a = _as_dict(args)
    u = user_row(s, _text(a, "user_id"))
    origin, destination = _text(a, "origin").upper(), _text(a, "destination").upper()
    flight_type = _choice(a, "flight_type", FLIGHT_TYPES)
    cabin = _choice(a, "cabin", CABINS)
    refs = _flight_refs(a.get("flights"))
    passengers = _passengers(a.get("passengers"))
    total_bags, nonfree = _int(a, "total_baggages"), _int(a, "nonfree_baggages")
    insurance = _yes_no(a.get("insurance"), "insurance")
    clock = airline_now(now)
    if origin == destination:
        raise InvalidInput(f"origin and destination are both {origin}")
    pax = len(passengers)
    if pax > MAX_PASSENGERS:
        raise PolicyDenied(f"a reservation has at most {MAX_PASSENGERS} passengers, {pax} given")
    legs = [_leg(s, n, d) for n, d in refs]
    for leg in legs:
        _check_bookable(leg, cabin, pax, clock)
    _check_route(legs, origin, destination, flight_type, changing=None)
    _check_timing(legs, set(refs))
    segments = [_segment(leg, leg.price(cabin)) for leg in legs]
    free = free_bag_allowance(u.membership, cabin, pax)
    required = max(total_bags - free, 0)
    allowance = (f"{free} free ({FREE_BAGS[u.membership][cabin]} per {cabin.replace('_', ' ')} passenger for a "
                 f"{u.membership} member)")
    if nonfree < required:
        raise PolicyDenied(f"{total_bags} bags with {allowance} means {required} paid bags, not {nonfree}")
    if nonfree > required:
        raise InvalidInput(f"{total_bags} bags with {allowance} means {required} paid bags, not {nonfree}")
    fares = sum(seg["price"] for seg in segments) * pax
    insurance_fee = INSURANCE_FEE * pax if insurance else 0
    bag_fee = BAG_FEE * nonfree
    total = fares + insurance_fee + bag_fee
    plan_payments = _booking_payments(u, a.get("payment_methods"))
    paid = sum(p["amount"] for p in plan_payments)
    if paid != total:
        raise InvalidInput(f"the payments add up to {paid} but the total price is {total} (fares {fares}, "
                           f"insurance {insurance_fee}, bags {bag_fee})")
    reservation = {"reservation_id": _next_reservation_id(s), "user_id": u.user_id, "origin": origin,
                   "destination": destination, "flight_type": flight_type, "cabin": cabin, "flights": segments,
                   "passengers": passengers,
                   "payment_history": [{"payment_id": p["payment_id"], "amount": p["amount"]} for p in plan_payments],
                   "created_at": clock.isoformat(timespec="seconds"), "total_baggages": total_bags,
                   "nonfree_baggages": nonfree, "insurance": "yes" if insurance else "no", "status": None}
    return {"action": "book_reservation", "reservation_id": reservation["reservation_id"], "user_id": u.user_id,
            "reservation": reservation, "total_price": total,
            "price_breakdown": {"fares": fares, "insurance": insurance_fee, "bags": bag_fee},
            "free_bag_allowance": free, "payments": plan_payments,
            "seat_changes": [{"flight_number": leg.number, "date": leg.day.isoformat(), "cabin": cabin,
                              "seats": -pax} for leg in legs]}


def book_reservation(s: Session, args: Mapping[str, Any] | BaseModel, now: datetime) -> dict[str, Any]:
    """Books the reservation as previewed: takes the seats, draws on gift cards (and uses up any certificate) and
    adds the reservation to the member's profile."""
    plan = preview_book_reservation(s, args, now)
    u = user_row(s, plan["user_id"])
    methods = copy.deepcopy(u.payment_methods)
    for p in plan["payments"]:
        if p["source"] == "gift_card":
            methods[p["payment_id"]]["amount"] = p["balance_after"]
        elif p["source"] == "certificate":
            del methods[p["payment_id"]]
    u.payment_methods = methods
    res = plan["reservation"]
    r = AirlineReservationRow(
        reservation_id=res["reservation_id"], user_id=u.user_id, origin=res["origin"],
        destination=res["destination"], flight_type=res["flight_type"], cabin=res["cabin"],
        flights=copy.deepcopy(res["flights"]), passengers=copy.deepcopy(res["passengers"]),
        payment_history=copy.deepcopy(res["payment_history"]), created_at=datetime.fromisoformat(res["created_at"]),
        total_baggages=res["total_baggages"], nonfree_baggages=res["nonfree_baggages"],
        insurance=res["insurance"] == "yes", status=None, history=[])
    s.add(r)
    u.reservation_ids = [*u.reservation_ids, r.reservation_id]
    _move_seats(s, plan["seat_changes"])
    s.flush()
    return {**plan, "reservation": reservation_view(r)}
