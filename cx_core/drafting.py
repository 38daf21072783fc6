"""Drafting: an extractive summary that keeps every request in order, and a reply that answers each request
from the retrieved knowledge (numbered citations) and says what was done or is needed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .actions.base import is_read
from .domain import active
from .embedding import Embedder
from .knowledge import paragraphs
from .models import Citation, Decision, Draft, Passage, ReplyPart, Request, Triage
from .redact import redact_secrets
from .safe_text import plain_text
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
    sentence,
)

INTERNAL = re.compile(r"\b(advisors?|the customer|a customer|customers can|ask the|ask whether|tell them|"
                      r"hand (?:it|the case)|"
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
SECOND_QUOTE_GAP = 0.15  # a second sentence is quoted only when it answers nearly as well as the first
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
APOLOGY = re.compile(r"\b(?:i'?m|i am|we'?re|we are) (?:so |very |truly |really )?sorry\b|\bapologi[sz]e|\bapologies\b",
                     re.I)


def empathy(triage: Triage, channel: str) -> str:
    """The reply's one apology, for a customer who is upset: one who had to come back about it is told so."""
    if int(triage.entities.get("contacts") or 1) > 1:
        how = "write to us" if channel in {"email", "social"} else "contact us"
        return f"I'm sorry you have had to {how} again about this, and thank you for your patience."
    return "I'm sorry for the trouble, and thank you for your patience."


def said_once(text: str, before: list[str]) -> str:
    """``text`` without what the reply says already: '' when it is said whole (two escalated requests share one
    sentence), and the promise to confirm by email only the first time."""
    if text and text in before:
        return ""
    if CONFIRM in text and any(CONFIRM in b for b in before):
        text = text.replace(CONFIRM, "").strip()
    return text


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


# a sentence that leans on the one before it ("It cannot be added later.") is quoted with it or not at all
LEANS_BACK = re.compile(r"^(?:it|its|this|that|these|those|they|their|them|such|both|the latter|the former)\b", re.I)
# a worked example is about somebody else's case, never the customer's
EXAMPLE = re.compile(r"^(?:(?:example|for example|for instance)\b|e\.g\.)", re.I)
# a lead-in that is a whole clause: its items follow a colon ("some things can no longer be done: the cabin…")
CLOSED_LEAD = re.compile(r"\b(?:true|false|done|following|below|these|those|cases|rules|steps|options|ways|things|"
                         r"reasons|apply|applies|possible|allowed|required|needed)\s*$", re.I)
# a lead-in that is a condition of its own ("If the light stays red after a restart:"), before what to do
CONDITION_LEAD = re.compile(r"^(?:if|when|whenever|once|before|after|unless|while|as soon as)\b", re.I)
JOINED = re.compile(r"(?:,\s*|\s+)(or|and)\s*[,;.]?\s*$", re.I)
LABELLED = re.compile(r"^(?:[^.:]|\.(?=\d)){1,40}:\s")
# a sentence that stops where it cannot end: a word that needs what follows it
DANGLING = re.compile(r"\b(?:a|an|the|by|of|to|for|with|from|in|on|at|into|onto|and|or|but|if|when|than|as|is|are|"
                      r"be|your|our|their|its|this|that|these|those|will|can|must|should|may|until|before|after|"
                      r"about|via|per)\s*[,;:—-]?$", re.I)
ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|etc|approx|incl|no|nos|vs|mr|mrs|ms|dr|st|min|max|ca)\.$", re.I)
# a clause with a verb of its own, or an instruction: a list item that stands alone as a sentence
FINITE = re.compile(r"(?:^|[,;]\s*|\b(?:and|but|so|then)\s+)(?:\w+\s+){0,4}?(?:is|are|was|were|be|been|has|have|had|"
                    r"can|cannot|can't|could|will|won't|would|must|may|might|should|shall|do|does|did|don't|doesn't|"
                    r"isn't|aren't|goes|takes|gets|costs|pays|applies|moves|arrives?|receives|keeps|stays|refunds|"
                    r"makes|changes|shows|needs|holds|covers|includes|means|depends|runs|works|lasts|expires|"
                    r"appears?|comes|starts|ends|sends|calls|pay|refund|need|get)\b|"
                    r"^(?:if|when|once|after|before|as soon as|unless)\b|^to\b[^,]{1,40},", re.I)
IMPERATIVE = re.compile(r"^(?:restart|reset|check|place|confirm|use|turn|open|hold|connect|set|make|add|pay|contact|call|"
                        r"send|keep|read|see|give|choose|book|write|run|update|follow|start|ask|try|press|select|go|"
                        r"unplug|stop|wait|return|include|bring|take|do|lock|tell|change|remove|enter|sign|log|"
                        r"download|visit|allow|plug|switch|put|make sure|please|never|always|don't|do not)\b", re.I)
