"""The reply an advisor sends: the draft as its proposals now stand, the checks before it goes (no action claimed
that did not run, nothing undecided left behind unless the advisor says why), and the send itself."""

from __future__ import annotations

import re
from typing import Any

from .. import audit
from ..access import StaffUser, require
from ..actions import REGISTRY, is_read
from ..actions.execute import execute
from ..drafting import ProposalState, for_customer, recompose, render
from ..errors import InvalidInput, ReplyHeld
from ..models import ProcessResult, ReplyPart, Role
from ..policy import Policy
from ..store.db import Database, utcnow
from ..store.tables import TicketRow
from ..wording import WORDING, claimed_actions, claims, names
from .decisions import decision_context
from .inbox import get_ticket, taking


def added_parts(parts: list[ReplyPart], proposals: list[dict[str, Any]]) -> list[ReplyPart]:
    """The reply's parts with a sentence for every proposal a person added, in a paragraph of their own before
    the sign-off (whose paragraph moves down by one)."""
    known = {p.proposal for p in parts if p.proposal is not None}
    extra = [p for p in proposals if p["position"] >= 1000 and p["position"] not in known]
    if not extra or not parts:
        return parts
    last = max(p.paragraph for p in parts)
    head = [p for p in parts if p.paragraph != last]
    tail = [p.model_copy(update={"paragraph": last + 1}) for p in parts if p.paragraph == last]

    def intent(action: str) -> str:
        spec = REGISTRY.get(action)
        return spec.task_types[0] if spec is not None and spec.task_types else ""

    return [*head, *(ReplyPart(text="", paragraph=last, kind="action", proposal=p["position"],
                               intent=intent(p["action"])) for p in extra), *tail]


def align(before: list[ReplyPart], after: list[ReplyPart]) -> list[ReplyPart]:
    """``before`` with an empty part where ``after`` has a sentence for a proposal ``before`` did not know (one a
    person added since), so the two can be compared part by part."""
    if len(before) == len(after):
        return before
    known = {p.proposal for p in before if p.proposal is not None}
    rest = iter(before)
    out = []
    for part in after:
        if part.kind == "action" and part.proposal is not None and part.proposal not in known:
            out.append(part.model_copy(update={"text": ""}))
        else:
            out.append(next(rest, part.model_copy(update={"text": ""})))
    return out


def proposal_states(proposals: list[dict[str, Any]]) -> dict[int, ProposalState]:
    """The ticket's proposals by position, as the reply's wording needs them."""
    return {p["position"]: ProposalState(p["action"], dict(p["args"]), p["decision"], p["status"], p["result"],
                                         p["reason"], p.get("customer_note") or "") for p in proposals}


def reply_draft(data: dict[str, Any]) -> tuple[list[ReplyPart], str]:
    """The agent's reply as it reads now, for a ticket from ``get_ticket``: every action sentence worded for its
    proposal's current state. A reply rewritten by a language model has no parts and stays as written."""
    result: ProcessResult | None = data["result"]
    if result is None:
        return [], ""
    if not result.draft.parts:
        return [], result.draft.reply
    parts = recompose(added_parts(result.draft.parts, data["proposals"]), proposal_states(data["proposals"]))
    return parts, render(parts)


UNDECIDED = {"pending", "escalated"}


def reply_problems(data: dict[str, Any], body: str, resolve: bool) -> list[tuple[str, bool]]:
    """Why ``body`` may not be sent on this ticket as it stands, each with whether a person may override it:
    a sentence that says an action was done when it was not (never overridable); a sentence about an action that
    still waits for a decision; resolving while proposals are undecided; a claim of an action nobody proposed."""
    props = [p for p in data["proposals"] if p["action"] in WORDING]
    problems: list[tuple[str, bool]] = []
    parts, _ = reply_draft(data)
    typed = typed_text(body, parts)  # only what a person wrote is read as English; the draft's parts are data
    for action in {p["action"] for p in props} | set(claimed_actions(typed)):
        mine = [p for p in props if p["action"] == action]
        done = [p for p in mine if p["status"] == "executed"]
        not_done = [p for p in mine if p["status"] != "executed"]
        noun = WORDING[action].noun
        for said in claims(typed, action):
            if _accounted(said, action, props):
                continue
            if not mine:
                problems.append((f"The reply says {noun} is done, but no such action ran on this ticket: remove "
                                 f"\"{_clip(said)}\", or send anyway if it was done elsewhere", True))
            elif not_done and not (done and any(names(said, p["args"], action) for p in done)
                                   and not any(names(said, p["args"], action) for p in not_done)):
                state = not_done[0]["status"]
                state = "it still waits for a decision" if state in UNDECIDED else f"it was {state}"
                problems.append((f"{noun[0].upper() + noun[1:]} has not been done ({state}): remove the sentence "
                                 f"that says it was: \"{_clip(said)}\"", False))
    for part in parts:
        if part.kind != "action" or part.proposal is None or not part.text or part.text not in body:
            continue
        p = next((x for x in props if x["position"] == part.proposal), None)
        if p is not None and p["status"] in UNDECIDED:
            problems.append((f"Approve or reject {WORDING[p['action']].noun} first, or remove the sentence about it: "
                             f"\"{_clip(part.text, 160)}\"", True))
    if resolve:
        waiting = [p for p in data["proposals"] if p["status"] in UNDECIDED and not is_read(p["action"])]
        if waiting:
            what = ", ".join(dict.fromkeys(WORDING[p["action"]].noun if p["action"] in WORDING
                                           else p["action"].replace("_", " ") for p in waiting))
            problems.append((f"{len(waiting)} proposed action{'s' if len(waiting) > 1 else ''} still wait"
                             f"{'' if len(waiting) > 1 else 's'} for a decision ({what}): approve or reject "
                             f"{'them' if len(waiting) > 1 else 'it'} first, or resolve anyway", True))
    return list(dict.fromkeys(problems))


