"""The airline's planner: its recipes (``recipes.yaml``) run by the engine's recipe planner, with the resolvers
for what data alone cannot say (the new cabin, the flights kept, bags and who pays). A resolver that cannot be
certain raises ``Unbound`` with what a person must decide; nothing is guessed."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from cx_core.models import Triage
from cx_core.plans import Plan
from cx_core.reading import bounds, conditions, cuts, language, people, topics, when
from cx_core.reading.numbers import UNITS
from cx_core.reading.types import Facts
from cx_core.recipe_book import load
from cx_core.recipes import Context, Resolver, Unbound
from cx_core.recipes import plan as recipe_plan
from cx_core.request_split import ASK
from cx_core.signals import life
from cx_core.wording import also_decided, day, listed, money

from . import PACK, costs
from .backend import BAG_FEE, CABIN_WORDS, COMPENSATION_PER_PASSENGER, FREE_BAGS, INSURANCE_FEE, free_bag_allowance
from .disruptions import also, disrupted
from .flights import after_upgrade, booked_flights, connection, moved_trip, pick, same_flight, this_trip, trips
from .paying import payment, payment_split
from .settled import after_ours, already, left_for_cancel, legs, ours, price_first

RECIPES = Path(__file__).resolve().parent / "recipes.yaml"
_CHANGE_ASKED = re.compile(r"\b(?:move|change|switch|rebook|reschedule|swap|push|bring)\w*\b[^.?!]{0,40}\b(?:flights?|"
                           r"dates?|day|trip|booking|reservation|cabin|class|seat)\b|\b(?:upgrade|downgrade|earlier|"
                           r"later|next day|business|economy)\b|\b[A-Z]{3}\d{3}\b|\d", re.I)
# a refusal's offer of a colleague, left out beside a notice that makes the same offer
COLLEAGUE = " If you would like, a colleague can look at what else can be done with the booking."
OR_COLLEAGUE = ", or, if you would rather, a colleague can look at what else can be done with the booking"
_BOOKING_WRITES = ("cancel_reservation", "update_reservation_flights", "update_reservation_baggages",
                   "update_reservation_passengers")


def _record(ctx: Context) -> dict[str, Any]:
    rec = ctx.bound.get("@reservations")
    if rec is None:
        raise Unbound("which booking this is about")
    return dict(rec)


def member(ctx: Context) -> str:
    return str(ctx.snapshot["user"]["user_id"])


def flight_date(ctx: Context) -> str:
    """The date the member names; when one of their bookings has that flight on that day of the year, the
    booking's date (a day already past is the one flown or missed, not the same day next year)."""
    dates = ctx.entities.get("dates") or []
    chosen = ctx.bound.get("@reservations.flights") or ctx.bound.get("@schedule") or {}
    if chosen.get("date") and (not dates or str(chosen["date"])[:10] in map(str, dates)):
        return str(chosen["date"])[:10]  # the flight chosen by the words: its day
    if len(set(dates)) == 1:
        number, day_of_year = ctx.bound.get("flight_number"), str(dates[0])[5:]
        booked = [f["date"] for r in ctx.snapshot.get("reservations", []) for f in r.get("flights", [])
                  if f["flight_number"] == number and str(f["date"])[5:] == day_of_year]
        return str(booked[0]) if len(set(booked)) == 1 else str(dates[0])
    raise Unbound("the date of the flight", "which date is the flight?")


def cancel_reason(ctx: Context) -> str | None:
    reasons = ctx.entities.get("why_cancel") or []
    if len(reasons) == 1:
        return str(reasons[0])
    if "airline_cancelled" in reasons and any(f.get("status") == "cancelled" and not f.get("flown")
                                              for f in _record(ctx).get("flights") or []):
        return "airline_cancelled"  # we cancelled a flight of it, as the member says: whatever else they add
    if len(reasons) > 1:
        raise Unbound("why the booking is cancelled (the reasons given differ)",
                      "could you tell us the main reason you need to cancel?")
    if life(ctx.text) in ("health", "unwell"):
        return "health"  # "the surgeon says no flying for two months": a health reason in words no list holds
    if language.REASON_GIVEN.search(ctx.text):
        return "other"  # a reason was given, and it is neither health nor weather
    rec = _record(ctx)
    verdicts = rec.get("policy") or {}
    if rec.get("insurance") == "yes" and str(verdicts.get("cancel", "")).startswith("refused") \
            and str(verdicts.get("cancel_for_health_or_weather", "")).startswith("allowed"):
        raise Unbound("why the booking is cancelled: travel insurance refunds it for health or weather reasons",
                      "could you tell us why you need to cancel? Travel insurance refunds the booking for health "
                      "or weather reasons")
    return None


