"""An action's argument read from the message by its schema alone: its type (a number and its range, a day, a
choice of values), its name and description. Nothing here knows a company: "the number on the meter's display"
(an integer from 0 to 999999) takes the one number the message gives in that range; "day of the month for the
direct debit (1 to 28)" the day it names; "morning or afternoon" the part of the day it asks for. When several
values fit, the one whose neighbouring words share the argument's words is taken ("electric 12301" for the
electricity account's reading); when that does not decide, nothing is guessed."""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass
from datetime import date, timedelta
from types import UnionType
from typing import Any, Literal, get_args, get_origin

from ..actions.base import enum_labels
from . import conditions, corrections, language, phrases, records, when
from .types import Reading, Value, Words

NOT_FOUND, AMBIGUOUS, STUCK = "not found", "ambiguous", "stuck"


@dataclass(frozen=True)
class Spec:
    """What the reader needs of an argument: its name and words, its kind, its range and its choices."""

    name: str
    description: str
    kind: str  # number | date | choice | text
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()  # (value, what customers call it), from the enum's x-enum-labels

    @property
    def words(self) -> set[str]:
        return records.words(f"{self.name.replace('_', ' ')} {self.description}")


def spec_of(name: str, field: Any) -> Spec:
    """An argument's ``Spec`` from its pydantic field."""
    ann = field.annotation
    if get_origin(ann) in (typing.Union, UnionType):
        ann = next((a for a in get_args(ann) if a is not type(None)), ann)
    low = high = None
    for m in field.metadata or []:
        low = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else low
        low = getattr(m, "gt", None) if getattr(m, "gt", None) is not None and low is None else low
        high = getattr(m, "le", None) if getattr(m, "le", None) is not None else high
        high = getattr(m, "lt", None) if getattr(m, "lt", None) is not None and high is None else high
    desc = str(field.description or "")
    if get_origin(ann) is Literal:
        return Spec(name, desc, "choice", choices=tuple(str(v) for v in get_args(ann)),
                    labels=tuple(enum_labels(field).items()))
    if ann in (int, float):
        return Spec(name, desc, "number", low, high)
    pattern = next((getattr(m, "pattern", None) for m in field.metadata or [] if getattr(m, "pattern", None)), None)
    if ann is date:
        return Spec(name, desc, "date")
    if pattern and re.fullmatch(r"\^?\\d\{4\}-\\d\{2\}-\\d\{2\}\$?", str(pattern)):
        return Spec(name, desc, "date")
    return Spec(name, desc, "text")


def _near(reading: Reading, v: Value, spec: Spec, width: int = 40) -> int:
    """How many of the argument's words stand just before or after a value ("meter reading: 23817")."""
    text = reading.text
    around = text[max(0, v.words.start - width):v.words.start] + " " + text[v.words.end:v.words.end + 15]
    return len(spec.words & records.words(around))


def _in_range(v: float, spec: Spec) -> bool:
    return (spec.low is None or v >= spec.low) and (spec.high is None or v <= spec.high)


def _longest(reading: Reading) -> bool:
    """The customer takes the most the rules allow ("the longest you can do", "the latest day you can")."""
    return bool(re.search(r"\b(?:the\s+)?(?:longest|most|maximum|max|highest|biggest|latest|last)\b[^.?!]{0,30}\b"
                          r"(?:you\s+can|possible|allowed|you\s+allow|available|there\s+is)\b|\bas\s+(?:long|many|late)\s+"
                          r"as\s+(?:you\s+can|possible|allowed)\b", reading.text, re.I))


UNITS = {"day": 1, "week": 7, "fortnight": 14, "month": 30, "year": 365}


def _unit(words: set[str]) -> str | None:
    return next((u for u in ("month", "week", "day", "year") if u in words or u + "ly" in words), None)


