"""The airline pack's backend on τ-bench airline's real records: every policy rule both ways, previews that change
nothing, writes that do what their preview said, τ-bench training tasks replayed, and the seeded demo world."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from cx_core import packs
from cx_core.errors import InvalidInput, NotFound, PolicyDenied
from domains.airline import backend as B
from domains.airline import demo, records
from domains.airline.tables import (
    AirlineBase,
    AirlineFlightDateRow,
    AirlineFlightRow,
    AirlineReservationRow,
    AirlineUserRow,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tau_bench" / "airline"
NOW = B.TAU_NOW  # 2024-05-15 15:00 EST

def _need_data() -> None:
    if not (DATA / "reservations.json").exists():
        pytest.skip(f"τ-bench airline data not found at {DATA}")


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    _need_data()
    return {name: json.loads((DATA / f"{name}.json").read_text()) for name in ("users", "reservations", "flights")}


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _need_data()
    path = tmp_path_factory.mktemp("airline") / "base.db"
    engine = create_engine("sqlite:///" + str(path))
    AirlineBase.metadata.create_all(engine)
    with Session(engine) as s:
        counts = B.load_tau(s, DATA)
        s.commit()
    engine.dispose()
    assert counts["users"] == 500 and counts["reservations"] == 2000 and counts["flights"] == 300
    return path


@pytest.fixture
def db_path(base_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "a.db"
    shutil.copy(base_db, path)
    return path


@pytest.fixture
def s(db_path: Path) -> Iterator[Session]:
    engine = create_engine("sqlite:///" + str(db_path))
    with Session(engine) as session:
        yield session
    engine.dispose()


def _dump(s: Session) -> str:
    out = {}
    for table in AirlineBase.metadata.sorted_tables:
        rows = s.execute(select(table).order_by(*table.primary_key.columns)).all()
        out[table.name] = [list(r) for r in rows]
    return json.dumps(out, default=str, sort_keys=True)


def _status(raw: dict[str, Any], seg: dict[str, Any]) -> str | None:
    return raw["flights"][seg["flight_number"]]["dates"].get(seg["date"], {}).get("status")


def _find(raw: dict[str, Any], pred: Any) -> str:
    for rid, r in raw["reservations"].items():
        if pred(r, raw["users"][r["user_id"]], [_status(raw, f) for f in r["flights"]]):
            return rid
    raise AssertionError("no reservation in τ-bench data matches")


def _old(r: dict[str, Any]) -> bool:
    return NOW - datetime.fromisoformat(r["created_at"]) > timedelta(hours=24)


def _card(s: Session, user_id: str, source: str = "credit_card") -> str:
    u = s.get(AirlineUserRow, user_id)
    assert u is not None
    return next(pid for pid, m in u.payment_methods.items() if m["source"] == source)


def _flights(rid: str, raw: dict[str, Any]) -> list[dict[str, str]]:
    return [{"flight_number": f["flight_number"], "date": f["date"]} for f in raw["reservations"][rid]["flights"]]


# ---------------------------------------------------------------- loading and reads
@pytest.mark.shared
def test_load_is_fast_and_reads_match_tau_shapes(s: Session, raw: dict[str, Any], tmp_path: Path) -> None:
    engine = create_engine("sqlite:///" + str(tmp_path / "fresh.db"))
    AirlineBase.metadata.create_all(engine)
    started = datetime.now()
    with Session(engine) as fresh:
        counts = B.load_tau(fresh, DATA)
        fresh.commit()
    assert (datetime.now() - started).total_seconds() < 5
    assert counts == {"users": 500, "reservations": 2000, "flights": 300,
                      "flight_dates": sum(len(f["dates"]) for f in raw["flights"].values())}

    user = B.get_user(s, "mia_li_3668")
    assert user.pop("user_id") == "mia_li_3668" and user == raw["users"]["mia_li_3668"]
    for rid in ("4WQ150", "EHGLP3", "GV1N64"):
        view = B.get_reservation(s, rid)
        assert view.pop("status") is None and view == raw["reservations"][rid]
    with pytest.raises(NotFound):
        B.get_reservation(s, "ZZZZZZ")
    with pytest.raises(NotFound):
        B.get_user(s, "nobody_0000")

    assert B.flight_status(s, "HAT045", "2024-05-15")["status"] == "delayed"
    assert B.flight_status(s, "HAT001", date(2024, 5, 3))["status"] == "cancelled"
    with pytest.raises(NotFound):
        B.flight_status(s, "HAT999", "2024-05-15")

    direct = B.search_direct(s, "JFK", "SFO", "2024-05-26")
    assert direct and all(d["origin"] == "JFK" and d["destination"] == "SFO" and d["status"] == "available"
                          for d in direct)
    expected = {n for n, f in raw["flights"].items() if f["origin"] == "JFK" and f["destination"] == "SFO"
                and f["dates"].get("2024-05-26", {}).get("status") == "available"}
    assert {d["flight_number"] for d in direct} == expected
    assert direct[0]["prices"] == raw["flights"][direct[0]["flight_number"]]["dates"]["2024-05-26"]["prices"]

    pairs = B.search_onestop(s, "JFK", "SEA", "2024-05-20")
    assert any(p[0]["flight_number"] == "HAT136" and p[1]["flight_number"] == "HAT039" for p in pairs)
    for first, second in pairs:
        assert first["destination"] == second["origin"] and second["destination"] == "SEA"
    airports = B.list_airports(s)
    assert len(airports) == 20 and {"iata": "JFK", "city": "New York"} in airports


# ---------------------------------------------------------------- cancellation
@pytest.mark.shared
def test_cancel_within_24_hours_of_booking(s: Session) -> None:
    plan = B.preview_cancel_reservation(s, {"reservation_id": "K1NW8N"}, NOW)  # basic economy, booked 23 h ago
    assert plan["basis"][0].startswith("booked within the last 24 hours")
    assert plan["refunds"] == [{"payment_id": "gift_card_6136092", "source": "gift_card", "amount": 567}]
    with pytest.raises(PolicyDenied, match="made in the last 24 hours") as refused:
        B.preview_cancel_reservation(s, {"reservation_id": "K1NW8N"}, NOW + timedelta(hours=2))
    assert "was made more than 24 hours ago" in str(refused.value)  # just past the window, never "24 hours"


@pytest.mark.shared
def test_cancel_business_allowed_basic_economy_refused(s: Session, raw: dict[str, Any]) -> None:
    assert B.preview_cancel_reservation(s, {"reservation_id": "8C8K4E"}, NOW)["basis"] == ["business cabin"]
    with pytest.raises(PolicyDenied, match="this basic economy booking was made .* ago, without travel insurance"):
        B.preview_cancel_reservation(s, {"reservation_id": "EHGLP3", "reason": "change_of_plan"}, NOW)
    rid = _find(raw, lambda r, u, st: r["cabin"] == "economy" and r["insurance"] == "no" and _old(r)
                and all(x == "available" for x in st))
    with pytest.raises(PolicyDenied, match="cannot be cancelled"):
        B.preview_cancel_reservation(s, {"reservation_id": rid, "reason": "health"}, NOW)


@pytest.mark.shared
def test_cancel_insurance_covers_health_and_weather_only(s: Session) -> None:
    # 59XX6W: economy, insured, booked 3 days before
    for reason in ("health", "weather"):
        plan = B.preview_cancel_reservation(s, {"reservation_id": "59XX6W", "reason": reason}, NOW)
        assert plan["basis"] == [f"travel insurance covers {reason}"] and plan["refund_total"] == 624
    for reason in ("change_of_plan", "other", None):
        with pytest.raises(PolicyDenied, match="travel insurance"):
            B.preview_cancel_reservation(s, {"reservation_id": "59XX6W", "reason": reason}, NOW)
    with pytest.raises(InvalidInput, match="reason must be one of"):
        B.preview_cancel_reservation(s, {"reservation_id": "59XX6W", "reason": "bored"}, NOW)


@pytest.mark.shared
def test_cancel_when_the_airline_cancelled_a_flight(s: Session, raw: dict[str, Any]) -> None:
    rid = _find(raw, lambda r, u, st: "cancelled" in st and not {"landed", "flying"} & set(st)
                and r["cabin"] != "business" and r["insurance"] == "no" and _old(r))
    plan = B.preview_cancel_reservation(s, {"reservation_id": rid, "reason": "airline_cancelled"}, NOW)
    assert "was cancelled by the airline" in plan["basis"][0]
    other = _find(raw, lambda r, u, st: "cancelled" not in st and all(x == "available" for x in st)
                  and r["cabin"] == "economy" and r["insurance"] == "no" and _old(r))
    with pytest.raises(PolicyDenied, match="none of its flights was cancelled by us"):
        B.preview_cancel_reservation(s, {"reservation_id": other, "reason": "airline_cancelled"}, NOW)


@pytest.mark.shared
def test_cancel_refused_once_a_flight_is_flown_or_already_cancelled(s: Session) -> None:
    # EUJUY6: insured, but its outbound flights landed on May 14
    with pytest.raises(PolicyDenied, match="already (?:been flown|left)"):
        B.preview_cancel_reservation(s, {"reservation_id": "EUJUY6", "reason": "health"}, NOW)
    # the same business reservation may be cancelled today, not after its first flight took off
    assert B.preview_cancel_reservation(s, {"reservation_id": "8C8K4E"}, NOW)
    with pytest.raises(PolicyDenied, match="already (?:been flown|left)"):
        B.preview_cancel_reservation(s, {"reservation_id": "8C8K4E"}, datetime(2024, 5, 24, 23, 0))
    B.cancel_reservation(s, {"reservation_id": "8C8K4E"}, NOW)
    with pytest.raises(PolicyDenied, match="already cancelled"):
        B.preview_cancel_reservation(s, {"reservation_id": "8C8K4E"}, NOW)


@pytest.mark.shared
def test_cancel_applies_refunds_and_releases_seats(s: Session) -> None:
    seats = {f: s.get(AirlineFlightDateRow, (f, date(2024, 5, 24))).available_seats["business"]  # type: ignore
             for f in ("HAT247", "HAT193")}
    plan = B.preview_cancel_reservation(s, {"reservation_id": "8C8K4E"}, NOW)
    done = B.cancel_reservation(s, {"reservation_id": "8C8K4E"}, NOW)
    r = done["reservation"]
    assert r["status"] == "cancelled" and done["refunds"] == plan["refunds"]
    assert r["payment_history"] == [{"payment_id": "gift_card_1647044", "amount": 5680},
                                    {"payment_id": "gift_card_1647044", "amount": -5680}]
    for f, before in seats.items():
        assert s.get(AirlineFlightDateRow, (f, date(2024, 5, 24))).available_seats["business"] == before + 2  # type: ignore


# ---------------------------------------------------------------- flights and cabin
@pytest.mark.shared
def test_basic_economy_flights_cannot_change_but_cabin_can(s: Session, raw: dict[str, Any]) -> None:
    with pytest.raises(PolicyDenied, match="basic economy: its flights cannot be changed"):
        B.preview_update_reservation_flights(s, {
            "reservation_id": "EHGLP3", "cabin": "basic_economy", "payment_id": _card(s, "emma_kim_9957"),
            "flights": [{"flight_number": "HAT156", "date": "2024-05-18"},
                        {"flight_number": "HAT021", "date": "2024-05-18"}]}, NOW)
    plan = B.preview_update_reservation_flights(s, {"reservation_id": "FQ8APE", "cabin": "economy",
                                                    "flights": _flights("FQ8APE", raw),
                                                    "payment_id": "gift_card_8190333"}, NOW)
    assert plan["cabin_after"] == "economy" and plan["price_difference"] > 0


@pytest.mark.shared
def test_change_keeps_origin_destination_and_trip_type(s: Session) -> None:
    # M05KNL is ATL→PHL one way (business): the next day's economy connection is fine, ATL→ORD alone is not
    ok = B.preview_update_reservation_flights(s, {
        "reservation_id": "M05KNL", "cabin": "economy", "payment_id": "gift_card_8887175",
        "flights": [{"flight_number": "HAT110", "date": "2024-05-24"},
                    {"flight_number": "HAT172", "date": "2024-05-24"}]}, NOW)
    assert ok["price_difference"] < 0 and ok["refund"] == -ok["price_difference"]
    with pytest.raises(PolicyDenied, match="cannot alter its origin, destination or trip type"):
        B.preview_update_reservation_flights(s, {
            "reservation_id": "M05KNL", "cabin": "business", "payment_id": "gift_card_8887175",
            "flights": [{"flight_number": "HAT227", "date": "2024-05-23"}]}, NOW)
    with pytest.raises(InvalidInput, match="do not connect"):
        B.preview_update_reservation_flights(s, {
            "reservation_id": "M05KNL", "cabin": "business", "payment_id": "gift_card_8887175",
            "flights": [{"flight_number": "HAT227", "date": "2024-05-23"},
                        {"flight_number": "HAT001", "date": "2024-05-23"}]}, NOW)


@pytest.mark.shared
def test_cabin_cannot_change_after_a_flight_is_flown(s: Session, raw: dict[str, Any]) -> None:
    with pytest.raises(PolicyDenied, match="cabin of reservation EUJUY6 cannot change"):
        B.preview_update_reservation_flights(s, {"reservation_id": "EUJUY6", "cabin": "economy",
                                                 "flights": _flights("EUJUY6", raw),
                                                 "payment_id": _card(s, "lucas_brown_4047")}, NOW)


@pytest.mark.shared
def test_change_needs_seats_and_a_gift_card_or_credit_card_that_covers_it(s: Session, raw: dict[str, Any]) -> None:
    args = {"reservation_id": "FQ8APE", "cabin": "economy", "flights": _flights("FQ8APE", raw),
            "payment_id": "gift_card_8190333"}
    s.execute(update(AirlineFlightDateRow).where(AirlineFlightDateRow.flight_number == "HAT056",
                                                 AirlineFlightDateRow.date == date(2024, 5, 25))
              .values(available_seats={"basic_economy": 9, "economy": 0, "business": 9}))
    with pytest.raises(PolicyDenied, match="0 economy seats left, 1 needed"):
        B.preview_update_reservation_flights(s, args, NOW)
    s.rollback()
    u = s.get(AirlineUserRow, "omar_rossi_1241")
    assert u is not None
    certificate = next((pid for pid, m in u.payment_methods.items() if m["source"] == "certificate"), None)
    if certificate:
        with pytest.raises(PolicyDenied, match="travel certificate"):
            B.preview_update_reservation_flights(s, {**args, "payment_id": certificate}, NOW)
    with pytest.raises(PolicyDenied, match="not in omar_rossi_1241's profile"):
        B.preview_update_reservation_flights(s, {**args, "payment_id": "credit_card_0000001"}, NOW)
    u.payment_methods = {**u.payment_methods, "gift_card_8190333": {**u.payment_methods["gift_card_8190333"],
                                                                     "amount": 10}}
    s.flush()
    with pytest.raises(PolicyDenied, match="gift card gift_card_8190333 has 10 left"):
        B.preview_update_reservation_flights(s, args, NOW)


@pytest.mark.shared
def test_downgrade_refunds_the_difference_to_the_gift_card(s: Session, raw: dict[str, Any]) -> None:
    before = B.get_user(s, "james_patel_9828")["payment_methods"]["gift_card_1642017"]["amount"]
    args = {"reservation_id": "GV1N64", "cabin": "basic_economy", "flights": _flights("GV1N64", raw),
            "payment_id": "gift_card_1642017"}
    plan = B.preview_update_reservation_flights(s, args, NOW)
    assert plan["price_difference"] == -5244 and plan["payment"]["balance_after"] == before + 5244
    done = B.update_reservation_flights(s, args, NOW)
    assert done["reservation"]["cabin"] == "basic_economy"
    assert done["reservation"]["flights"] == plan["flights_after"]
    assert done["reservation"]["payment_history"][-1] == {"payment_id": "gift_card_1642017", "amount": -5244}
    assert B.get_user(s, "james_patel_9828")["payment_methods"]["gift_card_1642017"]["amount"] == before + 5244


# ---------------------------------------------------------------- bags
@pytest.mark.shared
def test_bags_free_allowance_fee_and_no_removal(s: Session, raw: dict[str, Any]) -> None:
    # YAX4DR: gold, economy, 2 passengers → 6 free bags
    ok = B.preview_update_reservation_baggages(s, {"reservation_id": "YAX4DR", "total_baggages": 7,
                                                   "nonfree_baggages": 1, "payment_id": "credit_card_4938634"}, NOW)
    assert ok["free_bag_allowance"] == 6 and ok["fee"] == 50
    with pytest.raises(PolicyDenied, match="means 1 paid bags, not 0"):
        B.preview_update_reservation_baggages(s, {"reservation_id": "YAX4DR", "total_baggages": 7,
                                                  "nonfree_baggages": 0, "payment_id": "credit_card_4938634"}, NOW)
    with pytest.raises(InvalidInput, match="means 0 paid bags, not 2"):
        B.preview_update_reservation_baggages(s, {"reservation_id": "YAX4DR", "total_baggages": 2,
                                                  "nonfree_baggages": 2, "payment_id": "credit_card_4938634"}, NOW)
    # a regular member's basic economy passenger has no free bag
    rid = _find(raw, lambda r, u, st: u["membership"] == "regular" and r["cabin"] == "basic_economy"
                and len(r["passengers"]) == 1 and r["total_baggages"] == 0 and all(x == "available" for x in st))
    user = raw["reservations"][rid]["user_id"]
    plan = B.preview_update_reservation_baggages(s, {"reservation_id": rid, "total_baggages": 2,
                                                     "nonfree_baggages": 2, "payment_id": _card(s, user)}, NOW)
    assert plan["fee"] == 100 and plan["free_bag_allowance"] == 0
    # GV1N64 has 3 bags: they can be added to, never taken away
    with pytest.raises(PolicyDenied, match="added but not removed"):
        B.preview_update_reservation_baggages(s, {"reservation_id": "GV1N64", "total_baggages": 2,
                                                  "nonfree_baggages": 0, "payment_id": "gift_card_1642017"}, NOW)
    done = B.update_reservation_baggages(s, {"reservation_id": rid, "total_baggages": 2, "nonfree_baggages": 2,
                                             "payment_id": _card(s, user)}, NOW)
    assert done["reservation"]["total_baggages"] == 2 and done["reservation"]["nonfree_baggages"] == 2
    assert done["reservation"]["payment_history"][-1] == {"payment_id": _card(s, user), "amount": 100}


# ---------------------------------------------------------------- passengers
@pytest.mark.shared
def test_passengers_can_change_but_not_their_number(s: Session, raw: dict[str, Any]) -> None:
    three = raw["reservations"]["GV1N64"]["passengers"]
    with pytest.raises(PolicyDenied, match="number of travellers on a booking cannot change"):
        B.preview_update_reservation_passengers(s, {"reservation_id": "GV1N64", "passengers": three[:2]}, NOW)
    new = [{"first_name": "Anya", "last_name": "Garcia", "dob": "1992-11-12"},
           {"first_name": "Mei", "last_name": "Garcia", "dob": "1989-12-13"}]
    plan = B.preview_update_reservation_passengers(s, {"reservation_id": "3RK2T9", "passengers": new}, NOW)
    assert plan["passengers_after"] == new
    with pytest.raises(PolicyDenied, match="already been flown"):
        B.preview_update_reservation_passengers(s, {"reservation_id": "EUJUY6", "passengers": [
            {"first_name": f"P{i}", "last_name": "X", "dob": "1990-01-01"} for i in range(3)]}, NOW)
    done = B.update_reservation_passengers(s, {"reservation_id": "3RK2T9", "passengers": new}, NOW)
    assert done["reservation"]["passengers"] == new
    restored = B.restore_passengers(s, "3RK2T9", plan["passengers_before"], NOW)
    assert restored["passengers"] == raw["reservations"]["3RK2T9"]["passengers"]


# ---------------------------------------------------------------- booking
def _mia(**over: Any) -> dict[str, Any]:
    args = {"user_id": "mia_li_3668", "origin": "JFK", "destination": "SEA", "flight_type": "one_way",
            "cabin": "economy", "flights": [{"flight_number": "HAT136", "date": "2024-05-20"},
                                            {"flight_number": "HAT039", "date": "2024-05-20"}],
            "passengers": [{"first_name": "Mia", "last_name": "Li", "dob": "1990-04-05"}],
            "payment_methods": [{"payment_id": "certificate_7504069", "amount": 250},
                                {"payment_id": "credit_card_4421486", "amount": 5}],
            "total_baggages": 3, "nonfree_baggages": 0, "insurance": "no"}
    args.update(over)
    return args


@pytest.mark.shared
def test_booking_rules(s: Session) -> None:
    plan = B.preview_book_reservation(s, _mia(), NOW)
    assert plan["total_price"] == 255 and plan["reservation_id"] == "HATHAT" and plan["free_bag_allowance"] == 3
    pax = [{"first_name": f"P{i}", "last_name": "Li", "dob": "1990-01-01"} for i in range(6)]
    with pytest.raises(PolicyDenied, match="at most 5 passengers"):
        B.preview_book_reservation(s, _mia(passengers=pax), NOW)
    with pytest.raises(PolicyDenied, match="at most one travel certificate"):
        B.preview_book_reservation(s, _mia(payment_methods=[{"payment_id": "certificate_7504069", "amount": 155},
                                                            {"payment_id": "certificate_4856383", "amount": 100}]),
                                   NOW)
    with pytest.raises(PolicyDenied, match="one credit card"):
        B.preview_book_reservation(s, _mia(payment_methods=[{"payment_id": "credit_card_4421486", "amount": 155},
                                                            {"payment_id": "credit_card_1955700", "amount": 100}]),
                                   NOW)
    with pytest.raises(PolicyDenied, match="has 100 left, 255 asked"):
        B.preview_book_reservation(s, _mia(payment_methods=[{"payment_id": "certificate_4856383", "amount": 255}]),
                                   NOW)
    with pytest.raises(PolicyDenied, match="not in mia_li_3668's profile"):
        B.preview_book_reservation(s, _mia(payment_methods=[{"payment_id": "gift_card_1234567", "amount": 255}]),
                                   NOW)
    with pytest.raises(InvalidInput, match="add up to 250 but the total price is 255"):
        B.preview_book_reservation(s, _mia(payment_methods=[{"payment_id": "certificate_7504069", "amount": 250}]),
                                   NOW)
    with pytest.raises(PolicyDenied, match="means 1 paid bags, not 0"):
        B.preview_book_reservation(s, _mia(total_baggages=4), NOW)
    insured = _mia(insurance="yes", total_baggages=4, nonfree_baggages=1,
                   payment_methods=[{"payment_id": "credit_card_4421486", "amount": 255 + 30 + 50}])
    assert B.preview_book_reservation(s, insured, NOW)["price_breakdown"] == {"fares": 255, "insurance": 30,
                                                                              "bags": 50}
    with pytest.raises(PolicyDenied, match="cannot be booked: it is landed"):
        B.preview_book_reservation(s, _mia(flights=[{"flight_number": "HAT136", "date": "2024-05-10"},
                                                    {"flight_number": "HAT039", "date": "2024-05-10"}]), NOW)
    with pytest.raises(InvalidInput, match="not a JFK→LAX"):
        B.preview_book_reservation(s, _mia(destination="LAX"), NOW)


@pytest.mark.shared
def test_booking_at_most_three_gift_cards(s: Session) -> None:
    u = s.get(AirlineUserRow, "mia_li_3668")
    assert u is not None
    cards = {f"gift_card_900000{i}": {"source": "gift_card", "amount": 100, "id": f"gift_card_900000{i}"}
             for i in range(4)}
    u.payment_methods = {**u.payment_methods, **cards}
    s.flush()
    three = [{"payment_id": pid, "amount": 85} for pid in list(cards)[:3]]
    assert B.preview_book_reservation(s, _mia(payment_methods=three), NOW)["total_price"] == 255
    four = [{"payment_id": pid, "amount": a} for pid, a in zip(cards, (64, 64, 64, 63), strict=True)]
    with pytest.raises(PolicyDenied, match="three gift cards"):
        B.preview_book_reservation(s, _mia(payment_methods=four), NOW)


@pytest.mark.shared
def test_booking_applies_what_the_preview_said(s: Session) -> None:
    seats = {f: s.get(AirlineFlightDateRow, (f, date(2024, 5, 20))).available_seats["economy"]  # type: ignore
             for f in ("HAT136", "HAT039")}
    plan = B.preview_book_reservation(s, _mia(), NOW)
    done = B.book_reservation(s, _mia(), NOW)
    assert done["reservation"] == plan["reservation"]
    user = B.get_user(s, "mia_li_3668")
    assert "certificate_7504069" not in user["payment_methods"] and user["reservations"][-1] == "HATHAT"
    for f, before in seats.items():
        assert s.get(AirlineFlightDateRow, (f, date(2024, 5, 20))).available_seats["economy"] == before - 1  # type: ignore
    assert B.preview_book_reservation(s, _mia(payment_methods=[{"payment_id": "credit_card_4421486",
                                                                "amount": 255}]), NOW)["reservation_id"] == "HATHAU"


# ---------------------------------------------------------------- compensation
@pytest.mark.shared
def test_certificates_of_two_members_never_share_an_id(s: Session, raw: dict[str, Any]) -> None:
    """The first certificate of each member would be numbered alike: the second member's takes the next number."""
    eligible = [(rid, r) for rid, r in raw["reservations"].items()
                if raw["users"][r["user_id"]]["membership"] in ("silver", "gold")
                and "cancelled" in [_status(raw, f) for f in r["flights"]]]
    picked: dict[str, tuple[str, dict[str, Any]]] = {}
    for rid, r in eligible:
        picked.setdefault(r["user_id"], (rid, r))
    (rid1, r1), (rid2, r2) = list(picked.values())[:2]
    ids = [B.send_certificate(s, {"user_id": r["user_id"], "reservation_id": rid, "complaint": "cancelled_flight",
                                  "amount": 100 * len(r["passengers"])}, NOW)["certificate_id"]
           for rid, r in ((rid1, r1), (rid2, r2))]
    assert ids[0] != ids[1]