def _refused(ctx: Context, change: str) -> str:
    """Why the airline's rules refuse this change on the booking, or ""."""
    verdict = str((ctx.bound.get("@reservations", {}).get("policy") or {}).get(change, ""))
    return verdict.split(": ", 1)[1] if verdict.startswith("refused: ") else ""


def new_cabin(ctx: Context) -> str:
    if why := _refused(ctx, "change_cabin"):
        rid = ctx.bound["@reservations"]["reservation_id"]
        raise Unbound(f"the airline's rules refuse it: {why}" + (
            "" if ctx.bound["@reservations"].get("all_flown") else ", and the cabin is the same on every flight"),
                      f"I'm sorry, but the cabin of reservation {rid} can no longer be changed: {why}"
                      + (", and a cabin is the same on every flight of a booking, so it can only change before the first "
                         "one." if len(ctx.bound["@reservations"].get("flights") or []) > 1
                         and not ctx.bound["@reservations"].get("all_flown") else "." + _another(ctx, rid)),
                      final=True)
    rec = ctx.bound.get("@reservations", {})
    wanted = [c for c in ctx.entities.get("cabin") or [] if c != rec.get("cabin")]
    if len(wanted) == 1:
        blocked = (rec.get("cabin_blocked") or {}).get(wanted[0])
        if blocked:  # a flight we cancelled is said by the notice, with what the member may do instead
            gone = "is cancelled" in blocked and any(f.get("status") == "cancelled" for f in rec.get("flights") or [])
            moving = any(p.get("action") == "update_reservation_flights" and (p.get("args") or {}).get(
                "reservation_id") == rec.get("reservation_id") for t in ctx.snapshot.get("open_tickets") or []
                for p in t.get("pending") or [])  # the new flight already asked for in another message
            cabin = CABIN_WORDS.get(str(wanted[0]), wanted[0])
            raise Unbound(f"the cabin cannot be had: {blocked}",
                          "I haven't changed the cabin, as that flight no longer flies; " + (
                              "I can see your other message asking to move to another flight: once that is settled, "
                              f"I'll price {cabin} on the new one" if moving else
                              f"once you tell us which flight you would like instead, I'll price {cabin} on it")
                          if gone else
                          f"I'm sorry, but reservation {rec['reservation_id']} cannot move to "
                          f"{CABIN_WORDS.get(str(wanted[0]), wanted[0])}: {blocked}.", final=True)
        return str(wanted[0])
    raise Unbound("which cabin the booking should move to", "which cabin would you like: economy or business?")


def _flies(r: dict[str, Any]) -> bool:
    """A booking with a flight still to fly (not flown, not cancelled by us)."""
    return any(not f.get("flown") and f.get("status") != "cancelled" for f in r.get("flights") or [])


def _another(ctx: Context, rid: str) -> str:
    """For a cabin change asked on a trip already flown: the member's one trip not yet started, offered instead
    (a cabin changes only before the first flight)."""
    if not ctx.bound["@reservations"].get("all_flown"):
        return ""
    ahead = [r for r in ctx.snapshot.get("reservations", []) if r["reservation_id"] != rid
             and r.get("status") != "cancelled" and not r.get("any_flown") and _flies(r)]
    return (f" If you meant your reservation {ahead[0]['reservation_id']} ({ahead[0].get('origin', '')} to "
            f"{ahead[0].get('destination', '')}), just reply and I'll price it there." if len(ahead) == 1 else
            f" If you meant one of your reservations {trips(ahead)}, just reply and tell us which." if ahead else
            " I can't see another trip of yours still to fly; for a new one, the cabin is chosen when you book it.")


def same_cabin(ctx: Context) -> str:
    return str(_record(ctx)["cabin"])


def same_flights(ctx: Context) -> list[dict[str, str]]:
    return [{"flight_number": f["flight_number"], "date": f["date"]} for f in _record(ctx)["flights"]]


