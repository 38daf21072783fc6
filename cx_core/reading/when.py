"""Days, times of day and stretches of time, read relative to the day the message was written.

dateparser 1.5 reads "the day after tomorrow" as tomorrow and "a week on Thursday" as this Thursday, so the rules
of English dates live here, once, with a table of tests. The conventions are the common ones (and SGD's):

- a weekday alone is the next one after today ("Friday", said on a Friday, is a week ahead), unless its clause tells
  of what already happened ("on Tuesday I ordered another", "it arrived on Monday"): then it is the last one;
- "this Saturday" is the one of the current week, or the next one when it has passed;
- "next Tuesday" is the first Tuesday after today when that is in the next calendar week, else the one after;
- "Thursday next week", "Monday this week", "the Wednesday of the week after next" name a calendar week;
- "a week on Thursday" / "Thursday week" is the next Thursday and a week; "the Wednesday after next" likewise;
- a day of the month ("the 13th") or a day and month without a year is the occurrence nearest the message
  (ties and near-misses go forward), so "delivered on 3 November" read on 20 November is in the past; a day of the
  month alone in a clause that asks for a day ahead ("fly back sooner: the 8th, please") is the next one;
- a clock time without am/pm from 1 to 7 is in the afternoon ("at 3") unless the words say morning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from . import corrections, numbers, windows

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
# a weekday's and a month's name, in full or shortened (other readers build on these)
WEEKDAY_WORD = r"(?:mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:r|rs|rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)"
MONTH_WORD = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
        r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# a day or a part of one named in words: a weekday, a month, "tomorrow", "this afternoon"
DAY_WORDS = rf"\b{WEEKDAY_WORD}s?\b|\b{MONTH_WORD}\b|\b(?:tomorrow|today|morning|afternoon|evening)\b"
_DAY_SAID, _MONTH_SAID = re.compile(DAY_WORDS, re.I), re.compile(rf"\b{MONTH_WORD}\b", re.I)
_WD, _MON = WEEKDAY_WORD, MONTH_WORD
_DAY = r"(?:[12]\d|3[01]|0?[1-9])"
_ORD = r"(?:st|nd|rd|th)"
_YEAR = r"(?:,?\s+(?P<year>(?:19|20)\d\d))?"
PERIODS = ("morning", "afternoon", "evening")


@dataclass(frozen=True)
class When:
    """A day (ISO), a time (``HH:MM``) or a part of the day, where it stands in the text, and how the words bound
    it (``after``, ``before``, ``by``, ``around``, ``from``, ``until``, or '')."""

    kind: str  # date | time | period
    value: str
    start: int
    end: int
    text: str
    bound: str = ""


@dataclass(frozen=True)
class Span:
    """A stretch of days the words name ("next week", "all of next week", "this weekend")."""

    first: date
    last: date
    start: int
    end: int
    text: str


_NTH = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}  # "last": -1


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (0 Monday) of a month; ``n`` -1 for the last ("the last Friday of the month")."""
    if n < 0:
        last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _weekday(word: str) -> int:
    return next(i for i, w in enumerate(WEEKDAYS) if w.startswith(word.lower()[:3]))


def _month(word: str) -> int:
    return next(i for i, m in enumerate(MONTHS, 1) if m.startswith(word.lower()[:3]))


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def nearest(day: int, month: int | None, today: date, year: int | None = None) -> date | None:
    """The date with that day (and month, and year) nearest ``today``; a tie or a date up to 7 days back goes
    to the next occurrence only when the past one is more than that."""
    options: list[date] = []
    if year is not None and month is not None:
        try:
            return date(year, month, day)
        except ValueError:
            return None
    if month is not None:
        for y in (today.year - 1, today.year, today.year + 1):
            try:
                options.append(date(y, month, day))
            except ValueError:
                continue
    else:
        first = today.replace(day=1)
        for shift in (-1, 0, 1, 2):
            m0 = (first.month - 1 + shift) % 12 + 1
            y0 = first.year + (first.month - 1 + shift) // 12
            try:
                options.append(date(y0, m0, day))
            except ValueError:
                continue
    if not options:
        return None
    return min(options, key=lambda d: (abs((d - today).days) if d >= today else abs((d - today).days) + 0.5))


def weekday_after(today: date, wd: int) -> date:
    """The first such weekday strictly after ``today``."""
    return today + timedelta(days=(wd - today.weekday()) % 7 or 7)


