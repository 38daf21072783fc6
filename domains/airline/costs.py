"""What a planned change would cost the member, in one sentence each, from the fares and the bag rules the
snapshot carries: a member who asks "what would it cost?" is told before anything runs, and one who did not ask
still knows what they approve. Nothing is said when a price is not known."""

from __future__ import annotations

from typing import Any

from cx_core.plans import Plan, Step
from cx_core.wording import day, money

from .backend import BAG_FEE, CABIN_WORDS, INSURANCE_FEE
from .wording import clock


def _reservation(snap: dict[str, Any], rid: Any) -> dict[str, Any] | None:
    return next((r for r in snap.get("reservations", []) if r["reservation_id"] == rid), None)


def fare(snap: dict[str, Any], flight: dict[str, Any], cabin: str) -> int | None:
    for sale in snap.get("for_sale") or []:
        if sale["date"] != flight["date"]:
            continue
        for f in sale["flights"]:
            if f["flight_number"] == flight["flight_number"] and cabin in f.get("prices", {}):
                return int(f["prices"][cabin])
    return None


def bags_cost(args: dict[str, Any], r: dict[str, Any]) -> int:
    """What the bags beyond the free allowance that a change adds cost the member."""
    return max(int(args["nonfree_baggages"]) - int(r.get("nonfree_baggages") or 0), 0) * BAG_FEE


def _bags(step: Step, r: dict[str, Any]) -> str:
    total, paid = step.args.get("total_baggages"), step.args.get("nonfree_baggages")
    if total is None or paid is None:
        return ""
    if r.get("all_flown"):
        return ""
    added, new_paid = int(total) - int(r.get("total_baggages") or 0), int(paid) - int(r.get("nonfree_baggages") or 0)
    if added <= 0:
        return ""
    # the bags in all are the action's own sentence: this one says what the new ones cost
    rid = r["reservation_id"]
    if new_paid <= 0:
        return (f"The {'new bag is' if added == 1 else f'{added} new bags are'} within your free allowance on "
                f"reservation {rid}, so there is nothing to pay.")
    of = ("The new bag is" if added == 1 else f"The {added} new bags are" if new_paid == added
          else f"Of the {added} new bags, {new_paid} {'is' if new_paid == 1 else 'are'}")
    tail = (f"so there is {money(BAG_FEE)} to pay" if new_paid == 1 else
            f"at {money(BAG_FEE)} each: {money(new_paid * BAG_FEE)} in total")
    return f"{of} beyond your free allowance on reservation {rid}, {tail}."


def change_cost(args: dict[str, Any], r: dict[str, Any], snap: dict[str, Any]) -> int | None:
    """What moving reservation ``r`` to ``args``' cabin and flights costs at today's fares, for all its travellers
    (negative: refunded); None when a fare is not known."""
    cabin, flights = args.get("cabin"), args.get("flights")
    if not cabin or not flights:
        return None
    pax = int(r.get("passenger_count") or 1)
    kept = {(f["flight_number"], f["date"]): int(f["price"]) for f in r["flights"]}
    if sorted(kept) == sorted((f["flight_number"], f["date"]) for f in flights):
        return 0 if cabin == r["cabin"] else (r.get("cabin_costs") or {}).get(cabin)
    fares = [kept.get((f["flight_number"], f["date"])) if cabin == r["cabin"] else None for f in flights]
    fares = [x if x is not None else fare(snap, f, cabin) for x, f in zip(fares, flights, strict=True)]
    return None if None in fares else (sum(int(x or 0) for x in fares) - sum(kept.values())) * pax


def _flights(step: Step, r: dict[str, Any], snap: dict[str, Any]) -> str:
    cabin, flights = step.args.get("cabin"), step.args.get("flights")
    cost = change_cost(step.args, r, snap)
    if cost is None or not cabin or not flights:
        return ""
    pax = int(r.get("passenger_count") or 1)
    kept = {(f["flight_number"], f["date"]) for f in r["flights"]}
    moved = [f for f in flights if (f["flight_number"], f["date"]) not in kept]
    days = list(dict.fromkeys(f["date"] for f in moved))  # flights of one day: the day said once
    what = ("Moving to " + (" and ".join(f["flight_number"] for f in moved) + f" on {day(days[0])}" if len(days) == 1
                            else " and ".join(f"{f['flight_number']} on {day(f['date'])}" for f in moved)) if moved
            else f"Moving reservation {r['reservation_id']} to {CABIN_WORDS[cabin]} on the same flights")
    who = " for both passengers" if pax == 2 else f" for all {pax} passengers" if pax > 1 else ""
    if cost > 0:
        return f"{what} costs {money(cost)} more{who} at today's fares."
    if cost < 0:
        return f"{what} costs {money(-cost)} less{who} at today's fares; the difference is refunded."
    return f"{what} costs the same as what you paid."