def new_flights(ctx: Context) -> list[dict[str, str]]:
    """A new booking's one-way flight, or a booking's flight moved to the one other date the message names."""
    rec = ctx.bound.get("@reservations")
    cabin = str(ctx.bound.get("cabin") or "")
    if rec is None:  # a new booking
        if ctx.bound.get("flight_type") not in ("one_way", "round_trip") or not cabin:
            raise Unbound("the new flights (an advisor picks them from the search with the member)")
        return booked_flights(ctx, cabin)
    said = this_trip(ctx, rec)
    mentioned = set(said)
    booked = {f["date"] for f in rec["flights"]}
    at = {str(d.value): d.words.start for d in (ctx.reading.facts.dates if ctx.reading else [])}
    in_text = sorted(said, key=lambda d: at.get(d, 0))  # as written, whatever order the days were weighed in
    if len(in_text) == 2 and in_text[1] in booked and in_text[0] not in booked and \
            not topics.IN_PLACE_OF.search(ctx.text):
        # "from the 12th to the 13th", on the 13th ("to the 13th instead of the 12th" names the old day second)
        return [{"flight_number": f["flight_number"], "date": f["date"]} for f in rec["flights"]]  # already there
    new = sorted(mentioned - booked)
    if new and all(d < ctx.today.isoformat() for d in new):  # no flight is moved into the past, whatever the cabin
        raise Unbound(f"the date asked for has passed ({day(new[0])})", final=True, ask=(
            f"I'm sorry, but {day(new[0])} has already passed, so no flight can be booked for it. Which other date "
            "would suit you?"))
    if why := _refused(ctx, "change_flights"):
        ahead = [f for f in rec["flights"] if not f.get("flown")]
        ours = any(f.get("status") == "cancelled" for f in ahead)  # the same flights are not all there: no upgrade
        upgrade = "basic economy" in why and not _refused(ctx, "change_cabin") and not ours
        cost = (rec.get("cabin_costs") or {}).get("economy")
        pax = int(rec.get("passenger_count") or 1)
        priced = "" if cost is None else " at no extra cost" if cost <= 0 else f" for {money(cost)}" + (
            "" if pax == 1 else f" ({money(cost / pax)} each) for " + ("both passengers" if pax == 2 else f"all {pax} passengers"))
        raise Unbound(f"the airline's rules refuse it: {why}", final=True, ask=
                      f"I'm sorry, but reservation {rec['reservation_id']} cannot move to other flights: {why}."
                      + (f" You can upgrade it to economy first, on the same flights{priced}, and then change the "
                         "flights; any difference in fare is charged or refunded then." + after_upgrade(ctx, rec)
                         + " Would you like to do that?" if upgrade else ""))
    if trip := moved_trip(ctx, rec):  # a way that changes planes overnight, moved whole by as many days
        pax = int(rec.get("passenger_count") or 1)
        found = [same_flight(ctx, f, d, cabin, pax) for f, d in zip(*trip, strict=True)]
        if all(found):
            moved = {(f["flight_number"], f["date"]): x for f, x in zip(trip[0], found, strict=True)}
            return [moved.get((f["flight_number"], f["date"])) or {"flight_number": f["flight_number"], "date": f["date"]}
                    for f in rec["flights"]]
    ahead = [f for f in rec["flights"] if not f.get("flown")]
    stays = ctx.reading.kept_only("dates") if ctx.reading else set()  # "keep the outbound on the 24th as it is"
    named = [f for f in ahead if f["date"] in mentioned - stays]
    if len(new) == 1 and len(named) > 1 and len({f["date"] for f in named}) == 1:  # a connection, moved whole
        pax = int(rec.get("passenger_count") or 1)
        same = [same_flight(ctx, f, new[0], cabin, pax) for f in named]
        if all(same):
            moved = {(f["flight_number"], f["date"]): s for f, s in zip(named, same, strict=True)}
            return [moved.get((f["flight_number"], f["date"])) or
                    {"flight_number": f["flight_number"], "date": f["date"]} for f in rec["flights"]]
        if (pair := connection(ctx, named, new[0], cabin, pax)) is not None:  # other flights make the trip that day
            return [*pair, *({"flight_number": f["flight_number"], "date": f["date"]} for f in rec["flights"]
                             if f not in named)]
    moving = named if len(named) == 1 else ahead if len(ahead) == 1 else []
    if not new and len(moving) == 1 and (later := when.shifted(ctx.request.text,
                                                              date.fromisoformat(str(moving[0]["date"])))):
        new = [later.isoformat()]  # "push my Seattle flight back by a week"
    if len(new) != 1 or len(moving) != 1:
        raise Unbound("the new flights (an advisor picks them from the search with the member)")
    leg = moving[0]
    picked = pick(ctx, leg["origin"], leg["destination"], new[0], cabin, int(rec.get("passenger_count") or 1),
                   same=leg["flight_number"])
    return [picked if f is leg else {"flight_number": f["flight_number"], "date": f["date"]}
            for f in rec["flights"]]


