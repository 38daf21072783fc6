"""Entities read from ticket text: record ids (in the shapes the pack in force declares, ``reading.yaml``), dates
and times of day, amounts, postal addresses and phone numbers (of the pack's country first, read by the engine's
readers: ``cx_core.reading``), e-mail addresses, options."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from .reading import corrections, language, numbers, people, values, when
from .reading.reader import Vocabulary
from .reading.records import words as content_words

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# an amount of money in any of the usual currencies: "$40", "£12.50", "€9,99", "40 dollars", "12 pounds", "9 EUR"
AMOUNT = re.compile(r"[$£€]\s?(\d{1,6}(?:[.,]\d{2})?)|(\d{1,6}(?:\.\d{2})?)\s?(?:dollars?|usd|pounds?|gbp|quid|"
                    r"euros?|eur)\b", re.IGNORECASE)
# a part of the day the customer names ("Saturday afternoon", "after lunch", "any time before noon")
TIME_OF_DAY = {
    "morning": re.compile(r"\b(?:mornings?|a\.?m\.?(?![a-z])|before (?:noon|midday|lunch)|first thing)\b", re.I),
    "afternoon": re.compile(r"\b(?:afternoons?|p\.?m\.?(?![a-z])|after (?:noon|midday|lunch))\b", re.I),
    "evening": re.compile(r"\b(?:evenings?|tonight|after work|after (?:5|6|five|six)\s*(?:pm|p\.m\.|o'?clock)?)\b",
                          re.I),
}
# a time asked for ("at 2pm", "around 14:30"), not hours described ("I work 9am to 5pm")
CLOCK = re.compile(r"\b(?:at|around|about|after|before|by|for)\s+(?:(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)|"
                   r"([01]?\d|2[0-3]):([0-5]\d)\b)", re.I)
NOT_THEN = re.compile(r"\b(?:not|no|never|can'?t|cannot|can not|won'?t|unable|except|other than|rather than|"
                      r"instead of)\b[^.;!?,]{0,30}$", re.I)
GREETING = re.compile(r"\bgood\s+(?:morning|afternoon|evening)\b", re.I)
SIZES = {"xs", "s", "m", "l", "xl", "xxl", "small", "medium", "large"}
COLOURS = {"black", "white", "red", "blue", "green", "grey", "gray", "silver", "gold", "purple", "pink", "beige",
           "brown", "yellow", "orange", "navy"}


def find_dates(text: str, today: date, every: bool = False) -> list[date]:
    """Dates mentioned in ``text``, relative to ``today``, in order of appearance, each once: the engine's one
    grammar of days (``cx_core.reading.when``), written day first or month first as the pack's country does. A
    weekday in the plural ("we don't deliver on Sundays") names every such day, and is one of them (the next) only
    with ``every``."""
    out: list[date] = []
    days = when.dates(text, today, _vocabulary().day_first)
    born = [(v.words.start, v.words.end) for v in people.born(text, today, days=days)]  # a birth date is no day asked
    found = [w for w in days if (every or w.bound != "every") and not any(s <= w.start < e for s, e in born)]
    # "the 8th, please. No, sorry, make that Wednesday the 9th": a day the writer corrects is no day asked for
    spans = [(w.start, w.end, w.value) for w in found]
    gone = {w.value for w, said in zip(found, spans, strict=True) if corrections.corrects(text, said, spans)}
    found = [w for w in found if w.value not in gone] or found
    # "we're away until December 1st … bring it the Wednesday after": a day that only bounds a stretch comes after
    # the days asked for; "a week on Monday … actually, scratch that, make it the Tuesday after": the days named
    # after a change of mind come first
    change = language.WITHDRAWS.search(text) or language.CHANGED_TO.search(text)
    before = {w.value for w in found if change is not None and w.start < change.start()}
    for w in sorted(found, key=lambda w: (change is not None and w.value in before, w.bound in ("after", "before"))):
        d = date.fromisoformat(w.value)
        if d not in out:
            out.append(d)
    return out


def part_of_day(hour: int) -> str:
    """morning (before 12:00), afternoon (12:00 to 17:00) or evening."""
    return "morning" if hour < 12 else "afternoon" if hour < 17 else "evening"


def find_times_of_day(text: str) -> list[str]:
    """The parts of the day the customer asks for ("morning", "afternoon", "evening"), in order of appearance,
    from words ("Saturday afternoon", "before lunch") or clock times ("2pm", "14:30"); a part they rule out ("not in
    the morning", "I can't do mornings") is not one of them."""
    text = GREETING.sub(lambda m: " " * len(m.group(0)), text)  # "Good morning," is a greeting, not a time
    found: list[tuple[int, str]] = []
    for part, rx in TIME_OF_DAY.items():
        for m in rx.finditer(text):
            found.append((m.start(), part))
    for m in CLOCK.finditer(text):
        if m.group(1):
            hour = int(m.group(1)) % 12 + (12 if m.group(3).lower().startswith("p") else 0)
        else:
            hour = int(m.group(4))
        if 0 <= hour < 24:
            found.append((m.start(), part_of_day(hour)))
    ruled_out = {part for at, part in found if NOT_THEN.search(text[max(0, at - 40):at])}
    return list(dict.fromkeys(part for _, part in sorted(found) if part not in ruled_out))


def find_clock_times(text: str) -> list[dict[str, str]]:
    """The clock times the customer gives, each with how it bounds a time ("any time after 2pm" →
    ``{"at": "14:00", "bound": "after"}``; bounds: after, before, by, around, or "" for the time itself)."""
    return [{"at": str(t.value), "bound": t.bound} for t in when.times(text) if t.kind == "time"]


def find_amounts(text: str) -> list[float]:
    out = []
    for m in AMOUNT.finditer(text):
        raw = (m.group(1) or m.group(2) or "").replace(",", ".")
        try:
            out.append(round(float(raw), 2))
        except ValueError:
            continue
    return out


def find_address(text: str, whole: str = "") -> dict[str, str] | None:
    """The first postal address of ``text`` as its parts (``address1``, ``address2``, ``city``, ``state``, ``zip``,
    ``country``), read for the pack's country first; an address typed in capitals is read as written in words. A
    figure of it the writer puts right in ``text`` or the ``whole`` message ("the house number is 5281, not 5218")
    is put right."""
    shapes = list(_vocabulary().ids.values())
    found = values.addresses(text, _countries(), shapes) or values.addresses(
        re.sub(r"\b[A-Z][A-Z'.-]{2,}\b", lambda w: w.group(0).capitalize(), text), _countries(), shapes)
    if not found:
        return None
    return values.corrected({k: str(v) for k, v in found[0].value.items()}, f"{text}\n{whole}")


def _vocabulary() -> Any:
    """The reading vocabulary of the pack in force (its ids' shapes, its country), or an empty one."""
    from . import domain, packs

    try:
        return packs.reading(domain.active())
    except Exception:  # noqa: BLE001 - no pack in force (a bare unit of the engine): no ids of anyone's
        return Vocabulary()


def _countries() -> tuple[str, ...]:
    region = _vocabulary().region
    return tuple(dict.fromkeys([region, "US", "GB", "CA"]))


def ids(text: str) -> dict[str, list[str]]:
    """The record ids of ``text`` by kind (``order_ids``, ``bill_ids``…), each as the pack shows it."""
    vocab = _vocabulary()
    out: dict[str, list[str]] = {}
    for kind, rx in vocab.ids.items():
        shown = vocab.shown.get(kind, "{id}")
        raw = [m.group(1) if rx.groups else m.group(0) for m in rx.finditer(text)]
        found = [shown.format(id=r.upper() if kind in vocab.upper else r) for r in raw]
        out[f"{kind}_ids"] = list(dict.fromkeys(found))
    return out


# a reference of any kind the customer gives (an order, a booking, an account, a ticket): letters and digits together
REFERENCE = re.compile(r"#?\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z][A-Z0-9-]{4,}\b|#?\b[A-Z]{1,3}-?\d{5,}\b")


# the last digits of a card or account said as such: "my Visa ending 4242", "the card that ends in 0252"
LAST_FOUR = re.compile(r"\b(?:ending|ends|ended)(?:\s+(?:in|with))?\s*:?\s*(\d{4})\b", re.I)


def counts(text: str) -> dict[str, list[int]]:
    """How many of each thing the pack says customers count (``reading.yaml``'s ``counts``: ``bag: [bag, suitcase,
    luggage]``) the message asks for: "two more bags" → ``bag_count: [2]``, "no checked bags" → ``[0]``; a count said
    for each person ("one checked bag each") is also under ``bag_each``, one said as the whole there will be ("4
    checked bags in total") under ``bag_total``."""
    out: dict[str, list[int]] = {}
    for name, nouns in _vocabulary().counts.items():
        noun = "|".join(re.escape(n) for n in sorted(nouns, key=len, reverse=True))
        rx = re.compile(rf"\b(?P<n>\d+|[a-z]+(?:-[a-z]+)?)\s+(?:more\s+|extra\s+|additional\s+|other\s+)?"
                        rf"(?:checked\s+|check-in\s+|large\s+|small\s+|hold\s+)?(?:{noun})(?:e?s)?\b", re.I)
        found, each, total = [0] if _without(noun).search(text) else [], [], []
        for m in rx.finditer(text):
            word = m.group("n").lower()
            value = 0 if word in ("no", "zero", "none") else numbers.value_of(word) if not word.isdigit() \
                else int(word)
            if value is not None:
                found.append(int(value))
                if EACH.match(text, m.end()):
                    each.append(int(value))
                if TOTAL.match(text, m.end()) or A_TOTAL_OF.search(text, 0, m.start()):
                    total.append(int(value))
        for key, got in (("count", found), ("each", each), ("total", total)):
            if got:
                out[f"{name}_{key}"] = got
    return out


def _without(noun: str) -> re.Pattern[str]:
    """Going without any of a thing: "without any bags", "without checked luggage"."""
    return re.compile(rf"\bwithout\s+(?:any\s+)?(?:checked\s+|check-in\s+|hold\s+)?(?:{noun})(?:e?s)?\b", re.I)


# taking a thing offered ("with insurance", "please add the travel insurance", "I'd like insurance") or declining it
# ("no insurance", "without travel insurance", "skip the insurance", "I don't want/need any insurance")
_DECLINE = (r"\b(?:no|without|skip(?:\s+the)?|decline(?:\s+the)?|(?:don'?t|do\s+not|doesn'?t|does\s+not)\s+(?:want|need)"
            r"(?:\s+(?:the|any))?)\s+")
_TAKE = r"\b(?:with|add(?:s|ed)?|include[sd]?|including|wants?|like[sd]?|needs?|takes?)(?:\s+(?:the|a|some))?\s+"


def options(text: str) -> dict[str, list[str]]:
    """Whether the customer takes (``yes``) or declines (``no``) each thing the pack offers (``reading.yaml``'s
    ``options``: ``insurance: [travel insurance, insurance]``): "no travel insurance thanks" → ``insurance: ["no"]``.
    Declining wins when both are said of the same thing; not said, not read."""
    out: dict[str, list[str]] = {}
    for name, nouns in _vocabulary().options.items():
        noun = "(?:" + "|".join(re.escape(n) for n in sorted(nouns, key=len, reverse=True)) + r")\b"
        if re.search(_DECLINE + noun, text, re.I):
            out[name] = ["no"]
        elif re.search(_TAKE + noun, text, re.I):
            out[name] = ["yes"]
    return out


# a count said as the whole there will be, not the number added: "4 checked bags in total", "a total of three bags"
TOTAL = re.compile(r"\s*,?\s*(?:in\s+total|in\s+all|altogether|all\s+together|total|between\s+(?:us|them|the\s+\w+\s+of\s+"
                   r"(?:us|them))(?:\s+(?:both|all|two|three|four|five))?)\b", re.I)
A_TOTAL_OF = re.compile(r"\b(?:a\s+total\s+of|in\s+total|altogether)\s+$", re.I)
# a count said for each person: "one checked bag each", "two bags per passenger", "a case apiece"
EACH = re.compile(r"\s*,?\s*(?:each|apiece|per\s+(?:person|passenger|travell?er|head|adult)|for\s+each\s+of\s+(?:us|them)|"
                  r"for\s+(?:every|each)\s+(?:person|passenger|travell?er|one\s+of\s+us))\b", re.I)


def gives_contact(text: str) -> bool:
    """Whether the text gives an e-mail address or a phone number."""
    return bool(EMAIL.search(text)) or bool(values.phones(text, _vocabulary().region))


def extract(text: str, today: date) -> dict[str, Any]:
    """All entities as plain JSON-friendly values."""
    lowered = text.lower()
    words = set(re.findall(r"[a-z]+", lowered))
    return {
        **ids(text),
        **counts(text),
        **options(text),
        "last_four": list(dict.fromkeys(LAST_FOUR.findall(text))),
        "emails": list(dict.fromkeys(e.lower() for e in EMAIL.findall(text))),
        "phones": list(dict.fromkeys(v.words.text for v in values.phones(text, _vocabulary().region))),
        "amounts": find_amounts(text),
        "dates": [d.isoformat() for d in find_dates(text, today)],
        "time_of_day": find_times_of_day(text),
        "clock_times": find_clock_times(text),
        "address": find_address(text),
        "colours": sorted(words & COLOURS),
        "sizes": sorted(w for w in re.findall(r"\b(?:size\s+)?(xs|xxl|xl|small|medium|large)\b", lowered)),
    }


# ------------------------------------------------------------------ a ticket's text as the classifier reads it
MAX_SENTENCES = 40
MAX_CHARS = 6000

_MASKS = [
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "email address"),
    (re.compile(r"[$£€]\s?\d[\d,]*(?:\.\d{2})?"), "amount"),
    (re.compile(r"(?<!\w)(?:\+?\d{1,3}[ .-]?)?\(?\d{2,5}\)?[ .-]\d{3,4}[ .-]?\d{3,4}(?!\w)"), "phone number"),
    # a thing the customer sends back, in the words people use: "it needs to go back to you", "the other two are
    # going back" is a return asked for (never the writer going back somewhere: "I'm going back to work")
    (re.compile(r"\b(it|they|this|that|these|those|both|(?:the|my)\s+[\w-]+(?:\s+[\w-]+)?)(?:['’](?:s|re)|\s+(?:is|are|"
                r"needs?\s+to|has\s+to|have\s+to|will|must|should|can))\s+(?:be\s+)?go(?:ing)?\s+back\b"
                r"(?:\s+to\s+you\b)?", re.I), r"I want to return \1"),
]