def typed_text(body: str, parts: list[ReplyPart]) -> str:
    """What a person wrote in ``body``: the reply less every sentence of the agent's draft it still holds word for
    word. Those sentences were worded from the proposals' states (``recompose``: an action's sentence says done only
    once it ran) and from the knowledge base, so what they claim is known as data and never read back as English."""
    for text in sorted({p.text.strip() for p in parts if p.text.strip()}, key=len, reverse=True):
        body = body.replace(text, "\n")
    return body


def changed_sentences(mine: str, newer: str) -> tuple[list[str], list[str]]:
    """What a newer draft says that the one before (``mine``) did not, and what it no longer says, sentence by
    sentence (for the advisor to see before taking it)."""
    def split(text: str) -> list[str]:
        text = re.sub(r"\s*\[\d+\]", "", text)  # the citation markers are no words of the reply
        return [x.strip() for x in re.split(r"(?<=[.!?])\s+|\n+", text) if x.strip()]

    old, new = split(mine), split(newer)
    return [x for x in new if x not in old], [x for x in old if x not in new]


def _accounted(said: str, action: str, props: list[dict[str, Any]]) -> bool:
    """A sentence that also reads as another action which did run, on the record it names, speaks of that one
    ("I've changed the shipping address of order 1001" is no claim that the account's address changed)."""
    for p in props:
        if p["action"] != action and p["status"] == "executed" and claims(said, p["action"]):
            if names(said, p["args"], p["action"]) or not WORDING[p["action"]].ids:
                return True
    return False


def _clip(text: str, limit: int = 90) -> str:
    text = for_customer(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# a reply that waits for something: a question to the customer, or word promised back
_FOLLOW_UP = re.compile(r"\?|\b(?:I'll|I will|we'll|we will|(?:a |my |our )?colleague (?:\w+ ){0,6}?will|"
                        r"supervisor,? (?:\w+ ){0,6}?will)\s+(?:\w+ ){0,2}?(?:confirm|get back|come back|reply|write|"
                        r"let you know|update|contact|be in touch|follow up|call|email|look at|review|answer)\b",
                        re.I)


# word back that a person of ours still owes (not the email confirming an action that runs): the ticket is ours
_OURS_NEXT = re.compile(r"\b(?:(?:a |my |our )?colleague|supervisor|team),? (?:\w+ ){0,6}?will\s+(?:\w+ ){0,2}?"
                        r"(?:get back|come back|reply|write|contact|be in touch|follow up|call|look at|review|answer)\b|"
                        r"\b(?:is|are) looking (?:at|into) (?:your|this)\b", re.I)


def owes_word_back(body: str) -> bool:
    """Whether a reply tells the customer that a person of ours comes back to them: the ticket stays with us
    (open), not on the customer."""
    return bool(_OURS_NEXT.search(body))


def promises_follow_up(body: str) -> bool:
    """Whether a reply asks the customer something, asks them to write back ("just reply and tell us which";
    not an offer they may take up: "If you would rather…, just reply") or promises them word back, so the ticket
    should stay open."""
    return bool(_FOLLOW_UP.search(body)) or any(
        _WRITE_BACK.search(x) and not _OFFER.match(x) for x in re.split(r"(?<=[.!])\s+", body))


# the customer asked to write back: what the reply needs from them comes in their answer
_WRITE_BACK = re.compile(r"\b(?:just|please|simply) (?:reply|write|send us|tell us|let us know)\b|\btell us which\b",
                         re.I)
_OFFER = re.compile(r"\s*(?:if|should|whenever|any time)\b", re.I)  # "If you would rather have…, just reply"


def send_reply(db: Database, policy: Policy, user: StaffUser, ticket_id: str, body: str,
               resolve: bool = True, override: str = "") -> dict[str, Any]:
    """Sends the (edited) reply through ``execute`` and, with ``resolve``, resolves the ticket; otherwise the ticket
    waits for the customer (status ``waiting``) until they answer. A reply that says an action was done when it was not is refused, always; one that
    speaks of an undecided action, or resolves a ticket whose proposals are undecided, is refused unless the
    advisor sends anyway with a reason (``override``), which is audited."""
    user = require(user, Role.advisor, db)
    if not body.strip():
        raise InvalidInput("the reply is empty")
    taking(db, user, ticket_id)
    problems = reply_problems(get_ticket(db, ticket_id), body, resolve)
    hard = [m for m, overridable in problems if not overridable]
    if hard:
        raise ReplyHeld(hard[0], overridable=False)
    if problems and not override.strip():
        raise ReplyHeld(problems[0][0], overridable=True)
    ctx = decision_context(db, user, ticket_id, policy)
    if problems:
        with db.tx() as s:
            audit.append(s, user.username, "reply.override", ticket_id, reason=override.strip(),
                         problems=[m for m, _ in problems], resolve=resolve)
    out = execute(db, policy, "send_reply", {"body": for_customer(body)}, ctx)
    if out.status == "executed":
        with db.tx() as s:
            row = s.get(TicketRow, ticket_id)
            if row is not None and resolve:
                row.status, row.resolved_at = "resolved", utcnow()
                audit.append(s, user.username, "ticket.resolved", ticket_id)
            elif row is not None:  # on the customer (their answer reopens it), or on us when we owe them word
                row.status = ("escalated" if row.status == "escalated" else "open") if owes_word_back(body) \
                    else "waiting"
                audit.append(s, user.username, "ticket.replied", ticket_id, resolved=False)
    return {"status": out.status, "reason": out.reason, "result": out.result}
