"""The recipe planner: task types resolved by data, every argument bound with certainty or left to a person."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from cx_core import recipe_book, recipes
from cx_core.errors import ConfigError
from cx_core.models import Request, Triage

BOOK = {
    "patterns": {"booking_id": r"\b(BK\d{3})\b"},
    "words": {"reason": {"health": ["sick", "hospital"], "weather": ["storm"]}},
    "recipes": {
        "cancel": {"steps": [{"action": "cancel_booking", "args": {
            "booking_id": {"record": "bookings", "key": "id", "named_by": "booking_id", "pick": "each",
                           "where": {"status": {"not": "cancelled"}}, "narrow_by": ["dates"],
                           "newest_by": "made", "ask": "which booking should we cancel?"},
            "reason": {"entity": "reason", "default": "other"},
            "note": {"const": "customer asked"}}}]},
        "refund": {"steps": [
            {"action": "cancel_booking", "args": {"booking_id": {"record": "bookings", "key": "id",
                                                                 "named_by": "booking_id"}}},
            {"action": "refund", "args": {"amount": {"step": "cancel_booking", "field": "refund"},
                                          "method": {"resolver": "method"}}}]},
    },
}
SNAP = {"bookings": [{"id": "BK001", "status": "open", "date": "2026-12-01", "made": "2026-10-01"},
                     {"id": "BK002", "status": "open", "date": "2026-12-05", "made": "2026-11-01"},
                     {"id": "BK003", "status": "cancelled", "date": "2026-12-09", "made": "2026-11-10"}]}


def _triage(intent: str, text: str, **entities: Any) -> Triage:
    return Triage(task_type=intent, intent=intent, confidence=0.9, urgency="normal", sentiment="neutral",
                  language="en", entities=entities, requests=[Request(intent=intent, text=text, confidence=0.9)])


def _plan(intent: str, text: str, **entities: Any) -> Any:
    """The recipe's plan with the engine's Reading of ``text`` (as the pipeline makes it), the engine's guard after."""
    from datetime import datetime

    from cx_core.reading import guard
    from cx_core.reading.reader import read

    book = recipe_book.parse(BOOK)
    triage = _triage(intent, text, **entities)
    reading = read(text, datetime(2026, 11, 20, 9), None, triage.requests)
    plan = recipes.plan(book, triage, SNAP, date(2026, 11, 20), text, {"method": lambda ctx: "card_1"},
                        reading=reading)
    return guard.apply(plan, reading, SNAP)


def test_a_named_record_an_entity_and_a_constant_bind() -> None:
    plan = _plan("cancel", "Please cancel BK002, I'm sick.")
    [step] = plan.steps
    assert step.action == "cancel_booking" and not step.missing
    assert step.args == {"booking_id": "BK002", "reason": "health", "note": "customer asked"}


def test_an_unnamed_record_is_chosen_by_the_rule_or_left_to_a_person() -> None:
    by_date = _plan("cancel", "Cancel my trip on 5 December", dates=["2026-12-05"])
    assert by_date.steps[0].args["booking_id"] == "BK002" and by_date.steps[0].args["reason"] == "other"
    unsure = _plan("cancel", "Cancel my trip please")
    assert unsure.steps[0].missing and "booking_id" not in unsure.steps[0].args
    assert unsure.questions == {"cancel": "which booking should we cancel?"}
    newest = _plan("cancel", "Cancel my most recent booking")
    assert newest.steps[0].args["booking_id"] == "BK002"  # the newest that is still open


def test_all_takes_every_record_the_rule_keeps_and_a_condition_holds_it() -> None:
    every = _plan("cancel", "Please cancel all of my bookings")
    assert [s.args["booking_id"] for s in every.steps] == ["BK001", "BK002"]
    both = _plan("cancel", "Please cancel all my bookings on 1 December", dates=["2026-12-01"])
    assert [s.args["booking_id"] for s in both.steps] == ["BK001"]  # every one of those the words name
    held = _plan("cancel", "Cancel BK001 unless you can move it")
    assert held.steps[0].held.startswith("the customer sets a condition on it")


def test_a_record_not_on_the_account_is_never_guessed() -> None:
    plan = _plan("cancel", "Cancel BK999 please")
    assert plan.steps[0].missing and "BK999" in plan.questions["cancel"]


def test_later_steps_take_earlier_results_and_resolvers() -> None:
    plan = _plan("refund", "Refund BK001")
    first, second = plan.steps
    assert first.args == {"booking_id": "BK001"}
    assert second.depends_on == "cancel_booking" and second.args == {"amount": "{refund}", "method": "card_1"}
    assert second.rendered({"refund": 120}) == {"amount": "120", "method": "card_1"}


def test_a_request_with_no_recipe_says_no_action_is_known() -> None:
    plan = _plan("complaint", "Your service is bad")
    assert plan.steps == [] and plan.no_action == ["complaint"]


def test_a_malformed_book_is_one_line_naming_the_field(tmp_path: Path) -> None:
    bad = {"recipes": {"cancel": {"steps": [{"action": "x", "args": {"a": {"entity": "e", "const": 1}}}]}}}
    with pytest.raises(ConfigError, match=r"recipes.cancel.steps\[0\].args.a: give exactly one of"):
        recipe_book.parse(bad)
    path = tmp_path / "recipes.yaml"
    path.write_text(yaml.safe_dump({"recipes": {"cancel": {"steps": [
        {"action": "no_such_action", "args": {"a": {"resolver": "nobody"}, "b": {"step": "later"}}}]},
        "unknown_type": {"steps": []}}}), encoding="utf-8")
    found = dict(recipe_book.problems(path, {"cancel_booking"}, {"cancel"}, {"method"}))
    assert found == {"recipes.cancel.steps[0].action": "unknown action 'no_such_action'",
                     "recipes.cancel.steps[0].args.a": "unknown resolver 'nobody'",
                     "recipes.cancel.steps[0].args.b": "step 'later' does not come before this one",
                     "recipes.unknown_type": "unknown task type 'unknown_type'"}


