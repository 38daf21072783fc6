"""The demo airline's world: members, a route network with daily flights and reservations, seeded around a given
day, as the engine's ``demo`` command builds it.

Every reservation is made through ``backend.book_reservation`` at its booking time, so seats, prices, bag
allowances and payment balances obey the same rules the actions enforce; flight statuses (landed, flying, delayed,
cancelled) are settled afterwards, as time would have settled them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from faker import Faker
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cx_core.errors import TandemError
from cx_core.store.db import Database
from domains.airline import backend
from domains.airline.tables import (
    ALL_TABLES,
    AirlineFlightDateRow,
    AirlineFlightRow,
    AirlineReservationRow,
    AirlineUserRow,
)

HUBS = ("ORD", "DFW", "ATL", "DEN")
SPOKES = ("SFO", "JFK", "LAX", "SEA", "MIA", "BOS", "PHX", "IAH", "LAS", "MCO", "EWR", "CLT", "MSP", "DTW", "PHL",
          "LGA")
DAYS_AROUND = 30
BUILD_HOUR = 12  # the world is settled as of noon on ``today``
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass
class _Plan:
    """One reservation to make: who, when booked, which trip, and what to settle afterwards."""

    kind: str
    membership: str | None
    cabin: str
    insurance: bool
    start: date
    round_trip: bool
    booked_at: datetime | None = None  # None: a few days to weeks before the trip
    mark: str | None = None  # "cancel_future", "cancel_past" or "delay_today": the status forced on its first flight


def build_world(db: Database, seed: int, today: date, users: int = 40, flights: int = 60, reservations: int = 80,
                customers: int | None = None, orders: int | None = None) -> dict[str, int]:
    """Replaces the airline's records with the seeded world around ``today`` (``customers`` and ``orders`` are
    read as members and reservations, the engine's generic sizes)."""
    db.migrate()
    with db.tx() as s:
        return build_demo(s, seed, today=today, users=customers or users, flights=flights,
                          reservations=orders or reservations)


def build_demo(s: Session, seed: int = 7, *, today: date | None = None, users: int = 40, flights: int = 60,
               reservations: int = 80) -> dict[str, int]:
    """Replaces the airline's records with a seeded world around ``today`` (±30 days): members of every level,
    a route network with daily flights, and reservations in every cabin, some booked within the last day, some
    insured, some already flown, some touched by delays and cancellations. Same seed and day, same world."""
    today = today or date.today()
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    for table in ALL_TABLES:
        s.execute(delete(table))
    now = datetime.combine(today, time(BUILD_HOUR))
    people = _users(s, rng, fake, users, today)
    network = _flights(s, rng, today, flights)
    s.flush()
    plans = _plans(rng, today, now, reservations)
    made = 0
    marks: list[tuple[str, str, date]] = []
    for plan in sorted(plans, key=lambda p: (p.booked_at or datetime.combine(p.start, time()), p.kind)):
        r = _book(s, rng, fake, people, network, plan, now)
        if r is None:
            continue
        made += 1
        if plan.mark:
            first = r.flights[0] if plan.mark != "delay_today" else next(
                (f for f in r.flights if f["date"] == today.isoformat()), r.flights[0])
            marks.append((plan.mark, first["flight_number"], date.fromisoformat(first["date"])))
    _settle(s, rng, today, now, marks)
    _cancel_some(s, rng, now)
    s.flush()
    return {"users": len(people), "flights": len(network),
            "flight_dates": len(s.scalars(select(AirlineFlightDateRow.flight_number)).all()), "reservations": made}


# ---------------------------------------------------------------- members
def _born(fake: Faker, today: date, youngest: int, oldest: int) -> str:
    """A date of birth as ``Faker.date_of_birth`` draws it, counted back from the world's day rather than the
    machine's clock (a world built for a past day has the same people)."""
    from faker.providers.date_time import change_year

    start, end = change_year(today, -(oldest + 1)), change_year(today, -youngest)
    dob = fake.date_time_ad(start_datetime=start, end_datetime=end).date()
    return (dob if dob != start else dob + timedelta(days=1)).isoformat()


