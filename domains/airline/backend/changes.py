"""Changing a reservation: its flights and cabin (priced segment by segment), its checked bags (added, never
removed) and its passengers (same number), each as a preview and a write; and putting passengers back."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from cx_core.errors import InvalidInput, PolicyDenied
from domains.airline.backend.arguments import _as_dict, _choice, _flight_refs, _int, _passengers, _text
from domains.airline.backend.checks import _active, _change_payment, _check_bookable, _check_route, _check_timing
from domains.airline.backend.ledger import _apply_change_payment, _history, _move_seats
from domains.airline.backend.lookup import Leg, _leg, _reservation, legs_of, user_row
from domains.airline.backend.policy import BAG_FEE, FREE_BAGS, airline_now, free_bag_allowance
from domains.airline.backend.views import _segment, reservation_view
from domains.airline.tables import CABINS


def preview_update_reservation_flights(s: Session, args: Mapping[str, Any] | BaseModel,
                                       now: datetime) -> dict[str, Any]:
    """What changing the reservation's flights and/or cabin would cost or refund, seat by seat."""
    a = _as_dict(args)
    r = _reservation(s, _text(a, "reservation_id"))
    cabin = _choice(a, "cabin", CABINS)
    refs = _flight_refs(a.get("flights"))
    payment_id = _text(a, "payment_id")
    clock = airline_now(now)
    _active(r)
    u = user_row(s, r.user_id)
    pax = len(r.passengers)
    old_legs = legs_of(s, r)
    old_refs = [(leg.number, leg.day) for leg in old_legs]
    flights_change = sorted(refs) != sorted(old_refs)
    cabin_change = cabin != r.cabin
    if flights_change and r.cabin == "basic_economy":
        raise PolicyDenied(f"reservation {r.reservation_id} is basic economy: its flights cannot be changed "
                           "(only its cabin can be upgraded, keeping the same flights)")
    flown = [leg for leg in old_legs if leg.flown(clock)]
    if cabin_change and flown:
        raise PolicyDenied(f"the cabin of reservation {r.reservation_id} cannot change: flight {flown[0].label()} "
                           "has already been flown")
    dropped_flown = [leg for leg in flown if (leg.number, leg.day) not in refs]
    if dropped_flown:
        raise PolicyDenied(f"flight {dropped_flown[0].label()} has already been flown and cannot be replaced")
    kept_price = {(f["flight_number"], f["date"]): int(f["price"]) for f in r.flights}
    legs = [_leg(s, n, d) for n, d in refs]
    new: set[tuple[str, date]] = set()
    segments, seat_moves = [], []
    for leg in legs:
        key = (leg.number, leg.day.isoformat())
        if key in kept_price and not cabin_change:  # a kept segment keeps the price it was bought at
            segments.append(_segment(leg, kept_price[key]))
            continue
        _check_bookable(leg, cabin, pax, clock)
        new.add((leg.number, leg.day))
        segments.append(_segment(leg, leg.price(cabin)))
        seat_moves.append({"flight_number": leg.number, "date": leg.day.isoformat(), "cabin": cabin, "seats": -pax})
    _check_route(legs, r.origin, r.destination, r.flight_type, changing=r.reservation_id)
    _check_timing(legs, new)
    kept = {(seg["flight_number"], seg["date"]) for seg, leg in zip(segments, legs, strict=True)
            if (leg.number, leg.day) not in new}
    for leg in old_legs:
        if (leg.number, leg.day.isoformat()) not in kept and leg.status == "available":
            seat_moves.append({"flight_number": leg.number, "date": leg.day.isoformat(), "cabin": r.cabin,
                               "seats": pax})
    difference = (sum(seg["price"] for seg in segments) - sum(kept_price.values())) * pax
    payment = _change_payment(u, payment_id, difference)
    return {"action": "update_reservation_flights", "reservation_id": r.reservation_id, "user_id": r.user_id,
            "changed": flights_change or cabin_change, "cabin_before": r.cabin, "cabin_after": cabin,
            "flights_before": copy.deepcopy(r.flights), "flights_after": segments, "passengers": pax,
            "added": [seg for seg in segments if (seg["flight_number"], seg["date"]) not in kept],
            "removed": [f for f in r.flights if (f["flight_number"], f["date"]) not in kept],
            "price_difference": difference, "charge": max(difference, 0), "refund": max(-difference, 0),
            "payment": payment, "seat_changes": seat_moves,
            "free_bag_allowance_after": free_bag_allowance(u.membership, cabin, pax)}


