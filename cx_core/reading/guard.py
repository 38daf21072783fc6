"""What follows from the Reading for any plan, whichever pack made it: a write the customer asked *not* to be
done, or took back, is not proposed; one they only ask about, want only under a condition or as a second choice
waits for a person with the reason. Each step is weighed against the clause of the message that names its record
(its id, or the words of the record in the customer's snapshot: the items of an order, a tariff's name), so "please
DON'T cancel the vacuum order, just cancel the headphones" drops the one and keeps the other."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from ..actions.base import REGISTRY, is_read
from ..plans import ASKS_ONLY, NOTICED, SECOND_CHOICE, Plan, Step
from ..signals import FORMAL_COMPLAINT
from ..wording import also_decided, listed
from . import bounds, paying
from .language import ASKING_WORDS, ASKS_FOR, ASKS_OF_IT, ON_REFUND, is_question, points_back
from .types import Qualifiers, Reading, RequestReading

_STOP = frozenset("""the and for with from that this your you our are was were has have had not but can could would please
order orders item items booking account accounts record records one ones any all new old my its it's their them""".split())
DROPPED = "as you asked, I haven't changed anything there"
FORMAL_HANDED_OVER = ("I've passed your formal complaint to a supervisor, who now owns your case and will look at "
                      "everything you have told us.")


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9][a-z0-9'-]+", text.lower()) if len(w) > 2 and w not in _STOP}


def _records_with(value: str, node: Any, out: list[Mapping[str, Any]], depth: int = 0) -> None:
    """Every record (a mapping) of ``node`` holding ``value`` as one of its own fields."""
    if depth > 6:
        return
    if isinstance(node, Mapping):
        if any(str(v) == value for v in node.values() if isinstance(v, str | int)):
            out.append(node)
        for v in node.values():
            if isinstance(v, Mapping | list):
                _records_with(value, v, out, depth + 1)
    elif isinstance(node, list):
        for v in node:
            _records_with(value, v, out, depth + 1)


def _flat(node: Any, depth: int = 0) -> Iterable[str]:
    if depth > 4:
        return
    if isinstance(node, Mapping):
        for v in node.values():
            yield from _flat(v, depth + 1)
    elif isinstance(node, list):
        for v in node:
            yield from _flat(v, depth + 1)
    elif isinstance(node, str) and not re.fullmatch(r"[\d\-:T.+Z ]+", node):
        yield node


def step_words(step: Step, snapshot: Mapping[str, Any] | None) -> tuple[set[str], set[str]]:
    """The ids a step names and the words of the records they stand for (from the customer's snapshot)."""
    ids, words = set(), set()
    for value in step.args.values():
        if not isinstance(value, str | int) or isinstance(value, bool):
            continue
        text = str(value)
        if re.search(r"\d", text) or re.fullmatch(r"[A-Z][A-Z0-9_-]{2,}", text):  # a key, not a word ("afternoon")
            ids.add(text.lower().lstrip("#"))
        found: list[Mapping[str, Any]] = []
        _records_with(text, snapshot or {}, found)
        for record in found[:3]:
            for field_text in _flat(record):
                words |= _words(field_text)
        words |= _words(text)
    return ids, words


def clause_for(step: Step, reading: Reading, snapshot: Mapping[str, Any] | None) -> RequestReading | None:
    """The request (a clause) of the message that names this step's record best: by id, else by the most words
    of the record; among the step's own task type first."""
    ids, words = step_words(step, snapshot)
    own = [r for r in reading.requests if r.task_type == step.intent] or list(reading.requests)
    best, score = None, 0.0
    for r in own:
        hit = _score(ids, words, r.sentence.text)
        if hit > score:
            best, score = r, hit
    if best is not None and score < 10 and not _instructs(best):
        # a clause that only tells of the record ("I got a text about the engineer coming on Thursday afternoon")
        # weighs less than one that says what to do with it ("please don't move my afternoon visit"), unless it
        # names the record's id; a clause that names nothing of the record ("don't process anything else") never
        # speaks for it
        telling = [r for r in own if _instructs(r) and _score(ids, words, r.sentence.text) > 0]
        if telling and len({holding(r.qualifiers)[0] for r in telling}) == 1:
            return max(telling, key=lambda r: _score(ids, words, r.sentence.text))
        if not telling and (said := _pointing(own)) is not None:
            return said
    if best is None and own:  # no clause names the record: the request's own words, when they agree
        if (said := _pointing(own)) is not None:
            return said
        verdicts = {holding(r.qualifiers)[0] for r in own}
        if len(own) == 1 or len(verdicts) == 1:
            return own[0]
        dropped = [r for r in own if holding(r.qualifiers)[0] == "drop"]
        if dropped and not any(_instructs(r) for r in own if r not in dropped):
            return dropped[-1]  # "we were going to ask you to move it, but my brother can't get the days off"
        if not dropped or own[-1] not in dropped:
            return None
        asks = [r for r in own if r not in dropped]
        if len(asks) == 1 and _of_another(own[-1], asks[0]):
            return asks[0]  # "cancel the coffee machine order but keep the air purifier one": another thing kept
        return own[-1]  # a change of mind said last wins
    return best


_KEEPING = frozenset("keep keeping leave stay stays remain not don't dont never mind changed change cancel stop hold "
                     "off after all anymore more longer actually".split())


def _of_another(kept: RequestReading, asked: RequestReading) -> bool:
    """Whether a clause that keeps or refuses something names a thing of its own that the asking clause does not
    ("… but keep the air purifier one"), rather than taking the request back ("Actually, don't")."""
    said = _words(kept.sentence.text) - _KEEPING - ASKING_WORDS
    return bool(said) and not said & _words(asked.sentence.text)


REFUND_SETTLES = "the customer's condition on getting all their money back is met: it refunds everything paid"


def _refund_settles(step: Step, q: Qualifiers) -> bool:
    """A condition only on getting all the money back ("if I get the whole amount back, go ahead"), on a step whose
    action gives back everything paid whenever the rules allow it (a refused one never runs): the records settle
    it, so it does not wait for a person."""
    spec = REGISTRY.get(step.action)
    held = [x for x in (q.negated, q.withdrawn, q.asks_only, q.fallback, q.restriction) if x is not None]
    return bool(spec is not None and spec.refunds_in_full and q.condition is not None and not held
                and ON_REFUND.search(q.condition.text))


PAYMENT_SETTLES = "the customer's condition only says how to pay: the payment method it leads to is the one chosen"


def _pays_only(step: Step, q: Qualifiers) -> bool:
    """A condition that only says how to pay ("If there's a charge, put it on the gift card first, and if that doesn't
    have enough on it, use my Visa"), on a step whose payment is chosen: the condition picks the payer, and the pack's
    rule that chose it read the same words, so the write itself does not wait."""
    held = [x for x in (q.negated, q.withdrawn, q.asks_only, q.restriction) if x is not None]
    return q.condition is not None and not held and paying.only_how_to_pay(q.condition.text) \
        and (q.fallback is None or paying.only_how_to_pay(q.fallback.text)) \
        and any("payment" in k and v not in (None, "", []) for k, v in step.args.items())


def _records_settle(step: Step, q: Qualifiers, snapshot: Mapping[str, Any] | None) -> tuple[bool, str] | None:
    """A condition only on a figure of a record the step acts on ("as long as its exit fee is £100 or less"):
    whether the record meets it, with the figure (``bounds.settle``); None when it is not such a condition."""
    held = [x for x in (q.negated, q.withdrawn, q.asks_only, q.fallback, q.restriction) if x is not None]
    if q.condition is None or held:
        return None
    rows: list[Mapping[str, Any]] = []
    others: list[Mapping[str, Any]] = []
    for value in step.args.values():
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            for rows_of in (snapshot or {}).values():  # the record, and the others of its kind beside it
                if isinstance(rows_of, list) and (mine := [r for r in rows_of if isinstance(r, Mapping) and any(
                        str(v) == str(value) for v in r.values() if isinstance(v, str | int))]):
                    rows += mine
                    others += [r for r in rows_of if isinstance(r, Mapping) and r not in mine]
    if not rows:
        return None
    return bounds.made(q.condition.text, rows) or bounds.settle(q.condition.text, rows, others)


def _pointing(own: list[RequestReading]) -> RequestReading | None:
    """"Fixed 24 would suit me better. If I can switch without the exit fee, please do it": a condition set on the
    clause whose "it" stands for the request holds it (a second choice is the planner's to apply)."""
    pointing = [r for r in own if points_back(r.sentence.text) and r.qualifiers.condition is not None
                and holding(r.qualifiers)[0] == "hold"]
    return pointing[-1] if pointing else None


def _instructs(r: RequestReading) -> bool:
    """Whether a clause says what to do (asks for it, or says not to), rather than only telling of something or
    asking a question ("Is Tuesday free?" follows the request it belongs to; it holds nothing of its own)."""
    return holding(r.qualifiers)[0] == "drop" or bool(ASKS_FOR.search(r.sentence.text)) or bool(
        ASKS_OF_IT.search(r.sentence.text))  # "…so could the washing machine come on Tuesday too?"


TOLD_ONLY = 0.7  # below this, a request read from a sentence that only tells of something is not acted on


def _told_only(step: Step, clause: RequestReading, reading: Reading, steps: list[Step]) -> str:
    """Why a write waits when the words behind it only tell of something, as the background of what the message
    asks for elsewhere ("the charger charges more slowly than I'd like, so I ordered the 11kW. … please take it back
    and refund me"): no sentence of its kind asks for anything, says not to, or claims a wrong, the classifier is
    unsure of its kind, and another request of the message, of another kind, asks in so many words for what a step
    of its own does on other records (a statement about the same booking, "the conference has been pushed back a
    week", is what the request beside it is about); '' otherwise."""
    own = [r for r in reading.requests if r.task_type == clause.task_type] or [clause]
    if max(r.confidence for r in own) >= TOLD_ONLY or any(_instructs(r) or r.qualifiers.claims for r in own):
        return ""
    asked = {r.task_type for r in reading.requests if r.task_type != clause.task_type and r.confidence >= TOLD_ONLY
             and _instructs(r)}
    elsewhere = [s for s in steps if s.intent in asked]
    mine = step_words(step, None)[0]
    if not elsewhere or any(mine & step_words(s, None)[0] for s in elsewhere):
        return ""
    return (f"the message only tells of it (“{clause.sentence.text[:80]}”), and what it asks for is something else: "
            "a person decides")


def _verb_denied(step: Step, reading: Reading) -> RequestReading | None:
    """A clause of the step's kind that says its own verb is not to be done ("I'm still going, so nothing should be
    cancelled; just swap Miguel for Nathan"), when no clause asks for that verb: it speaks for the step, whatever
    another clause of that kind names."""
    verb = step.action.split("_")[0].lower()
    if len(verb) < 4:
        return None
    own = [r for r in reading.requests if r.task_type == step.intent]
    denied = [r for r in own if r.qualifiers.negated is not None and verb in r.qualifiers.negated.text.lower()]
    asked = [r for r in own if r not in denied and verb in r.sentence.text.lower()]
    return denied[-1] if denied and not asked else None


_YES_NO = re.compile(r"^\W*(?:(?:also|and|so|but),?\s+)?(?:is|are|was|were|do|does|did|has|have|had|am)\b", re.I)


def _asked_whether(step: Step, clause: RequestReading, reading: Reading, snapshot: Mapping[str, Any] | None) -> str:
    """Why a write waits when the customer only asks whether there is anything wrong with its record ("a $79
    charge turned up on my account … Have I been billed for the installation twice?"): no sentence of its kind asks
    for anything or claims a wrong, and a yes-or-no question names its record; '' otherwise."""
    own = [r for r in reading.requests if r.task_type == clause.task_type] or [clause]
    if any(_instructs(r) or r.qualifiers.claims or holding(r.qualifiers)[0] for r in own):
        return ""
    ids, words = step_words(step, snapshot)
    asked = [r for r in reading.requests if r not in own and _YES_NO.search(r.sentence.text)
             and is_question(r.sentence) and not _instructs(r) and _score(ids, words, r.sentence.text) > 0]
    return f"the customer asks whether it is so (“{asked[0].sentence.text[:80]}”): a person checks" if asked else ""


def _score(ids: set[str], words: set[str], text: str) -> float:
    """How well words name a record: ten for each of its ids, one for each of its words."""
    low = text.lower()
    return 10.0 * sum(1 for i in ids if i and len(i) > 2 and re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", low)) \
        + len(words & _words(text))


def holding(q: Qualifiers) -> tuple[str, str]:
    """(what to do, why): ``drop`` a write the customer does not want, ``hold`` one that waits for them."""
    if q.negated is not None:
        return "drop", f"the customer asks for it not to be done (“{q.negated.text}”)"
    if q.withdrawn is not None:
        return "drop", f"the customer changed their mind (“{q.withdrawn.text}”)"
    if q.asks_only is not None:
        return "hold", ASKS_ONLY
    if q.condition is not None:
        return "hold", f"the customer sets a condition on it (“{q.condition.text}”)"
    if q.fallback is not None:
        return "hold", f"{SECOND_CHOICE} (“{q.fallback.text}”)"
    if q.restriction is not None:
        return "hold", f"the customer narrows which ones they mean (“{q.restriction.text}”)"
    return "", ""


_WH = frozenset("why what which when where how who whom whose whether if".split())


def _later(value: Any) -> bool:
    """A value an earlier step's result fills in when it has run ("{refund}")."""
    return isinstance(value, str) and value.startswith("{") and value.endswith("}")


def _unfit(step: Step) -> dict[str, str]:
    """The arguments a step carries that its action cannot take, by the words people read for them: a required one
    left empty ("zip": ""), or a value read that its field refuses (a meter's "23791.4" where whole digits are
    wanted). Each is a detail to ask, never a refusal in a validator's words."""
    spec = REGISTRY.get(step.action)
    if spec is None:
        return {}
    fields = spec.args_model.model_fields
    names = {n for n, f in fields.items() if f.is_required() and n in step.args and step.args[n] in ("", None)}
    try:
        spec.args_model.model_validate(step.args)
    except ValidationError as exc:
        names |= {str(e["loc"][0]) for e in exc.errors() if e["loc"] and e["loc"][0] in step.args
                  and e["loc"][0] in fields and not _later(step.args[e["loc"][0]])}
    out = {}
    for name in sorted(names, key=list(fields).index):
        said = str(fields[name].description or "").rstrip(".")
        noun = said and len(said) <= 40 and said.split()[0].lower() not in _WH  # "Why the customer cancels": no noun
        out[name] = said[:1].lower() + said[1:] if noun else name.replace("_", " ")
    return out


_WHOSE = ("user_id", "customer_id")  # whose record it is, not the record


def _record_keys(step: Step) -> set[str]:
    """The keys of the records a step acts on (not whose they are)."""
    return {str(v) for k, v in step.args.items() if k.endswith("_id") and k not in _WHOSE}


def left_alone(steps: list[Step]) -> str:
    """What the reply says of writes the customer asked not to have done: the records they would have changed, left
    as they are ("as you asked, I've left visit V-4001 as it is"); without a record's key, the plain words."""
    names = list(dict.fromkeys(
        f"{key.removesuffix('_id').replace('_', ' ')} {value}" for s in steps
        for key, value in list(s.args.items())[:1] if key.endswith("_id") and key not in _WHOSE
        and isinstance(value, str | int) and str(value).strip()))
    if not names:  # no record's key: the fields the write would have changed ("your phone", "your email")
        names = list(dict.fromkeys(f"your {key.replace('_', ' ')}" for s in steps for key in s.args
                                   if key not in _WHOSE and not key.endswith("_id")))[:2]
    if not names:
        return DROPPED
    return f"as you asked, I've left {listed(names)} as {'it is' if len(names) == 1 else 'they are'}"


def apply(plan: Plan, reading: Reading, snapshot: Mapping[str, Any] | None, first: str = "") -> Plan:
    """``plan`` with what the Reading says of each write step: dropped when the customer does not want it, held
    (with the reason) when it waits for them, or for what a person answers ``first`` (``signals.held_first``: a
    danger, an account someone else may hold). Reads are never held. A formal complaint hands the whole case to a
    supervisor."""
    _formal_complaint(plan, reading)
    kept: list[Step] = []
    dropped: list[Step] = []
    unmet: dict[str, str] = {}  # a condition the records settle, not met: why, by task type
    for step in plan.steps:
        if is_read(step.action):
            kept.append(step)
            continue
        if reading.nothing_now is not None:  # "not changing anything yet, just trying to understand": nor is a
            dropped.append(step)  # refusal of what they did not ask for said
            continue
        if step.refused:
            kept.append(step)
            continue
        if not step.missing and (unfit := _unfit(step)):  # a value left empty or refused is a detail to ask
            asked = listed([f"the {b}" for b in unfit.values()])
            step = replace(step, missing=asked, args={k: v for k, v in step.args.items()
                                                      if k not in unfit or v in ("", None)})
            plan.questions.setdefault(step.intent, f"could you send {asked}?")
        if first:  # the danger first, whatever else held the step: no details asked, no other way offered
            kept.append(replace(step, held=first, missing=""))
            plan.questions.pop(step.intent, None)
            plan.answers.pop(step.intent, None)
            continue
        clause = clause_for(step, reading, snapshot)
        if clause is not None and step.rationale.endswith(NOTICED) and not _score(*step_words(step, snapshot),
                                                                            clause.sentence.text):
            clause = None  # found on the records, not asked for: only words that name its record weigh on it
        what, why = holding(clause.qualifiers) if clause is not None else ("", "")
        if what != "drop" and (denied := _verb_denied(step, reading)) is not None:
            what, why = holding(denied.qualifiers)
        if what == "hold" and clause is not None and _refund_settles(step, clause.qualifiers):
            what, step = "", replace(step, rationale=f"{step.rationale}; {REFUND_SETTLES}")
        elif what == "hold" and clause is not None and _pays_only(step, clause.qualifiers):
            what, step = "", replace(step, rationale=f"{step.rationale}; {PAYMENT_SETTLES}")
        elif what == "hold" and clause is not None and (settled := _records_settle(step, clause.qualifiers,
                                                                                    snapshot)) is not None:
            what = "" if settled[0] else "drop"  # met: it goes ahead; not met: not done, and the reply says why
            step = replace(step, rationale=f"{step.rationale}; {'met' if settled[0] else 'not met'}: {settled[1]}")
            unmet.update({} if settled[0] else {step.intent: settled[1]})
        if not what and clause is not None and (why := _told_only(step, clause, reading, plan.steps)
                                                or _asked_whether(step, clause, reading, snapshot)):
            what, step = "hold", replace(step, missing="")  # nothing of it is asked of the customer either
            plan.questions.pop(step.intent, None)
        if what == "drop":
            dropped.append(step)
        elif what == "hold" and not step.held:
            first = _first_choice(step, clause, plan.steps, reading, snapshot) if clause is not None else ""
            kept.append(replace(step, held=why, instead_of=step.instead_of or first))
        else:
            kept.append(step)
    if dropped:
        # a record another write acts on is not "left as it is" ("we were going to ask for another flight, but …
        # please cancel the whole booking")
        acted = {key for s in kept if not is_read(s.action) for key in _record_keys(s)}
        for intent in {s.intent for s in dropped} - {s.intent for s in kept if not is_read(s.action)}:
            plan.questions.pop(intent, None)
            unacted = [s for s in dropped if s.intent == intent and not _record_keys(s) & acted]
            if not unacted:
                plan.covered.append(intent)  # the other write settles it: nothing quoted for it either
                continue
            left = left_alone(unacted)
            plan.answers.setdefault(intent, f"{left}: {unmet[intent]}" if intent in unmet else left)
        plan.steps = [s for s in kept if not (s.depends_on and s.depends_on in {d.action for d in dropped})]
    else:
        plan.steps = kept
    return plan


def _first_choice(step: Step, clause: RequestReading, steps: list[Step], reading: Reading,
                  snapshot: Mapping[str, Any] | None) -> str:
    """The action of the customer's first choice, when ``clause`` only wants ``step`` as the second ("if you can't,
    cancel it instead"): the nearest write before it that the words ask for as they stand; '' when there is none."""
    q = clause.qualifiers
    if q.fallback is None or q.condition is not None or q.asks_only is not None:
        return ""
    before: list[tuple[int, str]] = []
    for other in steps:
        if other is step or is_read(other.action) or other.action == step.action:
            continue
        said = clause_for(other, reading, snapshot)
        if said is not None and said.sentence.start < clause.sentence.start and not holding(said.qualifiers)[0]:
            before.append((said.sentence.start, other.action))
    return max(before)[1] if before else ""


def _formal_complaint(plan: Plan, reading: Reading) -> None:
    """A complaint made formally goes to a supervisor, who owns the case and decides what else the message asks
    (unless the pack's plan already hands it to a person or a team, with its own words)."""
    said = FORMAL_COMPLAINT.search(reading.text)
    if said is None or plan.escalate_because or plan.escalate_queue:
        return
    plan.escalate_because = f"a formal complaint (\u201c{said.group(0)}\u201d): a supervisor owns the case"
    plan.handed_over = " ".join(filter(None, [FORMAL_HANDED_OVER, also_decided(
        [(st.action, st.args) for st in plan.steps if not is_read(st.action)])]))
    plan.questions = {}
