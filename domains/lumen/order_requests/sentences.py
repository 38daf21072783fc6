"""The customer's words as the reading of orders takes them: text as it compares them with the catalogue, and the
engine's grammar of requests (``cx_core.reading.requests``: sentences, verbs, conditions, fallbacks) with Lumen's
verbs (``reading.yaml``'s ``requests``) and the shop's rule on what part of an order can be done."""

from __future__ import annotations

import functools
import re

from cx_core import domain, packs
from cx_core.reading import paying
from cx_core.reading.requests import PART_OF, REMOVES_ITEM, Grammar

_PAIR = re.compile(r"([A-Za-z][\w-]*(?: [A-Za-z][\w-]*){0,3})\s*(\{[^{}]*\})\s*(?:to|for|into)\b[^{}]*?(\{[^{}]*\})")
_PAY_CHANGE = paying.CHANGE_METHOD


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
