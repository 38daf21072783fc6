"""Read-only views of the airline's members for the engine: lookup, identification, the customer card and the
snapshot planning reads. No side effects."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cx_core import shown
from cx_core.domain import Customer
from cx_core.errors import PolicyDenied, TandemError
from cx_core.reading import when
from cx_core.recipe_book import load
from cx_core.wording import day, money

from . import backend
from .tables import AirlineCompensationRow, AirlineReservationRow, AirlineUserRow
from .wording import clock

entity_patterns: dict[str, str] = {
    # six capitals or digits; some real ids have no digit (e.g. HATHAT), so candidates are confirmed against records
    "reservation_id": r"(?<![A-Za-z0-9])[A-Z0-9]{6}(?![A-Za-z0-9])",
    "user_id": r"\b[a-z]+(?:_[a-z]+)+_\d{3,6}\b",
    "flight_number": r"\b[A-Z][A-Z0-9]{1,2}\d{1,4}\b",
    "airport": r"\b[A-Z]{3}\b",
    "date": r"\b20\d{2}-\d{2}-\d{2}\b",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "payment_id": r"\b(?:credit_card|gift_card|certificate)_\d+\b",
}
_RESERVATION = re.compile(entity_patterns["reservation_id"])
_USER = re.compile(entity_patterns["user_id"])
_EMAIL = re.compile(entity_patterns["email"])


def _by_ref(s: Session, ref: str | None) -> AirlineUserRow | None:
    if not ref or not ref.strip():
        return None
    ref = ref.strip()
    if "@" in ref:
        return s.scalars(select(AirlineUserRow).where(func.lower(AirlineUserRow.email) == ref.lower())).first()
    return s.get(AirlineUserRow, ref)


def find_customer(s: Session, ref: str | None) -> dict[str, Any] | None:
    """The member named by a user id or an email address (its customer card), or None."""
    u = _by_ref(s, ref)
    return customer_card(s, u.user_id) if u is not None else None


def identify_customer(s: Session, text: str) -> str | None:
    """The one member a message points to: a known email, a user id, or a reservation id (its owner). None when
    nothing or more than one member matches. Identified, not verified."""
    found: set[str] = set()
    for email in _EMAIL.findall(text or ""):
        u = _by_ref(s, email)
        if u is not None:
            found.add(u.user_id)
    for uid in _USER.findall(text or ""):
        if s.get(AirlineUserRow, uid) is not None:
            found.add(uid)
    codes = set(_RESERVATION.findall(text or ""))
    if codes:
        found.update(s.scalars(select(AirlineReservationRow.user_id)
                               .where(AirlineReservationRow.reservation_id.in_(codes))))
    return next(iter(found)) if len(found) == 1 else None


def _method(m: dict[str, Any]) -> dict[str, Any]:
    """A saved method as the reader and the reply see it: a card's brand and last four digits; a gift card's or
    certificate's balance, and the last four digits of its id that its label shows."""
    out = {"id": m["id"], "source": m["source"], "label": backend.method_label(m)}
    if m["source"] == "credit_card":
        out.update(brand=m.get("brand", ""), last_four=str(m.get("last_four", "")))
    else:
        out["balance"] = m.get("amount", 0)
        digits = "".join(c for c in str(m["id"]) if c.isdigit())[-4:]
        out["last_four"] = digits if len(digits) == 4 else ""
    return out


def customer_card(s: Session, user_id: str) -> dict[str, Any]:
    """Who the member is, at a glance: name, email, membership, reservations, saved payment methods (labels only:
    a card shows its brand and last four digits)."""
    u = backend.user_row(s, user_id)
    rows = backend.reservations_of(s, user_id)
    return {"user_id": u.user_id, "name": f"{u.first_name} {u.last_name}", "email": u.email,
            "membership": u.membership, "reservations": len(rows),
            "active_reservations": sum(1 for r in rows if r.status != "cancelled"),
            "payment_methods": [backend.method_label(m) for m in u.payment_methods.values()]}


