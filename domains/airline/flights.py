"""The flights a booking's words point to: the one direct flight for sale that fits a date (or the member's choice
among several, listed with fares), a round trip out and back, and the dates a message about a booking names."""

from __future__ import annotations

from datetime import date
from typing import Any

from cx_core.reading import topics
from cx_core.recipes import Context, Unbound
from cx_core.wording import day, listed, money

from . import costs
from .backend import CABIN_WORDS
from .wording import clock


def _for_sale(ctx: Context, origin: str, destination: str, when: str) -> list[dict[str, Any]] | None:
    """The direct flights for sale on a route and date that the message pointed to (None: not looked up)."""
    for sale in ctx.snapshot.get("for_sale") or []:
        if (sale["origin"], sale["destination"], sale["date"]) == (origin, destination, when):
            return list(sale["flights"])
    return None


def pick(ctx: Context, origin: str, destination: str, when: str, cabin: str, pax: int,
          same: str = "") -> dict[str, str]:
    """The one direct flight that fits: the same flight number on the new date, else the only one for sale with
    seats; several: the member chooses, and the question lists them with their fares."""
    sale = _for_sale(ctx, origin, destination, when)
    if sale is None:
        raise Unbound("the new flights (an advisor picks them from the search with the member)")
    fits = [f for f in sale if int((f.get("seats") or {}).get(cabin, 0)) >= pax and cabin in (f.get("prices") or {})]
    chosen = [f for f in fits if f["flight_number"] == same] or (fits if len(fits) == 1 else [])
    if chosen:
        return {"flight_number": chosen[0]["flight_number"], "date": when}
    on = day(when)
    if not fits:
        raise Unbound(f"a flight: no direct flight from {origin} to {destination} has {pax} {CABIN_WORDS[cabin]} "
                      f"seat{'s' if pax != 1 else ''} on {on}",
                      f"there is no direct flight from {origin} to {destination} with {CABIN_WORDS[cabin]} seats "
                      f"left on {on}: would another day suit you?")
    listed = ", ".join(f"{f['flight_number']} at {clock(origin, when + 'T' + f['departure'])} "
                       f"({money(float(f['prices'][cabin]))})" for f in fits[:4])
    raise Unbound(f"which flight on {on} the member wants ({len(fits)} for sale)",
                  f"on {on} we have {listed} in {CABIN_WORDS[cabin]}, per passenger: which would you like?")


def connection(ctx: Context, legs: list[dict[str, Any]], when: str, cabin: str, pax: int
               ) -> list[dict[str, str]] | None:
    """A connecting trip moved whole to another day on other flights: the one pair for sale with seats that makes
    it, else the member chooses among those listed with their times and fares (None: not looked up)."""
    trip = (legs[0]["origin"], legs[-1]["destination"])
    found = next((c["pairs"] for c in ctx.snapshot.get("connecting") or []
                  if (c["origin"], c["destination"], c["date"]) == (*trip, when)), None)
    if found is None:
        return None
    direct = [[f] for f in _for_sale(ctx, *trip, when) or []]
    fits = [p for p in direct + found if all(int((f.get("seats") or {}).get(cabin, 0)) >= pax
                                             and cabin in (f.get("prices") or {}) for f in p)]
    on = day(when)
    if len(fits) == 1:
        return [{"flight_number": f["flight_number"], "date": f["date"]} for f in fits[0]]
    if not fits:
        raise Unbound(f"flights: none from {trip[0]} to {trip[1]} has {pax} {CABIN_WORDS[cabin]} seat"
                      f"{'s' if pax != 1 else ''} on {on}",
                      f"there are no flights from {trip[0]} to {trip[1]} with {CABIN_WORDS[cabin]} seats left on "
                      f"{on}: would another day suit you?")
    fits.sort(key=lambda p: sum(float(f["prices"][cabin]) for f in p))

    def said(p: list[dict[str, Any]]) -> str:
        price = money(sum(float(f["prices"][cabin]) for f in p))
        if len(p) == 1:
            return f"{p[0]['flight_number']} at {clock(trip[0], when + 'T' + p[0]['departure'])}, nonstop ({price})"
        return (f"{p[0]['flight_number']} at {clock(trip[0], when + 'T' + p[0]['departure'])}, changing at "
                f"{p[1]['origin']} to {p[1]['flight_number']} ({price})")
    raise Unbound(f"which flights on {on} the member wants ({len(fits)} ways for sale)",
                  f"on {on}, from {trip[0]} to {trip[1]} in {CABIN_WORDS[cabin]}, we have " +
                  "; ".join(said(p) for p in fits[:4]) + ", per passenger: which would you like?")


