"""The offline reader: a message → a ``Reading``, once, relative to when it was written.

The task types of its requests come from triage (the pack's labelled examples, read by the engine's classifier);
everything else is read here with the engine's generic English (``language``, ``when``, ``numbers``, ``values``)
and the pack's vocabulary as data (``Vocabulary``: the shapes of its ids, what customers call its records, its
country and currency). Each request is a clause of the message with its qualifiers; the facts are every value the
message gives, wherever it stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from . import language, people, values
from .requests import Grammar
from .types import Facts, Reading, RecordRef, RequestKind, RequestReading, Value, Words


@dataclass(frozen=True)
class Vocabulary:
    """What a pack brings for reading, as data: the shapes of its ids by kind (``{"order": "#?(W\\d{7})"}``), the
    words customers use for each kind of record (``{"order": ["order", "parcel"]}``), its country (for phone
    numbers and addresses), its currency, and whether dates are written day first."""

    ids: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    records: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    region: str = "US"
    currency: str = "USD"
    day_first: bool = False
    shown: Mapping[str, str] = field(default_factory=dict)  # how each kind of id is written back ("#{id}")
    follow_ups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # see ``triage.follows``
    counts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # things customers count: bag → [bag, …]
    upper: frozenset[str] = frozenset()  # the kinds of id written in capitals whatever the customer typed
    # things a customer takes or declines: insurance → [travel insurance, insurance] ("no insurance thanks": "no")
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    requests: Grammar = field(default_factory=lambda: Grammar.of(None, {}, {}))  # the verbs of its requests

    @classmethod
    def of(cls, ids: Mapping[str, Any] | None = None, records: Mapping[str, Iterable[str]] | None = None,
           region: str = "US", currency: str = "USD", day_first: bool | None = None,
           follow_ups: Mapping[str, Iterable[str]] | None = None,
           counts: Mapping[str, Iterable[str]] | None = None,
           options: Mapping[str, Iterable[str]] | None = None,
           requests: Mapping[str, Any] | None = None) -> Vocabulary:
        """From data: each id a pattern (its first group is the id), or ``{pattern, shown}``."""
        patterns, shown, upper = {}, {}, set()
        for kind, spec in (ids or {}).items():
            pattern = spec.get("pattern") if isinstance(spec, Mapping) else spec
            try:
                patterns[kind] = re.compile(str(pattern))  # as written: a pattern says '(?i)' when case does not matter
            except re.error as exc:
                raise ValueError(f"ids: {kind}: {exc}") from exc
            if isinstance(spec, Mapping) and spec.get("shown"):
                shown[kind] = str(spec["shown"])
            if isinstance(spec, Mapping) and spec.get("upper"):
                upper.add(kind)
        return cls(patterns, {k: tuple(v) for k, v in (records or {}).items()}, region, currency,
                   region not in ("US", "CA") if day_first is None else day_first, shown,
                   {k: tuple(v) for k, v in (follow_ups or {}).items()},
                   {k: tuple(v) for k, v in (counts or {}).items()}, frozenset(upper),
                   {k: tuple(v) for k, v in (options or {}).items()},
                   Grammar.of(requests, records or {}, patterns))


def facts(text: str, written_at: datetime, vocab: Vocabulary) -> Facts:
    """Every value ``text`` gives, by kind."""
    today = written_at.date()
    money = values.amounts(text, vocab.currency)
    found_times = [t for t in values.times(text)
                   if not any(t.words.start < m.words.end and m.words.start < t.words.end for m in money)]
    dates = values.days(text, today, vocab.day_first)
    birth = [d for d in dates if re.search(r"\b(?:born|birth|dob|d\.o\.b)\b", text[max(0, d.words.start - 40):
                                                                                   d.words.start], re.I)]
    taken = [(v.words.start, v.words.end) for v in [*dates, *found_times]]
    ids = values.ids(text, dict(vocab.ids))
    taken += [(v.words.start, v.words.end) for v in ids]
    taken += [(v.words.start, v.words.end) for v in money]
    addresses = [a.model_copy(update={"value": values.corrected(a.value, text)}) for a in values.addresses(
        text, tuple(dict.fromkeys([vocab.region, "US", "GB", "CA"])), vocab.ids.values())]  # "…5281, not 5218"
    taken += [(v.words.start, v.words.end) for v in addresses]
    phones = [p for p in values.phones(text, vocab.region)
              if not any(p.words.start < e and s < p.words.end for s, e in taken)]
    taken += [(v.words.start, v.words.end) for v in phones]
    nums = [n for n in values.numbers_in(text) if not any(n.words.start < e and s < n.words.end for s, e in taken)
            and not _pronoun(text, n)]
    return Facts(dates_of_birth=birth, dates=[d for d in dates if d not in birth], times=found_times,
                 amounts=money, phones=phones, emails=values.emails(text), addresses=addresses,
                 numbers=nums, ids=ids, people=people.born(text, today, vocab.day_first), party=people.party(text))


def _pronoun(text: str, n: Value) -> bool:
    """"one" that stands for a thing ("that one", "the blue one", "one of them" aside): no number."""
    return n.words.text.lower() == "one" and bool(
        re.search(r"\b(?:that|this|the|which|each|any|every|no|another|other|new|old|right|wrong|same|\w+er|\w+est)\s+$",
                  text[:n.words.start], re.I))


def _records(clause: Words, vocab: Vocabulary, ids: list[Value]) -> list[RecordRef]:
    out = [RecordRef(kind=v.value["kind"], id=v.value["id"]) for v in ids
           if clause.start <= v.words.start < clause.end]
    low = clause.text.lower()
    for kind, words in vocab.records.items():
        if any(re.search(rf"\b{re.escape(w.lower())}s?\b", low) for w in words) and \
                not any(r.kind == kind for r in out):
            out.append(RecordRef(kind=kind, description=clause))
    return out


def _kind(q: Any, clause: Words) -> RequestKind:
    if q.asks_only is not None:
        return "ask"
    if q.claims and not re.search(r"\b(?:please|can|could|would|want|need|refund|cancel|change|send|move)\b",
                                  clause.text, re.I):
        return "report"
    return "act"


def read(text: str, written_at: datetime, vocab: Vocabulary | None = None,
         requests: Iterable[Any] = (), reader: str = "offline") -> Reading:
    """The Reading of ``text``. ``requests`` are the triage's (each with ``intent``, ``text`` and ``confidence``):
    their sentences are found in the text and each clause of them becomes a request of that task type, with its own
    qualifiers; a condition said in a clause of its own ("If my wife agrees, please cancel it") holds the clause
    after it too."""
    vocab = vocab or Vocabulary()
    given = facts(text, written_at, vocab)
    sentences = language.sentences(text)
    out: list[RequestReading] = []
    seen: set[tuple[int, int]] = set()
    requests = list(requests)
    for req in requests:
        for sentence in _located(text, sentences, str(getattr(req, "text", "") or "")):
            _add_clauses(out, seen, sentence, req, vocab, given)
    _conditions_on_it(out, seen, sentences, requests, vocab, given)
    # "Yesterday I asked you to move it to the 20th. Please don't, leave it on the 5th.": a sentence no request
    # took, which takes back an earlier request, still takes it back
    for sentence in sentences:
        if any(r.sentence.start < sentence.end and sentence.start < r.sentence.end for r in out):
            continue
        for clause in language.clauses(sentence):
            q = language.qualifiers(clause, sentence)
            taken_back = q.withdrawn or (q.negated if q.negated is not None and language.ELLIPTIC.search(
                q.negated.text + clause.text[q.negated.end - clause.start:]) else None)
            if taken_back is None:
                continue
            for earlier in out:
                if earlier.sentence.end <= clause.start and language.EARLIER.search(earlier.sentence.text) and \
                        earlier.qualifiers.negated is None and earlier.qualifiers.withdrawn is None:
                    earlier.qualifiers.withdrawn = taken_back
    if language.UNWANTED.search(text):  # "The kettle isn't right for us. How do I return it?", "… so it's going back.
        # Do I pay anything to return it?": the return is wanted
        for r in out:
            if r.qualifiers.asks_only is not None and (language.HOW_TO.search(r.sentence.text)
                                                       or language.DOING_IT.search(r.sentence.text)):
                r.qualifiers.asks_only = None
                r.kind = _kind(r.qualifiers, r.sentence)
    nothing = None
    if (m := language.NOTHING_NOW.search(text)) is not None:  # "not switching anything yet": none is wanted now
        nothing = Words(text=m.group(0), start=m.start(), end=m.end())
        for r in out:
            if r.qualifiers.negated is None:
                r.qualifiers.negated = nothing
    _mark_kept(given, sentences)
    return Reading(written_at=written_at, text=text, sentences=sentences, requests=out, facts=given, reader=reader,
                   nothing_now=nothing)


def _add_clauses(out: list[RequestReading], seen: set[tuple[int, int]], sentence: Words, req: Any,
                 vocab: Vocabulary, given: Facts) -> None:
    """Each clause of a request's sentence as a request of its task type, with its own qualifiers; a clause that is
    only a condition holds the one after it, and a change of mind takes back what it speaks of."""
    carried = None
    start = len(out)
    for clause in language.clauses(sentence):
        q = language.qualifiers(clause, sentence)
        if q.condition is not None and (clause.text.strip().lower() == q.condition.text.strip().lower() or (
                "," not in clause.text and _only(clause.text) == _only(q.condition.text))):
            carried = q.condition  # a clause that is only a condition: it holds the next one (or, said last, the
            continue  # one before)
        if carried is not None and q.condition is None:
            q.condition = carried
        carried = None
        key = (clause.start, clause.end)
        if key in seen:
            continue
        seen.add(key)
        if q.withdrawn is not None and not language.ASKS_FOR.search(clause.text):
            for earlier in out[start:]:  # "I asked to move to Fixed 24, but I've changed my mind"
                if earlier.qualifiers.withdrawn is None and earlier.qualifiers.negated is None:
                    earlier.qualifiers.withdrawn = q.withdrawn
        taken_back = q.withdrawn or (q.negated if q.negated is not None and language.ELLIPTIC.search(
            q.negated.text + clause.text[q.negated.end - clause.start:]) else None)
        if taken_back is not None:  # "Yesterday I asked you to move it to the 20th. Please don't."
            for earlier in out:
                if language.EARLIER.search(earlier.sentence.text) and earlier.qualifiers.negated is None \
                        and earlier.qualifiers.withdrawn is None and earlier.task_type == clause_type(req):
                    earlier.qualifiers.withdrawn = taken_back
        out.append(RequestReading(kind=_kind(q, clause), task_type=getattr(req, "intent", None),
                                  confidence=float(getattr(req, "confidence", 0.0) or 0.0), sentence=clause,
                                  records=_records(clause, vocab, given.ids), qualifiers=q))
    if carried is not None and out and out[-1].task_type == clause_type(req) and out[-1].kind == "act" \
            and out[-1].qualifiers.condition is None:
        # "Please move me to Fibre 900, only if the fee is under £50", "I'd like to move the booking up to economy.
        # But only if it's no more than $150 a head.": the condition said last holds the request before it
        out[-1].qualifiers.condition = carried


def _only(text: str) -> str:
    """A clause's words without the words that open it nor its last mark ("But only if …." → "if …")."""
    return re.sub(r"^\W*(?:(?:but|and|so|though)\b\W*)?(?:(?:only|just)\b\W*)?|\W+$", "", text.strip().lower())


