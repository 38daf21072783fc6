"""What makes a sentence of a message a request of its own, rather than part of the one before it: an ask (a wish, a
question, an imperative), a new-request marker, a problem reported, a record of its own, or something given; a
reason, a judgement, or a statement that gives nothing is the context of the request before it."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from . import entities
from .models import Request
from .reading import conditions, keeping, language, numbers, paying, when
from .signals import COMPLAINT, PROBLEM, life

# A short sentence that names no record of its own and follows a request it belongs to is part of that
# request, whatever it reads like alone: which kinds of request a pack's customers follow up that way is its data
# (``reading.yaml``'s ``follow_ups``): "is Saturday 28 November free?" after an installation to rebook.
FOLLOW_UP_WORDS = 6
FOLLOW_UP_P = 0.2  # or a longer one that still reads, in part, as the request before it


def follow_ups() -> Any:
    return entities._vocabulary().follow_ups


def names_a_record(sentence: str) -> bool:
    return any(p.search(sentence) for p in entities._vocabulary().ids.values())


def follows(previous: Request | None, label: str, sentence: str, p_previous: float) -> bool:
    return (previous is not None and label in follow_ups().get(previous.intent, ()) and
            not names_a_record(sentence) and (p_previous >= FOLLOW_UP_P
                                              or words_besides_when(sentence) <= FOLLOW_UP_WORDS))


_ANY_DAY = date(2000, 1, 3)  # where words stand does not hang on the day they are read


def words_besides_when(sentence: str) -> int:
    """How many words a sentence says besides the days and times it gives: "Is there any chance of Friday the 27th,
    2 to 4?" says no more than "is there any chance of"."""
    found = sorted((w.start, w.end) for w in [*when.dates(sentence, _ANY_DAY), *when.times(sentence)])
    kept, at = [], 0
    for start, end in found:
        if start >= at:
            kept.append(sentence[at:start])
            at = end
    kept.append(sentence[at:])
    return len(re.findall(r"[^\W\d_]+", " ".join(kept)))


# what makes a sentence a request of its own rather than the context of the one before it: an ask (a wish, a
# question, an imperative), a new-request marker, a problem reported, or a record of its own
# (a question word asks when it opens the sentence or a clause of it, or the sentence ends in "?": "was out when the
# technician came" and "can stay where it is" ask nothing; "must have fallen through" is a guess, not a must;
# "I need surgery" tells, "I need a refund" asks)
ASK = re.compile(r"\?|\b(?:want|wants|wanted|would like|'d like|’d like|wish|"
                 r"needs?\s+(?:you|to|a|an|the|my|our|your|some|it|this|that|these|those|help|more|another|new|\d+|one|"
                 r"two|three|four|\w+ing)|please|pls|plz|can you|"
                 r"could you|would you|will you|can i|could i|may i|can we|let me|help|wonder\w*|"
                 r"is there|are there|do you|does|did|request\w*|looking to|hoping to|trying to|"
                 r"asking|must(?!\s+have\b)|have to|has to|should(?!\s+have\b)|kindly|i'?ll need|i'm after)\b"
                 r"|(?:^|[,;:(-]\s*|\b(?:and|but|so|also|just)\s+)\W*(?:how|when|what|where|why|which|whether)\b", re.I)
# (an imperative may follow a clause that sets it up: "If that's not possible, just cancel it")
# a request that points back at what the sentence before spoke of: "Could it be removed?", "Please update it"
POINTS_BACK = re.compile(r"^\W*(?:(?:please|pls|kindly|so)\s+)?(?:(?:can|could|would|will|may)\s+(?:you\s+|i\s+|we\s+)?"
                         r"(?:please\s+)?|(?:i|we)(?:['’]d|\s+would)\s+like\s+to\s+|(?:i|we)\s+(?:want|need)\s+to\s+)?"
                         r"(?:(?:it|this|that|they|these|those)\s+be\b|(?!(?:if|when|as|because|since|unless|but|and|or|"
                         r"so|though|although|once|until|while)\b)[a-z]+\s+(?:it|them|that|this|those|these)\b)",
                         re.I)