def _this(today: date, wd: int) -> date:
    d = monday(today) + timedelta(days=wd)
    return d if d >= today else weekday_after(today, wd)


def _next(today: date, wd: int) -> date:
    d = weekday_after(today, wd)
    return d if monday(d) > monday(today) else d + timedelta(days=7)


# ------------------------------------------------------------------ days
_NO_DAY = (rf"(?:time|floor|item|order|bag|night|year|month|week|day|slot|free|available|thing|{_WD}\b|"  # no day of a month
           r"of\s+(?:them|those|these|my|the|our)\b)")
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b")),
    ("numeric", re.compile(r"(?<![\d/.-])(?P<a>\d{1,2})[/.](?P<b>\d{1,2})(?:[/.](?P<year>(?:19|20)?\d\d))?(?![\d/]|\.\d)")),
    # with dashes only beside a four-figure year ("03-22-1979"): "10-12" alone is a range, not a day
    ("numeric", re.compile(r"(?<![\d/.-])(?P<a>\d{1,2})-(?P<b>\d{1,2})-(?P<year>(?:19|20)\d\d)(?![\d-])")),
    # "Saturday 5 Dec", "5th of December 2026", "the 5th of December"
    ("dm", re.compile(rf"\b(?:(?P<wd>{_WD})\.?,?\s+)?(?:the\s+)?(?P<day>{_DAY}){_ORD}?\s+(?:of\s+)?(?P<month>{_MON})\b"
                      rf"{_YEAR}", re.I)),
    # "Saturday, December 5th", "Dec. 5", "March 3rd 2026"
    ("md", re.compile(rf"\b(?:(?P<wd>{_WD})\.?,?\s+)?(?P<month>{_MON})\.?\s+(?:the\s+)?(?P<day>{_DAY}){_ORD}?\b{_YEAR}",
                      re.I)),
    # "the 13th of this month", "the 2nd of next month"
    ("of_month", re.compile(rf"\b(?:the\s+)?(?P<day>{_DAY}){_ORD}\s+of\s+(?P<which>this|next|last)\s+month\b", re.I)),
    # "the first Tuesday in December", "the last Friday of the month"
    ("nth_wd", re.compile(rf"\b(?:the\s+)?(?P<nth>first|1st|second|2nd|third|3rd|fourth|4th|last|final)\s+(?P<wd>{_WD})"
                          rf"\s+(?:of|in)\s+(?:(?P<month>{_MON})\b|(?P<which>this|next|the)\s+month\b)", re.I)),
    # "Sunday the 6th", "Sat 28th", "on the 13th"
    ("wd_ord", re.compile(rf"\b(?P<wd>{_WD})\.?,?\s+(?:the\s+)?(?P<day>{_DAY}){_ORD}\b", re.I)),
    ("ord", re.compile(rf"\bthe\s+(?P<day>{_DAY}){_ORD}\b(?!\s+{_WD}\b)|\b(?P<day2>{_DAY}){_ORD}\b(?!\s+{_NO_DAY})", re.I)),
    ("ord_words", re.compile(r"\bthe\s+(?P<word>(?:twenty|thirty)[\s-])?(?P<ordw>first|second|third|fourth|fifth|sixth|"
                             r"seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|"
                             rf"seventeenth|eighteenth|nineteenth|twentieth|thirtieth)\b(?!\s+(?:one\b|{_NO_DAY}))", re.I)),
    ("after_next", re.compile(rf"\b(?:the\s+)?(?P<wd>{_WD})\s+(?:of\s+)?the\s+week\s+after\s+next\b|"
                              rf"\bthe\s+(?P<wd2>{_WD})\s+after\s+next\b", re.I)),
    # "two weeks from this Sunday", "a fortnight on Friday", "3 days after next Monday"
    ("from_day", re.compile(rf"\b(?P<n>\d+|a|one|two|three|four)\s+(?P<unit>days?|weeks?|fortnights?)\s+(?:from|after|on)\s+"
                            rf"(?:(?P<which>this|next|coming|this\s+coming)\s+)?(?P<wd>{_WD})\b", re.I)),
    ("week_on", re.compile(rf"\ba\s+week\s+(?:on|from)\s+(?P<wd>{_WD})\b|\b(?P<wd2>{_WD})\s+week\b(?!\s*end)", re.I)),
    ("wd_week", re.compile(rf"\b(?P<wd>{_WD})\s+(?:of\s+)?(?P<which>this|next|the\s+following)\s+week\b", re.I)),
    ("this_next", re.compile(rf"\b(?P<which>this|next|coming|this\s+coming|last|the\s+following)\s+(?P<wd>{_WD})\b",
                             re.I)),
    ("relative", re.compile(r"\b(?P<word>the\s+day\s+after\s+tomorrow|day\s+after\s+tomorrow|tomorrow|tmrw|tmr|"
                            r"later\s+today|today|tonight|this\s+(?:morning|afternoon|evening)|yesterday|"
                            r"a\s+(?:week|fortnight)\s+(?:from\s+)?(?:today|tomorrow))\b", re.I)),
    ("in_days", re.compile(r"\bin\s+(?P<n>\d+|a|one|two|three|four|five|six|seven|ten|fourteen)\s+"
                           r"(?P<unit>days?|weeks?|fortnights?)(?:'?s?\s+time)?\b|\b(?P<n2>\d+|a|one|two|three|four|five|six|seven)\s+"
                           r"(?P<unit2>days?|weeks?|fortnights?)\s+from\s+(?:now|today)\b", re.I)),
    ("wd", re.compile(rf"\b(?:on\s+)?(?P<wd>{_WD})(?P<every>s)?\b(?!\s*-)", re.I)),
]
_DAY_BOUND = re.compile(r"\b(after|from|before|by|until|till|til|no\s+later\s+than|not\s+before|not\s+after)"
                        r"(?:\s+the)?\s*$", re.I)
