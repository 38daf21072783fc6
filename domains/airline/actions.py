"""The airline's typed actions, named like τ-bench airline's tools. Importing this module registers them.

Every write re-checks the airline's policy in code (``backend.preview_X``) before anything changes, whatever the
ticket or the plan said; the preview is also what a person sees before approving.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field
from sqlalchemy.orm import Session

from cx_core.actions.base import Args, ExecContext, action

from . import backend, wording  # noqa: F401  (registers how replies speak of these actions)

CONNECTOR = "airline"
Cabin = Literal["basic_economy", "economy", "business"]
ReservationId = Field(pattern=r"^[A-Z0-9]{6}$", description="Reservation id, six capitals or digits, e.g. ZFA04Y.")
UserId = Field(pattern=r"^[A-Za-z0-9_.-]{3,64}$", title="Member", description="Member's user id, e.g. sara_doe_496.")
Airport = Field(pattern=r"^[A-Z]{3}$", description="IATA airport code, e.g. JFK.")
FlightNumber = Field(pattern=r"^[A-Z0-9]{2,3}\d{1,4}$", description="Flight number, e.g. HAT001.")
PaymentId = Field(pattern=r"^(credit_card|gift_card|certificate)_\d{1,12}$",
                  description="A payment method saved in the member's profile, e.g. credit_card_7815826.")

BOOKING_TASKS = ("cancel_booking", "change_flight", "change_cabin", "add_baggage", "change_passenger",
                 "delay_compensation")


# ---------------------------------------------------------------- probes
def _reservation_owner(s: Session, a: Any) -> str:
    return str(backend.get_reservation(s, a.reservation_id)["user_id"])


def _user_owner(_s: Session, a: Any) -> str:
    return str(a.user_id)


def _nobody(_s: Session, _a: Any) -> None:
    return None


def _amount(name: str) -> Any:
    """Money at stake in USD, from the records (refund, price difference, fees, booking price, certificate)."""
    def probe(s: Session, a: Any) -> float | None:
        return backend.money_at_stake(s, name, a)
    return probe


def _preview(fn: Any) -> Any:
    def check(s: Session, a: Any, ctx: ExecContext) -> dict[str, Any]:
        return dict(fn(s, a, ctx.now))
    return check


# ---------------------------------------------------------------- argument models
class FlightInfo(Args):
    flight_number: str = FlightNumber
    date: date


class Passenger(Args):
    first_name: str = Field(min_length=1, max_length=60)
    last_name: str = Field(min_length=1, max_length=60)
    dob: date = Field(title="Date of birth", description="Date of birth.")


class PaymentPart(Args):
    payment_id: str = PaymentId
    amount: int = Field(gt=0, le=100000, description="Dollars drawn from this method.")


class GetUserDetails(Args):
    user_id: str = UserId


class GetReservationDetails(Args):
    reservation_id: str = ReservationId


class GetFlightStatus(Args):
    flight_number: str = FlightNumber
    date: date


class SearchFlight(Args):
    origin: str = Airport
    destination: str = Airport
    date: date


class ListAllAirports(Args):
    pass


class CancelReservation(Args):
    reservation_id: str = ReservationId
    reason: Literal["change_of_plan", "airline_cancelled", "health", "weather", "other"] | None = Field(
        default=None, description="Why the member cancels; travel insurance covers only health and weather.")


class UpdateReservationFlights(Args):
    reservation_id: str = ReservationId
    cabin: Cabin
    flights: list[FlightInfo] = Field(min_length=1, max_length=12,
                                      description="Every flight of the whole new reservation, kept ones included.")
    payment_id: str = PaymentId


class UpdateReservationBaggages(Args):
    reservation_id: str = ReservationId
    total_baggages: int = Field(ge=0, le=50, title="Checked bags in all", description="The new total number of checked bags.")
    nonfree_baggages: int = Field(ge=0, le=50, title="Of them, paid", description="How many of them are paid for.")
    payment_id: str = PaymentId


class UpdateReservationPassengers(Args):
    reservation_id: str = ReservationId
    passengers: list[Passenger] = Field(min_length=1, max_length=9)


class BookReservation(Args):
    user_id: str = UserId
    origin: str = Airport
    destination: str = Airport
    flight_type: Literal["one_way", "round_trip"]
    cabin: Cabin
    flights: list[FlightInfo] = Field(min_length=1, max_length=12)
    passengers: list[Passenger] = Field(min_length=1, max_length=9)
    payment_methods: list[PaymentPart] = Field(min_length=1, max_length=5)
    total_baggages: int = Field(ge=0, le=50, title="Checked bags in all")
    nonfree_baggages: int = Field(ge=0, le=50, title="Of them, paid")
    insurance: Literal["yes", "no"]


class SendCertificate(Args):
    user_id: str = UserId
    amount: int = Field(gt=0, le=10000, description="Certificate value in dollars.")
    reservation_id: str = ReservationId
    complaint: Literal["cancelled_flight", "delayed_flight"] = Field(
        description="What the member complained about, confirmed against the reservation's flights.")


# ---------------------------------------------------------------- reads
@action(name="get_user_details", args=GetUserDetails, writes=False, reversible=True, risk="low",
        connector=CONNECTOR, task_types=("booking_status", "new_booking", *BOOKING_TASKS), owner=_user_owner,
        label="Look up member")
def get_user_details(s: Session, a: GetUserDetails, ctx: ExecContext) -> dict[str, Any]:
    """Get a member's profile: name, address, membership, saved payment methods (gift card and certificate balances),
    saved passengers and reservation ids."""
    return backend.get_user(s, a.user_id)


@action(name="get_reservation_details", args=GetReservationDetails, writes=False, reversible=True, risk="low",
        connector=CONNECTOR, task_types=("booking_status", *BOOKING_TASKS), owner=_reservation_owner,
        label="Look up reservation")
def get_reservation_details(s: Session, a: GetReservationDetails, ctx: ExecContext) -> dict[str, Any]:
    """Get a reservation: trip, cabin, flights with prices, passengers, payments, bags, insurance, booking time;
    beside it, each flight's departure and status and the free checked bags the booking includes."""
    out = backend.get_reservation(s, a.reservation_id)
    r = backend.reservation_row(s, a.reservation_id)
    out["schedule"] = [{"flight_number": leg.number, "date": leg.day.isoformat(), "status": leg.status,
                        "departure": leg.departure.isoformat(timespec="minutes")} for leg in backend.legs_of(s, r)]
    member = backend.user_row(s, r.user_id)
    out["free_bag_allowance"] = backend.free_bag_allowance(member.membership, r.cabin, len(r.passengers))
    return out