@pytest.mark.parametrize("answer", [
    {"id": "BK001", "status": "open"},                                   # one object: GET /bookings/{id}
    [{"id": "BK001", "status": "open"}],                                 # a list
    {"items": [{"id": "BK001", "status": "open"}], "total": 1, "next": None},   # a list under a field, with paging
    {"data": [{"id": "BK001", "status": "open"}]},                       # the object's only field
])
def test_a_read_binds_whatever_the_shape_of_its_answer(answer: Any) -> None:
    """A customer with one booking: the recipe binds it, whether the team's read answers one object, a list, or
    a list under a field; the card's tables see the same rows."""
    from datetime import datetime

    from cx_core.declared_records import rows
    from cx_core.reading.reader import read

    snap = {"bookings": rows(answer)}
    assert snap["bookings"] == [{"id": "BK001", "status": "open"}]
    book = recipe_book.parse({"recipes": {"cancel": {"steps": [{"action": "cancel_booking", "args": {
        "booking_id": {"record": "bookings", "key": "id", "ask": "which booking?"}}}]}}})
    triage = _triage("cancel", "Please cancel my booking.")
    plan = recipes.plan(book, triage, snap, date(2026, 11, 20), "Please cancel my booking.", {},
                        reading=read("Please cancel my booking.", datetime(2026, 11, 20, 9), None, triage.requests))
    assert plan.steps[0].args == {"booking_id": "BK001"} and not plan.steps[0].missing


def test_an_object_with_a_list_of_its_own_stays_one_row() -> None:
    from cx_core.declared_records import rows

    bill = {"id": "B-1", "total": 80.0, "items": [{"kind": "plan", "amount": 60.0}, {"kind": "call", "amount": 20.0}]}
    assert rows(bill) == [bill] and rows(None) == [] and rows([]) == []


def test_a_template_lists_the_rows_a_read_found() -> None:
    """A bill explained from its lines: ``each(…)`` shows each row by the fields it names, ``a.b`` a field of
    every row; a row without one of them is left out, and no rows leave the sentence out."""
    from cx_core.wording import fill

    bill = {"period": "October 2026", "total": 78.2, "lines": [
        {"description": "Energy used in October", "amount": 54.2}, {"description": "Standing charge", "amount": 12.0},
        {"description": "Late payment fee", "amount": 12.0}, {"amount": 1.0}]}
    template = "Your bill for {result.period} comes to {result.total:money}: {result.lines:each(description amount:money)}."
    assert fill(template, {}, bill, currency="GBP") == ("Your bill for October 2026 comes to £78.20: Energy used in "
                                                        "October £54.20, Standing charge £12.00 and Late payment fee "
                                                        "£12.00.")
    assert fill("It lists {result.lines.description:list}.", {}, bill) == (
        "It lists Energy used in October, Standing charge and Late payment fee.")
    assert fill("Lines: {result.lines:each(description amount:money)}. Thanks.", {}, {"lines": []}) == "Thanks."


# ------------------------------------------------------------------ expressions as data
PLAN_BOOK = {"recipes": {
    "plan_change": {"steps": [{"action": "change_plan", "args": {
        "account_id": {"record": "accounts", "key": "id"},
        # "another plan": any plan other than the account's own, and the one the customer names among those
        "plan_code": {"record": "plans", "key": "code", "named_by": "plan",
                      "filter": "code != {@accounts.plan}", "ask": "which plan would you like?"}}}]},
    "bill_credit": {"steps": [{"action": "credit_bill", "args": {
        "bill_id": {"record": "bills", "key": "id", "newest_by": "issued"},
        # the latest bill's lines that are not the plan, summed, and at most what policy lets one credit be
        "amount": {"compute": "sum(max_by(bills, &issued).lines[?kind != 'plan'].amount)", "cap": 40,
                   "ask": "how much should be credited?"}}}]},
    "charge_dispute": {"steps": [{"action": "credit_bill", "args": {
        # the kind of line disputed, from the customer's words; then the bill that has such a line
        "reason": {"entity": "charge_kind", "ask": "which charge do you mean?"},
        "bill_id": {"record": "bills", "key": "id", "filter": "length(lines[?kind == {reason}]) > `0`",
                    "ask": "which bill is it on?"},
        "amount": {"compute": "sum(bills[?id == {bill_id}] | [0].lines[?kind == {reason}].amount)"}}}]},
}}
PLAN_SNAP = {
    "accounts": [{"id": "AC-1", "plan": "FIBRE500"}],
    "plans": [{"code": "FIBRE500", "name": "Fibre 500"}, {"code": "FIBRE900", "name": "Fibre 900"}],
    "bills": [{"id": "B-1", "issued": "2026-10-01", "lines": [{"kind": "plan", "amount": 30.0},
                                                             {"kind": "extra", "amount": 5.5}]},
              {"id": "B-2", "issued": "2026-11-01", "lines": [{"kind": "plan", "amount": 30.0},
                                                             {"kind": "call", "amount": 12.25},
                                                             {"kind": "router", "amount": 9.0}]}],
}


def _planned(intent: str, text: str, snap: dict[str, Any], **entities: Any) -> Any:
    from datetime import datetime

    from cx_core.reading.reader import read

    triage = _triage(intent, text, **entities)
    reading = read(text, datetime(2026, 11, 20, 9), None, triage.requests)
    return recipes.plan(recipe_book.parse(PLAN_BOOK), triage, snap, date(2026, 11, 20), text, {}, reading=reading)


