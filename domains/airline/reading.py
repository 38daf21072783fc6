"""What an airline member's message says in so many words: the airports in the order named, the trip type, the
cabin, the travellers with their dates of birth, the checked bags and travel insurance. Each reader returns None
when the message does not say it plainly; nothing is guessed."""

from __future__ import annotations

import re
from datetime import date, datetime

from .backend import AIRPORT_CITIES

_CODE = re.compile(r"\b[A-Z]{3}\b")
_CABIN = (("basic_economy", re.compile(r"\bbasic[- ]economy\b", re.I)),
          ("business", re.compile(r"\bbusiness(?: class| cabin)?\b", re.I)),
          ("economy", re.compile(r"(?<!basic )(?<!basic-)\beconomy\b", re.I)))
_NO_BAGS = re.compile(r"\b(?:no|zero|without(?: any)?) (?:checked )?(?:bags?|baggages?|luggage|suitcases?)\b"
                      r"|\b(?:carry-on|hand luggage) only\b", re.I)
_BAGS = re.compile(r"\b(\d|one|two|three|four|five)\s+(?:checked\s+)?(?:bags?|baggages?|suitcases?)\b", re.I)
_NO_INSURANCE = re.compile(r"\b(?:no|without|skip(?: the)?) (?:travel )?insurance\b"
                           r"|\b(?:don't|do not) (?:want|need) (?:the |any )?(?:travel )?insurance\b", re.I)
_INSURANCE = re.compile(r"\b(?:with|add|include|including) (?:the )?(?:travel )?insurance\b"
                        r"|\b(?:want|like|need) (?:the )?(?:travel )?insurance\b", re.I)
_JUST_ME = re.compile(r"\b(?:just|only) (?:me|myself)\b|\bfor myself\b|\bmyself only\b|\bjust for me\b", re.I)
_ME_AND = re.compile(r"\bme and my (\w+)\b|\bmy (\w+) and (?:me|I)\b", re.I)
_NAME = r"[A-Z][a-z'’-]+(?: [A-Z][a-z'’-]+)+"
_BORN = re.compile(rf"(?P<name>{_NAME})\s*[,(]?\s*(?:who was )?(?:born(?: on)?|date of birth:?|DOB:?|d\.o\.b\.?:?)\s*"
                   r"(?P<date>\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}|[A-Z][a-z]+ \d{1,2}(?:st|nd|rd|th)?,? \d{4}"
                   r"|\d{1,2}(?:st|nd|rd|th)? [A-Z][a-z]+,? \d{4})")
_NUMBER = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def places(text: str) -> list[str]:
    """The airports a message names, in the order it names them (codes, or the cities they serve)."""
    found: list[tuple[int, str]] = []
    for m in _CODE.finditer(text):
        if m.group(0) in AIRPORT_CITIES:
            found.append((m.start(), m.group(0)))
    low = text.lower()
    for code, city in AIRPORT_CITIES.items():
        at = low.find(city.lower())
        if at >= 0:
            found.append((at, code))
    return list(dict.fromkeys(code for _, code in sorted(found)))


def cabin(text: str) -> str | None:
    said = {name for name, rx in _CABIN if rx.search(text)}
    return next(iter(said)) if len(said) == 1 else None


def bags(text: str) -> int | None:
    """The number of checked bags a message says the travellers bring ("no bags": 0)."""
    counts = {str(m.group(1)).lower() for m in _BAGS.finditer(text)}
    if _NO_BAGS.search(text):
        return 0 if not counts else None
    if len(counts) == 1:
        word = counts.pop()
        return int(word) if word.isdigit() else _NUMBER[word]
    return None


def insurance(text: str) -> str | None:
    no, yes = bool(_NO_INSURANCE.search(text)), bool(_INSURANCE.search(text))
    return "no" if no else "yes" if yes else None


def birth_date(raw: str) -> date | None:
    raw = re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", raw).replace(",", "").strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%B %d %Y", "%d %B %Y", "%b %d %Y", "%d %b %Y"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    return None


def people_born(text: str) -> list[dict[str, str]]:
    """The travellers a message names with a date of birth, as the airline records them."""
    out = []
    for m in _BORN.finditer(text):
        born = birth_date(m.group("date"))
        words = m.group("name").split()
        if born is None or born >= date.today():
            continue
        out.append({"first_name": words[0], "last_name": " ".join(words[1:]), "dob": born.isoformat()})
    return out


def travelling_alone(text: str) -> bool:
    return bool(_JUST_ME.search(text))


_WITH_ME = re.compile(r"\b(?:[Mm]e|[Mm]yself),? and (?:[A-Z]|[Mm]y )|\b[A-Z][a-z'’-]+(?: [A-Z][a-z'’-]+)? and (?:me|I)\b"
                      r"|\b(?:[Ww]ith|[Aa]nd) me\b")


def with_me(text: str) -> bool:
    """Whether the member travels too, beside the people named: "me and Alex Lee", "Alex and I", "with me"."""
    return bool(_WITH_ME.search(text))


def companion(text: str) -> str | None:
    """Who travels with the member when the message says "me and my partner" (the word it uses)."""
    m = _ME_AND.search(text)
    return (m.group(1) or m.group(2)).lower() if m else None


def named(text: str, people: list[dict[str, str]]) -> list[int]:
    """Which of these travellers the message names: by first and last name, or by a first name only one of them
    has ("Natalie can't come… Steven Novak" names both)."""
    flat = " ".join(text.split()).lower()
    firsts = [p["first_name"].lower() for p in people]
    return [i for i, p in enumerate(people) if f"{p['first_name']} {p['last_name']}".lower() in flat
            or (firsts.count(firsts[i]) == 1 and re.search(rf"\b{re.escape(firsts[i])}\b", flat))]
