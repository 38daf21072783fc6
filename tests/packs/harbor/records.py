"""Harbor's customers: two, known by e-mail; the order service holds their orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cx_core.domain import Customer

CUSTOMERS = {"C1": ("Dana Fox", "dana@example.com"), "C2": ("Sam Lee", "sam@example.com")}


def _customer(cid: str) -> Customer:
    name, email = CUSTOMERS[cid]
    return Customer(id=cid, name=name, email=email, profile={"name": name, "first_name": name.split()[0],
                                                             "tier": "standard", "email": email})


def lookup(session: Any, ref: str | None) -> Customer | None:
    ref = (ref or "").strip().lower()
    return next((_customer(c) for c, (_, email) in CUSTOMERS.items() if ref in {c.lower(), email}), None)


def identify(session: Any, text: str) -> Customer | None:
    return None


def snapshot(session: Any, customer_id: str, now: datetime) -> dict[str, Any]:
    return {"customer": {"id": customer_id}}


def tiers(session: Any) -> dict[str, str]:
    return {c: "standard" for c in CUSTOMERS}
