"""The airline's systems as plain functions over a session: reservations, flights, members and their payment methods.

Reads return plain dicts shaped like the τ-bench airline tools' outputs. Every write comes as a pair:
``preview_X(s, args, now)`` checks the arguments and every rule of the airline's policy against the current records
and says what would change (amounts, payment methods, seats) without writing anything; ``X(s, args, now)`` runs the
preview and then applies exactly that. Refusals raise ``PolicyDenied`` naming the rule; unknown records raise
``NotFound`` and malformed arguments ``InvalidInput``. Nothing here commits: the caller owns the transaction.

``now`` is the airline's clock (local time, EST, as in τ-bench where it is 2024-05-15 15:00:00); an aware datetime
is converted to it. It decides "booked within the last 24 hours" and "already flown".

The parts: ``policy`` (the policy's numbers and the clock), ``arguments`` (reading a write's arguments), ``lookup``
(records by id and ``Leg``, a flight on a date), ``views`` (τ-bench shapes), ``reads``, ``tau_data`` (loading
τ-bench's records), ``checks`` and ``ledger`` (what the writes share), one module per kind of write
(``cancel``, ``changes``, ``booking``, ``compensation``) and ``writes`` (the writes by name, money at stake).
"""

from __future__ import annotations

from domains.airline.backend.booking import book_reservation, preview_book_reservation
from domains.airline.backend.cancel import cancel_reservation, preview_cancel_reservation
from domains.airline.backend.changes import (
    no_flight_left,
    preview_update_reservation_baggages,
    preview_update_reservation_flights,
    preview_update_reservation_passengers,
    restore_passengers,
    update_reservation_baggages,
    update_reservation_flights,
    update_reservation_passengers,
)
from domains.airline.backend.compensation import preview_send_certificate, send_certificate
from domains.airline.backend.lookup import Leg, legs_of, reservation_row, user_row
from domains.airline.backend.policy import (
    AIRPORT_CITIES,
    BAG_FEE,
    BOOKING_PAYMENT_LIMITS,
    CABIN_WORDS,
    CANCEL_REASONS,
    CANCEL_WINDOW,
    COMPENSATION_PER_PASSENGER,
    EST,
    FLOWN_STATUSES,
    FREE_BAGS,
    INSURANCE_FEE,
    INSURED_REASONS,
    MAX_PASSENGERS,
    TAU_NOW,
    airline_now,
    at_airport,
    free_bag_allowance,
    money,
)
from domains.airline.backend.reads import (
    flight_status,
    get_reservation,
    get_user,
    is_flown,
    list_airports,
    operating,
    reservations_of,
    search_direct,
    search_onestop,
)
from domains.airline.backend.tau_data import load_tau
from domains.airline.backend.views import method_label, reservation_view, user_view
from domains.airline.backend.writes import PREVIEWS, WRITES, money_at_stake

__all__ = [
    "AIRPORT_CITIES", "BAG_FEE", "BOOKING_PAYMENT_LIMITS", "CABIN_WORDS", "CANCEL_REASONS", "CANCEL_WINDOW",
    "COMPENSATION_PER_PASSENGER", "EST", "FLOWN_STATUSES", "FREE_BAGS", "INSURANCE_FEE", "INSURED_REASONS",
    "MAX_PASSENGERS", "PREVIEWS", "TAU_NOW", "WRITES", "Leg", "airline_now", "at_airport", "book_reservation",
    "cancel_reservation", "flight_status", "free_bag_allowance", "get_reservation", "get_user", "is_flown",
    "legs_of", "list_airports", "load_tau", "method_label", "money", "money_at_stake", "no_flight_left", "operating",
    "preview_book_reservation", "preview_cancel_reservation", "preview_send_certificate", "preview_update_reservation_baggages",
    "preview_update_reservation_flights", "preview_update_reservation_passengers", "reservation_view",
    "reservation_row", "reservations_of", "restore_passengers", "search_direct", "search_onestop", "send_certificate",
    "update_reservation_baggages", "update_reservation_flights", "update_reservation_passengers", "user_row",
    "user_view",
]
