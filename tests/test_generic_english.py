"""The one table of generic English, run over every pack: each row is a construction customers use, written with
the pack's own words (its requests, records and things), and what the engine's Reading must make of it. No pack may
fail a row another passes: the rows are the same, only the words of the trade change.

What a row checks, by name:
- ``drop``: the request's write must not be proposed (negation, a change of mind);
- ``hold``: it waits for a person, with the reason (a condition the records cannot tell, a fallback, a question);
- ``go``: nothing holds it (a polite request, a condition the action's own checks decide);
- ``ask``/``report``: the request is a question, or a statement of what happened;
- a value (``date``, ``time``, ``period``, ``number``, ``amount``, ``phone``, ``address``, ``email``) read from the words,
  relative to the day the message was written (Friday 20 November 2026);
- ``kept``: the day named only to stay as it is, apart from the new one;
- ``every``, ``latest``, ``quantity``, ``exception``, ``comparative``, ``claim``, ``excluded``: the qualifier read.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from cx_core import packs
from cx_core.domain import find
from cx_core.reading.reader import read
from cx_core.reading.types import Reading

WRITTEN = datetime(2026, 11, 20, 9, 0)  # a Friday

# each pack's words for the same constructions: a write request, a record, a thing of theirs, a question noun
PACKS: dict[str, dict[str, str]] = {
    "lumen": {"act": "cancel order W1002420", "act2": "move the delivery to Friday", "record": "order",
              "thing": "the robot vacuum", "topic": "a refund", "ing": "cancelling the order"},
    "airline": {"act": "cancel booking UD0NDU", "act2": "move my flight to Friday", "record": "booking",
                "thing": "my Dallas flight", "topic": "a refund", "ing": "cancelling the booking"},
    "northwind": {"act": "change my tariff to Fixed 12", "act2": "move the engineer visit to Friday",
                  "record": "account", "thing": "the gas meter", "topic": "a payment plan",
                  "ing": "changing my tariff"},
}

ROWS: list[tuple[str, str, Any]] = [
    # negation: no write
    ("Please don't {act}.", "drop", None),
    ("Please DON'T {act}!", "drop", None),
    ("Do not {act}.", "drop", None),
    ("dont {act} pls", "drop", None),
    ("I don't want you to {act}.", "drop", None),
    ("There's no need to {act} any more.", "drop", None),
    ("You shouldn't {act}.", "drop", None),
    ("Please never {act}.", "drop", None),
    ("Leave my {record} alone, please.", "drop", None),
    ("Nothing should be changed on my {record}.", "drop", None),
    ("I'm still going, so nothing needs to be cancelled.", "drop", None),
    ("Keep my {record} as it is.", "drop", None),
    ("I want to stay on my current {record}, don't {act}.", "drop", None),
    ("My {record} should stay as booked.", "drop", None),
    # nothing is to change yet: every write waits for the customer
    ("We're thinking about {ing}, but not switching anything yet, just weighing it up.", "drop", None),
    ("Is {ing} worth it? Please don't do anything for now.", "drop", None),
    # a change of mind: the earlier request withdrawn
    ("I asked you to {act} but I've changed my mind.", "drop", None),
    ("I've changed my mind about it, sorry.", "drop", None),
    ("Changed my mind - please ignore my last email.", "drop", None),
    ("Scratch that, forget what I said.", "drop", None),
    ("Never mind, I no longer want to go ahead.", "drop", None),
    ("Please ignore my previous message.", "drop", None),
    ("We were going to ask you to {act2}, but my brother can't get the days off.", "drop", None),
    ("Please {act}, I changed my mind about it.", "go", None),
    # a "don't" that negates another verb, or a word that merely starts like one of the action verbs
    ("Please {act}. I don't want to give my address again.", "go", None),
    ("Please {act}; I don't have my credit card to hand.", "go", None),
    ("Is there any way you could {act2}?", "go", None),
    ("Any chance you could {act2}?", "go", None),  # the change of mind is the reason here
    # requests that go
    ("Please {act}.", "go", None),
    # a condition on the clause whose "it" stands for the request holds it
    ("I think {ing} would suit me better. If it costs nothing, please do it.", "hold", None),
    ("About {thing}: I think {ing} would suit me better. If there's no fee, please do it straight away.", "hold", None),
    ("Could you {act}?", "go", None),
    ("Can you {act} please?", "go", None),
    ("Would you {act} for me?", "go", None),
    ("Is it possible to {act}?", "go", None),
    ("I'd like you to {act}.", "go", None),
    ("I need you to {act} today.", "go", None),
    ("Hi there, can you {act}? Thanks!", "go", None),
    ("May I ask you to {act}?", "go", None),
    ("If possible, please {act}.", "go", None),
    ("If you can, please {act}.", "go", None),
    ("If it's not too late, please {act}.", "go", None),
    ("Please {act}. If you need the reason, it was a mistake.", "go", None),  # information, no condition
    ("Please {act} if it hasn't been processed yet.", "go", None),
    ("If it's a real charge, please {act}.", "go", None),  # the records tell whether a payment was taken
    # conditions the records cannot tell: held
    ("If my partner agrees, please {act}.", "hold", None),
    ("Please {act} unless you hear from me by Monday.", "hold", None),
    ("Only if the price drops, {act}.", "hold", None),
    ("Please {act} as long as there is no fee.", "hold", None),
    ("I'd like you to {act}. But only if my partner agrees.", "hold", None),  # the condition said after it
    ("Please {act}. Only as long as there is no fee.", "hold", None),
    ("Please {act}, depending on what my bank says.", "hold", None),
    ("In case I don't call back by noon, {act}.", "hold", None),
    # fallbacks: the second choice waits for the first
    ("Could you {act2}? Otherwise please {act}.", "hold", None),
    ("Please {act2}. If not, {act}.", "hold", None),
    ("Please {act2}, failing that {act}.", "hold", None),
    ("Please {act2}; if that's not possible, {act}.", "hold", None),
    ("Could you {act2}? If that can't be done, {act}.", "hold", None),
    # questions that only ask: no write, an answer
    ("How long does {topic} take?", "ask", None),
    ("What is your policy on {ing}?", "ask", None),
    ("Is there a fee for {ing}?", "ask", None),
    ("When will {topic} reach me?", "ask", None),
    ("Do you charge for {ing}?", "ask", None),
    ("Why was I charged for {thing}? Nobody told me.", "go", None),  # a "why" about a charge disputes it
    ("Which options do I have for {thing}?", "ask", None),
    ("I was wondering how {ing} works.", "ask", None),
    ("Could you tell me how {ing} works?", "ask", None),
    ("Just a question: is {ing} free?", "ask", None),
    # statements of what happened
    ("You charged me twice for {thing}.", "report", None),
    ("I was billed twice this month.", "report", None),
    ("{thing} never arrived.", "report", None),
    # days, relative to Friday 20 November 2026
    ("Can you do it next Tuesday?", "date", "2026-11-24"),
    ("Tomorrow would be great.", "date", "2026-11-21"),
    ("How about the day after tomorrow?", "date", "2026-11-22"),
    ("Saturday 5 Dec works for me.", "date", "2026-12-05"),
    ("The first Tuesday in December, please.", "date", "2026-12-01"),
    ("The last Friday of the month works.", "date", "2026-11-27"),
    # a day named only to stay as it is never the new one
    ("Please {act2}. Keep the one on the 24th as it is.", "kept", ("2026-11-24", "2026-11-27")),
    ("{act2} instead, but leave the 24th alone.", "kept", ("2026-11-24", "2026-11-27")),
    ("Please {act2}. The one on the 24th should stay as booked.", "kept", ("2026-11-24", "2026-11-27")),
    ("On the 4th of December please.", "date", "2026-12-04"),
    ("Any chance of December 3rd?", "date", "2026-12-03"),
    ("The Wednesday after next would suit.", "date", "2026-12-02"),
    ("A week on Thursday, please.", "date", "2026-12-03"),
    ("Thursday week is best.", "date", "2026-12-03"),
    ("Wednesday of the week after next, please.", "date", "2026-12-02"),
    ("Monday next week, please.", "date", "2026-11-23"),
    ("This Sunday if possible.", "date", "2026-11-22"),
    ("In three days' time.", "date", "2026-11-23"),
    ("Can it be on the 28th?", "date", "2026-11-28"),
    ("Sunday the 6th would be better.", "date", "2026-12-06"),
    ("It arrived on 3 November.", "date", "2026-11-03"),
    ("Out on 5 December, back on the 10th.", "date", "2026-12-10"),  # the 10th of the month just said
    ("Away from 28 December, home again on the 3rd.", "date", "2027-01-03"),
    ("Sunday the 29th, or the Monday after if you don't work Sundays.", "date", "2026-11-30"),
    ("Deliver it a week on Monday. Actually, scratch that, they need the Monday too: the Tuesday after that.", "date",
     "2026-12-01"),
    ("We're away until December 1st; the day after that would be ideal.", "date", "2026-12-02"),
    ("It was cancelled on the 30th; the same time the next day, please.", "date", "2026-12-01"),
    ("Not Monday 7 December: the following Wednesday.", "date", "2026-12-09"),
    ("Would a fortnight today suit?", "date", "2026-12-04"),
    ("In a fortnight's time, please.", "date", "2026-12-04"),
    ("Two weeks from this Sunday would be ideal.", "date", "2026-12-06"),
    ("It is booked for Tuesday Dec 1 in the morning; Monday the 23rd instead?", "date", "2026-11-23"),
    # times and parts of the day
    ("Any time after 2pm.", "time", ("14:00", "after")),
    ("2pm or later, please.", "time", ("14:00", "after")),
    ("Before 10am if you can.", "time", ("10:00", "before")),
    ("At half past ten in the morning.", "time", ("10:30", "")),
    ("Around 4:30 in the afternoon.", "time", ("16:30", "around")),
    ("I get home at half past three, so it has to start after that.", "time", ("15:30", "after")),
    ("I leave at 2pm, so it must be before that.", "time", ("14:00", "before")),
    ("Monday morning please.", "period", "morning"),
    ("I'm free after lunch.", "period", "afternoon"),
    ("Evenings are best for me.", "period", "evening"),
    ("I'm away all of next week.", "excluded", ("2026-11-23", "2026-11-29")),
    # numbers, words included
    ("Over eighteen months, please.", "number", 18),
    ("I need two more.", "quantity", 2),
    ("Just one of them, please.", "quantity", 1),
    ("A couple of them are broken.", "quantity", 2),
    ("Twenty-four months would suit me.", "number", 24),
    # qualifiers
    ("Both of my {record}s, please.", "every", None),
    ("All of my {record}s need it.", "every", None),
    ("It is the same for all three {record}s.", "every", None),
    ("My latest {record}, please.", "latest", None),
    ("Everything except {thing}.", "exception", "{thing}"),
    ("All of them apart from {thing}.", "exception", "{thing}"),
    ("The cheapest option, please.", "comparative", None),
    ("Nothing more than $50 please.", "comparative", None),
    # facts given
    ("You can call me on 07911 123456.", "phone", "+447911123456"),
    ("Ring me on +44 20 7946 0958 please.", "phone", "+442079460958"),
    ("My number is (512) 555-0134.", "phone", "+15125550134"),
    ("Send it to 418 Birch Hollow Rd, Apt 12, Lake Jeremyville, AK 82999 instead.", "address",
     {"address1": "418 Birch Hollow Rd", "zip": "82999"}),
    ("My new address is 12 High Street, Leeds LS1 4AB.", "address", {"address1": "12 High Street", "zip": "LS1 4AB"}),
    ("I paid £12.50 for it.", "amount", (12.5, "GBP")),
    ("It cost $49.", "amount", (49.0, "USD")),
    ("That's 40 dollars.", "amount", (40.0, "USD")),
    ("My email is ann.lee@example.co.uk now.", "email", "ann.lee@example.co.uk"),
]


def _reading(text: str, pack: str) -> Reading:
    vocabulary = packs.reading(find(pack))
    return read(text, WRITTEN, vocabulary, [SimpleNamespace(intent="request", text=text, confidence=1.0)])


def check(kind: str, want: Any, r: Reading, fill: dict[str, str]) -> str:
    """'' when the Reading shows what the row wants, else what it shows instead."""
    qs = [q.qualifiers for q in r.requests]
    holds = [q.holds_a_write() for q in qs]
    last = r.requests[-1] if r.requests else None
    if kind == "drop":
        return "" if any(q.negated or q.withdrawn for q in qs) else f"not dropped: {holds}"
    if kind == "go":
        return "" if not any(holds) and all(q.kind == "act" for q in r.requests) else f"held: {holds}"
    if kind == "hold":
        held = [h for h in holds if h and "not to be done" not in h and "changed their mind" not in h]
        return "" if held else f"not held: {holds}"
    if kind in ("ask", "report"):
        return "" if last is not None and any(q.kind == kind for q in r.requests) else \
            f"read as {[q.kind for q in r.requests]}"
    f = r.facts
    if kind == "kept":  # (the day kept as it is, the new day)
        stays, new = want
        return "" if r.kept_only("dates") == {stays} and new in [d.value for d in f.dates if not d.kept] else \
            f"kept {r.kept_only('dates')}, others {[d.value for d in f.dates if not d.kept]}"
    if kind == "date":
        return "" if want in [d.value for d in f.dates] else f"dates {[d.value for d in f.dates]}"
    if kind == "time":
        got = [(t.value["at"], t.value["bound"]) if isinstance(t.value, dict) else (t.value, "") for t in f.times
               if t.kind == "time"]
        return "" if tuple(want) in got else f"times {got}"
    if kind == "period":
        return "" if want in [t.value for t in f.times if t.kind == "period"] else f"times {f.times}"
    if kind == "excluded":
        from cx_core.reading import when

        spans = [(s.first.isoformat(), s.last.isoformat()) for s in when.spans(r.text, WRITTEN.date())]
        return "" if tuple(want) in spans else f"spans {spans}"
    if kind == "number":
        return "" if want in [n.value for n in f.numbers] else f"numbers {[n.value for n in f.numbers]}"
    if kind == "quantity":
        got = [q.quantity.value for q in qs if q.quantity is not None]
        return "" if want in got else f"quantities {got}"
    if kind in ("every", "latest", "comparative"):
        return "" if any(getattr(q, kind) for q in qs) else "not read"
    if kind == "exception":
        return "" if any(want.format(**fill).lower() in e.text.lower() for q in qs for e in q.exceptions) else \
            f"exceptions {[e.text for q in qs for e in q.exceptions]}"
    if kind == "phone":
        return "" if want in [p.value for p in f.phones] else f"phones {[p.value for p in f.phones]}"
    if kind == "email":
        return "" if want in [e.value for e in f.emails] else f"emails {[e.value for e in f.emails]}"
    if kind == "address":
        return "" if any(all(a.value.get(k) == v for k, v in want.items()) for a in f.addresses) else \
            f"addresses {[a.value for a in f.addresses]}"
    if kind == "amount":
        got = [(a.value["amount"], a.value["currency"]) for a in f.amounts]
        return "" if tuple(want) in got else f"amounts {got}"
    return f"unknown row kind {kind}"


def test_the_table_has_at_least_eighty_constructions() -> None:
    assert len(ROWS) >= 80


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_every_pack_reads_every_row_of_the_generic_english_table(pack: str) -> None:
    fill = PACKS[pack]
    failed = []
    for template, kind, want in ROWS:
        text = template.format(**fill)
        text = text[:1].upper() + text[1:]
        problem = check(kind, want, _reading(text, pack), fill)
        if problem:
            failed.append(f"{kind}: {text!r} → {problem}")
    assert not failed, f"{len(failed)} of {len(ROWS)} rows failed for {pack}:\n" + "\n".join(failed)


# ------------------------------------------------------------------ what follows for a plan, in every pack
# each pack's write for the row's request, and the record it acts on (as its snapshot holds it)
STEPS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "lumen": ("cancel_order", {"order_id": "#W1002420", "reason": "no longer needed"},
              {"orders": [{"order_id": "#W1002420", "items": [{"name": "Robot Vacuum"}]}]}),
    "airline": ("cancel_reservation", {"reservation_id": "UD0NDU", "reason": "change_of_plan"},
                {"reservations": [{"reservation_id": "UD0NDU", "origin": "DFW", "destination": "DTW"}]}),
    "northwind": ("change_tariff", {"account_id": "E-2001", "tariff_code": "FIX12"},
                  {"accounts": [{"id": "E-2001", "fuel": "electricity"}],
                   "tariffs": [{"code": "FIX12", "name": "Fixed 12"}]}),
}
EFFECTS = [(template, kind) for template, kind, _ in ROWS if kind in ("drop", "hold", "go", "ask")]


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_every_pack_drops_holds_or_keeps_its_own_write_as_the_words_say(pack: str) -> None:
    """The engine's guard over a plan the pack made: a write the customer does not want is not proposed, one that
    waits for them is held with the reason, one they plainly ask for goes as planned."""
    from cx_core.plans import Plan, Step
    from cx_core.reading import guard

    action, args, snap = STEPS[pack]
    fill = PACKS[pack]
    failed = []
    for template, kind in EFFECTS:
        text = template.format(**fill)
        text = text[:1].upper() + text[1:]
        reading = read(text, WRITTEN, packs.reading(find(pack)),
                       [SimpleNamespace(intent="request", text=text, confidence=1.0)])
        plan = guard.apply(Plan(steps=[Step(action, dict(args), "request", "the customer asked")]), reading, snap)
        got = "drop" if not plan.steps else "hold" if plan.steps[0].held else "go"
        want = "hold" if kind == "ask" else kind
        if got != want:
            failed.append(f"{kind}: {text!r} → {got} ({plan.steps[0].held if plan.steps else ''})")
    assert not failed, f"{len(failed)} of {len(EFFECTS)} rows failed for {pack}:\n" + "\n".join(failed)


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_a_sentence_no_request_took_still_takes_an_earlier_request_back(pack: str) -> None:
    """Triage may keep only the request's own sentence; "Please don't." after it still withdraws it."""
    fill = PACKS[pack]
    first = f"Yesterday I asked you to {fill['act']}."
    reading = read(f"{first} Please don't, leave it as it is. Thanks!", WRITTEN, packs.reading(find(pack)),
                   [SimpleNamespace(intent="request", text=first, confidence=1.0)])
    assert [r.qualifiers.withdrawn is not None for r in reading.requests] == [True]


