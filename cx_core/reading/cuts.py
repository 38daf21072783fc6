"""Small cuts of generic English that a reader of one kind of record makes, named once for every pack: the pieces
of a message and the part of its last sentence said so far, the words before what a thing is changed to, a clause
that acts on "it", a preference, and the words that point at one record of a kind ("this order", "the same
booking", "cancel the whole order"), built from the noun the pack gives."""

from __future__ import annotations

import re
from functools import lru_cache

# where a sentence, or a clause joined by a semicolon, ends
_ENDS = re.compile(r"(?<=[.!?;])\s+|\n+")
# where a part of a list of things ends: a sentence, a comma, an "and"
_PARTS = re.compile(r"(?<=[.!?;])\s+|\n+|,\s*(?:and\s+)?|\s+and\s+")
# a clause that opens with a past participle: "… the puzzle in the same order also needs to be exchanged"
PARTICIPLE_FIRST = re.compile(r"\w+ed\b")
# a verb acting on what was said before: "… and want to exchange it", "swap both"
ACTS_ON_EARLIER = re.compile(r"\w+ (?:it|them|both|these|those|the two)\b")
# a thing said to have been ordered: "the one I ordered", "the order I placed"
PLACED = re.compile(r"\b(?:ordered|placed)\b", re.I)
# a preference among what could be had: "you prefer i5 over i7"
PREFERS = re.compile(r"\bprefer", re.I)


def pieces(text: str) -> list[str]:
    """The sentences of ``text`` (a semicolon and a line break end one too), blank ones left out."""
    return [p for p in _ENDS.split(text) if p.strip()]


def so_far(text: str) -> str:
    """The part of its last sentence that ``text`` ends in ('' when it ends a sentence)."""
    return _ENDS.split(text)[-1]


def parts(text: str) -> list[str]:
    """The parts of ``text`` a list is made of: its sentences, and what commas and "and" join, blank ones left out."""
    return [p for p in _PARTS.split(text) if p.strip()]


def at_target(text: str, words: tuple[str, ...] = ("to",)) -> list[str]:
    """``text`` cut at the first of ``words`` that introduces what a thing becomes ("send my lamp | to Oak Street",
    "swap the blue one | for the black"): one piece when none is said."""
    return _target(words).split(text, maxsplit=1)


@lru_cache(maxsize=32)
def _target(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(w).replace(r"\ ", " ") for w in words) + r")\b")


@lru_cache(maxsize=32)
def speaks_of(noun: str) -> re.Pattern[str]:
    """A word that begins with the noun: "order", "orders", "ordered"."""
    return re.compile(rf"\b{re.escape(noun)}", re.I)


@lru_cache(maxsize=32)
def this_one(noun: str) -> re.Pattern[str]:
    """One record of the kind named by the writer's pointing word: "the order", "this booking", "my current plan"."""
    return re.compile(rf"\b(?:the|this|that|my|your|current) {re.escape(noun)}\b", re.I)


@lru_cache(maxsize=32)
def that_same(noun: str) -> re.Pattern[str]:
    """The record spoken of before: "that order", "the same order", or "it"."""
    return re.compile(rf"\b(?:that|this|the\s+same)\s+{re.escape(noun)}\b|\bit\b", re.I)


@lru_cache(maxsize=32)
def one_of_them(noun: str) -> re.Pattern[str]:
    """Things said to be of one record together: "in the same order", "in one order"."""
    return re.compile(rf"\b(?:same|one) {re.escape(noun)}\b", re.I)


@lru_cache(maxsize=32)
def whole(noun: str, states: tuple[str, ...] = ()) -> re.Pattern[str]:
    """A verb acting on whole records of the kind, not on things in them: "cancel the whole order", "cancel my
    pending orders" (``states``: the words for the states a record may be in)."""
    said = "|".join(re.escape(w) for w in ("the", "my", "your", "this", "that", "whole", "entire", "full", "complete",
                                           *states))
    return re.compile(rf"^\w+\s+(?:\w+\s+)?(?:(?:{said}) )*{re.escape(noun)}s?\b", re.I)


@lru_cache(maxsize=32)
def by_what_it_holds(noun: str) -> re.Pattern[str]:
    """A record named by the things in it, those words its first group: "the coffee machine order", "my doorbell and
    speaker booking" (never "the order of …")."""
    return re.compile(rf"\b(?:the|my|our|your|this|that)\s+((?:[\w'-]+\s+){{1,5}}?){re.escape(noun)}\b"
                      rf"(?!\s+(?:of|for|with)\b)", re.I)


@lru_cache(maxsize=32)
def all_of(noun: str) -> re.Pattern[str]:
    """Every thing of one record: "everything", "all the items", "the whole order", "the entire booking"."""
    return re.compile(rf"\b(everything|all (?:the |of the )?items|whole {re.escape(noun)}|entire {re.escape(noun)})\b",
                      re.I)


@lru_cache(maxsize=32)
def it_or_the(noun: str, thing: str = "item") -> re.Pattern[str]:
    """The one thing or record meant when there is only one: "it", "this", "the item", "my order"."""
    return re.compile(rf"\b(?:it|this|that|the {re.escape(thing)}|my {re.escape(noun)})\b", re.I)
