"""The airline's demo world as the engine's ``demo`` command and worker call it: the seeded world, the live
ticket simulator over its real records, the advisor history and a one-line summary."""

from __future__ import annotations

from typing import Any

from cx_core.demo_history import work_some
from domains.airline.demo.simulator import Simulator, demo_tickets
from domains.airline.demo.world import build_demo, build_world

__all__ = ["Simulator", "build_demo", "build_world", "demo_tickets", "summary", "work_some"]


def summary(counts: dict[str, Any]) -> str:
    """One line on what the demo world holds."""
    return (f"{counts['users']} members, {counts['flights']} routes, {counts['flight_dates']} dated flights, "
            f"{counts['reservations']} reservations")