def test_a_filter_keeps_only_the_rows_it_names_such_as_another_plan_than_the_current_one() -> None:
    [step] = _planned("plan_change", "Move me to the other plan please.", PLAN_SNAP).steps
    assert step.args == {"account_id": "AC-1", "plan_code": "FIBRE900"} and not step.missing
    # with no plan other than the account's own, there is nothing to choose: a person asks
    one = {**PLAN_SNAP, "plans": PLAN_SNAP["plans"][:1]}
    [step] = _planned("plan_change", "Move me to the other plan please.", one).steps
    assert "plan_code" not in step.args and step.missing


def test_an_amount_computed_from_the_records_is_summed_filtered_and_capped() -> None:
    [step] = _planned("bill_credit", "Please credit my latest bill.", PLAN_SNAP).steps
    assert step.args == {"bill_id": "B-2", "amount": 21.25}
    capped = {**PLAN_SNAP, "bills": [{**PLAN_SNAP["bills"][1], "lines": [{"kind": "call", "amount": 75.0}]}]}
    [step] = _planned("bill_credit", "Please credit my latest bill.", capped).steps
    assert step.args["amount"] == 40
    [step] = _planned("bill_credit", "Please credit my latest bill.", {**PLAN_SNAP, "bills": []}).steps
    assert "amount" not in step.args and step.missing


def test_a_filter_names_what_the_step_bound_before_its_record() -> None:
    book = {**PLAN_BOOK, "words": {"charge_kind": {"router": ["router"], "extra": ["extra", "add-on"]}}}
    from datetime import datetime

    from cx_core.reading.reader import read

    for text, bill, amount in (("You charged me for a router I never got.", "B-2", 9.0),
                               ("Please take the add-on off my bill.", "B-1", 5.5)):
        triage = _triage("charge_dispute", text)
        reading = read(text, datetime(2026, 11, 20, 9), None, triage.requests)
        [step] = recipes.plan(recipe_book.parse(book), triage, PLAN_SNAP, date(2026, 11, 20), text, {},
                              reading=reading).steps
        assert step.args["bill_id"] == bill and step.args["amount"] == amount and not step.missing, step


def test_a_value_from_the_records_can_never_change_what_an_expression_does() -> None:
    from cx_core import expressions

    hostile = {"@accounts": {"plan": "x' || `true` || '"}}
    assert expressions.with_values("code != {@accounts.plan}", hostile) == "code != 'x\\' || `true` || \\''"
    rows = [{"code": "FIBRE500"}, {"code": "x' || `true` || '"}]
    assert [r["code"] for r in rows if expressions.keeps("code != {@accounts.plan}", r, hostile)] == ["FIBRE500"]


def test_a_malformed_expression_is_one_line_naming_its_field() -> None:
    bad = {"recipes": {"x": {"steps": [{"action": "a", "args": {"amount": {"compute": "sum(bills[?"}}}]}}}
    with pytest.raises(ConfigError, match=r"recipes\.x\.steps\[0\]\.args\.amount\.compute: not a JMESPath"):
        recipe_book.parse(bad)


def test_a_superlative_picks_the_one_record_by_the_number_its_words_name() -> None:
    from cx_core.reading.records import superlative

    tariffs = [{"code": "FLEX", "kind": "variable", "gas_unit_rate": 5.1, "exit_fee": 0},
               {"code": "FIX12", "kind": "fixed", "gas_unit_rate": 5.8, "exit_fee": 75},
               {"code": "FIX24", "kind": "fixed", "gas_unit_rate": 6.0, "exit_fee": 75},
               {"code": "GREEN12", "kind": "fixed", "gas_unit_rate": 6.4, "exit_fee": 50}]
    text = "Please move my gas onto whichever of your fixed tariffs has the lowest gas unit rate."
    assert (superlative(text, tariffs) or {}).get("code") == "FIX12"  # the fixed ones only, by that rate
    assert (superlative("the one with the highest exit fee", tariffs) or {}).get("code") is None  # a tie: no guess
    goods = [{"name": "Tablet 64GB", "price": 299.0}, {"name": "Tablet 128GB", "price": "349.00"},
             {"name": "Tablet 32GB", "price": 199.0}]
    assert (superlative("exchange it for the cheapest one", goods) or {}).get("name") == "Tablet 32GB"
    assert (superlative("the most expensive model please", goods) or {}).get("name") == "Tablet 128GB"
    assert superlative("the lowest one", [{"name": "a"}, {"name": "b"}]) is None  # no number to compare
    assert superlative("please cancel both", goods) is None



def test_a_superlative_whose_words_name_no_field_finds_the_field_alike_in_meaning() -> None:
    """"the fixed deal that costs least to leave early" names no field by its words; by meaning it is the exit fee,
    well ahead of the rates. Where no field is well ahead, nothing is picked."""
    from cx_core.embedding import similar
    from cx_core.reading.records import superlative

    tariffs = [{"code": "FLEX", "kind": "variable", "gas_unit_rate": 5.1, "exit_fee": 0, "fixed_months": 0},
               {"code": "FIX12", "kind": "fixed", "gas_unit_rate": 5.8, "exit_fee": 75, "fixed_months": 12},
               {"code": "FIX24", "kind": "fixed", "gas_unit_rate": 6.0, "exit_fee": 150, "fixed_months": 24},
               {"code": "GREEN12", "kind": "fixed", "gas_unit_rate": 6.4, "exit_fee": 50, "fixed_months": 12}]
    text = "So put the gas on the fixed deal that costs least to leave early."
    assert superlative(text, tariffs) is None  # without meaning: no field named
    assert (superlative(text, tariffs, similar) or {}).get("code") == "GREEN12"
    assert superlative("whichever fixed one is the least bother", tariffs, similar) is None
    assert superlative("the fixed deal that lasts longest", tariffs, similar) is None  # alike to nothing enough