def _in_unit(reading: Reading, v: Value, spec: Spec) -> float | None:
    """A number said with a unit of time ("two years"), in the unit the argument counts ("monthly instalments":
    24); None when either says no unit."""
    after = re.match(r"\s*(day|week|fortnight|month|year)s?\b", reading.text[v.words.end:], re.I)
    wanted = _unit(spec.words)
    if not after or not wanted or not isinstance(v.value, int | float):
        return None
    said = after.group(1).lower()
    if said == wanted:
        return float(v.value)
    per = {"month": 12, "week": 52, "day": 365}
    if said == "year" and wanted in per:
        return float(v.value) * per[wanted]
    return float(v.value) * UNITS[said] / UNITS[wanted]


def _own_number(spec: Spec, reading: Reading, near: str, own: str) -> Any:
    """The number the request's ``own`` words give, read as the argument among those alone ("…Leeds LS8 2LB. I read
    the gas meter this morning: 15841": 15841, whatever the postcode); None when they give none, or the message no
    other."""
    at = reading.text.find(own)
    inside = [v for v in reading.facts.numbers if at >= 0 and at <= v.words.start and v.words.end <= at + len(own)]
    if not inside or len(inside) == len(reading.facts.numbers):
        return None
    return read(spec, reading.model_copy(update={"facts": reading.facts.model_copy(update={"numbers": inside})}),
                near)[0]


# a day given as a shift from another: "a week earlier", "two days later", "the day after"
_SHIFTED = re.compile(r"\b(?:a|one|two|three|four|five|six|seven|\d+)\s+(?:days?|weeks?)\s+(?:earlier|later|sooner|"
                      r"before|after|on)\b|\bthe\s+day\s+(?:after|before)\b", re.I)
# a shift counted from something other than the value as it is now: "a week earlier than my payday"
_THAN_ANOTHER = re.compile(r"\b(?:earlier|later|sooner)\s+than\b(?!\s+(?:at\s+present|now|currently|it\s+is(?:\s+now)?|"
                           r"the\s+current|usual)\b)", re.I)


def shifted(own: str, now: Any, spec: Spec) -> int | None:
    """A value said as a shift from the one it has now ("a week earlier than at present": 15 → 8; the span read by
    ``when.shift_days``), within the argument's range; None otherwise, or when the shift counts from something
    else."""
    if not isinstance(now, int | float) or isinstance(now, bool) or _THAN_ANOTHER.search(own):
        return None
    days = when.shift_days(own)
    if days is None:
        return None
    value = int(now) + days
    low, high = spec.low if spec.low is not None else value, spec.high if spec.high is not None else value
    return value if low <= value <= high else None


