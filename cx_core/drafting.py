"""Drafting: an extractive summary that keeps every request in order, and a reply that answers each request
from the retrieved knowledge (numbered citations) and says what was done or is needed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from .embedding import Embedder
from .models import Citation, Decision, Draft, Passage, Request, Triage
from .redact import redact_secrets

INTERNAL = re.compile(r"\b(advisors?|the customer|customers can|ask the|ask whether|hand (?:it|the case)|"
                      r"escalate|supervisor|do not argue|record the|log it|we use them)\b", re.I)
# a section written for staff: its heading says so, or the whole article is internal
STAFF_SECTION = re.compile(r"\((?:staff|internal)\)\s*$|^internal\b", re.I)
# what staff are told to pass on is meant for the customer: "Tell the customer (that) X" → "X"
TELL = re.compile(r"^(?:tell|explain to|remind|let) the customer(?: know)?(?: that)?\s+|^explain that\s+", re.I)
ASK = re.compile(r"^(?:ask|tell|remind|advise) the customer to\s+", re.I)
# a list item that is not a sentence of its own ("- Any charge billed twice.") is quoted with its lead-in
DETERMINER = re.compile(r"^(?:a|an|any|each|every|all|no|some)\b", re.I)
FRAGMENT = re.compile(r"^(?:[^A-Z0-9]|[^.:]{1,40}:\s)")
MIN_QUOTE = 0.35  # cosine similarity below which a knowledge sentence says nothing about the request
LABELS = {
    "order_status": "order status", "delivery_reschedule": "reschedule delivery", "address_change": "change address",
    "order_cancel": "cancel order", "return_refund": "return / refund", "exchange": "exchange",
    "damaged_item": "damaged item", "duplicate_charge": "duplicate charge", "resend_invoice": "resend invoice",
    "contact_update": "update contact details", "payment_method": "payment method",
    "installation_reschedule": "reschedule installation", "charge_dispute": "charge dispute",
    "technical_question": "technical question", "account_access": "account access", "complaint": "complaint",
    "data_request": "data protection request", "unclassified": "unclassified",
}


@dataclass
class StepOutcome:
    action: str
    args: dict[str, Any]
    intent: str
    decision: Decision
    reason: str
    result: dict[str, Any] | None
    missing: str = ""
    planned: dict[str, str] = field(default_factory=dict)  # what the step will give once approved (a slot's start)


def label(intent: str) -> str:
    return LABELS.get(intent, intent.replace("_", " "))


def _short(text: str, limit: int = 160) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def summarise(triage: Triage, customer: dict[str, Any] | None, channel: str, escalation: str) -> str:
    who = f"{customer['name']} ({customer['tier']})" if customer else "Unknown sender"
    parts = [f"{who} via {channel}."]
    if triage.abstained:
        parts.append(f"No request recognised with confidence (best guess: {label(triage.intent)}, "
                     f"{triage.confidence:.0%}).")
    elif triage.requests:
        n = len(triage.requests)
        parts.append(f"{n} request{'s' if n > 1 else ''}: " + " ".join(
            f"({i}) {label(r.intent)}: \"{_short(redact_secrets(r.text))}\"" for i, r in enumerate(triage.requests, 1)))
    if triage.sentiment == "negative":
        parts.append(f"Customer is upset (frustration {triage.frustration:.2f}).")
    if escalation:
        parts.append(f"Needs a person: {escalation}.")
    return " ".join(parts)


def _sentences(text: str, heading: str = "") -> list[str]:
    """The sentences of a passage; a list item that cannot stand alone carries its lead-in (the line before the
    list when it ends in ':', else the section heading): "When we credit: any charge billed twice."."""
    text = re.sub(r"\*\*|__|`", "", text)
    out: list[str] = []
    section = re.sub(r"\s*\((?:staff|internal)\)\s*$", "", heading, flags=re.I).strip()
    lead = section
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            lead = section  # a blank line ends the list a lead-in introduced
        if not line or line.startswith("|"):
            continue
        item = re.match(r"^(?:[-*]|\d+\.)\s+(.*)", line)
        if item is None:
            if line.endswith(":"):
                lead = line[:-1].strip() + " "  # a sentence that the list completes
                continue
            out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if len(s.strip()) > 20)
            continue
        line = item.group(1).strip()
        if DETERMINER.search(line) or FRAGMENT.search(line):
            if not lead:
                continue
            glue = "" if lead.endswith(" ") else ": "
            line = f"{lead}{glue}{line[0].lower() + line[1:] if DETERMINER.search(line) else line}".rstrip(";,")
            out.append(line if line.endswith((".", "!", "?")) else line + ".")
            continue
        out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if len(s.strip()) > 20)
    return out


def _money(x: float) -> str:
    return f"${x:,.2f}"


def _day(iso: str) -> str:
    try:
        d = date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    text = d.strftime("%A %d %B").replace(" 0", " ")
    return text + (f" at {iso[11:16]}" if len(iso) > 10 else "")


def action_sentence(o: StepOutcome) -> str:
    """What we did (or will do once approved), what policy refused, or what we still need."""
    a, r = o.args, (o.result or {})
    if o.decision == Decision.abstained:
        return ""
    if o.decision == Decision.denied:
        return f"I'm sorry, I can't do that: {o.reason}."
    if o.decision == Decision.escalated:
        return "I've passed this to a specialist colleague who will review it personally and get back to you."
    if o.action == "lookup_order":
        if not r:
            return f"I'm checking order {a.get('order_id')} for you."
        text = f"Your order {r['order_id']} is {r['status']}"
        if r.get("expected_delivery") and r["status"] in {"pending", "processed"}:
            text += f" and is expected on {_day(r['expected_delivery'])}"
        if r.get("delivered_on") and r["status"] == "delivered":
            text += f"; it was delivered on {_day(r['delivered_on'])}"
        if r.get("tracking"):
            text += f" (tracking number {r['tracking'][0]})"
        return text + "."
    done = {
        "reschedule_delivery": lambda: f"I've moved the delivery of order {a['order_id']} to {_day(a['new_date'])}.",
        "change_shipping_address": lambda: (f"I've changed the shipping address of order {a['order_id']} to "
                                            f"{a['address1']}{', ' + a['address2'] if a.get('address2') else ''}, "
                                            f"{a['city']}, {a['state']} {a['zip']}."),
        "cancel_order": lambda: (f"I've cancelled order {a['order_id']}; everything you paid will be refunded to "
                                 "your original payment method."),
        "return_items": lambda: (f"I've opened a return for order {a['order_id']}: you'll receive a prepaid label "
                                 "by email, and the refund goes to your original payment method."),
        "exchange_item": lambda: (f"I've arranged the exchange on order {a['order_id']}; return instructions are on "
                                  "their way by email and the new item ships when we receive the old one."),
        "refund": lambda: f"I've refunded {_money(float(a['amount']))} on order {a['order_id']}.",
        "resend_invoice": lambda: f"I've sent invoice {a['invoice_id']} again to the email address on your account.",
        "credit_charge": lambda: f"I've credited {_money(float(a['amount']))} for charge {a['charge_id']}.",
        "update_contact_details": lambda: "I've updated your contact details" + (
            f": email {a['email']}" if a.get("email") else "") + (f", phone {a['phone']}" if a.get("phone") else "")
            + ".",
        "reschedule_appointment": lambda: ("I've moved your installation appointment" + (
            f" to {_day(start)}" if (start := r.get("start") or o.planned.get("start")) else "")
            + "; you'll get a confirmation by email."),
        "notify_field_team": lambda: "",
        "add_internal_note": lambda: ("I've recorded your complaint on your account, so that everyone who helps "
                                      "you knows what happened." if o.intent == "complaint" else ""),
    }
    make = done.get(o.action)
    return make() if make else ""


class Drafter:
    """Picks the knowledge sentences closest to each request and writes the reply around the outcomes."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def best_sentences(self, request: str, passages: list[Passage], n: int = 2,
                       skip: set[str] | None = None, topical: bool = False) -> list[tuple[str, Passage]]:
        """Up to ``n`` customer-facing knowledge sentences close to the request (cosine ≥ ``MIN_QUOTE``), from the
        top passages, kept in their reading order. Instructions written for staff are never quoted to customers,
        except what staff are told to tell the customer; sentences in ``skip`` (already quoted) are not repeated."""
        pool: list[tuple[str, Passage, int]] = []
        for rank, p in enumerate(passages):
            staff = bool(STAFF_SECTION.search(p.heading) or STAFF_SECTION.search(p.title))
            for sent in _sentences(p.text, p.heading):
                sent = customer_facing(sent, staff)
                if sent and sent not in (skip or set()):
                    pool.append((sent, p, rank))
        if not pool or n <= 0:
            return []
        vecs = self.embedder.encode([request, *[x[0] for x in pool]])
        raw = vecs[1:] @ vecs[0]
        if topical:  # judged with its section's heading too, which says what it is about ("Pairing with Google
            # Home: to pair, open Integrations…"); the sentence alone is quoted
            raw = (raw + self.embedder.encode([f"{x[1].heading}: {x[0]}" for x in pool]) @ vecs[0]) / 2
        sims = raw - 0.03 * np.array([x[2] for x in pool])
        order = sorted(i for i in np.argsort(-sims)[:n].tolist() if raw[i] >= MIN_QUOTE)
        return [(pool[i][0], pool[i][1]) for i in order]

    def draft(self, triage: Triage, customer: dict[str, Any] | None, channel: str,
              passages: dict[str, list[Passage]], outcomes: list[StepOutcome], questions: dict[str, str],
              escalation: str, autonomy: int) -> Draft:
        summary = summarise(triage, customer, channel, escalation)
        if autonomy < 1:
            return Draft(summary=summary, reply="", citations=[])
        first = customer["first_name"] if customer else "there"
        citations: list[Citation] = []

        def cite(p: Passage) -> int:
            for i, c in enumerate(citations, 1):
                if c.doc_id == p.doc_id and c.heading == p.heading:
                    return i
            citations.append(Citation(doc_id=p.doc_id, title=p.title, heading=p.heading))
            return len(citations)

        paragraphs: list[str] = []
        if triage.sentiment == "negative":
            paragraphs.append("I'm sorry for the trouble, and thank you for your patience.")
        requests: list[Request] = triage.requests
        if triage.abstained or not requests:
            paragraphs.append("Thank you for your message. A colleague is reviewing it and will reply shortly; if you "
                              "can, please include your order number and what you would like us to do.")
        quoted: set[str] = set()
        asked: set[str] = set()
        for req in requests:
            mine = [o for o in outcomes if o.intent == req.intent]
            lines = [s for o in mine if (s := action_sentence(o))]
            if escalation and not lines:
                lines.append("A specialist colleague will review this personally and get back to you.")
            if req.intent in questions and questions[req.intent] not in asked:
                asked.add(questions[req.intent])  # one question put once, however many requests need it
                q = questions[req.intent].rstrip(".")
                lines.append(q[0].upper() + q[1:] + ("" if q.endswith("?") else "."))
            # what to quote: nothing when a person takes it over; why, when policy refused; one fact beside an
            # action; two when the customer only asked
            if escalation or any(o.decision == Decision.escalated for o in mine):
                query, n = req.text, 0
            elif denied := [o for o in mine if o.decision == Decision.denied]:
                query, n = denied[0].reason, 1
            elif any(o.action != "send_reply" and o.decision != Decision.abstained for o in mine):
                query, n = req.text, 1
            else:
                query, n = req.text, 2
            for sentence, p in self.best_sentences(query, passages.get(req.intent, [])[:3], n, quoted,
                                                   topical=n == 2):
                quoted.add(sentence)
                lines.append(f"{sentence} [{cite(p)}]")
            if lines:
                paragraphs.append(" ".join(lines))
        reply = f"Hi {first},\n\n" + "\n\n".join(redact_secrets(p) for p in paragraphs) + \
            "\n\nKind regards,\nLumen Home Customer Care"
        return Draft(summary=summary, reply=reply, citations=citations)


def customer_facing(sentence: str, staff_section: bool) -> str:
    """The sentence as it may be quoted to a customer, or '' when it is an instruction for staff."""
    told = TELL.sub("", sentence)
    if ASK.search(sentence):
        sentence = "Please " + _to_customer(ASK.sub("", sentence))
    elif told != sentence:
        sentence = _to_customer(told)
    elif staff_section:
        return ""
    return "" if INTERNAL.search(sentence) else sentence[0].upper() + sentence[1:]


def _to_customer(text: str) -> str:
    text = re.sub(r"\bthe customer's\b", "your", text, flags=re.I)
    text = re.sub(r"\b(?:the customer|they|them)\b", "you", text, flags=re.I)
    return re.sub(r"\btheir\b", "your", text, flags=re.I)


def for_customer(reply: str) -> str:
    """The reply as the customer receives it: citation markers removed."""
    return re.sub(r"\s?\[\d+\]", "", reply)
