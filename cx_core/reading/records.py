"""Which of a customer's records the words point at: by its id, or described ("the EV charger", "the black ones",
"my Dallas flight", "the 5th December flight", "my gas account"), for every pack alike.

Each record's own words (its products, options, places, names, kinds; nested records included) are compared with
the words of the request. A word the customer's other records share weighs little (most orders hold something
"smart"); one only this record has decides ("charger"). A word typed with a slip of the keys still counts
("chager"), a plural is its singular, and a day the words give is matched against the record's days. When one record
stands out it is the one; when several tie, each is named; when none is named, nothing is guessed."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .phrases import stem  # records and requests meet by their stems ("electric", "Electricity")

_STOP = frozenset("""a an the and or of to in on at for from with by my our your me we i it its is are was were be been
this that these those one ones please can could would will just only also all any some both each every other another
new old same order orders booking bookings account accounts item items record records thing things stuff one""".split())
_TIME_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ][\d:.+Z-]*)?$")


def words(text: str) -> set[str]:
    """A text's content words, singular and lower case ("Wi-Fi" → "wi", "fi" and "wifi")."""
    found = set()
    for raw in re.findall(r"[A-Za-z0-9][A-Za-z0-9'-]*", text):
        w = raw.lower().strip("'-")
        if len(w) < 2 or w in _STOP:
            continue
        found.add(stem(w))
        if "-" in w:
            found.add(w.replace("-", ""))
            found.update(stem(p) for p in w.split("-") if len(p) >= 2 and p not in _STOP)
    return found


def flat(record: Any, depth: int = 0) -> Iterable[str]:
    """Every text of a record (nested records too), days apart."""
    if depth > 5:
        return
    if isinstance(record, Mapping):
        for v in record.values():
            yield from flat(v, depth + 1)
    elif isinstance(record, list | tuple):
        for v in record:
            yield from flat(v, depth + 1)
    elif isinstance(record, str) and not _TIME_LIKE.match(record):
        yield record


def days(record: Any, depth: int = 0) -> set[str]:
    """The ISO days a record holds (a delivery, a flight, a visit)."""
    if depth > 5:
        return set()
    if isinstance(record, Mapping):
        return set().union(*(days(v, depth + 1) for v in record.values())) if record else set()
    if isinstance(record, list | tuple):
        return set().union(*(days(v, depth + 1) for v in record)) if record else set()
    if isinstance(record, str) and _TIME_LIKE.match(record):
        return {record[:10]}
    return set()


def _close(word: str, pool: set[str]) -> str | None:
    """A word of ``pool`` that ``word`` is a slip of the keys for (five letters or more, 85% alike)."""
    if len(word) < 5 or word.isdigit():
        return None
    from rapidfuzz import fuzz, process

    best = process.extractOne(word, [p for p in pool if len(p) >= 5 and not p.isdigit()], scorer=fuzz.ratio,
                              score_cutoff=85)
    return best[0] if best else None


# a month named alone ("my November order", "the September invoices"); "may" only with a capital
_MONTH = re.compile(r"\b((?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|jun(?:e)?|jul(?:y)?|aug(?:ust)?|"
                    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)|May)\b")
_MONTHS = {m: f"{n:02d}" for n, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                                 "nov", "dec"), start=1)}
# a sum of money said: with its currency sign or its pence and cents ("$24.24", "£80", "80.40")
_SUM = re.compile(r"[$£€]\s?(\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)|(?<![\d.,])(\d+\.\d{2})(?![\d.])")


def _sums(text: str) -> set[float]:
    return {round(float((m.group(1) or m.group(2)).replace(",", "")), 2) for m in _SUM.finditer(text)}


def _figures(record: Any, depth: int = 0) -> set[float]:
    """Every sum of a record (nested records too), rounded to the cent."""
    if depth > 5:
        return set()
    if isinstance(record, Mapping):
        return {f for v in record.values() for f in _figures(v, depth + 1)}
    if isinstance(record, list | tuple):
        return {f for v in record for f in _figures(v, depth + 1)}
    if isinstance(record, int | float) and not isinstance(record, bool):
        return {round(float(record), 2)}
    return set()


def scores(text: str, records: Sequence[Mapping[str, Any]], said_days: Iterable[str] = (),
           ignore: Iterable[str] = ()) -> list[float]:
    """How strongly ``text`` points at each record: the weight (rarer among these records, heavier) of each of the
    record's words it says, plus a day it names that the record holds."""
    own = [words(" ".join(flat(r))) - set(ignore) for r in records]
    n = len(records)
    df: dict[str, int] = {}
    for ws in own:
        for w in ws:
            df[w] = df.get(w, 0) + 1
    said = words(text) - set(ignore)
    pool = set(df)
    said |= {c for w in said - pool if (c := _close(w, pool))}
    out = []
    wanted_days = set(said_days)
    sums = _sums(text)
    months = {_MONTHS[m.group(1).lower()[:3]] for m in _MONTH.finditer(text)}
    for ws, r in zip(own, records, strict=True):
        score = sum(math.log(1 + n / df[w]) for w in said & ws)
        score += 2.0 * len(wanted_days & days(r))
        if months and not wanted_days:  # "my November order": a month its days fall in
            score += 1.5 * bool(months & {d[5:7] for d in days(r)})
        score += 2.0 * len(sums & _figures(r)) if sums else 0.0  # "the $24.24 invoice"
        out.append(score)
    return out


def named(text: str, records: Sequence[Mapping[str, Any]], said_days: Iterable[str] = (),
          ignore: Iterable[str] = ()) -> list[int]:
    """The indexes of the records ``text`` names: the one that stands out, every one that ties at the top, or none
    when no record's own words are said."""
    if not records:
        return []
    s = scores(text, records, said_days, ignore)
    top = max(s)
    if top <= 0:
        return []
    return [i for i, v in enumerate(s) if v >= top - 1e-9]