def _conditions_on_it(out: list[RequestReading], seen: set[tuple[int, int]], sentences: list[Words],
                      requests: list[Any], vocab: Vocabulary, given: Facts) -> None:
    """"Fixed 24 would suit me better. If I can switch without the exit fee, please do it.": a sentence no request
    took, that asks for "it" under a condition, is the request said before it (or the first the triage found, said
    in the subject), held by that condition."""
    for sentence in sentences:
        if not requests or any(r.sentence.start < sentence.end and sentence.start < r.sentence.end for r in out):
            continue
        if not (language.CONDITION.search(sentence.text) and language.points_back(sentence.text)
                and language.ASKS_FOR.search(sentence.text)):
            continue
        before = [r for r in out if r.sentence.start < sentence.start] or out
        req = SimpleNamespace(intent=before[-1].task_type, confidence=before[-1].confidence) if before else requests[0]
        _add_clauses(out, seen, sentence, req, vocab, given)


def _mark_kept(given: Facts, sentences: list[Words]) -> None:
    """Each value said in a clause that asks to keep something as it is ("Keep the outbound on the 24th as it is",
    "don't touch the 5th") is marked ``kept``: it names what stays, never what the request changes to."""
    said = [v for name in Facts.model_fields if isinstance(got := getattr(given, name), list) for v in got]
    if not said:
        return
    spans = [(clause.start, clause.end) for sentence in sentences for clause in language.clauses(sentence)
             if any(clause.start <= v.words.start < clause.end for v in said)  # only clauses that give a value
             and (q := language.qualifiers(clause, sentence)).negated is not None and q.withdrawn is None]
    for v in said:
        v.kept = any(start <= v.words.start < end for start, end in spans)


def clause_type(req: Any) -> str | None:
    return getattr(req, "intent", None)


def _located(text: str, sentences: list[Words], said: str) -> list[Words]:
    """The sentences of ``text`` that make up a request's words (triage may join or trim them)."""
    said = " ".join(said.split()).lower()
    if not said:
        return []
    found = [s for s in sentences if " ".join(s.text.split()).lower() in said or said in " ".join(s.text.split()).lower()]
    if found:
        return found
    m = re.search(r"\s+".join(re.escape(w) for w in said.split()[:8]), text, re.I)
    return [s for s in sentences if m is not None and s.start <= m.start() < s.end]