def _sale(snap: dict[str, Any], flight: dict[str, Any]) -> dict[str, Any] | None:
    return next((x for s in snap.get("for_sale") or [] if s["date"] == flight["date"] for x in s["flights"]
                 if x["flight_number"] == flight["flight_number"]), None)


def _legs(args: dict[str, Any], snap: dict[str, Any]) -> str:
    """"Flight HAT001 from ORD to DFW on Friday 4 December leaves at 18:00 local time", and for a round trip ", and
    flight HAT002 back on Monday 7 December at 09:10 local time"."""
    said = []
    for n, f in enumerate(args["flights"][:2]):
        sale = _sale(snap, f)
        origin = args["origin"] if n == 0 else args["destination"]
        at = clock(origin, f["date"] + "T" + sale["departure"]) if sale else ""
        said.append(f"flight {f['flight_number']} from {args['origin']} to {args['destination']} on {day(f['date'])}"
                    f"{' leaves at ' + at if at else ''}" if n == 0 else
                    f"flight {f['flight_number']} back on {day(f['date'])}{' at ' + at if at else ''}")
    return ", and ".join(said)


def _booking(step: Step, snap: dict[str, Any]) -> str:
    args = step.args
    if args.get("flights") and args.get("cabin") and not ({"passengers", "insurance", "nonfree_baggages"} <= set(args)):
        cabin = str(args["cabin"])  # the flights are found, the rest is still to settle: their times and fares
        sales = [_sale(snap, f) for f in args["flights"]]
        if any(x is None or cabin not in x["prices"] for x in sales):
            return ""
        each = " and ".join(money(float(x["prices"][cabin])) for x in sales if x)
        pax = len(args.get("passengers") or [])
        whole = booking_total(snap, {**args, "passengers": args.get("passengers") or [{}], "insurance": "no",
                                     "nonfree_baggages": 0})  # every flight's fare, for one traveller or for all
        legs = " on both flights" if len(sales) == 2 else ""
        fares = ("" if whole is None or (pax <= 1 and not legs) else
                 f", {money(whole)} in fares for {pax} travellers{legs}" if pax > 1 else f", {money(whole)}{legs}")
        return (f"{_legs(args, snap)[:1].upper()}{_legs(args, snap)[1:]}; the {CABIN_WORDS[cabin]} "
                f"fare{'s are' if legs else ' is'} {each} per traveller{fares}.{_same_day(args, snap)}")
    if not args.get("flights") or not args.get("passengers") or "insurance" not in args \
            or "nonfree_baggages" not in args:
        return ""
    total = booking_total(snap, args)
    if total is None:
        return ""
    pax = len(args["passengers"])
    legs = _legs(args, snap)
    return (f"{legs[:1].upper()}{legs[1:]}, with {CABIN_WORDS[str(args['cabin'])]} seats; the trip comes to "
            f"{money(total)} in total for {pax} passenger{'s' if pax != 1 else ''}"
            f"{', with travel insurance' if args['insurance'] == 'yes' else ''}"
            f"{', including paid bags' if int(args['nonfree_baggages'] or 0) else ''}{_paid_with(args, snap)}."
            f"{_same_day(args, snap)}")