@pytest.mark.shared
def test_certificate_for_a_cancelled_flight(s: Session, raw: dict[str, Any]) -> None:
    rid = _find(raw, lambda r, u, st: "cancelled" in st and u["membership"] == "silver" and r["cabin"] == "economy"
                and r["insurance"] == "no")
    r = raw["reservations"][rid]
    due = 100 * len(r["passengers"])
    args = {"user_id": r["user_id"], "reservation_id": rid, "complaint": "cancelled_flight", "amount": due}
    plan = B.preview_send_certificate(s, args, NOW)
    assert plan["amount"] == due and plan["basis"] == ["silver member"]
    with pytest.raises(PolicyDenied, match="100 per passenger"):
        B.preview_send_certificate(s, {**args, "amount": due + 50}, NOW)
    with pytest.raises(PolicyDenied, match="is delayed"):
        B.preview_send_certificate(s, {**args, "complaint": "delayed_flight", "amount": 50 * len(r["passengers"])},
                                   NOW)
    done = B.send_certificate(s, args, NOW)
    assert B.get_user(s, r["user_id"])["payment_methods"][done["certificate_id"]] == {
        "source": "certificate", "amount": due, "id": done["certificate_id"]}
    with pytest.raises(PolicyDenied, match="cannot have a second travel certificate"):
        B.preview_send_certificate(s, args, NOW)
    regular = _find(raw, lambda r, u, st: "cancelled" in st and u["membership"] == "regular"
                    and r["cabin"] != "business" and r["insurance"] == "no")
    rr = raw["reservations"][regular]
    with pytest.raises(PolicyDenied, match=r"travelling in [a-z ]+ without travel insurance, this booking does not"):
        B.preview_send_certificate(s, {"user_id": rr["user_id"], "reservation_id": regular,
                                       "complaint": "cancelled_flight", "amount": 100 * len(rr["passengers"])}, NOW)
    with pytest.raises(PolicyDenied, match="does not belong"):
        B.preview_send_certificate(s, {**args, "user_id": rr["user_id"]}, NOW)
    no_cancel = _find(raw, lambda r, u, st: "cancelled" not in st and u["membership"] == "gold")
    g = raw["reservations"][no_cancel]
    with pytest.raises(PolicyDenied, match="was cancelled"):
        B.preview_send_certificate(s, {"user_id": g["user_id"], "reservation_id": no_cancel,
                                       "complaint": "cancelled_flight", "amount": 100 * len(g["passengers"])}, NOW)