LOWER_FIRST = re.compile(r"^(?:a|an|the|any|each|every|all|no|some|it|its|they|their|you|your|we|our|this|these|"
                         r"those|for|if|when|with|without|one|two|only|both|there|in|on|at|from|to|after|before)\b")


def _split(line: str) -> list[str]:
    """The sentences of one line; "e.g." and the like end none."""
    out: list[str] = []
    for piece in re.split(r"(?<=[.!?])\s+", line.strip()):
        if out and ABBREVIATION.search(out[-1]):
            out[-1] += " " + piece
        elif piece:
            out.append(piece)
    return out


def _stands_alone(item: str) -> bool:
    return bool(IMPERATIVE.search(item) or FINITE.search(re.split(r"\s(?:where|which|who|that)\s", item)[0]))


def _finish(text: str) -> str:
    text = JOINED.sub("", text).rstrip(" ;,:")
    return text if text.endswith((".", "!", "?")) else text + "."


def _join_items(items: list[str]) -> str:
    """Alternatives of one condition read as one: "a silver or gold member, have travel insurance, or fly business"."""
    conj = (JOINED.search(items[0]) or JOINED.search(items[-2])).group(1).lower()  # type: ignore[union-attr]
    parts = [JOINED.sub("", x).rstrip(" ;,.") for x in items]
    if len(parts) == 2:
        return f"{parts[0]} {conj} {parts[1]}"
    return ", ".join(parts[:-1]) + f", {conj} {parts[-1]}"


def _lower(item: str) -> str:
    """The item's first letter in lower case when its first word is an ordinary one, not a name ("Travel insurance
    on…" → "travel insurance on…"; "Horizon Air Travel cancelled…" and "PayPal" stay)."""
    words = item.split(maxsplit=2)
    name = bool(words) and (not re.fullmatch(r"[A-Z][a-z'’-]*[,;:.]?", words[0])
                            or (len(words) > 1 and words[1][:1].isupper()))
    return item if name and not LOWER_FIRST.search(item[:1].lower() + item[1:]) else item[:1].lower() + item[1:]


def _complete(lead: str, item: str) -> str:
    """A list item read with the lead-in it completes: "The charge is credited in full when" + "the technician
    arrived late;" → "The charge is credited in full when the technician arrived late."; "…at least one of these is
    true" + "it was made less than 24 hours ago" → "…is true: it was made less than 24 hours ago."; a condition
    before an instruction takes a comma: "If the light stays red" + "check the cable" → "If the light stays red,
    check the cable."."""
    lead = lead.rstrip(" :")
    if LABELLED.search(item):  # "…on the bookings they make" + "gold: 2 in economy" → "…make (gold: 2 in economy)."
        return f"{lead} ({_lower(item).rstrip(' .;,')})."
    joint = ": " if CLOSED_LEAD.search(lead) else ", " if CONDITION_LEAD.search(lead) and IMPERATIVE.search(item) \
        else " "
    return _finish(f"{lead}{joint}{_lower(item)}")