def _verdict(fn: Any, s: Session, args: dict[str, Any], now: datetime) -> str:
    try:
        plan = fn(s, args, now)
    except PolicyDenied as exc:
        return f"refused: {exc}"
    except TandemError as exc:
        return f"not possible: {exc}"
    basis = plan.get("basis")
    return "allowed" + (f": {'; '.join(basis)}" if basis else "")


def _cabin_costs(r: AirlineReservationRow, legs: list[backend.Leg], clock: datetime
                 ) -> tuple[dict[str, int], dict[str, str]]:
    """What moving the whole booking to each other cabin on the same flights costs (negative: refunded), at
    today's fares; and, for a cabin that cannot be had, why (the first flight that does not sell it)."""
    paid = sum(int(f["price"]) for f in r.flights)
    costs, blocked = {}, {}
    for cabin in ("basic_economy", "economy", "business"):
        if cabin == r.cabin:
            continue
        word = cabin.replace("_", " ")
        short = next((leg for leg in legs if not leg.bookable(clock) or leg.seats(cabin) < len(r.passengers)), None)
        if short is not None:
            blocked[cabin] = (f"flight {short.label()} is cancelled" if short.status == "cancelled" else
                              f"flight {short.label()} has no {word} seats left for {len(r.passengers)}"
                              if short.bookable(clock) else f"flight {short.label()} is no longer for sale")
            continue
        try:
            costs[cabin] = (sum(leg.price(cabin) for leg in legs) - paid) * len(r.passengers)
        except PolicyDenied as exc:
            blocked[cabin] = str(exc)
    return costs, blocked


def for_message(s: Session, snap: dict[str, Any], text: str, now: datetime) -> dict[str, Any]:
    """The snapshot with the direct flights for sale that the message's words point to: between the first two
    airports it names, and on the routes of the member's bookings, on each date it names; and, as ``schedule``, every
    flight from the first of those airports to the second on those dates."""
    from cx_core.entities import find_dates

    clock = backend.airline_now(now)
    named = find_dates(text, clock.date())
    places = load(Path(__file__).resolve().parent / "recipes.yaml").entities(text, {}).get("airport") or []
    # every flight from the first airport of the trip the words give to the second, on each day named, in any
    # state: one someone else flies ("my father is flying Miami to Chicago this evening")
    snap = {**snap, "schedule": [f for d in named[:3] for f in backend.operating(s, places[0], places[1], d)]
            if len(places) >= 2 else []}
    days = [d for d in named if d > clock.date()][:3]
    for r in snap.get("reservations", []):  # "push my Seattle flight back by a week": a booked day, moved
        for f in r["flights"] if r.get("status") != "cancelled" else []:
            moved = when.shifted(text, date.fromisoformat(str(f["date"])[:10])) if not f.get("flown") else None
            if moved is not None and moved > clock.date() and moved not in days:
                days.append(moved)
    days = days[:4]
    if not days:
        return snap
    routes: list[tuple[str, str]] = []
    if len(places) >= 2:  # the trip asked for, and its way back
        routes += [(places[0], places[1]), (places[1], places[0])]
    for r in snap.get("reservations", []):
        if r.get("status") != "cancelled" and not r.get("all_flown"):
            routes.extend((f["origin"], f["destination"]) for f in r["flights"] if not f.get("flown"))
    sale = []
    for origin, destination in list(dict.fromkeys(routes))[:6]:
        for d in days:
            flights = [_on_sale(f) for f in backend.search_direct(s, origin, destination, d)]
            sale.append({"origin": origin, "destination": destination, "date": d.isoformat(), "flights": flights})
    connecting = []  # a trip made of a connection: the pairs of flights that make it on each date named
    for r in snap.get("reservations", []):
        ahead = [f for f in r["flights"] if not f.get("flown")]
        if r.get("status") == "cancelled" or len(ahead) < 2 or len({f["date"] for f in ahead}) > 2:
            continue
        trip = (ahead[0]["origin"], next((f["destination"] for f in ahead if f["destination"] == r["destination"]),
                                         ahead[-1]["destination"]))
        for d in days:
            pairs = [[_on_sale(a), _on_sale(b)] for a, b in backend.search_onestop(s, *trip, d)]
            connecting.append({"origin": trip[0], "destination": trip[1], "date": d.isoformat(), "pairs": pairs})
    return {**snap, "for_sale": sale, "connecting": connecting}