@pytest.mark.shared
def test_certificate_for_a_delay_only_after_the_reservation_changed(s: Session) -> None:
    # 3JA7XV: regular member in business, 4 passengers, first flight delayed today
    owner = B.get_reservation(s, "3JA7XV")["user_id"]
    args = {"user_id": owner, "reservation_id": "3JA7XV", "complaint": "delayed_flight", "amount": 200}
    with pytest.raises(PolicyDenied, match="a travel certificate comes with a change or cancellation of the booking"):
        B.preview_send_certificate(s, args, NOW)
    B.cancel_reservation(s, {"reservation_id": "3JA7XV"}, NOW)
    assert B.preview_send_certificate(s, args, NOW)["basis"] == ["business cabin"]
    with pytest.raises(PolicyDenied, match="50 per passenger: 200"):
        B.preview_send_certificate(s, {**args, "amount": 400}, NOW)
    # 4NXSCL: regular member, basic economy, no insurance
    other = B.get_reservation(s, "4NXSCL")
    with pytest.raises(PolicyDenied, match=r"travelling in [a-z ]+ without travel insurance, this booking does not"):
        B.preview_send_certificate(s, {"user_id": other["user_id"], "reservation_id": "4NXSCL",
                                       "complaint": "delayed_flight", "amount": 50}, NOW)


