"""What the writes record besides the reservation's own fields: charges and refunds with a gift card's balance,
seats taken or given back on dated flights, and the reservation's history of changes."""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from domains.airline.backend.policy import money
from domains.airline.tables import AirlineFlightDateRow, AirlineReservationRow, AirlineUserRow


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
