"""What the member is told of flights the airline cancelled or delayed on their bookings: what happened and what
they may do about it, by the knowledge base's rules."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from cx_core.wording import day, listed

from .wording import clock

# what a member whose trip is under way may have when we cancelled a flight of it: the reservations team's to decide
UNFLOWN = "a colleague in our reservations team can look at a refund for the part of the trip not flown"

_WITH_US = "the cancellation you asked for in your other message is with us"
_REFUND = "you're entitled to a full refund of that booking, so just reply and I'll cancel it for you"
_MOVE_WITH_US = "the move you asked for in your other message is with us, unless you would rather have the refund"


def disrupted(snap: dict[str, Any] | None, acting: set[str] | None = None, about: set[str] | None = None,
              today: date | None = None, cancelling: set[str] | frozenset[str] = frozenset(),
              moving: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """One sentence per active reservation with a flight the airline cancelled or delayed and not yet flown: what
    happened and what the member may do (the knowledge base's rules: a cancelled flight allows a cancellation with a
    refund; an economy or business booking may instead move to another flight ahead, a basic-economy one may not; a
    delay: when the flight is now expected to leave). A reservation the plan already cancels or changes (``acting``)
    needs no such offer; when the message is ``about`` some bookings, only theirs are spoken of; one whose
    cancellation or move another message of theirs asks (``cancelling``, ``moving``) is said to be under way."""
    out = []
    for r in (snap or {}).get("reservations", []):
        if r.get("status") == "cancelled" or r["reservation_id"] in (acting or set()) \
                or (about and r["reservation_id"] not in about):
            continue
        gone = [f for f in r.get("flights", []) if f.get("status") == "cancelled" and not f.get("flown")]
        if gone:
            f = gone[0]
            movable = r.get("cabin") != "basic_economy"  # to a flight ahead, even when the cancelled one's day is past
            asked = r["reservation_id"] in cancelling
            past = today is not None and str(f["date"]) < today.isoformat()  # the refund first; a move if still going
            offer = (_REFUND + "; if you still need to make the trip, we can move you to a later flight instead"
                     if past and movable and not r.get("any_flown") and not asked
                     and r["reservation_id"] not in moving else
                     UNFLOWN + (", or we can move you to another flight" if movable and not past else "")
                     if r.get("any_flown")
                     else "we can move you to another flight, or cancel that booking for a full refund; " + (
                         _WITH_US + ", unless you would rather move" if asked else _MOVE_WITH_US
                         if r["reservation_id"] in moving else "just reply and tell us which")
                     if movable else _WITH_US + ", and comes with a full refund" if asked else _REFUND)
            out.append(f"I can see that flight {f['flight_number']} on {day(str(f['date']))}, on your reservation "
                       f"{r['reservation_id']}, was cancelled by us: {offer}.")
        elif late := [f for f in r.get("flights", []) if f.get("status") == "delayed" and not f.get("flown")]:
            f = late[0]
            iso = str(f.get("estimated_departure_time_est") or "")
            expected = clock(str(f.get("origin") or ""), iso) if len(iso) >= 16 else ""
            if expected and " on " not in expected and iso[:10] != str(f["date"]):  # past midnight: the day too
                expected += f" on {day(iso[:10])}"
            expected = expected.removesuffix(f" on {day(str(f['date']))}")  # the flight's own day, said already
            out.append(f"I can see that flight {f['flight_number']} on {day(str(f['date']))}, on your reservation "
                       f"{r['reservation_id']}, is delayed" + (f": it is now expected to leave at {expected}."
                                                               if expected else "."))
    return out[:2]


def also(news: list[str]) -> list[str]:
    """Disruptions on bookings the message is not about, after the answer: one said whole, several in one
    sentence; not one on a trip already under way, whose refund is a colleague's to look at when the member writes
    about it (nothing to do from this reply)."""
    news = [n for n in news if UNFLOWN not in n]
    if len(news) < 2:
        return news
    ids = [m.group(1) for n in news if (m := re.search(r"on your reservation (\w+)", n))]
    return [f"I can also see flights we cancelled or delayed on your reservations {listed(ids)}; just reply if you "
            "would like me to go through what you can do about them."]
