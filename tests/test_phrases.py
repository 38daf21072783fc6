"""A pack's phrases are read as English: other spellings and plurals, any form of "be", "have" or "get", a few
words before such a verb; never across a negation, a clause's end, a tense or a noun made of the verb."""

import pytest

from cx_core.reading import phrases

TEXT = ("My Denver to Chicago flight on Tuesday has been cancelled, and both of my flights this month were "
        "cancelled. Can you cancel it? The other flight was not cancelled. A new bag to York. The flight was, "
        "in the end, cancelled")


@pytest.mark.parametrize("phrase, said", [
    ("flight has been cancelled", ["flight on Tuesday has been cancelled", "flights this month were cancelled"]),
    ("flight got canceled", ["flight on Tuesday has been cancelled", "flights this month were cancelled"]),
    ("you cancelled", []),  # "can you cancel it" asks; it does not tell
    ("cancellation", []),
    ("new york", []),  # words of a name stand together
    ("can you cancel", ["Can you cancel"]),
    ("flights", ["flight", "flights", "flight", "flight"]),
])
def test_a_phrase_is_found_in_its_other_forms_and_nowhere_else(phrase: str, said: list[str]) -> None:
    assert [TEXT[s:e] for s, e in phrases.find(phrase, TEXT)] == said


def test_a_phrase_with_signs_is_matched_as_written_and_first_says_where() -> None:
    assert phrases.find("AT&T", "my AT&T bill") == [(3, 7)]
    assert phrases.first(["was cancelled", "delayed"], "It was delayed, then it was cancelled") == 7
    assert phrases.first(["refund"], "nothing here") is None


def test_a_number_meets_its_unit_joined_or_apart() -> None:
    """"change the 7 kW charger to the 11 kW one": the options "7kW" and "11kW" are said."""
    assert phrases.spaced("11kw") == {"11kw", "11 kw"} and "11kw" in phrases.spaced("11 kw")
    assert phrases.has("please change the 7 kW charger to the 11 kW one", "11kW")
    assert phrases.has("the 11kW one", "11kW") and not phrases.has("the 11 kettles", "11kW")


def test_a_number_word_before_its_unit_is_its_digit() -> None:
    """A catalogue writes "2-pack" and "6 ft": "the two-pack", "a six foot cable" name them."""
    assert phrases.normal("The two-pack and a six foot cable") == "the 2-pack and a 6 ft cable"
    assert phrases.has("a three-piece set please", "3-piece") and not phrases.has("someone said", "1 piece")
    assert phrases.flat("Wi-Fi (2.4GHz) + 5%") == "wi fi 2.4ghz + 5%"