def _member_as_passenger(ctx: Context) -> dict[str, str]:
    user = ctx.snapshot["user"]
    return {"first_name": user["name"]["first_name"], "last_name": user["name"]["last_name"], "dob": user["dob"]}


def _facts(ctx: Context) -> Facts:
    """The facts the engine read from the message (its Reading's; read afresh only when planned without one)."""
    if ctx.reading is not None:
        return ctx.reading.facts
    return Facts(people=people.born(ctx.text, ctx.today, False), party=people.party(ctx.text))


def new_passengers(ctx: Context) -> list[dict[str, str]]:
    """Who travels: on a booking, the named traveller replaced by the one given with a date of birth (or taken off:
    the airline's rules then say whether the number may change); on a new booking, the member alone ("just me"),
    or with the travellers the message gives with their dates of birth."""
    facts = _facts(ctx)
    born = [dict(v.value) for v in facts.people]
    rec = ctx.bound.get("@reservations")
    if rec is not None:
        current = [dict(p) for p in rec.get("passengers") or []]
        signed = language.signature(ctx.text)  # the member signing their message is not spoken of by it
        named = people.named(ctx.text[:signed.start] if signed else ctx.text, current)
        me = ctx.snapshot["user"]["name"]
        if len(named) > 1:  # the member signing their own message is not the traveller they write about
            named = [i for i in named if _person(current[i]) != _person(me)]
        if not named and facts.party.without_writer:  # "could you put her name on the booking instead of mine?"
            named = [i for i, p in enumerate(current) if _person(p) == _person(me)]
        if len(born) == 1 and (len(named) == 1 or len(current) == 1):
            at = named[0] if named else 0
            return [born[0] if i == at else p for i, p in enumerate(current)]
        if len(born) == 1 and not named and (why := _refused(ctx, "remove_passenger")):  # no one leaves: one more
            adding = born[0]["first_name"]
            legs_ahead = [f"{f['flight_number']} on {day(f['date'])}" for f in rec["flights"] if not f.get("flown")]
            raise Unbound(f"the airline's rules refuse it: {why}",
                          f"I'm sorry, but {adding} cannot be added to reservation {rec['reservation_id']}: a booking "
                          f"keeps the number of travellers it was made with ({len(current)}). A separate booking can "
                          f"be made for {adding} on the same flights ({listed(legs_ahead)}); would you like us to make "
                          "it?", final=True)
        if not born and (why := _refused(ctx, "change_passengers")):  # the action would refuse: no name asked for
            raise Unbound(f"the airline's rules refuse it: {why}", (
                f"the trip on reservation {rec['reservation_id']} has already been flown, so there is nothing left on "
                "it to change; if you meant another booking, just send us its reference" if rec.get("all_flown") else
                f"I'm sorry, but the travellers on reservation {rec['reservation_id']} cannot change: {why}."
                + COLLEAGUE), final=True)
        if not born and (fixed := _name_fixed(ctx.text, current)) is not None:
            return fixed  # "I booked my niece as Susan. Her passport actually says Suzanne"
        on_it = {_person(p) for p in current}
        saved = [p for p in _saved_named(ctx) if _person(p) not in on_it]
        if not born and len(named) == 1 and len(saved) == 1:  # "swap Miguel for Nathan" (Nathan saved on file)
            return [saved[0] if i == named[0] else p for i, p in enumerate(current)]
        if not born and len(named) == 1 and language.NOT_COMING.search(ctx.text):
            who = current[named[0]]["first_name"]
            raise Unbound(f"the airline's rules refuse it: {_refused(ctx, 'remove_passenger')}",
                          f"I'm sorry, but {who} cannot be taken off reservation {rec['reservation_id']}: a booking "
                          f"keeps the number of travellers it was made with, so one seat cannot be refunded on its "
                          f"own. {who}'s place can go to another traveller (send us their full name and date of "
                          "birth)" + (", or, if the trip no longer works without them, the whole booking can be "
                                      "cancelled for a full refund." if str((rec.get("policy") or {}).get(
                                          "cancel", "")).startswith("allowed") else
                                      OR_COLLEAGUE + "."), final=True)
        raise Unbound("the new traveller's full name and date of birth",
                      "what are the new traveller's full name and date of birth, as on their ID?")
    if facts.party.alone and not born:
        return [_member_as_passenger(ctx)]
    who = facts.party.companion
    if who and len(born) == 1:
        return [_member_as_passenger(ctx), born[0]]
    if who and not born and len(saved := _saved_named(ctx)) == 1:  # "my husband Marvin (he's saved on my profile)"
        return [_member_as_passenger(ctx), saved[0]]
    if not born and (saved := _saved_named(ctx)):  # "my sister Mary and my nephew Robert, both saved; not me"
        party = facts.party
        return ([_member_as_passenger(ctx)] if party.with_writer and not party.without_writer else []) + saved
    if born and not who:  # the travellers named with their dates of birth, and the member when "me and …"
        me = _member_as_passenger(ctx)
        named_me = any(_person(p) == _person(me) for p in born)
        return [me, *born] if facts.party.with_writer and not named_me else born
    if who:
        raise Unbound(f"the {who}'s full name and date of birth",
                      f"what are your {who}'s full name and date of birth, as on their ID?")
    raise Unbound("the passengers' full names and dates of birth",
                  "who is travelling? Please give each traveller's full name and date of birth, as on their ID")