def _users(s: Session, rng: random.Random, fake: Faker, n: int, today: date) -> list[AirlineUserRow]:
    people: list[AirlineUserRow] = []
    levels = ["gold", "silver", "regular"]
    taken: set[str] = set()
    for i in range(n):
        first, last = fake.first_name(), fake.last_name()
        uid = f"{first}_{last}_{rng.randint(1000, 9999)}".lower().replace("'", "").replace(" ", "")
        if uid in taken:
            uid = f"{uid}{i}"
        taken.add(uid)
        methods: dict[str, dict[str, Any]] = {}
        for _ in range(rng.choice([1, 1, 2])):
            pid = f"credit_card_{rng.randint(1000000, 9999999)}"
            methods[pid] = {"source": "credit_card", "brand": rng.choice(["visa", "mastercard"]),
                            "last_four": f"{rng.randint(0, 9999):04d}", "id": pid}
        for _ in range(rng.choice([0, 1, 1, 2])):
            pid = f"gift_card_{rng.randint(1000000, 9999999)}"
            methods[pid] = {"source": "gift_card", "amount": rng.choice([50, 100, 150, 200, 250, 300, 400]),
                            "id": pid}
        for _ in range(rng.choice([0, 0, 1, 2])):
            pid = f"certificate_{rng.randint(1000000, 9999999)}"
            methods[pid] = {"source": "certificate", "amount": rng.choice([100, 150, 250, 500]), "id": pid}
        address = {"address1": fake.street_address(), "address2": rng.choice(["", f"Apt {rng.randint(1, 40)}"]),
                   "city": fake.city(), "country": "USA", "state": fake.state_abbr(), "zip": fake.zipcode()}
        saved = [{"first_name": fake.first_name(), "last_name": rng.choice([last, fake.last_name()]),
                  "dob": _born(fake, today, 2, 85)}
                 for _ in range(rng.choice([0, 1, 2]))]
        u = AirlineUserRow(user_id=uid, first_name=first, last_name=last,
                           email=f"{first}.{last}{rng.randint(10, 9999)}@example.com".lower().replace(" ", ""),
                           dob=_born(fake, today, 20, 80),
                           membership=levels[i % 3], address=address, payment_methods=methods,
                           saved_passengers=saved, reservation_ids=[])
        s.add(u)
        people.append(u)
    return people


# ---------------------------------------------------------------- flights
def _flights(s: Session, rng: random.Random, today: date, n: int) -> list[AirlineFlightRow]:
    pairs: list[tuple[str, str]] = [(a, b) for i, a in enumerate(HUBS) for b in HUBS[i + 1:]]
    for spoke in SPOKES:
        pairs.append((spoke, HUBS[SPOKES.index(spoke) % len(HUBS)]))
    extra = [(a, b) for a in SPOKES for b in SPOKES if a < b]
    rng.shuffle(extra)
    while len(pairs) * 2 < n:
        pairs.append(extra.pop())
    rows: list[AirlineFlightRow] = []
    dated: list[AirlineFlightDateRow] = []
    number = 1
    for a, b in pairs:
        minutes = rng.choice(range(70, 330, 10))
        fares = {"basic_economy": rng.randint(45, 95), "economy": rng.randint(100, 200),
                 "business": rng.randint(250, 650)}
        for origin, destination in ((a, b), (b, a)):
            if len(rows) >= n:
                break
            dep = time(rng.randint(5, 21), rng.choice([0, 30]))
            arr_dt = datetime.combine(today, dep) + timedelta(minutes=minutes)
            plus = "+1" if arr_dt.date() > today else ""
            f = AirlineFlightRow(flight_number=f"HAT{number:03d}", origin=origin, destination=destination,
                                 scheduled_departure_time_est=dep.strftime("%H:%M:%S"),
                                 scheduled_arrival_time_est=arr_dt.strftime("%H:%M:%S") + plus)
            number += 1
            s.add(f)
            rows.append(f)
            for offset in range(-DAYS_AROUND, DAYS_AROUND + 1):
                day = today + timedelta(days=offset)
                dated.append(AirlineFlightDateRow(
                    flight_number=f.flight_number, date=day, status="available",
                    available_seats={"basic_economy": rng.randint(8, 20), "economy": rng.randint(8, 20),
                                     "business": rng.randint(4, 12)},
                    prices={c: max(30, int(p * rng.uniform(0.8, 1.3))) for c, p in fares.items()}, times={}))
    s.flush()  # the flights exist before their dated instances (foreign keys are enforced)
    s.add_all(dated)
    return rows


