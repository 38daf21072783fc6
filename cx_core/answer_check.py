"""Whether an answer may go out without a person: it answers what was asked only when the knowledge base speaks of
everything the question names. A question about something the knowledge base never mentions ("can I pay with my
Amex?", "do you price match?") gets the nearest passage at best, which answers another question; such a reply waits
for a person, with the words the knowledge base does not know as the reason.

What counts as known: the words of the knowledge base (every chunk's title, heading and text), the customer's own
records (a product they bought is theirs to name) and the pack's vocabulary. Function words and the words people
use to ask (``language.ASKING_WORDS``) say nothing of what is asked. Words are compared by their first letters
(``stem``), so "refunds" meets "refund" and "cancelled" meets "cancellation".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from .actions import REGISTRY
from .entities import split_sentences, whole_text
from .models import Request, TicketIn, Triage
from .passages import quotable_sentences
from .reading import comparing, language, records, when
from .reading.language import ASKING_WORDS
from .reading.requests import asks_for_a_change

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")
SAFETY_MIN = 0.35  # how close a passage must be to the sentence naming a danger to tell what to do about it
STEM = 5  # letters that make two forms of a word the same word


# a prefix that keeps the word's subject: "reconnect" is about connecting, "unpair" about pairing
_PREFIX = re.compile(r"^(?:re|un|dis|pre|non)(?=[a-z]{4})")


def stem(word: str) -> str:
    """The first letters of a word, without its hyphens ("Wi-Fi" and "wifi" meet) or what follows an apostrophe."""
    return word.lower().split("'")[0].replace("-", "")[:STEM]


def _known(word: str, known: set[str]) -> bool:
    """Whether the word is known: its stem is; a short word is the start of a longer known one ("high" of
    "higher", "fee" of "fees"); or it is a known word with a prefix that keeps its subject."""
    low = word.lower()
    st = stem(low)
    return st in known or (len(st) < STEM and any(k.startswith(st) for k in known)) \
        or (bool(_PREFIX.match(low)) and stem(_PREFIX.sub("", low)) in known)


def stems(text: str) -> set[str]:
    """The stems of every word of ``text``."""
    return {stem(w) for w in _WORD.findall(text)}


def record_words(node: Any) -> set[str]:
    """The stems of every text value in a customer's records (names of products, plans, places)."""
    return {st for text in records.flat(node) if len(text) < 400 for st in stems(text)}


