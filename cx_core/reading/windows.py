"""A window of the clock said with two bare hours after a day: "Friday the 27th, 2 to 4", "Monday between 8 and 10",
"Tuesday from 9-11". Alone, a bare number is no time; two of them joined as a stretch, where a day is named just
before, are the window's first and last hours."""

from __future__ import annotations

import re

_RANGE = re.compile(r"(?P<lead>\bbetween\s+|\bfrom\s+)?(?<![$£€\d.,:/#])\b(?P<a>1[0-2]|0?[1-9])\s*"
                    r"(?:-|–|\bto\b|\btill\b|\buntil\b|(?P<joint>\band\b))\s*(?P<b>1[0-2]|0?[1-9])(?:\b|(?=[ap]\.?m))(?![.,:/]\d)", re.I)
# what a stretch of numbers counts when it is no window ("2 to 4 weeks", "3-5 people", "1 to 2 of them")
_COUNTS = re.compile(r"\s*(?:%|percent|days?|weeks?|months?|years?|hours?|hrs?|minutes?|mins?|nights?|times?|items?|"
                     r"bags?|pieces?|people|persons?|units?|of|x\b|stars?|kw|inch(?:es)?|ft|feet|metres?|meters?|"
                     r"pounds?|dollars?|euros?)", re.I)
NEAR = 40  # how far back, in the same sentence, the day is named


def hours(text: str, day: re.Pattern[str], month: re.Pattern[str]) -> dict[int, str]:
    """Where each bare hour of a window starts, with its bound: ``after`` for the first, ``before`` for the last
    (``day``: the words that name a day; ``month``: a month's name, after which "1 to 3" are days)."""
    out: dict[int, str] = {}
    for m in _RANGE.finditer(text):
        if m.group("joint") and not m.group("lead") or int(m.group("b")) <= int(m.group("a")):
            continue  # "2 and 4" is two numbers unless "between" opens it; a window runs forward
        if _COUNTS.match(text, m.end()):
            continue
        before = re.split(r"[.!?\n]", text[max(0, m.start() - NEAR):m.start()])[-1]
        if month.search(before.rstrip(" .")[-12:]) and re.search(r"[a-z]\.?\s*$", before, re.I):
            continue  # "Dec 1 to 3": days of the month
        if not day.search(before) and not re.search(r"\b(?:the\s+)?\d{1,2}(?:st|nd|rd|th)\b", before, re.I):
            continue
        out[m.start("a")] = "after"
        out[m.start("b")] = "before"
    return out

