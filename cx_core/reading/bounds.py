"""A condition the customer's records settle: "as long as its exit fee is £100 or less", "provided the total is
under $200", "only if the deposit isn't more than €50". It names a field of a record the step acts on, a comparison
and an amount. ``settle`` says whether the record meets it, with the figures; it says nothing (None) when the words
give no amount, name no field of the record or two alike, or measure the amount by something else ("$150 per
person", "£20 a month"): such a condition still waits for a person."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .phrases import stem
from .records import words
from .values import amounts

# the words just before an amount that make it a most ("no more than £100", "isn't higher than $50")
_AT_MOST = re.compile(r"\b(?:no|not)\s+(?:more|higher|greater|over|above)\s+than|\bat\s+most|\bup\s+to|\bwithin|"
                      r"\bmax(?:imum)?(?:\s+of)?|\b(?:is|are|was)n'?t\s+(?:more|higher|greater|over|above)(?:\s+than)?|"
                      r"\b(?:is|are)\s+not\s+(?:more|higher|greater|over|above)(?:\s+than)?|\bnot\s+over|\bnot\s+above",
                      re.I)
_BELOW = re.compile(r"\b(?:under|below|less\s+than|lower\s+than|cheaper\s+than)", re.I)
_AT_LEAST = re.compile(r"\b(?:at\s+least|no\s+less\s+than|not\s+less\s+than)", re.I)
_ABOVE = re.compile(r"\b(?:over|above|more\s+than|higher\s+than|greater\s+than)", re.I)
_OR_LESS = re.compile(r"^\s*(?:or|and)\s+(?:less|under|below|lower|cheaper)\b", re.I)
_OR_MORE = re.compile(r"^\s*(?:or|and)\s+(?:more|over|above|higher)\b", re.I)
# an amount measured by something else: per person, a month, each
_PER = re.compile(r"^\s*(?:(?:or|and)\s+\w+\s+)?(?:per|a|an|each|every)\s+(?:person|head|passenger|traveller|traveler|"
                  r"adult|child|night|day|week|month|year|kwh|unit|item|piece|bag|ticket|seat)\b|^\s*each\b", re.I)
_WHO = frozenset(stem(w) for w in ("its", "the", "it", "is", "are", "a", "an", "of", "on", "for", "that", "this",
                                   "long", "as", "only", "if", "provided", "so", "there", "be", "would", "will"))


def _comparison(text: str, start: int, end: int) -> str:
    """``<=``, ``<``, ``>=`` or ``>`` for the amount at ``text[start:end]`` by the words around it; '' for none."""
    before, after = text[max(0, start - 40):start], text[end:]
    if _OR_LESS.search(after):
        return "<="
    if _OR_MORE.search(after):
        return ">="
    last = lambda rx: max((m.end() for m in rx.finditer(before)), default=-1)  # noqa: E731
    found = {op: last(rx) for op, rx in (("<=", _AT_MOST), ("<", _BELOW), (">=", _AT_LEAST), (">", _ABOVE))}
    op, at = max(found.items(), key=lambda x: x[1])
    if at < 0 or before[at:].strip(" $£€"):
        return ""  # the comparison must stand right before the amount
    if op == ">" and found["<="] >= 0 and found["<="] >= at - 25:
        return "<="  # "isn't higher than": the most wins over the "higher than" inside it
    return op


def _field(said: set[str], rows: Iterable[Mapping[str, Any]]) -> tuple[str, float] | None:
    """The one numeric field of the records the words name best ("exit fee" → ``exit_fee``), with its value; None
    when none is named or two are named alike."""
    scored: dict[str, tuple[int, float]] = {}
    for row in rows:
        for name, value in row.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            parts = {stem(p) for p in re.split(r"[_\W]+", name.lower()) if p}
            hit = len(parts & said)
            if hit and (name not in scored or scored[name][0] < hit):
                scored[name] = (hit, float(value))
    if not scored:
        return None
    ranked = sorted(scored.items(), key=lambda x: -x[1][0])
    if len(ranked) > 1 and ranked[1][1][0] == ranked[0][1][0]:
        return None
    return ranked[0][0], ranked[0][1][1]


def settle(condition: str, rows: Iterable[Mapping[str, Any]]) -> tuple[bool, str] | None:
    """Whether the records meet a condition on one of their figures, with the reason; None when the records cannot
    tell."""
    found = amounts(condition)
    if len(found) != 1 or re.search(r"\beven\s+if\b", condition, re.I):
        return None
    unless = bool(re.match(r"\W*unless\b", condition, re.I))  # "unless the fee is over £100": done when it is not
    money = found[0]
    start, end = money.words.start, money.words.end
    op = _comparison(condition, start, end)
    if not op or _PER.search(condition[end:]):
        return None
    said = words(condition[:start] + " " + condition[end:]) - _WHO
    named = _field(said, list(rows))
    if named is None:
        return None
    name, value = named
    limit = float(money.value["amount"])
    met = {"<=": value <= limit, "<": value < limit, ">=": value >= limit, ">": value > limit}[op] != unless
    label = name.replace("_", " ")
    sign = money.words.text.strip()[0] if money.words.text.strip()[:1] in "$£€" else ""
    figure = f"{sign}{value:,.2f}".replace(".00", "")
    return met, f"the {label} is {figure}, and you asked for it only “{condition.strip()}”"
