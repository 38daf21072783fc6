"""The sentences of knowledge articles a reply can quote: articles cut into whole sentences (list items completed by
their lead-in, examples and fragments left out), what a sentence states or asks, whether two say the same, and
whether a sentence is about another case than the customer's (a membership level, a condition)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from .documents import paragraphs
from .models import Passage
from .reading.records import words
from .safe_text import plain_text

# a list item that starts like this, or a fragment, is completed by its lead-in
DETERMINER = re.compile(r"^(?:a|an|any|each|every|all|no|some)\b", re.I)
FRAGMENT = re.compile(r"^(?:[^A-Z0-9]|[^.:]{1,40}:\s)")

# a sentence that leans on the one before it ("It cannot be added later.") is quoted with it or not at all
LEANS_BACK = re.compile(r"^(?:it|its|this|that|these|those|they|their|them|such|both|the latter|the former)\b", re.I)
# a worked example is about somebody else's case, never the customer's
EXAMPLE = re.compile(r"^(?:(?:example|for example|for instance)\b|e\.g\.)", re.I)
# a lead-in that is a whole clause: its items follow a colon ("some things can no longer be done: the cabin…")
CLOSED_LEAD = re.compile(r"\b(?:true|false|done|following|below|these|those|cases|rules|steps|options|ways|things|"
                         r"reasons|apply|applies|possible|allowed|required|needed)\s*$", re.I)
# a lead-in that is a condition of its own ("If the light stays red after a restart:"), before what to do
CONDITION_LEAD = re.compile(r"^(?:if|when|whenever|once|before|after|unless|while|as soon as)\b", re.I)
JOINED = re.compile(r"(?:,\s*|\s+)(or|and)\s*[,;.]?\s*$", re.I)
LABELLED = re.compile(r"^(?:[^.:]|\.(?=\d)){1,40}:\s")
# a sentence that stops where it cannot end: a word that needs what follows it
DANGLING = re.compile(r"\b(?:a|an|the|by|of|to|for|with|from|in|on|at|into|onto|and|or|but|if|when|than|as|is|are|"
                      r"be|your|our|their|its|this|that|these|those|will|can|must|should|may|until|before|after|"
                      r"about|via|per)\s*[,;:—-]?$", re.I)
ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|etc|approx|incl|no|nos|vs|mr|mrs|ms|dr|st|min|max|ca)\.$", re.I)
# a clause with a verb of its own, or an instruction: a list item that stands alone as a sentence
FINITE = re.compile(r"(?:^|[,;]\s*|\b(?:and|but|so|then)\s+)(?:\w+\s+){0,4}?(?:is|are|was|were|be|been|has|have|had|"
                    r"can|cannot|can't|could|will|won't|would|must|may|might|should|shall|do|does|did|don't|doesn't|"
                    r"isn't|aren't|goes|takes|gets|costs|pays|applies|moves|arrives?|receives|keeps|stays|refunds|"
                    r"makes|changes|shows|needs|holds|covers|includes|means|depends|runs|works|lasts|expires|"
                    r"appears?|comes|starts|ends|sends|calls|pay|refund|need|get)\b|"
                    r"^(?:if|when|once|after|before|as soon as|unless)\b|^to\b[^,]{1,40},", re.I)
IMPERATIVE = re.compile(r"^(?:restart|reset|check|place|confirm|use|turn|open|hold|connect|set|make|add|pay|contact|call|"
                        r"send|keep|read|see|give|choose|book|write|run|update|follow|start|ask|try|press|select|go|"
                        r"unplug|stop|wait|return|include|bring|take|do|lock|tell|change|remove|enter|sign|log|"
                        r"download|visit|allow|plug|switch|put|make sure|please|never|always|don't|do not)\b", re.I)
LOWER_FIRST = re.compile(r"^(?:a|an|the|any|each|every|all|no|some|it|its|they|their|you|your|we|our|this|these|"
                         r"those|for|if|when|with|without|one|two|only|both|there|in|on|at|from|to|after|before)\b")


def _split(line: str) -> list[str]:
    """The sentences of one line; "e.g." and the like end none."""
    out: list[str] = []
    for piece in re.split(r"(?<=[.!?])\s+", line.strip()):
        if out and ABBREVIATION.search(out[-1]):
            out[-1] += " " + piece
        elif piece:
            out.append(piece)
    return out


def _stands_alone(item: str) -> bool:
    return bool(IMPERATIVE.search(item) or FINITE.search(re.split(r"\s(?:where|which|who|that)\s", item)[0]))


def _finish(text: str) -> str:
    text = JOINED.sub("", text).rstrip(" ;,:")
    return text if text.endswith((".", "!", "?")) else text + "."


def _join_items(items: list[str]) -> str:
    """Alternatives of one condition read as one: "a silver or gold member, have travel insurance, or fly business"."""
    conj = (JOINED.search(items[0]) or JOINED.search(items[-2])).group(1).lower()  # type: ignore[union-attr]
    parts = [JOINED.sub("", x).rstrip(" ;,.") for x in items]
    if len(parts) == 2:
        return f"{parts[0]} {conj} {parts[1]}"
    return ", ".join(parts[:-1]) + f", {conj} {parts[-1]}"


def _lower(item: str) -> str:
    """The item's first letter in lower case when its first word is an ordinary one, not a name ("Travel insurance
    on…" → "travel insurance on…"; "Horizon Air Travel cancelled…" and "PayPal" stay)."""
    words = item.split(maxsplit=2)
    name = bool(words) and (not re.fullmatch(r"[A-Z][a-z'’-]*[,;:.]?", words[0])
                            or (len(words) > 1 and words[1][:1].isupper()))
    return item if name and not LOWER_FIRST.search(item[:1].lower() + item[1:]) else item[:1].lower() + item[1:]