def normalise(text: str) -> str:
    """Record ids (by the pack's shapes), e-mail addresses, amounts and phone numbers replaced by their kind, so the
    classifier reads the request."""
    for kind, pattern in _vocabulary().ids.items():
        text = pattern.sub(kind.replace("_", " "), text)
    for pattern, word in _MASKS:
        text = pattern.sub(word, text)
    return text


# a second request run on without a full stop ("… for a refund CAN YOU RESEND THE INVOICE", "… for a refund Please
# could you email me …"): a capitalised opener after a lower-case word starts a sentence
_RUN_ON = (r"(?<=[a-z0-9)])\s+(?=(?:Please|PLEASE|Can you|CAN YOU|Could you|COULD YOU|Can I|CAN I|Could I|COULD I|"
           r"I NEED|I WANT|I'D LIKE)\b)|"
           # "… for a refund can you resend the invoice": a second request run on in lower case, unless the words
           # before ask it ("when can you", "if you could")
           r"(?<=[a-z0-9)])(?<!\bwhen)(?<!\bhow)(?<!\bwhere)(?<!\bwhat)(?<!\bwhy)(?<!\bif)(?<!\band)(?<!\bor)"
           r"(?<!\bbut)(?<!\bso)(?<!\bthat)(?<!\bwho)(?<!\bwhich)(?<!\bplease)(?<!\bPlease)\s+(?=(?:can|could) you\b)")