def test_an_ask_that_is_no_question_is_one_line_naming_its_field() -> None:
    bad = {"recipes": {"x": {"steps": [{"action": "a", "args": {"kind": {"entity": "kind",
                                                                         "ask": "whether it was late"}}}]}}}
    with pytest.raises(ConfigError, match=r"recipes\.x\.steps\[0\]\.args\.kind\.ask: is the question .* ask it, with a '\?'"):
        recipe_book.parse(bad)


def test_a_record_described_by_its_own_words_is_the_one_meant_and_none_described_is_left_to_a_person() -> None:
    described = {"bookings": [{**SNAP["bookings"][0], "trip": "Lisbon city break"},
                              {**SNAP["bookings"][1], "trip": "Alpine ski week"}]}
    book = recipe_book.parse({"recipes": {"cancel": BOOK["recipes"]["cancel"]}})
    for text, want in (("Please cancel the ski trip", "BK002"), ("Cancel the Lisbon one", "BK001"),
                       ("Cancel my city break, not the skiing", "BK001"), ("Cancel my booking please", None)):
        from datetime import datetime

        from cx_core.reading.reader import read

        triage = _triage("cancel", text)
        plan = recipes.plan(book, triage, described, date(2026, 11, 20), text, {},
                            reading=read(text, datetime(2026, 11, 20, 9), None, triage.requests))
        assert plan.steps[0].args.get("booking_id") == want, text


def test_a_record_bound_only_when_described_is_never_the_only_one_by_default() -> None:
    """``described: true``: a look-up of a booking for a question about it ("did the bags on my Dallas trip on 29
    October cost extra?") takes only the one the words name or narrow to; with one booking on the account and
    nothing described ("how many bags can I take?") it binds nothing, and asks nothing."""
    from datetime import datetime

    from cx_core.reading.reader import read

    one = {"bookings": [SNAP["bookings"][0]]}
    book = recipe_book.parse({"recipes": {"cancel": {"steps": [{"action": "cancel_booking", "args": {
        "booking_id": {"record": "bookings", "key": "id", "named_by": "booking_id", "described": True,
                       "narrow_by": ["dates"]}}}]}}})
    for text, dates, want in (("Please check the bags on my trip on 1 December.", ["2026-12-01"], "BK001"),
                              ("Please check how many bags I can take.", [], None)):
        triage = _triage("cancel", text, dates=dates)
        plan = recipes.plan(book, triage, one, date(2026, 11, 20), text, {},
                            reading=read(text, datetime(2026, 11, 20, 9), None, triage.requests))
        assert (plan.steps[0].args.get("booking_id") if plan.steps else None) == want, text
        assert not plan.questions, text


def test_a_clause_keeping_the_other_record_as_it_is_leaves_the_request_its_own_record_and_value() -> None:
    """"Switch my gas to Fixed 24 please; the electric can stay on Flex": the request names the gas account and Fixed
    24 in its own clause; the clause that keeps the electricity neither names another record for it nor takes it
    back."""
    from datetime import datetime

    from cx_core.reading import guard
    from cx_core.reading.reader import read

    book = recipe_book.parse({
        "words": {"fuel": {"electricity": ["electricity", "electric"], "gas": ["gas"]},
                  "tariff": {"FLEX": ["flex"], "FIX24": ["fixed 24"]}},
        "recipes": {"tariff_change": {"steps": [{"action": "change_tariff", "args": {
            "account_id": {"record": "accounts", "key": "id", "narrow_by": ["fuel"], "pick": "each"},
            "tariff_code": {"entity": "tariff"}}}]}}})
    snap = {"accounts": [{"id": "E-1", "fuel": "electricity", "tariff": "FLEX"},
                         {"id": "G-1", "fuel": "gas", "tariff": "FLEX"}]}
    text = "Switch my gas to Fixed 24 please; the electric can stay on Flex."
    triage = _triage("tariff_change", text)
    reading = read(text, datetime(2026, 11, 20, 9), None, triage.requests)
    plan = guard.apply(recipes.plan(book, triage, snap, date(2026, 11, 20), text, reading=reading), reading, snap)
    assert [(s.action, s.args) for s in plan.steps if not s.missing] == [
        ("change_tariff", {"account_id": "G-1", "tariff_code": "FIX24"})]


def test_a_condition_the_rules_check_does_not_hold_the_step_and_another_does() -> None:
    """"If it hasn't been sent yet, please cancel BK002": the action's own rules check that when it is proposed; "if
    my wife agrees" only a person can settle."""
    [met] = _plan("cancel", "If it hasn't been sent yet, please cancel BK002.").steps
    assert not met.held and not met.missing
    [held] = _plan("cancel", "If my wife agrees, please cancel BK002.").steps
    assert "condition" in held.held


def test_a_record_the_words_describe_else_another_binding_its_otherwise() -> None:
    """``otherwise``: "spread the October bill on its own" takes that bill's amount; "spread what I owe" names no
    bill, so the account's balance; a bill named of another account is never taken."""
    from datetime import datetime

    from cx_core.reading.reader import read

    book = recipe_book.parse({"recipes": {"payment_plan": {"steps": [{"action": "create_payment_plan", "args": {
        "account_id": {"record": "accounts", "key": "id"},
        "amount": {"record": "bills", "key": "id", "field": "outstanding", "described": True,
                   "filter": "account_id == {account_id}",
                   "otherwise": {"record": "accounts", "key": "id", "field": "balance"}}}}]}}})
    snap = {"accounts": [{"id": "G-1", "balance": 412.75}],
            "bills": [{"id": "B-9", "account_id": "G-1", "period": "September 2026", "issued_on": "2026-09-30",
                       "outstanding": 210.30},
                      {"id": "B-10", "account_id": "G-1", "period": "October 2026", "issued_on": "2026-10-31",
                       "outstanding": 202.45},
                      {"id": "B-11", "account_id": "E-7", "period": "November 2026", "issued_on": "2026-11-30",
                       "outstanding": 50.0}]}
    for text, want in (("Could the October bill on its own be split over four months?", 202.45),
                       ("Could what I owe be split over four months?", 412.75),
                       ("Could the November bill be split over four months?", 412.75)):
        triage = _triage("payment_plan", text)
        plan = recipes.plan(book, triage, snap, date(2026, 11, 20), text, {},
                            reading=read(text, datetime(2026, 11, 20, 9), None, triage.requests))
        assert plan.steps[0].args["amount"] == want, text
    with pytest.raises(ConfigError, match="otherwise"):
        recipe_book.parse({"recipes": {"x": {"steps": [{"action": "a", "args": {
            "n": {"entity": "amount", "otherwise": {"record": "accounts"}}}}]}}})


