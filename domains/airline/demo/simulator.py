"""The live simulator: customer messages about the demo airline's real records, spread over every task type, each
with what the policy would do about it; and the engine's ``Simulator`` that turns them into new tickets."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cx_core.errors import PolicyDenied, TandemError
from cx_core.models import Channel, TicketIn
from cx_core.store.db import Database
from domains.airline import backend
from domains.airline.demo.world import BUILD_HOUR
from domains.airline.tables import AirlineFlightRow, AirlineReservationRow, AirlineUserRow

CANCEL_TEXTS = {
    "change_of_plan": ["My plans have changed and I no longer need this trip.",
                       "Our conference got moved, so we won't be travelling."],
    "health": ["I've been ill since the weekend and my doctor says I shouldn't fly.",
               "I had surgery last week and can't travel."],
    "weather": ["There's a hurricane warning at my destination and I don't want to fly into it."],
    "airline_cancelled": ["You cancelled one of my flights, so the whole trip doesn't work any more."],
}


def _when(d: str) -> str:
    day = date.fromisoformat(d)
    return f"{day:%B} {day.day}"


def demo_tickets(s: Session, n: int, seed: int, now: datetime | None = None, start: int = 0) -> list[dict[str, Any]]:
    """``n`` customer messages about real demo records, spread over every task type, each with the records it names
    and what the policy would do (``expected``: allowed, refused or info; ``why``); the task types take turns from
    the ``start``-th. Same world, seed, ``now`` and ``start``, same tickets."""
    rng = random.Random(seed)
    clock = backend.airline_now(now or datetime.combine(date.today(), time(BUILD_HOUR)))
    users = {u.user_id: u for u in s.scalars(select(AirlineUserRow).order_by(AirlineUserRow.user_id))}
    rows = list(s.scalars(select(AirlineReservationRow).order_by(AirlineReservationRow.reservation_id)))
    active = [r for r in rows if r.status != "cancelled"]
    makers = [_cancel_ticket, _change_flight_ticket, _change_cabin_ticket, _bags_ticket, _passenger_ticket,
              _booking_ticket, _compensation_ticket, _status_ticket, _flight_status_ticket]
    out: list[dict[str, Any]] = []
    attempts = 0
    while len(out) < n and attempts < n * 20:
        attempts += 1
        maker = makers[(len(out) + start) % len(makers)]
        ticket = maker(s, rng, clock, users, active)
        if ticket is None:
            continue
        u = users[ticket["user_id"]]
        ticket.update({"id": f"AIR-{seed}-{len(out) + 1:04d}", "customer": u.email,
                       "channel": rng.choice(["email", "email", "chat", "social"]),
                       "created_at": clock.isoformat(timespec="seconds")})
        greeting = rng.choice(["Hi,", "Hello,", "Good morning,", ""])
        sign = rng.choice([f"\n\nThanks,\n{u.first_name}", f"\n\n{u.first_name} {u.last_name}", ""])
        ticket["body"] = (greeting + "\n\n" if greeting else "") + ticket["body"] + sign
        out.append(ticket)
    return out


def _outcome(fn: Any, s: Session, args: dict[str, Any], clock: datetime) -> tuple[str, str]:
    try:
        plan = fn(s, args, clock)
    except PolicyDenied as exc:
        return "refused", str(exc)
    except TandemError as exc:
        return "refused", str(exc)
    return "allowed", "; ".join(plan.get("basis") or []) or "within policy"


def _unflown(s: Session, r: AirlineReservationRow, clock: datetime) -> bool:
    return not any(leg.flown(clock) for leg in backend.legs_of(s, r))


def _ticket(task: str, r: AirlineReservationRow | None, user_id: str, subject: str, body: str,
            outcome: tuple[str, str], **refs: Any) -> dict[str, Any]:
    return {"task_type": task, "user_id": user_id, "reservation_id": r.reservation_id if r else None,
            "subject": subject, "body": body, "expected": outcome[0], "why": outcome[1], **refs}


def _cancel_ticket(s: Session, rng: random.Random, clock: datetime, users: dict[str, AirlineUserRow],
                   active: list[AirlineReservationRow]) -> dict[str, Any] | None:
    # most people cancel a trip still ahead of them; now and then one asks about a trip already taken
    ahead = [x for x in active if _unflown(s, x, clock)]
    r = rng.choice(active if rng.random() < 0.2 or not ahead else ahead)
    reason = rng.choice(list(CANCEL_TEXTS))
    if reason == "airline_cancelled" and not any(leg.status == "cancelled" for leg in backend.legs_of(s, r)):
        reason = "change_of_plan"
    args = {"reservation_id": r.reservation_id, "reason": reason}
    outcome = _outcome(backend.preview_cancel_reservation, s, args, clock)
    body = (f"Please cancel reservation {r.reservation_id} ({r.origin} to {r.destination} on "
            f"{_when(r.flights[0]['date'])}). {rng.choice(CANCEL_TEXTS[reason])} I'd like a refund.")
    return _ticket("cancel_booking", r, r.user_id, f"Cancel booking {r.reservation_id}", body, outcome,
                   reason=reason)


def _change_flight_ticket(s: Session, rng: random.Random, clock: datetime, users: dict[str, AirlineUserRow],
                          active: list[AirlineReservationRow]) -> dict[str, Any] | None:
    # a move asked of a trip still ahead (a flight we cancelled, its day gone, is no longer to be moved)
    r = rng.choice([x for x in active if x.flight_type == "one_way" and _unflown(s, x, clock)
                    and date.fromisoformat(x.flights[0]["date"]) > clock.date()] or active)
    first = r.flights[0]
    new_day = date.fromisoformat(first["date"]) + timedelta(days=1)
    options = backend.search_direct(s, r.origin, r.destination, new_day)
    u = users[r.user_id]
    card = next(m["id"] for m in u.payment_methods.values() if m["source"] == "credit_card")
    if options and r.flight_type == "one_way":
        pick = options[0]
        args = {"reservation_id": r.reservation_id, "cabin": r.cabin, "payment_id": card,
                "flights": [{"flight_number": pick["flight_number"], "date": new_day.isoformat()}]}
        outcome = _outcome(backend.preview_update_reservation_flights, s, args, clock)
        refs: dict[str, Any] = {"flight_number": pick["flight_number"], "new_date": new_day.isoformat()}
    else:
        outcome, refs = ("refused", "no direct flight for sale the day after"), {"new_date": new_day.isoformat()}
    body = (f"Could I move my {r.origin}-{r.destination} flight on {_when(first['date'])} to the next day, "
            f"{_when(new_day.isoformat())}? Booking reference {r.reservation_id}. Please use my card on file for "
            "any difference.")
    return _ticket("change_flight", r, r.user_id, f"Change flight {r.reservation_id}", body, outcome, **refs)


def _change_cabin_ticket(s: Session, rng: random.Random, clock: datetime, users: dict[str, AirlineUserRow],
                         active: list[AirlineReservationRow]) -> dict[str, Any] | None:
    r = rng.choice([x for x in active if x.cabin != "business"] or active)
    target = "business" if r.cabin != "business" else "economy"
    u = users[r.user_id]
    card = next(m["id"] for m in u.payment_methods.values() if m["source"] == "credit_card")
    args = {"reservation_id": r.reservation_id, "cabin": target, "payment_id": card,
            "flights": [{"flight_number": f["flight_number"], "date": f["date"]} for f in r.flights]}
    outcome = _outcome(backend.preview_update_reservation_flights, s, args, clock)
    body = (f"I'd like to upgrade everyone on {r.reservation_id} to {target.replace('_', ' ')}, same flights. "
            "What would it cost?")
    return _ticket("change_cabin", r, r.user_id, "Upgrade request", body, outcome, cabin=target)


def _bags_ticket(s: Session, rng: random.Random, clock: datetime, users: dict[str, AirlineUserRow],
                 active: list[AirlineReservationRow]) -> dict[str, Any] | None:
    r = rng.choice(active)
    u = users[r.user_id]
    extra = rng.choice([1, 2])
    total = r.total_baggages + extra
    free = backend.free_bag_allowance(u.membership, r.cabin, len(r.passengers))
    card = next(m["id"] for m in u.payment_methods.values() if m["source"] == "credit_card")
    args = {"reservation_id": r.reservation_id, "total_baggages": total, "payment_id": card,
            "nonfree_baggages": max(r.nonfree_baggages, total - free, 0)}
    outcome = _outcome(backend.preview_update_reservation_baggages, s, args, clock)
    body = f"We need {extra} more checked bag{'s' if extra > 1 else ''} on booking {r.reservation_id}, please."
    return _ticket("add_baggage", r, r.user_id, "Extra luggage", body, outcome, total_baggages=total)


def _passenger_ticket(s: Session, rng: random.Random, clock: datetime, users: dict[str, AirlineUserRow],
                      active: list[AirlineReservationRow]) -> dict[str, Any] | None:
    r = rng.choice(active)
    if len(r.passengers) > 1 and rng.random() < 0.4:  # removing someone changes the count: refused
        gone = r.passengers[-1]
        args = {"reservation_id": r.reservation_id, "passengers": r.passengers[:-1]}
        outcome = _outcome(backend.preview_update_reservation_passengers, s, args, clock)
        body = (f"{gone['first_name']} can't come any more, please take them off reservation {r.reservation_id} "
                "and refund their seat.")
        return _ticket("change_passenger", r, r.user_id, "Remove a passenger", body, outcome)
    old = r.passengers[-1]
    new = {"first_name": rng.choice(["Maya", "Daniel", "Priya", "Lucas", "Sofia"]), "last_name": old["last_name"],
           "dob": "1988-07-14"}
    args = {"reservation_id": r.reservation_id, "passengers": r.passengers[:-1] + [new]}
    outcome = _outcome(backend.preview_update_reservation_passengers, s, args, clock)
    body = (f"On {r.reservation_id}, {old['first_name']} {old['last_name']} is replaced by {new['first_name']} "
            f"{new['last_name']} (born July 14, 1988). Can you change the name?")
    return _ticket("change_passenger", r, r.user_id, "Name change", body, outcome, passenger=new)


def _booking_ticket(s: Session, rng: random.Random, clock: datetime, users: dict[str, AirlineUserRow],
                    active: list[AirlineReservationRow]) -> dict[str, Any] | None:
    u = users[rng.choice(sorted(users))]
    day = clock.date() + timedelta(days=rng.randint(3, 20))
    flights = list(s.scalars(select(AirlineFlightRow).order_by(AirlineFlightRow.flight_number)))
    f = rng.choice(flights)
    options = backend.search_direct(s, f.origin, f.destination, day)
    if not options:
        return None
    cabin = rng.choice(["economy", "business", "basic_economy"])
    pax = rng.choice([1, 2])
    passengers = [{"first_name": u.first_name, "last_name": u.last_name, "dob": u.dob},
                  {"first_name": "Alex", "last_name": u.last_name, "dob": "1990-02-03"}][:pax]
    pick = options[0]
    total = pick["prices"][cabin] * pax
    card = next(m["id"] for m in u.payment_methods.values() if m["source"] == "credit_card")
    args = {"user_id": u.user_id, "origin": f.origin, "destination": f.destination, "flight_type": "one_way",
            "cabin": cabin, "flights": [{"flight_number": pick["flight_number"], "date": day.isoformat()}],
            "passengers": passengers, "payment_methods": [{"payment_id": card, "amount": total}],
            "total_baggages": 0, "nonfree_baggages": 0, "insurance": "no"}
    outcome = _outcome(backend.preview_book_reservation, s, args, clock)
    who = "just me" if pax == 1 else "me and my partner"
    body = (f"I'd like to book a one-way {cabin.replace('_', ' ')} ticket from {f.origin} to {f.destination} on "
            f"{_when(day.isoformat())}, {who}. No bags, no insurance. My user id is {u.user_id}.")
    return _ticket("new_booking", None, u.user_id, "New booking", body, outcome,
                   flight_number=pick["flight_number"], date=day.isoformat())


def _compensation_ticket(s: Session, rng: random.Random, clock: datetime, users: dict[str, AirlineUserRow],
                         active: list[AirlineReservationRow]) -> dict[str, Any] | None:
    hit = []
    for r in active:
        for leg in backend.legs_of(s, r):
            if leg.status in ("delayed", "cancelled"):
                hit.append((r, leg))
    if not hit:
        return None
    r, leg = rng.choice(hit)
    complaint = "delayed_flight" if leg.status == "delayed" else "cancelled_flight"
    amount = backend.COMPENSATION_PER_PASSENGER[complaint] * len(r.passengers)
    args = {"user_id": r.user_id, "reservation_id": r.reservation_id, "complaint": complaint, "amount": amount}
    outcome = _outcome(backend.preview_send_certificate, s, args, clock)
    if complaint == "delayed_flight":
        body = (f"My flight {leg.number} on {_when(leg.day.isoformat())} is delayed by hours. This is unacceptable, "
                f"I want compensation. Reservation {r.reservation_id}.")
    else:
        body = (f"You cancelled my flight {leg.number} on {_when(leg.day.isoformat())} without any real notice. "
                f"What are you going to do about it? Booking {r.reservation_id}.")
    return _ticket("delay_compensation", r, r.user_id, "Complaint", body, outcome, flight_number=leg.number,
                   complaint=complaint)


def _status_ticket(s: Session, rng: random.Random, clock: datetime, users: dict[str, AirlineUserRow],
                   active: list[AirlineReservationRow]) -> dict[str, Any] | None:
    r = rng.choice(active)
    body = rng.choice([f"Can you confirm the details of my booking {r.reservation_id}? How many bags are included?",
                       f"What time does my flight on reservation {r.reservation_id} leave?"])
    return _ticket("booking_status", r, r.user_id, f"Booking {r.reservation_id}", body, ("info", "a lookup"))


def _flight_status_ticket(s: Session, rng: random.Random, clock: datetime, users: dict[str, AirlineUserRow],
                          active: list[AirlineReservationRow]) -> dict[str, Any] | None:
    r = rng.choice(active)
    f = rng.choice(r.flights)
    body = f"Is flight {f['flight_number']} on {_when(f['date'])} on time? I'm on booking {r.reservation_id}."
    return _ticket("flight_status", r, r.user_id, f"Flight {f['flight_number']}", body, ("info", "a lookup"),
                   flight_number=f["flight_number"], date=f["date"])


class Simulator:
    """New customer messages about the demo airline's real records, spread over every task type."""

    def __init__(self, db: Database, seed: int = 7) -> None:
        self.db = db
        self.seed = seed
        self.rng = random.Random(seed)
        self.counter = 0
        self.sent: set[str] = set()  # a message already written is not written again word for word

    def tickets(self, n: int, now: datetime, spread_minutes: int = 0) -> list[TicketIn]:
        raw: list[dict[str, Any]] = []
        with self.db.session() as s:
            for _ in range(4):  # a few draws: the same booking's same request would flood the queue otherwise
                drawn = demo_tickets(s, n, self.rng.randint(0, 10**6), now, start=self.counter + len(raw))
                for t in [t for t in drawn if t["body"] not in self.sent][: n - len(raw)]:
                    self.sent.add(t["body"])
                    raw.append(t)
                if len(raw) >= n:
                    break
            raw += drawn[: n - len(raw)]  # a small world may have said everything once: then it says it again
        out = []
        for i, t in enumerate(raw):
            at = now - timedelta(minutes=spread_minutes * (len(raw) - i) / max(len(raw), 1)) if spread_minutes else now
            self.counter += 1
            channel = Channel(t["channel"])
            subject = "" if channel == Channel.chat else t["subject"]
            out.append(TicketIn(id=f"A-{at:%Y%m%d%H%M%S}-{self.counter:04d}-{self.rng.randint(100, 999)}",
                                customer=t["customer"], channel=channel, subject=subject, body=t["body"],
                                created_at=at))
        return out

    def ticket(self, now: datetime) -> TicketIn:
        """One new ticket at ``now``."""
        return self.tickets(1, now)[0]