# ---------------------------------------------------------------- previews change nothing; writes do what they said
PREVIEW_CASES: list[tuple[str, dict[str, Any]]] = [
    ("cancel_reservation", {"reservation_id": "K1NW8N"}),
    ("cancel_reservation", {"reservation_id": "EHGLP3", "reason": "other"}),
    ("update_reservation_flights", {"reservation_id": "GV1N64", "cabin": "basic_economy",
                                    "flights": [{"flight_number": "HAT003", "date": "2024-05-19"},
                                                {"flight_number": "HAT290", "date": "2024-05-20"}],
                                    "payment_id": "gift_card_1642017"}),
    ("update_reservation_flights", {"reservation_id": "EHGLP3", "cabin": "economy",
                                    "flights": [{"flight_number": "HAT156", "date": "2024-05-18"}],
                                    "payment_id": "credit_card_0000000"}),
    ("update_reservation_baggages", {"reservation_id": "YAX4DR", "total_baggages": 7, "nonfree_baggages": 1,
                                     "payment_id": "credit_card_4938634"}),
    ("update_reservation_passengers", {"reservation_id": "3RK2T9", "passengers": [
        {"first_name": "Anya", "last_name": "Garcia", "dob": "1992-11-12"},
        {"first_name": "Mei", "last_name": "Garcia", "dob": "1989-12-13"}]}),
    ("book_reservation", _mia()),
    ("book_reservation", _mia(total_baggages=9)),
    ("send_certificate", {"user_id": "mia_li_3668", "reservation_id": "NO6JO3", "complaint": "cancelled_flight",
                          "amount": 100}),
]