def read(spec: Spec, reading: Reading, near: str = "", own: str = "", now: Any = None) -> tuple[Any, str]:
    """The argument's value, or (None, why: ``NOT_FOUND`` or ``AMBIGUOUS``); ``near``, words of the record it belongs
    to, pick among several ("electric 12301, gas 5302"); a number the request's ``own`` words give comes first;
    ``now``, the value the record has now, which a shift in words counts from and which is no new value when
    another is said."""
    if spec.kind == "number" and own and (moved := shifted(own, now, spec)) is not None:
        # "Can my Direct Debit be taken a week earlier than at present?": a day counted from the one the records
        # have now, never from a day told beside it ("it's now the 7th")
        return moved, ""
    if spec.kind == "number" and own and (found := _own_number(spec, reading, near, own)) is not None:
        return found, ""
    if spec.kind == "number" and spec.high is not None and spec.high <= 31 and _SHIFTED.search(own) \
            and not re.search(r"\d", own):
        return None, AMBIGUOUS  # counted from a day the records do not give: asked, not guessed
    if spec.kind == "number":
        pool = [v for v in reading.facts.numbers if isinstance(v.value, int | float)]
        # a rank said in words ("the THIRD time I write", "my second message", "the first one you have") counts
        # nothing beside a number said, and is never a figure other than a day of the month
        pool = [v for v in pool if v.kind != "ordinal"] or (pool if spec.high is not None and spec.high <= 31 else [])
        stuck = [v for v in pool if language.STUCK.search(reading.text[max(0, v.words.start - 40):v.words.start])]
        if stuck:  # "stuck on 15702 for ten days": a fault seen, no value given, unless a figure like it is given too
            size = min(len(str(v.value)) for v in stuck)
            value, why = read(spec, reading.model_copy(update={"facts": reading.facts.model_copy(update={
                "numbers": [v for v in reading.facts.numbers if v not in stuck and len(str(v.value)) >= size]})}),
                near)
            return (value, why) if value is not None else (None, STUCK)
        if spec.high is not None and spec.high <= 31:  # a day of the month: "the 28th" was read as a day
            pool += [Value(kind="ordinal", value=int(m.group(1)), words=d.words) for d in reading.facts.dates
                     if (m := re.fullmatch(r"(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)", d.words.text.strip(), re.I))]
        if money(spec):
            pool = [*reading.facts.amounts, *pool]
        united = [v.model_copy(update={"value": int(c) if c.is_integer() else c}) for v in pool
                  if (c := _in_unit(reading, v, spec)) is not None]  # "over six months" for monthly instalments
        pool = [next((u for u in united if u.words == v.words), v) for v in pool]
        refused = _set_aside(reading, pool)
        pool = [v for v in pool if not ruled_out(reading, v) and v not in refused]  # never the one set aside
        values = [v for v in pool if _in_range(float(v.value["amount"] if isinstance(v.value, dict) else v.value),
                                               spec)]
        # a number said in the argument's own unit is the one meant, not "both" or "two" said of something else
        values = [v for v in values if v in united] or values
        values = [v for v in values if not _counts_other(reading.text, v, spec)] or values
        values = [v for v in values if not _in_a_name(reading.text, v)] or values  # "my Green Fixed 12 prices"
        if not values and pool and spec.high is not None and _longest(reading):
            return (int(spec.high) if float(spec.high).is_integer() else spec.high), ""
        # the value the record holds now is no new one, when another is said ("from the 12th to the 3rd")
        values = [v for v in values if now is None or v.value != now] or values
        return _pick(values or pool, spec, reading, near)
    if spec.kind == "date":
        return _read_date(spec, reading, near)
    if spec.kind == "choice":
        found = []
        old = [d for d in reading.facts.dates if str(d.value) in near or ruled_out(reading, d)]
        aside = [t for t in reading.facts.times if ruled_out(reading, t) or _with_day(reading, t, old)]
        for v in [t for t in reading.facts.times if t not in aside]:
            part = v.value if v.kind == "period" else when.period_of(int(str(v.value["at"] if isinstance(
                v.value, dict) else v.value)[:2]))
            if part in spec.choices:
                found.append(Value(kind="enum", value=part, words=v.words))
        for choice, name in [*((c, c) for c in spec.choices), *spec.labels]:
            for start, end in phrases.find(name, reading.text):
                said = Value(kind="enum", value=choice, words=_w(reading.text, start, end))
                if not any(f.words.start <= start < f.words.end for f in [*found, *aside]) \
                        and not ruled_out(reading, said):
                    found.append(said)
        distinct = list(dict.fromkeys(str(f.value) for f in found))
        if len(distinct) > 1:  # "…the afternoon instead? I drop the car off first thing.": the one asked for
            asked = list(dict.fromkeys(str(f.value) for f in found if _in_asking(reading, f)))
            distinct = asked if len(asked) == 1 else distinct
        if len(distinct) == 1:
            return distinct[0], ""
        return None, NOT_FOUND if not distinct else AMBIGUOUS
    return None, NOT_FOUND


# an amount said as what a month may take: "£25 a month", "monthly payments of no more than £30"
_A_MONTH_AFTER = re.compile(r"^\s*(?:a|per|each|every)\s+month\b|^\s*monthly\b", re.I)
_A_MONTH_BEFORE = re.compile(r"\bmonthly\s+(?:payments?|instal?ments?|amounts?)\s+of\s+(?:no\s+more\s+than\s+|at\s+most\s+|"
                             r"up\s+to\s+|about\s+|around\s+|roughly\s+)?$", re.I)


