"""A condition the customer's records settle: "as long as its exit fee is £100 or less", "provided the total is
under $200", "only if the deposit isn't more than €50". It names a field of a record the step acts on, a comparison
and an amount. ``settle`` says whether the record meets it, with the figures; it says nothing (None) when the words
give no amount, name no field of the record or two alike, or measure the amount by something else ("$150 per
person", "£20 a month"): such a condition still waits for a person. ``made`` settles a condition that the record was
made at all ("if I somehow managed to order another kettle, please cancel that one"): the record the step found is
it, when it holds the thing named."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .language import qualifiers
from .phrases import stem
from .records import field_words, flat, words
from .types import Words
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
    if at < 0 or not re.fullmatch(r"\s*(?:the\s+)?[$£€]?\s*", before[at:]):
        return ""  # the comparison must stand right before the amount
    if op == ">" and found["<="] >= 0 and found["<="] >= at - 25:
        return "<="  # "isn't higher than": the most wins over the "higher than" inside it
    return op


def _field(said: set[str], rows: list[Mapping[str, Any]], around: set[str]) -> str | None:
    """The one numeric field of the records the words name best ("exit fee" → ``exit_fee``); among fields named
    alike, the one the records' own words name ("standing charge" of an electricity account:
    ``electricity_standing_charge``); None when none is named or two still are alike."""
    scored: dict[str, tuple[int, int]] = {}
    for row in rows:
        for name, value in row.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            parts = field_words(name)
            if hit := len(parts & said):
                scored[name] = max(scored.get(name, (0, 0)), (hit, len(parts & around)))
    ranked = sorted(scored.items(), key=lambda x: x[1], reverse=True)
    if not ranked or len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
        return None
    return ranked[0][0]


def _value(rows: list[Mapping[str, Any]], name: str) -> float | None:
    return next((float(r[name]) for r in rows if isinstance(r.get(name), int | float)
                 and not isinstance(r.get(name), bool)), None)


_PENCE = re.compile(r"(?<![\w.£$€])(\d{1,3}(?:\.\d+)?)\s?p\b")
_THAN = re.compile(r"\b(?:(lower|less|cheaper|smaller)|(higher|more|dearer|bigger|greater))\s+than\b", re.I)
_NOT = re.compile(r"\b(?:is|are|was)n'?t\s+$|\bnot\s+$", re.I)


def _limit(condition: str, others: list[Mapping[str, Any]], kin: list[Mapping[str, Any]]
           ) -> tuple[float, str, int, int, Mapping[str, Any] | None] | None:
    """What the condition compares with: an amount ("£100", "51p") or another of the records (``others``), named
    after "than" ("lower than what I pay on Flex"), with its words' place; None when it gives neither, or several."""
    found = [(float(v.value["amount"]), v.words.text.strip(), v.words.start, v.words.end) for v in amounts(condition)]
    found += [(float(m.group(1)) / 100, m.group(0), m.start(), m.end()) for m in _PENCE.finditer(condition)]
    if len(found) == 1:
        return (*found[0], None)
    than = _THAN.search(condition)
    if found or than is None or not others:
        return None
    named = words(condition[than.end():])
    common = set.intersection(*(_own_words(r) for r in [*others, *kin]))  # words every record of the kind has
    hits = [r for r in others if (_own_words(r) - common) & named]
    return (0.0, "", than.start(), than.end(), hits[0]) if len(hits) == 1 else None


def _own_words(row: Mapping[str, Any]) -> set[str]:
    return set().union(*(words(v) for v in row.values() if isinstance(v, str)), set())