@pytest.mark.parametrize("pack", sorted(PACKS))
@pytest.mark.parametrize("said, held", [
    ("If I can do it now without a fee, please do it straight away.", True),
    ("If there's nothing extra to pay, could you go ahead and do it?", True),
    ("Please do it today, thanks.", False),  # no condition: nothing new to hold
    ("If you need anything else, my number is on file.", False),  # asks for nothing
])
def test_a_condition_on_it_said_where_no_request_was_found_holds_the_request(pack: str, said: str,
                                                                             held: bool) -> None:
    """Triage may find the request only in the subject ("Leaving my plan early?"); "If there's no fee, please do
    it" in the body is that request, held by its condition."""
    from cx_core.plans import Plan, Step
    from cx_core.reading import guard

    fill = PACKS[pack]
    action, args, snap = STEPS[pack]
    body = f"I've worked out that {fill['ing']} would suit me better. {said}"
    reading = read(body, WRITTEN, packs.reading(find(pack)),
                   [SimpleNamespace(intent="request", text=f"About {fill['ing']}?", confidence=0.5)])
    plan = guard.apply(Plan(steps=[Step(action, dict(args), "request", "the customer asked")]), reading, snap)
    assert [bool(s.held) for s in plan.steps] == [held]
@pytest.mark.parametrize("text", ["Honestly that one's on me, I forgot about the appointment.", "It was my fault.",
                                  "I was out when the engineer came.", "We weren't home, my mistake."])
def test_an_admission_of_fault_is_read_as_such(text: str) -> None:
    from cx_core.reading import language

    assert language.ADMITS.search(text)


@pytest.mark.parametrize("text", ["Nobody came and I was home all day.", "The engineer never turned up.",
                                  "I'm not at fault here."])
def test_a_dispute_is_no_admission(text: str) -> None:
    from cx_core.reading import language

    assert not language.ADMITS.search(text)


def test_the_days_named_after_a_change_of_mind_come_first() -> None:
    from datetime import date

    from cx_core.entities import find_dates

    text = ("Please deliver it a week on Monday. Actually, scratch that - they need the Monday as well, so please make "
            "it the Tuesday after that.")
    assert [d.isoformat() for d in find_dates(text, date(2026, 11, 20))] == ["2026-12-01", "2026-11-30"]
    assert [d.isoformat() for d in find_dates("Move it to Friday. Actually, make it Saturday instead.",
                                              date(2026, 11, 20))][0] == "2026-11-21"


@pytest.mark.parametrize("text, want", [
    ("Can you move my direct debit to the 22nd? Leave the other one on the 8th, that's fine as it is. Oh wait, sorry, "
     "make it the 25th, not the 22nd.", 25),
    ("Please set the payment day to the 12th rather than the 3rd.", 12),
    ("I'd rather pay on payday each month than have it taken on the 1st, so the 26th please.", 26),
    ("I would sooner have it on the 20th than the 3rd.", 20),
    ("Move the gas one to the 20th please.", 20),
])
def test_a_value_set_aside_is_never_the_one_bound(text: str, want: int) -> None:
    """ "the 25th, not the 22nd": every 22 of the message is set aside; so is a value in a sentence that keeps
    something as it is; "the gas one" counts nothing."""
    from pydantic import BaseModel, Field

    from cx_core.reading import arguments

    class PaymentDay(BaseModel):
        day: int = Field(ge=1, le=28, description="Day of the month the Direct Debit is taken")

    spec = arguments.spec_of("day", PaymentDay.model_fields["day"])
    value, _ = arguments.read(spec, read(text, WRITTEN, None, [SimpleNamespace(intent="request", text=text,
                                                                                confidence=1.0)]))
    assert value == want


def test_a_value_the_customer_sets_aside_is_never_bound_even_when_it_is_the_only_one() -> None:
    """ "I'd rather pay myself than have a direct debit on the 15th": the 15th is the thing not wanted; with no
    other day said, no day is read."""
    from pydantic import BaseModel, Field

    from cx_core.reading import arguments

    class PaymentDay(BaseModel):
        day: int = Field(ge=1, le=28, description="Day of the month the Direct Debit is taken")

    spec = arguments.spec_of("day", PaymentDay.model_fields["day"])
    for text in ["I'd rather pay my bills myself by bank transfer than have a direct debit on the 15th.",
                 "Not the 3rd please, that never suits me."]:
        value, why = arguments.read(spec, read(text, WRITTEN, None, [SimpleNamespace(intent="request", text=text,
                                                                                      confidence=1.0)]))
        assert value is None and why == arguments.NOT_FOUND, text