def split_sentences(text: str) -> list[str]:
    """Sentences and lines of a ticket, bounded so a huge body cannot stall the pipeline."""
    text = text[:MAX_CHARS]
    parts = re.split(r"(?<=[.!?])\s+|\n+|" + _RUN_ON, text)
    out = [p.strip(" -*>\t") for p in parts if len(p.strip(" -*>\t")) > 1]
    return [p[:500] for p in out[:MAX_SENTENCES]]


def whole_text(subject: str, body: str) -> str:
    """Subject and body as one text to read requests from; a subject that only repeats the body's opening words
    (often cut off mid-word), or whose words the body says again (at least two thirds of them, every number among
    them), is left out, so that nothing is asked for twice."""
    head = re.sub(r"\s+", " ", subject).strip().lower()
    if not head:
        return body
    clipped = head.endswith(("…", "..."))  # "… to Thursday 26…": cut off, its last word maybe too
    head = head.rstrip("…. ")
    cut = head if len(head) < 60 and not clipped else head.rsplit(" ", 1)[0]  # a long one may end mid-word
    if cut in re.sub(r"\s+", " ", body).lower():
        return body
    said, told = content_words(head), content_words(body)
    numbers = {w for w in said if any(c.isdigit() for c in w)}
    if said and numbers <= told and len(said & told) * 3 >= len(said) * 2:  # a heading the body says again
        return body
    return f"{subject}\n{body}"
