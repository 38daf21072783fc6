"""Drafting: an extractive summary that keeps every request in order, and a reply that answers each request
from the retrieved knowledge (numbered citations) and says what was done or is needed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from .actions.base import is_read
from .domain import active
from .embedding import Embedder
from .empathy import GIFT, empathy
from .models import Citation, Decision, Draft, Passage, ReplyPart, Request, Triage
from .passages import (
    ASKS_FOR,
    DEFINITION,
    answers_beside,
    other_case,
    quotable_sentences,
    restates,
    same_point,
    statements,
)
from .plans import ASKS_ONLY, HOLDER_ONLY, NOT_VERIFIED
from .reading import language
from .redact import redact_secrets
from .safe_text import plain_text
from .signals import CALL_NOTES
from .wording import (
    CONFIRM,
    DONE,
    FAILED,
    PROPOSED,
    REFUSED,
    WAITING,
    WORDING,
    claimed_actions,
    day,
    has_words,
    offer,
    sentence,
)

INTERNAL = re.compile(r"\b(advisors?|the customer|a customer|customers can|ask the|ask whether|tell them|"
                      r"hand (?:it|the case)|escalate|supervisor|do not argue|record the|log it|we use them)\b", re.I)
# a section written for staff: its heading says so, or the whole article is internal
STAFF_SECTION = re.compile(r"\((?:staff|internal)\)\s*$|^internal\b", re.I)
# what staff are told to pass on is meant for the customer: "Tell the customer (that) X" → "X"
TELL = re.compile(r"^(?:tell|explain to|remind|let) the customer(?: know)?(?: that)?\s+|^explain that\s+", re.I)
ASK = re.compile(r"^(?:ask|tell|remind|advise) the customer to\s+", re.I)
# a list item that is not a sentence of its own ("- Any charge billed twice.") is quoted with its lead-in
MIN_QUOTE = 0.35  # cosine similarity below which a knowledge sentence says nothing about the request
SAME_SECTION = 0.03  # a second sentence from the first one's section (the rest of its steps) is preferred by this
SECOND_QUOTE_GAP = 0.15  # a second sentence is quoted only when it answers nearly as well as the first
KIN_SLACK = 0.1  # the first quote's section reads on (its next step) a little below MIN_QUOTE: it is the answer
BESIDE_MIN = 0.45  # beside an action that answers the request itself, a fact must be closer still to be worth adding
BESIDE_READ_MIN = 0.55  # beside what a look-up found (an order's status, a booking), closer again


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


HANDED_OVER = "A specialist colleague will review this personally and get back to you."
# a reply with nothing else to say says what happens next, never only hello and goodbye
NEXT = "A colleague is looking at your message and will get back to you shortly."
# a message the agent cannot place, and what it asks for unless the message gives a reference already
UNPLACED = "Thank you for your message. A colleague is reviewing it and will reply shortly"
UNPLACED_ASK = ("; if you can, please include your reference number (order, booking or account) and what you would "
                "like us to do.")
APOLOGY = re.compile(r"\b(?:i'?m|i am|we'?re|we are) (?:so |very |truly |really )?sorry\b|\bapologi[sz]e|\bapologies\b",
                     re.I)


def signed_name(body: str) -> str:
    """The first name a message is signed with ("…\n\nThanks,\nMelanie" → "Melanie"); '' when it has none."""
    found = language.signature(body.strip())
    return found.text.split()[0] if found else ""


def said_once(text: str, before: list[str]) -> str:
    """``text`` without what the reply says already: '' when it is said whole (two escalated requests share one
    sentence), and the promise to confirm by email only the first time."""
    if text and text in before:
        return ""
    if CONFIRM in text and any(CONFIRM in b for b in before):
        text = text.replace(CONFIRM, "").strip()
    return text


def confirm_after(parts: list[ReplyPart], text: str, paragraph: int) -> None:
    """Before ``text`` joins its paragraph: the promise to confirm by email leaves an earlier sentence of the same
    paragraph, so it is said once, after the last thing arranged ("I'm arranging to move …. I'm arranging a credit
    of …. I'll confirm by email…"), never between two of them."""
    if CONFIRM not in text or any(p.text == text for p in parts):  # said already: nothing moves
        return
    for k in range(len(parts) - 1, -1, -1):
        if parts[k].paragraph == paragraph and parts[k].kind == "action" and parts[k].text.endswith(CONFIRM):
            parts[k] = parts[k].model_copy(update={"text": parts[k].text.removesuffix(CONFIRM).rstrip()})
            return


def label(intent: str) -> str:
    return "unclassified" if intent == "unclassified" else active().label(intent)


def _short(text: str, limit: int = 160) -> str:
    text = CALL_NOTES.sub("", re.sub(r"\s+", " ", text).strip())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def summarise(triage: Triage, customer: dict[str, Any] | None, channel: str, escalation: str) -> str:
    who = f"{customer['name']} ({customer['tier']}{'; identified from the message, not verified' if customer.get('unverified') else ''})" \
        if customer else "Unknown sender"
    parts = [f"{who} via {channel}."]
    if triage.abstained:
        parts.append(f"No request recognised with confidence (best guess: {label(triage.intent)}, "
                     f"{triage.confidence:.0%}).")
    elif triage.requests:
        n = len(triage.requests)
        parts.append(f"{n} request{'s' if n > 1 else ''}: " + " ".join(
            f"({i}) {label(r.intent)}: " + (r.text.strip("()") if _FROM_RECORDS.fullmatch(r.text) else  # the records' words
                                             f"\"{_short(redact_secrets(r.text))}\"")
            for i, r in enumerate(triage.requests, 1)))
    if triage.sentiment == "negative":
        parts.append("Customer is very upset." if triage.frustration >= 0.6 else "Customer is upset.")
    if escalation:
        parts.append(f"Needs a person: {escalation}.")
    return " ".join(parts)


def action_sentence(o: StepOutcome) -> str:
    """The reply's sentence for an outcome at processing time (see ``outcome_sentence``)."""
    status = {"executed": "executed", "escalated": "escalated", "denied": "denied"}.get(o.decision.value, "pending")
    return outcome_sentence(o.action, o.args, o.result, o.planned, o.intent, o.decision.value, status, o.reason)


def outcome_sentence(action: str, args: dict[str, Any], result: dict[str, Any] | None, planned: dict[str, str],
                     intent: str, decision: str, status: str, reason: str = "", note: str = "") -> str:
    """What the reply says about one proposal in its current state: what was done once it ran; what happens next
    while a person decides and while its system answers (never that it is done); why not, when policy refused it
    as the agent planned it (in the action's own words for a refusal, when it has them); once a person rejected it,
    nothing or the advisor's own words (``note``); refused or failed after approval, the advisor's words, else what
    the action says happens instead."""
    if action == "lookup_order":
        return _lookup_sentence(args, result or {}) if status == "executed" or result else ""
    if status == "executed":
        return sentence(action, DONE, args, result, planned, intent)
    if decision == "denied":  # no apology here: the reply's one apology opens it, when the customer is upset
        if has_words(action, REFUSED) and (own := sentence(action, REFUSED, args, None, planned, intent, reason)):
            return own
        if not reason:
            return ""
        reason = reason.rstrip(" .")
        if re.search(r"\b(?:cannot|can't|can not|not possible|not allowed|no longer)\b", reason.split(":")[0], re.I):
            return f"Unfortunately, {reason}."  # the reason says it cannot be done: "…, reservation X cannot be…"
        return f"Unfortunately, I can't do that: {reason}."
    if status in {"rejected", "denied", "failed"}:
        if note.strip() or status == "rejected":
            return note.strip()
        return sentence(action, REFUSED if status == "denied" else FAILED, args, None, planned, intent, reason)
    if decision == "abstained":  # the question for what is missing is asked instead; what was only asked about
        return offer(action, args) if reason.endswith(ASKS_ONLY) else ""  # is offered
    if status == "escalated" or decision == "escalated":
        return planned.get("handed_over") or HANDED_OVER
    if reason.startswith(NOT_VERIFIED):  # a person checks who wrote first: nothing is promised before then
        return ""
    return sentence(action, WAITING if status == "calling" else PROPOSED, args, result, planned, intent)


def _lookup_sentence(a: dict[str, Any], r: dict[str, Any]) -> str:
    if not r:
        return f"I'm checking order {a.get('order_id')} for you."
    state = {"pending": "confirmed and waiting to be packed", "processed": "packed and on its way",
             "delivered": "delivered", "cancelled": "cancelled"}.get(str(r["status"]), str(r["status"]))
    text = f"Your order {r['order_id']} is {state}"
    if r.get("expected_delivery") and r["status"] in {"pending", "processed"}:
        text += f"; it is expected on {day(r['expected_delivery'])}"
    if r["status"] == "pending" and not r.get("tracking"):
        text += " (a tracking number follows by email once it is packed)"
    if r.get("delivered_on") and r["status"] == "delivered":
        text = f"Your order {r['order_id']} was delivered on {day(r['delivered_on'])}"
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


ASKS = "asks"  # a reply part's ``planned`` key: the part asks the customer for what its request still needs


def recompose(parts: list[ReplyPart], states: dict[int, ProposalState]) -> list[ReplyPart]:
    """The reply's parts with every action sentence worded for its proposal's current state; the knowledge quoted
    beside an action stays only while the action's own sentence does."""
    out: list[ReplyPart] = []
    kept: dict[int, bool] = {}
    ran = {p.intent for p in parts if p.kind == "action" and p.proposal in states
           and states[p.proposal].status == "executed"}
    for part in parts:
        if part.planned.get(ASKS) and part.intent in ran:  # asked for what a person since gave, and it ran
            out.append(part.model_copy(update={"text": ""}))
        elif part.kind == "action" and part.proposal is not None and part.proposal in states:
            st_ = states[part.proposal]
            text = outcome_sentence(st_.action, st_.args, st_.result, part.planned, part.intent, st_.decision,
                                    st_.status, st_.reason, st_.note)
            confirm_after(out, text, part.paragraph)
            text = said_once(text, [p.text for p in out])
            kept[part.proposal] = kept.get(part.proposal, False) or bool(text)
            out.append(part.model_copy(update={"text": text}))
        elif part.kind == "support" and part.proposal is not None and part.proposal in states:
            st_ = states[part.proposal]
            stays = st_.status in {"executed", "pending", "escalated", "calling"} or st_.decision == "denied"
            out.append(part if stays else part.model_copy(update={"text": ""}))
        else:
            out.append(part)
    # a quote beside an action whose sentence is gone goes too, wherever it stands
    return with_next([p.model_copy(update={"text": ""}) if p.kind == "support" and p.proposal is not None
                      and p.proposal in kept and not kept[p.proposal] else p for p in out])


def _says_something(parts: list[ReplyPart]) -> bool:
    """Whether the reply says anything between its greeting and its sign-off, besides an apology and ``NEXT``."""
    return any(p.text.strip() and p.kind != "next" and not (p.kind == "text" and p.paragraph == 1
                                                           and APOLOGY.search(p.text))
               for p in parts[1:-1])


def with_next(parts: list[ReplyPart]) -> list[ReplyPart]:
    """The parts with their ``next`` part saying what happens next exactly when nothing else is said."""
    if not any(p.kind == "next" for p in parts):
        return parts
    text = "" if _says_something(parts) else NEXT
    return [p.model_copy(update={"text": text}) if p.kind == "next" else p for p in parts]


def sendable(draft: Draft) -> bool:
    """Whether a draft says something of its own, so it may go out without a person: a reply that would only say a
    colleague is looking at it is for a colleague to answer. A rewritten draft (no parts) is judged by its text."""
    return bool(draft.reply.strip()) and (not draft.parts or _says_something(draft.parts))


PARTS_OF_DAY = ("morning", "afternoon", "evening")


def answered(question: str, triage: Triage) -> bool:
    """A question the customer's message already answers: one offering times of day ("morning or afternoon?")
    when the message names exactly one of them ("Saturday afternoon")."""
    offered = {w for w in PARTS_OF_DAY if re.search(rf"\b{w}s?\b", question, re.I)}
    said = {str(w).lower() for w in triage.entities.get("time_of_day") or []}
    return len(offered) >= 2 and len(said) == 1 and said <= offered


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


def _what_to_quote(req: Request, mine: list[tuple[int, StepOutcome]], said: list[str], escalation: str,
                   asked: str | None = None, answered: bool = False) -> tuple[str, int, int | None, bool]:
    """What to search the request's passages for, how many sentences to quote, which outcome they stand beside
    (None: on their own) and whether it is a refusal. Beside a question ``asked``, one at most; beside what the
    plan tells the customer instead of asking ("the $49.00 is the call-out charge …"), the rule behind it."""
    query, n, beside, denied = _quote_plan(req, mine, said, escalation)
    if answered:  # the records answered it (``Plan.answers``), or only the holder may hear of it: a rule quoted
        return query, 0, beside, denied  # beside it says it twice, or says what is not theirs to hear
    if asked is not None and beside is None:
        n = min(n, 1)
        if not asked.rstrip().endswith("?"):
            query = f"{query} {asked}"
    return query, n, beside, denied


def _quote_plan(req: Request, mine: list[tuple[int, StepOutcome]], said: list[str], escalation: str
                ) -> tuple[str, int, int | None, bool]:
    asked = req.read_as or req.text  # searched with its slips of the keys put right
    if escalation or any(o.decision == Decision.escalated for _, o in mine):
        return asked, 0, None, False
    if denied := [(i, o) for i, o in mine if o.decision == Decision.denied]:
        # a refusal said in full carries its rule and the way forward: a quoted rule beside it says it twice
        return denied[0][1].reason, 0 if said else 1, denied[0][0], True
    if any(not is_read(o.action) and o.action != "send_reply" for _, o in mine):
        # a change that waits for the customer's answer: the question is what they need to read, and the answer
        # to theirs when they asked how it works ("How do I return it?")
        waits = any(o.decision == Decision.abstained and not is_read(o.action) for _, o in mine)
        return asked, 1 if waits and _HOW.search(req.text) else 0, None, False
    if acting := [i for i, o in mine if o.action != "send_reply" and o.decision != Decision.abstained]:
        # beside a look-up that says nothing itself, the fact that explains what it found; beside one that says
        # what it found in words ("has landed"), or a change, nothing: a glossary line or a rule quoted there
        # reads as filler, or contradicts it ("On time: …" beside a flight that has landed)
        writes = [i for i, o in mine if i in acting and not is_read(o.action)]
        return " ".join([asked, *said]), 0 if writes or said else 1, acting[0], False
    return asked, 2, None, False


def _cite(citations: list[Citation], p: Passage) -> int:
    """The number a passage is cited by in this reply (a new one the first time)."""
    for i, c in enumerate(citations, 1):
        if c.doc_id == p.doc_id and c.heading == p.heading:
            return i
    citations.append(Citation(doc_id=p.doc_id, title=p.title, heading=p.heading))
    return len(citations)


class Drafter:
    """Picks the knowledge sentences closest to each request and writes the reply around the outcomes."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def best_sentences(self, request: str, passages: list[Passage], n: int = 2,
                       skip: set[str] | None = None, topical: bool = False,
                       facts: str = "", level: str = "", said: Sequence[str] = (),
                       least: float = MIN_QUOTE) -> list[tuple[str, Passage]]:
        """Up to ``n`` customer-facing knowledge sentences close to the request (cosine ≥ ``MIN_QUOTE``), from the
        top passages, kept in their reading order. Instructions written for staff are never quoted to customers,
        except what staff are told to tell the customer; sentences in ``skip`` (already quoted) are not repeated,
        nor two that say the same thing. ``facts`` (the customer's words, what the reply says was found) and the
        customer's ``level`` leave out a sentence about another case (``other_case``); one that repeats what the
        reply already ``said`` adds nothing and is left out too, as does a definition beside what was done. A sentence is quoted when it is at least ``least``
        close to the request, and a second one only when it answers nearly as well as the first."""
        pool: list[tuple[str, Passage, int]] = []
        for rank, p in enumerate(passages):
            staff = bool(STAFF_SECTION.search(p.heading) or STAFF_SECTION.search(p.title))
            for sent in quotable_sentences(p.text, p.heading):
                sent = customer_facing(sent, staff)
                # a rule worded as something done ("the order was cancelled") is never quoted: it would read as a claim;
                # nor a request for details ("Give us the flight number"): what is missing is asked by the plan,
                # which knows what the customer already gave
                if sent and sent not in (skip or set()) and not claimed_actions(sent, strict=True) \
                        and not ASKS_FOR.search(sent):
                    pool.append((sent, p, rank))
        pool = [x for x, other in zip(pool, other_case(pool, facts, level), strict=True) if not other]
        if not pool or n <= 0:
            return []
        vecs = self.embedder.encode([request, *[x[0] for x in pool]])
        raw = vecs[1:] @ vecs[0]
        if topical:  # judged with its section's heading too, which says what it is about ("Pairing with Google
            # Home: to pair, open Integrations…"); the sentence alone is quoted
            raw = (raw + self.embedder.encode([f"{x[1].heading}: {x[0]}" for x in pool]) @ vecs[0]) / 2
        sims = raw - 0.03 * np.array([x[2] for x in pool])
        chosen: list[int] = []
        order = np.argsort(-sims).tolist()
        while order:
            i = order.pop(0)
            kin = bool(chosen) and pool[i][1] is pool[chosen[0]][1]  # the first one's section: its next step
            one_section = all(pool[j][1] is pool[chosen[0]][1] for j in chosen)
            if len(chosen) >= n + (kin and one_section and n > 1):  # a section's steps read whole: one more of them
                break
            if raw[i] < least - KIN_SLACK * kin or (chosen and not kin and sims[i] < sims[chosen[0]] - SECOND_QUOTE_GAP):
                continue
            quote = pool[i][0]
            if _BACK.match(quote) and not (i - 1 in chosen and pool[i - 1][1] is pool[i][1]):
                if i - 1 in order and pool[i - 1][1] is pool[i][1]:  # "After that you can try again": only after
                    order.remove(i - 1)                                # the sentence it follows, so that one first
                    order[:0] = [i - 1, i]
                continue
            if not any(same_point(quote, pool[j][0]) for j in chosen) and not any(same_point(quote, q)
                                                                                   for q in skip or ()) \
                    and not any(restates(quote, x) for x in said) and not (said and DEFINITION.search(quote)):
                chosen.append(i)
                if len(chosen) == 1:  # the first quote's own section reads on as one answer: its next steps first
                    near = sims + SAME_SECTION * np.array([x[1] is pool[i][1] for x in pool])
                    order.sort(key=lambda j: -near[j])
        return [(pool[i][0], pool[i][1]) for i in sorted(chosen)]

    def draft(self, triage: Triage, customer: dict[str, Any] | None, channel: str,
              passages: dict[str, list[Passage]], outcomes: list[StepOutcome], questions: dict[str, str],
              escalation: str, autonomy: int, notices: list[str] | None = None,
              asides: list[str] | None = None) -> Draft:
        summary = summarise(triage, customer, channel, escalation)
        escalation = escalation if "handed_over" in triage.entities else ""  # a team takes over; else a full answer
        if autonomy < 1:
            return Draft(summary=summary, reply="", citations=[])
        handed = str(triage.entities.get("handed_over") or HANDED_OVER)
        citations: list[Citation] = []
        cite, parts = partial(_cite, citations), [ReplyPart(text=f"Hi {_first_name(customer, triage)},", paragraph=0)]

        def say(text: str, kind: str = "text", proposal: int | None = None, **extra: Any) -> None:
            parts.append(ReplyPart(text=redact_secrets(text), paragraph=paragraph, kind=kind,  # type: ignore[arg-type]
                                   proposal=proposal, **extra))
        paragraph = 1
        sorry = empathy(triage, channel)  # the reply's one apology; a present's timing never leads into a refusal
        if sorry and not (sorry == GIFT and any(o.decision == Decision.denied for o in outcomes)):
            say(sorry)
        for notice in notices or []:  # what the customer should hear first, each on its own
            say(notice)
            paragraph += 1
        if triage.abstained or not triage.requests:
            paragraph += 1
            say(UNPLACED + ("." if triage.entities.get("referenced") else UNPLACED_ASK))  # a reference given: kept
        quoted, asked = set[str](), set[str]()
        # nothing quoted where the records answered, nor to a sender who may hear nothing of an account but why
        quiet = {r.intent for r in triage.requests} if set(questions.values()) & set(HOLDER_ONLY) else \
            set(triage.entities.get("answered", ()))
        for req in triage.requests:
            paragraph += 1
            mine = [(i, o) for i, o in enumerate(outcomes) if o.intent == req.intent]
            spoke, said = False, list[str]()
            for i, o in [(i, o) for i, o in mine if o.reason not in HOLDER_ONLY]:  # to a stranger: never, decided or not
                full, planned = _handed(action_sentence(o), handed, o.planned)
                confirm_after(parts, full, paragraph)
                if text := said_once(full, [p.text for p in parts]):
                    say(text, "action", i, intent=o.intent, planned=planned)
                    said.append(text)
                    spoke = True
                elif full or o.action in WORDING or o.action == "lookup_order":
                    # silent now (it waits for details, or another request says it), but it has words once a
                    # person decides
                    say("", "action", i, intent=o.intent, planned=planned)
            if escalation and not spoke and not any(p.text == handed for p in parts):
                say(handed)
            asking = False
            if req.intent in questions and questions[req.intent] not in asked and not escalation \
                    and not answered(questions[req.intent], triage):
                asked.add(questions[req.intent])  # one question put once, however many requests need it
                q = questions[req.intent].rstrip(".")
                say(q[0].upper() + q[1:] + ("" if q.endswith("?") else "."), intent=req.intent, planned={ASKS: "1"})
                asking = True
            # what to quote: nothing when a person takes it over; why, when policy refused; one fact beside an
            # action (it stays only while the action's sentence does); two when the customer only asked; beside a
            # question, one, and only when it is close (the question is what the customer needs to read)
            query, n, beside, denied = _what_to_quote(req, mine, said, escalation, questions[req.intent] if asking
                                                      else None, req.intent in quiet)
            # a quote that repeats what the reply already says (a refusal's reason, a status) adds nothing
            # what the customer asks is no fact about their case, but what they call theirs is ("my card")
            stated = " ".join([statements(req.text)[0], *(m.group(0) for m in _MINE.finditer(req.text))])
            found = self.best_sentences(query, passages.get(req.intent, [])[:3], n, quoted, topical=n == 2,
                                        facts=" ".join([stated, *said, *(notices or [])]),
                                        level=str((customer or {}).get("tier") or ""),
                                        said=[*said, *(notices or [])],  # a notice says it already: no quote
                                        least=(BESIDE_MIN if asking else MIN_QUOTE) if beside is None or denied
                                        else BESIDE_READ_MIN
                                        if is_read(outcomes[beside].action) else BESIDE_MIN)
            for quote, p in found:
                quoted.add(quote)
                say(f"{framed(quote, p.heading)} [{cite(p)}]", "support" if beside is not None else "text", beside)
        paragraph += 1
        for quote, p in (also := answers_beside(self.best_sentences, passages, quoted, [p.text for p in parts]))[0]:
            say(f"{framed(quote, p.heading)} [{cite(p)}]")  # a question asked beside the requests, answered
        summary += "".join(f" Also asks, not answered from the knowledge base: “{_short(q)}”" for q in also[1])
        list(map(say, asides or []))  # worth knowing, after the answers
        say("", "next")  # what happens next, when the reply would otherwise say nothing
        paragraph += 1
        say(active().brand.signature)
        return Draft(summary=summary, reply=render(parts := with_next(parts)), citations=citations, parts=parts)


# a sentence that leans on the one before it ("After that…", "In that case…"), quoted only after it
_BACK = re.compile(r"(?:after that|then|this|these|those|that|otherwise|in that case|if so|if not)\b", re.I)
# a request the records raise, not the customer ("(order #W… shows two payments of $24.62, found on the records.)")
_FROM_RECORDS = re.compile(r"\([^()]*, found on the records\.\)")
_MINE = re.compile(r"\b(?:my|our) (?:[a-z]+ ){0,2}[a-z]+", re.I)  # what the customer calls theirs: "my debit card"


def _first_name(customer: dict[str, Any] | None, triage: Triage) -> str:
    """Whom the reply greets: the customer, or a sender not verified as the account's holder by the name they signed
    with (never the account's, which would tell a stranger whose it is)."""
    if customer and not customer.get("unverified"):
        return str(customer["first_name"])
    return str(triage.entities.get("signed") or "there")


def _handed(full: str, handed: str, planned: dict[str, str]) -> tuple[str, dict[str, str]]:
    """An action's sentence, in the team's own words when the case is handed over; those words stay with the
    sentence (``planned``) for whenever it is worded again."""
    if full == HANDED_OVER:
        return handed, {**planned, "handed_over": handed}
    return full, dict(planned)


_VERB = re.compile(r"\b(?:is|are|was|were|be|been|can|cannot|can't|could|will|won't|would|may|might|must|should|"
                   r"has|have|had|do|does|did|don't|doesn't|need|needs|go|goes|get|gets|take|takes|make|makes|pay|"
                   r"pays|use|uses|add|adds|show|shows|cover|covers|send|sends|keep|keeps|apply|applies|\w+ed|"
                   r"\w{3,}es)\b", re.I)
_HOW = re.compile(r"\b(?:how|what|when|where|why|which|is there|do you|does it)\b[^?]*\?", re.I)
_WHAT_WE = re.compile(r"^what we (\w+)$", re.I)


# "Slow or dropping Wi-Fi: in the app, run Network check…": a list item's label, then what to do
_LABELLED = re.compile(r"(?!(?:please|important|tip|note)\b)([A-Z][^:.;?!\s]*(?: [^:.;?!\s]+){1,5}): ([a-z].+)$", re.I)


def framed(quote: str, heading: str) -> str:
    """A knowledge sentence that is no sentence on its own, under a heading that says what it is ("What we
    accept": "Credit and debit cards…"), said as one: "We accept credit and debit cards…"."""
    if (label := _LABELLED.match(quote)) and not _VERB.search(label.group(1)):  # a list item under its label
        return f"For {label.group(1)[:1].lower()}{label.group(1)[1:]}: {label.group(2)}"
    m = _WHAT_WE.match(heading.strip())
    if m is None or _VERB.search(quote) or ":" in quote:
        return quote
    return f"We {m.group(1).lower()} {quote[:1].lower()}{quote[1:]}"


def customer_facing(sentence: str, staff_section: bool) -> str:
    """The sentence as it may be quoted to a customer, or '' when it is an instruction for staff."""
    told = TELL.sub("", sentence)
    if ASK.search(sentence):  # "Ask the customer to check… and to wait 48 hours" → "Please check… and wait 48 hours"
        sentence = "Please " + _to_customer(re.sub(r"\b(and|or),? to\s", r"\1 ", ASK.sub("", sentence)))
    elif told != sentence:  # "Tell the customer that X and that Y" → "X and Y"
        sentence = _to_customer(re.sub(r"\b(and|but|or),? that\s", r"\1 ", told))
    elif staff_section:
        return ""
    elif SPOKEN_OF.match(sentence):  # "Customers change cards themselves in…" → "You change cards yourself in…"
        rest = SPOKEN_OF.sub("", sentence, count=1)
        modal = re.match(r"(?:can|cannot|can't|may|must|should|will|need|do|does|are|have)\b", rest, re.I)
        sentence = _to_customer(("you " if modal else "you can ") + rest.replace("themselves", "yourself"))
    elif re.search(r"\b(?:after that|then|now|once \w+(?: \w+)?),? " + SPOKEN_OF.pattern, sentence, re.I):
        sentence = _to_customer(sentence)  # "After that the customer can try again" → "After that you can try again"
    return "" if INTERNAL.search(sentence) else sentence[0].upper() + sentence[1:]


# a knowledge sentence about customers in the third person, which a reply says to the customer ("you")
SPOKEN_OF = re.compile(r"(?:customers|the customer(?= (?:can|cannot|can't|may|must|should|will|need to|does not|"
                       r"doesn't)\b))\s+", re.I)


def _to_customer(text: str) -> str:
    text = re.sub(r"\bthe customer's\b", "your", text, flags=re.I)
    text = re.sub(r"\b(?:the customer|they|them)\b", "you", text, flags=re.I)
    return re.sub(r"\btheir\b", "your", text, flags=re.I)


# Channels whose customers see Markdown rendered. None does: e-mail and SMS go out as plain text, a phone reply is
# read out, social networks show characters as typed, and the chat widget shows the message as text. A channel
# added here receives the reply's formatting as written; every other one receives it as plain text.
RENDERS_MARKDOWN: frozenset[str] = frozenset()


def for_customer(reply: str, channel: str = "email") -> str:
    """The reply as the customer receives it on ``channel``: citation markers removed and, on a channel that shows
    text as typed (all of them, see ``RENDERS_MARKDOWN``), no Markdown syntax (``**``, ``#`` headings, ``[text](url)``
    links…) left, whoever wrote it (the agent, a language model or the advisor)."""
    text = re.sub(r"[ \t]?\[\d+\]", "", reply)
    return text if channel in RENDERS_MARKDOWN else plain_text(text)


def reply_subject(ticket_subject: str, channel: str) -> str:
    """The subject of a reply: "Re: " and the subject the customer wrote, on e-mail only (on other channels the
    subject is the agent's or advisor's own label, which the customer never sent); '' when there is none; never
    "Re: Re: …"."""
    subject = " ".join((ticket_subject or "").split())
    if channel != "email" or not subject:
        return ""
    return subject if re.match(r"^(?:re|aw|sv|antw|réf)\s*:", subject, re.I) else f"Re: {subject}"