def same_flight(ctx: Context, leg: dict[str, Any], when: str, cabin: str, pax: int) -> dict[str, str] | None:
    """The same flight number on another day, when it is for sale there with seats in the cabin."""
    sale = _for_sale(ctx, leg["origin"], leg["destination"], when) or []
    return next(({"flight_number": f["flight_number"], "date": when} for f in sale
                 if f["flight_number"] == leg["flight_number"] and int((f.get("seats") or {}).get(cabin, 0)) >= pax
                 and cabin in (f.get("prices") or {})), None)


def booked_flights(ctx: Context, cabin: str) -> list[dict[str, str]]:
    """A new booking's flights: one way on the one date said; a round trip out on the first of two dates and back
    on the second, each the one flight that fits or, for either way, the member's choice (both asked at once)."""
    # a day gone by is no day to fly ("my mother came up with us on the 12th"; a date of birth is read apart)
    dates = sorted({str(d) for d in ctx.entities.get("dates") or [] if str(d) >= ctx.today.isoformat()})
    back = ctx.bound.get("flight_type") == "round_trip"
    if len(dates) != 1 + back:
        raise Unbound("the dates of the flights", "which dates would you like to fly out and back?" if back else
                      "which date would you like to fly?")
    pax = len(ctx.bound.get("passengers") or []) or 1
    ways = [(str(ctx.bound["origin"]), str(ctx.bound["destination"])), (str(ctx.bound["destination"]),
                                                                        str(ctx.bound["origin"]))][:1 + back]
    legs, open_ = [], []
    for (origin, destination), when, way in zip(ways, dates, ("out", "back"), strict=False):
        try:
            legs.append(pick(ctx, origin, destination, when, cabin, pax))
        except Unbound as exc:
            if exc.final or not back:
                raise
            open_.append((way, exc))
    if open_:
        raise Unbound(" and ".join(f"{e.need} (the way {way})" for way, e in open_),
                      " ".join(f"for the way {way}, {e.ask}" for way, e in open_))
    return legs


def this_trip(ctx: Context, rec: dict[str, Any]) -> list[str]:
    """The dates a message about a booking names, in order: a day and month read as next year's ("November 18",
    written a week later) is this year's when this year's is within a fortnight of the booking's flights."""
    booked = [date.fromisoformat(str(f["date"])) for f in rec.get("flights") or []]
    out = []
    for raw in ctx.entities.get("dates") or []:
        d = date.fromisoformat(str(raw)[:10])
        try:
            back = d.replace(year=d.year - 1)
        except ValueError:  # 29 February
            back = d
        if (d - ctx.today).days > 300 and any(abs((back - b).days) <= 14 for b in booked):
            d = back
        out.append(d.isoformat())
    return list(dict.fromkeys(out))


