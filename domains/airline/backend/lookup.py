"""Finding the airline's records by id, and ``Leg``: one flight on one date, with its status, times, seats and
fares. An unknown record raises ``NotFound``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from cx_core.errors import NotFound, PolicyDenied
from cx_core.wording import day as day_name
from domains.airline.backend.policy import FLOWN_STATUSES
from domains.airline.tables import AirlineFlightDateRow, AirlineFlightRow, AirlineReservationRow, AirlineUserRow


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


def reservation_row(s: Session, reservation_id: str) -> AirlineReservationRow:
    """A reservation's row (NotFound names it when there is none)."""
    return _reservation(s, reservation_id)


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
            raise PolicyDenied(f"flight {self.label()} has no {cabin.replace('_', ' ')} fare for sale")
        return int(prices[cabin])

    def label(self) -> str:
        """The flight as a customer reads it: "HAT003 on Sunday 22 November"."""
        return f"{self.number} on {day_name(self.day.isoformat())}"


def _leg(s: Session, flight_number: str, day: date) -> Leg:
    return Leg(_flight(s, flight_number), day, s.get(AirlineFlightDateRow, (flight_number, day)))


def legs_of(s: Session, r: AirlineReservationRow) -> list[Leg]:
    return [_leg(s, f["flight_number"], date.fromisoformat(f["date"])) for f in r.flights]