def test_the_first_record_falls_back_on_its_otherwise_when_it_cannot_be_chosen() -> None:
    """The flight a status question is about: one still to fly; else, ``otherwise``, a flown one the words narrow to
    ("look up my flight on the 12th"); neither: the question of the first binding."""
    from datetime import datetime

    from cx_core.reading.reader import read

    book = recipe_book.parse({"recipes": {"status": {"steps": [{"action": "get_status", "args": {
        "flight": {"record": "flights", "key": "number", "where": {"flown": False}, "narrow_by": ["dates"],
                   "ask": "which flight do you mean?",
                   "otherwise": {"record": "flights", "key": "number", "described": True, "narrow_by": ["dates"]}}}}]}}})
    snap = {"flights": [{"number": "F1", "date": "2026-11-12", "flown": True},
                        {"number": "F2", "date": "2026-11-14", "flown": True},
                        {"number": "F3", "date": "2026-12-01", "flown": False},
                        {"number": "F4", "date": "2026-12-03", "flown": False}]}
    for text, dates, want in (("Please look up my flight on the 12th.", ["2026-11-12"], "F1"),
                              ("Please look up my flight on 1 December.", ["2026-12-01"], "F3"),
                              ("Please look up my flight.", [], None)):
        triage = _triage("status", text, dates=dates)
        plan = recipes.plan(book, triage, snap, date(2026, 11, 20), text, {},
                            reading=read(text, datetime(2026, 11, 20, 9), None, triage.requests))
        assert plan.steps[0].args.get("flight") == want, text
        if want is None:
            assert plan.questions == {"status": "which flight do you mean?"}



def test_the_only_request_that_points_back_takes_the_record_the_message_describes() -> None:
    """"The ski week got snowed out. Please refund it": the refund's own words name no booking, "it" points at the one
    the message describes; "I'd like my money back" points at nothing and is asked which."""
    from datetime import datetime

    from cx_core.reading.reader import read

    trips = {"bookings": [{**SNAP["bookings"][0], "trip": "Lisbon city break"},
                          {**SNAP["bookings"][1], "trip": "Alpine ski week"}]}
    book = recipe_book.parse({"recipes": {"refund": {"steps": [{"action": "refund_booking", "args": {
        "booking_id": {"record": "bookings", "key": "id", "ask": "which booking?"}}}]}}})
    for said, want in (("Please refund it.", "BK002"), ("I'd like my money back please.", None)):
        text = f"The ski week got snowed out. {said}"
        triage = _triage("refund", said)
        plan = recipes.plan(book, triage, trips, date(2026, 11, 20), text, {},
                            reading=read(text, datetime(2026, 11, 20, 9), None, triage.requests))
        assert (plan.steps[0].args.get("booking_id") if plan.steps else None) == want, said


VISIT_BOOK = {"recipes": {
    "move_visit": {"steps": [{"action": "move_visit", "args": {
        "visit_id": {"record": "visits", "key": "id", "where": {"status": "booked"}, "ask": "which visit?"}}}]},
    "book_visit": {"steps": [{"action": "book_visit", "args": {"account_id": {"record": "accounts", "key": "id"}}}]},
}}


@pytest.mark.parametrize("visits, second, want", [
    ([], "book_visit", "book_visit"),  # no visit booked to move: the model's next reading, which can be done
    ([{"id": "V-1", "status": "done"}], "book_visit", "book_visit"),
    ([{"id": "V-1", "status": "booked"}], "book_visit", "move_visit"),  # a visit to move: as read
    ([], "", "move_visit"),  # no next reading close enough: as read, and the question asked
    ([], "payment_plan", "move_visit"),  # a next reading with no recipe
])
def test_a_request_to_change_a_record_the_customer_has_none_of_is_read_as_the_next_reading(
        visits: list[dict[str, Any]], second: str, want: str) -> None:
    """"Could an engineer come in the first week of January?" read as moving a visit when none is booked: the
    model's next reading (booking one) is taken, when its records are there; the ticket's type follows."""
    from datetime import datetime

    from cx_core.reading.reader import read

    text = "Could an engineer come on the 9th of December in the morning?"
    triage = Triage(task_type="move_visit", intent="move_visit", confidence=0.6, urgency="normal",
                    sentiment="neutral", language="en", entities={},
                    requests=[Request(intent="move_visit", text=text, confidence=0.6, second=second)])
    snap = {"accounts": [{"id": "E-1"}], "visits": visits}
    plan = recipes.plan(recipe_book.parse(VISIT_BOOK), triage, snap, date(2026, 11, 20), text, {},
                        reading=read(text, datetime(2026, 11, 20, 9), None, triage.requests))
    assert [s.action for s in plan.steps] == [want]
    assert triage.task_type == want and triage.requests[0].intent == want