def a_month(reading: Reading) -> float | None:
    """The amount the message says a month may take ("About £25 a month is what I can manage"); None when it says
    none, or two different ones."""
    said = {float(v.value["amount"]) for v in reading.facts.amounts if isinstance(v.value, dict)
            and float(v.value.get("amount") or 0) > 0 and (_A_MONTH_AFTER.match(reading.text[v.words.end:v.words.end + 16])
                                                        or _A_MONTH_BEFORE.search(reading.text[:v.words.start]))}
    return said.pop() if len(said) == 1 else None


# a count as large as a time allows: "as many monthly payments as fit in before we leave", "as many months as I can"
_AS_MANY = re.compile(r"\bas\s+many\s+(?:\w+\s+){0,2}?(?:payments?|instal?ments?|months?|parts?)\s+as\b", re.I)
# the month a thing must be done by: "by the end of March", "before March", "until March", "at the end of March"
_BY_MONTH = re.compile(r"\b(?:by|before|until|till|(?:at\s+)?the\s+end\s+of)\s+(?:the\s+end\s+of\s+)?"
                       r"(" + "|".join(when.MONTHS) + r")\b", re.I)


def months_left(reading: Reading) -> int | None:
    """The number of monthly payments that fit before the month the message must be done by, when it asks for as
    many as fit ("We move out at the end of March … spread it over as many monthly payments as fit in before we
    leave", written in November: December to March, 4); None when it asks no such thing or names no such month."""
    if not _AS_MANY.search(reading.text):
        return None
    months = {when.MONTHS.index(m.group(1).lower()) + 1 for m in _BY_MONTH.finditer(reading.text)}
    if len(months) != 1:
        return None
    now = reading.written_at.date()
    ahead = (months.pop() - now.month) % 12
    return ahead or None


def parts(reading: Reading, total: float) -> int | None:
    """Into how many monthly parts the message asks a sum to be split without counting them: by what a month may take
    ("no more than £25 a month" of £96.40: 4), or by the months left before a month named; None when it says neither."""
    if most := a_month(reading):
        return math.ceil(round(float(total) / most, 6))
    return months_left(reading)


def money(spec: Spec) -> bool:
    """Whether the argument is a sum of money."""
    return any(w in spec.words for w in ("pound", "dollar", "euro", "amount", "price", "fee", "cost", "balance"))


def excepted(spec: Spec, reading: Reading, own: str) -> float:
    """The money the customer leaves out of a sum taken from their records ("can the gas balance be split into
    three? all of it apart from the £12 late fee"): the amounts said after words of exception in the request's own
    sentence or the one after it; 0 when none."""
    if not money(spec) or not own:
        return 0.0
    at = reading.text.find(own)
    near = [s for s in reading.sentences if at >= 0 and s.end > at][:2]
    total = 0.0
    for s in near:
        for m in [*language.EXCEPTION.finditer(s.text), *re.finditer(r"\bminus\b[^.!?;,]+", s.text, re.I)]:
            start, end = s.start + m.start(), s.start + m.end()
            total += sum(float(v.value["amount"]) for v in reading.facts.amounts
                         if start <= v.words.start < end and isinstance(v.value, dict))
    return total


