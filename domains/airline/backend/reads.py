"""The reads: a member's profile and reservations, a reservation, a flight's status on a date, flights for sale
(nonstop or with one connection), the airports served, and whether a reservation has started."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cx_core.errors import NotFound
from domains.airline.backend.arguments import _day
from domains.airline.backend.lookup import Leg, _leg, _reservation, legs_of, user_row
from domains.airline.backend.policy import AIRPORT_CITIES, airline_now
from domains.airline.backend.views import _direct_view, reservation_view, user_view
from domains.airline.tables import AirlineFlightDateRow, AirlineFlightRow, AirlineReservationRow


def get_user(s: Session, user_id: str) -> dict[str, Any]:
    """The member's profile: name, address, payment methods (balances of gift cards and certificates), membership,
    saved passengers and reservation ids."""
    return user_view(user_row(s, user_id))


def get_reservation(s: Session, reservation_id: str) -> dict[str, Any]:
    return reservation_view(_reservation(s, reservation_id))


def flight_status(s: Session, flight_number: str, day: date | str) -> dict[str, Any]:
    """The status of one flight on one date (available, on time, delayed, flying, landed, cancelled) with its
    scheduled, estimated or actual times."""
    d = _day(day, "date")
    leg = _leg(s, flight_number.strip().upper(), d)
    if leg.instance is None:
        raise NotFound(f"flight {leg.number} does not operate on {leg.label().split(' on ', 1)[1]}")
    out: dict[str, Any] = {"flight_number": leg.number, "date": d.isoformat(), "origin": leg.flight.origin,
                           "destination": leg.flight.destination, "status": leg.status,
                           "scheduled_departure_time_est": leg.flight.scheduled_departure_time_est,
                           "scheduled_arrival_time_est": leg.flight.scheduled_arrival_time_est}
    out.update(leg.instance.times or {})
    if leg.status == "available":
        out["available_seats"] = dict(leg.instance.available_seats or {})
        out["prices"] = dict(leg.instance.prices or {})
    return out


def operating(s: Session, origin: str, destination: str, day: date | str) -> list[dict[str, Any]]:
    """The nonstop flights between two airports on a date, whatever their state (full, delayed, flying, landed):
    the flights a person who is not the member may ask about ("my father's Miami to Chicago flight this evening")."""
    d = _day(day, "date")
    return [{"flight_number": leg.number, "origin": leg.flight.origin, "destination": leg.flight.destination,
             "date": d.isoformat(), "status": leg.status}
            for leg in _on(s, d, origin.strip().upper(), destination.strip().upper(), only_available=False)]


def _on(s: Session, day: date, origin: str | None = None, destination: str | None = None,
        only_available: bool = True) -> list[Leg]:
    """The flights operating on ``day`` (only those still for sale, by default), in flight-number order."""
    q = (select(AirlineFlightRow, AirlineFlightDateRow)
         .join(AirlineFlightDateRow, AirlineFlightDateRow.flight_number == AirlineFlightRow.flight_number)
         .where(AirlineFlightDateRow.date == day))
    if only_available:
        q = q.where(AirlineFlightDateRow.status == "available")
    if origin:
        q = q.where(AirlineFlightRow.origin == origin)
    if destination:
        q = q.where(AirlineFlightRow.destination == destination)
    return [Leg(f, day, fd) for f, fd in s.execute(q.order_by(AirlineFlightRow.flight_number)).all()]


def _available(s: Session, day: date, origin: str | None = None, destination: str | None = None,
               leave_after: datetime | None = None) -> list[Leg]:
    legs = _on(s, day, origin, destination)
    if leave_after is not None:
        legs = [leg for leg in legs if leg.departure >= leave_after]
    return legs


def search_direct(s: Session, origin: str, destination: str, day: date | str) -> list[dict[str, Any]]:
    """Nonstop flights for sale between two airports on a date, with seats left and prices per cabin."""
    d = _day(day, "date")
    return [_direct_view(leg) for leg in _available(s, d, origin.strip().upper(), destination.strip().upper())]


def search_onestop(s: Session, origin: str, destination: str, day: date | str) -> list[list[dict[str, Any]]]:
    """Pairs of flights for sale with one connection, the first leaving on the date; the second leaves the
    connecting airport after the first arrives (the next day when the first lands after midnight)."""
    d = _day(day, "date")
    origin, destination = origin.strip().upper(), destination.strip().upper()
    out = []
    for first in _available(s, d, origin=origin):
        if first.flight.destination == destination:
            continue
        arrival = first.arrival
        for second in _available(s, arrival.date(), origin=first.flight.destination, destination=destination,
                                 leave_after=arrival):
            out.append([_direct_view(first), _direct_view(second)])
    return out


def list_airports(s: Session) -> list[dict[str, str]]:
    """Every airport the airline flies to, with its city."""
    codes = set(s.scalars(select(AirlineFlightRow.origin).distinct())) | set(
        s.scalars(select(AirlineFlightRow.destination).distinct()))
    known = [c for c in AIRPORT_CITIES if c in codes]
    return [{"iata": c, "city": AIRPORT_CITIES.get(c, c)} for c in known + sorted(codes - set(known))]


def reservations_of(s: Session, user_id: str) -> list[AirlineReservationRow]:
    u = user_row(s, user_id)
    rows = {r.reservation_id: r for r in s.scalars(select(AirlineReservationRow)
                                                    .where(AirlineReservationRow.user_id == user_id))}
    ordered = [rows.pop(rid) for rid in u.reservation_ids if rid in rows]
    return ordered + sorted(rows.values(), key=lambda r: r.created_at)


def is_flown(s: Session, reservation_id: str, now: datetime) -> bool:
    """True when any flight of the reservation has taken off."""
    clock = airline_now(now)
    return any(leg.flown(clock) for leg in legs_of(s, _reservation(s, reservation_id)))