def _on_sale(f: dict[str, Any]) -> dict[str, Any]:
    return {"flight_number": f["flight_number"], "origin": f["origin"], "destination": f["destination"],
            "date": f["date"], "departure": f["scheduled_departure_time_est"][:5], "prices": f["prices"],
            "seats": f["available_seats"]}


def snapshot(s: Session, user_id: str, now: datetime) -> dict[str, Any]:
    """Everything a planner may need about one member, as plain data: the profile, every reservation with its
    flights and their status on their dates, and what the policy says about cancelling or changing each."""
    clock = backend.airline_now(now)
    u = backend.user_row(s, user_id)
    compensated = {c.reservation_id: {"certificate_id": c.certificate_id, "amount": c.amount,
                                      "complaint": c.complaint}
                   for c in s.scalars(select(AirlineCompensationRow).where(AirlineCompensationRow.user_id == user_id))}
    reservations = []
    for r in backend.reservations_of(s, user_id):
        legs = backend.legs_of(s, r)
        flights = []
        for f, leg in zip(r.flights, legs, strict=True):
            left = leg.flown(clock)  # a flight past its time has left, whatever its last status said
            flights.append({**f, "status": "departed" if left and leg.status not in backend.FLOWN_STATUSES
                            else leg.status, "flown": left,
                            "departure": leg.departure.isoformat(timespec="minutes"),
                            "arrival": leg.arrival.isoformat(timespec="minutes"),
                            **(leg.instance.times if leg.instance is not None else {})})
        pax = len(r.passengers)
        view = backend.reservation_view(r)
        view.update({
            "flights": flights, "passenger_count": pax,
            "paid_total": backend.money(sum(p["amount"] for p in r.payment_history)),
            "hours_since_booking": round((clock - r.created_at).total_seconds() / 3600, 1),
            "booked_within_24h": clock - r.created_at <= backend.CANCEL_WINDOW,
            "any_flown": any(f["flown"] for f in flights), "all_flown": all(f["flown"] for f in flights),
            "free_bag_allowance": backend.free_bag_allowance(u.membership, r.cabin, pax),
            "compensated": compensated.get(r.reservation_id),
            "changes": [{"at": h.get("at"), "action": h.get("action")} for h in r.history or []],
        })
        if r.status != "cancelled" and not view["any_flown"]:
            view["cabin_costs"], view["cabin_blocked"] = _cabin_costs(r, legs, clock)
        if r.status != "cancelled":
            rid = r.reservation_id
            flown = [leg.label() for leg in legs if leg.flown(clock)]
            gone_all = "every flight has been flown" if len(legs) > 1 else "its flight has been flown"
            view["policy"] = {
                "cancel": _verdict(backend.preview_cancel_reservation, s, {"reservation_id": rid}, clock),
                "cancel_for_health_or_weather": _verdict(backend.preview_cancel_reservation, s,
                                                         {"reservation_id": rid, "reason": "health"}, clock),
                "change_flights": ("refused: basic economy flights cannot be changed" if r.cabin == "basic_economy"
                                   else f"refused: {gone_all}" if view["all_flown"]
                                   else "allowed for flights not yet flown (same origin, destination, trip type)"),
                "change_cabin": (f"refused: {gone_all}" if view["all_flown"] else
                                 f"refused: flight {flown[0]} has already been flown" if flown else "allowed"),
                "add_bags": (f"refused: {gone_all}" if view["all_flown"]
                             else f"refused: {gone}" if (gone := backend.no_flight_left(legs, clock)) else "allowed"),
                "change_passengers": (f"refused: {gone_all}" if view["all_flown"] else
                                      f"refused: flight {flown[0]} has already been flown" if flown else "allowed"),
                "remove_passenger": (f"refused: the number of travellers on a booking cannot change once it is made "
                                     f"(reservation {rid} has {pax}), so one seat cannot be refunded on its own"),
            }
        reservations.append(view)
    profile = backend.user_view(u)
    profile["payment_methods"] = [_method(m) for m in u.payment_methods.values()]
    return {"now": clock.isoformat(timespec="minutes"), "user": profile, "reservations": reservations,
            "rules": {"bag_fee": backend.BAG_FEE, "insurance_fee_per_passenger": backend.INSURANCE_FEE,
                      "free_bags_per_passenger": backend.FREE_BAGS[u.membership],
                      "compensation_per_passenger": backend.COMPENSATION_PER_PASSENGER,
                      "compensation_eligible_membership": u.membership in ("silver", "gold")}}


