"""The customer's words as the reading of orders takes them: text as it compares them with the catalogue, and the
engine's grammar of requests (``cx_core.reading.requests``: sentences, verbs, conditions, fallbacks) with Lumen's
verbs (``reading.yaml``'s ``requests``) and the shop's rule on what part of an order can be done."""

from __future__ import annotations

import functools
import re

from cx_core import domain, packs
from cx_core.reading import phrases
from cx_core.reading.requests import PART_OF, REMOVES_ITEM, Grammar

_NUMBERS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
            "nine": "9", "ten": "10"}


def _norm(text: str) -> str:
    t = text.lower().replace("’", "'")
    for word, digit in _NUMBERS.items():
        t = re.sub(rf"\b{word}(?=[- ](?:piece|inch|foot|feet|ft|bar|liters?|cups?)\b)", digit, t)
        if word != "one":  # "the two-pack" is the 2-pack
            t = re.sub(rf"\b{word}(?=-[a-z])", digit, t)
    t = re.sub(r"(\d)\s*(?:foot|feet)\b", r"\1 ft", t)
    return t


def _flat(text: str) -> str:
    return re.sub(r"[^a-z0-9%.+]+", " ", _norm(text)).strip()


def _has(text: str, phrase: str) -> bool:
    flat = _flat(text)  # "the 11 kW one" has the option "11kW"
    return any(re.search(rf"(?<![a-z0-9]){re.escape(p)}(?![a-z0-9])", flat) for p in phrases.spaced(_flat(phrase)))


_PAIR = re.compile(r"([A-Za-z][\w-]*(?: [A-Za-z][\w-]*){0,3})\s*(\{[^{}]*\})\s*(?:to|for|into)\b[^{}]*?(\{[^{}]*\})")
_PAY_CHANGE = re.compile(r"\bchange (?:the |my |your )?payment(?: method)? to\b", re.I)


@functools.cache
def grammar() -> Grammar:
    """The engine's grammar of requests with Lumen's verbs for orders, read once from the pack's ``reading.yaml``."""
    return packs.reading(domain.find("lumen")).requests


def _split_sentences(text: str) -> list[str]:
    return grammar().sentences(text)


def _sentence_ops(sentence: str, passive: bool = False) -> list[tuple[str, str]]:
    return grammar().ops(sentence, passive)


def _spoken_of(sentence: str) -> bool:
    return grammar().spoken_of(sentence)


def _conditional(sentence: str) -> bool:
    return grammar().conditional(sentence)


def _fallback(sentence: str) -> tuple[str, str] | None:
    return grammar().fallback(sentence, _rule)


def _if_possible(sentence: str) -> tuple[str, str] | None:
    return grammar().if_possible(sentence)


def _kind(verb: str) -> str:
    return grammar().kind(verb)


def _cond_kind(cond: str) -> str | None:
    return grammar().cond_kind(cond)


def _rule(cond: str) -> bool | None:
    """Whether what a condition speaks of can be done under the shop's rules, when the words say so on their own:
    part of an order cannot be cancelled, an item cannot be removed from one. None: the words do not say."""
    if PART_OF.search(cond) or REMOVES_ITEM.search(cond):
        return False
    return None
