"""What the plan says of what the member already has, and what waits for their yes: a change asked again once
done, a cancellation caused by a flight we cancelled, a change asked with its price."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cx_core.plans import Plan, Step
from cx_core.reading import topics
from cx_core.wording import WORDING, day, listed, money

from . import costs
from .backend import CABIN_WORDS


def legs(flights: list[dict[str, Any]] | None) -> set[tuple[str, str]]:
    """A booking's flights as (number, day) pairs: two lists of flights are the same trip when these are equal."""
    return {(str(f["flight_number"]), str(f["date"])) for f in flights or []}


def already(step: Step, snap: dict[str, Any] | None) -> str:
    """A change of flights to the very flights and cabin the booking already has (asked again after it was done):
    what the booking is, or ''."""
    if step.action != "update_reservation_flights" or step.held or not step.args.get("flights"):
        return ""
    r = next((x for x in (snap or {}).get("reservations", []) if x["reservation_id"] == step.args["reservation_id"]),
             None)
    if r is None or r.get("cabin") != step.args.get("cabin") or legs(r.get("flights")) != legs(step.args["flights"]):
        return ""
    on = listed([f"{f['flight_number']} on {day(str(f['date']))}" for f in step.args["flights"]])
    return (f"reservation {r['reservation_id']} is already booked on {on}, in "
            f"{CABIN_WORDS.get(str(r['cabin']), r['cabin'])}, so nothing needs to change")


# the member asks the price before deciding ("What would it cost?"): told first, never charged unasked
def price_first(made: Plan, snap: dict[str, Any], text: str) -> None:
    """A change the member would pay for, asked with its price: the price is said and the change waits for their
    yes (the card it would go on named)."""
    if not topics.PRICE_ASKED.search(text):
        return
    labels = {m["id"]: m["label"] for m in (snap.get("user") or {}).get("payment_methods") or []}
    for i, st in enumerate(made.steps):
        cost = costs.to_pay(st, snap) if not (st.held or st.missing) else None
        if cost is None or cost <= 0:
            continue
        card = labels.get(str(st.args.get("payment_id") or ""), "")
        made.steps[i] = replace(st, held="the member asked the price first and has not said yes")
        made.questions[st.intent] = f"shall I go ahead{f', charging it to your {card}' if card else ''}?"


def ours(step: Step, snap: dict[str, Any] | None) -> Step:
    """A cancellation, with what goes and what comes back ("HAT053 and HAT050 on Wednesday 2 December", "$412.00");
    of a booking with a flight we cancelled: for that reason, and said so."""
    if step.action != "cancel_reservation" or step.held or step.missing:
        return step
    r: dict[str, Any] = next((x for x in (snap or {}).get("reservations", [])
                              if x["reservation_id"] == step.args.get("reservation_id")), {})
    ahead = [f for f in r.get("flights", []) if not f.get("flown") and f.get("status") != "cancelled"]
    days = list(dict.fromkeys(str(f["date"]) for f in ahead))
    words = {**({"paid": money(float(r["paid_total"]))} if r.get("paid_total") else {}), **({"flights": listed(
        [f"{listed([f['flight_number'] for f in ahead if str(f['date']) == d])} on {day(d)}" for d in days])}
        if ahead else {})}
    step = replace(step, defaults={**step.defaults, **words})
    gone = [f for f in r.get("flights", []) if f.get("status") == "cancelled"]
    if not gone:
        return step
    return replace(step, args={**step.args, "reason": "airline_cancelled"}, defaults={
        **step.defaults, "we_cancelled": f"{gone[0]['flight_number']} on {day(str(gone[0]['date']))}"})


def after_ours(made: Plan, snap: dict[str, Any]) -> None:
    """A change to a booking whose flights still ahead were all cancelled by us (a name, bags, a cabin): it waits
    until the member says whether they want another flight or their money back, which the notice offers first; a
    booking that cannot move to another flight (basic economy) has only the refund left, and the change is said not
    to be made."""
    for i, st in enumerate(made.steps):
        if st.action not in _AFTER or st.held:
            continue
        r: dict[str, Any] = next((x for x in snap.get("reservations", [])
                                  if x["reservation_id"] == st.args.get("reservation_id")), {})
        ahead = [f for f in r.get("flights", []) if not f.get("flown")]
        if r.get("status") == "cancelled" or not ahead or any(f.get("status") != "cancelled" for f in ahead):
            continue
        made.steps[i] = replace(st, held=costs.WAITS_FOR_CHOICE)
        movable = r.get("cabin") != "basic_economy"  # to a flight ahead, even when the cancelled one's day is past
        made.questions[st.intent] = (f"once you have chosen, I'll make {WORDING[st.action].noun} too"  # asked above
                                     if movable else
                                     f"I haven't made {WORDING[st.action].noun}, as no flight is left to fly on "
                                     f"reservation {r['reservation_id']}")


_AFTER = ("update_reservation_passengers", "update_reservation_baggages")


def left_for_cancel(made: Plan, snap: dict[str, Any]) -> None:
    """A change to a booking that a later message of the member's asks to cancel (their latest word, still waiting
    for a person): not made, nor priced, nor asked how to pay; the reply says it waits for them to keep the booking."""
    later = {str(p["args"].get("reservation_id")) for t in snap.get("open_tickets") or [] if t.get("later")
             for p in t.get("pending") or [] if p.get("action") == "cancel_reservation"}
    moot = [st for st in made.steps if st.action in _AFTER + ("update_reservation_flights",)
            and not (st.final or st.refused)  # one the rules refuse anyway is said so, not kept for later
            and str(st.args.get("reservation_id")) in later]
    for st in moot:
        made.steps.remove(st)
        made.questions.pop(st.intent, None)
        made.answers[st.intent] = (f"as your later message asks to cancel reservation {st.args['reservation_id']}, I "
                                   f"haven't gone ahead with {WORDING[st.action].noun}; if you would rather keep the "
                                   "booking, just tell us, and I'll see to it then")