# a sentence that narrows the request before it: "…split into three? All of it apart from the £12 late fee",
# "Everything except the lamp", "But not the sofa"
NARROWS = re.compile(r"^\W*(?:(?:but|and|so)\s+)?(?:(?:all|everything|the\s+lot|the\s+whole\s+(?:thing|lot|amount)|"
                     r"all\s+of\s+(?:it|them|that))\s+(?:apart\s+from|except|but|other\s+than|bar|minus|less)|"
                     r"except(?:\s+for)?|apart\s+from|other\s+than|excluding|not\s+including|minus|not\s+the)\b", re.I)
NEW_REQUEST = re.compile(r"^\W*(?:also|additionally|another|separately|secondly|second|third|next|finally|lastly|"
                         r"plus|and also|on another note|one more thing|while i'?m at it|by the way)\b", re.I)
WISH = re.compile(r"\b(?:i|we)(?:\s+(?:really|also|just|still))?(?:\s+(?:want|would\s+like|need|wish)|['’]d\s+like|"
                  r"(?:['’]ll|\s+will|\s+shall)\s+(?:also\s+|still\s+)?need)\b",
                  re.I)  # a wish declared in so many words: "I want…", "we'd like…"
IMPERATIVE = re.compile(r"(?:^|[,;:]\s*|\b(?:just|then|so)\s+|\b(?:can|could|would|will)\s+you\s+)\W*(?:please\s+)?"
                        r"(?:cancel|change|move|return|exchange|refund|send|resend|update|book|rebook|re-book|swap|"
                        r"add|remove|switch|upgrade|downgrade|fix|replace|credit|reverse|close|open|reschedule|"
                        r"stop|pause|resume|transfer|apply|waive|check|confirm|tell|give|show|make|set|put|get)\b",
                        re.I)


# a plan the writer already holds, told as the scene of what they ask next ("we were due to fly to Dallas on the
# 9th", "your installer is booked to come on Saturday the 28th", "I'm flying to Charlotte on the 5th", "the order
# says it's coming Monday")
_HELD = re.compile(r"\b(?:am|is|are|was|were|['’]m|['’]re|['’]s)\s+(?:\w+\s+)?(?:due|booked|scheduled|supposed|meant)\s+"
                   r"(?:to|on|for|in|back|out|home)\b|\b(?:i|we)\s*(?:['’]m|['’]re|\s+am|\s+are)\s+"
                   r"(?:flying|travell?ing|leaving)\b|"
                   # "it says it's coming Monday", "the sofa is arriving on the 3rd"
                   r"\b(?:is|are|['’]s|['’]re)\s+(?:\w+\s+)?(?:coming|arriving|expected)\s+(?:on\s+|this\s+|next\s+)?"
                   r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|tomorrow|the\s+\d)", re.I)
# a plain "please" before what is to be done ("so please call the trip off"), not one before a courtesy
_PLEASE_DO = re.compile(r"\bplease\s+(?!(?:note|see|find|be|bear|excuse|forgive|accept)\b)[a-z]", re.I)


def tells_of_a_plan(sentence: str) -> bool:
    """A sentence that tells of a plan the writer already holds, and asks nothing (what they got is not one: "the
    kettle I ordered came with a dent" tells of a fault in words no list holds)."""
    return bool(_HELD.search(sentence)) and not ASK.search(sentence) \
        and not IMPERATIVE.search(sentence) and not WISH.search(sentence)


ASKED_MIN = 0.4  # a sentence the model is less sure of that asks outright is a request all the same
# words that speak of what came before: a pronoun, or a number whose noun was said before it ("put all seven on")
_SOME = "|".join(w for w, n in numbers.UNITS.items() if 2 <= n <= 10)
BACK_TO = re.compile(rf"\b(?:it|them|that one|this one|the same|(?:both|all)\s+of\s+them|(?:both|all\s+(?:{_SOME}|\d+))"
                     r"(?!\s+(?!on|to|in|onto|into|of|for|at|back|please)[a-z]))\b", re.I)