def _person(p: Mapping[str, Any]) -> tuple[Any, Any]:
    """Who a traveller is, by name: their first and last names."""
    return p.get("first_name"), p.get("last_name")


def _name_fixed(text: str, current: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The travellers with one first name spelt right, when the message gives the right spelling of a name on the
    booking ("Her passport actually says Suzanne"): the one traveller whose name is that one misspelt."""
    right = people.right_name(text)
    if right is None or any(p["first_name"] == right for p in current):
        return None
    alike = [i for i, p in enumerate(current)
             if difflib.SequenceMatcher(None, str(p["first_name"]).lower(), right.lower()).ratio() >= 0.6]
    return [{**p, "first_name": right} if i == alike[0] else p for i, p in enumerate(current)] if len(alike) == 1 \
        else None


def _saved_named(ctx: Context) -> list[dict[str, str]]:
    """The member's saved travellers the message names (by full name, or a first name only one of them has), with
    the details on file; never the member themself."""
    me = _member_as_passenger(ctx)
    saved = [{"first_name": p["first_name"], "last_name": p["last_name"], "dob": p["dob"]}
             for p in ctx.snapshot["user"].get("saved_passengers") or []
             if _person(p) != _person(me)]
    return [saved[i] for i in people.named(ctx.text, saved)]


def _said(value: Any, need: str, ask: str) -> Any:
    """What the message says, else what a person must still settle (and the question for the member)."""
    if value is None:
        raise Unbound(need, ask)
    return value


def _place(ctx: Context, which: int) -> str:
    found = ctx.entities.get("airport") or []
    return str(_said(found[which] if len(found) >= 2 else None, "where the trip starts and ends",
                     "where does the trip start and end?"))


def trip_origin(ctx: Context) -> str:
    return _place(ctx, 0)


def trip_destination(ctx: Context) -> str:
    return _place(ctx, 1)


def booking_cabin(ctx: Context) -> str:
    named = ctx.entities.get("cabin_named") or []
    if len(named) == 2 and conditions.FALLBACK.search(ctx.text) and (most := bounds.ceiling(ctx.text)) is not None \
            and not most.extra:
        return _cabin_within(ctx, str(named[0]), str(named[1]), most)
    return str(_said(named[0] if len(named) == 1 else None, "which cabin",
                     "which cabin would you like: basic economy, economy or business?"))


def _cabin_within(ctx: Context, first: str, second: str, most: bounds.Ceiling) -> str:
    """"Business class if it's under $300 a head, otherwise regular economy": the first cabin when the flights
    asked for cost no more than that in it, else the second."""
    flights = booked_flights(ctx, first)
    fares = [costs.fare(ctx.snapshot, f, first) for f in flights]
    if any(f is None for f in fares):
        raise Unbound(f"which cabin: the fare in {first.replace('_', ' ')} is not known")
    count = 1 if most.each else len(new_passengers(ctx))
    return first if most.allows(sum(int(f or 0) for f in fares) * count, count) else second


def booking_bags(ctx: Context) -> int:
    counted = set(ctx.entities.get("bag_count") or [])  # the engine's count of the things the pack names
    said = int(_said(counted.pop() if len(counted) == 1 else None, "how many checked bags",
                     "how many checked bags will you bring?"))
    if said not in (ctx.entities.get("bag_each") or []):
        return said
    if not ctx.bound.get("passengers"):  # "one checked bag each": as many as there are travellers
        raise Unbound("how many checked bags (known once every traveller is known)")
    return said * len(ctx.bound["passengers"])


def booking_bags_paid(ctx: Context) -> int:
    total = int(ctx.bound.get("total_baggages", booking_bags(ctx)))
    cabin = str(ctx.bound.get("cabin") or booking_cabin(ctx))
    pax = len(ctx.bound.get("passengers") or []) or 1
    return max(total - free_bag_allowance(str(ctx.snapshot["user"]["membership"]), cabin, pax), 0)


def insurance(ctx: Context) -> str:
    said = next(iter(ctx.entities.get("insurance") or []), None)  # taken or declined, read by the engine
    if said is None:
        raise Unbound("whether the member wants travel insurance",
                      f"would you like travel insurance ({money(INSURANCE_FEE)} per passenger)? It refunds the trip "
                      "if you have to cancel for a health or weather reason")
    return said


def _bags_added(ctx: Context) -> int:
    counts = [str(c).lower() for c in ctx.entities.get("bag_count") or []]  # the engine's count of bags
    none_yet = not int(_record(ctx).get("total_baggages") or 0)  # "I'll need three suitcases": added and in all
    if len(set(counts)) != 1 or not (none_yet or language.ADDING.search(ctx.request.text + " " + ctx.text)):
        raise Unbound("how many checked bags to add", "how many checked bags would you like to add?")
    word = counts[0]
    return int(word) if word.isdigit() else 1 if word in ("a", "an") else UNITS[word]


def bags_total(ctx: Context) -> int:
    if why := _refused(ctx, "add_bags"):
        rec = ctx.bound["@reservations"]
        rid = rec["reservation_id"]
        ahead = [f for f in rec.get("flights") or [] if not f.get("flown")]
        if ahead and all(f.get("status") == "cancelled" for f in ahead):  # still theirs to take: bags wait for it
            raise Unbound(f"the airline's rules refuse it: {why}", (
                f"As we cancelled flight {ahead[0]['flight_number']} on {day(str(ahead[0]['date']))}, reservation "
                f"{rid} has no "
                + ("flight to add bags to yet: once you've chosen another flight, I'll add them there."
                   if rec.get("cabin") != "basic_economy" else "flight left to add bags to.")), final=True)
        ahead = [r for r in ctx.snapshot.get("reservations", []) if r["reservation_id"] != rid
                 and r.get("status") != "cancelled" and _flies(r)]  # a trip of theirs still to fly
        asked = {str((p.get("args") or {}).get("reservation_id")) for t in ctx.snapshot.get("open_tickets") or []
                 for p in t.get("pending") or [] if p.get("action") == "update_reservation_baggages"}
        raise Unbound(f"the airline's rules refuse it: {why}", f"I'm sorry, but no bags can be added to reservation "
                      f"{rid}: {why}. " + (f"The bags you asked for on your reservation {ahead[0]['reservation_id']} "
                                           "are in hand from your other message." if len(ahead) == 1 and
                                           ahead[0]["reservation_id"] in asked else
                                           f"If you meant your reservation {ahead[0]['reservation_id']} "
                                           f"({ahead[0].get('origin', '')} to {ahead[0].get('destination', '')}), "
                                           f"just reply and I'll add them there{_bags_price(ctx, ahead[0])}."
                                           if len(ahead) == 1 else
                                           f"If you meant one of your reservations {trips(ahead)}, just reply and tell us which."
                                           if ahead else "For a new trip, bags can be added when you book it."),
                      final=True)
    whole = set(ctx.entities.get("bag_total") or [])  # "4 checked bags in total": the whole, not the bags added
    if len(whole) == 1 and (n := int(whole.pop())) >= int(_record(ctx).get("total_baggages") or 0):
        return n
    return int(_record(ctx).get("total_baggages") or 0) + _bags_added(ctx)


def _bags_price(ctx: Context, r: dict[str, Any]) -> str:
    """What the bags asked for would cost on another booking of the member's (beyond its free allowance), or ''."""
    try:
        added = _bags_added(ctx)
    except Unbound:
        return ""
    free, nonfree = int(r.get("free_bag_allowance") or 0), int(r.get("nonfree_baggages") or 0)
    paid = max(nonfree, int(r.get("total_baggages") or 0) + added - free) - nonfree
    return " at no extra cost, within its free allowance" if paid == 0 else \
        f" for {money(paid * BAG_FEE)} ({paid} bag{'s' if paid != 1 else ''} beyond its free allowance, {money(BAG_FEE)} each)"


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
    trip_origin, trip_destination, payment_split, insurance, payment, bags_total, bags_paid,
    compensation, booking_cabin, booking_bags, booking_bags_paid)}