def _read_date(spec: Spec, reading: Reading, near: str) -> tuple[Any, str]:
    """A day: one the customer asks for, not one ruled out, set aside or the record's own (``near``)."""
    refused = _set_aside(reading, reading.facts.dates)
    ruled = [ruled_out(reading, d) for d in reading.facts.dates]
    # "Thursday afternoons suit me, but not next Thursday": the next of every such day, when ruled out, is out
    out = {str(d.value) for d, no in zip(reading.facts.dates, ruled, strict=True) if no}
    open_days = [d for d, no in zip(reading.facts.dates, ruled, strict=True) if not no
                 and str(d.value) not in near and not (d.every and str(d.value) in out)]
    days = [d for d in open_days if d not in refused]
    # "a fortnight today, in the morning? My carer is with me on Friday mornings": a day named beats a weekday
    # of every week, which tells when the customer can be there
    named = [d for d in days if not d.every]  # ("Friday and Monday mornings": both every week)
    days = named if named and not any(re.fullmatch(r"(?:on\s+)?[a-z]+day", d.words.text.strip(), re.I)
                                      for d in named) else days
    # "…before their start date of 14 December. Would Wednesday 9 December be possible?": the limit is not the day
    days = [d for d in days if not when.deadline(reading.text, d.words.start)] or days
    if not days:
        first = _first_of_span(reading, near)
        if first is not None:
            return first, ""
        own = re.search(r"\d{4}-\d{2}-\d{2}", near)  # "a day later than planned": the record's own day, moved
        moved = when.shifted(asking(reading), date.fromisoformat(own.group(0))) if own else None
        if moved is not None:
            return moved.isoformat(), ""
        same = {str(d.value) for d in reading.facts.dates if str(d.value) in near}
        if len(same) == 1 and language.SAME_DAY.search(reading.text):  # "the same day, in the afternoon"
            return same.pop(), ""
    if len({str(d.value) for d in days}) > 1 and language.SOONEST.search(reading.text):
        return min(str(d.value) for d in days), ""  # "Monday or Friday, whichever is soonest": then the next
    wanted = [d for d in days if not in_fallback(reading, d)]  # "…Saturday? If you don't do weekends, Tuesday"
    if wanted and len(wanted) < len(days):
        chosen, why = _pick(wanted, spec, reading, "")
        if chosen is not None:
            return chosen, why
    return _pick(days or open_days, spec, reading, "")


# what rules a day or a time out for the customer: "I can't do Monday", "I'm away on the 3rd", "not Saturday"
RULED_OUT = re.compile(r"\b(?:can'?t|cannot|can\s+not|won'?t|will\s+not|unable|not\s+able|not\s+available|unavailable|"
                       r"away|busy|working|at\s+work|out\s+of\s+town|on\s+holiday|doesn'?t\s+(?:work|suit)|"
                       r"don'?t\s+(?:work|suit)|not(?:\s+(?:on|at|in))?|no\s+longer|instead\s+of|rather\s+than|"
                       r"except|but\s+not|apart\s+from|other\s+than|from)\b[^.;!?]{0,45}$", re.I)


# the words after a day that rule it out: "That Monday is no good", "Tuesday doesn't work for us"
RULED_OUT_AFTER = re.compile(r"^\W{0,3}(?:(?:is|are|'s|was)\s+(?:now\s+|really\s+|just\s+)?(?:no\s+good|not\s+good|bad|out|"
                             r"impossible|(?:not|no\s+longer)\s+(?:possible|convenient|ok|okay|an\s+option|going\s+to\s+work)"
                             r"|a\s+problem|difficult|awkward|tricky)|(?:doesn'?t|does\s+not|won'?t|will\s+not|isn'?t\s+going\s+"
                             r"to)\s+(?:work|suit))\b", re.I)
_NEXT_CLAUSE = re.compile(r"[,;]\s*(?=(?:could|can|would|will|how|what|so|and|but|please|maybe|perhaps|then|"
                          r"instead|otherwise|or|make|go|try|do|book|move|put|let'?s|just)\b)", re.I)
# what joins a part of the day to its day: "Tuesday morning", "Tuesday in the morning", "the morning of Tuesday"
_JOINED = re.compile(r"^\s*(?:,\s*)?(?:in\s+the\s+|at\s+|on\s+|of\s+)?$", re.I)


def _asks(text: str) -> bool:
    """Whether words ask (a question, a request), not tell."""
    return text.rstrip().endswith("?") or bool(language.ASKS_FOR.search(text))


def asking(reading: Reading) -> str:
    """The sentences of the message that ask, not those that tell."""
    return " ".join(s.text for s in reading.sentences if _asks(s.text))


def _in_asking(reading: Reading, v: Value) -> bool:
    """Whether a value stands in a sentence that asks, not one that tells."""
    return any(s.start <= v.words.start < s.end and _asks(s.text) for s in reading.sentences)


def _with_day(reading: Reading, t: Value, days: list[Value]) -> bool:
    """Whether a time or part of the day is said with one of ``days`` ("booked for Tuesday morning"): it belongs to
    that day, so a day set aside takes its time with it."""
    for d in days:
        if d.words.end <= t.words.start and _JOINED.match(reading.text[d.words.end:t.words.start]):
            return True
        if t.words.end <= d.words.start and _JOINED.match(reading.text[t.words.end:d.words.start]):
            return True
    return False


