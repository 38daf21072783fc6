"""Horizon Air Travel, the airline pack: reservations, flights, members and their payment methods, with every rule
of the airline's policy enforced in its actions. Built from τ-bench airline's data model; its knowledge, examples,
policy and recipes are in this folder."""

from __future__ import annotations

from pathlib import Path

import yaml

from cx_core.domain import Brand, DomainPack, Locale

ROOT = Path(__file__).resolve().parent
_BRAND = yaml.safe_load((ROOT / "brand.yaml").read_text(encoding="utf-8"))

TASK_TYPES = {
    "booking_status": "booking details", "flight_status": "flight status", "baggage_question": "baggage question",
    "account_access": "account and profile", "cancel_booking": "cancel booking", "change_flight": "change flights",
    "change_cabin": "change cabin", "add_baggage": "add checked bags", "change_passenger": "change passengers",
    "new_booking": "new booking", "delay_compensation": "disruption compensation",
    "complaint": "complaint",
}

PACK = DomainPack(
    name="airline",
    title=_BRAND["name"],
    package="domains.airline",
    root=ROOT,
    task_types=TASK_TYPES,
    informational=frozenset({"booking_status", "flight_status", "baggage_question", "account_access"}),
    brand=Brand(name=_BRAND["name"], signature=_BRAND["signature"], sender=_BRAND.get("sender", "")),
    locale=Locale(**_BRAND.get("locale", {})),
    modules={"actions": "domains.airline.actions", "records": "domains.airline.records",
             "planner": "domains.airline.planner", "demo": "domains.airline.demo",
             "tables": "domains.airline.tables", "evaluation": "domains.airline.evaluation"},
)
