"""What the customer's records show that their message did not ask about, and the reply takes up anyway: a payment
taken twice on one of their orders."""

from __future__ import annotations

from typing import Any

from cx_core import signals
from cx_core.models import Request, Triage
from cx_core.wording import day, money
from domains.lumen.asked import order_refs
from domains.lumen.records import refund_route


def noticed_twice(triage: Triage, snap: dict[str, Any], text: str) -> Triage:
    """A payment taken twice on the customer's orders, not yet refunded and not written of: the reply refunds it
    too (each such order, up to three: the one the message names first, then the latest). Never for a sender not verified as the
    customer, nor beside a formal complaint or a question the customer did not ask about an order."""
    if triage.abstained or not triage.entities.get("verified") or signals.FORMAL_COMPLAINT.search(text) or \
            any(r.intent in {"duplicate_charge", "data_request"} for r in triage.requests):
        return triage
    waiting = {str(p["args"].get("order_id")) for t in snap.get("open_tickets") or [] for p in t.get("pending") or []
               if p["action"] in ("refund", "cancel_order")}  # refunded, or cancelled in full, on another ticket
    # an order this message cancels: the cancellation pays back every payment, the one taken twice too
    waiting |= {m for r in triage.requests if r.intent == "order_cancel" for m in order_refs(r.text)}
    twice = [o for o in snap["orders"] if o.get("duplicate_payment") and o["order_id"] not in waiting]
    named = [o for o in twice if o["order_id"] in triage.entities.get("order_ids", [])]
    found = named + sorted([o for o in twice if o not in named], key=lambda o: str(o.get("created_at", "")),
                           reverse=True)
    if not found:
        return triage
    shows = [f"order {o['order_id']} shows two payments of {money(o['duplicate_payment'])}" for o in found[:3]]
    return triage.model_copy(update={
        "entities": {**triage.entities, "noticed_twice": [o["order_id"] for o in found[:3]]},
        "requests": [*triage.requests, Request(intent="duplicate_charge", text=f"({'; '.join(shows)}, found on the "
                                                                                 "records.)",
                                               confidence=triage.confidence)]})


def refunded_already(order: dict[str, Any], methods: list[dict[str, Any]]) -> str:
    """For an order paid twice whose second payment was refunded since: what the customer is told ("the duplicate
    payment of $236.03 on order #W1002603 was refunded on Wednesday 25 November, to your gift card, where it shows
    at once"); '' when the order shows no such refund."""
    paid = [p for p in order.get("payments") or [] if p["type"] == "payment"]
    twice = {round(p["amount"], 2) for p in paid if sum(abs(q["amount"] - p["amount"]) < 0.005 for q in paid) > 1}
    back = [p for p in order.get("payments") or [] if p["type"] == "refund" and round(p["amount"], 2) in twice]
    if not back:
        return ""
    refund = back[-1]
    route = refund_route(order, refund["amount"], methods)
    where = f", to your {route['paid_with']}, where it shows {route['lands']}" if route else ""
    return (f"the duplicate payment of {money(refund['amount'])} on order {order['order_id']} was refunded on "
            f"{day(str(refund['at'])[:10])}{where}")