def in_fallback(reading: Reading, value: Value) -> bool:
    """Whether a value is said as the second choice: after fallback words in its sentence ("If you don't do
    weekends, then a week on Tuesday", "otherwise the 28th")."""
    for s in reading.sentences:
        if s.start <= value.words.start < max(s.end, s.start + 1):
            return bool(language.FALLBACK.search(reading.text[s.start:value.words.start]))
    return False


def fallback(spec: Spec, reading: Reading) -> Any:
    """The second choice of a day the message gives after fallback words, when the first is another (None when
    there is none)."""
    if spec.kind != "date":
        return None
    days = [d for d in reading.facts.dates if not ruled_out(reading, d)]
    if len(ordered := sorted({str(d.value) for d in days})) > 1 and language.SOONEST.search(reading.text):
        return ordered[1]  # "whichever is soonest": the later day when the first cannot be done
    second = [d for d in days if in_fallback(reading, d)]
    if not second or len(second) == len(days):
        return None
    value, _ = _pick(second, spec, reading, "")
    return value


def _set_aside(reading: Reading, pool: list[Value]) -> list[Value]:
    """The values the customer sets aside: one said anywhere after "not" ("make it the 25th, not the 22nd": every
    22 of the message), and one said in a sentence that asks to keep something as it is ("leave the other one on
    the 8th")."""
    kept = [s for s in reading.sentences if language.NEGATION.search(s.text)
            and re.match(r"\W*(?:please\s+)?(?:leave|keep)\b", s.text, re.I)]
    refused = {str(v.value) for v in pool if language.contrasted(reading.text, v.words.start)}
    return [v for v in pool if str(v.value) in refused or any(s.start <= v.words.start < s.end for s in kept)]


def ruled_out(reading: Reading, v: Value) -> bool:
    """Whether the words just before a day rule it out ("I can't do Monday", "instead of Friday", "from Tuesday
    to Thursday": the day it moves from)."""
    return said_against(reading.text, v.words.start, v.words.end)


def said_against(text: str, start: int, end: int) -> bool:
    """Whether the words around ``text[start:end]`` (a day, a time) rule it out: just before it in its clause ("I
    can't do Monday"), or just after it ("Monday is no good"); never a negation about something else in the same
    sentence ("the electrician can't finish before then, so could we push it back to Tuesday week?")."""
    before = text[max(0, start - 60):start]
    before = _NEXT_CLAUSE.split(before)[-1]  # "Monday doesn't work for me, could we do Wednesday?", "if Thursday
    # can't be done, make it Wednesday"
    before = re.split(r"[.;!?]|\bbut\b", before)[-1]  # "I can't do Monday but Friday works"
    if _MOVED_TO.search(before):  # "from Tuesday to Thursday": the day it moves to
        return False
    if _RATHER_THAN.search(re.split(r"[.;!?]", text[max(0, start - 160):start])[-1]):
        return True  # "I'd rather pay by transfer each month than have a direct debit on the 15th"
    ruled = RULED_OUT.search(before)
    if ruled and re.search(r",\s*$", before) and _DAYISH.search(ruled.group(0)):
        ruled = None  # "Instead of Wednesday, Friday the 27th": the words rule out the day they name, not the next
    return bool(ruled) or bool(RULED_OUT_AFTER.match(text[end:end + 50]))


# a day or a time named: a weekday, a month, a figure
_DAYISH = re.compile(rf"{when.DAY_WORDS}|\d", re.I)


def ruled_out_in_words(text: str, start: int, end: int) -> bool:
    """Whether the words rule out what stands at ``text[start:end]`` ("Do NOT charge the Mastercard", "not the one
    ending 1357"), never by the negation of a condition it is the second choice under ("if that's not possible, my
    Visa")."""
    if conditions.under_condition(text, start):
        return False
    return said_against(text, start, end) or language.contrasted(text, start)