# where one thing of a list ends and the next begins: "the doorbell order and the headphones order", "…, the TV"
_LIST_BREAK = re.compile(r"\s*(?:[,;&/]|\band\b|\bplus\b|\bas\s+well\s+as\b)\s*", re.I)


def named_each(text: str, records: Sequence[Mapping[str, Any]], said_days: Iterable[str] = ()) -> list[int]:
    """The records a list names one by one ("the invoices for the doorbell order and for the headphones order"):
    each part of the list names one record of its own, clearly above the others; [] unless two or more parts do,
    or when one part names several alike."""
    parts = [p for p in _LIST_BREAK.split(text) if words(p)]
    found: list[int] = []
    for part in parts:
        s = scores(part, records, said_days)
        ranked = sorted(range(len(s)), key=lambda i: -s[i])
        if not s or s[ranked[0]] <= 0:
            continue
        if len(s) > 1 and s[ranked[1]] > s[ranked[0]] / 2:
            return []  # a part that does not clearly name one record: the list is not read one by one
        if ranked[0] not in found:
            found.append(ranked[0])
    return found if len(found) > 1 else []


# "the cheapest", "the lowest gas unit rate", "the most expensive": a superlative that picks one record by a number
_SUPERLATIVE = re.compile(r"\b(cheapest|least\s+expensive|lowest|smallest|fewest|least|shortest|most\s+expensive|"
                          r"dearest|highest|biggest|largest|longest|most)\b((?:\s+[A-Za-z-]+){0,4})", re.I)
_SMALLEST = {"cheapest", "least expensive", "lowest", "smallest", "fewest", "least", "shortest"}
# how alike the words of a superlative and a field's name must be, and by how much more than the next field, when no
# word of theirs is shared ("costs least to leave early" and ``exit_fee``)
ALIKE, AHEAD = 0.4, 0.15
# what a price is called in a record's field names, when the words name none ("the cheapest")
_PRICE = frozenset({"price", "cost", "rate", "fee", "amount", "total", "charge"})


def field_words(name: str) -> set[str]:
    """The stems of a field's name ("electricity_unit_rate" → electricity, unit, rate): what words name it by."""
    return {stem(p) for p in re.split(r"[_\W]+", name.lower()) if p}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"[$£€]?\d+(?:\.\d+)?", value.strip()):
        return float(value.strip().lstrip("$£€"))
    return None


def _alike_field(phrase: str, fields: Sequence[str], similar: Callable[[str, Sequence[str]], Sequence[float]]
                 ) -> str | None:
    """The field whose name means what ``phrase`` says, well ahead of every other; None when none is."""
    names = sorted(fields)
    scores = sorted(zip(similar(phrase, [" ".join(re.split(r"[_\W]+", n)) for n in names]), names, strict=True),
                    reverse=True)
    if not scores or scores[0][0] < ALIKE or len(scores) > 1 and scores[0][0] - scores[1][0] < AHEAD:
        return None
    return scores[0][1]


def superlative(text: str, records: Sequence[Mapping[str, Any]],
                similar: Callable[[str, Sequence[str]], Sequence[float]] | None = None) -> Mapping[str, Any] | None:
    """The one record a superlative of ``text`` picks among ``records`` ("whichever of your fixed tariffs has the
    lowest gas unit rate"): first narrowed to the records the words name by a value of theirs ("fixed"), then the
    one with the smallest (or largest) number in the field the words after the superlative name ("gas unit rate" →
    ``gas_unit_rate``; a price for "the cheapest"), or, when their words name none, the field ``similar`` finds
    alike by meaning ("the fixed deal that costs least to leave early" → ``exit_fee``). None when no superlative,
    no such field, or a tie."""
    m = _SUPERLATIVE.search(text)
    if m is None or len(records) < 2:
        return None
    said = words(text)
    narrowed = [r for r in records if said & {stem(w) for v in flat(r) for w in words(v)}]
    pool = narrowed if 0 < len(narrowed) < len(records) else list(records)
    after = words(m.group(2)) | ({"price"} if m.group(1).lower() in {"cheapest", "least expensive", "dearest",
                                                                      "most expensive"} else set())
    fields = {k for r in pool for k, v in r.items() if _number(v) is not None}

    def fit(field: str) -> tuple[int, int]:
        """How well the words after the superlative name a field, then how well the rest of the words do ("the
        lowest unit rate" for "my electricity": ``electricity_unit_rate``, not ``gas_unit_rate``)."""
        parts = field_words(field)
        return len(parts & after) * 2 + (bool(parts & _PRICE) and "price" in after), len(parts & said_stems)

    said_stems = {stem(w) for w in said}
    ranked = sorted(fields, key=fit, reverse=True)
    best = ranked[0] if ranked else None
    if best is not None and fit(best)[0] == 0 and similar is not None:
        before = re.search(r"(?:[\w'-]+\s+)?$", text[:m.start()])  # the word before: "costs least to leave early"
        best = _alike_field(text[m.start() - len(before.group(0)) if before else m.start():m.end()], ranked, similar)
    elif best is None or fit(best)[0] == 0 or len(ranked) > 1 and fit(ranked[1]) == fit(best):
        return None  # no field named, or two named alike ("the cheapest" of rates, charges and fees): not a guess
    if best is None:
        return None
    valued = [(n, r) for r in pool if (n := _number(r.get(best))) is not None]
    if not valued:
        return None
    pick = min if " ".join(m.group(1).lower().split()) in _SMALLEST else max
    target = pick(n for n, _ in valued)
    chosen = [r for n, r in valued if n == target]
    return chosen[0] if len(chosen) == 1 else None
