"""The airline's own tables (users, reservations, flights and their dated instances, compensation certificates).

They live on the pack's own declarative base so the engine's schema never depends on them. JSON columns are never
changed in place: the backend builds a new value and assigns it, so every change is seen by the session and stored
(the same on SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MEMBERSHIPS = ("regular", "silver", "gold")
CABINS = ("basic_economy", "economy", "business")
FLIGHT_TYPES = ("one_way", "round_trip")
PAYMENT_SOURCES = ("credit_card", "gift_card", "certificate")
FLIGHT_STATUSES = ("available", "on time", "delayed", "flying", "landed", "cancelled")


class AirlineBase(DeclarativeBase):
    pass


class AirlineUserRow(AirlineBase):
    """A member's profile. ``payment_methods`` maps each payment id to ``{id, source, brand, last_four}`` (credit
    card) or ``{id, source, amount}`` (gift card, travel certificate: the balance in dollars)."""

    __tablename__ = "airline_users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), index=True)
    dob: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    membership: Mapped[str] = mapped_column(String(16))  # regular | silver | gold
    address: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    payment_methods: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    saved_passengers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reservation_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # in booking order, as the profile shows


class AirlineReservationRow(AirlineBase):
    """A reservation. ``flights`` holds ``{origin, destination, flight_number, date, price}`` per segment (price per
    passenger, fixed when the segment was booked); ``payment_history`` holds ``{payment_id, amount}`` (negative for
    refunds); ``history`` records what each change replaced (``{at, action, before}``)."""

    __tablename__ = "airline_reservations"

    reservation_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("airline_users.user_id"), index=True)
    origin: Mapped[str] = mapped_column(String(3))
    destination: Mapped[str] = mapped_column(String(3))
    flight_type: Mapped[str] = mapped_column(String(16))  # one_way | round_trip
    cabin: Mapped[str] = mapped_column(String(16))  # basic_economy | economy | business
    flights: Mapped[list[Any]] = mapped_column(JSON, default=list)
    passengers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    payment_history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)  # airline local time (EST), naive
    total_baggages: Mapped[int] = mapped_column(Integer, default=0)
    nonfree_baggages: Mapped[int] = mapped_column(Integer, default=0)
    insurance: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # None (active) | cancelled
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)


class AirlineFlightRow(AirlineBase):
    """A scheduled flight. Times are local to the airline's clock (EST), ``HH:MM:SS``; an arrival the next day ends
    in ``+1``."""

    __tablename__ = "airline_flights"

    flight_number: Mapped[str] = mapped_column(String(8), primary_key=True)
    origin: Mapped[str] = mapped_column(String(3), index=True)
    destination: Mapped[str] = mapped_column(String(3), index=True)
    scheduled_departure_time_est: Mapped[str] = mapped_column(String(8))
    scheduled_arrival_time_est: Mapped[str] = mapped_column(String(11))


class AirlineFlightDateRow(AirlineBase):
    """One flight on one date. ``available_seats`` and ``prices`` (per cabin) are set while the status is
    ``available``; ``times`` holds the actual or estimated departure and arrival the other statuses carry."""

    __tablename__ = "airline_flight_dates"
    __table_args__ = (Index("ix_airline_flight_dates_date_status", "date", "status"),)

    flight_number: Mapped[str] = mapped_column(ForeignKey("airline_flights.flight_number"), primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    available_seats: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    prices: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    times: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class AirlineCompensationRow(AirlineBase):
    """A travel certificate sent as a gesture for a cancelled or delayed flight (at most one per reservation)."""

    __tablename__ = "airline_compensations"

    certificate_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("airline_users.user_id"), index=True)
    reservation_id: Mapped[str] = mapped_column(ForeignKey("airline_reservations.reservation_id"), index=True)
    complaint: Mapped[str] = mapped_column(String(32))  # cancelled_flight | delayed_flight
    amount: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime)


ALL_TABLES = (AirlineCompensationRow, AirlineReservationRow, AirlineFlightDateRow, AirlineFlightRow, AirlineUserRow)
METADATA = AirlineBase.metadata
