"""The demo company, Lumen Home: customers, catalogue, orders, billing and installation schedules, built
from a fixed seed. Dates are laid out relative to the build day, so the same seed gives the same world."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from faker import Faker
from sqlalchemy.orm import Session

from cx_core.store.db import Database
from cx_core.store.tables import Base
from domains.lumen.tables import (
    AppointmentRow,
    ChargeRow,
    CustomerRow,
    FulfillmentRow,
    InvoiceRow,
    OrderItemRow,
    OrderRow,
    PaymentMethodRow,
    PaymentRow,
    ProductRow,
    SlotRow,
    VariantRow,
)

CATALOGUE: list[tuple[str, str, bool, dict[str, list[str]], float]] = [
    ("Smart Thermostat", "climate", True, {"compatibility": ["Google Home", "Apple HomeKit", "Amazon Alexa"],
                                           "color": ["white", "black"]}, 149.0),
    ("Wi-Fi Mesh System", "networking", True, {"pack": ["2-pack", "3-pack"], "color": ["white", "black"]}, 229.0),
    ("Smart TV", "tv", True, {"screen": ["43 inch", "55 inch", "65 inch"], "color": ["black", "silver"]}, 649.0),
    ("Soundbar", "audio", False, {"channels": ["2.1", "5.1"], "color": ["black", "white"]}, 279.0),
    ("Washing Machine", "appliances", True, {"capacity": ["8kg", "9kg", "10kg"], "color": ["white", "silver"]}, 599.0),
    ("Dishwasher", "appliances", True, {"width": ["45cm", "60cm"], "color": ["white", "silver"]}, 499.0),
    ("Wireless Headphones", "audio", False, {"style": ["over-ear", "on-ear"], "color": ["black", "silver", "blue"]},
     189.0),
    ("Smart Speaker", "audio", False, {"size": ["small", "large"], "color": ["grey", "black", "white"]}, 99.0),
    ("Robot Vacuum", "home", False, {"model": ["standard", "mop combo"], "color": ["black", "white"]}, 349.0),
    ("Electric Kettle", "kitchen", False, {"capacity": ["1.0L", "1.7L"], "color": ["black", "white", "red"]}, 59.0),
    ("Air Purifier", "climate", False, {"size": ["small", "large"], "color": ["white", "grey"]}, 219.0),
    ("Video Doorbell", "security", False, {"power": ["wired", "battery"], "color": ["black", "silver"]}, 129.0),
    ("EV Charger", "energy", True, {"power": ["7kW", "11kW"], "color": ["black", "white"]}, 799.0),
    ("Coffee Machine", "kitchen", False, {"type": ["espresso", "filter"], "color": ["black", "red", "silver"]}, 249.0),
    ("Desk Lamp", "home", False, {"finish": ["matte", "gloss"], "color": ["black", "white", "gold"]}, 45.0),
    ("Smart Plug", "home", False, {"pack": ["1-pack", "4-pack"], "color": ["white", "black"]}, 25.0),
]
REGIONS = {"Northeast": {"NY", "NJ", "PA", "MA", "CT", "RI", "VT", "NH", "ME"},
           "South": {"TX", "FL", "GA", "NC", "SC", "VA", "TN", "AL", "MS", "LA", "AR", "KY", "OK", "WV", "MD", "DE",
                     "DC"},
           "Midwest": {"IL", "OH", "MI", "IN", "WI", "MN", "IA", "MO", "KS", "NE", "SD", "ND"}}
TECHNICIANS = {"Northeast": ["Dana Price", "Omar Haddad", "Lena Ortiz"],
               "South": ["Marcus Bell", "Priya Natarajan", "Jo Whitaker"],
               "Midwest": ["Greg Novak", "Aisha Coleman", "Tom Berg"],
               "West": ["Kai Nakamura", "Rosa Delgado", "Ben Foster"]}
WINDOWS = [8, 10, 12, 14, 16]


def region_of(state: str) -> str:
    return next((r for r, states in REGIONS.items() if state in states), "West")


def _rid(rng: random.Random, n: int = 7) -> str:
    return str(rng.randrange(10 ** (n - 1), 10**n))


def build_world(db: Database, seed: int, today: date, customers: int = 200, orders: int = 600) -> dict[str, int]:
    """Drops and rebuilds every table, then fills the backend systems. Returns row counts."""
    Base.metadata.drop_all(db.engine)
    db.migrate()
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    now = datetime.combine(today, time(9, 0))
    counts: dict[str, int] = {}
    with db.tx() as s:
        variants_by_product = _catalogue(s, rng)
        people = _customers(s, rng, fake, now, customers)
        methods = _payment_methods(s, rng, people)
        made = _orders(s, rng, people, methods, variants_by_product, today, now, orders)
        slots = _slots(s, today)
        appts = _appointments(s, rng, made, slots, today, now)
        charges = _charges(s, rng, appts, made, today)
        counts = {"customers": len(people), "orders": len(made), "appointments": len(appts),
                  "slots": sum(len(v) for v in slots.values()), "charges": charges,
                  "products": len(CATALOGUE)}
    return counts


def _catalogue(s: Session, rng: random.Random) -> dict[str, list[VariantRow]]:
    out: dict[str, list[VariantRow]] = {}
    for name, category, install, options, base in CATALOGUE:
        pid = _rid(rng, 10)
        s.add(ProductRow(product_id=pid, name=name, category=category, needs_installation=install))
        s.flush()  # parents first: inserts are not ordered by foreign key without relationships
        keys = list(options)
        combos: list[dict[str, str]] = [{}]
        for k in keys:
            combos = [{**c, k: v} for c in combos for v in options[k]]
        out[pid] = []
        for combo in combos:
            v = VariantRow(item_id=_rid(rng, 10), product_id=pid, options=combo, available=rng.random() > 0.12,
                           price=round(base * rng.uniform(0.92, 1.12), 2))
            s.add(v)
            out[pid].append(v)
    s.flush()
    return out


def _customers(s: Session, rng: random.Random, fake: Faker, now: datetime, n: int) -> list[CustomerRow]:
    people: list[CustomerRow] = []
    emails: set[str] = set()
    while len(people) < n:
        first, last = fake.first_name(), fake.last_name()
        email = f"{first}.{last}{rng.randrange(10, 9999)}@example.com".lower()
        if email in emails:
            continue
        emails.add(email)
        uid = f"{first}_{last}_{rng.randrange(1000, 9999)}".lower()
        street = fake.street_address()
        address2 = ""
        if " Apt. " in street or " Suite " in street:
            street, _, rest = street.partition(" Apt. ") if " Apt. " in street else street.partition(" Suite ")
            address2 = f"Apt {rest}" if rest else ""
        c = CustomerRow(user_id=uid, first_name=first, last_name=last, email=email,
                        phone=f"{rng.randrange(200, 989)}-{rng.randrange(200, 999)}-{rng.randrange(1000, 9999)}",
                        address1=street, address2=address2, city=fake.city(), state=fake.state_abbr(
                            include_territories=False, include_freely_associated_states=False),
                        country="USA", zip=fake.zipcode(), tier=rng.choices(["standard", "plus", "business"],
                                                                            [80, 15, 5])[0],
                        marketing_consent=rng.random() < 0.4, created_at=now - timedelta(days=rng.randrange(30, 1500)))
        s.add(c)
        people.append(c)
    s.flush()
    return people


def _payment_methods(s: Session, rng: random.Random, people: list[CustomerRow]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in people:
        ids = []
        for source in rng.sample(["credit_card", "paypal", "gift_card"], rng.randint(1, 3)):
            mid = f"{source}_{_rid(rng)}"
            s.add(PaymentMethodRow(id=mid, user_id=c.user_id, source=source,
                                   brand=rng.choice(["visa", "mastercard", "amex"]) if source == "credit_card" else None,
                                   last_four=f"{rng.randrange(0, 9999):04d}" if source == "credit_card" else None,
                                   balance=round(rng.uniform(20, 400), 2) if source == "gift_card" else None))
            ids.append(mid)
        out[c.user_id] = ids
    s.flush()
    return out


def _orders(s: Session, rng: random.Random, people: list[CustomerRow], methods: dict[str, list[str]],
            variants: dict[str, list[VariantRow]], today: date, now: datetime, n: int) -> list[dict[str, Any]]:
    products = {p: s.get(ProductRow, p) for p in variants}
    made: list[dict[str, Any]] = []
    owners = [people[i % len(people)] for i in range(n)]
    rng.shuffle(owners)
    for k, c in enumerate(owners):
        status = rng.choices(["pending", "processed", "delivered", "cancelled"], [30, 18, 42, 10])[0]
        age = {"pending": rng.randint(0, 2), "processed": rng.randint(2, 5), "delivered": rng.randint(4, 70),
               "cancelled": rng.randint(1, 60)}[status]
        created = now - timedelta(days=age, hours=rng.randint(0, 8), minutes=rng.randint(0, 59))
        oid = f"#W{1000000 + k * 13 + rng.randrange(0, 13):07d}"
        expected = today + timedelta(days=rng.randint(2, 6)) if status in {"pending", "processed"} else None
        if expected and expected.weekday() == 6:
            expected += timedelta(days=1)
        delivered = created.date() + timedelta(days=rng.randint(2, 4)) if status == "delivered" else None
        if delivered and delivered > today:
            delivered = today
        order = OrderRow(order_id=oid, user_id=c.user_id, status=status, address1=c.address1, address2=c.address2,
                         city=c.city, state=c.state, country="USA", zip=c.zip, created_at=created,
                         expected_delivery=expected, delivered_on=delivered,
                         cancel_reason=rng.choice(["no longer needed", "ordered by mistake"])
                         if status == "cancelled" else None, extra={})
        s.add(order)
        s.flush()
        chosen_products = rng.sample(list(variants), rng.choices([1, 2, 3], [60, 30, 10])[0])
        total = 0.0
        items = []
        for pos, pid in enumerate(chosen_products):
            v = rng.choice(variants[pid])
            product = products[pid]
            assert product is not None
            s.add(OrderItemRow(order_id=oid, position=pos, item_id=v.item_id, product_id=pid, name=product.name,
                               price=v.price, options=dict(v.options)))
            total += v.price
            items.append({"name": product.name, "install": product.needs_installation, "item_id": v.item_id})
        method = rng.choice(methods[c.user_id])
        s.add(PaymentRow(order_id=oid, transaction_type="payment", amount=round(total, 2), payment_method_id=method,
                         created_at=created))
        if rng.random() < 0.035 and status != "cancelled":
            s.add(PaymentRow(order_id=oid, transaction_type="payment", amount=round(total, 2),
                             payment_method_id=method, created_at=created + timedelta(seconds=rng.randint(5, 90))))
        if status == "cancelled":
            s.add(PaymentRow(order_id=oid, transaction_type="refund", amount=round(total, 2),
                             payment_method_id=method, created_at=created + timedelta(hours=3)))
        if status in {"processed", "delivered"}:
            s.add(FulfillmentRow(order_id=oid, carrier=rng.choice(["UPS", "FedEx", "USPS"]),
                                 tracking_ids=[_rid(rng, 12)], item_ids=[i["item_id"] for i in items]))
        if status != "cancelled":
            s.add(InvoiceRow(invoice_id=f"INV-{100000 + k}", user_id=c.user_id, order_id=oid,
                             description=f"Order {oid}", amount=round(total, 2), status="paid",
                             issued_on=created.date()))
        made.append({"order_id": oid, "user_id": c.user_id, "status": status, "items": items, "region":
                     region_of(c.state), "created": created, "delivered": delivered, "expected": expected})
    s.flush()
    return made


def _slots(s: Session, today: date) -> dict[str, list[SlotRow]]:
    out: dict[str, list[SlotRow]] = {r: [] for r in TECHNICIANS}
    n = 0
    for day in range(1, 22):
        d = today + timedelta(days=day)
        if d.weekday() == 6:
            continue
        for region, techs in TECHNICIANS.items():
            for tech in techs:
                for hour in WINDOWS:
                    n += 1
                    start = datetime.combine(d, time(hour))
                    slot = SlotRow(slot_id=f"SL-{n:05d}", start=start, end=start + timedelta(hours=2), region=region,
                                   technician=tech, free=True)
                    s.add(slot)
                    out[region].append(slot)
    s.flush()
    return out


def _appointments(s: Session, rng: random.Random, made: list[dict[str, Any]], slots: dict[str, list[SlotRow]],
                  today: date, now: datetime) -> list[dict[str, Any]]:
    appts: list[dict[str, Any]] = []
    n = 100000
    for o in made:
        if o["status"] not in {"processed", "delivered"} or not any(i["install"] for i in o["items"]):
            continue
        n += 1
        aid = f"APT-{n}"
        recent = o["status"] == "processed" or (o["delivered"] and (today - o["delivered"]).days < 12)
        if recent:
            # an installation is booked once the goods are there: from the day after their delivery
            ready = o["expected"] or today
            free = [x for x in slots[o["region"]] if x.free and x.start.date() > ready]
            slot = rng.choice(free[: max(1, len(free) // 2)])
            slot.free = False
            s.add(AppointmentRow(appointment_id=aid, user_id=o["user_id"], order_id=o["order_id"], kind="installation",
                                 slot_id=slot.slot_id, start=slot.start, technician=slot.technician, status="booked",
                                 region=o["region"]))
            appts.append({"id": aid, "user_id": o["user_id"], "status": "booked", "order_id": o["order_id"]})
        else:
            start = datetime.combine(o["delivered"] + timedelta(days=rng.randint(1, 6)), time(rng.choice(WINDOWS)))
            s.add(AppointmentRow(appointment_id=aid, user_id=o["user_id"], order_id=o["order_id"], kind="installation",
                                 slot_id=f"SL-PAST-{n}", start=start,
                                 technician=rng.choice(TECHNICIANS[o["region"]]),
                                 status="completed", region=o["region"]))
            appts.append({"id": aid, "user_id": o["user_id"], "status": "completed", "order_id": o["order_id"],
                          "day": start.date()})
    s.flush()
    return appts


def _charges(s: Session, rng: random.Random, appts: list[dict[str, Any]], made: list[dict[str, Any]],
             today: date) -> int:
    n = 100000
    count = 0
    for a in appts:
        n += 1
        s.add(ChargeRow(charge_id=f"CHG-{n}", user_id=a["user_id"], invoice_id=None, kind="installation",
                        description="Installation service", amount=79.0, status="charged",
                        created_on=today - timedelta(days=rng.randint(1, 20))))
        count += 1
        if rng.random() < 0.45:
            n += 1
            inv = f"INV-{200000 + n}"
            # a visit that happened is billed on its day; one still booked, for a change made too late before an
            # earlier window, in the last days
            issued, charged = (today - timedelta(days=rng.randint(1, 12)), today - timedelta(days=rng.randint(1, 12)))
            issued, charged = (a["day"], a["day"]) if a.get("day") else (issued, min(issued, charged))
            s.add(InvoiceRow(invoice_id=inv, user_id=a["user_id"], order_id=None, appointment_id=a["id"],
                             description=f"Call-out charge, appointment {a['id']}", amount=49.0, status="paid",
                             issued_on=issued))
            s.add(ChargeRow(charge_id=f"CHG-{n}", user_id=a["user_id"], invoice_id=inv, kind="callout",
                            description="Call-out charge", amount=49.0, status="charged", created_on=charged))
            count += 1
    for o in made:
        if o["status"] in {"processed", "delivered"} and rng.random() < 0.12:
            n += 1
            s.add(ChargeRow(charge_id=f"CHG-{n}", user_id=o["user_id"], invoice_id=None, kind="delivery",
                            description="Express delivery fee", amount=12.99, status="charged",
                            created_on=o["created"].date()))
            count += 1
    s.flush()
    return count
