"""The demo world and the live ticket simulator: what the engine's ``demo`` command and worker call."""

from __future__ import annotations

from typing import Any

from cx_core.demo_history import work_some
from domains.lumen.demo.simulator import Simulator
from domains.lumen.demo.world import build_world

__all__ = ["Simulator", "build_world", "summary", "work_some"]


def summary(counts: dict[str, Any]) -> str:
    """One line on what the demo world holds."""
    return (f"{counts['customers']} customers, {counts['orders']} orders, {counts['appointments']} appointments, "
            f"{counts['slots']} slots, {counts['charges']} charges")
