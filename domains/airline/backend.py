"""The airline's systems as plain functions over a session: reservations, flights, members and their payment methods.

Reads return plain dicts shaped like the τ-bench airline tools' outputs. Every write comes as a pair:
``preview_X(s, args, now)`` checks the arguments and every rule of the airline's policy against the current records
and says what would change (amounts, payment methods, seats) without writing anything; ``X(s, args, now)`` runs the
preview and then applies exactly that. Refusals raise ``PolicyDenied`` naming the rule; unknown records raise
``NotFound`` and malformed arguments ``InvalidInput``. Nothing here commits: the caller owns the transaction.

``now`` is the airline's clock (local time, EST, as in τ-bench where it is 2024-05-15 15:00:00); an aware datetime
is converted to it. It decides "booked within the last 24 hours" and "already flown".
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from cx_core.errors import InvalidInput, NotFound, PolicyDenied, TandemError

from .tables import (
    ALL_TABLES,
    CABINS,
    FLIGHT_TYPES,
    AirlineCompensationRow,
    AirlineFlightDateRow,
    AirlineFlightRow,
    AirlineReservationRow,
    AirlineUserRow,
)

EST = timezone(timedelta(hours=-5), "EST")
TAU_NOW = datetime(2024, 5, 15, 15, 0, 0)  # τ-bench airline's current time (policy.md), airline clock

BAG_FEE = 50  # dollars per checked bag beyond the free allowance
INSURANCE_FEE = 30  # dollars per passenger
MAX_PASSENGERS = 5
CANCEL_WINDOW = timedelta(hours=24)
# Free checked bags per passenger, by the booking member's level and the cabin (policy.md, "Checked bag allowance").
FREE_BAGS: dict[str, dict[str, int]] = {
    "regular": {"basic_economy": 0, "economy": 1, "business": 2},
    "silver": {"basic_economy": 1, "economy": 2, "business": 3},
    "gold": {"basic_economy": 2, "economy": 3, "business": 4},
}
# At most this many of each kind of payment method on one booking.
BOOKING_PAYMENT_LIMITS = {"certificate": 1, "credit_card": 1, "gift_card": 3}
CANCEL_REASONS = ("change_of_plan", "airline_cancelled", "health", "weather", "other")
INSURED_REASONS = ("health", "weather")  # what travel insurance covers
# Certificate per passenger offered as a gesture, by what the member complains about.
COMPENSATION_PER_PASSENGER = {"cancelled_flight": 100, "delayed_flight": 50}
FLOWN_STATUSES = ("landed", "flying")

AIRPORT_CITIES = {
    "SFO": "San Francisco", "JFK": "New York", "LAX": "Los Angeles", "ORD": "Chicago", "DFW": "Dallas",
    "DEN": "Denver", "SEA": "Seattle", "ATL": "Atlanta", "MIA": "Miami", "BOS": "Boston", "PHX": "Phoenix",
    "IAH": "Houston", "LAS": "Las Vegas", "MCO": "Orlando", "EWR": "Newark", "CLT": "Charlotte",
    "MSP": "Minneapolis", "DTW": "Detroit", "PHL": "Philadelphia", "LGA": "LaGuardia",
}

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_FIRST_RESERVATION_ID = "HATHAT"  # τ-bench numbers new reservations HATHAT, HATHAU, HATHAV, …
_FIRST_CERTIFICATE_NUMBER = 3221322  # … and new certificates certificate_3221322, certificate_3221323, …


# ---------------------------------------------------------------- clock and argument helpers
def airline_now(now: datetime) -> datetime:
    """``now`` on the airline's clock (naive EST): an aware datetime is converted, a naive one is taken as is."""
    if now.tzinfo is not None:
        return now.astimezone(EST).replace(tzinfo=None)
    return now


