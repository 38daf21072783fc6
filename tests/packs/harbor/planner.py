"""Harbor's planner: its recipes, run by the engine's recipe planner."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from cx_core.models import Triage
from cx_core.plans import Plan
from cx_core.recipe_book import load
from cx_core.recipes import Context
from cx_core.recipes import plan as recipe_plan

from . import PACK

RECIPES = Path(__file__).resolve().parent / "recipes.yaml"


def customer(ctx: Context) -> str:
    return str(ctx.snapshot["customer"]["id"])


def plan(triage: Triage, snapshot: dict[str, Any] | None, today: date, text: str = "") -> Plan:
    return recipe_plan(load(RECIPES), triage, snapshot, today, text, {"customer": customer},
                       write_free=PACK.informational)
