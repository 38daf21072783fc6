"""Qualifiers: the words that narrow, bound or condition a request are found by kind, set phrases are not, and a
reading's binding says which it used."""

from __future__ import annotations

import re

import pytest

from cx_core import qualifiers as q


@pytest.mark.parametrize("text, kind, words", [
    ("Please return everything from order #W1 but the lamp.", q.EXCEPTION, "everything from order #W1 but"),
    ("Return all items except for the pet bed.", q.EXCEPTION, "except for"),
    ("I want the best one I can get for what I paid.", q.BOUND, "for what I paid"),
    ("I want the best one I can get for what I paid.", q.SUPERLATIVE, "best"),
    ("Change it if it costs more than $300.", q.BOUND, "more than $300"),
    ("Change it if it costs more than $300.", q.CONDITION, "if"),
    ("Saturday afternoon suits me.", q.TIME_OF_DAY, "afternoon"),
    ("Any time after 2pm works.", q.TIME_OF_DAY, "after 2pm"),
    ("Please cancel both of the orders.", q.QUANTITY, "cancel both of"),
])
def test_each_kind_is_found(text: str, kind: str, words: str) -> None:
    assert words in [x.words for x in q.find(text) if x.kind == kind]


@pytest.mark.parametrize("text", ["Best regards, Ana", "It is for my best friend's birthday.", "by Friday at the latest",
                                  "Most importantly, it arrived broken.", "The address is in one of the orders.",
                                  "I want to return it, but the box is damaged.",
                                  "I booked it within 24 hours."])
def test_set_phrases_and_plain_conjunctions_are_no_qualifiers(text: str) -> None:
    assert q.find(text) == []


def test_an_exception_is_cut_where_it_starts() -> None:
    assert q.split_exception("Return everything but the lamp") == ("Return everything ", " the lamp")
    assert q.split_exception("Return the lamp, but the box is damaged") is None


def test_a_binding_covers_the_kinds_and_spans_it_used() -> None:
    text = "Move the visit to Saturday afternoon, the cheapest slot please."
    used = q.Binding()
    used.uses(re.compile(r"afternoon"), text)
    assert [x.words for x in q.unbound(text, used)] == ["cheapest"]
    assert q.unbound(text, q.Binding(kinds={q.SUPERLATIVE, q.TIME_OF_DAY})) == []
    assert q.need(q.unbound(text, used)) == "a person to apply what the customer said (“cheapest”: superlative)"


def test_a_greeting_is_no_time_of_day() -> None:
    from cx_core import qualifiers

    assert not qualifiers.find("Good morning, could I move my flight?", qualifiers.PATTERNS)
    assert not qualifiers.find("Good evening. Please move it to Friday.", qualifiers.PATTERNS)
    assert [q.words for q in qualifiers.find("Good morning, could they come in the morning?", qualifiers.PATTERNS)] \
        == ["morning"]