def _sentences(text: str, heading: str = "") -> list[str]:
    """The quotable sentences of a passage, as plain text (no Markdown), each complete and each once.

    A list item that cannot stand alone is read with its lead-in (the line before the list when it ends in ':',
    else the section heading): "When we credit: any charge billed twice."; items joined by "or"/"and" are one
    sentence; an item that names its subject ("Gift card: immediately.") stands as it is. A sentence that leans on
    the one before it ("It cannot be added later.") is kept with it; a worked example ("Example: a silver member
    books…") is never quoted, as it is somebody else's case."""
    text = plain_text(paragraphs(text)).replace("`", "")
    section = re.sub(r"\s*\((?:staff|internal)\)\s*$", "", plain_text(heading), flags=re.I).strip()
    units: list[str] = []
    lead = ""  # the sentence the list below completes (from a line ending in ':')
    group: list[str] = []  # items joined by "or"/"and", waiting for the last one

    def emit(sentence: str) -> None:
        """A sentence that leans on the one before joins it (or goes, with nothing to lean on)."""
        if LEANS_BACK.search(sentence):
            if units:
                units[-1] = f"{units[-1]} {sentence}"
            return
        units.append(sentence)

    def flush() -> None:
        if group:
            joined = _join_items(group)
            if lead:
                emit(_complete(lead, joined))
            elif section:
                emit(_finish(f"{section}: {_lower(joined)}"))
            group.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("|"):
            flush()
            lead = ""  # a blank line ends the list a lead-in introduced
            continue
        item = re.match(r"^(?:[-*+]|\d+[.)])\s+(.*)", line)
        if item is None:
            flush()
            sentences = _split(line)
            lead = ""
            if line.endswith(":") and sentences:
                lead = sentences.pop().rstrip(":").strip()
            for sent in sentences:
                if EXAMPLE.search(sent):
                    break  # the example and what follows it in its paragraph
                if not sent.endswith((".", "!", "?", ":", ")", '"', "”")):
                    if DANGLING.search(sent):
                        continue  # a line that stops mid-sentence is never quoted cut
                    sent = _finish(sent)
                emit(sent)
            continue
        body = item.group(1).strip()
        if group or (JOINED.search(body) and not LABELLED.search(body)):
            group.append(body)
            if not JOINED.search(body):
                flush()
            continue
        first, *rest = _split(body) or [body]
        if lead:
            unit = _complete(lead, first)
        elif LABELLED.search(first):
            unit = _finish(first)  # "Gift card: immediately."
        elif DETERMINER.search(first) or FRAGMENT.search(first) or not _stands_alone(first):
            if not section:
                continue  # a fragment with nothing to complete it
            unit = _finish(f"{section}: {_lower(first)}")
        else:
            unit = _finish(first)
        emit(" ".join([unit, *rest]))
    flush()
    return [u for u in units if len(u) > 20]


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
    if decision == "abstained":
        return ""  # the question for what is missing is asked instead
    if status == "escalated" or decision == "escalated":
        return HANDED_OVER
    return sentence(action, WAITING if status == "calling" else PROPOSED, args, result, planned, intent)


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