def update_reservation_flights(s: Session, args: Mapping[str, Any] | BaseModel, now: datetime) -> dict[str, Any]:
    """Changes the reservation's flights and/or cabin as previewed; the price difference is charged to or refunded
    on the given gift card or credit card."""
    plan = preview_update_reservation_flights(s, args, now)
    r = _reservation(s, plan["reservation_id"])
    u = user_row(s, r.user_id)
    if plan["changed"]:
        _history(r, airline_now(now), "update_flights",
                 before={"cabin": plan["cabin_before"], "flights": plan["flights_before"]},
                 price_difference=plan["price_difference"], payment_id=plan["payment"]["payment_id"])
    _apply_change_payment(s, u, r, plan["payment"]["payment_id"], plan["price_difference"])
    _move_seats(s, plan["seat_changes"])
    r.flights = copy.deepcopy(plan["flights_after"])
    r.cabin = plan["cabin_after"]
    s.flush()
    return {**plan, "reservation": reservation_view(r)}


def no_flight_left(legs: list[Leg], clock: datetime) -> str:
    """Why bags cannot go on a booking whose every flight still to fly was cancelled by the airline, or ""."""
    ahead = [leg for leg in legs if not leg.flown(clock)]
    if ahead and all(leg.status == "cancelled" for leg in ahead):
        return f"flight {ahead[0].label()} was cancelled by the airline, so the booking has no flight left to check bags onto"
    return ""


# ---------------------------------------------------------------- update_reservation_baggages
def preview_update_reservation_baggages(s: Session, args: Mapping[str, Any] | BaseModel,
                                        now: datetime) -> dict[str, Any]:
    """The new bag count, how many of them are free, and the fee for the extra ones."""
    a = _as_dict(args)
    r = _reservation(s, _text(a, "reservation_id"))
    total = _int(a, "total_baggages")
    nonfree = _int(a, "nonfree_baggages")
    payment_id = _text(a, "payment_id")
    clock = airline_now(now)
    _active(r)
    legs = legs_of(s, r)
    if legs and all(leg.flown(clock) for leg in legs):
        raise PolicyDenied(f"every flight of reservation {r.reservation_id} has already been flown")
    if why := no_flight_left(legs, clock):
        raise PolicyDenied(why)
    if total < r.total_baggages:
        raise PolicyDenied(f"checked bags can be added but not removed: reservation {r.reservation_id} has "
                           f"{r.total_baggages}, {total} requested")
    if total == r.total_baggages:
        raise InvalidInput(f"reservation {r.reservation_id} already has {total} checked bags: nothing to add")
    u = user_row(s, r.user_id)
    pax = len(r.passengers)
    free = free_bag_allowance(u.membership, r.cabin, pax)
    required = max(r.nonfree_baggages, total - free, 0)
    per = FREE_BAGS[u.membership][r.cabin]
    allowance = f"{free} free ({per} per {r.cabin.replace('_', ' ')} passenger for a {u.membership} member)"
    if nonfree < required:
        raise PolicyDenied(f"{total} bags with {allowance} means {required} paid bags, not {nonfree}")
    if nonfree > required:
        raise InvalidInput(f"{total} bags with {allowance} means {required} paid bags, not {nonfree}")
    fee = BAG_FEE * (nonfree - r.nonfree_baggages)
    payment = _change_payment(u, payment_id, fee)
    return {"action": "update_reservation_baggages", "reservation_id": r.reservation_id, "user_id": r.user_id,
            "total_baggages_before": r.total_baggages, "total_baggages_after": total,
            "nonfree_baggages_before": r.nonfree_baggages, "nonfree_baggages_after": nonfree,
            "free_bag_allowance": free, "bag_fee": BAG_FEE, "fee": fee, "payment": payment}