def grounded(triage: Triage, snap: dict[str, Any] | None, text: str) -> Triage:
    """The requests as the member meant them. A request read as cancelling a booking whose message never says
    cancel (or only says nothing is to be cancelled), but says a traveller is not coming ("take them off"), is about
    who travels: taking one person off is a passenger change, which the airline's rules then judge (the classifier
    hears "refund" and thinks of a cancellation). A question-type request that asks nothing ("No bags, no insurance.") beside another request is a
    detail of that one, not a question to answer; so is a change that names nothing to change ("My plans have
    changed." beside a cancellation)."""
    requests = list(triage.requests)
    if not cuts.speaks_of("cancel").search(language.unnegated(text)) and language.NOT_COMING.search(text):
        requests = [r.model_copy(update={"intent": "change_passenger"}) if r.intent == "cancel_booking" else r
                    for r in requests]
    stated = [r for r in requests if (r.intent in PACK.informational and not ASK.search(r.text))
              or (r.intent in ("change_flight", "change_cabin")
                  and not _CHANGE_ASKED.search(language.CHANGED_PLANS.sub(" ", r.text)))]
    if stated and len(stated) < len(requests):
        requests = [r for r in requests if r not in stated]
    if requests == triage.requests:
        return triage
    first = requests[0].intent
    return triage.model_copy(update={"requests": requests, "task_type": first, "intent": first})