def moved_trip(ctx: Context, rec: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]] | None:
    """ "Move my SFO-MIA flight on November 30 to the next day, December 1" when that way of the trip changes planes
    overnight (SFO-ORD on the 30th, ORD-MIA on the 1st): its legs, and each one's day moved by as many days; None
    when the message names no such move."""
    said = this_trip(ctx, rec)
    if len(said) != 2:
        return None
    start, to = said
    ahead = [f for f in rec["flights"] if not f.get("flown")]
    chain = [f for f in ahead if f["date"] == start][:1]
    ends = {str(rec.get("destination")), str(rec.get("origin"))}
    while chain and chain[-1]["destination"] not in ends:
        nxt = next((f for f in ahead if f not in chain and f["origin"] == chain[-1]["destination"]
                    and 0 <= (date.fromisoformat(f["date"]) - date.fromisoformat(chain[-1]["date"])).days <= 1), None)
        if nxt is None:
            return None
        chain.append(nxt)
    if len({f["date"] for f in chain}) < 2:  # all on one day: moved as a connection elsewhere
        return None
    shift = date.fromisoformat(to) - date.fromisoformat(start)
    return chain, [(date.fromisoformat(f["date"]) + shift).isoformat() for f in chain]


def after_upgrade(ctx: Context, rec: dict[str, Any]) -> str:
    """What moving a flight (or a connection, whole) of a basic-economy booking to the one other day the message
    names would cost once it is upgraded to economy, at today's fares ("Moving to HAT012 on Sunday 29 November would then cost $88.00 more
    for both passengers."), or "" when that flight or a fare is not known."""
    said, booked = set(this_trip(ctx, rec)), {f["date"] for f in rec["flights"]}
    new = sorted(said - booked)
    named = [f for f in rec["flights"] if not f.get("flown") and f["date"] in said]
    pax = int(rec.get("passenger_count") or 1)
    if trip := moved_trip(ctx, rec):  # a way of the trip that changes planes overnight: each leg moved as far
        named, days = trip
    elif len(new) != 1 or not named or len({f["date"] for f in named}) != 1:
        return ""
    else:
        days = [new[0]] * len(named)
    found = [same_flight(ctx, f, d, "economy", pax) for f, d in zip(named, days, strict=True)]  # moved whole
    same = [f for f in found if f is not None]
    if len(same) != len(named):
        return ""
    after = [costs.fare(ctx.snapshot, s, "economy") for s in same]
    before = [costs.fare(ctx.snapshot, f, "economy") for f in named]
    if None in after or None in before:
        return ""
    who = "" if pax == 1 else " for both passengers" if pax == 2 else f" for all {pax} passengers"
    diff = (sum(a for a in after if a is not None) - sum(b for b in before if b is not None)) * pax
    moving = (f" Moving to {' and '.join(str(f['flight_number']) for f in same)} on {day(days[0])}" if len(set(days)) == 1
              else " Moving to " + " and ".join(f"{f['flight_number']} on {day(d)}" for f, d in zip(same, days, strict=True))
              ) + " would then"
    card = _card_asked(ctx)
    if diff < 0:
        return f"{moving} be {money(-diff)} cheaper{who} at today's fares, and we would refund the difference." + (
            f" The upgrade would be charged to your {card} and the difference refunded to it, as you asked."
            if card else "")
    return f"{moving} cost {money(diff) + ' more' if diff else 'nothing more'}{who if diff else ''} at today's fares." + (
        f" {'Both' if diff else 'The upgrade'} would be charged to your {card}, as you asked." if card else "")


def _card_asked(ctx: Context) -> str:
    """The one card saved, when the message asks to pay with the card on file ("use my card on file"), or ""."""
    if not topics.A_CARD.search(ctx.text):
        return ""
    cards = [m for m in ctx.snapshot.get("user", {}).get("payment_methods") or [] if m.get("source") == "credit_card"]
    return str(cards[0]["label"]) if len(cards) == 1 else ""


def trips(bookings: list[dict[str, Any]]) -> str:
    """The member's bookings as they are told apart: "LEG7DZ (DEN to IAH) or TSQGYS (ORD to SFO)"."""
    return listed([f"{r['reservation_id']} ({r.get('origin', '')} to {r.get('destination', '')})" for r in bookings],
                  last="or")
