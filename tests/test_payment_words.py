"""The words customers use for their saved payment methods, read by the engine for every pack."""

from __future__ import annotations

import pytest

from cx_core.reading import paying
from cx_core.reading.arguments import ruled_out_in_words

METHODS = [{"id": "credit_card_1234567", "source": "credit_card", "brand": "visa", "last_four": "3261"},
           {"id": "credit_card_7654321", "source": "credit_card", "brand": "mastercard", "last_four": "1357"},
           {"id": "gift_card_7219486", "source": "gift_card", "balance": 80.0, "last_four": "9486"},
           {"id": "paypal_5558888", "source": "paypal"}]


@pytest.mark.parametrize(("text", "kinds"), [
    ("Put it on my gift card rather than PayPal.", ["gift_card"]),
    ("Use my Amex please.", ["credit_card"]),
    ("Refund it to the card I paid with.", ["credit_card"]),
    ("Could I pay with a voucher?", ["certificate"]),
    ("Not PayPal.", []),
])
def test_the_kinds_of_method_named_and_not_set_aside(text: str, kinds: list[str]) -> None:
    assert paying.kinds_named(text) == kinds


def test_ids_written_out_are_the_customers_own_or_a_strangers() -> None:
    own, strangers = paying.ids_written("Use gift_card_7219486, not paypal_0000001.", METHODS)
    assert own == ["gift_card_7219486"] and strangers == ["paypal_0000001"]


def test_a_card_is_named_by_its_brand_in_any_spelling_and_never_where_it_is_ruled_out() -> None:
    assert [m["id"] for m in paying.brand_said("charge my Master Card", METHODS)] == ["credit_card_7654321"]
    text = "Do NOT charge the Mastercard you have on file; use the Visa."
    named = [m["id"] for m in METHODS if paying.where_named(text, m, ruled_out_in_words)]
    assert named == ["credit_card_1234567"]
    assert [paying.name(m) for m in METHODS] == ["Visa", "Mastercard", "gift card", "PayPal"]


def test_last_four_digits_name_a_method_unless_set_aside() -> None:
    text = "the Visa ending 3261, not the one ending 1357"
    assert [m["id"] for m in paying.by_last_four(text, METHODS, ruled_out_in_words)] == ["credit_card_1234567"]


def test_every_method_of_a_kind_is_taken_when_the_words_say_both_or_all() -> None:
    gift = METHODS[2]
    assert paying.every_one("use both my gift cards first, the rest on my Mastercard", gift)
    assert paying.every_one("put all of my gift cards towards it", gift)
    assert not paying.every_one("insurance for both of us; pay with my $80 gift card", gift)