def plan(triage: Triage, snap: dict[str, Any] | None, today: date, text: str = "", reading: Any = None) -> Plan:
    """A plan for every request of the ticket, from the airline's recipes (read with the engine's ``reading``); a
    flight of the member's that the airline cancelled is spoken of first, whatever they asked."""
    made = recipe_plan(load(RECIPES), triage, snap, today, text, RESOLVERS, write_free=PACK.informational,
                       reading=reading)
    acting = {str(s.args.get("reservation_id")) for s in made.steps  # a move that waits only for how to pay acts
              if s.action in ("cancel_reservation", "update_reservation_flights") and not s.held
              and (not s.missing or (s.action == "update_reservation_flights" and s.args.get("flights")))}
    about = {str(s.args["reservation_id"]) for s in made.steps if s.args.get("reservation_id")}
    changed = {str(s.args.get("reservation_id")) for s in made.steps if s.action in _BOOKING_WRITES}
    asked = {r.intent for r in triage.requests if "?" in r.text}
    # a look-up of a booking the plan changes anyway, when nobody asked about it, would read out the old booking
    made.steps = [s for s in made.steps if not (s.action == "get_reservation_details" and s.intent not in asked
                                                and str(s.args.get("reservation_id")) in changed)]
    # a booking another open ticket of theirs is about (its message or its reply names it), or asks to cancel: the
    # disruption is told there, not again here
    elsewhere = {r["reservation_id"] for r in (snap or {}).get("reservations", []) for t in (snap or {}).get(
        "open_tickets") or [] if r["reservation_id"] in t.get("said", "") + t.get("text", "") or any(
            "cancel" in p["action"] and p["args"].get("reservation_id") == r["reservation_id"] for p in t["pending"])}
    theirs = [p for t in (snap or {}).get("open_tickets") or [] for p in t["pending"]]
    news = disrupted(snap, acting | (elsewhere - about), about, today, cancelling={  # another message of theirs asks
        str(p["args"].get("reservation_id")) for p in theirs if p["action"] == "cancel_reservation"}, moving={
        str(p["args"].get("reservation_id")) for p in theirs if p["action"] == "update_reservation_flights"
        and p["args"].get("flights") and p.get("decision") != "denied" and not p.get("noticed")
        and _moves(p["args"], snap or {})})  # a move of flights, not an upgrade on the same ones
    made.steps = [ours(s, snap) for s in made.steps]
    left_for_cancel(made, snap or {})
    price_first(made, snap or {}, text)
    after_ours(made, snap or {})
    for step, said in [(s, a) for s in made.steps if (a := already(s, snap))]:  # asked again once done: said
        made.steps.remove(step)
        made.questions.pop(step.intent, None)  # nothing to pay for, nothing to ask
        made.answers[step.intent] = said
    if under_way := [(r["reservation_id"], gone[0]) for r in (snap or {}).get("reservations", [])
                     if r["reservation_id"] in about and r.get("status") != "cancelled" and r.get("any_flown")
                     and (gone := [f for f in r.get("flights", []) if f.get("status") == "cancelled"
                                   and not f.get("flown")])]:
        # the policy: a trip already under way is the reservations team's; the member is told it went to them
        rid, f = under_way[0]
        made.escalate_because = ("a flight we cancelled on a trip already under way: the reservations team decides "
                                 "a refund for the part not flown")
        made.handed_over = " ".join([f"I've passed reservation {rid} to our reservations team, who will look at a "
                                     f"refund for the cancelled flight, {f['flight_number']}, and write to you.",
                                     *(q[:1].upper() + q[1:] + ("" if q.endswith(("?", ".")) else ".")
                                       for q in made.questions.values() if rid in q), also_decided(
                                         [(st.action, st.args) for st in made.steps if st.action in _BOOKING_WRITES
                                          and st.action != "cancel_reservation" and not (st.final or st.refused)])])
        news = [n.without_team() for n in news]
    elif any(n.under_way for n in news):  # the notice offers a colleague already: the answer need not again
        made.questions = {k: v.replace(COLLEAGUE, "").replace(OR_COLLEAGUE, "") for k, v in made.questions.items()}
    if about or topics.DISRUPTION.search(text):  # the booking written about, or the disruption itself: said first
        made.notices = [said for n in news if (said := n.known(text))] + costs.sentences(made, snap)
        made.asides = also(disrupted(snap, acting | about | elsewhere, None, today)) if about else []  # their other bookings
    else:  # a disruption on a booking the member did not write about: after the answer
        made.notices, made.asides = costs.sentences(made, snap), also([n for n in news if n.known(text)])
    if any(r.intent == "baggage_question" for r in triage.requests) and (bags := allowance(snap, text)):
        made.answers["baggage_question"] = bags  # the answer: the member's own allowance
    return made




