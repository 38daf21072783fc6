"""Qualifiers: the words of a request that narrow, bound or condition what is asked.

"Return everything **but the lamp**", "the **cheapest** one **under what I paid**", "**if** it has not shipped",
"Saturday **afternoon**", "**two of** them": each changes which action is right. A reading must use every qualifier
the customer wrote, or leave the request to a person with those words shown; a proposal that ignored one is worse
than none, because an advisor approves it.

``find`` lists the qualifiers of a text by kind; a reader says which it used (``Binding``), and ``unbound`` names the
rest. The kinds are the language's, not a company's: exceptions, conditions, superlatives, bounds (a price, a
number, "what I paid"), times of day and quantities.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .reading import conditions

EXCEPTION, CONDITION, SUPERLATIVE, BOUND, TIME_OF_DAY, QUANTITY = (
    "exception", "condition", "superlative", "bound", "time of day", "quantity")

_MONEY = r"(?:[$£€]\s?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s*(?:dollars?|bucks|usd|eur|euros?|pounds?|quid|gbp))"
PATTERNS: dict[str, re.Pattern[str]] = {
    EXCEPTION: re.compile(
        r"\b(?:all|everything|every(?:one| one| item| order)?|each|anything|the\s+rest)\b[^.,;:!?()]{0,60}?"
        r"\b(?:but|save|minus)\b(?!\s+(?:i|we|you|he|she|they|it|there|this|that|then|also|please|now|still|only|"
        r"is|are|was|were|do|does|did|have|has|can|could|would|will)\b|\s+(?:the|my|its|their)\s+\w+\s+(?:is|are|was|"
        r"were|has|had|looks?|seems?|does|did|arrived|came)\b)|\bexcept(?:\s+for)?\b|\bbut\s+not\b|"
        r"\bother\s+than\b|\bapart\s+from\b|\baside\s+from\b|\bexcluding\b|\bbesides\b|"
        r"\bwith\s+the\s+exception\s+of\b|\bleav(?:e|ing)\s+out\b|\bnot\s+(?:including|counting)\b|"
        r"\bbut\s+(?:keep|leave)\b", re.I),
    CONDITION: conditions.CONDITIONAL_WORD,
    SUPERLATIVE: re.compile(
        r"(?<!\bat\s)(?<!\bat\sthe\s)\b(?:best(?!\s+(?:regards|wishes|friends?|mates?|buddy|man|woman|part|"
        r"interests?|efforts?))|cheapest|least\s+expensive|most\s+expensive|priciest|dearest|lowest|highest|largest|"
        r"smallest|biggest|newest|latest|oldest|earliest|fastest|slowest|longest|shortest|lightest|heaviest|nearest|"
        r"closest|worst)\b|\b(?:most|least)\s+(?!of\b|likely\b|recent(?:ly)?\b|times?\b|days?\b|probably\b|"
        r"importantly\b|important\b)[a-z]{3,}\b", re.I),
    BOUND: re.compile(
        rf"\b(?:under|below|over|above|within|at\s+most|at\s+least|no\s+more\s+than|no\s+less\s+than|not\s+more\s+than|"
        rf"less\s+than|more\s+than|up\s+to|lower\s+than|higher\s+than|greater\s+than|max(?:imum)?\s+of|"
        rf"min(?:imum)?\s+of)\s+{_MONEY}|\b(?:cheaper|pricier|more\s+expensive|less\s+expensive)\s+than\b|"
        rf"\b(?:for|than|within|under|over|up\s+to|same\s+as|no\s+more\s+than)\s+(?:what|the\s+amount)\s+(?:i|we|you|"
        rf"they|he|she)\s+(?:paid|spent|(?:was|were)\s+charged)\b|\b(?:same|similar)\s+price\b|\bbudget\b", re.I),
    TIME_OF_DAY: re.compile(
        r"(?<!good )\b(?:morning|afternoon|evening|night|midday|noon|lunch\s*time|tonight)\b|"  # no greeting
        r"\b\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)|"
        r"\b(?:before|after|by|around|between)\s+\d{1,2}(?::\d{2})?\s*(?:am|pm|h|o'?clock)?(?!\w)", re.I),
    QUANTITY: re.compile(
        r"\b(?:only|just)\s+(?:one|two|three|\d+|a\s+single|half)\b|\b(?:return|cancel|exchange|change|refund|replace|"
        r"keep|send|ship|add|remove|book|move|swap|upgrade|downgrade)\s+(?:only\s+|just\s+)?(?:one|two|three|four|five|"
        r"\d+|both|half|some|several|a\s+few|a\s+couple)\s+of\b", re.I),
}


_EXCEPT_WORD = re.compile(r"\b(?:but\s+not|but\s+(?:keep|leave)|but|except(?:\s+for)?|save|minus|other\s+than|"
                          r"apart\s+from|aside\s+from|excluding|besides|with\s+the\s+exception\s+of|"
                          r"leav(?:e|ing)\s+out|not\s+(?:including|counting))\b", re.I)


@dataclass(frozen=True)
class Qualifier:
    kind: str
    words: str
    start: int
    end: int


def find(text: str, kinds: Iterable[str] = tuple(PATTERNS)) -> list[Qualifier]:
    """The qualifiers of ``text`` in the order they appear (overlaps kept: "all but" is an exception, not a
    quantity)."""
    found = [Qualifier(kind, m.group(0).strip(), m.start(), m.end())
             for kind in kinds for m in PATTERNS[kind].finditer(text)]
    return sorted(found, key=lambda q: (q.start, -q.end))


@dataclass
class Binding:
    """What a reading used: the kinds it reads whole (a reader that holds every condition for a person binds
    ``condition``), and the spans of the text it consumed (a time of day bound to a slot, "the cheapest" bound to
    an option)."""

    kinds: set[str]
    spans: list[tuple[int, int]]

    def __init__(self, kinds: Iterable[str] = (), spans: Iterable[tuple[int, int]] = ()) -> None:
        self.kinds = set(kinds)
        self.spans = list(spans)

    def uses(self, pattern: re.Pattern[str] | None, text: str) -> None:
        """Every match of ``pattern`` in ``text`` counts as used."""
        if pattern is not None:
            self.spans.extend(m.span() for m in pattern.finditer(text))

    def covers(self, q: Qualifier) -> bool:
        return q.kind in self.kinds or any(s < q.end and q.start < e for s, e in self.spans)


def unbound(text: str, binding: Binding, kinds: Iterable[str] = tuple(PATTERNS)) -> list[Qualifier]:
    """The qualifiers of ``text`` the reading did not use."""
    return [q for q in find(text, kinds) if not binding.covers(q)]


def split_exception(text: str) -> tuple[str, str] | None:
    """``text`` cut at its first exception: what is included ("return everything") and what is left out ("the
    lamp"), or None when it makes none."""
    m = PATTERNS[EXCEPTION].search(text)
    if m is None:
        return None
    word = list(_EXCEPT_WORD.finditer(text, m.start(), m.end()))
    if not word:
        return None
    return text[: word[-1].start()], text[word[-1].end():]


def words(found: list[Qualifier]) -> str:
    """The unbound qualifiers as an advisor reads them: “but the lamp”, “cheapest” (each once, in order)."""
    seen = list(dict.fromkeys(q.words for q in found))
    return ", ".join(f"“{w}”" for w in seen[:4])


def need(found: list[Qualifier]) -> str:
    """What a person must decide, for a step's ``missing``: the words the reading could not use."""
    kinds = list(dict.fromkeys(q.kind for q in found))
    return f"a person to apply what the customer said ({words(found)}: {' and '.join(kinds)})"
