"""Lumen's product words live in its catalogue file: a team adds a customer's word there, not in code."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cx_core.errors import ConfigError
from domains.lumen import order_requests
from domains.lumen.order_requests import interpret

LAMPS = [{"item_id": "L-1", "options": {"color": "white"}, "available": True, "price": 40.0},
         {"item_id": "L-2", "options": {"color": "black"}, "available": True, "price": 30.0}]
HOME = {"address1": "1 Main Street", "address2": "", "city": "Austin", "state": "TX", "country": "USA",
        "zip": "78701"}


def snap() -> dict[str, Any]:
    lamp = {"item_id": "L-1", "product_id": "lamp", "name": "Desk Lamp", "price": 40.0,
            "options": {"color": "white"}, "status": "ordered"}
    return {"profile": {"user_id": "ana_lee_1234", "address": HOME},
            "orders": [{"order_id": "#W1000001", "status": "delivered", "items": [lamp], "address": HOME,
                        "variants": {"L-1": LAMPS},
                        "payments": [{"type": "payment", "amount": 40.0, "method": "credit_card_1"}]}],
            "payment_methods": [{"id": "credit_card_1", "source": "credit_card", "brand": "visa",
                                 "last_four": "1111"}]}


@pytest.fixture
def catalogue_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the shipped catalogue file that the reader uses instead, for this test only."""
    copy = tmp_path / "catalogue.yaml"
    shutil.copy(order_requests.CATALOGUE_FILE, copy)
    monkeypatch.setattr(order_requests, "CATALOGUE_FILE", copy)
    order_requests.catalogue.cache_clear()
    yield copy
    order_requests.catalogue.cache_clear()  # the next test reads the shipped file again


def test_an_alias_added_to_the_file_names_the_product(catalogue_copy: Path) -> None:
    text = "Please return the reading light from order #W1000001."
    before = interpret(text, snap())
    assert not before.steps and before.unsure  # "reading light" names nothing the customer has

    catalogue_copy.write_text(catalogue_copy.read_text(encoding="utf-8").replace(
        "aliases:\n", "aliases:\n  desk lamp: [reading light]\n", 1), encoding="utf-8")
    order_requests.catalogue.cache_clear()

    after = interpret(text, snap())
    assert after.steps == [("return_items", {"order_id": "#W1000001", "item_ids": ["L-1"],
                                             "payment_method_id": "credit_card_1"},
                            "the customer asked to return Desk Lamp")]


def test_the_shipped_file_reads() -> None:
    words = order_requests.load_catalogue(order_requests.CATALOGUE_FILE)
    assert "kindle" in words.aliases["e-reader"]
    assert words.size_words["extra large"] == "XL" and words.size_order[0] == "XS"


@pytest.mark.parametrize(("edit", "names"), [
    (lambda t: t.replace("bicycle: [bike]", "bicycle: [bike", 1), "line"),  # broken YAML
    (lambda t: t.replace("[tshirt, t shirt, tee]", "tee", 1), "aliases.t-shirt"),
    (lambda t: t.replace("medium: M", "medium: M\n  medium: L", 1), "twice"),
    (lambda t: t.replace("  large: L", "  large: XXXL", 1), "sizes.large"),
    (lambda t: t.replace("generic_words: [smart,", "generic_words: [smart watch,", 1), "generic_words[0]"),
    (lambda t: t.replace("size_order:", "sizes_order:", 1), "sizes_order"),
    (lambda t: t.replace("bicycle: [bike]", "bicycle: [yes]", 1), "aliases.bicycle[0]"),
])
def test_a_malformed_file_is_one_line_naming_the_file_and_the_key(catalogue_copy: Path, edit: Any,
                                                                   names: str) -> None:
    catalogue_copy.write_text(edit(catalogue_copy.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        interpret("Please return the lamp from order #W1000001.", snap())
    message = str(err.value)
    assert str(catalogue_copy) in message and names in message and "\n" not in message
