"""Which variant of a thing the words describe, read by the engine for any catalogue: a shop no pack ships (tents,
in person sizes and colours, and a rope in metres), its words given as data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from cx_core.reading import options
from cx_core.reading.options import Impossible, Unsure


@dataclass(frozen=True)
class Words:
    value_words: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"olive": ("khaki", "army green")})
    size_words: dict[str, str] = field(default_factory=lambda: {"small": "S", "medium": "M", "large": "L"})
    size_order: tuple[str, ...] = ("S", "M", "L")
    size_pattern: str = r"\b(small|medium|large|s|m|l)(?: |-)?sized?\b|\bsize (?:of )?([a-z0-9.]+)\b"


WORDS = Words()
TENT = {"item_id": "T-2-OLIVE", "name": "Trail Tent", "options": {"capacity": "2 person", "color": "olive"}}


def _variant(item_id: str, capacity: str, color: str, price: float, available: bool = True) -> dict[str, Any]:
    return {"item_id": item_id, "options": {"capacity": capacity, "color": color}, "price": price,
            "available": available}


TENTS = [_variant("T-2-OLIVE", "2 person", "olive", 120), _variant("T-2-ORANGE", "2 person", "orange", 110),
         _variant("T-3-OLIVE", "3 person", "olive", 150), _variant("T-4-OLIVE", "4 person", "olive", 190),
         _variant("T-4-ORANGE", "4 person", "orange", 180, available=False)]


def _pick(words: str, strict: bool = False) -> str:
    return str(options.target_variant(words, TENT, TENTS, WORDS, strict=strict)["item_id"])


@pytest.mark.parametrize(("words", "expected"), [
    ("the orange one please", "T-2-ORANGE"),  # a value by itself; the capacity not spoken of stays
    ("a 4 person one instead", "T-4-OLIVE"),
    ("one that sleeps one more person", None),  # no option of that name: not guessed
    ("a slightly bigger capacity", "T-3-OLIVE"),  # the nearest above the current one
    ("the maximum capacity", "T-4-OLIVE"),
    ("the cheapest one", "T-2-ORANGE"),
    ("T-3-OLIVE", "T-3-OLIVE"),  # a variant's own id
])
def test_a_variant_is_the_one_the_words_describe(words: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(Unsure):
            _pick(words)
    else:
        assert _pick(words) == expected


def test_what_is_sold_out_or_already_had_is_impossible_with_a_question() -> None:
    with pytest.raises(Impossible):
        _pick("a 4 person one in orange")  # the only one is not available
    with pytest.raises(Impossible) as already:
        _pick("I wanted it in khaki")  # the other word for olive, which it already is
    assert already.value.ask


def test_a_preference_only_breaks_ties_and_indifference_frees_an_option() -> None:
    assert _pick("a 4 person one, ideally orange rather than olive") == "T-4-OLIVE"  # the orange is sold out
    assert _pick("a 2 person one, preferably orange") == "T-2-ORANGE"
    assert _pick("a 3 person tent, I don't care about the color") == "T-3-OLIVE"


def test_a_size_step_reads_the_catalogue_order() -> None:
    shirt = {"item_id": "S-M", "name": "Shirt", "options": {"size": "M"}}
    shirts = [{"item_id": f"S-{s}", "options": {"size": s}, "price": 20, "available": True} for s in "SML"]
    assert options.target_variant("one size bigger", shirt, shirts, WORDS)["item_id"] == "S-L"
    assert options.target_variant("a size down", shirt, shirts, WORDS)["item_id"] == "S-S"
    big = {"item_id": "S-L", "name": "Shirt", "options": {"size": "L"}}
    with pytest.raises(Unsure):
        options.target_variant("one size bigger", big, shirts, WORDS)
    assert options.target_variant("a large size", shirt, shirts, WORDS)["item_id"] == "S-L"  # a size word of the data


@dataclass(frozen=True)
class Catalogue:
    aliases: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"trail tent": ("pup tent",)})
    generic: frozenset[str] = frozenset({"trail", "smart"})
    size_words: dict[str, str] = field(default_factory=lambda: {"large": "L"})


def test_a_thing_is_named_strongly_weakly_or_typed_fast_by_the_catalogues_words() -> None:
    from cx_core.reading import naming

    names = naming.Names(Catalogue())
    assert names.strength("my pup tent leaks", "Trail Tent") == 2  # another name of it, from the data
    assert names.strength("the tent leaks", "Trail Tent") == 1  # a distinctive word of its name
    assert names.strength("the trail was muddy", "Trail Tent") == 0  # a word the catalogue calls generic
    assert names.several("both tents leak", "Trail Tent") and not names.several("the tent leaks", "Trail Tent")
    assert naming.typed_fast("my cfofee machine", "Coffee Machine") and not naming.typed_fast("a coffee mug", "Coffee Machine")
    assert names.option_words({"size": "L", "color": "olive"}, "the large olive one") == 2


SPEAKER = {"item_id": "SPK-S-WHITE", "name": "Shelf Speaker", "options": {"size": "small", "color": "white"}}
SPEAKERS = [{"item_id": f"SPK-{s[0].upper()}-{c.upper()}", "options": {"size": s, "color": c}, "price": p,
             "available": True} for s, c, p in [("small", "white", 60), ("large", "white", 90), ("large", "grey", 90),
                                                ("small", "grey", 60)]]


@pytest.mark.parametrize(("words", "expected"), [
    ("swap it for the big one", "SPK-L-WHITE"),  # everyday words for a value: big is large, the colour stays
    ("the big one in gray", "SPK-L-GREY"),  # either spelling of grey
])
def test_everyday_words_for_a_value_name_it_in_any_catalogue(words: str, expected: str) -> None:
    assert options.target_variant(words, SPEAKER, SPEAKERS, Words(value_words={}))["item_id"] == expected
    big = {**SPEAKER, "item_id": "SPK-L-WHITE", "options": {"size": "large", "color": "white"}}
    assert options.target_variant("the little one", big, SPEAKERS, Words(value_words={}))["item_id"] == "SPK-S-WHITE"