# a day said as the limit a thing must happen by, not the day asked for: "before their start date of 14 December",
# "by the 3rd", "ahead of our moving day on 5 Dec"
_DEADLINE = re.compile(r"\b(?:before|by|ahead\s+of|no\s+later\s+than|in\s+time\s+for|prior\s+to)\s+(?:(?:the|their|our|"
                       r"my|his|her|your|its)\s+)?(?:(?:[\w'-]+\s+){0,3}?(?:date|day|deadline)\s+(?:of|on)\s+)?$", re.I)


def deadline(text: str, start: int) -> bool:
    """Whether the day at ``start`` is said as a limit ("before their start date of 14 December")."""
    return bool(_DEADLINE.search(text[max(0, start - 48):start]))


# a weekday told of something that already happened is the last one, not the next: "on Tuesday I ordered another",
# "it arrived on Monday", "we rang on Wednesday" (never one a booking is for: "I booked it for Tuesday")
_HAPPENED = re.compile(r"\b(?:i|we|they|he|she|you)\s+(?:\w+ly\s+)?(?:ordered|placed|bought|paid|rang|called|phoned|"
                       r"e-?mailed|wrote|received|noticed|tried|returned|posted|flew|travell?ed|went|landed)\b|\b(?:arrived|came|turned\s+up|"
                       r"showed\s+up|was\s+delivered|were\s+delivered|got\s+delivered|broke|stopped\s+working)\b", re.I)
_NOT_YET = re.compile(r"\b(?:will|won'?t|going\s+to|'ll|next|coming|should|supposed|due|booked|scheduled|expected|can|"
                      r"could|planned|for|until|till|by|from)\b", re.I)


def _clause(text: str, start: int, end: int) -> str:
    left = max(text.rfind(c, 0, start) for c in ".;!?,\n") + 1
    ends = [i for i in (text.find(c, end) for c in ".;!?,\n") if i >= 0]
    return text[left:min(ends) if ends else len(text)]


def _happened(text: str, start: int, end: int) -> bool:
    """The weekday at ``start`` is told in a clause about what already happened, with nothing that looks ahead."""
    clause = _clause(text, start, end)
    return bool(_HAPPENED.search(clause)) and not _NOT_YET.search(clause)


# a clause that asks for a day ahead: "I want to fly back a little sooner: the 8th, please", "could it come on the 3rd?"
_WISHED = re.compile(r"\b(?:want|wants|would\s+like|'d\s+like|please|prefer|rather|instead|sooner|earlier|move|"
                     r"change|reschedule|rebook|book|deliver|come|fly|travel|make\s+(?:it|that))\b", re.I)
_LATER = re.compile(r"\b(?:will|won'?t|going\s+to|'ll|due|scheduled|expected|planned)\b", re.I)