def _complete(lead: str, item: str) -> str:
    """A list item read with the lead-in it completes: "The charge is credited in full when" + "the technician
    arrived late;" → "The charge is credited in full when the technician arrived late."; "…at least one of these is
    true" + "it was made less than 24 hours ago" → "…is true: it was made less than 24 hours ago."; a condition
    before an instruction takes a comma: "If the light stays red" + "check the cable" → "If the light stays red,
    check the cable."."""
    lead = lead.rstrip(" :")
    if LABELLED.search(item):  # "…on the bookings they make" + "gold: 2 in economy" → "…make (gold: 2 in economy)."
        return f"{lead} ({_lower(item).rstrip(' .;,')})."
    joint = ": " if CLOSED_LEAD.search(lead) else ", " if CONDITION_LEAD.search(lead) and IMPERATIVE.search(item) \
        else " "
    return _finish(f"{lead}{joint}{_lower(item)}")


def quotable_sentences(text: str, heading: str = "") -> list[str]:
    """The quotable sentences of a passage, as plain text (no Markdown), each complete and each once.

    A list item that cannot stand alone is read with its lead-in (the line before the list when it ends in ':',
    else the section heading): "When we credit: any charge billed twice."; items joined by "or"/"and" are one
    sentence; an item that names its subject ("Gift card: immediately.") stands as it is. A sentence that leans on
    the one before it ("It cannot be added later.") is kept with it; a worked example ("Example: a silver member
    books…") is never quoted, as it is somebody else's case."""
    text = plain_text(paragraphs(text)).replace("`", "")
    section = re.sub(r"\s*\((?:staff|internal)\)\s*$", "", plain_text(heading), flags=re.I).strip()
    units: list[str] = []
    lead = ""  # the sentence the list below completes (from a line ending in ':')
    group: list[str] = []  # items joined by "or"/"and", waiting for the last one

    def emit(sentence: str) -> None:
        """A sentence that leans on the one before joins it (or goes, with nothing to lean on)."""
        if LEANS_BACK.search(sentence):
            if units:
                units[-1] = f"{units[-1]} {sentence}"
            return
        units.append(sentence)

    def flush() -> None:
        if group:
            joined = _join_items(group)
            if lead:
                emit(_complete(lead, joined))
            elif section:
                emit(_finish(f"{section}: {_lower(joined)}"))
            group.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("|"):
            flush()
            lead = ""  # a blank line ends the list a lead-in introduced
            continue
        item = re.match(r"^(?:[-*+]|\d+[.)])\s+(.*)", line)
        if item is None:
            flush()
            sentences = _split(line)
            lead = ""
            if line.endswith(":") and sentences:
                lead = sentences.pop().rstrip(":").strip()
            for sent in sentences:
                if EXAMPLE.search(sent):
                    break  # the example and what follows it in its paragraph
                if not sent.endswith((".", "!", "?", ":", ")", '"', "”")):
                    if DANGLING.search(sent):
                        continue  # a line that stops mid-sentence is never quoted cut
                    sent = _finish(sent)
                emit(sent)
            continue
        body = item.group(1).strip()
        if group or (JOINED.search(body) and not LABELLED.search(body)):
            group.append(body)
            if not JOINED.search(body):
                flush()
            continue
        first, *rest = _split(body) or [body]
        if lead:
            unit = _complete(lead, first)
        elif LABELLED.search(first):
            unit = _finish(first)  # "Gift card: immediately."
        elif DETERMINER.search(first) or FRAGMENT.search(first) or not _stands_alone(first):
            if not section:
                continue  # a fragment with nothing to complete it
            unit = _finish(f"{section}: {_lower(first)}")
        else:
            unit = _finish(first)
        emit(" ".join([unit, *rest]))
    flush()
    return [u for u in units if len(u) > 20]