@pytest.mark.parametrize(("told", "asked", "now", "want"), [
    ("New job, new payday: it's now the 7th.", "Can it be taken a week earlier than at present?", None, None),
    ("My pay comes in on the 7th.", "Could you take it the day after?", None, None),
    ("My pay comes in on the 7th.", "Could you take it on the 8th, the day after?", None, 8),
    # counted from the day the records have now (the 15th)
    ("New job, new payday: it's now the 7th.", "Can it be taken a week earlier than at present?", 15, 8),
    ("", "Could the direct debit come out two days later?", 15, 17),
    ("", "Please take it three days sooner than now.", 15, 12),
    ("", "Could you move it two weeks later?", 15, None),  # the 29th: past the last day it may be
    ("My payday moved.", "Can it be a week earlier than my payday?", 15, None),  # counted from something else
    ("", "Could you take it the day after?", 15, None),  # after what: asked
])
def test_a_day_counted_from_another_is_asked_never_taken_from_a_day_told(told: str, asked: str, now: int | None,
                                                                        want: int | None) -> None:
    """"It's now the 7th. Can it be taken a week earlier than at present?": the day wanted is counted from the one
    the records have now, when the pack names it (``now:``); never from the 7th told; else it is asked for."""
    from pydantic import BaseModel, Field

    from cx_core.reading import arguments

    class PaymentDay(BaseModel):
        day: int = Field(ge=1, le=28, description="Day of the month the Direct Debit is taken")

    spec = arguments.spec_of("day", PaymentDay.model_fields["day"])
    text = f"{told} {asked}".strip()
    value, _ = arguments.read(spec, read(text, WRITTEN, None, [SimpleNamespace(intent="request", text=asked,
                                                                                confidence=1.0)]), own=asked, now=now)
    assert value == want


@pytest.mark.parametrize("text, nothing", [
    ("Not switching anything yet, just weighing it up.", True),
    ("We won't be changing anything until we've moved.", True),
    ("Don't change anything else, thanks.", False),  # the rest stays; what was asked still goes
    ("I haven't received anything yet.", False),
    ("Cancel it but don't touch anything on my other order.", False),
    ("Three quick questions before then. Nothing to change yet, and Monday stays as booked.", True),
    ("Nothing needs changing for now, I'm only asking.", True),
    ("There's nothing to change on the gas account; please move the electricity to Fixed 12.", False),
    ("Before I decide, a few questions. I am not asking to switch yet.", True),
    ("We're not ready to change the tariff just yet.", True),
    ("I'm not asking you to cancel the order, only to move it.", False),
])
def test_only_a_customer_who_wants_nothing_changed_now_holds_every_write(text: str, nothing: bool) -> None:
    from cx_core.reading import language

    assert bool(language.NOTHING_NOW.search(text)) is nothing


@pytest.mark.parametrize("text, want", [
    ("Could I spread what I owe on both accounts over six months?", 6),
    ("Two plans please, each over nine months.", 9),
    ("Spread it over 3 months please, we have two accounts.", 3),
])
def test_a_number_said_in_the_arguments_own_unit_is_the_one_meant(text: str, want: int) -> None:
    """"both accounts over six months": the count of monthly instalments is the number said in months, not
    "both" nor "two accounts"."""
    from pydantic import BaseModel, Field

    from cx_core.reading import arguments

    class Plan(BaseModel):
        instalments: int = Field(ge=2, le=12, description="Number of monthly instalments.")

    spec = arguments.spec_of("instalments", Plan.model_fields["instalments"])
    assert arguments.read(spec, read(text, WRITTEN, None, []))[0] == want



def _reading_spec() -> Any:
    """A meter reading's argument as an action would declare it."""
    from pydantic import BaseModel, Field

    from cx_core.reading import arguments

    class Submitted(BaseModel):
        reading: int = Field(ge=0, description="The meter reading, digits on the display.")

    return arguments.spec_of("reading", Submitted.model_fields["reading"])


@pytest.mark.parametrize("text, near, want", [
    ("Meter readings as promised - electric 12301, gas 5299.", "gas G4C30561", 5299),
    ("Meter readings as promised - electric 12301, gas 5299.", "electricity E20M10944", 12301),
    ("The gas meter says 08533 this morning and the electric one 23,812.", "electricity", 23812),
    ("The gas meter says 08533 this morning and the electric one 23,812.", "gas", 8533),
])
def test_each_value_of_a_list_belongs_to_the_record_named_in_its_own_part(text: str, near: str, want: int) -> None:
    """"electric 12301, gas 5299": each reading is the one said in its own part of the list, beside its record's
    words ("electric" of "electricity" too), not merely the nearest figure."""
    from cx_core.reading import arguments

    spec = _reading_spec()
    assert arguments.read(spec, read(text, WRITTEN, None, []), near)[0] == want


@pytest.mark.parametrize("text, want", [
    ("I get paid on the 20th now, so please take both payments on the 22nd from now on.", 22),
    ("hi can u change when my payment goes out to the 3rd of each month, the 15th is too late for me", 3),
    ("Please take both of my direct debits on the 15th of the month instead of the 1st.", 15),
])
def test_the_day_asked_for_is_the_one_bound_not_the_one_told_of(text: str, want: int) -> None:
    """"I get paid on the 20th, so please take it on the 22nd": the value in the part that asks, not the one the
    customer tells of, nor "both" said of the payments."""
    from pydantic import BaseModel, Field

    from cx_core.reading import arguments

    class Day(BaseModel):
        day: int = Field(ge=1, le=28, description="Day of the month for the direct debit (1 to 28).")

    spec = arguments.spec_of("day", Day.model_fields["day"])
    assert arguments.read(spec, read(text, WRITTEN, None, []))[0] == want


@pytest.mark.parametrize("text, want", [
    ("I am writing for the THIRD time. Here it is again, checked twice: 09957.", 9957),
    ("My second message about this: the meter says 4512.", 4512),
    ("The reading is 10330, and this is the fourth time I've sent it.", 10330),
])
def test_a_rank_said_in_words_is_no_value_beside_a_number(text: str, want: int) -> None:
    """"the THIRD time I write … 09957": a rank counts the customer's messages, not the meter's digits."""
    from cx_core.reading import arguments

    spec = _reading_spec()
    assert arguments.read(spec, read(text, WRITTEN, None, []))[0] == want


@pytest.mark.parametrize("text, want", [
    ("The numbers on my meter have been stuck on 15702 for about ten days. Please send someone.", None),
    ("The display hasn't moved from 4410 since Monday, my son is 16 and can let you in.", None),
    ("It was stuck on 15702 for a week, but today it finally reads 15790.", 15790),
    ("My reading is 15702.", 15702),
])
def test_a_figure_said_as_where_something_is_stuck_is_no_value_given(text: str, want: int | None) -> None:
    """"stuck on 15702 for ten days": a fault seen; no reading is bound from it, nor asked for."""
    from cx_core.reading import arguments

    spec = _reading_spec()
    assert arguments.read(spec, read(text, WRITTEN, None, [])) == ((want, "") if want else (None, arguments.STUCK))


def test_a_number_the_request_gives_in_its_own_words_comes_before_other_figures() -> None:
    """A move to "14 Elmete Walk, Leeds LS8 2LB" and, in its own sentence, the meter's reading: the reading is the
    figure its request says, whatever else the message counts."""
    from cx_core.reading import arguments

    own = "I read the gas meter this morning and it says 15841."
    text = f"We move on 5 December to 14 Elmete Walk, Leeds LS8 2LB, flat 2 at the back. {own}"
    spec = _reading_spec()
    assert arguments.read(spec, read(text, WRITTEN, None, []), "Leeds LS8 gas", own)[0] == 15841


@pytest.mark.parametrize("text, want", [
    ("Then on Tuesday I ordered another without realizing.", "2026-11-17"),
    ("It arrived on Monday with a crack in the lid.", "2026-11-16"),
    ("We rang on Wednesday and nobody answered.", "2026-11-18"),
    ("Please deliver it on Tuesday.", "2026-11-24"),
    ("I booked the engineer for Tuesday.", "2026-11-24"),  # what a booking is for lies ahead
    ("On Monday I will be out all day.", "2026-11-23"),
    ("The headphones I ordered separately can still arrive on Monday as planned.", "2026-11-23"),
])
def test_a_weekday_told_of_what_already_happened_is_the_last_one(text: str, want: str) -> None:
    """Written on Friday 20 November: a weekday in a clause about what happened is the one before, never a day to
    book."""
    from cx_core.reading import when

    assert [w.value for w in when.dates(text, WRITTEN.date())] == [want]


@pytest.mark.parametrize("text, want", [
    ("I want to fly back a little sooner: the 8th, please.", "2026-12-08"),  # asked for: the next 8th
    ("Could the delivery come on the 19th instead?", "2026-12-19"),
    ("The 8th is my granddaughter's recital.", "2026-11-08"),  # told: the nearest
    ("I was charged on the 8th.", "2026-11-08"),
    ("I ordered it on the 8th and want it moved.", "2026-11-08"),  # what happened
    ("My bill of the 13th is wrong.", "2026-11-13"),
    ("We'd now like to come home a week from tomorrow.", "2026-11-28"),  # a span counted from a day
    ("Could it come a fortnight from today?", "2026-12-04"),
])
def test_a_day_of_the_month_asked_for_lies_ahead_and_one_told_of_is_the_nearest(text: str, want: str) -> None:
    """Written on Friday 20 November: a day of the month alone is the nearest one, unless its clause asks for a day
    ahead; then it is the next one."""
    from cx_core.reading import when

    assert [w.value for w in when.dates(text, WRITTEN.date())] == [want]


@pytest.mark.parametrize("text, want", [
    ("Thursday afternoons are best, but not next Thursday, I have a scan. The one after that would be perfect.",
     "2026-12-03"),
    ("Friday afternoons are best for me, but not next Friday.", None),
    ("Not next Tuesday, I'm away. The one after that works.", "2026-12-01"),
])
def test_a_day_of_every_week_ruled_out_once_and_the_one_after_that(text: str, want: str | None) -> None:
    """"Thursday afternoons, but not next Thursday … the one after that": the next Thursday is out, and "the one
    after that" is the same weekday a week on."""
    from datetime import date as day

    from pydantic import BaseModel, Field

    from cx_core.reading import arguments

    class NewDay(BaseModel):
        date: day = Field(description="The day of the visit.")

    got = arguments.read(arguments.spec_of("date", NewDay.model_fields["date"]), read(text, WRITTEN, None, []))[0]
    assert (str(got) if got else None) == want


