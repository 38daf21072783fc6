"""What the member is told of flights the airline cancelled or delayed on their bookings: what happened and what
they may do about it, by the knowledge base's rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from cx_core.wording import day, listed

from .wording import clock

# what a member whose trip is under way may have when we cancelled a flight of it: the reservations team's to decide
UNFLOWN = "a colleague in our reservations team can look at a refund for the part of the trip not flown"

_WITH_US = "the cancellation you asked for in your other message is with us"
_REFUND = "you're entitled to a full refund of that booking, so just reply and I'll cancel it for you"
_MOVE_WITH_US = "the move you asked for in your other message is with us, unless you would rather have the refund"
_ANOTHER = "we can move you to another flight"


@dataclass(frozen=True)
class Disruption:
    """A flight the airline cancelled or delayed on a booking of the member's, as facts; its words are made once, by
    ``sentence`` (told as news) or ``known`` (told to a member who writes about it)."""

    flight: str
    on: str  # its day, as said ("Wednesday 2 December")
    reservation: str
    delayed: bool = False
    offer: str = ""  # what the member may do (cancelled), or when it now leaves ("it is now expected to leave at …")
    under_way: bool = False  # a trip under way: the refund for the part not flown is the reservations team's
    movable: bool = False  # and, beside that, a move to another flight may be offered

    @property
    def what(self) -> str:
        if not self.under_way:
            return self.offer
        return UNFLOWN + (f", or {_ANOTHER}" if self.movable else "")

    def sentence(self) -> str:
        said = "is delayed" if self.delayed else "was cancelled by us"
        return (f"I can see that flight {self.flight} on {self.on}, on your reservation {self.reservation}, {said}"
                + (f": {self.what}." if self.what else "."))

    def without_team(self) -> Disruption:
        """The same, once the booking went to the reservations team (said elsewhere): only the move is left."""
        return replace(self, under_way=False, offer=_ANOTHER if self.movable else "") if self.under_way else self

    def known(self, text: str) -> str:
        """Said to a member whose message names the flight: no news to them, only what they may do ("As we
        cancelled flight HAT049 on Wednesday 2 December, you can cancel reservation VKJVUE for a full refund…");
        '' when nothing is left to offer. The news itself when the message does not name the flight."""
        if not re.search(rf"\b{re.escape(self.flight)}\b", text, re.I):
            return self.sentence()
        if self.delayed:
            return f"Flight {self.flight} on {self.on} " + (f"{self.offer.removeprefix('it ')}." if self.offer
                                                             else "is delayed.")
        if not self.what:
            return ""
        return f"As we cancelled flight {self.flight} on {self.on}, " + \
            self.what.replace("that booking", f"reservation {self.reservation}") + "."


def disrupted(snap: dict[str, Any] | None, acting: set[str] | None = None, about: set[str] | None = None,
              today: date | None = None, cancelling: set[str] | frozenset[str] = frozenset(),
              moving: set[str] | frozenset[str] = frozenset()) -> list[Disruption]:
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
                     "" if r.get("any_flown")  # the reservations team's (``Disruption.what``)
                     else "we can move you to another flight, or cancel that booking for a full refund; " + (
                         _WITH_US + ", unless you would rather move" if asked else _MOVE_WITH_US
                         if r["reservation_id"] in moving else "just reply and tell us which")
                     if movable else _WITH_US + ", and comes with a full refund" if asked else _REFUND)
            out.append(Disruption(str(f["flight_number"]), day(str(f["date"])), r["reservation_id"], offer=offer,
                                  under_way=bool(r.get("any_flown")), movable=movable and not past))
        elif late := [f for f in r.get("flights", []) if f.get("status") == "delayed" and not f.get("flown")]:
            f = late[0]
            iso = str(f.get("estimated_departure_time_est") or "")
            expected = clock(str(f.get("origin") or ""), iso) if len(iso) >= 16 else ""
            if expected and " on " not in expected and iso[:10] != str(f["date"]):  # past midnight: the day too
                expected += f" on {day(iso[:10])}"
            expected = expected.removesuffix(f" on {day(str(f['date']))}")  # the flight's own day, said already
            out.append(Disruption(str(f["flight_number"]), day(str(f["date"])), r["reservation_id"], delayed=True,
                                  offer=f"it is now expected to leave at {expected}" if expected else ""))
    return out[:2]


def also(news: list[Disruption]) -> list[str]:
    """Disruptions on bookings the message is not about, after the answer: one said whole, several in one
    sentence; not one on a trip already under way, whose refund is a colleague's to look at when the member writes
    about it (nothing to do from this reply)."""
    news = [n for n in news if not n.under_way]
    if len(news) < 2:
        return [n.sentence() for n in news]
    ids = [n.reservation for n in news]
    return [f"I can also see flights we cancelled or delayed on your reservations {listed(ids)}; just reply if you "
            "would like me to go through what you can do about them."]