def _as_dict(args: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(args, BaseModel):
        return args.model_dump()
    if isinstance(args, Mapping):
        return dict(args)
    raise InvalidInput(f"arguments must be a mapping, not {type(args).__name__}")


def _text(a: Mapping[str, Any], key: str) -> str:
    value = a.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{key} is required")
    return value.strip()


def _int(a: Mapping[str, Any], key: str, minimum: int = 0) -> int:
    value = a.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise InvalidInput(f"{key} must be a whole number")
    if value < minimum:
        raise InvalidInput(f"{key} must be at least {minimum}")
    return int(value)


def _day(value: Any, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidInput(f"{what} must be a date as YYYY-MM-DD, not {value!r}")


def _yes_no(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("yes", "no"):
        return value == "yes"
    raise InvalidInput(f"{key} must be 'yes' or 'no'")


def _choice(a: Mapping[str, Any], key: str, allowed: Iterable[str]) -> str:
    value = _text(a, key)
    options = tuple(allowed)
    if value not in options:
        raise InvalidInput(f"{key} must be one of {', '.join(options)}, not '{value}'")
    return value


def _passengers(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple) or not value:
        raise InvalidInput("passengers must be a non-empty list of {first_name, last_name, dob}")
    out = []
    for i, p in enumerate(value, 1):
        p = _as_dict(p)
        first, last = str(p.get("first_name") or "").strip(), str(p.get("last_name") or "").strip()
        if not first or not last:
            raise InvalidInput(f"passenger {i} needs a first and a last name")
        dob = _day(p.get("dob"), f"passenger {i}'s date of birth")
        if dob >= date.today() or dob.year < 1900:
            raise InvalidInput(f"passenger {i}'s date of birth {dob.isoformat()} is not plausible")
        out.append({"first_name": first, "last_name": last, "dob": dob.isoformat()})
    return out


def _flight_refs(value: Any) -> list[tuple[str, date]]:
    if not isinstance(value, list | tuple) or not value:
        raise InvalidInput("flights must be a non-empty list of {flight_number, date}")
    refs = []
    for i, f in enumerate(value, 1):
        f = _as_dict(f)
        number = str(f.get("flight_number") or "").strip().upper()
        if not number:
            raise InvalidInput(f"flight {i} needs a flight_number")
        refs.append((number, _day(f.get("date"), f"flight {number}'s date")))
    seen = [r for r, n in Counter(refs).items() if n > 1]
    if seen:
        raise InvalidInput(f"flight {seen[0][0]} on {seen[0][1].isoformat()} is listed twice")
    return refs


# ---------------------------------------------------------------- records
def user_row(s: Session, user_id: str) -> AirlineUserRow:
    row = s.get(AirlineUserRow, user_id)
    if row is None:
        raise NotFound(f"user {user_id} not found")
    return row


def _reservation(s: Session, reservation_id: str) -> AirlineReservationRow:
    row = s.get(AirlineReservationRow, reservation_id.strip().upper())
    if row is None:
        raise NotFound(f"reservation {reservation_id} not found")
    return row


def _flight(s: Session, flight_number: str) -> AirlineFlightRow:
    row = s.get(AirlineFlightRow, flight_number)
    if row is None:
        raise NotFound(f"flight {flight_number} not found")
    return row


def _clock(value: str) -> tuple[time, int]:
    """``HH:MM:SS`` or ``HH:MM:SS+1`` → (time, days later)."""
    base, _, plus = value.partition("+")
    return time.fromisoformat(base), int(plus or 0)


@dataclass(frozen=True)
class Leg:
    """One flight on one date, with its dated record (None when the airline has no record for that date)."""

    flight: AirlineFlightRow
    day: date
    instance: AirlineFlightDateRow | None

    @property
    def number(self) -> str:
        return self.flight.flight_number

    @property
    def status(self) -> str:
        return self.instance.status if self.instance is not None else "unscheduled"

    @property
    def departure(self) -> datetime:
        t, plus = _clock(self.flight.scheduled_departure_time_est)
        return datetime.combine(self.day + timedelta(days=plus), t)

    @property
    def arrival(self) -> datetime:
        t, plus = _clock(self.flight.scheduled_arrival_time_est)
        return datetime.combine(self.day + timedelta(days=plus), t)

    def flown(self, now: datetime) -> bool:
        """Taken off already (flying or landed); a cancelled flight never is."""
        if self.status in FLOWN_STATUSES:
            return True
        if self.status == "cancelled":
            return False
        times = self.instance.times if self.instance is not None else {}
        moment = times.get("actual_departure_time_est") or times.get("estimated_departure_time_est")
        return (datetime.fromisoformat(moment) if moment else self.departure) <= now

    def bookable(self, now: datetime) -> bool:
        return self.status == "available" and self.departure > now and self.instance is not None \
            and self.instance.available_seats is not None and self.instance.prices is not None

    def seats(self, cabin: str) -> int:
        return int((self.instance.available_seats or {}).get(cabin, 0)) if self.instance is not None else 0

    def price(self, cabin: str) -> int:
        prices = self.instance.prices if self.instance is not None else None
        if not prices or cabin not in prices:
            raise PolicyDenied(f"flight {self.number} on {self.day.isoformat()} has no {cabin} fare for sale")
        return int(prices[cabin])

    def label(self) -> str:
        return f"{self.number} on {self.day.isoformat()}"


def _leg(s: Session, flight_number: str, day: date) -> Leg:
    return Leg(_flight(s, flight_number), day, s.get(AirlineFlightDateRow, (flight_number, day)))


def legs_of(s: Session, r: AirlineReservationRow) -> list[Leg]:
    return [_leg(s, f["flight_number"], date.fromisoformat(f["date"])) for f in r.flights]


def _segment(leg: Leg, price: int) -> dict[str, Any]:
    return {"origin": leg.flight.origin, "destination": leg.flight.destination, "flight_number": leg.number,
            "date": leg.day.isoformat(), "price": price}


def method_label(method: Mapping[str, Any]) -> str:
    source = method.get("source")
    if source == "credit_card":
        return f"{str(method.get('brand', 'card')).title()} card ending {method.get('last_four', '????')}"
    if source == "gift_card":
        return f"gift card ({method.get('amount', 0)} left)"
    return f"travel certificate ({method.get('amount', 0)})"


# ---------------------------------------------------------------- views (τ-bench shapes)
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


# ---------------------------------------------------------------- reads
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
        raise NotFound(f"flight {leg.number} does not operate on {d.isoformat()}")
    out: dict[str, Any] = {"flight_number": leg.number, "date": d.isoformat(), "origin": leg.flight.origin,
                           "destination": leg.flight.destination, "status": leg.status,
                           "scheduled_departure_time_est": leg.flight.scheduled_departure_time_est,
                           "scheduled_arrival_time_est": leg.flight.scheduled_arrival_time_est}
    out.update(leg.instance.times or {})
    if leg.status == "available":
        out["available_seats"] = dict(leg.instance.available_seats or {})
        out["prices"] = dict(leg.instance.prices or {})
    return out


def _available(s: Session, day: date, origin: str | None = None, destination: str | None = None,
               leave_after: datetime | None = None) -> list[Leg]:
    q = (select(AirlineFlightRow, AirlineFlightDateRow)
         .join(AirlineFlightDateRow, AirlineFlightDateRow.flight_number == AirlineFlightRow.flight_number)
         .where(AirlineFlightDateRow.date == day, AirlineFlightDateRow.status == "available"))
    if origin:
        q = q.where(AirlineFlightRow.origin == origin)
    if destination:
        q = q.where(AirlineFlightRow.destination == destination)
    legs = [Leg(f, day, fd) for f, fd in s.execute(q.order_by(AirlineFlightRow.flight_number)).all()]
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


def free_bag_allowance(membership: str, cabin: str, passengers: int) -> int:
    """Free checked bags for a reservation: per passenger, by the booking member's level and the cabin."""
    return FREE_BAGS[membership][cabin] * passengers


def is_flown(s: Session, reservation_id: str, now: datetime) -> bool:
    """True when any flight of the reservation has taken off."""
    clock = airline_now(now)
    return any(leg.flown(clock) for leg in legs_of(s, _reservation(s, reservation_id)))


# ---------------------------------------------------------------- loading τ-bench data
def load_tau(session: Session, folder: Path) -> dict[str, int]:
    """Replaces the airline's records with τ-bench airline's users.json, reservations.json and flights.json from
    ``folder`` (read only; bulk inserts). Returns how many rows of each were loaded."""
    folder = Path(folder)
    try:
        users = json.loads((folder / "users.json").read_text(encoding="utf-8"))
        reservations = json.loads((folder / "reservations.json").read_text(encoding="utf-8"))
        flights = json.loads((folder / "flights.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFound(f"τ-bench airline data missing: {exc.filename}") from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"τ-bench airline data is not valid JSON: {exc}") from exc
    for table in ALL_TABLES:
        session.execute(delete(table))
    user_rows = [{"user_id": uid, "first_name": u["name"]["first_name"], "last_name": u["name"]["last_name"],
                  "email": u["email"], "dob": u["dob"], "membership": u["membership"], "address": u["address"],
                  "payment_methods": u["payment_methods"], "saved_passengers": u.get("saved_passengers", []),
                  "reservation_ids": u.get("reservations", [])} for uid, u in users.items()]
    flight_rows, date_rows = [], []
    for number, f in flights.items():
        flight_rows.append({"flight_number": number, "origin": f["origin"], "destination": f["destination"],
                            "scheduled_departure_time_est": f["scheduled_departure_time_est"],
                            "scheduled_arrival_time_est": f["scheduled_arrival_time_est"]})
        for day, d in f["dates"].items():
            date_rows.append({"flight_number": number, "date": date.fromisoformat(day), "status": d["status"],
                              "available_seats": d.get("available_seats"), "prices": d.get("prices"),
                              "times": {k: v for k, v in d.items() if k.endswith("_time_est")}})
    res_rows = [{"reservation_id": rid, "user_id": r["user_id"], "origin": r["origin"],
                 "destination": r["destination"], "flight_type": r["flight_type"], "cabin": r["cabin"],
                 "flights": r["flights"], "passengers": r["passengers"], "payment_history": r["payment_history"],
                 "created_at": datetime.fromisoformat(r["created_at"]), "total_baggages": r["total_baggages"],
                 "nonfree_baggages": r["nonfree_baggages"], "insurance": r["insurance"] == "yes",
                 "status": r.get("status"), "history": []} for rid, r in reservations.items()]
    for model, rows in ((AirlineUserRow, user_rows), (AirlineFlightRow, flight_rows),
                        (AirlineFlightDateRow, date_rows), (AirlineReservationRow, res_rows)):
        if rows:
            session.execute(insert(model), rows)
    session.flush()
    return {"users": len(user_rows), "reservations": len(res_rows), "flights": len(flight_rows),
            "flight_dates": len(date_rows)}


# ---------------------------------------------------------------- shared rule checks
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


def money(value: float) -> int | float:
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


def _apply_change_payment(s: Session, u: AirlineUserRow, r: AirlineReservationRow, payment_id: str,
                          amount: int) -> None:
    """Records the charge (positive) or refund (negative) on the reservation; a gift card's balance moves at once."""
    if amount == 0:
        return
    methods = copy.deepcopy(u.payment_methods)
    if methods[payment_id]["source"] == "gift_card":
        methods[payment_id]["amount"] = money(methods[payment_id]["amount"] - amount)
        u.payment_methods = methods
    r.payment_history = [*copy.deepcopy(r.payment_history), {"payment_id": payment_id, "amount": amount}]


def _move_seats(s: Session, moves: list[dict[str, Any]]) -> None:
    """Applies seat moves ``{flight_number, date, cabin, seats}`` (positive: seats given back)."""
    for m in moves:
        inst = s.get(AirlineFlightDateRow, (m["flight_number"], date.fromisoformat(m["date"])))
        if inst is None or inst.available_seats is None:
            continue
        seats = dict(inst.available_seats)
        seats[m["cabin"]] = int(seats.get(m["cabin"], 0)) + int(m["seats"])
        inst.available_seats = seats


def _history(r: AirlineReservationRow, now: datetime, action: str, **details: Any) -> None:
    r.history = [*copy.deepcopy(r.history or []), {"at": now.isoformat(timespec="seconds"), "action": action,
                                                   **details}]


# ---------------------------------------------------------------- cancel_reservation
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
    if not r.insurance:
        cover = "no travel insurance"
    elif reason is None:
        cover = "travel insurance only covers health or weather reasons and no reason was given"
    else:
        cover = f"travel insurance does not cover '{reason.replace('_', ' ')}' (only health or weather)"
    raise PolicyDenied(f"reservation {r.reservation_id} cannot be cancelled: booked {hours} hours ago (over 24), "
                       f"no flight cancelled by the airline, {r.cabin.replace('_', ' ')} cabin, {cover}")


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
    if flown:
        raise PolicyDenied(f"reservation {r.reservation_id} cannot be cancelled: flight {flown[0].label()} has "
                           "already been flown (a human agent has to handle it)")
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


# ---------------------------------------------------------------- update_reservation_flights
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
        raise PolicyDenied(f"the number of passengers cannot change: reservation {r.reservation_id} has "
                           f"{len(r.passengers)}, {len(passengers)} given")
    flown = [leg for leg in legs_of(s, r) if leg.flown(airline_now(now))]
    if flown:
        raise PolicyDenied(f"passengers cannot be changed once travel has started: flight {flown[0].label()} has "
                           "already been flown")
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


# ---------------------------------------------------------------- book_reservation
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
    payments = a.get("payment_methods")
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


# ---------------------------------------------------------------- send_certificate
def _next_certificate_id(s: Session, u: AirlineUserRow) -> str:
    issued = set(s.scalars(select(AirlineCompensationRow.certificate_id)
                           .where(AirlineCompensationRow.user_id == u.user_id)))
    number = _FIRST_CERTIFICATE_NUMBER
    while f"certificate_{number}" in u.payment_methods or f"certificate_{number}" in issued:
        number += 1
    return f"certificate_{number}"


def _legs_ever(s: Session, r: AirlineReservationRow) -> list[Leg]:
    """The reservation's flights now and every flight a change replaced."""
    seen: dict[tuple[str, str], Leg] = {}
    for flights in [r.flights] + [h.get("before", {}).get("flights", []) for h in r.history or []]:
        for f in flights:
            key = (f["flight_number"], f["date"])
            if key not in seen:
                seen[key] = _leg(s, f["flight_number"], date.fromisoformat(f["date"]))
    return list(seen.values())


def preview_send_certificate(s: Session, args: Mapping[str, Any] | BaseModel, now: datetime) -> dict[str, Any]:
    """Whether a compensation certificate may be sent for the member's complaint, and for how much."""
    a = _as_dict(args)
    u = user_row(s, _text(a, "user_id"))
    r = _reservation(s, _text(a, "reservation_id"))
    complaint = _choice(a, "complaint", tuple(COMPENSATION_PER_PASSENGER))
    amount = _int(a, "amount", minimum=1)
    if r.user_id != u.user_id:
        raise PolicyDenied(f"reservation {r.reservation_id} does not belong to {u.user_id}")
    eligible = []
    if u.membership in ("silver", "gold"):
        eligible.append(f"{u.membership} member")
    if r.insurance:
        eligible.append("travel insurance")
    if r.cabin == "business":
        eligible.append("business cabin")
    if not eligible:
        raise PolicyDenied(f"no compensation: {u.user_id} is a regular member without travel insurance flying "
                           f"{r.cabin.replace('_', ' ')}")
    legs = _legs_ever(s, r)
    if complaint == "cancelled_flight":
        hit = [leg for leg in legs if leg.status == "cancelled"]
        if not hit:
            raise PolicyDenied(f"no compensation: no flight of reservation {r.reservation_id} was cancelled")
    else:
        hit = [leg for leg in legs if leg.status == "delayed"]
        if not hit:
            raise PolicyDenied(f"no compensation: no flight of reservation {r.reservation_id} is delayed")
        changed = r.status == "cancelled" or any(h.get("action") == "update_flights" for h in r.history or [])
        if not changed:
            raise PolicyDenied("a delay is compensated only after the reservation has been changed or cancelled at "
                               f"the member's request; reservation {r.reservation_id} is unchanged")
    per = COMPENSATION_PER_PASSENGER[complaint]
    due = per * len(r.passengers)
    if amount != due:
        raise PolicyDenied(f"the certificate for a {complaint.replace('_', ' ')} is {per} per passenger: {due} for "
                           f"the {len(r.passengers)} passenger(s) of {r.reservation_id}, not {amount}")
    done = s.scalars(select(AirlineCompensationRow)
                     .where(AirlineCompensationRow.reservation_id == r.reservation_id)).first()
    if done is not None:
        raise PolicyDenied(f"reservation {r.reservation_id} was already compensated ({done.certificate_id}, "
                           f"{done.amount} on {done.issued_at:%Y-%m-%d})")
    return {"action": "send_certificate", "user_id": u.user_id, "reservation_id": r.reservation_id,
            "complaint": complaint, "flight": hit[0].label(), "basis": eligible, "passengers": len(r.passengers),
            "amount": due, "certificate_id": _next_certificate_id(s, u)}


def send_certificate(s: Session, args: Mapping[str, Any] | BaseModel, now: datetime) -> dict[str, Any]:
    """Adds the travel certificate to the member's payment methods as previewed and records the compensation."""
    plan = preview_send_certificate(s, args, now)
    u = user_row(s, plan["user_id"])
    cid = plan["certificate_id"]
    u.payment_methods = {**copy.deepcopy(u.payment_methods),
                         cid: {"source": "certificate", "amount": plan["amount"], "id": cid}}
    s.add(AirlineCompensationRow(certificate_id=cid, user_id=u.user_id, reservation_id=plan["reservation_id"],
                                 complaint=plan["complaint"], amount=plan["amount"], issued_at=airline_now(now)))
    s.flush()
    return {**plan, "message": f"Certificate {cid} added to user {u.user_id} with amount {plan['amount']}."}


# ---------------------------------------------------------------- money at stake
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
