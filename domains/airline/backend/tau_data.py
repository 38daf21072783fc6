"""Loading τ-bench airline's data (users, reservations and flights JSON) in place of the airline's records."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from cx_core.errors import InvalidInput, NotFound
from domains.airline.tables import (
    ALL_TABLES,
    AirlineFlightDateRow,
    AirlineFlightRow,
    AirlineReservationRow,
    AirlineUserRow,
)


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