def test_a_record_that_must_match_the_words_is_never_one_of_another_route_or_day() -> None:
    """``must_match``: the member's own flight only when it has one of the places and days the words give; else the
    ``otherwise`` (a flight someone else flies, on that route that day); neither: the first binding's question."""
    from datetime import datetime

    from cx_core.reading.reader import read

    book = recipe_book.parse({
        "routes": ["place"], "words": {"place": {"MIA": ["miami"], "ORD": ["chicago"], "DFW": ["dallas"]}},
        "recipes": {"status": {"steps": [{"action": "get_status", "args": {
            "flight": {"record": "flights", "key": "number", "narrow_by": ["place", "dates"],
                       "must_match": ["place", "dates"], "ask": "which flight do you mean?",
                       "otherwise": {"record": "schedule", "key": "number", "described": True,
                                     "narrow_by": ["place", "dates"], "must_match": ["place", "dates"]}}}}]}}})
    snap = {"flights": [{"number": "F1", "origin": "DFW", "destination": "JFK", "date": "2026-11-20"},
                        {"number": "F2", "origin": "MIA", "destination": "ORD", "date": "2026-12-01"}],
            "schedule": [{"number": "S9", "origin": "MIA", "destination": "ORD", "date": "2026-11-20"}]}
    for text, day, want in (("Please look up my father's flight from Miami to Chicago this evening.", "2026-11-20", "S9"),
                            ("Please look up my flight to Chicago on 1 December.", "2026-12-01", "F2"),
                            ("Please look up my flight this evening.", "2026-11-20", "F1"),
                            ("Please look up the Dallas flight on 3 December.", "2026-12-03", None)):
        triage = _triage("status", text, **book.entities(text, {"dates": [day]}))
        reading = read(text, datetime(2026, 11, 20, 9), None, triage.requests)
        plan = recipes.plan(book, triage, snap, date(2026, 11, 20), text, {}, reading=reading)
        assert plan.steps[0].args.get("flight") == want, text
        if want is None:
            assert plan.questions == {"status": "which flight do you mean?"}


@pytest.mark.parametrize(("text", "trip"), [
    ("I'm collecting my sister at the Miami airport; she's on your flight from Chicago.", ["ORD", "MIA"]),
    ("I need a flight to Chicago from Miami.", ["MIA", "ORD"]),
    ("Miami to Chicago, please.", ["MIA", "ORD"]),
    ("Flying out of Dallas into Chicago.", ["DFW", "ORD"]),
    ("Chicago, then Dallas.", ["ORD", "DFW"]),  # no word says which way: the order they are said
])
def test_places_a_pack_calls_a_route_are_read_in_the_order_of_the_trip(text: str, trip: list[str]) -> None:
    book = recipe_book.parse({"routes": ["place"], "recipes": {},
                              "words": {"place": {"MIA": ["miami"], "ORD": ["chicago"], "DFW": ["dallas"]}}})
    assert book.entities(text, {})["place"] == trip
    with pytest.raises(ConfigError, match="routes"):
        recipe_book.parse({"routes": ["city"], "recipes": {}, "words": {"place": {"MIA": ["miami"]}}})


@pytest.mark.parametrize(("text", "second", "want"), [
    # a question that also asks, in so many words, for the change: read as the kind that makes it
    ("Which of your plans would be cheapest for us, and could you move us onto it?", "plan_change", "plan_change"),
    # only a question, or asked to be told how: answered
    ("Which of your plans would be cheapest for us?", "plan_change", "plan_question"),
    ("Could you tell me how to change my plan?", "plan_change", "plan_question"),
    # no next reading that changes anything: answered as asked
    ("Which plan is cheapest, and could you move us onto it?", "", "plan_question"),
])
def test_a_question_that_also_asks_for_the_change_is_read_as_the_change(text: str, second: str, want: str) -> None:
    from datetime import datetime

    from cx_core.reading.reader import read

    triage = Triage(task_type="plan_question", intent="plan_question", confidence=0.6, urgency="normal",
                    sentiment="neutral", language="en", entities={},
                    requests=[Request(intent="plan_question", text=text, confidence=0.6, second=second)])
    recipes.plan(recipe_book.parse(PLAN_BOOK), triage, PLAN_SNAP, date(2026, 11, 20), text, {},
                 reading=read(text, datetime(2026, 11, 20, 9), None, triage.requests))
    assert triage.requests[0].intent == want and triage.task_type == want


def test_a_value_named_elsewhere_in_the_message_that_the_filter_refuses_is_not_the_one_chosen() -> None:
    """"We're on Fibre 500 now. … move us to the other one": the plan the account is on, named as what it is now,
    is never the new plan; named in the request itself, it is (the action then says why not)."""
    from datetime import datetime

    from cx_core.reading.reader import read

    def planned(text: str, request: str) -> Any:
        triage = _triage("plan_change", request, plan=["fibre500"])
        reading = read(text, datetime(2026, 11, 20, 9), None, triage.requests)
        return recipes.plan(recipe_book.parse(PLAN_BOOK), triage, PLAN_SNAP, date(2026, 11, 20), text, {},
                            reading=reading)

    request = "Please move us to the other plan."
    [step] = planned(f"We're on Fibre 500 at the moment. {request}", request).steps
    assert step.args["plan_code"] == "FIBRE900" and not step.missing


def test_a_superlative_weighs_the_words_around_it_and_never_guesses_between_fields_named_alike() -> None:
    from cx_core.reading.records import superlative

    tariffs = [{"code": "A", "electricity_unit_rate": 0.245, "gas_unit_rate": 0.058},
               {"code": "B", "electricity_unit_rate": 0.231, "gas_unit_rate": 0.062}]
    assert (superlative("Put my electricity on the one with the lowest unit rate.", tariffs) or {}).get("code") == "B"
    assert (superlative("Put my gas on the one with the lowest unit rate.", tariffs) or {}).get("code") == "A"
    assert superlative("Put me on the one with the lowest unit rate.", tariffs) is None  # which fuel: not a guess


