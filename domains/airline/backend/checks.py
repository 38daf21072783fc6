"""The rule checks several writes share: a reservation still active, flights that make the trip and connect in
time, flights for sale with seats left, and payment from the member's own saved methods."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cx_core.errors import InvalidInput, PolicyDenied
from domains.airline.backend.lookup import Leg
from domains.airline.backend.policy import money
from domains.airline.backend.views import method_label
from domains.airline.tables import AirlineReservationRow, AirlineUserRow


def _active(r: AirlineReservationRow) -> None:
    if r.status == "cancelled":
        raise PolicyDenied(f"reservation {r.reservation_id} is cancelled; it can no longer be changed")


def _check_route(legs: list[Leg], origin: str, destination: str, flight_type: str, *, changing: str | None) -> None:
    """The flights connect and make the trip: origin to destination (one way), or origin to destination and back
    (round trip). ``changing`` names the reservation when its existing trip must be kept."""
    path = [(leg.flight.origin, leg.flight.destination) for leg in legs]
    trip = f"{origin}→{destination} ({flight_type.replace('_', ' ')})"
    for (_, arrives), (leaves, _), prev, nxt in zip(path, path[1:], legs, legs[1:], strict=False):
        if arrives != leaves:
            raise InvalidInput(f"the flights do not connect: {prev.number} lands at {arrives} but {nxt.number} "
                               f"leaves from {leaves}")
    stops = [a for _, a in path]
    if flight_type == "one_way":
        fits = path[0][0] == origin and stops[-1] == destination
    else:
        fits = path[0][0] == origin and stops[-1] == origin and destination in stops[:-1]
    if not fits:
        made = "→".join([path[0][0]] + stops)
        if changing:
            raise PolicyDenied(f"reservation {changing} is {trip}; a change cannot alter its origin, destination or "
                               f"trip type (the new flights go {made})")
        raise InvalidInput(f"the flights go {made}, which is not a {trip} trip")


def _check_timing(legs: list[Leg], new: set[tuple[str, date]]) -> None:
    """Each flight leaves after the one before it; a connection involving a newly chosen flight also has to leave
    after the previous flight lands."""
    for prev, nxt in zip(legs, legs[1:], strict=False):
        if nxt.departure < prev.departure:
            raise InvalidInput(f"flight {nxt.label()} leaves before {prev.label()}: list the flights in travel order")
        if ((prev.number, prev.day) in new or (nxt.number, nxt.day) in new) and nxt.departure < prev.arrival:
            raise InvalidInput(f"flight {nxt.label()} leaves {nxt.flight.origin} at "
                               f"{nxt.departure:%Y-%m-%d %H:%M}, before {prev.label()} lands at "
                               f"{prev.arrival:%Y-%m-%d %H:%M}")


def _check_bookable(leg: Leg, cabin: str, passengers: int, now: datetime) -> None:
    if leg.status != "available" or not leg.bookable(now):
        state = leg.status if leg.status != "available" else "departed"
        raise PolicyDenied(f"flight {leg.label()} cannot be booked: it is {state}")
    if leg.seats(cabin) < passengers:
        raise PolicyDenied(f"flight {leg.label()} has {leg.seats(cabin)} {cabin} seats left, {passengers} needed")


def _profile_method(u: AirlineUserRow, payment_id: str) -> dict[str, Any]:
    method = u.payment_methods.get(payment_id)
    if method is None:
        raise PolicyDenied(f"payment method {payment_id} is not in {u.user_id}'s profile; only saved payment "
                           "methods can be used")
    return dict(method)


def _change_payment(u: AirlineUserRow, payment_id: str, amount: int) -> dict[str, Any]:
    """A change is paid (``amount`` > 0) or refunded (< 0) with a single gift card or credit card from the profile;
    a gift card must cover a charge."""
    method = _profile_method(u, payment_id)
    if method["source"] == "certificate":
        raise PolicyDenied(f"{payment_id} is a travel certificate; changes are paid or refunded with a gift card or "
                           "credit card from the profile")
    out = {"payment_id": payment_id, "source": method["source"], "label": method_label(method)}
    if method["source"] == "gift_card":
        balance = method.get("amount", 0)
        if amount > balance:
            raise PolicyDenied(f"gift card {payment_id} has {balance} left, {amount} is due: choose another "
                               "payment method")
        out["balance_after"] = money(balance - amount)
    return out
