"""Read-only views over the backend systems for planning and for the pages (no side effects, no audit)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cx_core import shown
from cx_core.domain import Customer
from cx_core.wording import money
from domains.lumen.backend import billing, crm, orders, scheduling
from domains.lumen.tables import CustomerRow


def _customer(c: CustomerRow) -> Customer:
    return Customer(id=c.user_id, name=f"{c.first_name} {c.last_name}", email=c.email, tier=c.tier,
                    profile=customer_profile(c))


def lookup(s: Session, ref: str | None) -> Customer | None:
    """The customer a ticket names (an email or a customer id)."""
    c = crm.find_customer(s, ref)
    return _customer(c) if c else None


def identify(s: Session, text: str) -> Customer | None:
    """The customer a ticket's text points to (identified, never verified)."""
    c = crm.identify(s, text)
    return _customer(c) if c else None


def tiers(s: Session) -> dict[str, str]:
    """Every customer's service tier, by customer id."""
    return dict(s.execute(select(CustomerRow.user_id, CustomerRow.tier)).all())  # type: ignore[arg-type]


def find_customer(s: Session, ref: str | None) -> CustomerRow | None:
    return crm.find_customer(s, ref)


def identify_customer(s: Session, text: str) -> CustomerRow | None:
    return crm.identify(s, text)


def customer_profile(c: CustomerRow) -> dict[str, Any]:
    return {"user_id": c.user_id, "name": f"{c.first_name} {c.last_name}", "first_name": c.first_name,
            "email": c.email, "phone": c.phone, "tier": c.tier, "marketing_consent": c.marketing_consent,
            "address": {k: getattr(c, k) for k in ("address1", "address2", "city", "state", "country", "zip")},
            "customer_since": c.created_at.date().isoformat()}


def snapshot(s: Session, user_id: str, now: datetime) -> dict[str, Any]:
    """Everything planning may need about one customer, as plain data."""
    c = crm.get_customer(s, user_id)
    order_views = []
    for o in orders.orders_for_user(s, user_id):
        view = orders.order_view(s, o)
        for item in view["items"]:  # large appliances are repaired at home, the rest collected
            item["at_home"] = orders.product(s, item["product_id"]).needs_installation
        view["payments"] = [{"type": p.transaction_type, "amount": p.amount, "method": p.payment_method_id,
                             "at": p.created_at.isoformat(timespec="minutes")} for p in billing.payments(s, o.order_id)]
        dup = billing.duplicate_payment(s, o.order_id)
        view["duplicate_payment"] = dup.amount if dup else None
        view["refundable"] = billing.refundable(s, o.order_id)
        view["variants"] = {
            i["item_id"]: [{"item_id": v.item_id, "options": v.options, "available": v.available, "price": v.price}
                           for v in orders.variants(s, i["product_id"])]
            for i in view["items"]
        }
        order_views.append(view)
    appts = []
    # an installation is offered only times after the day its goods are delivered
    due = {o["order_id"]: str(o["expected_delivery"]) for o in order_views
           if o.get("status") in ("pending", "processed") and o.get("expected_delivery")}
    for a in scheduling.appointments(s, user_id):
        slots = [x for x in scheduling.free_slots(s, a.region, now + timedelta(days=1), limit=200)
                 if x.start.date().isoformat() > due.get(str(a.order_id), "")]
        appts.append({"appointment_id": a.appointment_id, "order_id": a.order_id, "kind": a.kind,
                      "start": a.start.isoformat(timespec="minutes"), "technician": a.technician,
                      "status": a.status, "region": a.region,
                      "free_slots": [{"slot_id": x.slot_id, "start": x.start.isoformat(timespec="minutes"),
                                      "technician": x.technician} for x in slots]})
    return {
        "profile": customer_profile(c),
        "orders": order_views,
        "invoices": [{"invoice_id": i.invoice_id, "order_id": i.order_id, "appointment_id": i.appointment_id,
                      "description": i.description, "amount": i.amount, "status": i.status,
                      "issued_on": i.issued_on.isoformat()} for i in billing.invoices(s, user_id)],
        "charges": [{"charge_id": ch.charge_id, "kind": ch.kind, "description": ch.description, "amount": ch.amount,
                     "credited": ch.credited, "status": ch.status, "created_on": ch.created_on.isoformat(),
                     "invoice_id": ch.invoice_id} for ch in billing.charges(s, user_id)],
        "appointments": appts,
        "payment_methods": [{"id": m.id, "source": m.source, "brand": m.brand, "last_four": m.last_four,
                             **({} if m.brand else {"label": source_words(m.source)})}
                            for m in billing.payment_methods(s, user_id)],
        "notes": [{"author": n.author, "body": n.body, "at": n.created_at.isoformat(timespec="minutes")}
                  for n in crm.notes(s, user_id)[:10]],
    }


def method_label(method_id: str, methods: list[dict[str, Any]]) -> str:
    """A payment method as people name it: "Amex card ending 0252", "PayPal", "gift card"."""
    m = next((x for x in methods if x["id"] == method_id), None)
    if m is None:
        return method_id
    if m.get("brand") and m.get("last_four"):
        return shown.card(m["brand"], m["last_four"])
    return source_words(str(m["source"]))