_STOP = frozenset("a an the and or but of to in on at for with by from as is are was were be been it its this that "
                  "these those you your we our they their can will must may not no any each every all per if when "
                  "than then so such only also".split())


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9$]+(?:'[a-z]+)?", text.lower()) if w not in _STOP and len(w) > 1}


def same_point(a: str, b: str) -> bool:
    """Two quotes that say the same thing: one lead-in read with two of its items ("Each booking has a
    six-character reservation number and shows…"), or mostly the same words."""
    if a.split()[:8] == b.split()[:8] and len(a.split()) > 8:
        return True
    wa, wb = _words(a), _words(b)
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= 0.7


def restates(quote: str, said: str) -> bool:
    """Whether ``quote`` adds nothing to ``said`` (most of its words are already there)."""
    wq = _words(quote)
    return bool(wq) and len(wq & _words(said)) / len(wq) >= 0.6


ASKS_FOR = re.compile(r"^(?:(?:to|if|when|for)\b[^,]{0,60},\s*)?(?:please\s+)?(?:give|send|tell|provide|share|include|"
                      r"quote|let)\s+us\b|^we (?:will )?need "
                      r"(?:your|the|a|to know)\b|^what we need\b|^(?:please\s+)?have (?:your|the)\b.*\bready\b", re.I)
# "A duplicate charge is a second payment…": what a thing is, which a customer who was charged twice knows already
DEFINITION = re.compile(r"^(?:an?|the)\s+(?:[\w-]+\s+){0,2}[\w-]+\s+(?:is|means)\s+(?:an?|the|when)\b", re.I)


# "silver or gold members", "regular members": the levels a sentence is about
_NAMED_LEVELS = re.compile(r"((?:\b[a-z]+(?:,\s+|\s+or\s+|\s+and\s+))*\b[a-z]+)\s+(?:members?|tier|level)\b",
                           re.I)
_NOT_LEVELS = frozenset("every all any each other our new existing some most many more fewer such these those their "
                        "your the a an no older younger".split())


CONDITION = re.compile(r"^(?:if|unless)\s+(.+?)(?:,|\s+—|\s+then\b)|\b(?:if|when|unless)\b[^:.]*\b(?:true|apply|applies|"
                       r"following)\s*:\s+(.+)$", re.I)
_VAGUE = frozenset({"want", "wish", "need", "have", "woul", "like", "only", "stil", "alre", "just", "also", "any",
                    "some", "more", "one", "two", "none", "appl", "thes", "true", "foll"})  # stems of words that say nothing of the condition


def statements(text: str) -> tuple[str, str]:
    """What the customer states and what they ask, apart: "HAT163 was cancelled. Has HAT214 landed?" → the first
    sentence, then the second; "wants to know whether it has landed" is asked."""
    stated, asked = [], []
    for sent in re.split(r"(?<=[.!?])\s+|\n+", text):
        sent = sent.strip()
        known = re.split(r"\b(?:whether|wants? to know|asks?|asking|wondering)\b", sent, maxsplit=1, flags=re.I)
        if sent.endswith("?"):
            asked.append(sent)
        else:
            stated.append(known[0])
            asked.extend(known[1:])
    return " ".join(stated), " ".join(asked)


def _stems(text: str) -> set[str]:
    """Content words cut to four letters, so "cancelled" meets "cancel" and "booking" meets "booked"."""
    return {w[:4] for w in _words(text)}


CONTRAST = re.compile(r"^(.+?)\s+(?:is|are)\s+(?:different|not the same|separate)\s+(?:from|than|to)\s+(.+?)(?:[:;,.]|$)",
                      re.I)


def _case_label(unit: str) -> str:
    """The case an alternative is about: its label ("Delayed: the flight…" → "delayed"; "…they make (gold: 2 in
    economy…)" → "gold")."""
    m = LABELLED.search(unit) and re.match(r"^([^:]{1,40}):", unit) or re.search(r"\(([^():]{1,30}):", unit)
    return m.group(1).strip().lower() if m else ""


def other_case(pool: list[tuple[str, Passage, int]], facts: str, level: str = "") -> list[bool]:
    """For each candidate quote, whether it is about a case the facts say is not the customer's.

    - Alternatives side by side (a passage's labelled items, "Delayed: …" / "Cancelled: …"; the items one lead-in
      introduces, "…(silver: …)" / "…(gold: …)"; the short-headed sections of one article, "Pending" /
      "Processed"): when the facts name one of them, the others are about another case. Labelled alternatives
      the facts say nothing of are all left out: one the customer only asks about ("has it landed?") is not quoted
      as if it were the case ("Landed: the flight has arrived"): what the customer asks is no fact.
    - A sentence about customers of named levels ("Regular members … are not eligible") is about another case
      when the customer's ``level`` is known and not among them.
    - A sentence that contrasts two things ("Cancelling a subscription is different from cancelling an order")
      is about the other one when the facts name only the second.
    - A rule for a condition ("If you want to pay with a new card, …") is about another case when the facts say
      little of that condition (less than half its words)."""
    known = f"{facts} {level}".lower()
    level = level.lower()
    out = [False] * len(pool)

    told = _stems(known)

    def named(case: str, cases: set[str]) -> bool:
        """The facts name this case by a word that sets it apart ("cancelled" for "Cancelled flight" beside
        "Delayed flight")."""
        shared = set.intersection(*(_stems(c) for c in cases))
        distinct = _stems(case) - shared or _stems(case)
        # a case of several words is named as a phrase ("on time" is not named by "on Thursday … local time"), or
        # by its last word as the customer's own ("my card" names "credit or debit card")
        last = case.lower().split()[-1]
        return (case.lower() in known or bool(re.search(rf"\b(?:my|our) (?:\w+ )?{re.escape(last)}\b", known))
                if len(distinct) > 1 else bool(distinct & told))

    groups: dict[tuple[str, ...], list[tuple[int, str]]] = {}
    for i, (sent, p, _) in enumerate(pool):
        label = _case_label(sent)
        if label:
            key = (p.doc_id, p.heading, "labels" if LABELLED.search(sent) else sent.split("(")[0])
            groups.setdefault(key, []).append((i, label))
        short = re.sub(r"\s*\([^)]*\)\s*$", "", p.heading).strip()
        if 0 < len(short.split()) <= 2:
            groups.setdefault((p.doc_id, "sections"), []).append((i, short.lower()))
    for group, members in groups.items():
        cases = {c for _, c in members}
        if len(cases) < 2:
            continue
        if any(named(c, cases) for c in cases):
            for i, c in members:
                out[i] = out[i] or not named(c, cases)
        elif group[-1] != "sections":  # labelled alternatives and none is the customer's: none is quoted
            for i, _ in members:
                out[i] = True
    for i, (sent, _, _) in enumerate(pool):
        m = CONTRAST.search(sent)
        if m and _stems(m.group(2)) & told and not (_stems(m.group(1)) - _stems(m.group(2))) & told:
            out[i] = True
        when = CONDITION.search(sent)
        if when and (cond := _stems(when.group(1) or when.group(2)) - _VAGUE) and len(cond & told) / len(cond) < 0.5:
            out[i] = True
    if level:
        for i, (sent, _, _) in enumerate(pool):
            levels = {w for m in _NAMED_LEVELS.finditer(sent) for w in re.split(r",\s+|\s+or\s+|\s+and\s+",
                                                                                  m.group(1).lower())} - _NOT_LEVELS
            levels = {w for w in levels if re.search(rf"(?<![A-Za-z] ){w}\b", sent, re.I)
                      and not re.search(rf"(?<=[a-z] ){w.capitalize()}\b", sent)}
            out[i] = out[i] or (bool(levels) and level not in levels)
    return out


ALSO_ASKED_MIN = 0.5  # a question asked beside the requests: quoted only when this close, and about its words


def answers_beside(best: Callable[..., list[tuple[str, Passage]]], passages: Mapping[str, list[Passage]],
                   quoted: set[str], said: list[str]) -> tuple[list[tuple[str, Passage]], list[str]]:
    """For each question asked beside the requests (its passages under "?" and the question, ``Answers.also_asked``):
    the knowledge sentence that answers it, close to it and about its own words, or the question, left for the
    advisor (``best``: the drafter's choice of sentences)."""
    quotes: list[tuple[str, Passage]] = []
    left: list[str] = []
    for key in [k for k in passages if k.startswith("?")]:
        found = [(q, p) for q, p in best(key[1:], passages[key], 1, set(), least=ALSO_ASKED_MIN)
                 if words(key[1:]) & words(f"{p.heading} {q}")]
        quotes += [(q, p) for q, p in found if q not in quoted and not any(q in x for x in said)]  # once
        quoted.update(q for q, _ in found)
        left += [] if found else [key[1:]]
    return quotes, left