@pytest.mark.parametrize("text, first, second", [
    ("Could the engineer come on Saturday morning instead? If you don't do weekends, then a week on Tuesday.",
     "2026-11-21", "2026-12-01"),
    ("Please move it to Monday. Otherwise the Wednesday after next.", "2026-11-23", "2026-12-02"),
    ("Tomorrow would be ideal, or failing that Thursday 3 December.", "2026-11-21", "2026-12-03"),
    # of several days, the soonest that can be done
    ("I'm only home Friday and Monday mornings. Whichever of those you can do soonest.", "2026-11-23", "2026-11-27"),
    ("Wednesday or Tuesday, whichever comes first that has a slot.", "2026-11-24", "2026-11-25"),
    # the first choice not to be had ("if that day is already full"); a day said as the limit is neither choice
    ("It has to be done ahead of our moving day on 12 December. Could someone come on Thursday 3 December? If that "
     "day is already full, Monday the 7th.", "2026-12-03", "2026-12-07"),
    ("We need it before the 18th. Tuesday the 1st please, or if those are all booked up, Wednesday the 2nd.",
     "2026-12-01", "2026-12-02"),
    ("Could someone come on a Saturday morning? If Saturdays are out, the first Friday afternoon you can manage.",
     "2026-11-21", "2026-11-27"),
])
def test_a_day_given_as_the_second_choice_is_bound_only_when_the_first_cannot_be(text: str, first: str,
                                                                                 second: str) -> None:
    """A fallback is the second choice: the first day is the one asked for, the second is tried only if the first
    is refused (the recipe's step carries it as its alternative)."""
    from datetime import date as day

    from pydantic import BaseModel, Field

    from cx_core.reading import arguments

    class NewDay(BaseModel):
        date: day = Field(description="The new day of the visit.")

    reading = read(text, WRITTEN, None, [])
    spec = arguments.spec_of("date", NewDay.model_fields["date"])
    assert str(arguments.read(spec, reading)[0]) == first
    assert str(arguments.fallback(spec, reading)) == second


class _Visit:
    """A visit move's arguments as an action would declare them: a new day and a part of the day."""

    @staticmethod
    def specs() -> tuple[Any, Any]:
        from datetime import date as day
        from typing import Literal

        from pydantic import BaseModel, Field

        from cx_core.reading import arguments

        class Move(BaseModel):
            date: day = Field(description="The new day of the visit.")
            period: Literal["morning", "afternoon"] = Field(description="Part of the day.")

        return (arguments.spec_of("date", Move.model_fields["date"]),
                arguments.spec_of("period", Move.model_fields["period"]))


@pytest.mark.parametrize("text, near, date, period", [
    # the record's own day takes its part of the day with it: the new one is the other
    ("Your engineer is booked for Tuesday morning but I'll be at work. Could he come on Friday 4 December in the "
     "afternoon instead?", "V-1 2026-11-24 morning booked", "2026-12-04", "afternoon"),
    ("It's on Tuesday in the morning; can it be Thursday afternoon?", "V-1 2026-11-24 morning", "2026-11-26",
     "afternoon"),
    # a day ruled out by the words after it is never the new day: which day is for the customer to say
    ("Can you move the installation to another day? That Monday is no good for us any more.", "V-1 2026-12-07",
     None, None),
    ("Monday doesn't work for me, could we do Wednesday morning?", "V-1 2026-11-23", "2026-11-25", "morning"),
    # the day already booked kept, only the part of the day moving; the one asked for, not one told of
    ("It's set for Tuesday morning. Could they come later that day, in the afternoon? I'm at the dentist first "
     "thing.", "V-1 2026-11-24 morning booked", "2026-11-24", "afternoon"),
])
def test_the_day_and_time_a_record_already_has_or_the_customer_rules_out_are_not_the_new_ones(
        text: str, near: str, date: str | None, period: str | None) -> None:
    from cx_core.reading import arguments

    reading = read(text, WRITTEN, None, [])
    day_spec, period_spec = _Visit.specs()
    assert str(arguments.read(day_spec, reading, near)[0]) == str(date)
    assert arguments.read(period_spec, reading, near)[0] == period


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_a_negation_after_a_sentence_that_only_tells_of_the_record_still_drops_the_write(pack: str) -> None:
    """ "I got a text about … Please don't …": the sentence that says what to do weighs more than the one that only
    tells of the record, whatever words of the record each has."""
    from cx_core.plans import Plan, Step
    from cx_core.reading import guard

    action, args, snap = STEPS[pack]
    fill = PACKS[pack]
    text = (f"Hi, I got a message about {fill['thing']} and my {fill['record']} this morning. Please don't "
            f"{fill['act']}, I need it as it is. Just checking it's all still on.")
    reading = read(text, WRITTEN, packs.reading(find(pack)), [SimpleNamespace(intent="request", text=text,
                                                                             confidence=1.0)])
    plan = guard.apply(Plan(steps=[Step(action, dict(args), "request", "the customer asked")]), reading, snap)
    assert plan.steps == [] and plan.answers["request"].startswith("as you asked, I've left ")


@pytest.mark.parametrize("text, held", [
    ("I'm filing a chargeback unless it's refunded today.", False),
    ("I will go to the ombudsman unless you sort this out by Friday.", False),
    ("Cancel it unless it has already shipped.", True),
    ("Please refund me unless my wife objects.", True),
    ("Please take the reading of 15841, in case that's useful before we go.", False),  # a courtesy, no condition
    ("Here is my new number in case you need it: please update it.", False),
    ("Cancel it in case the parcel is late.", True),
])
def test_a_threat_made_unless_the_request_is_done_is_no_condition(text: str, held: bool) -> None:
    [request] = read(text, WRITTEN, None, [SimpleNamespace(intent="request", text=text, confidence=1.0)]).requests
    q = request.qualifiers
    assert (q.condition is not None or q.checkable is not None) == held, q


def test_a_value_its_action_refuses_is_asked_for_never_refused_in_a_validators_words() -> None:
    from cx_core.plans import Plan, Step
    from cx_core.reading import guard

    text = "Please cancel order W1002420."
    reading = read(text, WRITTEN, packs.reading(find("lumen")),
                   [SimpleNamespace(intent="request", text=text, confidence=1.0)])
    snap = STEPS["lumen"][2]
    plan = guard.apply(Plan(steps=[Step("cancel_order", {"order_id": "#W1002420", "reason": "it is too big"},
                                        "request", "the customer asked")]), reading, snap)
    [step] = plan.steps
    assert step.args == {"order_id": "#W1002420"} and step.missing == "the reason"
    assert plan.questions["request"] == "could you send the reason?"


@pytest.mark.parametrize(("text", "name"), [
    ("Please add my granddaughter to our booking. Thank you. Anthony Wilson", "Anthony Wilson"),
    ("Hi,\n\nplease cancel it.\n\nThanks,\nMelanie", "Melanie"),
    ("Can I have the gold one instead? Ta, David", "David"),
    ("Please move it.\n\nMary Turner", "Mary Turner"),
    ("please cancel my order", None),
    ("I need help.\nPlease", None),
    ("Cancel it. Order W1234567", None),
])
def test_the_name_a_message_is_signed_with_is_found_where_it_stands(text: str, name: str | None) -> None:
    from cx_core.reading import language

    found = language.signature(text)
    assert (found.text if found else None) == name
    assert found is None or text[found.start:found.end] == name


@pytest.mark.parametrize("text, day, out", [
    ("I can't be home for the installation on Monday.", "Monday", True),
    ("I can't do Monday but Friday works.", "Friday", False),
    ("I can't do Monday but Friday works.", "Monday", True),
    ("Please move it from Tuesday to Thursday.", "Thursday", False),
    ("Please move it from Tuesday to Thursday.", "Tuesday", True),
    ("The electrician can't finish before then, so could we push it back to Tuesday week?", "Tuesday", False),
])
def test_a_day_is_ruled_out_by_the_words_around_it_not_by_a_negation_elsewhere(text: str, day: str,
                                                                                out: bool) -> None:
    from cx_core.reading.arguments import said_against

    at = text.index(day)
    assert said_against(text, at, at + len(day)) is out


@pytest.mark.parametrize("pack", sorted(PACKS))
@pytest.mark.parametrize("text, formal", [
    ("I want to make a formal complaint about how this was handled, and please {act}.", True),
    ("Consider this a foraml copmlaint. Please {act}.", True),
    ("I'm not one to complain, but please {act}.", False),
])
def test_a_formal_complaint_hands_the_case_to_a_supervisor_in_every_pack(pack: str, text: str, formal: bool) -> None:
    """Whatever the pack planned, a complaint made formally goes to a supervisor with the reason; the reply says so
    and names what else they will decide, and asks the customer nothing meanwhile."""
    from cx_core.plans import Plan, Step
    from cx_core.reading import guard

    action, args, snap = STEPS[pack]
    said = text.format(**PACKS[pack])
    reading = read(said, WRITTEN, packs.reading(find(pack)), [SimpleNamespace(intent="request", text=said,
                                                                                confidence=1.0)])
    plan = Plan(steps=[Step(action, dict(args), "request", "the customer asked")], questions={"request": "which?"})
    plan = guard.apply(plan, reading, snap)
    assert bool(plan.escalate_because) is formal
    if formal:
        assert "formal complaint" in plan.escalate_because and "supervisor" in plan.handed_over
        assert plan.questions == {} and [s.action for s in plan.steps] == [action]


@pytest.mark.parametrize("text, sent", [
    ("Please send the invoice for the headphones order to our accounts team at accounts@example.com", True),
    ("please email the invoice directly to our accountant at payables@example.com", True),
    ("Please switch the email I use with you to bill@example.net", False),
    ("Replace the email we have on file with jen@example.org", False),
])
def test_an_address_given_as_where_to_send_something_is_read_as_such(text: str, sent: bool) -> None:
    from cx_core.reading import language

    assert language.sent_to(text, text.index("@") - text[:text.index("@")][::-1].index(" ")) is sent


@pytest.mark.parametrize("text, wanted", [
    ("I'd like a replacement please, not a refund.", "I'd like a replacement please."),
    ("Can I get store credit instead of a refund?", "Can I get store credit?"),
    ("Please move it to Friday, not Monday.", "Please move it to Friday."),
    ("I am not happy.", "I am not happy."),
    ("I'm not travelling myself, my son is.", "I'm not travelling myself, my son is."),
    ("Could you email the invoice to the new address?", "Could you email the invoice?"),
    ("Please send the receipt to ana@example.com", "Please send the receipt"),
    ("Send my order to the new address please", "Send my order to the new address please"),
    ("I'm still going, so nothing should be cancelled; just swap Miguel for Nathan.", "just swap Miguel for Nathan."),
    ("Please don't cancel the vacuum, just cancel the headphones", "just cancel the headphones"),
    ("Don't refund me, send a replacement.", "Don't refund me, send a replacement."),  # one clause: read whole
    ("If the 7kW can't be returned, then please cancel this morning's order instead.",
     "then please cancel this morning's order instead."),  # what is asked, without the condition it is asked on
    ("If I send the vacuum back, can the refund go to my gift card?",
     "If I send the vacuum back, can the refund go to my gift card?"),  # a question on a condition stays whole
])
def test_what_a_sentence_asks_for_without_what_it_sets_aside(text: str, wanted: str) -> None:
    from cx_core.reading import language

    assert language.wanted_only(text) == wanted


@pytest.mark.parametrize("text, word, aside", [
    ("Rather than putting the money back on my Amex, could it go onto my gift card?", "Amex", True),
    ("Rather than putting the money back on my Amex, could it go onto my gift card?", "gift card", False),
    ("Put it on my gift card rather than PayPal.", "PayPal", True),
    ("Put it on my gift card rather than PayPal.", "gift card", False),
])
def test_a_clause_that_sets_a_thing_aside(text: str, word: str, aside: bool) -> None:
    from cx_core.reading import language

    assert language.contrasted(text, text.index(word)) is aside


