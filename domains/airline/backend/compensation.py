"""Compensation: a travel certificate for a cancelled or delayed flight, only to the members, cabins and cases
the policy names, once per reservation, at the policy's amount per passenger."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from cx_core.errors import PolicyDenied
from cx_core.wording import day
from cx_core.wording import money as say_money
from domains.airline.backend.arguments import _as_dict, _choice, _int, _text
from domains.airline.backend.lookup import Leg, _leg, _reservation, user_row
from domains.airline.backend.policy import COMPENSATION_PER_PASSENGER, airline_now
from domains.airline.tables import AirlineCompensationRow, AirlineReservationRow, AirlineUserRow

_FIRST_CERTIFICATE_NUMBER = 3221322  # τ-bench numbers new certificates certificate_3221322, certificate_3221323, …


def _next_certificate_id(s: Session, u: AirlineUserRow) -> str:
    """The next certificate number free both in the member's wallet and among every certificate issued (a
    certificate's id is unique across members)."""
    issued = set(s.scalars(select(AirlineCompensationRow.certificate_id)))
    number = _FIRST_CERTIFICATE_NUMBER
    while f"certificate_{number}" in u.payment_methods or f"certificate_{number}" in issued:
        number += 1
    return f"certificate_{number}"


def _legs_ever(s: Session, r: AirlineReservationRow) -> list[Leg]:
    """The reservation's flights now and every flight a change replaced."""
    seen: dict[tuple[str, str], Leg] = {}
    for flights in [r.flights] + [h.get("before", {}).get("flights", []) for h in r.history or []]:
        for f in flights:
            key = (f["flight_number"], f["date"])
            if key not in seen:
                seen[key] = _leg(s, f["flight_number"], date.fromisoformat(f["date"]))
    return list(seen.values())


def preview_send_certificate(s: Session, args: Mapping[str, Any] | BaseModel, now: datetime) -> dict[str, Any]:
    """Whether a compensation certificate may be sent for the member's complaint, and for how much."""
    a = _as_dict(args)
    u = user_row(s, _text(a, "user_id"))
    r = _reservation(s, _text(a, "reservation_id"))
    complaint = _choice(a, "complaint", tuple(COMPENSATION_PER_PASSENGER))
    amount = _int(a, "amount", minimum=1)
    if r.user_id != u.user_id:
        raise PolicyDenied(f"reservation {r.reservation_id} does not belong to {u.user_id}")
    eligible = []
    if u.membership in ("silver", "gold"):
        eligible.append(f"{u.membership} member")
    if r.insurance:
        eligible.append("travel insurance")
    if r.cabin == "business":
        eligible.append("business cabin")
    if not eligible:  # the rule, and what the member can still do about the flight itself
        # (a flight we cancelled: the member is told first what they may do about it, by the disruption notice)
        way = ("" if complaint == "cancelled_flight" else "; if the delay no longer suits you, we can move you to "
               "another flight or, where the rules allow, cancel the booking")
        cabin = r.cabin.replace("_", " ")  # each condition that would have qualified it, said as it stands
        raise PolicyDenied(f"we cannot offer a travel certificate on reservation {r.reservation_id}: as a {u.membership} "
                           f"member travelling in {cabin} without travel insurance, this booking does not qualify for "
                           f"one{way}")
    legs = _legs_ever(s, r)
    if complaint == "cancelled_flight":
        hit = [leg for leg in legs if leg.status == "cancelled"]
        if not hit:
            raise PolicyDenied(f"we cannot offer a certificate: no flight of reservation {r.reservation_id} was "
                               "cancelled")
    else:
        hit = [leg for leg in legs if leg.status == "delayed"]
        if not hit:
            raise PolicyDenied(f"we cannot offer a certificate: no flight of reservation {r.reservation_id} is "
                               "delayed")
        changed = r.status == "cancelled" or any(h.get("action") == "update_flights" for h in r.history or [])
        if not changed:
            if r.cabin == "basic_economy" and not r.insurance:  # neither a change nor a refund is possible
                raise PolicyDenied(f"for a delayed flight, a travel certificate comes with a change or cancellation "
                                   f"of the booking, and reservation {r.reservation_id}, a basic economy booking "
                                   "without travel insurance, cannot be cancelled for a refund or moved as it is; if "
                                   "the new time no longer suits you, it can be upgraded to economy and then moved to "
                                   "another flight, and the certificate follows")
            way = ("a basic economy booking cannot move to another flight, but with its travel insurance we can "
                   "cancel it for a health or weather reason" if r.cabin == "basic_economy" else
                   "we can move you to another flight or, where the rules allow, cancel the booking")
            raise PolicyDenied(f"for a delayed flight, a travel certificate comes with a change or cancellation of the "
                               f"booking, and reservation {r.reservation_id} has not been changed; if the new time no "
                               f"longer suits you, {way}, and the certificate follows")
    per = COMPENSATION_PER_PASSENGER[complaint]
    due = per * len(r.passengers)
    if amount != due:
        raise PolicyDenied(f"the certificate for a {complaint.replace('_', ' ')} is {per} per passenger: {due} for "
                           f"the {len(r.passengers)} passenger(s) of {r.reservation_id}, not {amount}")
    done = s.scalars(select(AirlineCompensationRow)
                     .where(AirlineCompensationRow.reservation_id == r.reservation_id)).first()
    if done is not None:
        raise PolicyDenied(f"reservation {r.reservation_id} cannot have a second travel certificate: one of "
                           f"{say_money(float(done.amount))} was already sent to you on "
                           f"{day(done.issued_at.date().isoformat())}")
    return {"action": "send_certificate", "user_id": u.user_id, "reservation_id": r.reservation_id,
            "complaint": complaint, "flight": hit[0].label(), "basis": eligible, "passengers": len(r.passengers),
            "amount": due, "certificate_id": _next_certificate_id(s, u)}


def send_certificate(s: Session, args: Mapping[str, Any] | BaseModel, now: datetime) -> dict[str, Any]:
    """Adds the travel certificate to the member's payment methods as previewed and records the compensation."""
    plan = preview_send_certificate(s, args, now)
    u = user_row(s, plan["user_id"])
    cid = plan["certificate_id"]
    u.payment_methods = {**copy.deepcopy(u.payment_methods),
                         cid: {"source": "certificate", "amount": plan["amount"], "id": cid}}
    s.add(AirlineCompensationRow(certificate_id=cid, user_id=u.user_id, reservation_id=plan["reservation_id"],
                                 complaint=plan["complaint"], amount=plan["amount"], issued_at=airline_now(now)))
    s.flush()
    return {**plan, "message": f"Certificate {cid} added to user {u.user_id} with amount {plan['amount']}."}