def asks_outright(sentence: str) -> bool:
    """A wish declared ("I want…", "we'd like…") or a thing to do said after "please"."""
    return bool(WISH.search(sentence) or _PLEASE_DO.search(sentence))


def asked_outright(sentence: str, label: str, confidence: float, asked: list[str], of_a_plan: bool) -> bool:
    """A sentence the model reads as ``label``, less sure, that asks outright ("I want…", "please call the trip
    off"), of a kind not yet ``asked``, and not about what came before unless that is the plan the writer told of."""
    return confidence >= ASKED_MIN and asks_outright(sentence) and (of_a_plan or not BACK_TO.search(sentence)) \
        and label not in asked


# a judgement: what a customer thinks of the request before it, not a request of its own (a reason is the
# language's: ``language.REASON_GIVEN``; "charging me $49 as a call-out fee" gives none)
_VERDICT = re.compile(r"\b(?:that's why|which is why|the reason|reason is|"
                      r"(?:too |very |really |so )?(?:expensive|dear|pricey|cheap|slow|fast|bad|poor|unreliable|"
                      r"useless|good|great)|can(?:no|')t afford|not worth|no longer (?:need|use|want))\b", re.I)


# a change the writer made themselves, told of: "I rebooked the installer", "we moved the visit to Monday"
_DONE_ALREADY = re.compile(r"\b(?:i|we)\s+(?:already\s+|have\s+|'ve\s+|had\s+|'d\s+)?(?:re-?booked|rescheduled|"
                           r"re-?arranged|moved|changed)\b", re.I)
# what says it did not go as it should: then the sentence is a problem, not news
_AMISS = re.compile(r"\b(?:but|however|yet|still|wrong|never|not|no)\b|n't\b", re.I)


def done_already(sentence: str) -> bool:
    """A change the writer made themselves and tells of, asking nothing and with nothing amiss ("On Wednesday I
    rebooked the installer, and the new time is Monday the 30th"): news that is the context of a request, none."""
    return bool(_DONE_ALREADY.search(sentence)) and not ASK.search(sentence) and not _AMISS.search(sentence)


# a relative clause: ", which turned up fine" asks nothing (", which one should I keep?" does)
_RELATIVE = re.compile(r",\s*which\s+(?!one|ones|of|day|date|time)[^,.;!?]*", re.I)


def tells_only(sentence: str) -> bool:
    """A sentence that only tells: news of a change the writer made, that something is fine ("That's what I paid
    for the white kettle in October, which turned up fine and gets used every day"), or what is not wanted ("No
    vouchers or credit of any kind, please"); it opens no request."""
    return done_already(sentence) or refuses_only(sentence) or "?" not in sentence \
        and not ASK.search(_RELATIVE.sub(" ", sentence)) and only_fine(sentence)


# a sentence that opens with what the writer does not want: "No vouchers or credit of any kind, please."
_REFUSES = re.compile(r"^\W*(?:(?:and|but|so)\s+)?(?:absolutely\s+|definitely\s+|really\s+)?no\s+(?!longer\b|one\b|"
                      r"matter\b|sooner\b|later\b|doubt\b|idea\b|way\b|reply\b|response\b|answer\b|word\b|news\b)"
                      r"[a-z]", re.I)


def refuses_only(sentence: str) -> bool:
    """Whether a sentence only sets aside a thing ("No vouchers, please", "No rush"), asking for nothing else
    ("No need for a technician, just refund me" asks for the refund)."""
    m = _REFUSES.match(sentence)
    return m is not None and "?" not in sentence and not IMPERATIVE.search(sentence[m.end():]) \
        and bool(_SETS_ASIDE.search(sentence))  # "No hot water since Monday" reports a fault


# what makes "No …" a thing set aside, not a fault told of
_SETS_ASIDE = re.compile(r"^\W*(?:(?:and|but|so)\s+)?no\s+need\b|\b(?:of\s+any\s+kind|whatsoever|needed|necessary|"
                         r"required|wanted)\b|,\s*(?:please|pls|thanks|thank\s+you)\W*$", re.I)


# a choice said to be fine: an act, a way to pay or a day ("Refund to my Mastercard is fine", "Friday is fine")
_CHOICE = re.compile(when.DAY_WORDS, re.I)