def _ahead(text: str, start: int, end: int, d: date, today: date) -> date:
    """A day of the month without its month, past by the nearest reading, in a clause that asks for a day ahead
    (and tells of nothing that happened): its next occurrence."""
    clause = _clause(text, start, end)
    if d >= today or _HAPPENED.search(clause) or not (_WISHED.search(clause) or _LATER.search(clause)):
        return d
    first = today.replace(day=1)
    for shift in (1, 2):
        try:
            return date(first.year + (first.month - 1 + shift) // 12, (first.month - 1 + shift) % 12 + 1, d.day)
        except ValueError:
            continue
    return d


# "the Monday after", "the day after that", "the next day", "the following Monday": a day counted from the day
# named before it
_AFTER_PREVIOUS = re.compile(rf"\bany\s+(?:day|time)\s+(?P<ad>after)\s+(?:that|then|it|this)\b|\bthe\s+(?P<wd>{_WD}|day)\s+after\b(?:\s+(?:that|it|this))?(?!\s+(?:next|tomorrow|"
                             rf"the\s+week|(?:this|next|the|a)\b))|\bthe\s+(?:next|following)\s+(?P<nd>day)\b|"
                             rf"\bthe\s+following\s+(?P<fd>{_WD})\b|\bthe\s+(?P<one>one)\s+after\s+(?:that|it|this)\b", re.I)


def _relative(word: str, today: date) -> date | None:
    w = " ".join(word.lower().split()).replace(" from ", " ")  # "a week from tomorrow" is "a week tomorrow"
    if w.startswith("this "):  # "this afternoon": a part of today
        return today
    return {"today": today, "tonight": today, "later today": today, "yesterday": today - timedelta(days=1),
            "tomorrow": today + timedelta(days=1), "tmrw": today + timedelta(days=1),
            "tmr": today + timedelta(days=1), "day after tomorrow": today + timedelta(days=2),
            "the day after tomorrow": today + timedelta(days=2), "a week today": today + timedelta(days=7),
            "a week tomorrow": today + timedelta(days=8), "a fortnight today": today + timedelta(days=14),
            "a fortnight tomorrow": today + timedelta(days=15)}.get(w)


_UNIT_DAYS = {"d": 1, "w": 7, "f": 14}
# a record's own day moved by a span: "a day later than planned", "push it back by a week", "two days earlier",
# "bring it forward a week", "delay it by 3 days"
_BY_SPAN = r"(?P<n>a|an|one|two|three|four|five|six|seven|ten|fourteen|\d{1,2})\s+(?P<unit>days?|weeks?|fortnights?)"
_SHIFT = re.compile(
    rf"\b(?:{_BY_SPAN}\s+(?P<dir>later|earlier|sooner)\b|(?P<verb>push(?:ed|ing)?|put(?:ting)?|move[ds]?|moving|delay(?:ed|ing)?|"
    rf"bring(?:ing)?|brought|pull(?:ed|ing)?)\s+(?:[\w']+\s+){{0,5}}?(?P<way>back|forward|forwards|on|earlier|later)\s+"
    rf"(?:by\s+)?{_BY_SPAN.replace('?P<n>', '?P<n2>').replace('?P<unit>', '?P<unit2>')}|(?P<dverb>delay(?:ed|ing)?)\s+"
    rf"(?:[\w']+\s+){{0,5}}?by\s+{_BY_SPAN.replace('?P<n>', '?P<n3>').replace('?P<unit>', '?P<unit3>')})", re.I)


def shift_days(text: str) -> int | None:
    """How many days the words move a record's own value by ("a day later than planned": 1; "bring it forward a
    week": -7); None when they give no span, or two that disagree."""
    found: set[int] = set()
    for m in _SHIFT.finditer(text):
        n = _count(m.group("n") or m.group("n2") or m.group("n3") or "")
        unit = (m.group("unit") or m.group("unit2") or m.group("unit3") or "d")[0].lower()
        way = (m.group("dir") or m.group("way") or "later").lower()
        if n:
            sign = -1 if way in ("earlier", "sooner", "forward", "forwards") else 1
            found.add(sign * n * _UNIT_DAYS[unit])
    return found.pop() if len(found) == 1 else None


def shifted(text: str, base: date) -> date | None:
    """The day ``base`` (a record's own day) moved by the span the words give ("a day later than planned": the day
    after; "bring it forward a week": seven days before); None when they give none, or two that disagree."""
    days = shift_days(text)
    return base + timedelta(days=days) if days is not None else None


def _count(word: str) -> int:
    """How many days or weeks a word counts: "a", "one", "two", "14"; 0 when none."""
    return 1 if word.lower() in ("a", "one") else numbers.value_of(word.lower()) or 0


def _in_month(kind: str, g: dict[str, Any], today: date) -> date | None:
    """A day of a month said by its number ("the 13th of next month") or as an ordinal weekday ("the first Tuesday
    in December")."""
    if kind == "nth_wd":
        month = _month(g["month"]) if g.get("month") else (today.month if (g["which"] or "").lower() != "next"
                                                            else today.month % 12 + 1)
        return nth_weekday(today.year + (month < today.month), month, _weekday(g["wd"]),
                           _NTH.get(g["nth"].lower(), -1))
    which = g["which"].lower()
    first = today.replace(day=1)
    if which == "next":
        first = (first + timedelta(days=32)).replace(day=1)
    elif which == "last":
        first = (first - timedelta(days=1)).replace(day=1)
    try:
        return first.replace(day=int(g["day"]))
    except ValueError:
        return None


def _resolve(kind: str, m: re.Match[str], today: date, day_first: bool) -> date | None:
    g = m.groupdict()
    year = int(g["year"]) if g.get("year") and len(g["year"]) == 4 else (2000 + int(g["year"]) if g.get("year")
                                                                           else None)
    if kind == "iso":
        return nearest(int(g["day"]), int(g["month"]), today, int(g["year"]))
    if kind == "numeric":
        a, b = int(g["a"]), int(g["b"])
        day, month = (a, b) if day_first else (b, a)
        if month > 12 and day <= 12:
            day, month = month, day
        if month > 12 or day > 31:
            return None
        return nearest(day, month, today, year)
    if kind in ("dm", "md"):
        return nearest(int(g["day"]), _month(g["month"]), today, year)
    if kind in ("of_month", "nth_wd"):
        return _in_month(kind, g, today)
    if kind == "wd_ord":
        wd, day = _weekday(g["wd"]), int(g["day"])
        d = nearest(day, None, today)
        if d is not None and d.weekday() != wd:  # "Sunday the 6th": the next month whose 6th is a Sunday
            for shift in range(1, 13):
                probe = (today.replace(day=1) + timedelta(days=31 * shift)).replace(day=1)
                try:
                    cand = probe.replace(day=day)
                except ValueError:
                    continue
                if cand.weekday() == wd and cand >= today:
                    return cand
        return d
    if kind == "ord":
        return nearest(int(g.get("day") or g.get("day2") or 0), None, today)
    if kind == "ord_words":
        value = numbers.ORDINAL_WORDS[g["ordw"].lower()] + (numbers.TENS[g["word"].strip(" -").lower()]
                                                            if g.get("word") else 0)
        return nearest(value, None, today) if value <= 31 else None
    if kind == "after_next":
        wd = _weekday(g.get("wd") or g.get("wd2") or "")
        if g.get("wd"):
            return monday(today) + timedelta(days=14 + wd)
        return weekday_after(today, wd) + timedelta(days=7)
    if kind == "week_on":
        return weekday_after(today, _weekday(g.get("wd") or g.get("wd2") or "")) + timedelta(days=7)
    if kind == "wd_week":
        wd, which = _weekday(g["wd"]), " ".join(g["which"].lower().split())
        return monday(today) + timedelta(days=wd + (0 if which == "this" else 7))
    if kind == "this_next":
        wd, which = _weekday(g["wd"]), " ".join(g["which"].lower().split())
        if which == "last":
            return today - timedelta(days=(today.weekday() - wd) % 7 or 7)
        if which in ("this", "coming", "this coming"):
            return _this(today, wd) if which == "this" else weekday_after(today, wd)
        return _next(today, wd)
    if kind == "relative":
        return _relative(g["word"], today)
    if kind == "in_days":
        n = _count(g.get("n") or g.get("n2") or "")
        return today + timedelta(days=n * _UNIT_DAYS[(g.get("unit") or g.get("unit2") or "d")[0].lower()]) if n else None
    if kind == "from_day":
        n, which = _count(g["n"]), " ".join((g.get("which") or "coming").lower().split())
        anchor = _next(today, _weekday(g["wd"])) if which == "next" else \
            _this(today, _weekday(g["wd"])) if which == "this" else weekday_after(today, _weekday(g["wd"]))
        return anchor + timedelta(days=n * _UNIT_DAYS[g["unit"][0].lower()]) if n else None
    if kind == "wd":
        return weekday_after(today, _weekday(g["wd"]))
    return None


# the words before a card's expiry date ("exp 07/29", "expires 07/29", "valid thru 07/29")
_EXPIRY = re.compile(r"\b(?:exp(?:iry|ires|iration)?(?:\s+date)?|valid\s+(?:thru|through|until|till)|good\s+thru)"
                     r"\.?\s*:?\s*$", re.I)


def dates(text: str, today: date, day_first: bool = True) -> list[When]:
    """Every day ``text`` names, in order, each once; the longest reading of a stretch of words wins ("Saturday 5
    Dec" is one day, not also "Saturday")."""
    found: list[When] = []
    taken: list[tuple[int, int]] = []
    kinds: dict[int, str] = {}
    for kind, rx in _PATTERNS:
        for m in rx.finditer(text):
            s, e = m.span()
            if any(s < b and a < e for a, b in taken):
                continue
            if kind == "numeric" and (not re.search(r"\d", m.group(0)) or _EXPIRY.search(text[max(0, s - 24):s])):
                continue  # "exp 07/29", "valid thru 07/29": a card's month and year, no day
            d = _resolve(kind, m, today, day_first)
            if d is None:
                continue
            if kind in ("ord", "ord_words") and d < today:  # "fly back sooner: the 8th, please": the next 8th
                d = _ahead(text, s, e, d, today)
            if kind == "wd" and not m.group("every") and _happened(text, s, e):
                d = today - timedelta(days=(today.weekday() - d.weekday()) % 7 or 7)
            if kind == "wd" and re.search(r"\bthe\s+$", text[max(0, s - 8):s]):
                # "a week on Monday … they need the Monday as well": the Monday already named
                named = [w for w in found if w.start < s and date.fromisoformat(w.value).weekday() == d.weekday()]
                d = date.fromisoformat(max(named, key=lambda w: w.start).value) if named else d
            # "if you don't deliver on Sundays": a weekday in the plural is every such day, not one of them
            every = kind == "wd" and len(m.group("wd")) > 3 and bool(m.group("every") or re.match(
                r"\s+(?:mornings|afternoons|evenings|nights)\b", text[e:e + 12], re.I))  # "Thursday afternoons"
            # "away until December 1st", "after Monday", "by Friday": how the words before bound the day
            lead = _DAY_BOUND.search(text[max(0, s - 24):s])
            bound = "every" if every else _norm_bound(" ".join(lead.group(1).lower().split())) if lead else ""
            found.append(When("date", d.isoformat(), s, e, m.group(0), bound))
            taken.append((s, e))
            kinds[s] = kind
    found.sort(key=lambda w: w.start)  # in order: a day said again is read as it was the first time
    for n, w in enumerate(found):
        found[n] = _in_month_said(w, found, kinds, text) if kinds.get(w.start) in ("ord", "ord_words") else w
    for m in _AFTER_PREVIOUS.finditer(text):
        s, e = m.span()
        before = [w for w in found if w.end <= s and w.bound != "every"]
        if not before:
            continue
        last = max(before, key=lambda w: w.end)
        anchor = date.fromisoformat(last.value)
        if m.group("one"):  # "not next Thursday … the one after that": the same weekday, a week on
            if not re.search(_WD, last.text, re.I):
                continue
            d = anchor + timedelta(days=7)
        else:
            word = "day" if m.group("ad") else (m.group("wd") or m.group("nd") or m.group("fd")).lower()
            d = anchor + timedelta(days=1) if word == "day" else weekday_after(anchor, _weekday(word))
        found = [w for w in found if not (s <= w.start < e)]
        found.append(When("date", d.isoformat(), s, e, m.group(0)))
    return sorted(found, key=lambda w: w.start)


_INSTEAD = re.compile(r"\b(?:instead\s+of|rather\s+than|in\s+place\s+of|not)\b", re.I)


def _in_month_said(w: When, found: list[When], kinds: dict[int, str], text: str) -> When:
    """A day of the month alone after a date with its month in its sentence ("out on 5 December, back on the 10th")
    is in that month, or the next when it comes before that day; one instead of the day before ("Dec 9 instead of
    the 8th") or putting it right ("the 14th. Sorry, I mean the 15th") is in its month; one said again, as it was."""
    day = date.fromisoformat(w.value).day
    before = [x for x in found if x.end <= w.start]
    if again := [x for x in before if kinds.get(x.start) in ("ord", "ord_words") and int(x.value[8:]) == day]:
        return replace(w, value=again[0].value)
    said = [x for x in before if kinds.get(x.start) in ("dm", "md", "iso", "wd_ord")
            and not re.search(r"[.!?]", text[x.end:w.start])]
    fixed = next((x for x in sorted(before, key=lambda x: -x.end)[:1]
                  if corrections.corrects(text, (x.start, x.end, x.value), [(w.start, w.end, day)])), None)
    if not said and fixed is None:
        return w
    last = fixed or max(said, key=lambda x: x.end)
    anchor = date.fromisoformat(last.value)
    if fixed is not None or _INSTEAD.search(text[last.end:w.start]):
        try:
            return replace(w, value=anchor.replace(day=day).isoformat())
        except ValueError:
            return w
    for shift in (0, 1):
        y, m = anchor.year + (anchor.month - 1 + shift) // 12, (anchor.month - 1 + shift) % 12 + 1
        try:
            d = date(y, m, day)
        except ValueError:
            continue
        if d >= anchor:
            return When(w.kind, d.isoformat(), w.start, w.end, w.text, w.bound)
    return w


# ------------------------------------------------------------------ weeks and weekends
_SPAN = re.compile(r"\b(?:(?:all|the\s+whole|the\s+rest)\s+(?:of\s+)?)?(?P<which>this|next|the\s+following|"
                   r"the\s+week\s+after)\s+(?P<what>week(?:end)?)\b(?!\s+after)|\bthe\s+week\s+after\s+next\b|"
                   r"\b(?:later|the\s+rest\s+of)\s+this\s+week\b|\bover\s+the\s+weekend\b|\bthis\s+weekend\b", re.I)


def spans(text: str, today: date) -> list[Span]:
    """The stretches of days ``text`` names: this week, next week, the week after next, the weekend."""
    out = []
    for m in _SPAN.finditer(text):
        words = " ".join(m.group(0).lower().split())
        start = monday(today)
        if "after next" in words:
            start += timedelta(days=14)
        elif m.group("which") and m.group("which").lower().split()[0] in ("next", "the") or "following" in words:
            start += timedelta(days=7)
        weekend = "weekend" in words
        first, last = (start + timedelta(days=5), start + timedelta(days=6)) if weekend else (start, start + timedelta(6))
        if "later" in words or "rest" in words:
            first = max(first, today + timedelta(days=1))
        out.append(Span(max(first, today) if start == monday(today) else first, last, m.start(), m.end(),
                        m.group(0)))
    return out


# ------------------------------------------------------------------ times of day
_H = r"(?:[01]?\d|2[0-3])"
_NUMW = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_PART = r"(?:in\s+the\s+(?P<part>morning|afternoon|evening)|at\s+night|tonight|o['\"’]?\s*clock(?:\s+in\s+the\s+" \
        r"(?P<part2>morning|afternoon|evening))?)"
_TIMES = re.compile(
    rf"(?:\b(?P<lead>morning|afternoon|evening)\s+)?"
    rf"(?:(?P<half>half|quarter)\s+(?P<dir>past|to)\s+(?P<hq>{_H}|{_NUMW})|"
    rf"(?<![$£€\d.,])(?P<h>{_H}|{_NUMW})(?:(?::|\.(?=[0-5]\d\s*(?:a\.?m|p\.?m)))(?P<m>[0-5]\d))?)"
    rf"(?:\s*(?P<ampm>a\.?\s?m\.?|p\.?\s?m\.?)(?![a-z])|\s*(?P<h24>h\b|hrs\b|hours\b)|\s+{_PART})?"
    r"|\b(?P<named>noon|midday|midnight)\b", re.I)
_BOUND = re.compile(r"\b(after|from|before|by|until|till|til|around|about|at|between|no\s+later\s+than|"
                    r"not\s+before|not\s+after|or\s+later|or\s+after|onwards)\s*$", re.I)
_PERIOD = re.compile(r"(?<!good\s)\b(?P<p>mornings?|afternoons?|evenings?|tonight|night|am\s+slot|pm\s+slot|"
                     r"first\s+thing|after\s+lunch|before\s+(?:noon|midday|lunch)|lunch\s*time)\b", re.I)


def _hour(word: str) -> int | None:
    return int(word) if word.isdigit() else numbers.value_of(word)


def times(text: str) -> list[When]:
    """Clock times ("2pm", "14:30", "half past 11 in the morning", "four in the evening", "noon") as ``HH:MM``, and
    parts of the day ("morning", "after lunch"), each with the word that bounds it ("after 2pm" → after)."""
    out: list[When] = []
    window = windows.hours(text, _DAY_SAID, _MONTH_SAID)
    for m in _TIMES.finditer(text):
        g = m.groupdict()
        if text[m.end():m.end() + 1].isdigit() or text[max(0, m.start() - 1):m.start()].isdigit():
            continue  # part of a longer figure ("moved from 4410"), no time
        if g["h"] and re.search(rf"\b{_MON}\.?\s*$", text[max(0, m.start() - 12):m.start()], re.I):
            continue  # the day of a month ("Tuesday Dec 1 in the morning"), no hour
        if g["named"]:
            value = "00:00" if g["named"].lower() == "midnight" else "12:00"
        else:
            hour = _hour(g["hq"] or g["h"] or "")
            if hour is None:
                continue
            minute = int(g["m"]) if g["m"] else 0
            if g["half"]:
                minute = 30 if g["half"].lower() == "half" else 15
                if g["dir"].lower() == "to":
                    hour, minute = (hour - 1) % 24, 60 - minute
            part = (g["part"] or g["part2"] or g["lead"] or "").lower()
            ampm = (g["ampm"] or "").lower().replace(".", "").replace(" ", "")
            marked = bool(ampm or part or g["h24"] or g["m"] or g["half"] or "night" in m.group(0).lower()
                          or "clock" in m.group(0).lower())
            lead = _BOUND.search(text[max(0, m.start() - 24):m.start()])
            bare_bound = not marked and g["h"] and lead is not None and \
                re.match(r"(?:after|before|from|by|until|till|around)\b", lead.group(1), re.I) and \
                1 <= (hour or 0) <= 12 and \
                not re.match(r"\s*(?:days?|weeks?|months?|years?|hours?|minutes?|items?|bags?|people|of)\b",
                             text[m.end():], re.I)
            if not marked and not bare_bound and m.start() not in window:
                continue  # a bare number is no time ("after 2" is: 2 in the afternoon)
            if g["m"] and not (ampm or part or g["h24"]) and g["h"] and not g["h"].isdigit():
                continue
            if ampm == "pm" or part in ("afternoon", "evening") or "night" in m.group(0).lower():
                hour = hour % 12 + 12 if hour < 12 else hour
            elif ampm == "am" or part == "morning":
                hour = 0 if hour == 12 and ampm == "am" else hour
            elif not g["h24"] and 1 <= hour <= 7 and not (g["m"] and len(g["h"] or "") == 2):
                hour += 12  # "at 3" is in the afternoon
            if hour > 23:
                continue
            value = f"{hour:02d}:{minute:02d}"
        before = _BOUND.search(text[max(0, m.start() - 24):m.start()])
        bound = " ".join(before.group(1).lower().split()) if before else ""
        after = re.match(r"\s*(or\s+later|or\s+after|onwards|and\s+later)\b", text[m.end():], re.I)
        bound = window.get(m.start()) or ("after" if after else bound if _norm_bound(bound) else
                                          _bound_back(text, m.end()))
        out.append(When("time", value, m.start(), m.end(), m.group(0).strip(), _norm_bound(bound)))
    for m in _PERIOD.finditer(text):
        if any(t.start <= m.start() < t.end for t in out):
            continue
        word = m.group("p").lower()
        part = ("morning" if word.startswith(("morning", "am", "first", "before")) else
                "afternoon" if word.startswith(("afternoon", "pm", "after lunch", "lunch")) else "evening")
        out.append(When("period", part, m.start(), m.end(), m.group(0)))
    return sorted(out, key=lambda w: w.start)


# the bound said after the time, pointing back at it: "home at half past three, so a visit that starts after that"
_BOUND_BACK = re.compile(r"\b(after|before|later\s+than|earlier\s+than)\s+(?:that|then|this)\b", re.I)


def _bound_back(text: str, end: int) -> str:
    rest = re.split(r"[.!?\n]", text[end:end + 120], maxsplit=1)[0]
    m = _BOUND_BACK.search(rest)
    if m is None or _TIMES.search(rest[:m.start()]) and re.search(r"\d|noon|midday", rest[:m.start()]):
        return ""
    return "after" if m.group(1).lower().startswith(("after", "later")) else "before"


def _norm_bound(word: str) -> str:
    return {"from": "after", "not before": "after", "onwards": "after", "or later": "after", "or after": "after",
            "till": "before", "til": "before", "until": "before", "no later than": "by", "not after": "by",
            "about": "around", "at": "", "between": "after"}.get(word, word)


def period_of(hour: int) -> str:
    """morning (before 12:00), afternoon (12:00 to 17:00) or evening."""
    return "morning" if hour < 12 else "afternoon" if hour < 17 else "evening"