# ---------------------------------------------------------------- what the engine calls
def _customer(s: Session, u: AirlineUserRow) -> Customer:
    return Customer(id=u.user_id, name=f"{u.first_name} {u.last_name}", email=u.email, tier=u.membership,
                    profile={"user_id": u.user_id, "name": f"{u.first_name} {u.last_name}",
                             "first_name": u.first_name, "email": u.email, "membership": u.membership,
                             "tier": u.membership})


def lookup(s: Session, ref: str | None) -> Customer | None:
    """The member a ticket names (an email address or a user id)."""
    u = _by_ref(s, ref)
    return _customer(s, u) if u is not None else None


def identify(s: Session, text: str) -> Customer | None:
    """The one member a ticket's text points to (identified, never verified)."""
    uid = identify_customer(s, text)
    u = s.get(AirlineUserRow, uid) if uid else None
    return _customer(s, u) if u is not None else None


def tiers(s: Session) -> dict[str, str]:
    """Every member's level, by user id."""
    return dict(s.execute(select(AirlineUserRow.user_id, AirlineUserRow.membership)).all())  # type: ignore[arg-type]


def _departs(f: dict[str, Any]) -> str:
    """When a flight leaves, in its airport's local time: as scheduled, or as now expected ("expected 00:00 local
    time on Thursday 26 November", for a delay), or as it left."""
    said = f.get("actual_departure_time_est") or f.get("estimated_departure_time_est") or f.get("departure") or ""
    if len(str(said)) < 16:
        return ""
    when = clock(str(f.get("origin") or ""), str(said)[:16])
    if str(said)[:10] != str(f["date"]):  # past midnight: its own day
        when += "" if " on " in when else f" on {day(str(said)[:10])}"
    return ("expected " if f.get("status") == "delayed" and f.get("estimated_departure_time_est") else "") + when


