"""The live simulator: realistic tickets about real demo records, in many voices and channels."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from cx_core.desk.inbox import cut_words
from cx_core.models import Channel, TicketIn
from cx_core.store.db import Database
from domains.lumen.tables import AppointmentRow, ChargeRow, CustomerRow, InvoiceRow, OrderItemRow, OrderRow, PaymentRow

TEMPLATES: dict[str, list[str]] = {
    "order_status": [
        "Could you let me know where order {order} is? It still hasn't arrived.",
        "I'm waiting for my {item} (order {order}) and there's been no update for days.",
        "what's happening with {order}?? no tracking info at all",
        "Hi, has my {item} been dispatched yet? Order number {order}.",
    ],
    "delivery_reschedule": [
        "I won't be in for the delivery of order {order}. Could it come on {date} instead?",
        "Please can you move my delivery for {order} to {date}, I'm away before then.",
        "need the {item} delivered {date} not earlier. order {order}",
    ],
    "address_change": [
        "I've just moved house. Please ship order {order} to {address} instead.",
        "The delivery address on {order} is wrong, it should be {address}.",
        "can u send my {item} to {address}? order {order}",
    ],
    "order_cancel": [
        "I ordered the {item} by mistake, please cancel order {order}.",
        "Please cancel {order}, I don't need the {item} any more.",
        "cancel my order {order} pls, changed my mind",
    ],
    "return_refund": [
        "I'd like to send back the {item} from order {order} and get my money back.",
        "The {item} isn't right for us. How do I return it? Order {order}.",
        "want to return the {item} ({order}) for a refund",
    ],
    "exchange": [
        "The {item} from {order} is lovely but I wanted it in {colour}. Can I swap it?",
        "Could I exchange my {item} for the {colour} one? Order {order}.",
    ],
    "damaged_item": [
        "My {item} from order {order} arrived with a cracked panel and it won't switch on.",
        "The {item} was damaged in delivery, the box was crushed and it's broken. Order {order}.",
        "{item} came broken!! order {order}",
    ],
    "duplicate_charge": [
        "My card was charged twice for order {order}, {amount} both times. Please refund one.",
        "I can see the same payment of {amount} two times on my statement for {order}.",
    ],
    "resend_invoice": [
        "Please could you email me the invoice for order {order}? I need it for my records.",
        "I need a copy of invoice {invoice} for my accountant.",
        "can you resend the invoice for {order}",
    ],
    "contact_update": [
        "Please update my email address to {new_email}.",
        "My mobile number has changed, it's now {new_phone}.",
        "new phone number: {new_phone}, please update my account",
    ],
    "payment_method": [
        "How can I change the card I use to pay? My old one expired.",
        "I'd like to pay with PayPal from now on, how do I set that up?",
    ],
    "installation_reschedule": [
        "I can't be home for the installation on {appt_day}. Could the technician come on {date}?",
        "Please move my installation appointment {appt} to {date}.",
        "need to rebook the install, {appt_day} doesn't work anymore. is {date} free?",
    ],
    "charge_dispute": [
        "I was charged a {amount} call-out fee but the technician never turned up. Please remove it.",
        "Why is there a call-out charge of {amount} on my account? I was home all day and nobody came.",
        "dispute the {amount} callout charge, your engineer was 3 hours late",
    ],
    "technical_question": [
        "My smart thermostat won't connect to the Wi-Fi, what should I do?",
        "How do I get the soundbar to work with my new TV remote?",
        "The mesh wifi keeps dropping out in the kitchen, any tips?",
        "How do I pair my thermostat with Google Home?",
    ],
    "account_access": [
        "I can't sign in, the password reset email never comes through.",
        "My account says it's locked. How do I get back in?",
    ],
    "complaint": [
        "I am really disappointed with the service I've had from Lumen Home lately. Nobody calls back.",
        "I want to make a formal complaint about how my order was handled.",
    ],
    "data_request": [
        "Under data protection law I'd like a copy of all personal data you hold on me.",
        "Please delete my personal data from your systems.",
    ],
}
MULTI = [("installation_reschedule", "charge_dispute"), ("address_change", "order_status"),
         ("return_refund", "resend_invoice"), ("delivery_reschedule", "contact_update"),
         ("damaged_item", "complaint"), ("duplicate_charge", "resend_invoice")]
WEIGHTS = {"order_status": 12, "delivery_reschedule": 7, "address_change": 7, "order_cancel": 7, "return_refund": 9,
           "exchange": 4, "damaged_item": 6, "duplicate_charge": 3, "resend_invoice": 6, "contact_update": 4,
           "payment_method": 3, "installation_reschedule": 6, "charge_dispute": 5, "technical_question": 7,
           "account_access": 4, "complaint": 3, "data_request": 2}
GREETINGS = ["Hello,", "Hi there,", "Good morning,", "Dear Lumen Home team,", "Hi,"]
CLOSINGS = ["Thanks,", "Many thanks,", "Kind regards,", "Best,", "Cheers,"]
CONTEXT = ["I've been a customer for a few years and normally everything is fine.",
           "I ordered this as a present, so the timing matters.", "I tried the website first but couldn't find how.",
           "My partner placed the order but it's on my account."]
STREETS = ["Maple Avenue", "Cedar Lane", "Harbor Road", "Willow Street", "Pine Drive", "Lakeview Boulevard"]
CITIES = [("Denver", "CO", "80203"), ("Austin", "TX", "78701"), ("Portland", "OR", "97205"),
          ("Columbus", "OH", "43215"), ("Boston", "MA", "02116"), ("Raleigh", "NC", "27601")]


@dataclass
class Pools:
    customers: dict[str, CustomerRow]
    orders: dict[str, list[OrderRow]]
    items: dict[str, list[OrderItemRow]]
    duplicates: list[tuple[str, str, float]]
    invoices: list[InvoiceRow]
    appointments: list[AppointmentRow]
    callouts: list[ChargeRow]


def load_pools(db: Database) -> Pools:
    with db.session() as s:
        customers = {c.user_id: c for c in s.scalars(select(CustomerRow))}
        orders: dict[str, list[OrderRow]] = {}
        for o in s.scalars(select(OrderRow)):
            orders.setdefault(o.status, []).append(o)
        items: dict[str, list[OrderItemRow]] = {}
        for i in s.scalars(select(OrderItemRow)):
            items.setdefault(i.order_id, []).append(i)
        pays: dict[str, list[PaymentRow]] = {}
        for p in s.scalars(select(PaymentRow).where(PaymentRow.transaction_type == "payment")):
            pays.setdefault(p.order_id, []).append(p)
        owners = {o.order_id: o.user_id for group in orders.values() for o in group}
        duplicates = [(owners[oid], oid, ps[0].amount) for oid, ps in pays.items() if len(ps) > 1]
        invoices = list(s.scalars(select(InvoiceRow)))
        appts = list(s.scalars(select(AppointmentRow).where(AppointmentRow.status == "booked")))
        callouts = list(s.scalars(select(ChargeRow).where(ChargeRow.kind == "callout",
                                                          ChargeRow.status == "charged")))
        s.expunge_all()
    return Pools(customers, orders, items, duplicates, invoices, appts, callouts)


def typos(text: str, rng: random.Random, rate: float = 0.08) -> str:
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) > 4 and w.isalpha() and rng.random() < rate:
            j = rng.randrange(1, len(w) - 2)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:] if rng.random() < 0.6 else w[:j] + w[j + 1:]
    return " ".join(words)


class Simulator:
    """Makes tickets; ``rng`` fixes the sequence, ``now`` anchors relative dates."""

    def __init__(self, db: Database, seed: int = 7) -> None:
        self.db = db
        self.rng = random.Random(seed)
        self.pools = load_pools(db)
        self.counter = 0

    def _fill(self, task: str, user_id: str | None, now: datetime) -> tuple[str | None, dict[str, Any]] | None:
        """Picks a record that fits the task and the values for the template."""
        rng, p = self.rng, self.pools
        day = now.date() + timedelta(days=rng.randint(2, 9))
        if day.weekday() == 6:
            day += timedelta(days=1)
        values: dict[str, Any] = {"date": day.strftime("%A %d %B").replace(" 0", " ")}
        status_for = {"order_status": ["processed", "pending"], "delivery_reschedule": ["processed", "pending"],
                      "address_change": ["pending"], "order_cancel": ["pending"], "return_refund": ["delivered"],
                      "exchange": ["delivered"], "damaged_item": ["delivered"], "resend_invoice": ["delivered"]}
        if task in status_for:
            pool = [o for st in status_for[task] for o in p.orders.get(st, [])
                    if user_id is None or o.user_id == user_id]
            if not pool:
                return None
            o = rng.choice(pool)
            item = rng.choice(p.items[o.order_id])
            invoice = next((i.invoice_id for i in p.invoices if i.order_id == o.order_id), None)
            if task == "resend_invoice" and invoice is None:
                return None
            values.update(order=o.order_id, item=item.name.lower(), colour=self._other_colour(item),
                          invoice=invoice or "")
            if task == "address_change":
                city, state, zip_code = rng.choice(CITIES)
                values["address"] = f"{rng.randint(10, 999)} {rng.choice(STREETS)}, {city}, {state} {zip_code}"
            return o.user_id, values
        if task == "duplicate_charge":
            dups = [d for d in p.duplicates if user_id is None or d[0] == user_id]
            if not dups:
                return None
            uid, oid, amount = rng.choice(dups)
            return uid, {**values, "order": oid, "amount": f"${amount:.2f}"}
        if task == "installation_reschedule" or task == "charge_dispute":
            if task == "charge_dispute":
                pool_c = [c for c in p.callouts if user_id is None or c.user_id == user_id]
                if not pool_c:
                    return None
                ch = rng.choice(pool_c)
                return ch.user_id, {**values, "amount": f"${ch.amount:.0f}"}
            pool_a = [a for a in p.appointments if user_id is None or a.user_id == user_id]
            if not pool_a:
                return None
            a = rng.choice(pool_a)
            if a.start.date() == day:  # the customer asks for another day than the one booked
                values["date"] = (day + timedelta(days=2 if day.weekday() == 5 else 1)).strftime("%A %d %B") \
                    .replace(" 0", " ")
            return a.user_id, {**values, "appt": a.appointment_id,
                               "appt_day": a.start.strftime("%A").replace(" 0", " ")}
        if task == "contact_update":
            uid = user_id or rng.choice(list(p.customers))
            c = p.customers[uid]
            return uid, {**values, "new_email": f"{c.first_name}.{c.last_name}.{rng.randint(1, 99)}@mailbox.org".lower(),
                         "new_phone": f"{rng.randint(200, 989)}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}"}
        uid = user_id or rng.choice(list(p.customers))
        return uid, values

    def _other_colour(self, item: OrderItemRow) -> str:
        colours = ["black", "white", "silver", "blue", "red", "grey", "gold"]
        current = str(item.options.get("color", ""))
        return self.rng.choice([c for c in colours if c != current])

    def _style(self, parts: list[str], first: str, channel: Channel, angry: bool) -> str:
        rng = self.rng
        if channel == Channel.chat:
            text = " ".join(parts)
            text = text[0].lower() + text[1:]
            return typos(text, rng, 0.1) if rng.random() < 0.5 else text
        if angry:
            parts = [p.upper() if rng.random() < 0.3 else p for p in parts]
            parts.append(rng.choice(["This is the third time I'm writing about this!!!",
                                     "Absolutely unacceptable.", "I'm fed up with waiting."]))
        body = " ".join(parts)
        if rng.random() < 0.25:
            body = typos(body, rng)
        if channel == Channel.email:
            context = rng.choice(CONTEXT) + " " if rng.random() < 0.4 else ""
            return f"{rng.choice(GREETINGS)}\n\n{context}{body}\n\n{rng.choice(CLOSINGS)}\n{first}"
        if channel == Channel.phone:
            return f"Call notes: customer says {body[0].lower() + body[1:]}"
        return body

    def ticket(self, now: datetime) -> TicketIn:
        """One new ticket at ``now``."""
        rng = self.rng
        for _ in range(50):
            tasks = list(rng.choice(MULTI)) if rng.random() < 0.2 else \
                [rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]]
            first = self._fill(tasks[0], None, now)
            if first is None:
                continue
            uid, values = first
            texts = [rng.choice(TEMPLATES[tasks[0]]).format(**values)]
            ok = True
            for extra in tasks[1:]:
                more = self._fill(extra, uid, now)
                if more is None:
                    ok = False
                    break
                texts.append(rng.choice(TEMPLATES[extra]).format(**more[1]))
            if ok:
                break
        else:  # pragma: no cover - the demo world always has records for some task
            uid, texts, tasks = None, ["Hello, I have a question about my account."], ["account_access"]
        customer = self.pools.customers.get(uid or "")
        channel = rng.choices(list(Channel), [50, 30, 10, 10])[0]
        angry = rng.random() < 0.15
        body = self._style(texts, customer.first_name if customer else "", channel, angry)
        sender: str | None = customer.email if customer else None
        roll = rng.random()
        if roll < 0.04:
            sender = f"someone{rng.randint(100, 999)}@mailinator.example"
        elif roll < 0.07:
            sender = None
        self.counter += 1
        subject = "" if channel == Channel.chat else cut_words(re.sub(r"[.?!](?:\s.*)?$", "", texts[0]), 70)
        stamp = now.strftime("%Y%m%d%H%M%S")
        return TicketIn(id=f"T-{stamp}-{self.counter:04d}-{rng.randint(100, 999)}", customer=sender,
                        channel=channel, subject=subject, body=body, created_at=now)

    def tickets(self, n: int, now: datetime, spread_minutes: int = 0) -> list[TicketIn]:
        out = []
        for i in range(n):
            at = now - timedelta(minutes=spread_minutes * (n - i) / max(n, 1)) if spread_minutes else now
            out.append(self.ticket(at))
        return out


def labelled(sim: Simulator, n: int, now: datetime) -> list[tuple[TicketIn, str]]:
    """Single-issue tickets with their true task type (for tests and benchmarks)."""
    out = []
    rng = sim.rng
    for _ in range(n):
        task = rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
        got = sim._fill(task, None, now)
        if got is None:
            continue
        uid, values = got
        c = sim.pools.customers[uid] if uid else None
        body = sim._style([rng.choice(TEMPLATES[task]).format(**values)], c.first_name if c else "", Channel.email,
                          False)
        sim.counter += 1
        out.append((TicketIn(id=f"L-{sim.counter}", customer=c.email if c else None, channel=Channel.email,
                             subject="", body=body, created_at=now), task))
    return out