# the words before a weekday that name it as a record's own: "my Tuesday visit", "from Tuesday"
_OWN_DAY = re.compile(r"\b(?:my|our|the|this|from|instead\s+of|rather\s+than)\s+$", re.I)
# a weekday with no day of the month after it: "on Friday", not "Friday 4 December" nor "Friday the 4th"
BARE_WEEKDAY = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b(?!,? \d| the \d)", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


def own_weekday(text: str, today: date, own: str, day_first: bool = False) -> set[str]:
    """The days read from a bare weekday ("on Friday") that a record's own day (``own``, ISO) falls on: the
    customer means that record's Friday, not the next one (``days_said`` reads it as ``own``)."""
    weekday = date.fromisoformat(own).strftime("%A").lower()
    # the record's weekday ruled out, or named as the record's own ("my Tuesday visit", "from Tuesday"); one only
    # asked for is the next one ("could the installer come on Tuesday?" of a visit on Tuesday in a fortnight)
    if not any(m.group(1).lower() == weekday and (said_against(text, m.start(), m.end()) or _OWN_DAY.search(
            text[max(0, m.start() - 16):m.start()])) for m in BARE_WEEKDAY.finditer(text)):
        return set()
    ahead = (date.fromisoformat(own).weekday() - today.weekday()) % 7 or 7
    nxt = today + timedelta(days=ahead)
    # "Saturday doesn't work. Is Saturday 28 November free?": a day written out in full is the day meant
    written = {w.value for w in when.dates(BARE_WEEKDAY.sub(" ", text), today, day_first) if w.bound != "every"}
    return {nxt.isoformat()} - {own} - written


def days_said(text: str, today: date, own: str, day_first: bool = False) -> list[tuple[bool, str]]:
    """Each day the message names, sentence by sentence, with whether the words around it rule it out ("I can't be
    home on Friday"); a bare weekday that a record's own day (``own``) falls on is that day."""
    out = []
    for part in _SENTENCE_END.split(text):
        moved = own_weekday(part, today, own, day_first)
        for w in when.dates(part, today, day_first=day_first):
            out.append((said_against(part, w.start, w.end), own if w.value in moved else w.value))
    return out


# the second of two things compared, the one not wanted: "rather X than Y", "would sooner X than Y"
_RATHER_THAN = re.compile(r"\b(?:rather|sooner|prefer(?:red|s)?)\b[^.;!?]*\bthan\b[^.;!?,]{0,45}$", re.I)


# the words before the day something moves to: "from Tuesday to", "instead of Monday, on"
_MOVED_TO = re.compile(r"\b(?:from|instead\s+of|rather\s+than)\b[^.;!?]{1,30}?\b(?:to|until|till|for|on)\s*$", re.I)


def _first_of_span(reading: Reading, near: str) -> str | None:
    """The first day of a stretch the customer offers ("any afternoon next week, apart from Wednesday") that no
    words rule out, from tomorrow on."""
    from datetime import timedelta

    today = reading.written_at.date()
    ruled = [d for d in reading.facts.dates if ruled_out(reading, d)]
    out = [d.value for d in ruled]
    # "the week after next, any morning except the Monday": a weekday ruled out by its name alone is out of the stretch
    no_weekdays = {date.fromisoformat(str(d.value)).weekday() for d in ruled
                   if BARE_WEEKDAY.fullmatch(d.words.text.strip())}
    for span in when.spans(reading.text, today):
        before = reading.text[max(0, span.start - 40):span.start]
        if RULED_OUT.search(before):
            continue
        day = max(span.first, today + timedelta(days=1))
        while day <= span.last:
            if day.weekday() in no_weekdays:
                day += timedelta(days=1)
                continue
            if day.isoformat() not in out and day.weekday() < 5 or span.last - span.first < timedelta(days=3) and \
                    day.isoformat() not in out:
                return day.isoformat()
            day += timedelta(days=1)
    return None


def _w(text: str, start: int, end: int) -> Any:
    return Words(text=text[start:end], start=start, end=end)


# where one value's part of a list ends: "electric 12301, gas 5299", "gas says 08533 and the electric one 23,812"
_PART_END = re.compile(r"[;:!?()\n]|[.,](?!\d)|\s[-–]\s|\b(?:and|but|while|whereas|plus)\b", re.I)