@pytest.mark.shared
def test_previews_leave_the_database_byte_for_byte_unchanged(db_path: Path) -> None:
    engine = create_engine("sqlite:///" + str(db_path))
    digest = hashlib.sha256(db_path.read_bytes()).hexdigest()
    with Session(engine) as s:
        before = _dump(s)
        outcomes = Counter[str]()
        for name, args in PREVIEW_CASES:
            try:
                B.PREVIEWS[name](s, copy.deepcopy(args), NOW)
                outcomes["allowed"] += 1
            except (PolicyDenied, InvalidInput, NotFound):
                outcomes["refused"] += 1
            assert not s.new and not s.dirty and not s.deleted, name
        assert _dump(s) == before
        s.commit()
    engine.dispose()
    assert outcomes["allowed"] >= 5 and outcomes["refused"] >= 3
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == digest


@pytest.mark.shared
@pytest.mark.parametrize("name,args", [PREVIEW_CASES[i] for i in (0, 2, 4, 5, 6)])
def test_write_applies_what_its_preview_said(s: Session, name: str, args: dict[str, Any]) -> None:
    plan = B.PREVIEWS[name](s, copy.deepcopy(args), NOW)
    done = B.WRITES[name](s, copy.deepcopy(args), NOW)
    assert {k: v for k, v in done.items() if k in plan} == plan
    r = B.get_reservation(s, plan["reservation_id"])
    if name == "cancel_reservation":
        assert r["status"] == "cancelled"
    elif name == "update_reservation_flights":
        assert r["flights"] == plan["flights_after"] and r["cabin"] == plan["cabin_after"]
    elif name == "update_reservation_baggages":
        assert (r["total_baggages"], r["nonfree_baggages"]) == (plan["total_baggages_after"],
                                                                plan["nonfree_baggages_after"])
    elif name == "update_reservation_passengers":
        assert r["passengers"] == plan["passengers_after"]
    elif name == "book_reservation":
        assert r == plan["reservation"]