# ---------------------------------------------------------------- reservations
def _plans(rng: random.Random, today: date, now: datetime, n: int) -> list[_Plan]:
    def ahead(lo: int, hi: int) -> date:
        return today + timedelta(days=rng.randint(lo, hi))

    plans = [
        _Plan("basic_recent", None, "basic_economy", False, ahead(4, 20), False, now - timedelta(hours=5)),
        _Plan("basic_recent", None, "basic_economy", False, ahead(4, 20), True, now - timedelta(hours=20)),
        _Plan("basic_3_days", "regular", "basic_economy", False, ahead(5, 20), False, now - timedelta(days=3)),
        _Plan("basic_3_days", "silver", "basic_economy", False, ahead(5, 20), True, now - timedelta(days=3)),
        _Plan("basic_3_days", "gold", "basic_economy", False, ahead(5, 20), False, now - timedelta(days=4)),
        _Plan("business_old", None, "business", False, ahead(3, 25), True, now - timedelta(days=10)),
        _Plan("business_old", None, "business", False, ahead(3, 25), False, now - timedelta(days=12)),
        _Plan("insured_old", None, "economy", True, ahead(3, 25), True, now - timedelta(days=8)),
        _Plan("insured_old", None, "basic_economy", True, ahead(3, 25), False, now - timedelta(days=6)),
        _Plan("economy_old", "regular", "economy", False, ahead(3, 25), False, now - timedelta(days=6)),
        _Plan("economy_old", "silver", "economy", False, ahead(3, 25), True, now - timedelta(days=9)),
        _Plan("airline_cancelled_future", "silver", "economy", False, ahead(2, 12), False,
              now - timedelta(days=7), "cancel_future"),
        _Plan("airline_cancelled_future", "regular", "basic_economy", False, ahead(2, 12), False,
              now - timedelta(days=9), "cancel_future"),
        _Plan("flown", None, "economy", False, today - timedelta(days=rng.randint(5, 25)), False),
        _Plan("flown", None, "business", True, today - timedelta(days=rng.randint(5, 25)), True),
        _Plan("partly_flown", None, "economy", False, today - timedelta(days=2), True),
        _Plan("partly_flown", None, "basic_economy", False, today - timedelta(days=3), True),
        _Plan("delayed_today", "gold", "economy", False, today, False, now - timedelta(days=6), "delay_today"),
        _Plan("delayed_today", "silver", "basic_economy", False, today, False, now - timedelta(days=5),
              "delay_today"),
        _Plan("delayed_today", "regular", "economy", False, today, False, now - timedelta(days=8), "delay_today"),
        _Plan("cancelled_past", "gold", "economy", False, today - timedelta(days=rng.randint(2, 10)), False,
              None, "cancel_past"),
        _Plan("cancelled_past", "regular", "economy", False, today - timedelta(days=rng.randint(2, 10)), False,
              None, "cancel_past"),
        _Plan("cancelled_past", "regular", "business", False, today - timedelta(days=rng.randint(2, 10)), False,
              None, "cancel_past"),
    ]
    cabins = ["basic_economy", "economy", "economy", "business"]
    while len(plans) < n:
        start = today + timedelta(days=rng.randint(-DAYS_AROUND + 5, DAYS_AROUND - 8))
        booked = None
        if start > today and rng.random() < 0.12:
            booked = now - timedelta(hours=rng.randint(1, 22))
        plans.append(_Plan("random", None, rng.choice(cabins), rng.random() < 0.35, start, rng.random() < 0.45,
                           booked))
    return plans