def source_words(source: str) -> str:
    """A kind of payment method as people name it: "PayPal", "gift card"."""
    return {"paypal": "PayPal", "gift_card": "gift card", "credit_card": "card"}.get(source, source.replace("_", " "))


def refund_route(order: dict[str, Any], amount: float, methods: list[dict[str, Any]]) -> dict[str, str]:
    """Where a refund of ``amount`` on ``order`` goes and when it shows, when one payment method paid that amount:
    ``{"paid_with": "gift card", "lands": "at once"}`` (the refund timelines article); {} otherwise."""
    paid = {p["method"] for p in order.get("payments", []) if p["type"] == "payment" and abs(p["amount"] - amount) < 0.005}
    if len(paid) != 1:
        return {}
    method = paid.pop()
    source = next((str(m["source"]) for m in methods if m["id"] == method), "")
    return {"paid_with": method_label(method, methods),
            "lands": {"gift_card": "at once", "paypal": "within 3 to 5 business days"}.get(source,
                                                                                         "within 5 to 7 business days")}


def paid_words(order: dict[str, Any] | None, action: str, args: dict[str, Any],
               methods: list[dict[str, Any]]) -> dict[str, str]:
    """Where a step's money goes, for its sentence: a cancellation's refund (``refund_route``), the method an item
    change's difference is charged to or refunded on."""
    if order and action == "cancel_order":
        return refund_route(order, float(order.get("refundable") or 0), methods)
    if action == "modify_order_items" and args.get("payment_method_id"):
        return {"paid_with": method_label(str(args["payment_method_id"]), methods)}
    return {}


def payment_row(order: dict[str, Any], methods: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One order's money in one row: what was paid, what was refunded already and what can still be refunded,
    with each movement and its method, so a refund is never decided blind."""
    paid = round(sum(p["amount"] for p in order["payments"] if p["type"] == "payment"), 2)
    refunded = round(sum(p["amount"] for p in order["payments"] if p["type"] == "refund"), 2)
    moves = "; ".join(f"{p['type']} {money(p['amount'])} on {shown.value(p['at'][:10])} "
                      f"({method_label(p['method'], methods or [])})" for p in order["payments"])
    return {"order": order["order_id"], "paid": paid, "refunded": refunded,
            "refundable now": round(float(order["refundable"]), 2),
            "charged twice": order["duplicate_payment"] or "", "movements": moves}


def card(s: Session, user_id: str, now: datetime) -> dict[str, Any]:
    """The customer card advisors see beside a ticket: a headline, contact and details lines, and one table per
    system (rows of plain values)."""
    snap = snapshot(s, user_id, now)
    prof = snap["profile"]
    a = prof["address"]
    return {
        "headline": prof["name"],
        "contact": f"{prof['tier']} · {prof['email']} · {prof['phone'] or 'no phone'}",
        "details": f"{a['address1']}, {a['city']}, {a['state']} {a['zip']} · customer since {shown.value(prof['customer_since'])}",
        "tabs": {
            "Orders": [{"order": o["order_id"], "status": _order_state(o),
                        "items": ", ".join(i["name"] for i in o["items"]),
                        "ship to": f"{o['address']['address1']}, {o['address']['city']}",
                        "tracking": ", ".join(o["tracking"])} for o in snap["orders"]],
            "Payments": [payment_row(o, snap["payment_methods"]) for o in snap["orders"] if o["payments"]],
            "Charges": [{"charge": c["charge_id"], "on": c["created_on"], "what": c["description"], "amount": c["amount"],
                         "credited": c["credited"], "status": c["status"]} for c in snap["charges"]],
            "Invoices": [{"invoice": i["invoice_id"], "what": i["description"], "amount": i["amount"],
                          "issued": i["issued_on"], "status": i["status"]} for i in snap["invoices"]],
            "Visits": [{"appointment": a["appointment_id"], "when": a["start"], "technician": a["technician"],
                        "status": a["status"], "for": _visit_for(a, snap["orders"])} for a in snap["appointments"]],
        },
    }


def _visit_for(a: dict[str, Any], orders: list[dict[str, Any]]) -> str:
    """What a visit is for: "installation of the Washing Machine (#W1007530)"."""
    order = next((o for o in orders if o["order_id"] == a.get("order_id")), None)
    what = str(a.get("kind") or "visit").replace("_", " ")
    if order is None:
        return what
    return f"{what} of {', '.join(i['name'] for i in order['items'])} ({order['order_id']})"


def _order_state(o: dict[str, Any]) -> str:
    """An order's state with its day, first thing a person reads: "delivered 22 Sep 2026", "pending, due 26 Nov
    2026"."""
    if o.get("delivered_on"):
        return f"{o['status']} {shown.value(o['delivered_on'])}" if o["status"] == "delivered" else \
            f"{o['status']} (delivered {shown.value(o['delivered_on'])})"
    if o.get("expected_delivery"):
        return f"{o['status']}, due {shown.value(o['expected_delivery'])}"
    return str(o["status"])
