"""Entities read from ticket text: record ids, dates and times of day, amounts, addresses, contact details,
options."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

ORDER_ID = re.compile(r"#?\b(W\d{7})\b", re.IGNORECASE)
INVOICE_ID = re.compile(r"\b(INV-?\d{4,})\b", re.IGNORECASE)
APPOINTMENT_ID = re.compile(r"\b(APT-?\d{4,})\b", re.IGNORECASE)
CHARGE_ID = re.compile(r"\b(CHG-?\d{4,})\b", re.IGNORECASE)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<!\w)(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\w)")
# an amount of money in any of the usual currencies: "$40", "£12.50", "€9,99", "40 dollars", "12 pounds", "9 EUR"
AMOUNT = re.compile(r"[$£€]\s?(\d{1,6}(?:[.,]\d{2})?)|(\d{1,6}(?:\.\d{2})?)\s?(?:dollars?|usd|pounds?|gbp|quid|"
                    r"euros?|eur)\b", re.IGNORECASE)
ADDRESS = re.compile(
    r"(?P<address1>(?<![\w#-])\d{1,6}\s+[A-Za-z0-9.' -]{2,40}?\s(?:Street|St|Avenue|Ave|Road|Rd|Drive|Dr|Lane|Ln|Boulevard|Blvd|Way"
    r"|Court|Ct|Place|Pl|Terrace|Parkway|Pkwy)\.?)"
    r"(?:,?\s*(?P<address2>(?:Apt|Apartment|Suite|Unit|Floor)\.?\s*[A-Za-z0-9-]+))?"
    r",?\s+(?P<city>[A-Za-z .'-]{2,40}?),?\s+(?P<state>[A-Z]{2}),?\s+(?P<zip>\d{5})\b"
)
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
_MONTH_RE = "|".join(m[:3] + r"[a-z]*" for m in MONTHS)
DATE_ISO = re.compile(r"\b(20\d{2})-(\d{1,2})-(\d{1,2})\b")
DATE_MD = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", re.IGNORECASE)
DATE_DM = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\b", re.IGNORECASE)
DATE_ORD = re.compile(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b", re.IGNORECASE)
WEEKDAY = re.compile(r"\b(next\s+)?(" + "|".join(WEEKDAYS) + r")\b", re.IGNORECASE)
RELATIVE = re.compile(r"\b(tomorrow|day after tomorrow|next week)\b", re.IGNORECASE)
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


def _month(name: str) -> int:
    return [m[:3] for m in MONTHS].index(name[:3].lower()) + 1


def _future(d: date, today: date) -> date:
    return d if d >= today else d.replace(year=d.year + 1)


def find_dates(text: str, today: date) -> list[date]:
    """Dates mentioned in ``text``, resolved to the future relative to ``today``, in order of appearance."""
    found: list[tuple[int, date]] = []

    def add(pos: int, make: Any) -> None:
        try:
            found.append((pos, make()))
        except ValueError:
            pass

    for m in DATE_ISO.finditer(text):
        add(m.start(), lambda m=m: date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
    for m in DATE_MD.finditer(text):
        add(m.start(), lambda m=m: _future(date(today.year, _month(m.group(1)), int(m.group(2))), today))
    for m in DATE_DM.finditer(text):
        add(m.start(), lambda m=m: _future(date(today.year, _month(m.group(2)), int(m.group(1))), today))
    for m in DATE_ORD.finditer(text):
        def _ordinal(m: re.Match[str] = m) -> date:
            d = today.replace(day=int(m.group(1)))
            if d <= today:
                d = (today.replace(day=1) + timedelta(days=32)).replace(day=int(m.group(1)))
            return d
        add(m.start(), _ordinal)
    explicit = {pos for pos, _ in found}
    for m in WEEKDAY.finditer(text):
        after = text[m.end():]
        starts = {m.end() + g.end() for g in (re.match(r"[\s,]*", after), re.match(r"[\s,]*(?:the\s+)?", after)) if g}
        if starts & explicit:
            continue  # "Friday 27 November" is one date, not also the next Friday
        wd = WEEKDAYS.index(m.group(2).lower())
        ahead = (wd - today.weekday()) % 7 or 7
        found.append((m.start(), today + timedelta(days=ahead)))
    for m in RELATIVE.finditer(text):
        word = m.group(1).lower()
        delta = {"tomorrow": 1, "day after tomorrow": 2, "next week": 7}[word]
        found.append((m.start(), today + timedelta(days=delta)))
    seen: list[date] = []
    for _, d in sorted(found, key=lambda x: x[0]):
        if d not in seen:
            seen.append(d)
    return seen


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


def find_amounts(text: str) -> list[float]:
    out = []
    for m in AMOUNT.finditer(text):
        raw = (m.group(1) or m.group(2) or "").replace(",", ".")
        try:
            out.append(round(float(raw), 2))
        except ValueError:
            continue
    return out


def find_address(text: str) -> dict[str, str] | None:
    # an address typed in capitals ("459 CEDAR LANE, COLUMBUS, OH 43215") is read as written in words
    m = ADDRESS.search(text) or ADDRESS.search(re.sub(r"\b[A-Z][A-Z'.-]{2,}\b", lambda w: w.group(0).capitalize(),
                                                      text))
    if not m:
        return None
    parts = {k: (v or "").strip(" ,.") for k, v in m.groupdict().items()}
    parts["country"] = "USA"
    return parts


# a reference of any kind the customer gives (an order, a booking, an account, a ticket): letters and digits together
REFERENCE = re.compile(r"#?\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z][A-Z0-9-]{4,}\b|#?\b[A-Z]{1,3}-?\d{5,}\b")


def extract(text: str, today: date) -> dict[str, Any]:
    """All entities as plain JSON-friendly values."""
    lowered = text.lower()
    words = set(re.findall(r"[a-z]+", lowered))
    return {
        "order_ids": list(dict.fromkeys("#" + m.upper() for m in ORDER_ID.findall(text))),
        "invoice_ids": list(dict.fromkeys(m.upper().replace("INV", "INV-").replace("--", "-")
                                          for m in INVOICE_ID.findall(text))),
        "appointment_ids": list(dict.fromkeys(m.upper().replace("APT", "APT-").replace("--", "-")
                                              for m in APPOINTMENT_ID.findall(text))),
        "charge_ids": list(dict.fromkeys(m.upper().replace("CHG", "CHG-").replace("--", "-")
                                         for m in CHARGE_ID.findall(text))),
        "emails": list(dict.fromkeys(e.lower() for e in EMAIL.findall(text))),
        "phones": list(dict.fromkeys(PHONE.findall(text))),
        "amounts": find_amounts(text),
        "dates": [d.isoformat() for d in find_dates(text, today)],
        "time_of_day": find_times_of_day(text),
        "address": find_address(text),
        "colours": sorted(words & COLOURS),
        "sizes": sorted(w for w in re.findall(r"\b(?:size\s+)?(xs|xxl|xl|small|medium|large)\b", lowered)),
        "cancel_reason": "ordered by mistake" if re.search(r"mistake|wrong (?:item|thing|one)|by accident|accidental",
                                                          lowered) else "no longer needed",
    }


# ------------------------------------------------------------------ a ticket's text as the classifier reads it
MAX_SENTENCES = 40
MAX_CHARS = 6000

_MASKS = [
    (re.compile(r"#?\bW\d{7}\b", re.I), "order"),
    (re.compile(r"\bINV-?\d+\b", re.I), "invoice"),
    (re.compile(r"\bAPT-?\d+\b", re.I), "appointment"),
    (re.compile(r"\bCHG-?\d+\b", re.I), "charge"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "email address"),
    (re.compile(r"\$\s?\d[\d,]*(?:\.\d{2})?"), "amount"),
    (re.compile(r"(?<!\w)(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\w)"), "phone number"),
]


def normalise(text: str) -> str:
    """Record ids, addresses and amounts replaced by their kind, so the classifier reads the request."""
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
    (often cut off mid-word) is left out, so that nothing is asked for twice."""
    head = re.sub(r"\s+", " ", subject).strip().lower()
    if not head:
        return body
    clipped = head.endswith(("…", "..."))  # "… to Thursday 26…": cut off, its last word maybe too
    head = head.rstrip("…. ")
    cut = head if len(head) < 60 and not clipped else head.rsplit(" ", 1)[0]  # a long one may end mid-word
    return body if cut in re.sub(r"\s+", " ", body).lower() else f"{subject}\n{body}"