def settle(condition: str, rows: list[Mapping[str, Any]], others: Sequence[Mapping[str, Any]] = ()
           ) -> tuple[bool, str] | None:
    """Whether the records a step acts on (``rows``) meet a condition on one of their figures, with the reason;
    ``others``: the records beside them that the condition may compare with. None when the records cannot tell."""
    around = set().union(*(_own_words(r) for r in rows), set())
    name = _field(words(_THAN.split(condition)[0] if _THAN.search(condition) else condition) - _WHO, rows, around)
    beside = [r for r in others if name and _value([r], name) is not None]  # the others of the record's own kind
    if re.search(r"\beven\s+if\b", condition, re.I) or (limit := _limit(
            condition, beside, [r for r in rows if name and _value([r], name) is not None])) is None:
        return None
    unless = bool(re.match(r"\W*unless\b", condition, re.I))  # "unless the fee is over £100": done when it is not
    said_amount, said_as, start, end, other = limit
    if other is None:
        op = _comparison(condition, start, end)
        if not op or _PER.search(condition[end:]):
            return None
    else:  # "lower than what I pay on Flex", "isn't higher than my current one"
        m = _THAN.match(condition, start)
        negated = bool(m and _NOT.search(condition[:start]))
        op = ("<" if m and m.group(1) else ">") if not negated else (">=" if m and m.group(1) else "<=")
    value = _value(rows, name) if name else None
    amount = _value([other], name) if other is not None and name else said_amount
    if name is None or value is None or amount is None:
        return None
    met = {"<=": value <= amount, "<": value < amount, ">=": value >= amount, ">": value > amount}[op] != unless
    label = name.replace("_", " ")
    sign = said_as[:1] if said_as[:1] in "$£€" else ""
    figure = f"{sign}{value:,.2f}".replace(".00", "") if sign or other is None else f"{value:g}"
    against = f" against {amount:g}" if other is not None else ""
    return met, f"the {label} is {figure}{against}, and you asked for it only “{condition.strip()}”"


# "if I (somehow) (managed to) ordered another kettle", "in case we booked a second room": the record's making
_MADE = re.compile(r"^\W*(?:if|in\s+case)\s+(?:i|we)\s+(?:(?:somehow|accidentally|mistakenly|actually|really|did|"
                   r"have|'ve|had|managed|to|by\s+mistake)\s+){0,4}(?:order(?:ed)?|book(?:ed)?|bought|buy|placed?|"
                   r"made|make)\s+(?:(?:another|a\s+second|an\s+extra|one\s+more|a|an|the|one)\s+)?([^,;]+?)\s*(?:[,;].*)?$",
                   re.I | re.S)
_BY_MISTAKE = re.compile(r"\b(?:by\s+mistake|by\s+accident|accidentally|too|again)\b", re.I)


def made(condition: str, rows: list[Mapping[str, Any]]) -> tuple[bool, str] | None:
    """Whether a condition that the record came to be ("if I ordered another kettle") is met by the records the
    step acts on: met when one of them holds every word of the thing named; None when it is not such a condition
    or names more than a thing ("if I ordered the wrong size")."""
    m = _MADE.match(condition)
    if m is None or not rows:
        return None
    thing = words(_BY_MISTAKE.sub(" ", m.group(1))) - _WHO
    if not thing or len(thing) > 3 or not any(thing <= set().union(*(words(t) for t in flat(r)), set()) for r in rows):
        return None
    return True, f"the records show it, and you asked for it only “{condition.strip()}”"


def on_making(sentence: str) -> bool:
    """Whether a sentence's condition is only that a record was made ("… if I somehow managed to order another
    kettle, please cancel that one"): the records settle it once the step has found its record (``made``)."""
    q = qualifiers(Words(text=sentence, start=0, end=len(sentence)))
    return q.condition is not None and q.fallback is None and bool(_MADE.match(q.condition.text))


# what the words after a ceiling say it is of: a difference ("$150 more", "$150 extra per person")
_EXTRA = re.compile(r"^\s*(?:(?:a|per|each)\s+\w+\s+)?(?:more|extra|on\s+top|additional)\b|^\s*(?:in\s+)?extra\b", re.I)


@dataclass(frozen=True)
class Ceiling:
    """The most a customer will pay for a choice: ``amount``, for each traveller or thing (``each``), and as the
    difference from what they have now (``extra``)."""

    amount: float
    each: bool
    extra: bool
    words: Words

    def allows(self, price: float, count: int = 1) -> bool:
        """Whether ``price`` (for all ``count`` of them, or the difference when ``extra``) is within it."""
        return price <= self.amount * (count if self.each else 1) + 0.005


def ceiling(text: str) -> Ceiling | None:
    """The one price ceiling the text sets ("business class if it's under $300 a head", "only if the upgrade is no
    more than $150 extra per person", "fine provided it's less than $150 more"); None when it sets none or two."""
    found = []
    for v in amounts(text):
        start, end = v.words.start, v.words.end
        if _comparison(text, start, end) not in ("<", "<="):
            continue
        after = text[end:end + 40]
        each = _PER.search(re.sub(r"^\s*(?:more|extra)\b", "", after, flags=re.I))  # "$150 extra per person"
        found.append(Ceiling(float(v.value["amount"]), each=bool(each), extra=bool(_EXTRA.search(after)),
                             words=v.words))
    return found[0] if len(found) == 1 else None
