"""Where a phrase of a pack's vocabulary stands in a message, read as English rather than as a string.

- Each word meets its spellings and its plural, by the Snowball English stemmer, in the same form: "cancelled"
  meets "canceled" but not "cancel" ("can you cancel" is not "you cancelled") nor "cancellation"; "flights" is
  "flight".
- A form of "be", "have" or "get" meets any other ("flight was cancelled" meets "flights were cancelled" and
  "flight has been cancelled"), one or several in a row.
- Before such a verb up to three words may stand between ("my flight on Tuesday has been cancelled"), never a
  negation ("the flight was not cancelled" is no cancelled flight) nor the end of a clause.
- Other words of a phrase stand next to each other, as written: "new york" is never "a new bag to York"; but a verb
  and its particle ("called off") meet in any form of the verb, up to three words apart ("call the trip off").
- A hyphen parts words as a space does: "one-way" is "one way", and "our Las Vegas-Charlotte trip" names both.

A phrase with signs other than letters, digits, hyphens and apostrophes is matched as it is written; a code written
in capitals ("JFK", "ORD") only in capitals, so that "Mia" and "the sea" are not airports."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import snowballstemmer

from cx_core.reading import numbers

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z0-9]+)*|[.!?;:()\n]")  # a hyphen parts words as a space does
_PLAIN = re.compile(r"[A-Za-z0-9\s'’-]+")
_CODE = re.compile(r"[A-Z][A-Z0-9]{2,}")
_AUX = frozenset("""is are was were be been being am has have had get gets got gotten getting 's 're 've""".split())
_NEGATION = frozenset("not no never nor without cannot".split())
AUX = "\0aux"  # a phrase word that any form of "be", "have" or "get" meets
GAP = 3
_FORMS = ("ed", "ing", "ions", "ion")


@dataclass(frozen=True)
class _Tok:
    key: str  # the stem, AUX, or "" for the end of a clause
    start: int
    end: int
    negation: bool = False


@functools.cache
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


def spaced(phrase: str) -> set[str]:
    """A lower-case phrase as customers write it, a number joined to its unit or set apart: "11kw" and "11 kw"."""
    return {phrase, re.sub(r"(?<=\d)(?=[a-z])", " ", phrase), re.sub(r"(?<=\d)\s+(?=[a-z]{1,3}\b)", "", phrase)}


# "a two-piece", "six foot", "four cups": a number word before its unit, written as the digit
_UNIT_AFTER = r"(?=[- ](?:piece|inch|foot|feet|ft|bar|liters?|cups?)\b)"
_SMALL = {w: str(n) for w, n in numbers.UNITS.items() if 1 <= n <= 10}


def normal(text: str) -> str:
    """Lower case, with a number word before its unit as the digit ("a two-piece set": "a 2-piece set"; "the
    two-pack" is the 2-pack) and feet as "ft", as a catalogue writes them."""
    t = text.lower().replace("’", "'")
    for word, digit in _SMALL.items():
        t = re.sub(rf"\b{word}{_UNIT_AFTER}", digit, t)
        if word != "one":
            t = re.sub(rf"\b{word}(?=-[a-z])", digit, t)
    return re.sub(r"(\d)\s*(?:foot|feet)\b", r"\1 ft", t)


def flat(text: str) -> str:
    """``normal`` text with every sign but ``% . +`` a space: what a catalogue's names and values are compared in."""
    return re.sub(r"[^a-z0-9%.+]+", " ", normal(text)).strip()


def has(text: str, phrase: str) -> bool:
    """Whether ``text`` says ``phrase`` as whole words, flat, a number joined to its unit or apart ("the 11 kW one"
    has the option "11kW")."""
    words = flat(text)
    return any(re.search(rf"(?<![a-z0-9]){re.escape(p)}(?![a-z0-9])", words) for p in spaced(flat(phrase)))


@functools.lru_cache(maxsize=20000)
def stem(word: str) -> str:
    """A word's Snowball stem, whatever its form: "electricity" and "electric" are "electr", "batteries" and
    "battery" "batteri"."""
    return str(_stemmer().stemWord(word.lower().replace("’", "'")))


@functools.lru_cache(maxsize=20000)
def _key(word: str) -> str:
    low = word.lower().replace("’", "'")
    if low in _AUX:
        return AUX
    # the stem with the word's form: "you cancelled" is no "can you cancel", nor a "cancellation"
    form = next((f for f in _FORMS if low.endswith(f) and len(low) > len(f) + 2), "")
    return f"{stem(low)}|{form.rstrip('s')}"