# ---------------------------------------------------------------- τ-bench training tasks
def _tau_pay(user: dict[str, Any], r: dict[str, Any], payment_id: str, total: int) -> None:
    method = user["payment_methods"][payment_id]
    if method["source"] == "gift_card":
        method["amount"] -= total
    if total:
        r["payment_history"].append({"payment_id": payment_id, "amount": total})


def _tau_apply(db: dict[str, Any], name: str, a: dict[str, Any]) -> str:
    """τ2-bench AirlineTools' own effect of a write on the raw records (the reference for the replay)."""
    users, res, flights = db["users"], db["reservations"], db["flights"]
    if name == "book_reservation":
        rid = next(x for x in ("HATHAT", "HATHAU", "HATHAV") if x not in res)
        pax = len(a["passengers"])
        segs = [{"origin": flights[f["flight_number"]]["origin"], "destination": flights[f["flight_number"]][
            "destination"], "flight_number": f["flight_number"], "date": f["date"],
            "price": flights[f["flight_number"]]["dates"][f["date"]]["prices"][a["cabin"]]} for f in a["flights"]]
        for f in a["flights"]:
            flights[f["flight_number"]]["dates"][f["date"]]["available_seats"][a["cabin"]] -= pax
        user = users[a["user_id"]]
        for p in a["payment_methods"]:
            method = user["payment_methods"][p["payment_id"]]
            if method["source"] == "gift_card":
                method["amount"] -= p["amount"]
            elif method["source"] == "certificate":
                user["payment_methods"].pop(p["payment_id"])
        res[rid] = {"reservation_id": rid, "user_id": a["user_id"], "origin": a["origin"],
                    "destination": a["destination"], "flight_type": a["flight_type"], "cabin": a["cabin"],
                    "flights": segs, "passengers": copy.deepcopy(a["passengers"]),
                    "payment_history": copy.deepcopy(a["payment_methods"]), "created_at": "2024-05-15T15:00:00",
                    "total_baggages": a["total_baggages"], "nonfree_baggages": a["nonfree_baggages"],
                    "insurance": a["insurance"]}
        user["reservations"].append(rid)
        return rid
    r = res[a["reservation_id"]]
    user = users[r["user_id"]]
    if name == "cancel_reservation":
        r["payment_history"] += [{"payment_id": p["payment_id"], "amount": -p["amount"]}
                                 for p in list(r["payment_history"])]
        r["status"] = "cancelled"
    elif name == "update_reservation_passengers":
        r["passengers"] = copy.deepcopy(a["passengers"])
    elif name == "update_reservation_baggages":
        _tau_pay(user, r, a["payment_id"], 50 * max(0, a["nonfree_baggages"] - r["nonfree_baggages"]))
        r["total_baggages"], r["nonfree_baggages"] = a["total_baggages"], a["nonfree_baggages"]
    elif name == "update_reservation_flights":
        pax, total, segs = len(r["passengers"]), 0, []
        for f in a["flights"]:
            kept = next((x for x in r["flights"] if x["flight_number"] == f["flight_number"]
                         and x["date"] == f["date"] and a["cabin"] == r["cabin"]), None)
            if kept is None:
                fl = flights[f["flight_number"]]
                kept = {"flight_number": f["flight_number"], "date": f["date"], "origin": fl["origin"],
                        "destination": fl["destination"], "price": fl["dates"][f["date"]]["prices"][a["cabin"]]}
            total += kept["price"] * pax
            segs.append(kept)
        total -= sum(x["price"] for x in r["flights"]) * pax
        _tau_pay(user, r, a["payment_id"], total)
        r["flights"], r["cabin"] = segs, a["cabin"]
    return str(a["reservation_id"])


# The stated reason τ-bench's users give where insurance is what allows the cancellation (task 7: "You are sick").
CANCEL_REASON = {"59XX6W": "health", "MSJ4OA": "health"}