def update_reservation_baggages(s: Session, args: Mapping[str, Any] | BaseModel, now: datetime) -> dict[str, Any]:
    """Adds checked bags as previewed and charges the extra ones to the given gift card or credit card."""
    plan = preview_update_reservation_baggages(s, args, now)
    r = _reservation(s, plan["reservation_id"])
    _history(r, airline_now(now), "update_baggages",
             before={"total_baggages": r.total_baggages, "nonfree_baggages": r.nonfree_baggages})
    _apply_change_payment(s, user_row(s, r.user_id), r, plan["payment"]["payment_id"], plan["fee"])
    r.total_baggages = plan["total_baggages_after"]
    r.nonfree_baggages = plan["nonfree_baggages_after"]
    s.flush()
    return {**plan, "reservation": reservation_view(r)}


# ---------------------------------------------------------------- update_reservation_passengers
def preview_update_reservation_passengers(s: Session, args: Mapping[str, Any] | BaseModel,
                                          now: datetime) -> dict[str, Any]:
    """The passengers before and after; their number never changes."""
    a = _as_dict(args)
    r = _reservation(s, _text(a, "reservation_id"))
    passengers = _passengers(a.get("passengers"))
    _active(r)
    if len(passengers) != len(r.passengers):
        raise PolicyDenied(f"the number of travellers on a booking cannot change once it is made (reservation "
                           f"{r.reservation_id} has {len(r.passengers)}), so one seat cannot be refunded on its own; "
                           "a traveller can be replaced by someone else instead")
    legs = legs_of(s, r)
    flown = [leg for leg in legs if leg.flown(airline_now(now))]
    if flown and len(flown) == len(legs):  # a trip already made: nothing on it is left to change
        raise PolicyDenied(f"the trip on reservation {r.reservation_id} has already been flown (flight "
                           f"{flown[-1].label()}), so there is nothing left on it to change; if you meant another "
                           "booking, just send us its reference")
    if flown:
        raise PolicyDenied(f"passengers cannot be changed once travel has started: flight {flown[0].label()} has "
                           "already been flown; if you would like, a colleague can look at what else can be done with "
                           "the booking")
    if passengers == r.passengers:
        raise InvalidInput(f"reservation {r.reservation_id} already has exactly these passengers")
    return {"action": "update_reservation_passengers", "reservation_id": r.reservation_id, "user_id": r.user_id,
            "passengers_before": copy.deepcopy(r.passengers), "passengers_after": passengers}


def update_reservation_passengers(s: Session, args: Mapping[str, Any] | BaseModel,
                                  now: datetime) -> dict[str, Any]:
    """Replaces the passengers' names and dates of birth as previewed (same number of passengers)."""
    plan = preview_update_reservation_passengers(s, args, now)
    r = _reservation(s, plan["reservation_id"])
    _history(r, airline_now(now), "update_passengers", before={"passengers": plan["passengers_before"]})
    r.passengers = copy.deepcopy(plan["passengers_after"])
    s.flush()
    return {**plan, "reservation": reservation_view(r)}


def restore_passengers(s: Session, reservation_id: str, passengers: list[dict[str, str]],
                       now: datetime) -> dict[str, Any]:
    """Puts back the passengers a change replaced (the compensating action of a passenger update)."""
    r = _reservation(s, reservation_id)
    _active(r)
    restored = _passengers(passengers)
    if len(restored) != len(r.passengers):
        raise PolicyDenied(f"the number of passengers cannot change: reservation {r.reservation_id} has "
                           f"{len(r.passengers)}, {len(restored)} to restore")
    _history(r, airline_now(now), "restore_passengers", before={"passengers": copy.deepcopy(r.passengers)})
    r.passengers = restored
    s.flush()
    return reservation_view(r)