def _moves(args: dict[str, Any], snap: dict[str, Any]) -> bool:
    """Whether a change of a booking's flights moves it to other flights (not only to another cabin)."""
    r: dict[str, Any] = next((x for x in snap.get("reservations", []) if x["reservation_id"] == args.get("reservation_id")), {})
    return legs(args.get("flights")) != legs(r.get("flights"))


def allowance(snap: dict[str, Any] | None, text: str) -> str:
    """The member's own free checked bags (policy: by membership and cabin, per passenger), and on the booking the
    message names (or their only one still to fly) how many that makes in all; '' for no known member."""
    level = str(((snap or {}).get("user") or {}).get("membership") or "")
    if level not in FREE_BAGS:
        return ""
    per = FREE_BAGS[level]
    said = (f"As a {level} member, your free checked bags per passenger are "
            + listed([f"{per[c] or 'none'} in {CABIN_WORDS[c]}" for c in ("basic_economy", "economy", "business")])
            + f"; each bag beyond that is {money(BAG_FEE)}.")
    live = [r for r in (snap or {}).get("reservations", []) if r.get("status") != "cancelled" and not r.get("all_flown")]
    mentioned = {r["reservation_id"] for r in (snap or {}).get("reservations", []) if r["reservation_id"] in text}
    # a booking the message names, even one already flown, is the one it asks about: never another of theirs
    named = [r for r in live if r["reservation_id"] in mentioned] if mentioned else live if len(live) == 1 else []
    if len(named) != 1 or named[0].get("free_bag_allowance") is None:
        return said
    r = named[0]
    pax, free = len(r.get("passengers") or []), int(r["free_bag_allowance"])
    return (f"{said} Reservation {r['reservation_id']} is in {CABIN_WORDS.get(str(r.get('cabin')), r.get('cabin'))} "
            f"for {pax} passenger{'s' if pax != 1 else ''}, so {free or 'no'} checked bag{'s' if free != 1 else ''} "
            f"{'are' if free != 1 else 'is'} free on it in all.")
