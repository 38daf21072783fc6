"""Drafting: an extractive summary that keeps every request in order, and a reply that answers each request
from the retrieved knowledge (numbered citations) and says what was done or is needed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .domain import active
from .embedding import Embedder
from .models import Citation, Decision, Draft, Passage, ReplyPart, Request, Triage
from .redact import redact_secrets
from .wording import DONE, WAITING, WORDING, claimed_actions, day, sentence

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
    return "unclassified" if intent == "unclassified" else active().label(intent)


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


def action_sentence(o: StepOutcome) -> str:
    """The reply's sentence for an outcome at processing time (see ``outcome_sentence``)."""
    status = {"executed": "executed", "escalated": "escalated", "denied": "denied"}.get(o.decision.value, "pending")
    return outcome_sentence(o.action, o.args, o.result, o.planned, o.intent, o.decision.value, status, o.reason)


def outcome_sentence(action: str, args: dict[str, Any], result: dict[str, Any] | None, planned: dict[str, str],
                     intent: str, decision: str, status: str, reason: str = "", note: str = "") -> str:
    """What the reply says about one proposal in its current state: what was done once it ran; what happens next
    while it waits (never that it is done); why not, when policy refused it as the agent planned it; nothing (or
    the advisor's own words, ``note``) once a person rejected it or it was refused on approval."""
    if action == "lookup_order":
        return _lookup_sentence(args, result or {}) if status == "executed" or result else ""
    if status == "executed":
        return sentence(action, DONE, args, result, planned, intent)
    if decision == "denied":
        return f"I'm sorry, I can't do that: {reason}." if reason else ""
    if status in {"rejected", "denied", "failed"}:
        return note.strip()
    if decision == "abstained":
        return ""  # the question for what is missing is asked instead
    if status == "escalated" or decision == "escalated":
        return "A specialist colleague will review this personally and get back to you."
    return sentence(action, WAITING, args, result, planned, intent)


def _lookup_sentence(a: dict[str, Any], r: dict[str, Any]) -> str:
    if not r:
        return f"I'm checking order {a.get('order_id')} for you."
    text = f"Your order {r['order_id']} is {r['status']}"
    if r.get("expected_delivery") and r["status"] in {"pending", "processed"}:
        text += f" and is expected on {day(r['expected_delivery'])}"
    if r.get("delivered_on") and r["status"] == "delivered":
        text += f"; it was delivered on {day(r['delivered_on'])}"
    if r.get("tracking"):
        text += f" (tracking number {r['tracking'][0]})"
    return text + "."


@dataclass
class ProposalState:
    """A proposal as it stands now: what the reply's sentence about it is made from."""

    action: str
    args: dict[str, Any]
    decision: str
    status: str
    result: dict[str, Any] | None = None
    reason: str = ""
    note: str = ""  # what the advisor chose to tell the customer instead, when rejecting it


def recompose(parts: list[ReplyPart], states: dict[int, ProposalState]) -> list[ReplyPart]:
    """The reply's parts with every action sentence worded for its proposal's current state; the knowledge quoted
    beside an action stays only while the action's own sentence does."""
    out: list[ReplyPart] = []
    kept: dict[int, bool] = {}
    for part in parts:
        if part.kind == "action" and part.proposal is not None and part.proposal in states:
            st_ = states[part.proposal]
            text = outcome_sentence(st_.action, st_.args, st_.result, part.planned, part.intent, st_.decision,
                                    st_.status, st_.reason, st_.note)
            kept[part.proposal] = kept.get(part.proposal, False) or bool(text)
            out.append(part.model_copy(update={"text": text}))
        elif part.kind == "support" and part.proposal is not None and part.proposal in states:
            st_ = states[part.proposal]
            stays = st_.status in {"executed", "pending", "escalated"} or st_.decision == "denied"
            out.append(part if stays else part.model_copy(update={"text": ""}))
        else:
            out.append(part)
    # a quote beside an action whose sentence is gone goes too, wherever it stands
    return [p.model_copy(update={"text": ""}) if p.kind == "support" and p.proposal is not None
            and p.proposal in kept and not kept[p.proposal] else p for p in out]