def only_fine(sentence: str) -> bool:
    """Whether a sentence only says something is all right or stays as it is ("The smart plug in the same parcel is
    fine", "The installation on December 3rd is fine as booked"), not that a choice is ("Refund to my Mastercard is
    fine", "Friday is fine")."""
    if keeping.unchanged(sentence):
        return True
    said_of = keeping.fine_of(sentence)
    return not language.not_fine(sentence) and not (_CHOICE.search(said_of) or paying.MEANS.search(said_of)
                                                    or paying.OTHER_ACT.search(said_of))


def says_how_to_pay(sentence: str) -> bool:
    """A sentence that only says how to pay for what was asked before it ("I'd like my $100 travel certificate to
    cover any fee", "If certificates can't be used for bags, charge the card on file"): part of that request, never
    a request of its own; a question about paying ("Can I pay with my Amex?") still asks."""
    return paying.only_how_to_pay(sentence) and not names_a_record(sentence)


# a figure that only describes a noun, its unit singular ("your 24 hour rule", "a 30-day window"): no value given
_MODIFIER = re.compile(r"\b(?!1\b)\d+[\s-](?:minute|hour|day|week|month|year)\s+(?!ago\b|later\b|before\b|after\b|"
                       r"early\b|earlier\b|late\b|from\b|or\b|and\b)[a-z]", re.I)


def opens_request(sentence: str) -> bool:
    """Whether ``sentence`` asks for something of its own. One that only gives a reason for, or a judgement of, the
    request before it ("the Fiber 500 plan is too dear for me" after "I want to cancel") is that request's context: a
    phrase serves one request, and a word inside it never opens another. A statement that gives something (a
    reading, a date, a problem) stands as its own request; one that gives nothing ("the old card is being replaced
    by my bank") and an illness or a loss told of ("I had surgery last week and can't travel") are the context of
    the one before."""
    if ASK.search(sentence) or NEW_REQUEST.search(sentence) or IMPERATIVE.search(sentence) \
            or PROBLEM.search(sentence) or names_a_record(sentence) or COMPLAINT.search(sentence):
        return True
    if language.REASON_GIVEN.search(sentence) or _VERDICT.search(sentence) or life(sentence) \
            or only_fine(sentence):  # "The installation on December 3rd is fine as booked."
        return False
    # a statement gives something (a reading, a date, an amount), or is context; a figure that only bounds a
    # condition on the request before ("business class if it's under $300 a head, otherwise economy") gives nothing
    return gives_a_figure(sentence)


def gives_a_figure(sentence: str) -> bool:
    """Whether a sentence gives a figure (a reading, a date, an amount): not one that only bounds a condition nor
    one that only describes a noun ("well outside your 24 hour rule")."""
    return bool(re.search(r"\d", _MODIFIER.sub(" ", conditions.without_conditions(sentence))))


def part_of(previous: Request, label: str, sentence: str, p_previous: float) -> bool:
    """Whether a sentence read as ``label`` belongs to the request before it: a follow-up of its kind, or one of
    another kind that opens no request of its own or only says how to pay for it."""
    return follows(previous, label, sentence, p_previous) or (
        label != previous.intent and (not opens_request(sentence) or says_how_to_pay(sentence)))


def gives_something(sentence: str) -> bool:
    """Whether a sentence that belongs to the request before it adds to its words: not one that only says something
    is fine ("the mesh wifi visit next Wednesday is still fine")."""
    return bool(language.not_fine(sentence)) or opens_request(sentence)


def asks_plainly(sentence: str) -> bool:
    """A sentence that asks in so many words, or declares a wish, and does not only tell."""
    return (asks_in_so_many_words(sentence) or bool(WISH.search(sentence))) and not tells_only(sentence)


def asks_in_so_many_words(sentence: str) -> bool:
    """A plain request ("… so please send that one to Glenwood Ave instead"), not news told nor a condition."""
    return bool(IMPERATIVE.search(sentence)) and not done_already(sentence) \
        and not conditions.opens_with_condition(sentence)
