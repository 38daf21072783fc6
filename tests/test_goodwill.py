"""Money off a customer asks for: within the knowledge base's limits it is proposed as a refund on the order; more
waits for a supervisor with the reason; words that ask none propose none."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cx_core.models import Request, Triage
from cx_core.reading import language
from domains.lumen.goodwill import money_off

TODAY = date(2026, 11, 20)


def _snap() -> dict[str, Any]:
    tv = {"item_id": "TV-65", "name": "Smart TV", "price": 700.0, "status": "ordered", "options": {}}
    return {"profile": {"user_id": "ana_lee_1234"}, "orders": [
        {"order_id": "#W1000001", "status": "delivered", "items": [tv], "payments": []}]}


def _triage(*kinds: str, text: str) -> Triage:
    return Triage(task_type=kinds[0], intent=kinds[0], confidence=0.9, sentiment="neutral", urgency="normal",
                  language="en", requests=[Request(intent=k, text=text, confidence=0.9) for k in kinds])


@pytest.mark.parametrize("text, amount", [
    ("If you can take $75 off the price I'll live with the mark.", 75.0),
    ("Honestly I think a $20 credit for the trouble would be fair.", 20.0),
    ("Could I have a partial refund of $40.50 instead?", 40.5),
    ("I paid $350 for it.", None),
    ("I don't want a $20 credit, I want it fixed.", None),
])
def test_the_money_off_the_words_ask_for(text: str, amount: float | None) -> None:
    assert language.money_off(text) == amount


def test_a_partial_refund_for_cosmetic_damage_within_a_fifth_of_the_price_goes_to_the_order() -> None:
    text = "There's a scuff on the frame of the Smart TV. If you can take $75 off the price I'll keep it."
    step, settles = money_off(_triage("damaged_item", text=text), _snap(), TODAY, text)
    assert (step.action, step.args["order_id"], step.args["amount"], step.held) == ("refund", "#W1000001", 75.0, "")
    assert settles == {"damaged_item"}
    over = "There's a scuff on the Smart TV. Take $200 off and I'll keep it."
    step, _ = money_off(_triage("damaged_item", text=over), _snap(), TODAY, over)
    assert "20 %" in step.held and "supervisor" in step.held


def test_goodwill_for_a_complaint_up_to_its_limit() -> None:
    text = "I want to complain about how the Smart TV was delivered. A $20 credit would be fair."
    step, _ = money_off(_triage("complaint", text=text), _snap(), TODAY, text)
    assert step.args["amount"] == 20.0 and not step.held
    more = "I want to complain about how the Smart TV was delivered. A $60 credit would be fair."
    step, _ = money_off(_triage("complaint", text=more), _snap(), TODAY, more)
    assert "supervisor" in step.held


def test_no_money_off_asked_or_no_order_of_that_kind_proposes_nothing() -> None:
    text = "The Smart TV arrived scratched, please replace it."
    assert money_off(_triage("damaged_item", text=text), _snap(), TODAY, text) is None
    asked = "Take $20 off my next order please."
    assert money_off(_triage("order_status", text=asked), _snap(), TODAY, asked) is None