def render(parts: list[ReplyPart]) -> str:
    """The reply text: the sentences of a paragraph joined by a space, paragraphs by a blank line, empty ones
    left out."""
    paragraphs: dict[int, list[str]] = {}
    for p in parts:
        if p.text.strip():
            paragraphs.setdefault(p.paragraph, []).append(p.text.strip())
    return "\n\n".join(" ".join(v) for _, v in sorted(paragraphs.items()))


def merge_edits(edited: str, before: list[ReplyPart], after: list[ReplyPart]) -> str:
    """The advisor's edited reply with each action sentence (and its quote) changed as ``after`` says, so a
    decision rewords the draft without losing the advisor's edits to other sentences. A sentence the advisor
    rewrote is theirs and is left as they wrote it; a sentence that appears where there was none goes after the
    sentence it follows in the draft (or before the sign-off)."""
    text = edited
    for i, (old, new) in enumerate(zip(before, after, strict=True)):
        if old.text == new.text or old.kind == "text":
            continue
        if old.text and old.text in text:
            text = text.replace(old.text, new.text, 1)
        elif not old.text and new.text:
            anchor = next((p.text for p in reversed(after[:i]) if p.text and p.text in text
                           and p.paragraph == new.paragraph), "")
            if anchor:
                text = text.replace(anchor, f"{anchor} {new.text}", 1)
            else:
                sign_off = next((p.text for p in after if p.kind == "text" and p.paragraph == after[-1].paragraph
                                 and p.text in text), "")
                text = text.replace(sign_off, f"{new.text}\n\n{sign_off}", 1) if sign_off else f"{text}\n\n{new.text}"
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"[ \t]+\n|\n[ \t]+", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


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
                # a rule worded as something done ("the order was cancelled") is never quoted: it would read as a claim
                if sent and sent not in (skip or set()) and not claimed_actions(sent, strict=True):
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

        parts: list[ReplyPart] = [ReplyPart(text=f"Hi {first},", paragraph=0)]

        def say(text: str, kind: str = "text", proposal: int | None = None, **extra: Any) -> None:
            parts.append(ReplyPart(text=redact_secrets(text), paragraph=paragraph, kind=kind,  # type: ignore[arg-type]
                                   proposal=proposal, **extra))

        paragraph = 1
        if triage.sentiment == "negative":
            say("I'm sorry for the trouble, and thank you for your patience.")
        requests: list[Request] = triage.requests
        if triage.abstained or not requests:
            paragraph += 1
            say("Thank you for your message. A colleague is reviewing it and will reply shortly; if you can, please "
                "include your order number and what you would like us to do.")
        quoted: set[str] = set()
        asked: set[str] = set()
        for req in requests:
            paragraph += 1
            mine = [(i, o) for i, o in enumerate(outcomes) if o.intent == req.intent]
            spoke = False
            for i, o in mine:
                if text := action_sentence(o):
                    say(text, "action", i, intent=o.intent, planned=dict(o.planned))
                    spoke = True
                elif o.action in WORDING or o.action == "lookup_order":
                    # silent now (it waits for details), but it has words once a person decides
                    say("", "action", i, intent=o.intent, planned=dict(o.planned))
            if escalation and not spoke:
                say("A specialist colleague will review this personally and get back to you.")
            if req.intent in questions and questions[req.intent] not in asked:
                asked.add(questions[req.intent])  # one question put once, however many requests need it
                q = questions[req.intent].rstrip(".")
                say(q[0].upper() + q[1:] + ("" if q.endswith("?") else "."))
            # what to quote: nothing when a person takes it over; why, when policy refused; one fact beside an
            # action (it stays only while the action's sentence does); two when the customer only asked
            beside: int | None = None
            if escalation or any(o.decision == Decision.escalated for _, o in mine):
                query, n = req.text, 0
            elif denied := [(i, o) for i, o in mine if o.decision == Decision.denied]:
                (beside, first_denied), n = denied[0], 1
                query = first_denied.reason
            elif acting := [i for i, o in mine if o.action != "send_reply" and o.decision != Decision.abstained]:
                query, n, beside = req.text, 1, acting[0]
            else:
                query, n = req.text, 2
            for quote, p in self.best_sentences(query, passages.get(req.intent, [])[:3], n, quoted, topical=n == 2):
                quoted.add(quote)
                say(f"{quote} [{cite(p)}]", "support" if beside is not None else "text", beside)
        paragraph += 1
        say(active().brand.signature)
        reply = render(parts)
        return Draft(summary=summary, reply=reply, citations=citations, parts=parts)


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