@functools.lru_cache(maxsize=256)
def _tokens(text: str) -> tuple[tuple[_Tok, ...], dict[str, tuple[int, ...]]]:
    toks: list[_Tok] = []
    where: dict[str, list[int]] = {}
    for m in _TOKEN.finditer(text):
        word = m.group(0)
        if not word[0].isalnum():
            toks.append(_Tok("", m.start(), m.end()))
            continue
        low = word.lower().replace("’", "'")
        key = _key(word)
        toks.append(_Tok(key, m.start(), m.end(), low in _NEGATION or low.endswith("n't")))
        where.setdefault(key, []).append(len(toks) - 1)
    return tuple(toks), {k: tuple(v) for k, v in where.items()}


@functools.lru_cache(maxsize=20000)
def _words(phrase: str) -> tuple[str, ...] | None:
    """The phrase's word keys (a run of "be"/"have"/"get" forms as one), or None to match it as written."""
    if not _PLAIN.fullmatch(phrase) or not phrase.strip():
        return None
    keys: list[str] = []
    for m in _TOKEN.finditer(phrase):
        key = _key(m.group(0))
        if not (key == AUX and keys and keys[-1] == AUX):
            keys.append(key)
    return tuple(keys)


def _follow(toks: tuple[_Tok, ...], at: int, keys: tuple[str, ...]) -> int | None:
    """The index of the last token of the phrase's rest ``keys`` after token ``at``, or None."""
    for key in keys:
        k = at + 1
        gap = 0
        while k < len(toks) and toks[k].key != key:
            if key != AUX or gap >= GAP or not toks[k].key or toks[k].key == AUX or toks[k].negation:
                return None
            gap += 1
            k += 1
        if k >= len(toks):
            return None
        while key == AUX and k + 1 < len(toks) and toks[k + 1].key == AUX:
            k += 1  # "has been", "got"
        at = k
    return at


_PARTICLES = frozenset(_key(w) for w in ("off", "up", "back", "out", "down", "away", "over"))


_ASKING = frozenset(_key(w) for w in ("please", "pls", "you", "kindly", "just"))


def _asked(toks: tuple[_Tok, ...], i: int) -> bool:
    """Whether the bare verb at ``i`` is asked for: opening a clause, or after "please" or "can you"."""
    return toks[i].key.endswith("|") and (i == 0 or not toks[i - 1].key or toks[i - 1].key in _ASKING)


def _phrasal(toks: tuple[_Tok, ...], keys: tuple[str, ...]) -> list[tuple[int, int]]:
    """A verb and its particle ("call off"): in any form of the verb, with up to three words between them ("we
    decided to call the trip off"), never across the end of a clause nor a negation. A phrase that tells of what
    happened ("called off") is not met by the verb asked for ("please call the trip off", "can you call it off")."""
    verb, form = keys[0].split("|")
    out = []
    for i, t in enumerate(toks):
        if not t.key or t.key.split("|")[0] != verb or form == "ed" and _asked(toks, i):
            continue
        for k in range(i + 1, min(i + 2 + GAP, len(toks))):
            if toks[k].key == keys[1]:
                out.append((t.start, toks[k].end))
                break
            if not toks[k].key or toks[k].negation:
                break
    return out


def find(phrase: str, text: str) -> list[tuple[int, int]]:
    """Every span of ``text`` where ``phrase`` is said, in the order they stand."""
    if _CODE.fullmatch(phrase):
        return [m.span() for m in re.finditer(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text)]
    keys = _words(phrase)
    if keys is None:
        return [m.span() for m in re.finditer(rf"(?<![\w-]){re.escape(phrase.lower())}(?![\w-])", text.lower())]
    toks, where = _tokens(text)
    if len(keys) == 2 and keys[1] in _PARTICLES:
        return _phrasal(toks, keys)
    out = []
    for i in where.get(keys[0], ()):
        last = _follow(toks, i, keys[1:])
        if last is not None:
            out.append((toks[i].start, toks[last].end))
    return out


def first(phrases: tuple[str, ...] | list[str], text: str) -> int | None:
    """Where the first of ``phrases`` said in ``text`` starts, or None."""
    starts = [s for p in phrases for s, _ in find(p, text)[:1]]
    return min(starts) if starts else None


def said(values: Mapping[str, tuple[str, ...]], text: str) -> dict[str, list[tuple[int, int]]]:
    """Where each value of a word list is said (the values not said are left out); words inside a longer phrase of
    another value say only that one ("basic economy" is not also "economy")."""
    spans = {value: [sp for p in phrases for sp in find(p, text)] for value, phrases in values.items()}
    out: dict[str, list[tuple[int, int]]] = {}
    for value, mine in spans.items():
        free = [(s, e) for s, e in mine if not any(o != value and a <= s and e <= b and (a, b) != (s, e)
                                                  for o, theirs in spans.items() for a, b in theirs)]
        if free:
            out[value] = free
    return out