def card(s: Session, user_id: str, now: datetime) -> dict[str, Any]:
    """The member card advisors see beside a ticket: a headline, contact and details, and one table per subject."""
    snap = snapshot(s, user_id, now)
    u = snap["user"]
    name = f"{u['name']['first_name']} {u['name']['last_name']}"
    return {
        "headline": name,
        "contact": f"{u['membership']} member · {u['email']}",
        "details": f"born {shown.value(u['dob'])} · {len(snap['reservations'])} reservation{'' if len(snap['reservations']) == 1 else 's'}",
        "tabs": {
            "Reservations": [{"reservation": r["reservation_id"],  # a trip already taken is not "active"
                              "status": "flown" if r.get("all_flown") and r["status"] != "cancelled"
                              else r["status"] or "active",
                              "trip": f"{r['origin']} → {r['destination']} ({r['flight_type'].replace('_', ' ')})",
                              "cabin": r["cabin"].replace("_", " "),
                              "flights": ", ".join(f"{f['flight_number']} {shown.value(f['date'])}" for f in r["flights"]),
                              "travellers": ", ".join(f"{p['first_name']} {p['last_name']}" for p in r["passengers"]),
                              "bags": r["total_baggages"], "insurance": r["insurance"],
                              "paid": money(float(r.get("paid_total") or 0)),
                              # a booking made in the last 24 hours is refundable: the day it was made
                              "booked": shown.value(str(r.get("created_at") or "")[:10])} for r in snap["reservations"]],
            "Flights": [{"flight": f["flight_number"], "date": f["date"], "status": f["status"],
                         "route": f"{f['origin']} → {f['destination']}", "departs": _departs(f),
                         "reservation": r["reservation_id"]}
                        for r in snap["reservations"] for f in r["flights"]],
            "Payment methods": [{"method": m["label"], "balance": m.get("balance", "")}
                                for m in u["payment_methods"]],
        },
    }


def field_options(s: Session, action: str, args: dict[str, Any], now: datetime) -> dict[str, list[tuple[Any, str]]]:
    """The flights an advisor may pick for a change of flights or a new booking: the direct flights for sale on
    the trip's routes, three days either side of its dates (or of the coming week), with each flight the booking
    already has; labelled with the day, times, fare and seats left in the cabin."""
    if action not in ("update_reservation_flights", "book_reservation"):
        return {}
    clock = backend.airline_now(now)
    cabin = str(args.get("cabin") or "economy")
    current = [f for f in args.get("flights") or [] if isinstance(f, dict)]
    legs: list[tuple[str, str, date]] = []
    if args.get("reservation_id"):
        try:
            r = backend.reservation_row(s, str(args["reservation_id"]))
        except TandemError:
            return {}
        cabin = str(args.get("cabin") or r.cabin)
        current = current or [{"flight_number": f["flight_number"], "date": f["date"]} for f in r.flights]
        legs = [(f["origin"], f["destination"], date.fromisoformat(f["date"])) for f in r.flights]
    elif args.get("origin") and args.get("destination"):
        days = [date.fromisoformat(f["date"]) for f in current if f.get("date")] or [clock.date() + timedelta(days=4)]
        legs = [(str(args["origin"]), str(args["destination"]), days[0])]
        if args.get("flight_type") == "round_trip":
            legs.append((str(args["destination"]), str(args["origin"]), days[-1] + timedelta(days=3)))
    options: dict[str, str] = {}
    for f in current:
        options[json.dumps({"flight_number": f["flight_number"], "date": f["date"]}, sort_keys=True)] = \
            f"{f['flight_number']} · {day(f['date'])} ({'now on the booking' if args.get('reservation_id') else 'proposed'})"
    for origin, destination, around in legs:
        for shift in range(-3, 4):
            when = around + timedelta(days=shift)
            if when <= clock.date():
                continue
            for f in backend.search_direct(s, origin, destination, when):
                key = json.dumps({"flight_number": f["flight_number"], "date": when.isoformat()}, sort_keys=True)
                if key in options:
                    continue
                price = f["prices"].get(cabin)
                options[key] = (f"{f['flight_number']} · {origin} → {destination} · {day(when.isoformat())} · "
                                f"{f['scheduled_departure_time_est'][:5]}–{f['scheduled_arrival_time_est'][:5]} · "
                                + (f"{backend.CABIN_WORDS.get(cabin, cabin)} {money(float(price))} · "
                                   f"{f['available_seats'].get(cabin, 0)} seats" if price is not None else
                                   f"no {backend.CABIN_WORDS.get(cabin, cabin)} fare"))
    return {"flights": [(json.loads(k), v) for k, v in options.items()]}


