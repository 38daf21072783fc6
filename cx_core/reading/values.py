"""The values a message gives, typed, each with the words it came from: days and times (``when``), numbers
(``numbers``), amounts with their currency (price-parser), phone numbers of any country (phonenumbers, read for
the pack's country first), e-mail addresses, postal addresses (pyap, for the United States, Canada and Great
Britain), and ids in the shapes a pack declares. Nothing here knows a company."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from . import numbers, when
from .types import Value, Words

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_SYMBOL = {"$": "USD", "£": "GBP", "€": "EUR"}
_WORD_CURRENCY = {"dollar": "USD", "dollars": "USD", "usd": "USD", "bucks": "USD", "pound": "GBP", "pounds": "GBP",
                  "gbp": "GBP", "quid": "GBP", "euro": "EUR", "euros": "EUR", "eur": "EUR", "p": "GBP"}
MONEY = re.compile(r"(?P<sym>[$£€])\s?(?P<a>\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:[.,]\d{1,2})?)(?![\d])|"
                   r"\b(?P<code>USD|GBP|EUR)\s?(?P<b>\d+(?:[.,]\d{1,2})?)\b|"
                   r"\b(?P<c>\d+(?:[.,]\d{1,2})?)\s?(?P<word>dollars?|usd|bucks|pounds?|gbp|quid|euros?|eur)\b", re.I)
_UK_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})\s*$", re.I)


def _w(text: str, start: int, end: int) -> Words:
    return Words(text=text[start:end], start=start, end=end)


def days(text: str, today: date, day_first: bool = True) -> list[Value]:
    return [Value(kind="date", value=w.value, words=_w(text, w.start, w.end), every=w.bound == "every")
            for w in when.dates(text, today, day_first)]


def times(text: str) -> list[Value]:
    return [Value(kind="time" if w.kind == "time" else "period",
                  value={"at": w.value, "bound": w.bound} if w.kind == "time" and w.bound else w.value,
                  words=_w(text, w.start, w.end)) for w in when.times(text)]


def amounts(text: str, currency: str = "") -> list[Value]:
    """Amounts with their currency ("£12.50" → 12.5 GBP; "40 dollars" → 40 USD); a bare number is no amount."""
    from price_parser import Price

    out = []
    for m in MONEY.finditer(text):
        raw = m.group(0)
        price = Price.fromstring(raw, decimal_separator="," if re.search(r"\d,\d{1,2}$", raw) else None)
        if price.amount is None:
            continue
        code = _SYMBOL.get(m.group("sym") or "", "") or (m.group("code") or "").upper() or \
            _WORD_CURRENCY.get((m.group("word") or "").lower(), "") or currency
        out.append(Value(kind="money", value={"amount": float(price.amount), "currency": code},
                         words=_w(text, m.start(), m.end())))
    return out


# a number labelled as something other than a phone
NOT_A_PHONE = re.compile(r"\b(?:tax|vat|ein|tin|ssn|account|acct|order|invoice|ref|reference|policy|serial|model|sort\s+code|"
                         r"iban|card|booking|tracking|registration|reg|licen[cs]e|passport|member(?:ship)?|customer|"
                         r"company|case|ticket)\b(?:\s+(?:number|no\.?|#|id|code))?\s*(?:is|:|=|-)?\s*$", re.I)
OTHER_REGIONS = ("US", "GB", "CA", "AU", "IE", "NZ", "DE", "FR", "ES", "IT", "NL")


def phones(text: str, region: str = "US") -> list[Value]:
    """Phone numbers of any country (E.164): a number valid for ``region``, else valid for another usual country,
    else merely possible for ``region`` (or, written with a leading ``0`` or ``+``, for another); a run
    of digits with no separator, leading ``+`` or ``0`` is no phone (an order number)."""
    import phonenumbers
    from phonenumbers import Leniency, PhoneNumberMatcher

    region = region or "US"
    others = [r for r in OTHER_REGIONS if r != region]
    passes = [(region, Leniency.VALID)] + [(r, Leniency.VALID) for r in others] + [(region, Leniency.POSSIBLE)] + \
        [(r, Leniency.POSSIBLE) for r in others]
    out: list[Value] = []
    for n, (reg, leniency) in enumerate(passes):
        for m in PhoneNumberMatcher(text, reg, leniency=leniency):
            raw = m.raw_string
            digits = re.sub(r"\D", "", raw)
            if len(digits) < 9 or not (re.search(r"[\s().-]", raw) or raw.startswith(("+", "0"))):
                continue
            if n > len(others) + 1 and not raw.startswith(("+", "0")):
                continue  # another country's merely possible number: only as written with its own prefix
            if NOT_A_PHONE.search(text[max(0, m.start - 30):m.start]):
                continue  # "tax number 84-2231907", "order no. 4411 2345": labelled as something else
            if any(m.start < v.words.end and v.words.start < m.end for v in out):
                continue
            out.append(Value(kind="phone", value=phonenumbers.format_number(
                m.number, phonenumbers.PhoneNumberFormat.E164), words=_w(text, m.start, m.end)))
    return sorted(out, key=lambda v: v.words.start)


def emails(text: str) -> list[Value]:
    return [Value(kind="email", value=m.group(0).lower(), words=_w(text, m.start(), m.end()))
            for m in EMAIL.finditer(text)]


def addresses(text: str, countries: Iterable[str] = ("US", "GB", "CA"),
              ids: Iterable[re.Pattern[str]] = ()) -> list[Value]:
    """Postal addresses as their parts (``address1``, ``address2``, ``city``, ``state``, ``zip``, ``country``); the
    ids of ``ids`` are no house numbers ("#W1006353 to 646 Willow Street")."""
    import pyap

    original = text
    for rx in ids:
        text = rx.sub(lambda m: " " * len(m.group(0)), text)
    out: list[Value] = []
    for country in countries:
        if country == "US":  # a learnt parser reads a US address however it is laid out; pyap what it leaves
            out.extend(v for v in _us_addresses(text, original) if not any(
                v.words.start < o.words.end and o.words.start < v.words.end for o in out))
        try:
            found = pyap.parse(text, country=country)
        except Exception:  # noqa: BLE001 - a country pyap cannot read is skipped
            continue
        for a in found:
            d = a.as_dict()
            full = str(d.get("full_address") or "")
            start = text.find(full)
            if start < 0 or any(v.words.start < start + len(full) and start < v.words.end for v in out):
                continue
            city, postcode = str(d.get("city") or ""), str(d.get("postal_code") or "")
            if country == "GB" and (m := _UK_POSTCODE.search(full)):  # pyap cuts a UK postcode's letters wrongly
                postcode = m.group(1).upper()
                head = full[:m.start()].rstrip(" ,")
                street = str(d.get("full_street") or "")
                city = head[len(street):].strip(" ,") if head.startswith(street) else city
            street_line = str(d.get("full_street") or "")
            occupancy = str(d.get("occupancy") or "")
            address1 = street_line.replace(occupancy, "").strip(" ,") if occupancy else street_line
            out.append(Value(kind="address", value={
                "address1": _cased(address1), "address2": _cased(occupancy), "city": _cased(city.strip(" ,")),
                "state": str(d.get("region1") or ""), "zip": postcode,
                "country": {"US": "USA", "GB": "United Kingdom", "CA": "Canada"}[country]},
                words=_w(original, start, start + len(full))))
    return sorted(out, key=lambda v: v.words.start)


# a figure of an address put right in so many words: "the house number is 5281, not 5218", "80212 not 80221"
_FIGURE_FIX = re.compile(r"(?<![\w-])(\d[\w-]*),?\s+(?:not|rather\s+than|instead\s+of)\s+(\d[\w-]*)(?![\w-])", re.I)


def corrected(address: dict[str, str], text: str) -> dict[str, str]:
    """``address`` with each figure the writer puts right anywhere in ``text`` ("Sorry - the house number is 5281,
    not 5218") replaced where it stands in one of its parts."""
    out = dict(address)
    for m in _FIGURE_FIX.finditer(text):
        new, wrong = m.group(1), m.group(2)
        for part, value in out.items():
            if isinstance(value, str) and re.search(rf"(?<![\w-]){re.escape(wrong)}(?![\w-])", value) \
                    and new not in value:
                out[part] = re.sub(rf"(?<![\w-]){re.escape(wrong)}(?![\w-])", new, value)
    return out


# a US address as customers lay it out: a house number, then a few words or lines, ending at a ZIP code
_HOUSE = re.compile(r"(?<![\w#$£€.,-])\d{1,6}[A-Za-z]?\s+[A-Za-z]")
_ZIP = re.compile(r"(?<![\w#-])\d{5}(?:-\d{4})?(?![\w-])")
_STATES = {"alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA", "colorado": "CO",
           "connecticut": "CT", "delaware": "DE", "district of columbia": "DC", "florida": "FL", "georgia": "GA",
           "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS",
           "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD", "massachusetts": "MA",
           "michigan": "MI", "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
           "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM",
           "new york": "NY", "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK",
           "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
           "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
           "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR"}
_STREET = ("AddressNumberPrefix", "AddressNumber", "AddressNumberSuffix", "StreetNamePreModifier",
           "StreetNamePreDirectional", "StreetNamePreType", "StreetName", "StreetNamePostType",
           "StreetNamePostDirectional", "StreetNamePostModifier")


def _us_addresses(text: str, original: str) -> list[Value]:
    """US addresses read by ``usaddress`` (a model trained on addresses as people write them): on one line or
    several, with or without commas, the state by name or code, a ZIP+4 read as its five digits. Each ZIP code is
    read back to the nearest house number that makes a whole address ("2 lamps, send them to 455 Market Street…")."""
    out: list[Value] = []
    done = 0
    for z in _ZIP.finditer(text):
        starts = [m.start() for m in _HOUSE.finditer(text, max(done, z.start() - 200), z.start())]
        for start in reversed(starts):
            found = _us_address(text[start:z.end()])
            if found is not None:
                out.append(Value(kind="address", value=found, words=_w(original, start, z.end())))
                done = z.end()
                break
    return out


def _us_address(span: str) -> dict[str, str] | None:
    import usaddress

    if span.count("\n") > 4 or "@" in span:
        return None
    try:
        parts, kind = usaddress.tag(span)
    except usaddress.RepeatedLabelError:
        return None
    state = " ".join(str(parts.get("StateName") or "").strip(" .,\n").split()).lower()
    code = state.upper() if state.upper() in _STATES.values() else _STATES.get(state, "")
    street_name = str(parts.get("StreetName") or "")
    if kind != "Street Address" or not code or not all(parts.get(k) for k in ("AddressNumber", "StreetName",
                                                                             "PlaceName", "ZipCode")) \
            or any(c.isdigit() for c in street_name) or len(street_name.split()) > 4:
        return None
    street = " ".join(" ".join(str(parts[k]).split()) for k in _STREET if parts.get(k)).strip(" ,")
    unit = " ".join(" ".join(str(parts[k]).split()) for k in ("OccupancyType", "OccupancyIdentifier",
                                                              "SubaddressType", "SubaddressIdentifier")
                    if parts.get(k)).strip(" ,")
    return {"address1": _titled(street), "address2": _titled(unit),
            "city": _titled(" ".join(str(parts["PlaceName"]).split()).strip(" ,")), "state": code,
            "zip": str(parts["ZipCode"]).strip()[:5], "country": "USA"}


def _titled(part: str) -> str:
    """An address part as it is written on a label: "12 elm st" → "12 Elm St", "CEDAR LANE" → "Cedar Lane"."""
    return " ".join(w.capitalize() if w.isalpha() and (w.islower() or (w.isupper() and len(w) > 2)) else w
                    for w in _cased(part).split(" "))


def _cased(part: str) -> str:
    """An address part typed in capitals as it is written in words ("CEDAR LANE" → "Cedar Lane"); a state's code
    stays as it is."""
    return " ".join(w.capitalize() if w.isupper() and len(w) > 2 and not any(c.isdigit() for c in w) else w
                    for w in part.split(" "))


def numbers_in(text: str) -> list[Value]:
    return [Value(kind="ordinal" if n.ordinal else "number", value=n.whole if n.whole is not None else n.value,
                  words=_w(text, n.start, n.end)) for n in numbers.find(text)]


def ids(text: str, patterns: dict[str, re.Pattern[str]]) -> list[Value]:
    """Ids in the shapes a pack declares (``order: #?W\\d{7}``): each with its kind; the first group is the id."""
    out = []
    for kind, rx in patterns.items():
        for m in rx.finditer(text):
            value = m.group(1) if rx.groups else m.group(0)
            out.append(Value(kind="id", value={"kind": kind, "id": value}, words=_w(text, m.start(), m.end())))
    return sorted(out, key=lambda v: v.words.start)