@pytest.mark.parametrize("text, kept", [
    ("The lamp arrived cracked. The smart plug in the same parcel is fine.", "The lamp arrived cracked."),
    ("The lamp is fine but the kettle is cracked.", "The lamp is fine but the kettle is cracked."),
    ("The other two work perfectly. The third one won't turn on.", "The third one won't turn on."),
    ("Please ship me a replacement. The TV and charger installation next Friday is still fine.",
     "Please ship me a replacement."),
    ("Put me on Fixed 12. The smart meter fitting on Monday is unaffected.", "Put me on Fixed 12."),
])
def test_what_is_said_to_be_all_right_names_nothing_concerned(text: str, kept: str) -> None:
    from cx_core.reading import language

    assert language.not_fine(text) == kept


@pytest.mark.parametrize("text, wish", [
    ("Can I have the gold one instead of white?", True),
    ("Could we get the large one instead?", True),
    ("I'd rather have the two-pack than the three-pack.", True),
    ("Can I have a refund?", False),
    ("Instead of calling, can you email me?", False),
])
def test_another_option_wished_for_without_a_verb_of_changing(text: str, wish: bool) -> None:
    from cx_core.reading import language

    assert bool(language.INSTEAD.search(text)) is wish


@pytest.mark.parametrize("pack", sorted(PACKS))
@pytest.mark.parametrize("refunds_in_full", [True, False])
@pytest.mark.parametrize("template, refund_condition", [
    ("If I get the whole amount back, please {act}.", True),
    ("Please {act} as long as it's a full refund.", True),
    ("If my wife agrees, please {act}.", False),
])
def test_a_condition_on_all_the_money_back_is_met_by_a_write_that_refunds_in_full(
        pack: str, refunds_in_full: bool, template: str, refund_condition: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An action that gives back everything paid whenever the rules allow it meets the customer's condition on
    getting all their money back; any other condition, or another action, still waits for a person."""
    from pydantic import ConfigDict

    from cx_core.actions.base import REGISTRY, ActionSpec, Args
    from cx_core.plans import Plan, Step
    from cx_core.reading import guard

    class Loose(Args):
        model_config = ConfigDict(extra="allow")

    action, args, snap = STEPS[pack]
    monkeypatch.setitem(REGISTRY, action, ActionSpec(
        name=action, args_model=Loose, run=lambda *_: {}, description="", writes=True, reversible=False, risk="high",
        connector="records", task_types=(), owner=lambda *_: None, refunds_in_full=refunds_in_full))
    text = template.format(**PACKS[pack])
    reading = read(text, WRITTEN, packs.reading(find(pack)), [SimpleNamespace(intent="request", text=text,
                                                                              confidence=1.0)])
    [step] = guard.apply(Plan(steps=[Step(action, dict(args), "request", "the customer asked")]), reading,
                         snap).steps
    met = refund_condition and refunds_in_full
    assert (not step.held) is met, step.held
    assert (guard.REFUND_SETTLES in step.rationale) is met


@pytest.mark.parametrize("text, instructs", [
    ("I'm off on Tuesday, so could the washing machine come on Tuesday too?", True),
    ("Could it arrive a day earlier?", True),
    ("Is Tuesday free?", False),
    ("The washing machine is due on Monday.", False),
])
def test_a_question_that_asks_for_a_thing_to_be_done_says_what_to_do(text: str, instructs: bool) -> None:
    """"…so could the washing machine come on Tuesday too?" says what to do with the record, as "please" does: a
    "leave the other order as it is" beside it does not speak for it."""
    from cx_core.reading import guard

    reading = read(text, WRITTEN, None, [SimpleNamespace(intent="request", text=text, confidence=1.0)])
    assert guard._instructs(reading.requests[0]) is instructs


def test_the_day_of_a_month_is_no_hour_and_a_bound_can_point_back_at_a_time() -> None:
    """"booked for Tuesday Dec 1 in the morning" has no 1am in it; "home at half past three, so a visit that starts
    after that" bounds the visit after 15:30."""
    from cx_core.reading import when

    said = when.times("It is booked for Tuesday Dec 1 in the morning. I get home at half past three, so it would "
                      "have to be a visit that starts after that. Whatever suits after 5pm too.")
    assert [(t.value, t.bound) for t in said if t.kind == "time"] == [("15:30", "after"), ("17:00", "after")]


def test_a_day_named_beats_a_weekday_of_every_week() -> None:
    """"Would a fortnight today suit, in the morning? My carer is with me on Friday mornings": the day is the one
    named; every Friday tells when someone is home."""
    from cx_core.reading import arguments

    text = "Would a fortnight today suit, in the morning? My carer is with me on Friday mornings."
    spec = arguments.Spec("date", "the day of the visit", "date")
    assert arguments.read(spec, read(text, WRITTEN, None, []))[0] == "2026-12-04"


def test_a_write_wanted_only_as_the_second_choice_names_the_first() -> None:
    """"Move my visit; if not, change my tariff": the tariff change waits, as the second choice to the visit's move,
    which the step runner tries first (it goes ahead only once the rules refuse the move)."""
    from cx_core.plans import SECOND_CHOICE, Plan, Step
    from cx_core.reading import guard

    text = "Please move my engineer visit V-4001 to Friday 27 November. If not, change my tariff to Fixed 12."
    snap = {"visits": [{"id": "V-4001", "kind": "engineer visit"}], "accounts": [{"id": "E-2001"}],
            "tariffs": [{"code": "FIX12", "name": "Fixed 12"}]}
    reading = read(text, WRITTEN, packs.reading(find("northwind")),
                   [SimpleNamespace(intent="request", text=text, confidence=1.0)])
    plan = guard.apply(Plan(steps=[Step("move_visit", {"visit_id": "V-4001", "date": "2026-11-27"}, "request", "asked"),
                                   Step("change_tariff", {"account_id": "E-2001", "tariff_code": "FIX12"}, "request",
                                        "asked")]), reading, snap)
    move, tariff = plan.steps
    assert not move.held and not move.instead_of
    assert tariff.held.startswith(SECOND_CHOICE) and tariff.instead_of == "move_visit"


def test_a_cards_expiry_is_no_day_and_book_me_is_the_writer_alone() -> None:
    """"Please book me one way … on Monday 30 November. … my new Amex, exp 07/29": one day, the 30th, and one
    traveller, the writer; a month and year after "exp" or "valid thru" is a card's, and names no day."""
    from datetime import date

    from cx_core.reading import people, when

    text = "Please book me one way on Monday 30 November. Pay with my new Amex, exp 07/29; the old one is valid thru 03/27."
    assert [w.value for w in when.dates(text, date(2026, 11, 20), False)] == ["2026-11-30"]
    assert [w.value for w in when.dates("it was delivered on 10/20", date(2026, 11, 20), False)] == ["2026-10-20"]
    assert people.party(text).alone
    assert not people.party("Please book me and my wife on the 9am").alone
    assert not people.party("Please book me a seat for my son").alone


def test_a_thing_named_only_to_be_ruled_out_is_set_aside() -> None:
    from cx_core.reading import arguments

    text = "Do NOT charge the Mastercard you have on file, it's maxed out. Take it out of my gift card."
    card, gift = text.index("Mastercard"), text.index("gift card")
    assert arguments.said_against(text, card, card + 10) and not arguments.said_against(text, gift, gift + 9)
    under = "Use my certificate, or if that is not possible put it on my Visa."
    assert not arguments.ruled_out_in_words(under, under.index("Visa"), under.index("Visa") + 4)


def test_a_date_written_in_figures_ends_a_sentence_and_a_birth_year_has_four_figures() -> None:
    from datetime import date

    from cx_core.reading import people, when

    today = date(2026, 11, 20)
    assert [w.value for w in when.dates("It was delivered on 10/20.", today, False)] == ["2026-10-20"]
    born = people.born("Her details: Shelley Kennedy, date of birth 08/31/1950. Economy.", today, False)
    assert [p.value for p in born] == [{"first_name": "Shelley", "last_name": "Kennedy", "dob": "1950-08-31"}]
    assert not when.dates("version 1.2.3 of the app", today, False)


@pytest.mark.parametrize("text, said", [
    ("she wants the travel insurance added", "yes"),
    ("add the travel insurance for both of us", "yes"),
    ("he likes the insurance, include it", "yes"),
    ("she doesn't want insurance", "no"),
    ("skip the insurance", "no"),
])
def test_a_thing_offered_is_taken_or_declined_in_any_person(text: str, said: str) -> None:
    from cx_core import entities
    from cx_core.domain import DEFAULT_DOMAIN

    packs.use(find("airline"))
    try:
        assert entities.options(text) == {"insurance": [said]}
    finally:
        packs.use_named(DEFAULT_DOMAIN)


INVOICES = [
    {"id": "I-1", "description": "Order of a video doorbell and a mesh system", "amount": 361.34,
     "issued_on": "2026-09-17"},
    {"id": "I-2", "description": "Order of a smart plug", "amount": 24.24, "issued_on": "2026-09-25"},
    {"id": "I-3", "description": "Order of wireless headphones, an EV charger and a smart TV", "amount": 1669.5,
     "issued_on": "2026-11-16"},
]


@pytest.mark.parametrize("text, want", [
    ("Could you resend the $24.24 invoice?", [1]),
    ("the invoice for £1,669.50 please", [2]),
    ("the invoice for the EV charger", [2]),
    ("the invoice for my November order", [2]),
    ("both my September invoices", [0, 1]),
])
def test_a_record_is_named_by_its_own_words_or_a_sum_it_holds(text: str, want: list[int]) -> None:
    """"the $24.24 invoice": a sum said with its currency or its cents names the record that holds it, "my November
    order" one whose days fall in that month."""
    from cx_core.reading import records

    assert records.named(text, INVOICES) == want


@pytest.mark.parametrize("text, want", [
    ("Can you send me the invoices for the doorbell order and for the headphones order?", [0, 2]),
    ("the invoices for the smart plug, the doorbell and the TV", [1, 0, 2]),
    ("the invoice for the doorbell order", []),
])
def test_a_list_names_each_of_its_records(text: str, want: list[int]) -> None:
    """"the doorbell order and the headphones order": each part of a list names a record of its own."""
    from cx_core.reading import records

    assert records.named_each(text, INVOICES) == want


@pytest.mark.parametrize("text, want", [
    ("New address for the lamp order:\n88 Linden Ave\nApt 3B\nPortland, Oregon 97214\n\nthanks",
     ("88 Linden Ave", "Apt 3B", "Portland", "OR", "97214")),
    ("ship the lamp to 12 elm st apt 4 boulder co 80302 please", ("12 Elm St", "Apt 4", "Boulder", "CO", "80302")),
    ("My new home address is 9 Riverside Drive, Unit 5, Austin TX 78701.",
     ("9 Riverside Drive", "Unit 5", "Austin", "TX", "78701")),
    ("could it go to 1600 Amphitheatre Pkwy, Mountain View, CA 94043-1351 instead?",
     ("1600 Amphitheatre Pkwy", "", "Mountain View", "CA", "94043")),
    ("I bought 2 lamps, please send them to 455 Market Street, San Francisco, CA 94105",
     ("455 Market Street", "", "San Francisco", "CA", "94105")),
    ("I ordered 2 lamps on Tuesday and my zip is 94105", None),
])
def test_a_us_address_is_read_however_it_is_laid_out(text: str, want: tuple[str, ...] | None) -> None:
    """On several lines, without commas, in lower case, the state by its name, a ZIP+4: the address's parts; a count
    and a ZIP said apart are no address."""
    from cx_core.reading import values

    found = values.addresses(text, ("US",))
    got = tuple(found[0].value[k] for k in ("address1", "address2", "city", "state", "zip")) if found else None
    assert got == want


def test_a_clause_that_keeps_the_other_record_as_it_is_leaves_the_request_its_own() -> None:
    """"Switch my gas to Fixed 24 please; the electric can stay on Flex": the request's own words are its clause that
    asks, so it names the gas and Fixed 24; the clause that keeps the electricity as it is takes nothing back."""
    from types import SimpleNamespace

    text = "Switch my gas to Fixed 24 please; the electric can stay on Flex."
    reading = read(text, WRITTEN, None, [SimpleNamespace(intent="tariff_change", text=text, confidence=0.8)])
    asks, keeps = reading.requests
    assert asks.qualifiers.negated is None and "gas" in asks.sentence.text
    assert keeps.qualifiers.negated is not None and "electric" in keeps.sentence.text


@pytest.mark.parametrize("text, want", [
    ("Can you push my TV and soundbar delivery back by a week?", "2026-11-30"),
    ("Is it possible to get the TV delivered a day later than planned?", "2026-11-24"),
    ("could you bring it forward two days", "2026-11-21"),
    ("delay the delivery by a fortnight", "2026-12-07"),
    ("I will be away a week from today", None),
    ("please push the visit back", None),
])
def test_a_records_own_day_moved_by_a_span(text: str, want: str | None) -> None:
    """"push it back by a week", "a day later than planned": the record's own day (here Monday 23 November), moved."""
    from datetime import date

    from cx_core.reading import when

    got = when.shifted(text, date(2026, 11, 23))
    assert (got.isoformat() if got else None) == want


def test_any_day_after_a_day_named_is_the_day_after_it() -> None:
    from datetime import date

    from cx_core.reading import when

    text = "I'm in hospital until the 27th. Please bring the order any day after that."
    assert [w.value for w in when.dates(text, date(2026, 11, 20), False)] == ["2026-11-27", "2026-11-28"]


@pytest.mark.parametrize("text, day, against", [
    ("Instead of Wednesday, Friday the 27th would be ideal.", "Friday", False),
    ("Instead of Wednesday, Friday the 27th would be ideal.", "Wednesday", True),
    ("I can't do Monday, but Friday works.", "Friday", False),
    ("I can't do Monday.", "Monday", True),
])
def test_words_that_rule_a_day_out_rule_out_the_day_they_name(text: str, day: str, against: bool) -> None:
    from cx_core.reading import arguments

    at = text.index(day)
    assert arguments.said_against(text, at, at + len(day)) is against


@pytest.mark.parametrize("text, want", [
    ("Can my return be on Dec 9 instead of the 8th?", ["2026-12-09", "2026-12-08"]),
    ("on Friday the 11th rather than the 10th", ["2026-12-11", "2026-12-10"]),
    ("out on 28 November, back on the 3rd", ["2026-11-28", "2026-12-03"]),
])
def test_a_day_of_the_month_alone_is_read_in_the_month_said_before_it(text: str, want: list[str]) -> None:
    """"Dec 9 instead of the 8th": the other day of that month; "out on 28 November, back on the 3rd": the next
    month's, as it comes after."""
    from datetime import date

    from cx_core.reading import when

    assert [w.value for w in when.dates(text, date(2026, 11, 20), False)] == want


@pytest.mark.parametrize("text, kept", [
    ("Cancel the coffee machine order but keep the air purifier one.", True),
    ("Cancel the coffee machine order. Actually, don't.", False),
    ("Please cancel my order. I've changed my mind, don't cancel it.", False),
])
def test_keeping_another_thing_is_no_change_of_mind(text: str, kept: bool) -> None:
    """A step whose record is not settled yet, weighed against the clauses: "… but keep the air purifier one" keeps
    another thing, so the request stands; "Actually, don't" takes it back."""
    from cx_core.plans import Step
    from cx_core.reading import guard

    reading = read(text, WRITTEN, None, [SimpleNamespace(intent="order_cancel", text=text, confidence=0.9)])
    clause = guard.clause_for(Step("cancel_order", {}, "order_cancel", "customer asked"), reading, None)
    assert clause is not None and (guard.holding(clause.qualifiers)[0] != "drop") is kept


@pytest.mark.parametrize("sentence, settled", [
    ("If my coffee machine order hasn't shipped yet, please cancel it.", True),
    ("Please swap it for the 1.0L one if it's in stock.", True),
    ("Cancel it as long as it's not too late.", True),
    ("If that is not possible, cancel my pending order.", False),  # a second choice, not a condition met
    ("If it's not in stock, the grey one.", False),
    ("If my wife agrees, please cancel it.", False),
    ("Switch me to Fixed 24 provided there's no charge for leaving.", False),
])
def test_a_condition_the_actions_own_rules_check_is_no_reason_to_wait(sentence: str, settled: bool) -> None:
    """"if it hasn't shipped yet", "if it's in stock", "if possible": the action's rules check it when it is
    proposed (allowed: the condition is met; refused: the reason is said), so the step does not wait for a person;
    a second choice, another person's say or a price does."""
    from cx_core.reading import language

    assert language.rules_settle(sentence) is settled


@pytest.mark.parametrize("text, want", [
    ("Here's what it read this morning: 31377. Will my Green Fixed 12 prices change?", 31377),
    ("the Fixed 12 one, reading 5520", 5520),
])
def test_a_figure_inside_a_name_is_no_value(text: str, want: int) -> None:
    """"my Green Fixed 12 prices": the 12 is part of a tariff's name, not the meter's reading."""
    from cx_core.reading import arguments

    spec = _reading_spec()
    assert arguments.read(spec, read(text, WRITTEN, None, []))[0] == want


@pytest.mark.parametrize("text, danger", [
    ("The water has crept across the floor to the wall where it's plugged in.", True),
    ("The socket behind the machine is wet.", True),
    ("The kettle leaks from the base.", False),
    ("Please plug it in when you arrive.", False),
])
def test_water_where_the_power_is_is_a_danger(text: str, danger: bool) -> None:
    from cx_core import signals

    assert bool(signals.safety(text)) is danger


@pytest.mark.parametrize("sentence, told", [
    ("On Wednesday I rebooked the installer, and the new time is Monday the 30th, first thing.", True),
    ("We moved the visit to Tuesday last week.", True),
    ("I rebooked for Monday but the confirmation still says Thursday.", False),  # amiss: a problem
    ("Could you move the visit to Tuesday?", False),
])
def test_a_change_the_writer_made_and_tells_of_asks_nothing(sentence: str, told: bool) -> None:
    from cx_core.request_split import done_already

    assert done_already(sentence) is told


@pytest.mark.parametrize("text, want", [
    ("The week after next suits, any morning except the Monday, and the sooner in that week the better.",
     "2026-12-01"),
    ("Any afternoon the week after next, apart from Monday and Tuesday.", "2026-12-02"),
    ("The week after next suits, any morning.", "2026-11-30"),
])
def test_a_weekday_ruled_out_by_its_name_is_out_of_the_stretch_offered(text: str, want: str) -> None:
    """"The week after next, any morning except the Monday": that week's Monday is out, not only the next one."""
    from cx_core.reading import arguments

    reading = read(text, WRITTEN, None, [])
    day_spec, _ = _Visit.specs()
    assert str(arguments.read(day_spec, reading)[0]) == want


@pytest.mark.parametrize("text, phrase, found", [
    ("We've decided to call the trip off and go another time.", "called off", True),
    ("The trip was called off.", "called off", True),
    ("Please send the lamp back.", "send back", True),
    ("I called. Off we go.", "called off", False),  # never across the end of a sentence
    ("Call me when the parcel is off the van and back at the depot.", "called off", False),
    ("He can't fly, so please call the trip off for both of us.", "called off", False),  # asked, not a reason told
    ("Can you call it off?", "called off", False),
])
def test_a_verb_and_its_particle_meet_in_any_form_with_words_between(text: str, phrase: str, found: bool) -> None:
    from cx_core.reading import phrases

    assert bool(phrases.find(phrase, text)) is found


@pytest.mark.parametrize("sentence, pays", [
    ("I'd like my $100 travel certificate to cover any fee.", True),
    ("If certificates can't be used for bags, fine, charge the card on file.", True),
    ("Use both my gift cards first and put whatever's left on my Mastercard.", True),
    ("Can I pay with my Amex instead of the gift card?", False),  # a question about paying still asks
    ("Please refund it to my card.", False),  # another act
])
def test_a_sentence_that_only_says_how_to_pay_belongs_to_the_request_before_it(sentence: str, pays: bool) -> None:
    from cx_core.request_split import says_how_to_pay

    assert says_how_to_pay(sentence) is pays


@pytest.mark.parametrize("sentence, opens", [
    ("Business class if it's under $300 a head, otherwise regular economy is fine.", False),
    ("As long as the exit fee is £100 or less.", False),
    ("The reading is 41037.", True),
])
def test_a_figure_that_only_bounds_a_condition_opens_no_request(sentence: str, opens: bool) -> None:
    from cx_core.request_split import opens_request

    assert opens_request(sentence) is opens


def test_a_count_said_as_the_whole_is_read_apart_from_one_added(monkeypatch: pytest.MonkeyPatch) -> None:
    """"4 checked bags in total instead of 2": the whole there will be, not four more (the things counted are the
    pack's: the airline counts bags)."""
    from cx_core import entities

    monkeypatch.setattr(entities, "_vocabulary", lambda: packs.reading(find("airline")))
    got = entities.counts("I now need 4 checked bags in total instead of 2. Can you add two more bags?")
    assert got["bag_total"] == [4] and got["bag_count"] == [4, 2]
    assert "bag_total" not in entities.counts("Please add two more bags.")
    assert entities.counts("We'll have seven checked bags between us both.")["bag_total"] == [7]  # shared: the whole
    assert entities.counts("Three bags between the four of us, please.")["bag_total"] == [3]


@pytest.mark.parametrize("text, at, under", [
    ("If certificates can't be used for bags, charge the card on file.", "card", True),
    ("Charge the card on file as long as the fee is under $50.", "card", False),
    ("Provided it hasn't shipped, cancel the lamp.", "lamp", True),
    ("Cancel the lamp. Otherwise I'm fine.", "fine", True),
    ("Cancel the lamp. The rest is fine.", "rest", False),  # a condition ends with its sentence
])
def test_every_reader_of_conditions_reads_the_same_words(text: str, at: str, under: bool) -> None:
    from cx_core.reading import conditions

    assert conditions.under_condition(text, text.index(at)) is under
    first = text.split(". ")[-1]
    assert conditions.opens_with_condition(first) is bool(conditions.CONDITIONAL_WORD.match(first))
    assert conditions.without_conditions("Business class provided it's under $300 a head").strip() == "Business class"


@pytest.mark.parametrize("sentence, opens", [
    ("That was days ahead of the old appointment, well outside your 24 hour rule.", False),  # a figure describing
    ("It's still inside the 30-day return window.", False),  # a noun gives nothing
    ("It arrived 3 days late.", True),
    ("The meter read 41037 this morning.", True),
    ("Then yesterday an invoice turned up charging me $49 as a call-out fee.", True),  # "as" gives no reason
    ("The installation on December 3rd is fine as booked.", False),  # only says something is fine
    ("The fitting itself on the 27th stays as it is.", False),  # or stays as it is
])
def test_a_figure_that_only_describes_a_noun_gives_nothing_and_as_is_no_reason(sentence: str, opens: bool) -> None:
    from cx_core.request_split import opens_request

    assert opens_request(sentence) is opens


@pytest.mark.parametrize("text, want", [
    ("Please send it to Glenwood Ave.\n\nLindsey Graham\n624-558-3477", "Please send it to Glenwood Ave.\n\nLindsey Graham"),
    ("Thanks,\nAmir Khan\nMobile: +44 7700 900123\namir@example.com", "Thanks,\nAmir Khan"),
    ("My new number is\n624-558-3477", "My new number is\n624-558-3477"),  # no name signs it: a detail given
    ("Please call me on\n\n624-558-3477", "Please call me on\n\n624-558-3477"),
])
def test_contact_lines_under_the_writers_name_sign_the_message(text: str, want: str) -> None:
    from cx_core.reading import language

    assert language.unsigned(text) == want


@pytest.mark.parametrize("sentence, told", [
    ("That's exactly what I paid for the white kettle back in October, which turned up fine and gets used every day.",
     True),
    ("On Wednesday I rebooked the installer, and the new time is Monday the 30th.", True),
    ("The kettle arrived fine, please refund the delivery fee.", False),
    ("The lamp is fine but the kettle is cracked.", False),
    ("Is the kettle fine to use?", False),
    ("Refund to my Mastercard is fine.", False),  # a choice said to be fine
    ("Friday is fine.", False),
    ("The car charger install on Tuesday stays as is.", True),
    ("The smart meter fitting on Monday is unaffected.", True),  # a thing said with its day, not a day chosen
    # what is not wanted, set aside; a fault told of, or a request after it, still asks
    ("No vouchers or credit of any kind, please.", True),
    ("No need for a technician, thanks.", True),
    ("No hot water since Monday.", False),
    ("No internet since Monday, please help!", False),
    ("No rush, thanks.", True),
    ("No need for a technician, just refund me.", False),
    ("No longer need the booking, please cancel it.", False),
])
def test_a_sentence_that_only_tells_opens_no_request(sentence: str, told: bool) -> None:
    from cx_core.request_split import tells_only

    assert tells_only(sentence) is told


@pytest.mark.parametrize("text, want", [
    ("Gas reading 08533. Actually, scratch that, it's 08353.", 8353),
    ("The meter says 15521. Sorry, I mean 15512, I misread the last digits.", 15512),
    ("Electric is 4410, no wait, 4401.", 4401),
    ("Electric is 4410 and I read it twice.", 4410),
])
def test_a_value_the_writer_corrects_is_the_later_one(text: str, want: int) -> None:
    """"…twelve. Actually, scratch that, it's 9921": the value given after the correction stands; the one before it
    is set aside (and the request is not withdrawn)."""
    from cx_core.reading import arguments

    assert arguments.read(_reading_spec(), read(text, WRITTEN, None, []))[0] == want


@pytest.mark.parametrize("text, want", [
    ("Fly me back sooner: the 8th, please. No, sorry, make that Wednesday the 9th - the 8th is my granddaughter's "
     "recital.", ["2026-12-09"]),
    ("Out on December 5th, back on the 10th; move the return to the 14th. Sorry, I mean the 15th.",
     ["2026-12-05", "2026-12-10", "2026-12-15"]),
])
def test_a_day_the_writer_corrects_is_no_day_asked_for_and_only_the_day_just_given_is_corrected(
        text: str, want: list[str]) -> None:
    """"the 8th, please. No, sorry, make that Wednesday the 9th": the 8th is set aside, though named again as the
    reason; the days told before it are not what the correction takes back."""
    from datetime import date

    from cx_core.entities import find_dates

    assert [d.isoformat() for d in find_dates(text, date(2026, 11, 20))] == want


def test_a_day_of_the_month_said_again_is_the_same_day() -> None:
    """"the 8th, please … Wednesday the 9th - the 8th is a recital": the second 8th is the first one, not January's."""
    from datetime import date

    from cx_core.reading import when

    text = "Back sooner: the 8th, please. Make that Wednesday the 9th - the 8th is a recital."
    assert [w.value for w in when.dates(text, date(2026, 11, 20), False)] == ["2026-12-08", "2026-12-09",
                                                                             "2026-12-08"]


@pytest.mark.parametrize("text, off", [
    ("Can the balance be spread over three months? All of it apart from the £12 late fee, I'll pay that today.", 12.0),
    ("Please put what I owe on a plan, minus the $30 reconnection charge.", 30.0),
    ("Please put what I owe on a plan over six months.", 0.0),
    ("Can the balance be spread over three months? The £12 late fee is wrong too.", 0.0),
])
def test_money_left_out_of_a_sum_from_the_records_is_taken_off(text: str, off: float) -> None:
    """"all of it apart from the £12 late fee": a sum taken from the customer's records (a balance) is reduced by
    the amount the customer leaves out, said after words of exception in the request or the sentence after it."""
    from pydantic import BaseModel, Field

    from cx_core.reading import arguments

    class Plan(BaseModel):
        amount: float = Field(gt=0, description="The amount to spread, in pounds.")

    spec = arguments.spec_of("amount", Plan.model_fields["amount"])
    own = text.split("?")[0] + "?" if "?" in text else text
    assert arguments.excepted(spec, read(text, WRITTEN, None, []), own) == off


@pytest.mark.parametrize("sentence, narrows", [
    ("All of it apart from the £12 late fee - I'll clear that myself.", True),
    ("Everything except the lamp, please.", True),
    ("Except for the sofa.", True),
    ("All of my orders arrived late.", False),
    ("The late fee is wrong too.", False),
])
def test_a_sentence_that_narrows_the_request_before_it_joins_it(sentence: str, narrows: bool) -> None:
    from cx_core.request_split import NARROWS

    assert bool(NARROWS.match(sentence)) is narrows


@pytest.mark.parametrize(("text", "own_day"), [
    ("Could the installer come on Tuesday, the very first slot of the morning?", False),  # asked for: the next one
    ("Tuesday doesn't work for me any more.", True),  # ruled out: the visit's own Tuesday
    ("Could you move my Tuesday visit to Thursday?", True),
    ("Please move it from Tuesday to Thursday.", True),
])
def test_a_weekday_asked_for_is_the_next_one_and_one_ruled_out_or_owned_is_the_records(text: str,
                                                                                       own_day: bool) -> None:
    from datetime import date

    from cx_core.reading.arguments import own_weekday

    today, own = date(2026, 11, 20), "2026-12-01"  # a Friday; the visit is on Tuesday 1 December
    assert own_weekday(text, today, own) == ({"2026-11-24"} if own_day else set())


@pytest.mark.parametrize(("text", "refuses"), [
    ("If possible keep the same technician who's booked now.", False),  # goes along with the change asked for
    ("Keep the same seat that I chose, please.", False),
    ("Keep me on Flex.", True),
    ("I'd like to keep the same tariff.", True),
])
def test_keeping_whoever_goes_along_with_a_change_refuses_nothing(text: str, refuses: bool) -> None:
    from cx_core.reading import language

    assert bool(language.NEGATION.search(text)) is refuses


@pytest.mark.parametrize(("text", "address1", "zip_code"), [
    ("Could it go to 5218 W 32nd Ave, Denver, CO 80212? Sorry - the house number is 5281, not 5218.",
     "5281 W 32nd Ave", "80212"),
    ("Please send it to 5218 W 32nd Ave, Denver, CO 80221 (the ZIP is 80212 rather than 80221).",
     "5218 W 32nd Ave", "80212"),
    ("Please send it to 12 Oak St, Denver, CO 80212, not 14 Elm Rd.", "12 Oak St", "80212"),  # no figure put right
])
def test_a_figure_of_an_address_put_right_in_so_many_words_is_read_as_put_right(text: str, address1: str,
                                                                               zip_code: str) -> None:
    [address] = read(text, WRITTEN, None, []).facts.addresses
    assert address.value["address1"] == address1 and address.value["zip"] == zip_code


def test_a_rank_said_in_words_is_never_a_figure_such_as_a_meter_reading() -> None:
    """"The first one you have, please": no reading of 1 (a rank, not a figure); a day of the month still may be."""
    from pydantic import BaseModel, Field

    from cx_core.reading import arguments

    class Reading(BaseModel):
        reading: int = Field(ge=0, le=99999, description="Digits on the meter's display")

    text = "The meter needs replacing. Mornings only, the first one you have, please."
    spec = arguments.spec_of("reading", Reading.model_fields["reading"])
    value, _ = arguments.read(spec, read(text, WRITTEN, None, [SimpleNamespace(intent="request", text=text,
                                                                                confidence=1.0)]))
    assert value is None


@pytest.mark.parametrize("noun", ["order", "booking", "account"])
def test_the_words_that_point_at_one_record_are_built_from_any_packs_noun(noun: str) -> None:
    """"this order", "the same booking", "cancel the whole account": what a reader of records of one kind looks for,
    built from the noun its pack gives, never written in a pack."""
    from cx_core.reading import cuts

    assert cuts.this_one(noun).search(f"not receive the current {noun} and get a full refund")
    assert cuts.that_same(noun).search(f"I made it by accident. Cancel that {noun}")
    assert cuts.one_of_them(noun).search(f"the two things in the same {noun}")
    assert cuts.whole(noun, ("pending",)).search(f"cancel my pending {noun}s please")
    assert not cuts.whole(noun).search(f"cancel the lamp in my {noun}")
    assert cuts.it_or_the(noun).search("please return it")
    assert cuts.speaks_of(noun).search(f"send my {noun}s to the new flat")
    assert cuts.all_of(noun).search(f"please refund the whole {noun}") and cuts.all_of(noun).search("all the items")
    assert cuts.by_what_it_holds(noun).search(f"cancel the coffee machine {noun}").group(1) == "coffee machine "


def test_the_cuts_of_a_message_a_reader_of_records_makes() -> None:
    """Its sentences (a semicolon ends one), the part of the last one said so far, the parts of a list, and the
    words before what a thing becomes."""
    from cx_core.reading import cuts

    assert cuts.pieces("Send it back; refund me.\n\nThanks") == ["Send it back;", "refund me.", "Thanks"]
    assert cuts.so_far("I moved. The lamp {") == "The lamp {" and cuts.so_far("I moved. ") == ""
    assert cuts.parts("the lamp, the kettle and the plug") == ["the lamp", "the kettle", "the plug"]
    assert cuts.at_target("swap the blue one for the black", ("to", "for")) == ["swap the blue one ", " the black"]
    assert cuts.at_target("send the lamp to Oak Street")[0] == "send the lamp "
    assert cuts.ACTS_ON_EARLIER.match("exchange them for the black") and cuts.PARTICIPLE_FIRST.match("exchanged")


@pytest.mark.parametrize(("text", "said"), [
    ("Is there any chance of Friday the 27th, 2 to 4?", [("14:00", "after"), ("16:00", "before")]),
    ("Monday between 8 and 10 please", [("08:00", "after"), ("10:00", "before")]),
    ("on Tuesday, 2-4pm would suit", [("14:00", "after"), ("16:00", "before")]),
    ("Saturday the 28th, between 4 and 6 in the evening", [("16:00", "after"), ("18:00", "before")]),
    ("Could it be Dec 1 to 3?", []),  # days of a month
    ("On Friday we need 2 to 4 weeks", []),  # a count
    ("I ordered 2 to 4 of them on Friday", []),
    ("Between 2 and 4 of the plugs are broken", []),  # no day named before it
])
def test_two_bare_hours_after_a_day_are_a_window_of_the_clock(text: str, said: list[tuple[str, str]]) -> None:
    from cx_core.reading import when

    assert [(t.value, t.bound) for t in when.times(text) if t.kind == "time"] == said


def test_the_times_said_of_each_day_stay_with_that_day() -> None:
    """"Friday the 27th, 2 to 4? If that one's full, the Monday after in the morning": the window is Friday's, the
    morning Monday's; one day alone has no times of its own apart from the message's."""
    from datetime import date

    from cx_core.reading.day_times import times_of_days

    days = times_of_days("Is there any chance of Friday the 27th, 2 to 4? If that one's full, the Monday after in "
                         "the morning would work too.", date(2026, 11, 20))
    assert days["2026-11-27"]["clock"] == [{"at": "14:00", "bound": "after"}, {"at": "16:00", "bound": "before"}]
    assert days["2026-11-30"] == {"clock": [], "parts": ["morning"]}
    assert times_of_days("Could it be Friday at 2pm?", date(2026, 11, 20)) == {}


@pytest.mark.parametrize(("sentence", "words"), [
    ("Is there any chance of Friday the 27th, 2 to 4?", 6),
    ("is Saturday 28 November free?", 2),
    ("Could you move it to the afternoon of Tuesday 1 December, any time after 2pm?", 10),
])
def test_a_follow_up_is_as_long_as_its_words_besides_the_days_and_times_it_gives(sentence: str, words: int) -> None:
    """A short sentence of another kind after a request it follows up is part of it: the days and times it gives
    make it no longer ("Is there any chance of Friday the 27th, 2 to 4?" after an installation to move)."""
    from cx_core import request_split

    assert request_split.words_besides_when(sentence) == words


@pytest.mark.parametrize(("sentence", "plan"), [
    ("My friend and I were due to fly from Orlando to Dallas on the 9th of December.", True),
    ("We're due back in Atlanta from Denver on the 12th.", True),
    ("Your installer is booked to set up my new mesh wifi on Saturday the 28th.", True),
    ("I'm flying New York to Charlotte on December 5th and back on the 10th.", True),
    ("I'm due to fly on the 9th, please cancel it.", False),  # asks
    ("Is my installer booked to come on Saturday?", False),
    ("I need to fly to Dallas on the 9th.", False),
    ("The kettle arrived broken on Monday.", False),
    ("The black kettle I ordered came with a big dent in the side.", False),  # what was got may tell of a fault
])
def test_a_plan_the_writer_holds_is_told_and_asks_nothing(sentence: str, plan: bool) -> None:
    from cx_core import request_split

    assert request_split.tells_of_a_plan(sentence) is plan


@pytest.mark.parametrize(("sentence", "outright"), [
    ("We paid for the insurance, so please call the trip off for both of us.", True),
    ("I want my money back.", True),
    ("Please note my new address.", False),
    ("Please find the photos attached.", False),
    ("The trip is off.", False),
])
def test_a_thing_to_do_after_please_asks_outright(sentence: str, outright: bool) -> None:
    from cx_core import request_split

    assert request_split.asks_outright(sentence) is outright


@pytest.mark.parametrize(("text", "days"), [
    ("If Saturdays are out, the first Friday afternoon you can manage.", ["2026-11-21", "2026-11-27"]),
    ("the 1st Monday you have free", ["2026-11-23"]),
    ("on the first, please", ["2026-12-01"]),
    ("the first Tuesday in December", ["2026-12-01"]),
])
def test_the_first_weekday_is_that_weekday_and_no_day_of_the_month(text: str, days: list[str]) -> None:
    from datetime import date

    from cx_core.reading import when

    assert sorted({str(w.value) for w in when.dates(text, date(2026, 11, 20))}) == days


@pytest.mark.parametrize(("text", "second"), [
    ("If Saturdays are out, the first Friday afternoon you can manage.", True),
    ("If weekends are not an option, Tuesday the 1st.", True),
    ("If that one's full, the Monday after in the morning.", True),
    ("If it is out of stock, please refund me.", False),
])
def test_a_first_choice_that_cannot_be_had_opens_the_second(text: str, second: bool) -> None:
    from cx_core.reading.conditions import FALLBACK

    assert bool(FALLBACK.search(text)) is second


@pytest.mark.parametrize("text, event", [
    ("My wife slipped on the ice and broke her hip. The surgeon says no flying for two months.", "health"),
    ("His heart specialist told him on Wednesday that he mustn't fly for the next few months.", "health"),
    ("Dad had a stroke last week.", "health"),
    ("I'm pregnant and not allowed to fly after 36 weeks.", "health"),
    ("I had a stroke of luck and won the raffle.", ""),
    ("The handle broke off my suitcase.", ""),
    ("We have a consultant coming to look at the kitchen.", ""),
])
def test_an_illness_or_injury_is_read_in_the_words_people_tell_it_in(text: str, event: str) -> None:
    """What happened to someone's health, told in the customer's words (a surgeon's advice, a broken hip, a stroke),
    is read by the engine for every pack: the draft's sympathy, and a pack's reason for what it is asked."""
    from cx_core.signals import life

    assert life(text) == event


@pytest.mark.parametrize("pack", list(PACKS))
@pytest.mark.parametrize("template, pays_only", [
    ("Please {act}, and if there's a charge, put it on my gift card first, and if that doesn't have enough on it, use "
     "my Visa.", True),
    ("Please {act}, and if it costs anything, charge my Mastercard.", True),
    ("If my wife agrees, please {act}.", False),
])
@pytest.mark.parametrize("payment_chosen", [True, False])
def test_a_condition_that_only_says_how_to_pay_holds_no_write_whose_payer_is_chosen(
        pack: str, template: str, pays_only: bool, payment_chosen: bool) -> None:
    """"If there's a charge, put it on the gift card first, and if that doesn't have enough, use my Visa": the
    condition picks who pays, and the rule that chose the payer read it; the write does not wait for a person. A
    step whose payer is not chosen, or any other condition, still waits."""
    from cx_core.plans import Plan, Step
    from cx_core.reading import guard

    action, args, snap = STEPS[pack]
    text = template.format(**PACKS[pack])
    reading = read(text, WRITTEN, packs.reading(find(pack)), [SimpleNamespace(intent="request", text=text,
                                                                              confidence=1.0)])
    chosen = {"payment_id": "credit_card_1"} if payment_chosen else {}
    [step] = guard.apply(Plan(steps=[Step(action, {**args, **chosen}, "request", "the customer asked")]), reading,
                         snap).steps
    goes = pays_only and payment_chosen
    assert (not step.held) is goes, step.held
    assert (guard.PAYMENT_SETTLES in step.rationale) is goes


@pytest.mark.parametrize("text, amount, each, extra", [
    ("Business class if it's under $300 a head, otherwise regular economy is fine.", 300.0, True, False),
    ("But only if the upgrade is no more than $150 extra per person.", 150.0, True, True),
    ("Fine provided it's less than $150 more; more than that and I'll keep Sunday.", 150.0, False, True),
    ("As long as the whole thing is under £500.", 500.0, False, False),
    ("I paid $200 for it.", None, False, False),  # an amount, no ceiling
    ("Under $100 each, or at most $250 in all.", None, False, False),  # two ceilings: none is guessed
])
def test_a_price_ceiling_is_read_with_whom_it_counts_and_whether_it_is_the_difference(
        text: str, amount: float | None, each: bool, extra: bool) -> None:
    from cx_core.reading import bounds

    most = bounds.ceiling(text)
    assert (most.amount, most.each, most.extra) == (amount, each, extra) if amount is not None else most is None
    if most is not None:
        assert most.allows(amount * (3 if each else 1), 3) and not most.allows(amount * (3 if each else 1) + 1, 3)


@pytest.mark.parametrize("text, returned", [
    ("The vacuum leaves wet streaks, so it needs to go back to you.", True),
    ("The other two are going back - the soundbar is too wide.", True),
    ("It doesn't suit my office, so it's going back too.", True),
    ("I'm going back to work on Monday.", False),  # the writer goes back somewhere
    ("We are going back home on the 12th.", False),
])
def test_a_thing_going_back_is_read_by_the_classifier_as_a_return_asked_for(text: str, returned: bool) -> None:
    """"It needs to go back to you": what the customer sends back, said the way people say it, reaches every pack's
    classifier as a return asked for; the writer going back somewhere does not."""
    from cx_core.entities import normalise

    assert ("I want to return" in normalise(text)) is returned


@pytest.mark.parametrize("text, first, second", [
    ("Could you shift the Direct Debit from the 12th to the 2nd? Apologies, I've just checked my contract and the "
     "money lands on the 3rd, so the 3rd it is.", 2, 3),
    ("Saturday the 13th, please. I have just looked at the calendar again and Saturday is the 12th.", 13, 12),
])
def test_a_value_given_again_after_the_writer_checked_replaces_the_first(text: str, first: int, second: int) -> None:
    from cx_core.reading import corrections

    at1 = text.index(f"{first}")
    at2 = text.index(f"{second}", at1 + len(str(first)))
    assert corrections.corrects(text, (at1, at1 + len(str(first)), first), [(at2, at2 + len(str(second)), second)])


@pytest.mark.parametrize("sentence, plan", [
    ("Last night's order with the TV and the coffee maker says it's coming Monday.", True),
    ("The sofa is arriving on the 3rd.", True),
    ("When is it coming?", False),  # asks
    ("My sister is coming to stay.", False),  # no day it is held for
])
def test_a_delivery_told_as_coming_on_a_day_is_a_plan_held(sentence: str, plan: bool) -> None:
    from cx_core.request_split import tells_of_a_plan

    assert tells_of_a_plan(sentence) is plan


def test_a_second_choice_that_rebooks_is_an_act_of_its_own_not_only_how_to_pay() -> None:
    """"…if that's a no, then rebook me onto the same flight a week later and charge the difference to my
    Mastercard": another act, not only how to pay for the first."""
    from cx_core.request_split import IMPERATIVE, says_how_to_pay

    s = "If that's a no, then rebook me onto the same flight a week later and charge the difference to my Mastercard."
    assert IMPERATIVE.search(s) and not says_how_to_pay(s)


def test_the_value_a_record_holds_now_is_no_new_value_when_another_is_said() -> None:
    """"Shift the Direct Debit from the 12th to the 2nd? Apologies, I've just checked … the 3rd it is. … or does
    that one still go out on the 12th?": the 12th is the day on file, the 2nd is corrected, the 3rd is asked."""
    from cx_core.reading import arguments

    day = arguments.Spec("day", "Day of the month the Direct Debit is taken.", "number", 1, 28)
    text = ("Could you shift the electricity Direct Debit from the 12th to the 2nd? Apologies, I've just checked my "
            "contract and the money lands on the 3rd, so the 3rd it is. Will the change be in place for December's "
            "payment, or does that one still go out on the 12th?")
    assert arguments.read(day, read(text, WRITTEN, None, []), now=12)[0] == 3
    assert arguments.read(day, read("Please move it to the 12th.", WRITTEN, None, []), now=12)[0] == 12  # only one