@pytest.mark.shared
def test_training_tasks_replay_and_end_as_tau_bench_expects(s: Session, raw: dict[str, Any]) -> None:
    tasks = json.loads((DATA / "tasks_train.json").read_text())
    replayed = 0
    for task in tasks:
        calls = [c for c in task["evaluation_criteria"]["actions"] or [] if c["name"] in B.WRITES]
        if not calls:
            continue
        savepoint = s.begin_nested()
        ref = copy.deepcopy(raw)
        touched: set[str] = set()
        for call in calls:
            args = dict(call["arguments"])
            if call["name"] == "cancel_reservation" and args["reservation_id"] in CANCEL_REASON:
                args["reason"] = CANCEL_REASON[args["reservation_id"]]
            B.PREVIEWS[call["name"]](s, args, NOW)
            B.WRITES[call["name"]](s, args, NOW)
            touched.add(_tau_apply(ref, call["name"], call["arguments"]))
            replayed += 1
        for rid in touched:
            mine = B.get_reservation(s, rid)
            theirs = {"status": None, **ref["reservations"][rid]}
            assert mine == theirs, (task["id"], rid)
            uid = mine["user_id"]
            assert B.get_user(s, uid) == {"user_id": uid, **ref["users"][uid]}, (task["id"], uid)
        savepoint.rollback()
    assert replayed >= 25


@pytest.mark.shared
def test_task_39_insured_cancellation_needs_a_covered_reason(s: Session) -> None:
    # τ-bench's expected actions cancel MSJ4OA (economy, insured, booked 10 days before) although the user gives
    # no health or weather reason: under policy.md it is allowed only for a reason the insurance covers
    with pytest.raises(PolicyDenied, match="travel insurance"):
        B.preview_cancel_reservation(s, {"reservation_id": "MSJ4OA", "reason": "other"}, NOW)
    assert B.preview_cancel_reservation(s, {"reservation_id": "MSJ4OA", "reason": "health"}, NOW)["refund_total"] == 984


@pytest.mark.shared
def test_training_tasks_that_must_be_refused_are(s: Session) -> None:
    # task 0: EHGLP3, basic economy without insurance, booked 10 days ago
    with pytest.raises(PolicyDenied):
        B.preview_cancel_reservation(s, {"reservation_id": "EHGLP3", "reason": "change_of_plan"}, NOW)
    # task 47: H8Q05L, basic economy; a birthday is not a reason the insurance covers
    with pytest.raises(PolicyDenied):
        B.preview_cancel_reservation(s, {"reservation_id": "H8Q05L", "reason": "other"}, NOW)
    # task 11: a passenger cannot be removed
    with pytest.raises(PolicyDenied):
        B.preview_update_reservation_passengers(s, {"reservation_id": "GV1N64", "passengers": B.get_reservation(
            s, "GV1N64")["passengers"][:2]}, NOW)
    # task 5: Mei Brown is a regular member; her delayed flight is not compensated while the reservation stands
    res = [r for r in records.snapshot(s, "mei_brown_7075", NOW)["reservations"]
           if any(f["flight_number"] == "HAT045" for f in r["flights"])]
    assert res
    with pytest.raises(PolicyDenied):
        B.preview_send_certificate(s, {"user_id": "mei_brown_7075", "reservation_id": res[0]["reservation_id"],
                                       "complaint": "delayed_flight", "amount": 50 * res[0]["passenger_count"]},
                                   NOW)


# ---------------------------------------------------------------- records
@pytest.mark.shared
def test_records_find_identify_card_and_snapshot(s: Session) -> None:
    card = records.find_customer(s, "MIA.LI3818@example.com")
    assert card is not None and card["user_id"] == "mia_li_3668" and card["membership"] == "gold"
    assert card["reservations"] == 3 and "Visa card ending 7447" in card["payment_methods"]
    assert not any("4421486" in label for label in card["payment_methods"])
    assert records.find_customer(s, "nobody@example.com") is None
    assert records.identify_customer(s, "Hi, my user id is emma_kim_9957, thanks") == "emma_kim_9957"
    assert records.identify_customer(s, "PLEASE cancel EHGLP3 now") == "emma_kim_9957"
    assert records.identify_customer(s, "write to mia.li3818@example.com") == "mia_li_3668"
    assert records.identify_customer(s, "emma_kim_9957 and mia_li_3668") is None
    assert records.identify_customer(s, "nothing here") is None
    snap = records.snapshot(s, "lucas_brown_4047", NOW)
    euj = next(r for r in snap["reservations"] if r["reservation_id"] == "EUJUY6")
    assert euj["any_flown"] and not euj["all_flown"] and euj["flights"][0]["status"] == "landed"
    assert euj["policy"]["cancel"].startswith("refused") and euj["policy"]["change_cabin"].startswith("refused")
    k1 = next(r for r in records.snapshot(s, "mohamed_silva_9265", NOW)["reservations"]
              if r["reservation_id"] == "K1NW8N")
    assert k1["booked_within_24h"] and k1["policy"]["cancel"].startswith("allowed")
    import re
    assert re.fullmatch(records.entity_patterns["reservation_id"], "HATHAT")
    assert re.fullmatch(records.entity_patterns["flight_number"], "HAT045")
    assert re.fullmatch(records.entity_patterns["user_id"], "emma_kim_9957")


# ---------------------------------------------------------------- actions
@pytest.mark.shared
def test_actions_register_with_previews_and_probes(s: Session) -> None:
    from cx_core import domain
    from cx_core.actions.base import ExecContext
    from domains.airline import actions

    names = ["get_user_details", "get_reservation_details", "get_flight_status", "search_direct_flight",
             "search_onestop_flight", "list_all_airports", "cancel_reservation", "update_reservation_flights",
             "update_reservation_baggages", "update_reservation_passengers", "book_reservation", "send_certificate"]
    try:
        own = packs.put_in_force(domain.find("airline"))
        specs = {n: own[n] for n in names}
        for spec in specs.values():
            assert spec.connector == "airline" and spec.tool_schema()["function"]["parameters"]
            if spec.writes:
                assert spec.preview is not None
        assert specs["cancel_reservation"].confirm and specs["book_reservation"].confirm
        assert specs["update_reservation_passengers"].reversible and specs["update_reservation_passengers"].compensate
        assert specs["update_reservation_flights"].task_types == ("change_flight", "change_cabin")
        ctx = ExecContext(actor="test", role=None, ticket_id=None, customer_id="emma_kim_9957", now=NOW)
        cancel = actions.CancelReservation.model_validate({"reservation_id": "EHGLP3", "reason": "other"})
        assert specs["cancel_reservation"].owner(s, cancel) == "emma_kim_9957"
        assert specs["cancel_reservation"].amount(s, cancel) == 208.0  # type: ignore[misc]
        with pytest.raises(PolicyDenied):
            specs["cancel_reservation"].check(s, cancel, ctx)
        book = actions.BookReservation.model_validate(_mia())
        assert specs["book_reservation"].amount(s, book) == 255.0  # type: ignore[misc]
        assert specs["book_reservation"].check(s, book, ctx)["reservation_id"] == "HATHAT"
        passengers = actions.UpdateReservationPassengers.model_validate(PREVIEW_CASES[5][1])
        result = specs["update_reservation_passengers"].run(s, passengers, ctx)
        undo = specs["update_reservation_passengers"].compensate(s, passengers, result, ctx)  # type: ignore[misc]
        assert undo["passengers"] == result["passengers_before"]
        status = actions.GetFlightStatus.model_validate({"flight_number": "HAT045", "date": "2024-05-15"})
        assert specs["get_flight_status"].run(s, status, ctx)["status"] == "delayed"
        with pytest.raises(ValueError):
            actions.CancelReservation.model_validate({"reservation_id": "ehglp3"})
    finally:
        packs.use(domain.find(domain.DEFAULT_DOMAIN))