def _part_span(text: str, w: Words) -> tuple[int, int]:
    """Where the part of a list or sentence a value stands in starts and ends: from the last break before it to the
    first after it."""
    starts = [m.end() for m in _PART_END.finditer(text, 0, w.start)]
    after = _PART_END.search(text, w.end)
    return (starts[-1] if starts else 0), (after.start() if after else len(text))


def _part_of(text: str, w: Words) -> str:
    start, end = _part_span(text, w)
    return text[start:end]


_NOT_NAMES = re.compile(rf"{when.MONTH_WORD}|{when.WEEKDAY_WORD}|i|no|number|reading|total|page|step", re.I)


def _in_a_name(text: str, v: Value) -> bool:
    """A figure that is part of a name ("Green Fixed 12", "Galaxy S24"): written straight after a capitalised word
    inside a sentence, not a month's, a weekday's or a label's."""
    if not v.words.text[:1].isdigit():
        return False
    m = re.search(r"([\w,])[ \t]+([A-Z][a-z]+)[ \t]+$", text[max(0, v.words.start - 40):v.words.start])
    return m is not None and not _NOT_NAMES.fullmatch(m.group(2))


def _counts_other(text: str, v: Value, spec: Spec) -> bool:
    """A number said in words that counts a thing other than the argument's ("take both payments on the 22nd")."""
    if not v.words.text.isalpha():
        return False
    noun = re.match(r"\s+(?:of\s+(?:the|my|our|your)\s+)?([A-Za-z]+)", text[v.words.end:])
    return bool(noun and not records.words(noun.group(1)) & records.words(spec.name.replace("_", " ")))


def _part_asks(text: str, w: Words) -> bool:
    """Whether the part a value stands in asks for it ("…, so please take both payments on the 22nd", "change it
    to the 3rd"), not tells of it ("I get paid on the 20th", "the 15th is too late")."""
    at, end = _part_span(text, w)
    return _asks(text[at:end]) or bool(re.search(r"\b(?:to|onto|into|instead\s+on)\s+(?:the\s+)?$", text[at:w.start], re.I))


def _beside(text: str, w: Words) -> str:
    return text[max(0, w.start - 20):w.end + 20]


def _shared(own: set[str], said: set[str]) -> int:
    """The record's words said, a word counting when one begins the other ("electric" of "electricity")."""
    return sum(1 for o in own if any(o == s or (min(len(o), len(s)) >= 5 and (o.startswith(s) or s.startswith(o)))
                                     for s in said))


def _pick(values: list[Value], spec: Spec, reading: Reading, near: str) -> tuple[Any, str]:
    if not values:
        return None, NOT_FOUND
    values = corrections.standing(reading.text, values)  # "…twelve. Actually, scratch that, it's 9921": 9921

    def plain(v: Value) -> Any:
        return v.value["amount"] if isinstance(v.value, dict) and "amount" in v.value else v.value

    distinct = list(dict.fromkeys(str(plain(v)) for v in values))
    if len(distinct) == 1:
        return plain(values[0]), ""
    if near:  # the value beside the record's own words: in its own part of the sentence, else just around it
        own = records.words(near)
        for around in (_part_of, _beside):
            scored = [(_shared(own, records.words(around(reading.text, v.words))), v) for v in values]
            best = max(s for s, _ in scored)
            top = [v for s, v in scored if s == best]
            if best and len({str(plain(v)) for v in top}) == 1:
                return plain(top[0]), ""
    asked = [v for v in values if _part_asks(reading.text, v.words)]
    if asked and len({str(plain(v)) for v in asked}) == 1:  # "I'm paid on the 20th, so please take it on the 22nd"
        return plain(asked[0]), ""
    scored2 = [(_near(reading, v, spec), v) for v in values]
    best2 = max(s for s, _ in scored2)
    top2 = [v for s, v in scored2 if s == best2]
    if best2 and len({str(plain(v)) for v in top2}) == 1:
        return plain(top2[0]), ""
    return None, AMBIGUOUS