@functools.cache
def _function_words() -> frozenset[str]:
    """English function words (scikit-learn's list), loaded on first use: the library takes seconds to import,
    which every command would pay at start."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def content_words(question: str) -> list[str]:
    """The words of a question that say what it is about, in order, each once: no function word, no word of
    asking, no number, no single letter."""
    seen: set[str] = set()
    out: list[str] = []
    for w in _WORD.findall(question):
        low = w.lower().split("'")[0]
        if len(low) < 3 or low in _function_words() or low in ASKING_WORDS or stem(low) in seen:
            continue
        seen.add(stem(low))
        out.append(w)
    return out


def unknown(questions: Iterable[str], known: set[str]) -> list[str]:
    """The words of the questions the knowledge base, the records and the pack never use."""
    out: list[str] = []
    for q in questions:
        out.extend(w for w in content_words(q) if not _known(w, known) and w not in out)
    return out


def why_it_waits(questions: Iterable[str], known: set[str]) -> str:
    """Why an answer to ``questions`` must wait for a person ('' when it may go alone)."""
    missing = unknown(questions, known)
    if not missing:
        return ""
    named = ", ".join(f"“{w}”" for w in missing[:3])
    return (f"the knowledge base never mentions {named}, so its nearest passage may answer another question: "
            "check the answer before sending")


KNOWLEDGE_ANSWERS = 0.35  # a passage this close to a question the classifier could not place answers it
class Answers:
    """What the knowledge base and the pack know, for a pipeline: whether a reply may go alone, and a question
    the classifier could not place read anew from the knowledge base."""

    def __init__(self, kb: Any, pack: Any) -> None:
        self.kb = kb
        self.pack = pack
        self._known: tuple[frozenset[str] | None, set[str]] = (None, set())

    def known(self, snap: Any, profile: Mapping[str, Any] | None) -> set[str]:
        """The stems of every word the knowledge base (recomputed when it changes), the pack and the customer's
        records use."""
        vocabulary = self.kb.vocabulary()
        if self._known[0] is not vocabulary:
            pack = " ".join([*self.pack.task_types, self.pack.brand.name,
                             *(f"{a.label} {a.description}" for a in REGISTRY.values())])
            self._known = (vocabulary, stems(" ".join(vocabulary)) | stems(pack))
        return self._known[1] | record_words(snap) | record_words(profile)

    def why_it_waits(self, tri: Triage, snap: Any, profile: Mapping[str, Any] | None) -> str:
        """Why a reply the level lets go alone waits for a person instead: a question it answers also asks for a
        change ("…which tariff would be cheapest, and move our gas onto it?"), which an answer alone leaves undone,
        or names what neither the knowledge base, the customer's records nor the pack ever mention ('' when it may
        go)."""
        asked = [r.text for r in tri.requests if r.intent in self.pack.informational]
        if done := next((s for r in asked for s in language.sentences(r) if asks_for_a_change(s)), None):
            return (f"the customer also asks for something to be done (“{done.text[:120]}”), which an answer alone "
                    "leaves undone: a person decides")
        return why_it_waits(asked, self.known(snap, profile)) if asked else ""

    def also_asked(self, tri: Triage, ticket: TicketIn) -> list[str]:
        """The questions a message asks beside its requests ("…book the engineer for Friday. Will the power go off
        while the work is done?"): each only asks to be told, names at least two things, gives no day or figure (those
        ask of the request they stand in) and is not already a request answered from the articles. The draft quotes
        an answer the knowledge base gives to one; the summary names the others, so the advisor answers them."""
        said = language.sentences(whole_text(ticket.subject, ticket.body))
        # a request that only asks, or is of a kind answered from the articles, is answered as such already
        answered_by = " ".join(r.text for r in tri.requests if r.intent in self.pack.informational or all(
            language.asks_to_be_told(x) for x in language.sentences(r.text)))
        out = []
        for i, s in enumerate(said):
            # "Is that something I arrange later?", "What actually is that?": what "that" is, the sentence before says
            asked = f"{said[i - 1].text} {s.text}" if i and comparing.ANAPHOR.search(s.text) else s.text
            if not language.asks_to_be_told(s) or s.text in answered_by or re.search(r"\d", s.text) \
                    or len(content_words(asked)) < 2 or when.dates(s.text, date(2000, 1, 1)):
                continue  # a question with a day or a figure asks of the request it belongs to
            out.append(asked)
        return out[:3]

    def read_anew(self, tri: Triage, ticket: TicketIn, snap: Any, profile: Mapping[str, Any] | None) -> Triage:
        """A question the classifier could not place is still answered from the knowledge base when one of its
        passages is close to it and the knowledge base speaks of everything it names: read as that article's task
        type (else the classifier's best guess), with the reason kept; anything else stays with a person. A
        placed ticket keeps the questions it asks beside its requests (``also_asked``)."""
        if not tri.abstained:
            if also := self.also_asked(tri, ticket):
                tri.entities["also_asked"] = also
            return tri
        asked = [s.text for s in language.sentences(whole_text(ticket.subject, ticket.body))
                 if language.is_question(s) or language.asks_only(s)]
        question = " ".join(asked)
        if not question:
            return tri
        top = self.kb.retrieve(question, k=1)
        if not top or top[0].similarity < KNOWLEDGE_ANSWERS or why_it_waits(asked, self.known(snap, profile)):
            return tri
        kind = next((t for t in top[0].task_types if t in self.pack.task_types), tri.intent)
        if kind not in self.pack.task_types:
            return tri
        why = (f"answered from the knowledge base (“{top[0].title}: {top[0].heading}”, similarity "
               f"{top[0].similarity:.2f}) although the classifier was {tri.confidence:.0%} sure")
        return tri.model_copy(update={
            "task_type": kind, "intent": kind, "abstained": False,
            "requests": [Request(intent=kind, text=question, confidence=top[0].similarity)],
            "entities": {**tri.entities, "from_knowledge": why}})


def what_to_do(kb: Any, text: str, word: str) -> list[str]:
    """What the knowledge base tells a customer to do about a danger their message speaks of ("I can smell gas"):
    the sentences of the passage closest to the sentence that names it, when that passage names the danger too and
    is close enough to be about it; none otherwise."""
    said = next((x for x in split_sentences(text) if word.lower() in x.lower()), word)
    danger = [w for w in re.findall(r"[a-z]+", word.lower()) if w not in ("smell", "smells", "smelling", "smelt",
                                                                          "smelled", "of")]
    for p in kb.retrieve(said, k=3):
        if p.similarity >= SAFETY_MIN and all(re.search(rf"\b{re.escape(w)}", p.text, re.I) for w in danger):
            return quotable_sentences(p.text, p.heading)[:2]
    return []