@pytest.mark.parametrize(("said", "fee", "goes"), [
    ("as long as its exit fee is £100 or less", 75, True),
    ("as long as its exit fee is £100 or less", 150, False),
    ("provided the exit fee isn't higher than £75", 75, True),
    ("unless the exit fee is over £50", 75, False),
    ("only if the exit fee is under £50 per month", 25, None),  # measured by something else: a person decides
    ("as long as there is no fee", 0, None),  # no figure: a person decides
    ("if my partner agrees", 0, None),
    # against another record of the same kind, named after "than"
    ("only if its exit fee is lower than what I pay on Fibre 500", 75, True),
    ("only if its exit fee is lower than what I pay on Fibre 500", 120, False),
])
def test_a_condition_on_a_figure_of_the_record_is_settled_by_the_record(said: str, fee: int, goes: bool | None
                                                                      ) -> None:
    """"Move me to Fibre 900, as long as its exit fee is £100 or less": the plan's own exit fee settles it. Met, the
    step goes ahead with the figure; not met, it is not done and the reply says why; a condition the records cannot
    tell still waits for a person."""
    from datetime import datetime

    from cx_core.reading import guard
    from cx_core.reading.reader import read

    snap = {**PLAN_SNAP, "plans": [{**PLAN_SNAP["plans"][0], "exit_fee": 100}, {**PLAN_SNAP["plans"][1], "exit_fee": fee}]}
    text = f"Please move me to the other plan, {said}."
    triage = _triage("plan_change", text)
    reading = read(text, datetime(2026, 11, 20, 9), None, triage.requests)
    plan = guard.apply(recipes.plan(recipe_book.parse(PLAN_BOOK), triage, snap, date(2026, 11, 20), text, {},
                                    reading=reading), reading, snap)
    if goes is None:
        assert [s.held for s in plan.steps] and all(s.held for s in plan.steps)
    elif goes:
        [step] = plan.steps
        assert step.args["plan_code"] == "FIBRE900" and not step.held and f"exit fee is {'£' if '£' in said else ''}{fee}" \
            in step.rationale
    else:
        assert not plan.steps and f"the exit fee is {'£' if '£' in said else ''}{fee}" in plan.answers["plan_change"]


def test_the_rest_of_a_figure_is_what_is_left_once_a_step_said_before_takes_its_part_off() -> None:
    """"I'm asking for the £12 fee to come off my bill. Once it's off, can the rest be spread over four months?": the
    plan spreads what is left once the credit planned before it is taken off; without "the rest", the whole."""
    from datetime import datetime

    from cx_core.reading.reader import read

    book = {"recipes": {
        "fee": {"steps": [{"action": "credit_bill", "args": {
            "bill_id": {"record": "bills", "key": "id", "where": {"late_fee": {"not": 0}}},
            "amount": {"record": "bills", "key": "id", "field": "late_fee", "where": {"late_fee": {"not": 0}}}}}]},
        "plan": {"steps": [{"action": "make_plan", "args": {
            "account_id": {"record": "accounts", "key": "id"},
            "amount": {"record": "accounts", "key": "id", "field": "balance"}}}]}}}
    snap = {"accounts": [{"id": "E-1", "customer_id": "C-1", "balance": 96.4}],
            "bills": [{"id": "B-1", "account_id": "E-1", "customer_id": "C-1", "late_fee": 12.0}],
            "other": [{"id": "X-1", "customer_id": "C-1", "amount": 5.0}]}
    for plan_words, want in (("Once it's off, can the rest be spread over four months?", 84.4),
                             ("Can the bill be spread over four months?", 96.4)):
        text = f"Please take the £12 late fee off my bill. {plan_words}"
        triage = Triage(task_type="fee", intent="fee", confidence=0.9, urgency="normal", sentiment="neutral",
                        language="en", entities={}, requests=[
                            Request(intent="fee", text="Please take the £12 late fee off my bill.", confidence=0.9),
                            Request(intent="plan", text=plan_words, confidence=0.9)])
        steps = recipes.plan(recipe_book.parse(book), triage, snap, date(2026, 11, 20), text, {},
                             reading=read(text, datetime(2026, 11, 20, 9), None, triage.requests)).steps
        assert [s.args["amount"] for s in steps] == [12.0, want]


def test_a_day_said_as_a_shift_counts_from_the_one_the_record_has_now() -> None:
    """Northwind's ``day: {said: true, now: "{@accounts.payment_day}"}``: "a week earlier than at present" on an
    account whose Direct Debit is taken on the 15th is the 8th; with no day on the record it is asked, not guessed."""
    from datetime import datetime

    from cx_core import packs
    from cx_core.domain import DEFAULT_DOMAIN, find
    from cx_core.reading.reader import read

    pack = packs.use(find("northwind"))
    try:
        book = recipe_book.load(pack.root / "recipes.yaml")
        asked = "Can my electricity Direct Debit be taken a week earlier than at present?"
        text = f"New job, new payday - it's now the 7th. {asked}"
        triage = _triage("payment_date", asked)
        reading = read(text, datetime(2026, 11, 20, 9), packs.reading(pack), triage.requests)
        account = {"id": "E-1", "status": "active", "fuel": "electricity", "payment_day": 15}
        [step] = recipes.plan(book, triage, {"accounts": [account]}, date(2026, 11, 20), text, {},
                              reading=reading).steps
        assert step.args == {"account_id": "E-1", "day": 8} and not step.missing
        unknown = {k: v for k, v in account.items() if k != "payment_day"}
        [step] = recipes.plan(book, triage, {"accounts": [unknown]}, date(2026, 11, 20), text, {},
                              reading=reading).steps
        assert "day" not in step.args and step.missing
    finally:
        packs.use_named(DEFAULT_DOMAIN)