# ---------------------------------------------------------------- demo world
def _demo(seed: int, today: date) -> tuple[Session, str]:
    engine = create_engine("sqlite://")
    AirlineBase.metadata.create_all(engine)
    s = Session(engine)
    demo.build_demo(s, seed, today=today)
    s.commit()
    return s, _dump(s)


def test_demo_world_is_deterministic_and_obeys_the_rules() -> None:
    today = date(2025, 3, 10)
    now = datetime.combine(today, time(12))
    s1, dump1 = _demo(7, today)
    s2, dump2 = _demo(7, today)
    s3, dump3 = _demo(8, today)
    assert dump1 == dump2 and dump1 != dump3
    s = s1
    users = {u.user_id: u for u in s.scalars(select(AirlineUserRow))}
    rows = list(s.scalars(select(AirlineReservationRow)))
    assert len(users) == 40 and len(rows) == 80 and len(list(s.scalars(select(AirlineFlightRow)))) == 60
    assert {u.membership for u in users.values()} == {"regular", "silver", "gold"}
    assert {r.cabin for r in rows} == {"basic_economy", "economy", "business"}
    assert any(r.insurance for r in rows) and any(now - r.created_at <= timedelta(hours=24) for r in rows)
    assert all(r.created_at <= now for r in rows)
    statuses = set(s.scalars(select(AirlineFlightDateRow.status)))
    assert {"available", "landed", "delayed", "cancelled"} <= statuses
    flown = [r for r in rows if B.is_flown(s, r.reservation_id, now)]
    assert flown and len(flown) < len(rows)
    for r in rows:
        u = users[r.user_id]
        assert r.reservation_id in u.reservation_ids
        free = B.free_bag_allowance(u.membership, r.cabin, len(r.passengers))
        assert r.nonfree_baggages == max(r.total_baggages - free, 0)
        if r.status is None:
            fares = sum(f["price"] for f in r.flights) * len(r.passengers)
            price = fares + (30 * len(r.passengers) if r.insurance else 0) + 50 * r.nonfree_baggages
            assert sum(p["amount"] for p in r.payment_history) == price
    for inst in s.scalars(select(AirlineFlightDateRow)):
        assert inst.available_seats is None or min(inst.available_seats.values()) >= 0
    kinds = {(r.cabin, r.insurance, now - r.created_at <= timedelta(hours=24)) for r in rows
             if not B.is_flown(s, r.reservation_id, now)}
    assert ("basic_economy", False, False) in kinds and ("basic_economy", False, True) in kinds
    for other in (s2, s3):
        other.close()


def test_demo_tickets_reference_real_records_and_their_verdicts_hold() -> None:
    today = date(2025, 3, 10)
    now = datetime.combine(today, time(12))
    s, _ = _demo(7, today)
    tickets = demo.demo_tickets(s, 45, seed=4, now=now)
    assert tickets == demo.demo_tickets(s, 45, seed=4, now=now)
    assert len(tickets) == 45
    assert {t["task_type"] for t in tickets} == {"cancel_booking", "change_flight", "change_cabin", "add_baggage",
                                                "change_passenger", "new_booking", "delay_compensation",
                                                "booking_status", "flight_status"}
    assert {t["expected"] for t in tickets} == {"allowed", "refused", "info"}
    flights = set(s.scalars(select(AirlineFlightRow.flight_number)))
    for t in tickets:
        u = s.get(AirlineUserRow, t["user_id"])
        assert u is not None and t["customer"] == u.email and t["body"] and t["subject"]
        assert records.identify_customer(s, t["customer"]) == u.user_id
        if t["reservation_id"]:
            r = s.get(AirlineReservationRow, t["reservation_id"])
            assert r is not None and r.user_id == u.user_id and t["reservation_id"] in t["body"]
        if t.get("flight_number"):
            assert t["flight_number"] in flights
    refused_cancel = [t for t in tickets if t["task_type"] == "cancel_booking" and t["expected"] == "refused"]
    for t in refused_cancel:
        with pytest.raises(PolicyDenied):
            B.cancel_reservation(s, {"reservation_id": t["reservation_id"], "reason": t["reason"]}, now)
    allowed = {t["reservation_id"]: t for t in tickets if t["task_type"] == "cancel_booking"
               and t["expected"] == "allowed"}
    assert allowed and refused_cancel
    for t in allowed.values():
        done = B.cancel_reservation(s, {"reservation_id": t["reservation_id"], "reason": t["reason"]}, now)
        assert done["reservation"]["status"] == "cancelled"
    s.close()


def test_two_gift_cards_alike_are_told_apart_by_their_last_digits() -> None:
    from domains.airline.backend import method_label

    one, two = ({"id": f"gift_card_{n}", "source": "gift_card", "amount": 50} for n in ("7215893", "4400121"))
    assert (method_label(one), method_label(two)) == ("gift card ending 5893 ($50.00 left)",
                                                      "gift card ending 0121 ($50.00 left)")
    assert method_label({"id": "certificate_1234567", "source": "certificate", "amount": 250}) == \
        "travel certificate ending 4567 ($250.00)"
    assert method_label({**one, "amount": 0}) == "gift card ending 5893 (used up)"