def _legs_between(s: Session, network: list[AirlineFlightRow], origin: str, destination: str, day: date,
                  after: datetime | None, booked_at: datetime, cabin: str, pax: int) -> list[backend.Leg] | None:
    """A direct flight, or two with a connection of at least 45 minutes, leaving on ``day``."""
    def legs_from(a: str, b: str | None, d: date, not_before: datetime | None) -> list[backend.Leg]:
        out = []
        for f in network:
            if f.origin == a and (b is None or f.destination == b):
                leg = backend.Leg(f, d, s.get(AirlineFlightDateRow, (f.flight_number, d)))
                if leg.bookable(booked_at) and leg.seats(cabin) >= pax and (
                        not_before is None or leg.departure >= not_before):
                    out.append(leg)
        return out

    direct = legs_from(origin, destination, day, after)
    if direct:
        return [direct[0]]
    for first in legs_from(origin, None, day, after):
        onward = legs_from(first.flight.destination, destination, first.arrival.date(),
                           first.arrival + timedelta(minutes=45))
        if onward:
            return [first, onward[0]]
    return None


def _book(s: Session, rng: random.Random, fake: Faker, people: list[AirlineUserRow],
          network: list[AirlineFlightRow], plan: _Plan, now: datetime) -> AirlineReservationRow | None:
    pool = [u for u in people if plan.membership in (None, u.membership)]
    for _attempt in range(40):
        u = rng.choice(pool)
        trip = rng.choice(network)
        origin = trip.origin
        destination = trip.destination if rng.random() < 0.6 else rng.choice(
            [f.destination for f in network if f.origin == trip.destination and f.destination != origin] or
            [trip.destination])
        pax = rng.choice([1, 1, 1, 2, 2, 3, 4])
        booked_at = plan.booked_at or min(
            datetime.combine(plan.start, time(rng.randint(6, 22), rng.randint(0, 59)))
            - timedelta(days=rng.randint(3, 25)), now - timedelta(hours=rng.randint(30, 24 * 14)))
        start = plan.start
        if plan.mark == "delay_today":  # a flight later today, so it can still be delayed
            out = _legs_between(s, network, origin, destination, start,
                                datetime.combine(start, time(BUILD_HOUR + 1)), booked_at, plan.cabin, pax)
        else:
            out = _legs_between(s, network, origin, destination, start, None, booked_at, plan.cabin, pax)
        if not out:
            continue
        legs = list(out)
        if plan.round_trip:
            back_day = start + timedelta(days=rng.randint(2, 6))
            if plan.kind == "partly_flown":
                back_day = now.date() + timedelta(days=rng.randint(2, 6))
            back = _legs_between(s, network, destination, origin, back_day, legs[-1].arrival, booked_at,
                                 plan.cabin, pax)
            if not back:
                continue
            legs += back
        passengers = [{"first_name": u.first_name, "last_name": u.last_name, "dob": u.dob}]
        for p in (u.saved_passengers + [{"first_name": fake.first_name(), "last_name": u.last_name,
                                          "dob": _born(fake, now.date(), 3, 80)}
                                         for _ in range(4)])[:pax - 1]:
            passengers.append(dict(p))
        free = backend.free_bag_allowance(u.membership, plan.cabin, pax)
        total_bags = rng.randint(0, free + 1) if plan.cabin != "basic_economy" else rng.randint(0, max(free, 1))
        nonfree = max(total_bags - free, 0)
        fares = sum(leg.price(plan.cabin) for leg in legs) * pax
        total = fares + (backend.INSURANCE_FEE * pax if plan.insurance else 0) + backend.BAG_FEE * nonfree
        args = {"user_id": u.user_id, "origin": origin, "destination": destination,
                "flight_type": "round_trip" if plan.round_trip else "one_way", "cabin": plan.cabin,
                "flights": [{"flight_number": leg.number, "date": leg.day.isoformat()} for leg in legs],
                "passengers": passengers, "payment_methods": _pay(rng, u, total), "total_baggages": total_bags,
                "nonfree_baggages": nonfree, "insurance": "yes" if plan.insurance else "no"}
        try:
            made = backend.book_reservation(s, args, booked_at)
        except TandemError:
            continue
        r = s.get(AirlineReservationRow, made["reservation_id"])
        assert r is not None
        code = _code(s, rng)
        s.expunge(r)
        s.execute(update(AirlineReservationRow).where(AirlineReservationRow.reservation_id == r.reservation_id)
                  .values(reservation_id=code))
        u.reservation_ids = [code if x == r.reservation_id else x for x in u.reservation_ids]
        s.flush()
        return s.get(AirlineReservationRow, code)
    return None