@action(name="get_flight_status", args=GetFlightStatus, writes=False, reversible=True, risk="low",
        connector=CONNECTOR, task_types=("flight_status", "booking_status", "delay_compensation"), owner=_nobody,
        label="Flight status")
def get_flight_status(s: Session, a: GetFlightStatus, ctx: ExecContext) -> dict[str, Any]:
    """Get the status of a flight on a date (available, on time, delayed, flying, landed or cancelled) and its
    times."""
    return backend.flight_status(s, a.flight_number, a.date)


@action(name="search_direct_flight", args=SearchFlight, writes=False, reversible=True, risk="low",
        connector=CONNECTOR, task_types=("new_booking", "change_flight"), owner=_nobody,
        label="Search nonstop flights")
def search_direct_flight(s: Session, a: SearchFlight, ctx: ExecContext) -> dict[str, Any]:
    """Search nonstop flights for sale between two airports on a date, with seats left and prices per cabin."""
    return {"flights": backend.search_direct(s, a.origin, a.destination, a.date)}


@action(name="search_onestop_flight", args=SearchFlight, writes=False, reversible=True, risk="low",
        connector=CONNECTOR, task_types=("new_booking", "change_flight"), owner=_nobody,
        label="Search one-stop flights")
def search_onestop_flight(s: Session, a: SearchFlight, ctx: ExecContext) -> dict[str, Any]:
    """Search pairs of flights for sale with one connection between two airports, the first leaving on the date."""
    return {"itineraries": backend.search_onestop(s, a.origin, a.destination, a.date)}


@action(name="list_all_airports", args=ListAllAirports, writes=False, reversible=True, risk="low",
        connector=CONNECTOR, task_types=("new_booking", "change_flight", "flight_status"), owner=_nobody,
        label="List airports")
def list_all_airports(s: Session, a: ListAllAirports, ctx: ExecContext) -> dict[str, Any]:
    """List every airport the airline flies to, with its city."""
    return {"airports": backend.list_airports(s)}


# ---------------------------------------------------------------- writes
@action(name="cancel_reservation", args=CancelReservation, writes=True, reversible=False, risk="high",
        connector=CONNECTOR, task_types=("cancel_booking",), owner=_reservation_owner,
        amount=_amount("cancel_reservation"), label="Cancel reservation",
        confirm=True, preview=_preview(backend.preview_cancel_reservation), refunds_in_full=True)
