"""The airline's planner: its recipes (``recipes.yaml``) run by the engine's recipe planner, with the resolvers
for what data alone cannot say (the new cabin, the flights kept, bags and who pays). A resolver that cannot be
certain raises ``Unbound`` with what a person must decide; nothing is guessed."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from cx_core.models import Triage
from cx_core.plans import Plan
from cx_core.recipes import Context, Resolver, Unbound, load
from cx_core.recipes import plan as recipe_plan
from cx_core.wording import day

from . import PACK
from .backend import COMPENSATION_PER_PASSENGER

RECIPES = Path(__file__).resolve().parent / "recipes.yaml"
_NUMBER = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "a": 1, "an": 1}
_CARD = re.compile(r"\b(?:card on file|my (?:credit )?card|the (?:credit )?card|credit card)\b", re.I)
_BECAUSE = re.compile(r"\b(?:because|due to)\b", re.I)
_ADDING = re.compile(r"\b(?:add|adding|more|extra|additional|another)\b", re.I)


def _record(ctx: Context) -> dict[str, Any]:
    rec = ctx.bound.get("@reservations")
    if rec is None:
        raise Unbound("which booking this is about")
    return dict(rec)


def member(ctx: Context) -> str:
    return str(ctx.snapshot["user"]["user_id"])


def flight_date(ctx: Context) -> str:
    dates = ctx.entities.get("dates") or []
    if len(set(dates)) == 1:
        return str(dates[0])
    raise Unbound("the date of the flight", "which date is the flight?")


def cancel_reason(ctx: Context) -> str | None:
    reasons = ctx.entities.get("why_cancel") or []
    if len(reasons) == 1:
        return str(reasons[0])
    if len(reasons) > 1:
        raise Unbound("why the booking is cancelled (the reasons given differ)",
                      "could you tell us the main reason you need to cancel?")
    if _BECAUSE.search(ctx.text):
        return "other"  # a reason was given, and it is neither health nor weather
    rec = _record(ctx)
    verdicts = rec.get("policy") or {}
    if rec.get("insurance") == "yes" and str(verdicts.get("cancel", "")).startswith("refused") \
            and str(verdicts.get("cancel_for_health_or_weather", "")).startswith("allowed"):
        raise Unbound("why the booking is cancelled: travel insurance refunds it for health or weather reasons",
                      "could you tell us why you need to cancel? Travel insurance refunds the booking for health "
                      "or weather reasons")
    return None


def new_cabin(ctx: Context) -> str:
    current = ctx.bound.get("@reservations", {}).get("cabin")
    wanted = [c for c in ctx.entities.get("cabin") or [] if c != current]
    if len(wanted) == 1:
        return str(wanted[0])
    raise Unbound("which cabin the booking should move to", "which cabin would you like: economy or business?")


def same_cabin(ctx: Context) -> str:
    return str(_record(ctx)["cabin"])


def same_flights(ctx: Context) -> list[dict[str, str]]:
    return [{"flight_number": f["flight_number"], "date": f["date"]} for f in _record(ctx)["flights"]]


def new_flights(ctx: Context) -> list[dict[str, str]]:
    raise Unbound("the new flights (an advisor picks them from the search with the member)")


def new_passengers(ctx: Context) -> list[dict[str, str]]:
    raise Unbound("the passengers' full names and dates of birth")


def trip_origin(ctx: Context) -> str:
    raise Unbound("where the trip starts")


def trip_destination(ctx: Context) -> str:
    raise Unbound("where the trip goes")


def trip_type(ctx: Context) -> str:
    raise Unbound("one way or round trip")


def payment_split(ctx: Context) -> list[dict[str, Any]]:
    raise Unbound("which saved payment methods pay, and how much each")


def insurance(ctx: Context) -> str:
    raise Unbound("whether the member wants travel insurance")


def payment(ctx: Context) -> str:
    """The saved payment method the member named (its id, or a card's last four digits), or the only one saved."""
    methods = ctx.snapshot["user"].get("payment_methods") or []
    ids = {m["id"] for m in methods}
    named = [p for p in ctx.entities.get("payment_id") or [] if p in ids]
    if len(set(named)) == 1:
        return str(named[0])
    four = set(ctx.entities.get("card_last_four") or [])
    cards = [m["id"] for m in methods if m.get("source") == "credit_card" and any(m["label"].endswith(f) for f in four)]
    if len(cards) == 1:
        return str(cards[0])
    if len(methods) == 1:
        return str(methods[0]["id"])
    cards_saved = [m["id"] for m in methods if m.get("source") == "credit_card"]
    if len(cards_saved) == 1 and _CARD.search(ctx.text):
        return str(cards_saved[0])  # "my card on file": the member has one
    raise Unbound("which saved payment method pays any difference",
                  "which of your saved payment methods should we use for any difference in price?")


def _bags_added(ctx: Context) -> int:
    counts = [str(c).lower() for c in ctx.entities.get("bag_count") or []]
    if len(set(counts)) != 1 or not _ADDING.search(ctx.request.text + " " + ctx.text):
        raise Unbound("how many checked bags to add", "how many checked bags would you like to add?")
    word = counts[0]
    return int(word) if word.isdigit() else _NUMBER[word]


def bags_total(ctx: Context) -> int:
    return int(_record(ctx).get("total_baggages") or 0) + _bags_added(ctx)


def bags_paid(ctx: Context) -> int:
    rec = _record(ctx)
    total = int(ctx.bound.get("total_baggages", bags_total(ctx)))
    return max(int(rec.get("nonfree_baggages") or 0), total - int(rec.get("free_bag_allowance") or 0))


def compensation(ctx: Context) -> int:
    kind = ctx.bound.get("complaint")
    if kind not in COMPENSATION_PER_PASSENGER:
        raise Unbound("whether the flight was delayed or cancelled")
    return COMPENSATION_PER_PASSENGER[kind] * int(_record(ctx).get("passenger_count") or 1)


RESOLVERS: dict[str, Resolver] = {f.__name__: f for f in (
    member, flight_date, cancel_reason, new_cabin, same_cabin, same_flights, new_flights, new_passengers,
    trip_origin, trip_destination, trip_type, payment_split, insurance, payment, bags_total, bags_paid,
    compensation)}


def plan(triage: Triage, snap: dict[str, Any] | None, today: date, text: str = "") -> Plan:
    """A plan for every request of the ticket, from the airline's recipes; a flight of the member's that the
    airline cancelled is spoken of first, whatever they asked."""
    made = recipe_plan(load(RECIPES), triage, snap, today, text, RESOLVERS, write_free=PACK.informational)
    made.notices = disrupted(snap)
    return made


def disrupted(snap: dict[str, Any] | None) -> list[str]:
    """One sentence per active reservation with a flight the airline cancelled and not yet flown: what happened and
    what the member may do (the knowledge base's rule: a cancelled flight allows a cancellation with a refund)."""
    out = []
    for r in (snap or {}).get("reservations", []):
        if r.get("status") == "cancelled":
            continue
        gone = [f for f in r.get("flights", []) if f.get("status") == "cancelled" and not f.get("flown")]
        if gone:
            f = gone[0]
            out.append(f"I can see that flight {f['flight_number']} on {day(str(f['date']))}, on your reservation "
                       f"{r['reservation_id']}, was cancelled by us: you can cancel that booking for a full refund, "
                       "or we can move you to another flight.")
    return out[:2]
