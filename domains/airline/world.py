"""The airline's demo world as the engine's ``demo`` command and worker call it: the seeded world, the live
ticket simulator over its real records, the advisor history and a one-line summary."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from cx_core.demo_history import work_some
from cx_core.models import Channel, TicketIn
from cx_core.store.db import Database

from . import demo

__all__ = ["Simulator", "build_world", "summary", "work_some"]


def build_world(db: Database, seed: int, today: date, users: int = 40, flights: int = 60, reservations: int = 80,
                customers: int | None = None, orders: int | None = None) -> dict[str, int]:
    """Replaces the airline's records with the seeded world around ``today`` (``customers`` and ``orders`` are
    read as members and reservations, the engine's generic sizes)."""
    db.migrate()
    with db.tx() as s:
        return demo.build_demo(s, seed, today=today, users=customers or users, flights=flights,
                               reservations=orders or reservations)


def summary(counts: dict[str, Any]) -> str:
    """One line on what the demo world holds."""
    return (f"{counts['users']} members, {counts['flights']} routes, {counts['flight_dates']} dated flights, "
            f"{counts['reservations']} reservations")


class Simulator:
    """New customer messages about the demo airline's real records, spread over every task type."""

    def __init__(self, db: Database, seed: int = 7) -> None:
        self.db = db
        self.seed = seed
        self.rng = random.Random(seed)
        self.counter = 0

    def tickets(self, n: int, now: datetime, spread_minutes: int = 0) -> list[TicketIn]:
        with self.db.session() as s:
            raw = demo.demo_tickets(s, n, self.rng.randint(0, 10**6), now)
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