def cancel_reservation(s: Session, a: CancelReservation, ctx: ExecContext) -> dict[str, Any]:
    """Cancel the whole reservation and refund every payment to its original method (5 to 7 business days).
    Allowed only if nothing has been flown and: it was booked in the last 24 hours, or the airline cancelled a
    flight, or it is business, or travel insurance covers the stated reason (health, weather)."""
    return backend.cancel_reservation(s, a, ctx.now)


@action(name="update_reservation_flights", args=UpdateReservationFlights, writes=True, reversible=False,
        risk="high", connector=CONNECTOR, task_types=("change_flight", "change_cabin"), owner=_reservation_owner,
        amount=_amount("update_reservation_flights"), label="Change flights or cabin",
        confirm=True, preview=_preview(backend.preview_update_reservation_flights))
def update_reservation_flights(s: Session, a: UpdateReservationFlights, ctx: ExecContext) -> dict[str, Any]:
    """Change a reservation's flights and/or cabin (list every flight of the new reservation). Same origin,
    destination and trip type; basic economy flights cannot change (the cabin can); no cabin change once a flight
    has been flown. The price difference is paid or refunded with one gift card or credit card from the profile."""
    return backend.update_reservation_flights(s, a, ctx.now)


@action(name="update_reservation_baggages", args=UpdateReservationBaggages, writes=True, reversible=False,
        risk="medium", connector=CONNECTOR, task_types=("add_baggage",), owner=_reservation_owner,
        amount=_amount("update_reservation_baggages"), label="Add checked bags",
        preview=_preview(backend.preview_update_reservation_baggages))
def update_reservation_baggages(s: Session, a: UpdateReservationBaggages, ctx: ExecContext) -> dict[str, Any]:
    """Add checked bags (never remove). Free bags per passenger depend on membership and cabin; each extra bag is
    $50, paid with one gift card or credit card from the profile."""
    return backend.update_reservation_baggages(s, a, ctx.now)


def _undo_passengers(s: Session, a: UpdateReservationPassengers, result: dict[str, Any],
                     ctx: ExecContext) -> dict[str, Any]:
    previous = result.get("undo", {}).get("previous") or result.get("passengers_before") or []
    return {"reservation_id": a.reservation_id,
            "passengers": backend.restore_passengers(s, a.reservation_id, previous, ctx.now)["passengers"]}


@action(name="update_reservation_passengers", args=UpdateReservationPassengers, writes=True, reversible=True,
        risk="medium", connector=CONNECTOR, task_types=("change_passenger",), owner=_reservation_owner,
        label="Change passengers", compensate=_undo_passengers,
        preview=_preview(backend.preview_update_reservation_passengers))
def update_reservation_passengers(s: Session, a: UpdateReservationPassengers, ctx: ExecContext) -> dict[str, Any]:
    """Replace the passengers' names and dates of birth; the number of passengers cannot change."""
    result = backend.update_reservation_passengers(s, a, ctx.now)
    return {**result, "undo": {"previous": result["passengers_before"]}}


@action(name="book_reservation", args=BookReservation, writes=True, reversible=False, risk="high",
        connector=CONNECTOR, task_types=("new_booking",), owner=_user_owner,
        amount=_amount("book_reservation"), label="Book reservation", confirm=True,
        preview=_preview(backend.preview_book_reservation))
def book_reservation(s: Session, a: BookReservation, ctx: ExecContext) -> dict[str, Any]:
    """Book a reservation: up to five passengers on the same flights and cabin; paid with saved methods (at most
    one travel certificate, one credit card and three gift cards) adding up to the exact price of fares, insurance
    ($30 per passenger) and paid bags ($50 each beyond the free allowance)."""
    return backend.book_reservation(s, a, ctx.now)


@action(name="send_certificate", args=SendCertificate, writes=True, reversible=False, risk="high",
        connector=CONNECTOR, task_types=("delay_compensation",), owner=_user_owner,
        amount=_amount("send_certificate"), label="Send compensation certificate",
        confirm=True, preview=_preview(backend.preview_send_certificate))
def send_certificate(s: Session, a: SendCertificate, ctx: ExecContext) -> dict[str, Any]:
    """Send a travel certificate as a gesture when the member complains: $100 per passenger for a cancelled flight,
    $50 per passenger for a delayed one once the reservation has been changed or cancelled. Only for silver or gold
    members, travel insurance or business; once per reservation."""
    return backend.send_certificate(s, a, ctx.now)
