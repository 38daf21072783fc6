"""The people a message speaks of, in generic English: those it names with a date of birth ("Alex Lee, born
12 May 1990", "Sam Kay (DOB 1988-02-03)"), who goes along with the writer ("just me", "me and my wife", "Alex and
I", "with me"), and which of a list of known people it names. Dates are read by the engine's one grammar of days,
relative to when the message was written: a birth date is always before that day."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date

from . import when
from .types import Party, Value, Words

# a name as written: "Alex Lee", "Anna-Lena Fischer", "Tom O'Brien", "Ann McDonald"
_PART = r"[A-Z][a-z]*(?:[A-Z][a-z]+)?(?:['’][A-Z]?[a-z]+)?(?:-[A-Z][a-z'’]+)*"
_NAME = rf"(?<![\w'’-]){_PART}(?: {_PART})+"
# the words between a full name and its date of birth: "Alex Lee, born on", "Sam Kay (DOB:", "Ann Ray, who was born",
# "Maria Diaz and she was born on", "Rosa Diaz, she's 34, birthday", or only a comma ("Tom O'Brien, 03-22-1979")
_BORN_BEFORE = re.compile(
    rf"(?P<name>{_NAME})\s*[,(:]?\s*(?i:(?:and\s+)?(?:(?:he|she|they|who)(?:['’]s|\s+is|\s+was|\s+were)?\s+)?"
    r"(?:(?:aged?\s+)?\d{1,3}(?:\s*(?:years?\s+old|yo))?\s*[,;]?\s*)?(?P<said>(?:was\s+)?born(?:\s+on)?|date\s+of\s+"
    r"birth|dob|d\.o\.b\.?|birthday|birth\s*date)?\s*(?:is\s+)?[:,-]?\s*)$")
_ALONE = re.compile(r"(?:\b(?:just|only) (?:me|myself)\b|\bfor myself\b|\bmyself only\b|\bjust for me\b)"
                    r"(?!\s*(?:,\s*)?(?:and|&|\+|with|plus)\b)", re.I)
# the writer as the one a booking is for, no one else beside: "please book me one way from …", "get me on the 9am"
_SELF_BOOKED = re.compile(r"\b(?:book|get|put|fly|reserve)\s+me\b(?!\s*(?:,\s*)?(?:and|&|\+|with|plus)\b)"
                          r"(?![^.!?]{0,40}\bfor\s+(?:my|our|his|her|their)\b)", re.I)
# the writer and someone else: "me and my wife", "my partner and I"
_ME_AND = re.compile(r"\b(?:me|myself) and my (\w+)\b|\bmy (\w+) and (?:me|I|myself)\b", re.I)
# the writer stays at home: "I'm NOT travelling myself", "I won't be flying", "without me"
_NOT_ME = re.compile(r"\b(?:i'?m|i\s+am|i'?ll|i\s+will)\s+not\s+(?:be\s+)?(?:travell?ing|flying|coming|going)\b|"
                     r"\bi\s+(?:won'?t|will\s+not|can'?t|cannot)\s+(?:be\s+)?(?:travell?ing|flying|coming|going)\b|"
                     r"\bnot\s+(?:travell?ing|flying|coming|going)\s+myself\b|\bwithout\s+me\b|\bin\s+my\s+place\b|"
                     r"\binstead\s+of\s+(?:me|mine|myself)\b", re.I)
# the writer goes too, beside the people named: "me and Alex Lee", "Alex and I", "with me"
_WITH_ME = re.compile(r"\b(?:[Mm]e|[Mm]yself),? and (?:[A-Z]|[Mm]y )|\b[A-Z][a-z'’-]+(?: [A-Z][a-z'’-]+)? and (?:me|I)\b"
                      r"|\b(?:[Ww]ith|[Aa]nd) me\b")


def born(text: str, today: date, day_first: bool = True, days: Sequence[when.When] | None = None) -> list[Value]:
    """The people ``text`` names with a date of birth before ``today`` (the day it was written), in order, each
    ``{"first_name", "last_name", "dob"}`` as records keep them; ``days`` are the text's days when already read."""
    out: list[Value] = []
    for day in when.dates(text, today, day_first) if days is None else days:
        base = max(0, day.start - 80)
        m = _BORN_BEFORE.search(text[base:day.start])
        if m is None or not re.search(r"\d{4}", day.text):
            continue  # a birth date gives its year: "born on the 5th" is no date of birth
        born_on = date.fromisoformat(day.value)
        if born_on >= today or (not m.group("said") and (today - born_on).days < 730):
            continue  # a day with no birth word beside a name is a birth date only when it is years ago
        words = m.group("name").split()
        start = base + m.start("name")
        out.append(Value(kind="name", value={"first_name": words[0], "last_name": " ".join(words[1:]),
                                             "dob": day.value},
                         words=Words(text=text[start:day.end], start=start, end=day.end)))
    return out


def party(text: str) -> Party:
    m = _ME_AND.search(text)
    with_writer = bool(_WITH_ME.search(text))
    alone = bool(_ALONE.search(text)) or bool(_SELF_BOOKED.search(text) and m is None and not with_writer)
    return Party(alone=alone, companion=(m.group(1) or m.group(2)).lower() if m else None, with_writer=with_writer,
                 without_writer=bool(_NOT_ME.search(text)))


def named(text: str, people: Sequence[Mapping[str, str]]) -> list[int]:
    """Which of ``people`` (each with ``first_name`` and ``last_name``) the message names: by full name, or by a
    first name only one of them has ("Natalie can't come… Steven Novak" names both)."""
    flat = " ".join(text.split()).lower()
    firsts = [str(p.get("first_name", "")).lower() for p in people]
    return [i for i, p in enumerate(people) if f"{p.get('first_name', '')} {p.get('last_name', '')}".lower() in flat
            or (firsts[i] and firsts.count(firsts[i]) == 1 and re.search(rf"\b{re.escape(firsts[i])}\b", flat))]


# the right spelling of a name given as the correction of one on file: "her passport actually says Suzanne", "it
# should be Suzanne", "her name is really Suzanne", "spelt Suzanne, not Susan"
_RIGHT_NAME = re.compile(r"\b(?:actually|really|correctly)\s+(?:says|reads|is|spelt|spelled|shows)\s+"
                         rf"({_PART})\b|\bshould\s+(?:be|read|say)\s+({_PART})\b|\b(?:spelt|spelled)\s+({_PART})\b")


def right_name(text: str) -> str | None:
    """The one first name the message gives as the right spelling of a name on file, or None."""
    said = {next(g for g in m.groups() if g) for m in _RIGHT_NAME.finditer(text)}
    said = {s for s in said if s[0].isupper() and s.lower() not in ("i", "it", "the", "my", "her", "his")}
    return said.pop() if len(said) == 1 else None