@pytest.mark.parametrize(("text", "waits"), [
    # only tells, as the background of what is asked: a person decides
    ("BK002 runs more slowly than I'd like, so I made another booking.", True),
    ("Please cancel BK002.", False),
    ("You charged me twice for BK002.", False),  # a wrong claimed: the records and the rules decide
])
def test_a_write_read_with_little_confidence_from_words_that_ask_for_nothing_waits(text: str, waits: bool) -> None:
    from datetime import datetime

    from cx_core.plans import Step
    from cx_core.reading import guard
    from cx_core.reading.reader import read

    asked = "Please refund me for the other one."
    message = f"{text} {asked}"
    requests = [Request(intent="cancel", text=text, confidence=0.6), Request(intent="refund", text=asked,
                                                                             confidence=0.99)]
    triage = Triage(task_type="cancel", intent="cancel", confidence=0.6, urgency="normal", sentiment="neutral",
                    language="en", entities={}, requests=requests)
    reading = read(message, datetime(2026, 11, 20, 9), None, triage.requests)
    plan = recipes.plan(recipe_book.parse(BOOK), triage.model_copy(update={"requests": requests[:1]}), SNAP,
                        date(2026, 11, 20), message, {}, reading=reading)
    plan.steps.append(Step("refund", {"amount": 5}, "refund", "asked"))  # what the message asks for, elsewhere
    step = guard.apply(plan, reading, SNAP).steps[0]
    assert ("something else" in step.held) is waits, step
    alone = recipes.plan(recipe_book.parse(BOOK), triage.model_copy(update={"requests": requests[:1]}), SNAP,
                         date(2026, 11, 20), text, {}, reading=read(text, datetime(2026, 11, 20, 9), None,
                                                                     requests[:1]))
    assert not guard.apply(alone, read(text, datetime(2026, 11, 20, 9), None, requests[:1]), SNAP).steps[0].held


@pytest.mark.parametrize(("sentence", "met"), [
    ("If I somehow managed to order another kettle, please cancel that one.", True),
    ("if we booked a second kettle by mistake, cancel it", True),
    ("If I ordered the wrong size, please exchange it.", None),  # what was wrong with it: the records cannot tell
    ("If I ordered another toaster, please cancel it.", None),  # the record found holds no toaster
    ("If the kettle arrives late, please cancel it.", None),  # not a condition on its making
])
def test_a_condition_that_the_record_was_made_is_settled_by_the_record_the_step_found(sentence: str,
                                                                                       met: bool | None) -> None:
    from cx_core.reading import bounds
    from cx_core.reading.language import qualifiers
    from cx_core.reading.types import Words

    order = {"order_id": "#W1", "items": [{"name": "Electric Kettle", "options": {"colour": "white"}}]}
    condition = qualifiers(Words(text=sentence, start=0, end=len(sentence))).condition
    assert condition is not None
    found = bounds.made(condition.text, [order])
    assert (found[0] if found else None) is met
    assert bounds.on_making(sentence) is (met is not None or "wrong size" in sentence or "toaster" in sentence)


@pytest.mark.parametrize(("told", "waits"), [
    ("BK002 turned up on my account last week.", True),  # only asks whether it is wrong: a person checks
    ("Please cancel BK002.", False),
])
def test_a_write_whose_record_the_customer_only_asks_about_waits(told: str, waits: bool) -> None:
    from datetime import datetime

    from cx_core.reading import guard
    from cx_core.reading.reader import read

    asked = "Has BK002 been booked twice?"
    requests = [Request(intent="cancel", text=told, confidence=0.95),
                Request(intent="question", text=asked, confidence=0.95)]
    triage = Triage(task_type="cancel", intent="cancel", confidence=0.95, urgency="normal", sentiment="neutral",
                    language="en", entities={}, requests=requests)
    reading = read(f"{told} {asked}", datetime(2026, 11, 20, 9), None, requests)
    plan = recipes.plan(recipe_book.parse(BOOK), triage.model_copy(update={"requests": requests[:1]}), SNAP,
                        date(2026, 11, 20), f"{told} {asked}", {}, reading=reading)
    [step] = guard.apply(plan, reading, SNAP).steps
    assert ("asks whether" in step.held) is waits, step


def test_a_count_follows_from_what_a_month_may_take_when_none_is_said() -> None:
    """"About £25 a month is what I can manage" is the most a month may take; a `said` count with `per:` divides the
    argument it names by it, rounding up. Only a said binding may take `per`."""
    from datetime import UTC, datetime

    from cx_core.reading import arguments, reader

    def month(text: str) -> float | None:
        return arguments.a_month(reader.read(text, datetime(2026, 11, 20, 9, tzinfo=UTC)))

    assert month("About £25 a month is what I can manage. Split it into as few payments as possible.") == 25.0
    assert month("Could I pay it off in monthly payments of no more than £30?") == 30.0
    assert month("I owe £96.40 and can pay £20 now.") is None  # no amount a month
    assert month("£25 a month, or £30 per month if I must.") is None  # two: not a guess
    bad = {"recipes": {"x": {"steps": [{"action": "a", "args": {"n": {"const": 3, "per": "amount"}}}]}}}
    with pytest.raises(ConfigError, match=r"recipes\.x\.steps\[0\]\.args\.n\.per: only a said count"):
        recipe_book.parse(bad)


@pytest.mark.parametrize("text, parts", [
    ("We move out at the end of March and the account should be paid off by then. Could you spread it over as many "
     "monthly payments as fit in before we leave?", 4),  # written in November: December to March
    ("Spread it over as many instalments as you can before the end of June, please.", 7),
    ("Please split it into as many payments as possible.", None),  # no month to count to: asked, not guessed
    ("We move out at the end of March. Could you spread it over six months?", None),  # a count said is read as said
    ("About £25 a month is what I can manage.", 4),  # £96.40 at most £25 a month
])
def test_as_many_monthly_parts_as_fit_before_a_month_named_count_the_months_left(text: str, parts: int | None) -> None:
    from datetime import UTC, datetime

    from cx_core.reading import arguments, reader

    assert arguments.parts(reader.read(text, datetime(2026, 11, 20, 9, tzinfo=UTC)), 96.40) == parts