_STOP = frozenset("a an the and or but of to in on at for with by from as is are was were be been it its this that "
                  "these those you your we our they their can will must may not no any each every all per if when "
                  "than then so such only also".split())


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9$]+(?:'[a-z]+)?", text.lower()) if w not in _STOP and len(w) > 1}


def _same_point(a: str, b: str) -> bool:
    """Two quotes that say the same thing: one lead-in read with two of its items ("Each booking has a
    six-character reservation number and shows…"), or mostly the same words."""
    if a.split()[:8] == b.split()[:8] and len(a.split()) > 8:
        return True
    wa, wb = _words(a), _words(b)
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= 0.7


def restates(quote: str, said: str) -> bool:
    """Whether ``quote`` adds nothing to ``said`` (most of its words are already there)."""
    wq = _words(quote)
    return bool(wq) and len(wq & _words(said)) / len(wq) >= 0.6


ASKS_FOR = re.compile(r"^(?:please\s+)?(?:give|send|tell|provide|share|include|quote|let)\s+us\b|^we (?:will )?need "
                      r"(?:your|the|a|to know)\b|^what we need\b|^(?:please\s+)?have (?:your|the)\b.*\bready\b", re.I)
# "A duplicate charge is a second payment…": what a thing is, which a customer who was charged twice knows already
DEFINITION = re.compile(r"^(?:an?|the)\s+(?:[\w-]+\s+){0,2}[\w-]+\s+(?:is|means)\s+(?:an?|the|when)\b", re.I)


# "silver or gold members", "regular members": the levels a sentence is about
_NAMED_LEVELS = re.compile(r"((?:\b[a-z]+(?:,\s+|\s+or\s+|\s+and\s+))*\b[a-z]+)\s+(?:members?|tier|level)\b",
                           re.I)
_NOT_LEVELS = frozenset("every all any each other our new existing some most many more fewer such these those their "
                        "your the a an no older younger".split())


CONDITION = re.compile(r"^(?:if|unless)\s+(.+?)(?:,|\s+—|\s+then\b)|\b(?:if|when|unless)\b[^:.]*\b(?:true|apply|applies|"
                       r"following)\s*:\s+(.+)$", re.I)
_VAGUE = frozenset({"want", "wish", "need", "have", "woul", "like", "only", "stil", "alre", "just", "also", "any",
                    "some", "more", "one", "two", "none", "appl", "thes", "true", "foll"})  # stems of words that say nothing of the condition


def statements(text: str) -> tuple[str, str]:
    """What the customer states and what they ask, apart: "HAT163 was cancelled. Has HAT214 landed?" → the first
    sentence, then the second; "wants to know whether it has landed" is asked."""
    stated, asked = [], []
    for sent in re.split(r"(?<=[.!?])\s+|\n+", text):
        sent = sent.strip()
        known = re.split(r"\b(?:whether|wants? to know|asks?|asking|wondering)\b", sent, maxsplit=1, flags=re.I)
        if sent.endswith("?"):
            asked.append(sent)
        else:
            stated.append(known[0])
            asked.extend(known[1:])
    return " ".join(stated), " ".join(asked)


def _stems(text: str) -> set[str]:
    """Content words cut to four letters, so "cancelled" meets "cancel" and "booking" meets "booked"."""
    return {w[:4] for w in _words(text)}


CONTRAST = re.compile(r"^(.+?)\s+(?:is|are)\s+(?:different|not the same|separate)\s+(?:from|than|to)\s+(.+?)(?:[:;,.]|$)",
                      re.I)


def _case_label(unit: str) -> str:
    """The case an alternative is about: its label ("Delayed: the flight…" → "delayed"; "…they make (gold: 2 in
    economy…)" → "gold")."""
    m = LABELLED.search(unit) and re.match(r"^([^:]{1,40}):", unit) or re.search(r"\(([^():]{1,30}):", unit)
    return m.group(1).strip().lower() if m else ""


def other_case(pool: list[tuple[str, Passage, int]], facts: str, level: str = "") -> list[bool]:
    """For each candidate quote, whether it is about a case the facts say is not the customer's.

    - Alternatives side by side (a passage's labelled items, "Delayed: …" / "Cancelled: …"; the items one lead-in
      introduces, "…(silver: …)" / "…(gold: …)"; the short-headed sections of one article, "Pending" /
      "Processed"): when the facts name one of them, the others are about another case. Labelled alternatives
      the facts say nothing of are all left out: one the customer only asks about ("has it landed?") is not quoted
      as if it were the case ("Landed: the flight has arrived"): what the customer asks is no fact.
    - A sentence about customers of named levels ("Regular members … are not eligible") is about another case
      when the customer's ``level`` is known and not among them.
    - A sentence that contrasts two things ("Cancelling a subscription is different from cancelling an order")
      is about the other one when the facts name only the second.
    - A rule for a condition ("If you want to pay with a new card, …") is about another case when the facts say
      little of that condition (less than half its words)."""
    known = f"{facts} {level}".lower()
    level = level.lower()
    out = [False] * len(pool)

    told = _stems(known)

    def named(case: str, cases: set[str]) -> bool:
        """The facts name this case by a word that sets it apart ("cancelled" for "Cancelled flight" beside
        "Delayed flight")."""
        shared = set.intersection(*(_stems(c) for c in cases))
        return bool((_stems(case) - shared or _stems(case)) & told)

    groups: dict[tuple[str, ...], list[tuple[int, str]]] = {}
    for i, (sent, p, _) in enumerate(pool):
        label = _case_label(sent)
        if label:
            key = (p.doc_id, p.heading, "labels" if LABELLED.search(sent) else sent.split("(")[0])
            groups.setdefault(key, []).append((i, label))
        short = re.sub(r"\s*\([^)]*\)\s*$", "", p.heading).strip()
        if 0 < len(short.split()) <= 2:
            groups.setdefault((p.doc_id, "sections"), []).append((i, short.lower()))
    for group, members in groups.items():
        cases = {c for _, c in members}
        if len(cases) < 2:
            continue
        if any(named(c, cases) for c in cases):
            for i, c in members:
                out[i] = out[i] or not named(c, cases)
        elif group[-1] != "sections":  # labelled alternatives and none is the customer's: none is quoted
            for i, _ in members:
                out[i] = True
    for i, (sent, _, _) in enumerate(pool):
        m = CONTRAST.search(sent)
        if m and _stems(m.group(2)) & told and not (_stems(m.group(1)) - _stems(m.group(2))) & told:
            out[i] = True
        when = CONDITION.search(sent)
        if when and (cond := _stems(when.group(1) or when.group(2)) - _VAGUE) and len(cond & told) / len(cond) < 0.5:
            out[i] = True
    if level:
        for i, (sent, _, _) in enumerate(pool):
            levels = {w for m in _NAMED_LEVELS.finditer(sent) for w in re.split(r",\s+|\s+or\s+|\s+and\s+",
                                                                                  m.group(1).lower())} - _NOT_LEVELS
            levels = {w for w in levels if re.search(rf"(?<![A-Za-z] ){w}\b", sent, re.I)
                      and not re.search(rf"(?<=[a-z] ){w.capitalize()}\b", sent)}
            out[i] = out[i] or (bool(levels) and level not in levels)
    return out


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
            for sent in _sentences(p.text, p.heading):
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
        for i in np.argsort(-sims).tolist():
            if len(chosen) == n or raw[i] < least or (chosen and sims[i] < sims[chosen[0]] - SECOND_QUOTE_GAP):
                break
            quote = pool[i][0]
            if not any(_same_point(quote, pool[j][0]) for j in chosen) and not any(_same_point(quote, q)
                                                                                   for q in skip or ()) \
                    and not any(restates(quote, x) for x in said) and not (said and DEFINITION.search(quote)):
                chosen.append(i)
        return [(pool[i][0], pool[i][1]) for i in sorted(chosen)]

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
        if triage.sentiment == "negative":  # the reply's one apology
            say(empathy(triage, channel))
        requests: list[Request] = triage.requests
        if triage.abstained or not requests:
            paragraph += 1
            say("Thank you for your message. A colleague is reviewing it and will reply shortly; if you can, please "
                "include your order number and what you would like us to do.")
        quoted: set[str] = set()
        asked: set[str] = set()
        level = str((customer or {}).get("tier") or "")
        for req in requests:
            paragraph += 1
            mine = [(i, o) for i, o in enumerate(outcomes) if o.intent == req.intent]
            spoke = False
            said: list[str] = []
            for i, o in mine:
                full = action_sentence(o)
                if text := said_once(full, [p.text for p in parts]):
                    say(text, "action", i, intent=o.intent, planned=dict(o.planned))
                    said.append(text)
                    spoke = True
                elif full or o.action in WORDING or o.action == "lookup_order":
                    # silent now (it waits for details, or another request says it), but it has words once a
                    # person decides
                    say("", "action", i, intent=o.intent, planned=dict(o.planned))
            if escalation and not spoke and not any(p.text == HANDED_OVER for p in parts):
                say(HANDED_OVER)
            if req.intent in questions and questions[req.intent] not in asked \
                    and not answered(questions[req.intent], triage):
                asked.add(questions[req.intent])  # one question put once, however many requests need it
                q = questions[req.intent].rstrip(".")
                say(q[0].upper() + q[1:] + ("" if q.endswith("?") else "."))
            # what to quote: nothing when a person takes it over; why, when policy refused; one fact beside an
            # action (it stays only while the action's sentence does); two when the customer only asked
            beside: int | None = None
            denied: list[tuple[int, StepOutcome]] = []
            if escalation or any(o.decision == Decision.escalated for _, o in mine):
                query, n = req.text, 0
            elif denied := [(i, o) for i, o in mine if o.decision == Decision.denied]:
                (beside, first_denied), n = denied[0], 1
                query = first_denied.reason
            elif acting := [i for i, o in mine if o.action != "send_reply" and o.decision != Decision.abstained]:
                # the fact beside an action explains its outcome ("processed": what that status means)
                query, n, beside = " ".join([req.text, *said]), 1, acting[0]
            else:
                query, n = req.text, 2
            # a quote that repeats what the reply already says (a refusal's reason, a status) adds nothing
            stated = statements(req.text)[0]  # what the customer asks is no fact about their case
            found = self.best_sentences(query, passages.get(req.intent, [])[:3], n, quoted, topical=n == 2,
                                        facts=" ".join([stated, *said]), level=level, said=said,
                                        least=MIN_QUOTE if beside is None or denied else BESIDE_READ_MIN
                                        if is_read(outcomes[beside].action) else BESIDE_MIN)
            for quote, p in found:
                quoted.add(quote)
                say(f"{quote} [{cite(p)}]", "support" if beside is not None else "text", beside)
        paragraph += 1
        say("", "next")  # what happens next, when the reply would otherwise say nothing
        paragraph += 1
        say(active().brand.signature)
        parts = with_next(parts)
        reply = render(parts)
        return Draft(summary=summary, reply=reply, citations=citations, parts=parts)


def customer_facing(sentence: str, staff_section: bool) -> str:
    """The sentence as it may be quoted to a customer, or '' when it is an instruction for staff."""
    told = TELL.sub("", sentence)
    if ASK.search(sentence):  # "Ask the customer to check… and to wait 48 hours" → "Please check… and wait 48 hours"
        sentence = "Please " + _to_customer(re.sub(r"\b(and|or),? to\s", r"\1 ", ASK.sub("", sentence)))
    elif told != sentence:  # "Tell the customer that X and that Y" → "X and Y"
        sentence = _to_customer(re.sub(r"\b(and|but|or),? that\s", r"\1 ", told))
    elif staff_section:
        return ""
    return "" if INTERNAL.search(sentence) else sentence[0].upper() + sentence[1:]


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
