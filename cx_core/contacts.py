"""Repeat contacts: how many times a customer has written about one problem, from their earlier tickets of the same
task type and from what the message itself says ("this is the third time I've written")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from .actions.base import is_read
from .domain import active
from .entities import split_sentences
from .plans import NOTICED
from .store.db import Database
from .store.tables import ProposalRow, TicketRow
from .triage import contacts as said_contacts
from .wording import day

WINDOW = timedelta(days=30)
_BESIDE = ("complaint", "compensation")  # task types whose actions (a note, a gesture) never clash with a record's
# a task type named by what it asks for ("change flights", "add checked bags") reads as "asking to …"
_UNDER_WAY = ("needs_approval", "escalated")  # a waiting proposal's decisions that are the change itself, in hand
_VERBS = {"add", "change", "update", "reschedule", "move", "resend", "exchange", "upgrade", "book", "rebook"}


@dataclass
class Contacts:
    """The contact number of this ticket about its problem and the earlier tickets it follows."""

    number: int = 1
    earlier: list[dict[str, Any]] = field(default_factory=list)

    def reason(self, what: str) -> str:
        ordinal = {2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(self.number, f"{self.number}th")
        parts = [f"repeated contact: the customer's {ordinal} contact about {what}"]
        if self.earlier:
            parts.append("earlier tickets " + ", ".join(f"{e['at']:%d %b}" for e in self.earlier))
        else:  # the message says so; no earlier ticket is on record (a call, another address)
            parts[0] += " (as the customer says; no earlier ticket on record)"
        return "; ".join(parts)


def count(db: Database, customer_id: str | None, task_types: list[str], ticket_id: str, now: datetime,
          text: str) -> Contacts:
    """This ticket's contact number about its problem: one more than the customer's earlier tickets of the same
    task types in the last 30 days, or what the message says of itself when that is more."""
    earlier: list[dict[str, Any]] = []
    kinds = [k for k in task_types if k and k not in {"unclassified", "none"}]
    if customer_id and kinds:
        with db.session() as s:
            rows = s.scalars(select(TicketRow).where(
                TicketRow.customer_id == customer_id, TicketRow.id != ticket_id, TicketRow.task_type.in_(kinds),
                TicketRow.created_at >= now - WINDOW, TicketRow.created_at <= now)
                .order_by(TicketRow.created_at).limit(20)).all()
            earlier = [{"id": r.id, "at": r.created_at, "subject": r.subject or r.body[:80], "status": r.status,
                        "task_type": r.task_type} for r in rows]
    counted = len(earlier) + 1
    return Contacts(number=max(counted, said_contacts(text)), earlier=earlier)


def open_elsewhere(db: Database, customer_id: str, ticket_id: str, now: datetime,
                   after: datetime | None = None) -> list[dict[str, Any]]:
    """The customer's other tickets still open (open, escalated or waiting on them), newest first, at most three,
    each with its actions still waiting for a person and the reply drafted there: what a vague message ("nobody
    calls back") is likely about, what is already under way and what the customer is being told; ``later``: sent
    after this ticket's own message came (``after``), their latest word."""
    with db.session() as s:
        rows = s.scalars(select(TicketRow).where(
            TicketRow.customer_id == customer_id, TicketRow.id != ticket_id,
            TicketRow.status.in_(("open", "escalated", "waiting")), TicketRow.created_at <= now)
            .order_by(TicketRow.created_at.desc()).limit(3)).all()
        waiting = s.execute(select(ProposalRow.ticket_id, ProposalRow.action, ProposalRow.args,
                                   ProposalRow.decision, ProposalRow.rationale).where(
            ProposalRow.ticket_id.in_([r.id for r in rows]), ProposalRow.status == "pending")).all()
        return [{"id": r.id, "at": r.created_at.date().isoformat(), "today": r.created_at.date() == now.date(),
                 "later": after is not None and r.created_at > after,
                 "subject": (r.subject or r.body)[:120],
                 "text": f"{r.subject}\n{r.body}"[:4000], "task_type": r.task_type or "",
                 "pending": [{"action": a, "args": args, "decision": d, "noticed": (why or "").endswith(NOTICED)}
                             for t, a, args, d, why in waiting if t == r.id],
                 "said": str(((r.result or {}).get("draft") or {}).get("reply") or "")[:4000]} for r in rows]


def record_ids(args: list[dict[str, Any]]) -> set[str]:
    """The records a set of actions' arguments name (an order, a booking, an appointment; not the customer)."""
    return {str(v) for a in args for k, v in (a or {}).items() if k.endswith("_id") and k != "user_id"
            and isinstance(v, str) and len(v.lstrip("#")) >= 5}


_FREE_TEXT = {"reason", "message", "body", "note", "user_id"}  # words and whose: no detail of the change itself


def _details(args: dict[str, Any], ids: set[str]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k not in _FREE_TEXT and not (isinstance(v, str) and v in ids)}


def target(args: dict[str, Any]) -> set[str]:
    """The record an action acts on: the first record its arguments name (an order, a booking; never the card or
    the item named after it)."""
    return next((ids for k, v in (args or {}).items() if (ids := record_ids([{k: v}]))), set())


def other_change(mine: list[tuple[str, dict[str, Any]]], theirs: list[dict[str, Any]]) -> str:
    """A record that this ticket's actions and another ticket's waiting ones change the same way with different
    details (order #W1 shipped to one address here, to another there): its id, or ''."""
    for action, args in mine:
        for p in theirs:
            shared = target(args) & target(p.get("args") or {})
            if p.get("action") == action and shared and (a := _details(args, shared)) and \
                    (b := _details(p.get("args") or {}, shared)) and a != b:
                return sorted(shared)[0]
    return ""


def _names(text: str, record: str) -> bool:
    """Whether a message's text names the record ("W1001234" for order #W1001234)."""
    return re.search(rf"(?<!\w){re.escape(record.lstrip('#'))}\b", text) is not None


def asked_before(steps: list[Any], open_tickets: list[dict[str, Any]] | None, text: str = "") -> tuple[str, list[Any]]:
    """The changes this ticket asks that an earlier open ticket of the customer's already asks the same way (a bag
    added to one booking, asked twice in different words) and that still wait for a person there: the reply's
    sentence and those steps, so each change is proposed once, on the first ticket; ("", []) when there are none.
    The record is named as the customer's ``text`` names it ("on reservation FZN2VD"), so that once the change runs
    there, this reply, which names it, is read again."""
    found: list[Any] = []
    earlier: dict[str, Any] = {}
    for st in steps:
        if st.final or st.refused or is_read(st.action):
            continue
        for t in open_tickets or []:
            # asked there too (not only noticed there, which moves to the ticket that asks)
            asked = t.get("task_type") == st.intent or any(_names(str(t.get("text") or ""), i) for i in target(st.args))
            if asked and not t.get("later") and any(  # planned there as asked (not only offered, nor waiting on details)
                    p.get("decision") in _UNDER_WAY and not p.get("noticed") and p.get("action") == st.action and (shared := target(st.args) & target(p.get("args") or {}))
                    and _details(st.args, shared) == _details(p.get("args") or {}, shared)
                    for p in t.get("pending") or []):
                found.append(st)
                earlier = earlier or t
                break
    if not found:
        return "", []
    named = next((f" on {k.removesuffix('_id').replace('_', ' ')} {v}" for k, v in found[0].args.items()
                  if isinstance(v, str) and v in target(found[0].args) and _names(text, v)), "")
    return (f"I can see you asked for the same{named} in {your_message(earlier)}, and we're already arranging it "
            "from there: you'll hear from us as soon as it goes through.", found)


def clash(args: list[dict[str, Any]], cancels: bool, open_tickets: list[dict[str, Any]] | None,
          actions: list[str] | None = None) -> tuple[str, dict[str, Any], str] | None:
    """The record (its id) that this ticket's actions and another open ticket of the customer's both speak of, when
    one of the two cancels it and the other asks something else of it (a booking one message asks to cancel and
    another to upgrade: "cancel"), or, given the ``actions``, both change it the same way differently ("differs"),
    and that ticket's action on it still waits for a person (one the rules refused, or one done, leaves nothing to
    choose between), with that ticket; None when there is no such pair."""
    ids = sorted(record_ids(args))
    for t in open_tickets or []:
        other = str(t.get("task_type") or "")
        live = record_ids([p.get("args") or {} for p in t.get("pending") or []])  # refused or done: nothing to weigh
        hit = next((i for i in ids if i in live and _names(t["text"], i)), None)
        if hit and cancels != ("cancel" in other) and not any(w in other for w in _BESIDE):
            return hit, t, "cancel"
        if actions and (hit := other_change(list(zip(actions, args, strict=True)), t.get("pending") or [])):
            return hit, t, "differs"
    return None


def sent(ticket: dict[str, Any]) -> str:
    """When one of ``open_elsewhere``'s tickets came, after "your message": "earlier today", "of Monday 7 December"."""
    return "earlier today" if ticket.get("today") else f"of {day(str(ticket['at']))}"


def your_message(ticket: dict[str, Any]) -> str:
    """One of ``open_elsewhere``'s tickets as the reply names it: "your later message" when it came after this one
    (their latest word), else "your message earlier today", "your message of Monday 7 December"."""
    return "your later message" if ticket.get("later") else f"your message {sent(ticket)}"


def _their_words(ticket: dict[str, Any], record: str) -> str:
    """The sentence of the other message that names the record, in the customer's words: one of its body before
    its subject line ("Could I move my BOS-JFK flight on December 2 to December 3? Booking reference YB2DBN." before
    "Change flight YB2DBN")."""
    sentences = split_sentences(str(ticket.get("text") or ""))
    subject = " ".join(str(ticket.get("text") or "").split("\n", 1)[0].split())
    named = [i for i, x in enumerate(sentences) if record.lstrip("#") in x]
    named = [i for i in named if " ".join(sentences[i].split()) != subject] or named
    if not named:  # the message never names it: its first lines of substance ("I can't be home on Tuesday. Could…")
        body = [x for x in sentences if " ".join(x.split()) != subject and len(x.split()) > 4]
        return " ".join(" ".join(body[:2]).split())[:300].rstrip(".!? ")
    i = named[0]  # a bare reference ("Booking reference YB2DBN.") goes with the request before it
    said = " ".join(sentences[i - 1:i + 1]) if i > 0 and len(sentences[i].split()) <= 4 \
        and " ".join(sentences[i - 1].split()) != subject else sentences[i]
    return " ".join(said.split())[:300].rstrip(".!? ")


def same_record(steps: list[Any], open_tickets: list[dict[str, Any]] | None) -> tuple[str, str]:
    """The reply's sentence when ``clash`` finds one (it sees both messages and asks which the customer wants), and
    the record whose actions here then wait for that answer ('' when they stand: a cancellation asked after the
    other change, which it overrides unless the customer says otherwise)."""
    # one that cannot run is no choice to offer; a complaint's gesture sits beside a cancellation, never against it
    steps = [st for st in steps if not (st.final or st.refused or is_read(st.action)
                                        or any(w in st.intent for w in _BESIDE))]
    cancels = any("cancel" in st.intent for st in steps)
    found = clash([st.args for st in steps], cancels, open_tickets, [st.action for st in steps])
    if found is None:
        return "", ""
    hit, t, kind = found
    yours = your_message(t)
    if kind == "differs":
        words = _their_words(t, hit)
        return (f"I can see {yours} asking for a different change to {hit}" + (f": \"{words}\"" if words else "")
                + "; please tell us which you would like.", hit)
    if not cancels:
        return (f"I can see {yours} asking to cancel {hit}; please tell us which you would like: this change, or "
                "the cancellation.", hit)
    asked = active().label(str(t.get("task_type") or ""))
    what = (f"asking to {asked} for {hit}" if asked.split(" ")[0] in _VERBS else
            f"about {hit} (\"{' '.join(str(t['subject']).split()).rstrip('.?! ')}\")")
    if t.get("later"):  # their latest word asks otherwise: nothing is cancelled before they say which
        return f"I can see {yours} {what}; please tell us which you would like: that, or the cancellation.", hit
    # the cancellation asked last is their latest word, and it cannot be undone once it runs: nothing is offered
    # that the reply, read after it ran, could not keep
    return f"I can also see {yours} {what}; as you now ask to cancel {hit}, that will not go ahead.", ""