def _same_day(args: dict[str, Any], snap: dict[str, Any]) -> str:
    """A flight the member already holds on a day the new booking flies: said, so that they check the two fit
    (" You are also booked on flight HAT004 from ATL to ORD that day, on reservation GNBNLH, leaving at 11:00 local
    time; do check the two fit together."), or ""."""
    days = {str(f.get("date")) for f in args.get("flights") or []}
    for r in snap.get("reservations") or []:
        if r.get("status") == "cancelled":
            continue
        for f in r.get("flights") or []:
            if str(f.get("date")) in days and not f.get("flown") and f.get("status") != "cancelled":
                at = clock(str(f.get("origin") or ""), str(f.get("departure") or "")) if f.get("departure") else ""
                return (f" You are also booked on flight {f['flight_number']} from {f.get('origin')} to "
                        f"{f.get('destination')} {'that day' if len(days) == 1 else 'on ' + day(str(f['date']))}, on "
                        f"reservation {r['reservation_id']}{', leaving at ' + at if at else ''}; do check the two fit "
                        "together.")
    return ""


def _paid_with(args: dict[str, Any], snap: dict[str, Any]) -> str:
    """", paid with your Visa card ending 3681" for the saved methods a booking's payment names."""
    labels = {m["id"]: m["label"] for m in (snap.get("user") or {}).get("payment_methods") or []}
    named = [labels.get(str(p.get("payment_id")), "") for p in args.get("payment_methods") or []]
    named = [f"your {x}" for x in named if x]
    return f", paid with {' and '.join(named)}" if named else ""


def booking_total(snap: dict[str, Any], args: dict[str, Any]) -> int | None:
    """A new booking's price from the fares for sale: every traveller on every flight, insurance, paid bags."""
    pax = len(args.get("passengers") or [])
    fares = 0
    for f in args.get("flights") or []:
        sale = next((x for s in snap.get("for_sale") or [] if s["date"] == f["date"] for x in s["flights"]
                     if x["flight_number"] == f["flight_number"]), None)
        if sale is None or str(args.get("cabin")) not in sale["prices"]:
            return None
        fares += int(sale["prices"][str(args["cabin"])]) * pax
    return fares + (INSURANCE_FEE * pax if args.get("insurance") == "yes" else 0) \
        + BAG_FEE * int(args.get("nonfree_baggages") or 0)


def _travellers(step: Step, r: dict[str, Any]) -> str:
    new = step.args.get("passengers")
    if not new or r.get("any_flown"):  # once travel has started nobody changes: the refusal says so
        return ""
    old = [dict(p) for p in r.get("passengers") or []]
    gone = [p for p in old if p not in new]
    came = [p for p in new if p not in old]
    if len(gone) == 1 and len(came) == 1:
        return (f"Replacing {_who(gone[0])} with {_who(came[0])} on reservation {r['reservation_id']} costs "
                "nothing: the fare stays with the seat.")
    return ""


def _who(p: dict[str, Any]) -> str:
    return f"{p['first_name']} {p['last_name']}"


# a change held until the member chooses another flight or their money back, after we cancelled their flights
WAITS_FOR_CHOICE = "the booking's flights were cancelled by us: the member first chooses another flight or a refund"


def sentences(plan: Plan, snap: dict[str, Any] | None) -> list[str]:
    """One sentence per planned change whose price or effect is known: bags, cabin, flights, travellers, a new
    booking (none for a change that waits for the member's choice after we cancelled their flights)."""
    out: list[str] = []
    for step in plan.steps:
        if step.held == WAITS_FOR_CHOICE:
            continue
        r = _reservation(snap or {}, step.args.get("reservation_id"))
        if step.action == "update_reservation_baggages" and r is not None:
            said = _bags(step, r)
        elif step.action == "update_reservation_flights" and r is not None:
            said = _flights(step, r, snap or {})
        elif step.action == "update_reservation_passengers" and r is not None:
            said = _travellers(step, r)
        elif step.action == "book_reservation":
            said = _booking(step, snap or {})
        else:
            said = ""
        if said and said not in out:
            out.append(said)
    return out


def to_pay(step: Step, snap: dict[str, Any]) -> int | None:
    """What a planned change of flights, cabin or bags would charge the member, when known (0 or less: nothing)."""
    r = _reservation(snap, step.args.get("reservation_id"))
    if r is None:
        return None
    if step.action == "update_reservation_flights":
        return change_cost(step.args, r, snap)
    if step.action == "update_reservation_baggages" and step.args.get("nonfree_baggages") is not None:
        return (int(step.args["nonfree_baggages"]) - int(r.get("nonfree_baggages") or 0)) * BAG_FEE
    return None