def _pay(rng: random.Random, u: AirlineUserRow, total: int) -> list[dict[str, Any]]:
    """Saved methods covering ``total``: sometimes a certificate or a gift card first, a credit card for the rest."""
    methods = list(u.payment_methods.values())
    card = next(m for m in methods if m["source"] == "credit_card")
    out, left = [], total
    for source in ("certificate", "gift_card"):
        pick = [m for m in methods if m["source"] == source and m.get("amount", 0) > 0]
        if pick and rng.random() < 0.4 and left > 1:
            m = rng.choice(pick)
            amount = min(int(m["amount"]), left - 1)
            out.append({"payment_id": m["id"], "amount": amount})
            left -= amount
    out.append({"payment_id": card["id"], "amount": left})
    return out


def _code(s: Session, rng: random.Random) -> str:
    while True:
        code = "".join(rng.choice(_ID_CHARS) for _ in range(6))
        if not code.startswith("HAT") and s.get(AirlineReservationRow, code) is None:
            return code


# ---------------------------------------------------------------- time passes
def _settle(s: Session, rng: random.Random, today: date, now: datetime, marks: list[tuple[str, str, date]]) -> None:
    """Gives every flight that has left by ``now`` its outcome (landed, flying, cancelled), later flights today a
    live status (on time, delayed, cancelled), a few future flights a cancellation, then the forced ones."""
    flights = {f.flight_number: f for f in s.scalars(select(AirlineFlightRow))}
    forced = {(n, d): m for m, n, d in marks}
    for inst in s.scalars(select(AirlineFlightDateRow).order_by(AirlineFlightDateRow.flight_number,
                                                                AirlineFlightDateRow.date)):
        leg = backend.Leg(flights[inst.flight_number], inst.date, inst)
        dep, arr = leg.departure, leg.arrival
        mark = forced.get((inst.flight_number, inst.date))
        roll = rng.random()
        if mark in ("cancel_future", "cancel_past") or (mark is None and dep <= now and roll < 0.05) or (
                mark is None and dep > now and inst.date > today + timedelta(days=1) and roll < 0.02):
            _status(inst, "cancelled", {})
        elif mark == "delay_today" or (mark is None and inst.date == today and dep > now and roll < 0.15):
            delay = timedelta(minutes=rng.choice(range(60, 300, 15)))
            _status(inst, "delayed", {"estimated_departure_time_est": _iso(dep + delay),
                                      "estimated_arrival_time_est": _iso(arr + delay)})
        elif dep > now and inst.date == today:
            _status(inst, "on time", {"estimated_departure_time_est": _iso(dep),
                                      "estimated_arrival_time_est": _iso(arr)})
        elif dep <= now:
            took_off = dep + timedelta(minutes=rng.randint(-10, 35))
            landed = arr + (took_off - dep) + timedelta(minutes=rng.randint(-15, 15))
            if landed > now:
                _status(inst, "flying", {"actual_departure_time_est": _iso(took_off),
                                         "estimated_arrival_time_est": _iso(landed)})
            else:
                _status(inst, "landed", {"actual_departure_time_est": _iso(took_off),
                                         "actual_arrival_time_est": _iso(landed)})


def _status(inst: AirlineFlightDateRow, status: str, times: dict[str, str]) -> None:
    inst.status = status
    inst.times = times
    inst.available_seats = None
    inst.prices = None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _cancel_some(s: Session, rng: random.Random, now: datetime) -> None:
    """A few members cancelled within a day of booking (allowed), so some reservations show as cancelled."""
    rows = [r for r in s.scalars(select(AirlineReservationRow).order_by(AirlineReservationRow.reservation_id))
            if r.cabin != "basic_economy" and r.created_at < now - timedelta(days=2)]
    for r in rng.sample(rows, min(3, len(rows))):
        try:
            backend.cancel_reservation(s, {"reservation_id": r.reservation_id, "reason": "change_of_plan"},
                                       r.created_at + timedelta(hours=2))
        except TandemError:
            continue
