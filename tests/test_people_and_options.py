"""The engine reads the people a message names, who goes along, the things a customer takes or declines and the
things they count, for every pack, relative to the day the message was written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest

from cx_core import domain, packs
from cx_core.domain import find
from cx_core.reading import people, phrases
from cx_core.reading.reader import Vocabulary, facts
from cx_core.recipe_book import Book

WRITTEN = date(2026, 11, 20)


@pytest.mark.parametrize("text, want", [
    ("Please book Alex Lee, born 12 May 1990, and Sam Kay (DOB 1988-02-03).",
     [("Alex", "Lee", "1990-05-12"), ("Sam", "Kay", "1988-02-03")]),
    ("my wife Jane Doe, date of birth: March 3, 1985, travels with me",
     [("Jane", "Doe", "1985-03-03")]),
    ("Ann Marie Ray who was born on 4/7/2001", [("Ann", "Marie Ray", "2001-04-07")]),
    ("Her name is Maria Gonzalez and she was born on July 8th, 1962.", [("Maria", "Gonzalez", "1962-07-08")]),
    ("Add my husband: Tom O'Brien, 03-22-1979", [("Tom", "O'Brien", "1979-03-22")]),
    ("the new passenger is Anna-Lena Fischer, d.o.b. 17.04.1995", [("Anna-Lena", "Fischer", "1995-04-17")]),
    ("Her name's Rosa Diaz, she's 34, birthday 1 Aug 1992", [("Rosa", "Diaz", "1992-08-01")]),
    ("Kevin Brown (12/05/1970) and Ann McDonald, born 3 March 1950",
     [("Kevin", "Brown", "1970-12-05"), ("Ann", "McDonald", "1950-03-03")]),
    ("We flew with Alex Lee, 12 May 2026, and it was fine", []),  # a recent day beside a name, no birth word
    ("Alex Lee, born on the 5th", []),  # a birth date gives its year
    ("Baby Kay, born 1 December 2026", []),  # after the day the message was written: no birth date
    ("Please book me a flight on 12 May 2027", []),  # a day with no one born on it
])
def test_people_named_with_a_date_of_birth(text: str, want: list[tuple[str, str, str]]) -> None:
    got = people.born(text, WRITTEN, day_first=False)
    assert [(v.value["first_name"], v.value["last_name"], v.value["dob"]) for v in got] == want
    for v in got:  # each with the words it came from
        assert text[v.words.start:v.words.end] == v.words.text
        assert v.value["first_name"] in v.words.text


@pytest.mark.parametrize("text, alone, companion, with_writer, without_writer", [
    ("Economy, just me, one checked bag", True, None, False, False),
    ("A flight for me and my wife please", False, "wife", True, False),
    ("My partner and I want to fly to Denver", False, "partner", False, False),
    ("A trip for myself and my grandson Leo", False, "grandson", True, False),
    ("Alex Lee and I would like two seats", False, None, True, False),
    ("Two seats: Alex Lee and Sam Kay", False, None, False, False),
    ("For my sister and her son. I'm NOT travelling myself.", False, None, False, True),
    ("I won't be flying, it's for my parents", False, None, False, True),
    ("My friend would like to use it in my place.", False, None, False, True),
    ("Could you put her name on the booking instead of mine?", False, None, False, True),
])
def test_who_goes_with_the_writer(text: str, alone: bool, companion: str | None, with_writer: bool,
                                  without_writer: bool) -> None:
    party = people.party(text)
    assert (party.alone, party.companion, party.with_writer, party.without_writer) == (
        alone, companion, with_writer, without_writer)


def test_which_known_people_a_message_names() -> None:
    known = [{"first_name": "Natalie", "last_name": "Novak"}, {"first_name": "Steven", "last_name": "Novak"},
             {"first_name": "Steven", "last_name": "Brown"}]
    assert people.named("Natalie can't come any more", known) == [0]
    assert people.named("Steven can't come", known) == []  # two Stevens: the first name says neither
    assert people.named("Steven Brown can't come", known) == [2]


def test_the_reading_holds_the_people_and_the_party() -> None:
    got = facts("Me and Alex Lee (born 12 May 1990) please", datetime(2026, 11, 20, 9), Vocabulary())
    assert [p.value for p in got.people] == [{"first_name": "Alex", "last_name": "Lee", "dob": "1990-05-12"}]
    assert got.party.with_writer


@pytest.fixture()
def airline() -> Iterator[None]:
    before = domain.active()
    packs.use(find("airline"))
    yield
    packs.use(before)


@pytest.mark.parametrize("text, want", [
    ("no travel insurance thanks", ["no"]),
    ("Please add the travel insurance", ["yes"]),
    ("I don't want any insurance", ["no"]),
    ("with insurance please", ["yes"]),
    ("one checked bag", None),
])
def test_a_thing_offered_is_taken_or_declined(airline: None, text: str, want: list[str] | None) -> None:
    from cx_core.entities import options

    assert options(text).get("insurance") == want


@pytest.mark.parametrize("text, want", [
    ("two checked bags please", [2]),
    ("without any bags", [0]),
    ("no checked luggage", [0]),
    ("I'll travel light", None),
])
def test_things_counted_and_none_of_them(airline: None, text: str, want: list[int] | None) -> None:
    from cx_core.entities import counts

    assert counts(text).get("bag_count") == want


def test_a_code_in_capitals_is_found_only_in_capitals() -> None:
    assert phrases.find("SEA", "Flying out of SEA on Monday") == [(14, 17)]
    assert phrases.find("SEA", "a cabin with a view of the sea") == []
    assert phrases.find("MIA", "Mia and I are flying") == []


def test_words_inside_a_longer_phrase_of_another_value_say_only_that_one() -> None:
    book = Book({}, words={"cabin": {"economy": ("economy",), "basic_economy": ("basic economy",),
                                     "business": ("business",)}})
    assert book.entities("I'm booked in basic economy", {})["cabin"] == ["basic_economy"]
    assert book.entities("from basic economy to economy", {})["cabin"] == ["basic_economy", "economy"]
    assert book.entities("business, not economy", {})["cabin"] == ["business"]  # a value set aside is not given


def test_a_hyphen_parts_words_as_a_space_does() -> None:
    text = "two more bags on our Las Vegas-Charlotte trip, one-way"
    assert phrases.find("las vegas", text) and phrases.find("charlotte", text)
    assert phrases.find("one way", text) and phrases.find("one-way", "a one way ticket")


@pytest.mark.parametrize("text, right", [
    ("I booked my niece as Susan. Her passport actually says Suzanne (same surname, same birthday).", "Suzanne"),
    ("It should be Jon, not John.", "Jon"),
    ("It actually is fine.", None),  # no name
    ("The flight should be cheaper.", None),
])
def test_the_right_spelling_of_a_name_on_file_is_read(text: str, right: str | None) -> None:
    from cx_core.reading.people import right_name

    assert right_name(text) == right
