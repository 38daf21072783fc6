"""Numbers as customers write them: digits ("3", "1,200", "4.5"), words ("eighteen", "twenty-four", "two hundred and
fifty"), a few quantities ("a couple", "a dozen", "half a dozen", "both"), and ordinals ("3rd", "third",
"twenty-first"). Each is found with its place in the text, so a value always keeps the words it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
         "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                 "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
                 "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
                 "nineteenth": 19, "twentieth": 20, "thirtieth": 30}
QUANTITIES = {"a couple of": 2, "a couple": 2, "couple of": 2, "a pair of": 2, "both": 2, "a dozen": 12,
              "half a dozen": 6, "a single": 1, "single": 1, "a few": 3}
_WORD = "|".join(sorted([*UNITS, *TENS, *SCALES], key=len, reverse=True))
# a run of number words: "two hundred and fifty", "twenty-four", "one thousand two hundred"
WORDS = re.compile(rf"\b(?:{_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_WORD}))*\b", re.I)
DIGITS = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\w]|[.,]\d)")
ORDINAL = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)\b|\b(?:(twenty|thirty)[\s-])?({'|'.join(ORDINAL_WORDS)})\b",
                     re.I)
QUANTITY = re.compile(r"\b(?:" + "|".join(re.escape(q) for q in sorted(QUANTITIES, key=len, reverse=True)) + r")\b",
                      re.I)


@dataclass(frozen=True)
class Number:
    value: float
    start: int
    end: int
    text: str
    ordinal: bool = False
    spelled: bool = False  # written in words

    @property
    def whole(self) -> int | None:
        return int(self.value) if float(self.value).is_integer() else None


def words_value(words: str) -> int | None:
    """The value of a run of number words ("two hundred and fifty" → 250), or None when it is not one number."""
    total, current, seen = 0, 0, False
    for w in re.split(r"[\s-]+", words.lower()):
        if w == "and" or not w:
            continue
        if w in UNITS:
            current += UNITS[w]
        elif w in TENS:
            current += TENS[w]
        elif w in SCALES:
            scale = SCALES[w]
            if scale == 100:
                current = (current or 1) * 100
            else:
                total += (current or 1) * scale
                current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


# the words before a pronoun "one": "the gas one", "that one", "the cheaper one", "which one"
_PRONOUN_ONE = re.compile(r"\b(?:the|this|that|which|another|each|every|other|my|your|our|their|its)\s+(?:[a-z0-9-]+\s+){0,2}$",
                          re.I)


def find(text: str) -> list[Number]:
    """Every number of ``text`` in order: digits, number words and quantities ("a couple of" → 2); an ordinal is
    marked (``3rd`` and ``third`` → 3). Overlaps go to the longest."""
    found: list[Number] = []
    for m in DIGITS.finditer(text):
        raw = m.group(1).replace(",", "") + (f".{m.group(2)}" if m.group(2) else "")
        found.append(Number(float(raw), m.start(), m.end(), m.group(0)))
    for m in WORDS.finditer(text):
        value = words_value(m.group(0))
        if value == 1 and m.group(0).strip().lower() == "one" and _PRONOUN_ONE.search(text[max(0, m.start() - 30):m.start()]):
            continue  # "the gas one", "this one", "the white one I ordered": a pronoun, not a count
        if value is not None:
            found.append(Number(float(value), m.start(), m.end(), m.group(0), spelled=True))
    for m in ORDINAL.finditer(text):
        if m.group(1):
            value = int(m.group(1))
        else:
            value = ORDINAL_WORDS[m.group(3).lower()] + (TENS[m.group(2).lower()] if m.group(2) else 0)
        found.append(Number(float(value), m.start(), m.end(), m.group(0), ordinal=True, spelled=not m.group(1)))
    for m in QUANTITY.finditer(text):
        found.append(Number(float(QUANTITIES[m.group(0).lower()]), m.start(), m.end(), m.group(0), spelled=True))
    found.sort(key=lambda n: (n.start, -(n.end - n.start)))
    out: list[Number] = []
    for n in found:
        if out and n.start < out[-1].end:
            continue
        out.append(n)
    return out


def value_of(word: str) -> int | None:
    """One number written as digits or words ("4", "four", "4th", "fourth"), or None."""
    hits = find(word.strip())
    return hits[0].whole if len(hits) == 1 and hits[0].text.strip() == word.strip() else None
