"""Generic English, once for every company: sentences and clauses, and the words that change what a request means
(negation, a change of mind, a condition, a fallback, an exception, a question that only asks, a quantity, "all",
"the latest", a comparison, a fact the customer claims). A pack brings the words of its trade (what customers call
its records, its actions, its enum values); how English negates, conditions or asks is read here (conditions in
``conditions``) and nowhere else, and ``tests/test_generic_english.py`` runs the same table of constructions through
every pack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import numbers
from .conditions import CONDITION, FALLBACK, ULTIMATUM, without_conditions
from .keeping import BUT, FINE, UNCHANGED, unchanged
from .types import Qualifiers, Value, Words

MAX_CHARS = 6000
MAX_SENTENCES = 40

# ------------------------------------------------------------------ sentences and clauses
# a new request run on without a full stop ("… for a refund CAN YOU RESEND THE INVOICE", "… please could you")
_RUN_ON = (r"(?<=[a-z0-9)])\s+(?=(?:Please|PLEASE|Can you|CAN YOU|Could you|COULD YOU|Can I|CAN I|Could I|COULD I|"
           r"I NEED|I WANT|I'D LIKE|Also|ALSO)\b)")
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+|" + _RUN_ON)
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|No|Apt|Ave|Rd|approx|e\.g|i\.e|etc|vs|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|"
                     r"Oct|Nov|Dec|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\.$", re.I)


def sentences(text: str) -> list[Words]:
    """The sentences and lines of ``text`` with their places; an abbreviation's full stop ("Dec. 5", "St. John")
    does not end one; bounded, so a huge message cannot stall the reader."""
    text = text[:MAX_CHARS]
    out: list[Words] = []
    start = 0
    for m in _SENTENCE.finditer(text):
        piece = text[start:m.start()]
        if _ABBREV.search(piece) and "\n" not in m.group(0):
            continue
        out.append(_words(text, start, m.start()))
        start = m.end()
    out.append(_words(text, start, len(text)))
    return [w for w in out if len(w.text) > 1][:MAX_SENTENCES]


# a closing formula before the writer's name: "Thanks,", "Thank you.", "Kind regards,", "Ta,"
_CLOSING = (r"(?:thanks?(?:\s+(?:so\s+much|again|in\s+advance))?|thank\s+you(?:\s+(?:so\s+much|again|in\s+advance))?|"
            r"many\s+thanks|(?:kind(?:est)?\s+|best\s+|warm\s+)?regards|best(?:\s+wishes)?|cheers|sincerely|"
            r"yours(?:\s+(?:sincerely|truly|faithfully))?|ta|diolch|love|all\s+the\s+best)")
_SIGN_OFF = re.compile(rf"^{_CLOSING}\W*$|^(?:hello|hi|dear|sent\s+from\s+.*)\W*$", re.I)
_NAME = re.compile(r"^(?:[A-Z][a-z'’-]+\.?)(?:\s+[A-Z][a-z'’-]+\.?){0,2}$")
_NOT_NAMES = {"please", "help", "urgent", "order", "the", "my", "no", "yes"}


def signature(text: str) -> Words | None:
    """The writer's name a message ends with, where it stands: a last line of one to three capitalised words ("…
    \n\nMary Turner"), or a name after a closing formula ("Thank you. Anthony Wilson", "Ta, David"); None when the
    message ends otherwise. The name signs the message: it is no one the message speaks of."""
    found = sentences(text)
    if len(found) < 2:
        return None
    last = found[-1]
    name = last.text.rstrip(".,!")
    if _NAME.match(name) and name.split()[0].lower() not in _NOT_NAMES and not _SIGN_OFF.match(last.text) and (
            "\n" in text[found[-2].end:last.start] or _SIGN_OFF.match(found[-2].text.strip())):
        return _words(text, last.start, last.start + len(name))
    m = re.match(rf"^{_CLOSING}\W+([A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+){{0,2}})\W*$", last.text, re.I)
    if m and m.group(1).split()[0].lower() not in _NOT_NAMES and _NAME.match(m.group(1)):
        return _words(text, last.start + m.start(1), last.start + m.end(1))
    return None


# what a signature carries under the writer's name, a line each: a phone number, an email or a web address
_CONTACT_LINE = re.compile(r"^\W*(?:(?:tel|phone|mobile|mob|cell)\.?:?\s*)?(?:\+?[\d(][\d\s().-]{6,}\d|[\w.+-]+@[\w-]+\.[\w.]+|"
                           r"(?:https?://|www\.)\S+)\W*$", re.I)


def unsigned(text: str) -> str:
    """``text`` without the contact lines under the writer's name ("…\n\nLindsey Graham\n624-558-3477"): a phone
    number, an email or a web address that signs the message asks for nothing."""
    lines = text.rstrip().split("\n")
    end = len(lines)
    while end > 1 and (not lines[end - 1].strip() or _CONTACT_LINE.match(lines[end - 1].strip())):
        end -= 1
    name = lines[end - 1].strip().rstrip(".,!") if end < len(lines) else ""
    if not name or not _NAME.match(name) or name.split()[0].lower() in _NOT_NAMES:
        return text
    return "\n".join(lines[:end])


def _words(text: str, start: int, end: int) -> Words:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip(" \t-*>•"))
    piece = piece.strip(" \t-*>•")
    return Words(text=piece, start=start + lead, end=start + lead + len(piece))


# what starts a clause of its own inside a sentence: a contrast, a fallback, a condition, another request
_CLAUSE = re.compile(r"\s*(?:;|,?\s+but\s+|,?\s+however,?\s+|,\s*(?=(?:and\s+)?(?:please|just|only|then|instead|"
                     r"otherwise|if\s+not|or\s+else|i\s+(?:want|would|'d|need|still)|keep|leave|don'?t|do\s+not)\b)|"
                     r"\s+(?=(?:otherwise|or\s+else|failing\s+that|if\s+not|if\s+(?:that|this|it)(?:'s|\s+is)\s+not\s+"
                     r"possible|instead(?!\s+of))\b)|,?\s+and\s+(?=(?:please\s+)?(?:also\s+)?(?:can|could|would)\s+you\b|"
                     r"(?:please\s+)?(?:also\s+)?(?:i\s+(?:want|need|would|'d))\b))", re.I)


def clauses(sentence: Words) -> list[Words]:
    """A sentence cut where its requests part: at "but", a semicolon, "otherwise", "if not", "instead", or a comma
    before another ask ("Please don't cancel the vacuum, just cancel the headphones")."""
    out, at = [], 0
    text = sentence.text
    for m in _CLAUSE.finditer(text):
        if m.start() > at:
            out.append(_words(text, at, m.start()))
        at = m.start() if re.match(r"\s+(?:otherwise|or\s+else|failing|if|instead)", m.group(0), re.I) else m.end()
    out.append(_words(text, at, len(text)))
    return [Words(text=c.text, start=sentence.start + c.start, end=sentence.start + c.end) for c in out
            if len(c.text) > 1 and not _ONLY_COURTESY.fullmatch(c.text)]


_ONLY_COURTESY = re.compile(r"\W*(?:please|pls|plz|thanks|thank\s+you|thx|ta|cheers|many\s+thanks)\W*", re.I)


# the words people greet, thank and ask with, beside the function words of English: none of them says what a
# question is about ("Hi, quick question: is there any way I could pay with my Amex instead?" is about paying, Amex)
ASKING_WORDS = frozenset("""
hi hello hey dear thanks thank cheers regards kind best wishes pls plz question questions quick wondering wonder
wondered know knew tell told ask asking asked want wanted wants like liked need needed needs help hope hoping able
possible possibly instead actually really just maybe perhaps curious thing things way ways okay ok yes yeah guys team
sir madam got get gets getting let lets make sure good great lot lots bit little right currently soon today tomorrow
yesterday does did doing done going goes come happen happens happened say said says use using used wish would could
should shall might must can will also bye morning afternoon evening folks anyone someone somebody anybody
explain explains explained explaining understand understood clarify confirm latest recent recently long
isn aren wasn weren hasn haven hadn doesn didn don won wouldn couldn shouldn can't cant isnt arent wasnt werent hasnt
havent hadnt doesnt didnt dont wont wouldnt couldnt shouldnt im ive id youre theyre thats whats wheres hows theres
monday tuesday wednesday thursday friday saturday sunday weekend week weeks month months year years january february
march april june july august september october november december
""".split())


# ------------------------------------------------------------------ the constructions
def _find(rx: re.Pattern[str], clause: Words) -> Words | None:
    m = rx.search(clause.text)
    return Words(text=m.group(0).strip(), start=clause.start + m.start(), end=clause.start + m.end()) if m else None


NEGATION = re.compile(  # "please don't cancel", "no need to send", "nothing should be cancelled", "leave X alone"
    r"\b(?:nothing\s+(?:should|needs?\s+to|has\s+to|must|is\s+to)\s+be|"
    r"do\s+not|don'?t|dont|didn'?t\s+(?:ask|want)|never|please\s+no|no\s+need\s+to|not\s+to|shouldn'?t|"
    r"should\s+not|mustn'?t|must\s+not|won'?t\s+need|no\s+longer\s+need\s+(?:you\s+)?to)\s+(?:(?:want|need|wish)\s+"
    r"(?:you\s+)?(?:to\s+)?)?(?:\w+\s+){0,2}?(?:cancel(?:s|l?ed|l?ing)?|chang(?:e|es|ed|ing)|mov(?:e|es|ed|ing)|"
    r"switch(?:es|ed|ing)?|swap(?:s|ped|ping)?|return(?:s|ed|ing)?|refund(?:s|ed|ing)?|send(?:s|ing)?|sent|"
    r"book(?:s|ed|ing)?|credit(?:s|ed|ing)?(?!\s+cards?)|clos(?:e|es|ed|ing)|stop(?:s|ped|ping)?|touch(?:es|ed|ing)?|"
    r"updat(?:e|es|ed|ing)|remov(?:e|es|ed|ing)|delet(?:e|es|ed|ing)|upgrad(?:e|es|ed|ing)|downgrad(?:e|es|ed|ing)|"
    r"reschedul(?:e|es|ed|ing)|ship(?:s|ped|ping)?|exchang(?:e|es|ed|ing)|charg(?:e|es|ed|ing)|"
    r"process(?:es|ed|ing)?|put|add(?:s|ed|ing)?|submit(?:s|ted|ting)?|set\s+up|do\s+(?:that|this|it|"
    r"anything))\b|\bleave\s+(?:[\w'#-]+\s+){0,12}?alone\b|\bleave\s+(?:\w+\s+){0,4}?as\s+(?:it\s+is|they\s+are|is)\b|"
    r"\bleave\s+(?:it|them|that|this|everything)\s+(?:on|at|as|where|with|how)\b|"
    # "leave my electricity where it is", "leave the electricity one on the 8th, that's fine as it is"
    r"\bleave\s+(?:\w+\s+){1,4}?(?:where\s+(?:it|they)\s+(?:is|are)|on\s+(?:the\s+)?\w+[^.!?;]{0,30}\bas\s+(?:it|they)\s+"
    r"(?:is|are))\b|"
    # "please don't." said of the request before it
    r"\b(?:please\s+)?(?:don'?t|do\s+not)\b(?=\s*(?:[,.;!]|$|(?:do\s+)?(?:it|that|this|bother)\b))|"
    r"\b(?:keep(?!\s+(?:the\s+)?same\s+\w+\s+(?:who|whom|that|which)\b)|stay(?:ing)?\s+(?:on|with)|remain\s+on|"
    r"stick\s+with)\b", re.I)
# a change of mind: the customer takes back what they asked before
WITHDRAWN = re.compile(
    r"\b(?:(?:i'?ve|i\s+have|have)\s+changed\s+my\s+mind|changed\s+my\s+mind|change\s+of\s+plan|scratch\s+that|"
    r"never\s*mind|nevermind|forget\s+(?:what\s+i\s+(?:said|asked)|my\s+(?:last|previous|earlier)\s+(?:e-?mail|"
    r"message|request))|ignore\s+my\s+(?:last|previous|earlier)\s+(?:e-?mail|message|request)|no\s+longer\s+want\s+"
    r"(?:to|it|that|the)|(?:cancel|withdraw)\s+my\s+(?:request|earlier\s+request)|don'?t\s+(?:bother|worry)\s+"
    r"(?:about|with)|i\s+(?:asked|wanted)\s+(?:you\s+)?to\s+\w+[^.!?]{0,60}\bbut\b)", re.I)
# what the writer meant to ask and no longer does: "we were going to ask you for a different one, but …"
_MEANT_TO = re.compile(r"\b(?:i|we)\s+(?:was|were)\s+going\s+to\s+\w+[^.!?]{0,60}?(?=,?\s+but\b)", re.I)
# what withdraws an earlier request whatever else the clause says
WITHDRAWS = re.compile(r"\b(?:scratch\s+that|never\s*mind|nevermind|forget\s+(?:what\s+i\s+(?:said|asked)|my\s+(?:last|"
                       r"previous|earlier))|ignore\s+my\s+(?:last|previous|earlier)|(?:cancel|withdraw)\s+my\s+(?:earlier\s+)?"
                       r"request|no\s+longer\s+want\s+you\s+to|don'?t\s+(?:bother|worry)\s+(?:about|with))\b", re.I)
# a clause that asks for something itself (an imperative, a polite or a wished request)
ASKS_FOR = re.compile(r"^\W*(?:please\s+|pls\s+|kindly\s+|just\s+)?(?:cancel|change|move|return|exchange|refund|send|"
                      r"resend|update|book|add|remove|switch|upgrade|downgrade|replace|credit|reverse|close|reschedule|"
                      r"stop|put|set|take|submit|arrange|ship|deliver|keep|leave)\b|\bplease\b|\b(?:can|could|would|"
                      r"will)\s+you\b|\bi(?:\s+want|\s+need|\s+would\s+like|['’]d\s+like)\s+(?:you\s+)?to\b", re.I)
# a question that asks for a thing to be done, its subject the thing: "so could the washer come on Tuesday too?"
ASKS_OF_IT = re.compile(r"\b(?:can|could|would|will)\s+(?:the|my|our|it|they|this|that|these|those|we|i)\b[^.!?]*\?\s*$",
                        re.I)
# a request told of as made before ("yesterday I asked you to…"), which a later "please don't" takes back
EARLIER = re.compile(r"\b(?:i|we)\s+(?:asked|requested|wanted|told\s+you|wrote|emailed|called)\b|\bmy\s+(?:last|previous|"
                     r"earlier)\s+(?:e-?mail|message|request)\b", re.I)
# what is left to pay after a part: "put the rest on my Mastercard", "the remainder on my card"
REMAINDER = re.compile(r"\b(?:the\s+rest|(?:the\s+)?remainder|whatever(?:'s|\s+is)?\s+left|anything\s+(?:left|over|"
                       r"more|extra|else)|the\s+remaining(?:\s+amount|\s+balance)?|the\s+balance|the\s+difference)\b", re.I)
# a negation with nothing after it: it negates what was asked before ("please don't.", "don't, leave it")
ELLIPTIC = re.compile(r"^(?:please\s+)?(?:don'?t|do\s+not)\s*(?:[,.;!]|$|(?:do\s+)?(?:it|that|this|bother)\b)", re.I)
EXCEPTION = re.compile(
    r"\b(?:except(?:\s+for)?|apart\s+from|aside\s+from|other\s+than|excluding|but\s+not|not\s+including|"
    r"with\s+the\s+exception\s+of|besides)\s+[^.!?;,]+|\b(?:everything|all|every\s+\w+|the\s+rest)\s+but\s+"
    r"(?!i\b|we\b|it\b|the\s+\w+\s+(?:is|are|was|were)\b)[^.!?;,]+", re.I)
# a question about the thing, not a request to do it: "how long does a refund take?", "can I pay with Amex?"
_WH_QUESTION = re.compile(r"^\W*(?:how|what|when|which|where|who|whether|is\s+there|are\s+there|is\s+it|"
                          r"are\s+(?:you|they|there)|do\s+(?:you|i|they|we)|does|did|will|would\s+(?:it|there)|"
                          r"should\s+i|am\s+i|have\s+you|has)\b", re.I)
# a polite request, permission asked included ("could I spread it over 12 months?" asks for the plan)
_POLITE_ASK = re.compile(r"^\W*(?:(?:hi|hello|hey)(?:\s+there)?[,!]?\s+|dear\s+\w+[,!]?\s+)?(?:please\s+)?"
                         r"(?:can|could|would|will|may)\s+"
                         r"(?:you|u|i|we|someone|somebody|one\s+of\s+you)\b|^\W*is\s+it\s+possible\s+(?:for\s+you\s+)?to\b|"
                         r"^\W*(?:would|do)\s+you\s+mind\b|"
                         # "is there any way to hold it…?", "any chance you could…?": asked as a question, meant as a request
                         r"^\W*(?:is\s+there\s+(?:any|a|some)\s+(?:way|chance|possibility)|any\s+chance)\b", re.I)
# a reason given for a request ("because…", "due to…", "booked it by mistake", "I meant to…"): a reason there is,
# whichever of the action's reasons it is
REASON_GIVEN = re.compile(r"\b(?:because|due\s+to|since|as\s+(?:i|we)\s+(?:am|are|have|had|was|were|will|won'?t|can'?t)|"
                          r"by\s+(?:mistake|accident)|in\s+error|accidentally|mistakenly|(?:i|we)\s+meant\s+to|"
                          r"(?:booked|ordered|bought|picked|chose)\s+the\s+wrong)\b|,\s+so\s+(?:i|we)\b", re.I)
# a correction of what was just said: "actually, make it Tuesday", "on second thoughts", "sorry, I meant Friday"
CHANGED_TO = re.compile(r"\b(?:actually|on\s+second\s+thoughts?|sorry,?\s+i\s+meant|i\s+meant\s+to\s+say|correction)\b[,:;-]?"
                        r"\s+(?:[^.!?]{0,60}?\b)?(?:make\s+it|change\s+it\s+to|instead|rather|i\s+meant)\b", re.I)
# the customer owns what happened ("that one's on me", "my fault", "I forgot", "I was out when he came"): a charge
# for it is not disputed, whatever they ask of it
ADMITS = re.compile(r"\b(?:(?:that|this|it)(?:'s|’s|\s+is|\s+was|\s+one'?s|\s+one\s+is)\s+(?:(?:all|totally|entirely)\s+)?on\s+"
                    r"(?:me|us)|(?:my|our)\s+(?:own\s+)?(?:fault|mistake|bad)|(?:i|we)\s+(?:completely\s+)?forgot|"
                    r"(?:i|we)\s+(?:was|were)\s+(?:out|away|not\s+(?:in|home|there))|(?:i|we)\s+(?:wasn'?t|weren'?t)\s+"
                    r"(?:in|home|there)|(?:i|we)\s+missed\s+(?:it|the\s+(?:appointment|visit|slot|delivery)))\b", re.I)
# a question about how things are, answered from what is known ("how long does a refund take?", "is there a fee?")
ASKS_ABOUT = re.compile(r"^\W*(?:how\s+(?:long|much|many|soon)|when\s+(?:will|do|does|would)|what\s+(?:is|are|happens)|"
                        r"do\s+you|does\s+it|is\s+there(?!\s+(?:any|a|some)\s+(?:way|chance|possibility))|are\s+there)\b"
                        r"[^?]*\?\W*$", re.I)
_WANTS = re.compile(r"\b(?:i\s+(?:want|need|would\s+like|'d\s+like|wish)\s+(?:you\s+)?to|please\s+\w+|i'?d\s+like\s+"
                    r"(?:you\s+)?to|i'?m\s+(?:asking|requesting)|i\s+request)\b", re.I)
QUANTITY = re.compile(r"\b(?:only|just)\s+(?:one|two|three|four|five|\d+|a\s+single|half)\b|\b(?:one|two|three|four|"
                      r"five|six|\d+|a\s+couple|both|several|a\s+few)\s+of\s+(?:them|those|these|the|my)\b|"
                      r"\b(?:two|three|four|five|\d+)\s+more\b", re.I)
EVERY = re.compile(r"\b(?:both|all\s+(?:of\s+)?(?:my|your|the|our|them|those|these)|each\s+of|every\s+one\s+of|"
                   r"everything|all\s+\w+s\b|all\s+(?:two|three|four|five|six|\d+)\s+\w+s\b)", re.I)
# the thing named next is the one *not* wanted: "on my gift card rather than PayPal", "not to my Visa"
CONTRAST = re.compile(r"\b(?:not|instead\s+of|rather\s+than|other\s+than|except|but\s+not|never)\s+(?:(?:to|on|onto|"
                      r"via|by|with|in|into|using|back\s+to|my|the|a|an|our|your)\s+)*$", re.I)


# "rather than putting the money back on my Amex, …": all that clause names is set aside
_CONTRAST_CLAUSE = re.compile(r"\b(?:rather\s+than|instead\s+of)\b[^,.;!?]{0,50}$", re.I)


def contrasted(text: str, start: int) -> bool:
    """Whether the words just before ``start`` set what follows aside ("rather than PayPal", "not my Visa", "rather
    than putting it back on my Amex")."""
    return bool(CONTRAST.search(text[max(0, start - 40):start])) or bool(
        _CONTRAST_CLAUSE.search(text[max(0, start - 70):start]))


# the customer says nothing is to change now: "Not switching anything yet, just weighing it up", "please don't do
# anything for now" (never "don't change anything else", nor "I haven't received anything")
NOTHING_NOW = re.compile(
    r"\b(?:not|don'?t|do\s+not|won'?t|will\s+not|no\s+need\s+to)\s+(?:be\s+|want\s+(?:you\s+)?to\s+|need\s+(?:you\s+)?"
    r"to\s+)?(?:switch|chang|cancel|mov|book|do|touch|sign|commit|go\s+ahead\s+with)\w*\s+(?:up\s+to\s+)?(?:anything|"
    r"everything)(?=\s*(?:(?:just\s+)?yet|for\s+now|at\s+the\s+moment|right\s+now|until\b[^.!?;]*)?\s*(?:[,.;!?]|$|"
    r"\bjust\b|\bi'?m\b|\bwe'?re\b))|"
    # "I am not asking to switch yet", "we're not ready to change just yet": the asking itself is not yet
    r"\b(?:i'?m|i\s+am|we'?re|we\s+are)\s+not\s+(?:(?:yet|really)\s+)?(?:asking|looking|ready|planning|wanting)\s+"
    r"(?:you\s+)?to\s+(?:switch|chang|cancel|mov|book|commit|sign|go\s+ahead)\w*(?:\s+[\w']+){0,4}?\s+(?:just\s+)?"
    r"(?:yet|for\s+now|at\s+the\s+moment|right\s+now)\b|"
    # "Nothing to change yet", "nothing needs changing for now": said with the time that says it is not yet
    r"\bnothing\s+(?:to\s+(?:change|switch|move|cancel|book|do)|needs?\s+(?:changing|doing|to\s+change)|should\s+change)"
    r"\s+(?:just\s+)?(?:yet|for\s+now|at\s+the\s+moment|right\s+now|until\b)", re.I)


# "can I have the gold one instead of white?", "I'd rather have the large one": another of what they have, wished for
# without a verb of changing
INSTEAD = re.compile(r"\b(?:can|could|may)\s+(?:i|we)\s+(?:have|get|go\s+for|take)\b[^.!?;]{1,60}?\binstead\b|"
                     r"\b(?:i|we)(?:'d|\s+would)\s+(?:rather|prefer\s+to)\s+(?:have|get)\b[^.!?;]{1,60}?\b"
                     r"(?:instead|than)\b", re.I)
# a figure said as where something is stuck: a fault seen, not a value given ("the display has been stuck on 15702")
STUCK = re.compile(r"\b(?:stuck|frozen|jammed|fixed|sitting|sat)\s+(?:on|at)\s*$|\b(?:hasn'?t|has\s+not|haven'?t|have\s+not|"
                   r"isn'?t|won'?t|doesn'?t|not)\s+(?:moved|moving|changed|changing|gone\s+up|going\s+up|budged)\s+"
                   r"(?:from|past|off|beyond)\s*$|\bstill\s+(?:says|shows|showing|reads|reading|on|at)\s*$", re.I)
# of several days or times said, the first that can be done: "Monday or Friday, whichever you can do soonest"
SOONEST = re.compile(r"\bwhichever\b[^.!?;]{0,40}?\b(?:soonest|sooner|earliest|earlier|first|quickest|comes\s+first)\b|"
                     r"\b(?:the\s+)?(?:soonest|earliest|first)\s+(?:of\s+(?:those|these|them|the\s+two)|one\s+(?:you\s+)?"
                     r"(?:can|have|that'?s\s+free))\b", re.I)
# the day already named is kept, only the time moves: "could he come the same day but in the afternoon?"
SAME_DAY = re.compile(r"\b(?:the\s+)?(?:same|very\s+same)\s+(?:day|date)\b|\blater\s+(?:that|the\s+same)\s+day\b", re.I)


LATEST = re.compile(r"\b(?:my|your|our)\s+(?:latest|last|most\s+recent|newest|current|recent)\b|\bthe\s+(?:latest|most\s+recent|"
                    r"newest|last\s+one)\b", re.I)
# "all of my flights that only have one passenger": which ones "all" means is narrowed by a clause of its own
RESTRICTED = re.compile(r"\b(?:all|every|each|both)\b[^.!?;]{0,50}?\b(?:that|which|who|whose|where|with\s+(?:only|"
                        r"just|more|less|fewer|no|at\s+least))\b[^.!?;]*", re.I)
COMPARATIVE = re.compile(r"\b(?:cheapest|least\s+expensive|most\s+expensive|lowest|highest|earliest|latest\s+"
                         r"(?:flight|slot|time|one)|first\s+(?:available|free)|next\s+(?:available|free)|"
                         r"(?:cheaper|pricier|earlier|later|bigger|smaller)\s+than|under\s+[$£€]?\d+|over\s+[$£€]?\d+|"
                         r"(?:no\s+)?more\s+than\s+[$£€]?\d+|less\s+than\s+[$£€]?\d+)\b", re.I)
# what a customer says happened, which the records may contradict
# a condition on the record's own state or on what is possible ("if it hasn't shipped yet", "if there's a slot"):
# the action's own checks decide it, so it holds nothing by itself
ON_STATE = re.compile(r"\b(?:(?:has|have|hasn'?t|haven'?t|has\s+not|is|isn'?t|is\s+not|was|wasn'?t|are|aren'?t)\s+"
                      r"(?:not\s+)?(?:yet\s+)?(?:already\s+)?(?:been\s+)?(?:left|shipped|dispatched|sent|processed|"
                      r"gone|on\s+(?:its|their)\s+way|out\s+for\s+delivery|delivered|started|packed|available|free|"
                      r"possible|too\s+late)|(?:still|yet)\s+(?:possible|time|pending|available)|there'?s\s+(?:a|an|"
                      r"any)\s+(?:slot|space|seat|room|time)|not\s+too\s+late|in\s+time|in\s+stock|(?:genuine|real)\s+"
                      r"(?:payment|charge|debit))\b", re.I)
_COURTESY = re.compile(r"(?:,?\s+(?:please|thanks|thank\s+you|pls|plz|cheers))+\W*$", re.I)
CLAIM = re.compile(r"\b(?:you(?:'ve|\s+have)?|i(?:'ve|\s+have)?\s+been|i\s+was|we\s+were|it\s+was|they)\s+(?:\w+\s+)?"
                   r"(?:charged|billed|debited|took|taken|sent|delivered|cancelled|canceled)\b[^.!?;]{0,40}|"
                   r"\b(?:never\s+(?:arrived|came|turned\s+up|received)|didn'?t\s+(?:arrive|come|turn\s+up)|"
                   r"(?:has|have)\s+not\s+arrived|hasn'?t\s+arrived)\b", re.I)


def is_question(clause: Words) -> bool:
    """Whether a clause is a question (a question mark, or one of the words that open a question)."""
    return clause.text.rstrip().endswith("?") or bool(_WH_QUESTION.search(clause.text) and "?" in clause.text)


def asks_only(clause: Words) -> Words | None:
    """The clause, when it only asks about something ("how long does a refund take?", "is there a fee?", "could
    you tell me how it works?") and asks for nothing to be done. A question opened by a modal ("can an engineer
    come on Thursday?", "could you move it?", "may I return it?") or a wish ("I want…", "please…") asks for
    something to be done, whatever its mark."""
    text = clause.text
    if _TELL_ME.search(text):
        return clause
    if _MODAL_ASK.search(text) or _POLITE_ASK.search(text) or _WANTS.search(text):
        return None
    if _WH_QUESTION.search(text) and ("?" in text or re.search(r"\b(?:know|wonder|wondering)\b", text, re.I)):
        return clause
    if text.rstrip().endswith("?") and _INFO_QUESTION.search(text):
        return clause
    return None


# a yes-or-no question about what will happen, not asking anyone to act: "will the electricity go off while…?"
_WILL_IT = re.compile(r"^\W*(?:(?:and|so|also|but),?\s+)?(?:will|would|does|do|is|are)\s+(?:the|my|our|it|there|"
                      r"that|this)\b[^?]*\?\s*$", re.I)


def asks_to_be_told(clause: Words) -> bool:
    """Whether a clause only asks to be told ("how long does a refund take?", "will the power go off?")."""
    return bool(asks_only(clause) or _WILL_IT.search(clause.text))


# a yes-or-no question about a thing already named: "do they serve vegetarian food?", "is it a 3-star hotel?"
_ABOUT_IT = re.compile(r"^\W*(?:(?:so|and|also|ok|okay|well|oh),?\s+)?(?:is|are|was|were|does|do|did|will|would|has|"
                       r"have|can|could)(?:n'?t)?\s+(?:it|they|this|that|these|those|he|she|its|their|the\s+\w+)\b",
                       re.I)


def asked_about(text: str) -> list[Words]:
    """The sentences of ``text`` that ask whether the thing already spoken of is so ("do they serve vegetarian
    food?", "is it an expensive place?", "does the hotel have 3 stars?"): what they name is asked about, not asked
    for, and states no value of a request."""
    return [w for w in sentences(text) if w.text.rstrip().endswith("?") and _ABOUT_IT.search(w.text)]


def unnegated(text: str) -> str:
    """The sentences of ``text`` that deny or set nothing aside ("I don't need the invoice for the call-out" is
    left out): the words that may describe the record a request is about."""
    return " ".join(x.text for x in sentences(text) if not NEGATION.search(x.text))


def not_fine(text: str) -> str:
    """The sentences of ``text`` that do not only say something is all right ("The smart plug in the same parcel is
    fine" is left out, "the lamp is fine but the kettle is cracked" kept): the words that may name what a problem
    or a request is about."""
    return " ".join(x.text for x in sentences(text) if not FINE.search(x.text) or BUT.search(x.text))


# what cannot be done, said as a condition: the second choice follows ("if that is not possible, …")
_CANNOT = re.compile(r"(?:\bnot|n't)\s+(?:\w+\s+)?(?:possible|available|in\s+stock|allowed|doable)\b|(?<!not\s)\btoo\s+late\b|"
                     r"\b(?:out\s+of\s+stock|sold\s+out|unavailable|impossible)\b", re.I)


def rules_settle(sentence: str) -> bool:
    """Whether the condition of a sentence is only on the record's own state or on what is possible (the Reading's
    ``checkable``), so the action's own checks decide it: "If my coffee machine order hasn't shipped yet, please
    cancel it", "swap it for the 1.0L one if it's in stock"; never one that says what cannot be done, which a second
    choice follows."""
    q = qualifiers(Words(text=sentence, start=0, end=len(sentence)))
    return q.checkable is not None and q.condition is None and q.fallback is None \
        and not _CANNOT.search(q.checkable.text)


# a condition on whether all the money comes back: "if I get the whole amount back", "as long as it's a full
# refund", "if cancelling means losing money, hold off"
ON_REFUND = re.compile(r"\b(?:the\s+)?(?:whole|full|entire|total)\s+(?:amount|sum|price|fare|cost|refund)\b|"
                       r"\b(?:all|every\s+(?:penny|cent)\s+of)\s+(?:my|our|the)\s+money\b|\brefund(?:ed)?\s+in\s+full\b|"
                       r"\bmoney\s+back\s+in\s+full\b|\b(?:lose|losing|lost)\s+(?:any\s+)?money\b|\bout\s+of\s+pocket\b",
                       re.I)


# money off that a customer asks for, with its amount: "take $75 off the price", "a $20 credit for the trouble",
# "a partial refund of $40"
_AMOUNT = r"[$£€]\s?\d[\d,]*(?:\.\d{1,2})?"
MONEY_OFF = re.compile(rf"\b(?:take|knock|get|give\s+me)\s+(?P<a1>{_AMOUNT})\s+off\b|(?P<a2>{_AMOUNT})\s+(?:credit|"
                       rf"off|discount|goodwill|partial\s+refund|gesture)\b|\bpartial\s+refund\s+of\s+(?P<a3>{_AMOUNT})",
                       re.I)


def money_off(text: str) -> float | None:
    """The amount of money off a customer asks for ("if you can take $75 off the price"), or None."""
    m = MONEY_OFF.search(text)
    if m is None:
        return None
    before = re.split(r"[.;!?,]", text[max(0, m.start() - 40):m.start()])[-1]
    if re.search(r"\bnot\b|n't\b|\bno\b|\bnever\b", before, re.I):
        return None
    said = m.group("a1") or m.group("a2") or m.group("a3")
    return float(re.sub(r"[^\d.]", "", said))


# a thing named only to be set aside: "a replacement please, not a refund", "store credit instead of a refund"
_SET_ASIDE = re.compile(r"(?:,\s*(?:but\s+|and\s+)?not|\s+(?:rather\s+than|instead\s+of))\s+(?:(?:a|an|the|my|your|any)\s+)"
                        r"?[a-z-]+(?:\s+[a-z-]+)?(?=\s*(?:[,.;!?)]|$))", re.I)


# where a thing is to be sent: "could you email the invoice to the new address?" asks for the invoice
_SENT_WHERE = re.compile(r"(?<=\S)\s+to\s+(?:(?:the|my|our|your|this|that|her|his|their)\s+(?:new\s+|old\s+|other\s+|"
                         r"same\s+|work\s+|personal\s+|home\s+)?(?:e-?mail\s+)?(?:address|inbox|e-?mail)\b|"
                         r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+)", re.I)
_SENDS = re.compile(r"\b(?:e-?mail|send|forward|mail)\b", re.I)


def wanted_only(sentence: str) -> str:
    """``sentence`` without the things it names only to set them aside, nor where a thing it asks for is to be
    sent, nor the condition a thing to do is asked on (a question asked on one stays whole): what is asked for, as
    a classifier should read it ("I'd like a replacement please, not a refund" asks for a replacement, "could you
    email the invoice to the new address?" for the invoice, "if the 7kW can't be returned, then please cancel this
    morning's order" for a cancellation)."""
    sentence = _SET_ASIDE.sub("", sentence)
    asked_after = without_conditions(sentence).strip(" ,;:-")
    if asked_after != sentence.strip(" ,;:-") and len(asked_after.split()) >= 3 and "?" not in sentence:
        sentence = asked_after
    parts = clauses(Words(text=sentence, start=0, end=len(sentence)))
    if len(asked := [c.text for c in parts if not NEGATION.search(c.text)]) < len(parts) and asked:
        sentence = " ".join(asked)  # "nothing should be cancelled; just swap Miguel for Nathan" asks for a swap
    sends = _SENDS.search(sentence)
    if sends:  # e-mailed anywhere, or sent to an inbox (a parcel sent to a new address is an address change)
        mailed = sends.group(0).lower().startswith("e")
        sentence = sentence[: sends.end()] + _SENT_WHERE.sub(
            lambda m: "" if mailed or re.search(r"@|mail|inbox", m.group(0), re.I) else m.group(0),
            sentence[sends.end():])
    return sentence


# where something is to be sent: "send the invoice to our accounts team at …", "email it to …"
_SENT_TO = re.compile(r"\b(?:send|e-?mail|forward|mail)\s+(?:it|them|this|that|these|those|the|a|an|my|our|copies|"
                      r"a\s+copy)\b[^.?!]{0,80}\bto\b[^.?!]{0,40}$", re.I)


def sent_to(text: str, start: int) -> bool:
    """Whether the words before ``start`` name what follows as where something is to be sent (an address given as
    a destination is no new detail of the customer's own)."""
    return bool(_SENT_TO.search(text[max(0, start - 140):start]))


# a request that acts on a thing spoken of elsewhere in the message: "can someone come out and fix it?"
_ACTS_ON_IT = re.compile(r"\b[a-z]+\s+(?:(?:it|them)\b(?!\s+(?:is|was|has|had|will|would|'s))|both(?:\s+of\s+them)?"
                         r"(?=\s*(?:[,.;!?]|$|(?:on|to|at|by|for|in|together|tomorrow|next)\b)))", re.I)


def asking(text: str) -> str:
    """The sentences of ``text`` that ask for something (a request or a question), less any that say not to: what
    they name is what the message is about, beside what it only tells of."""
    return " ".join(s.text for s in sentences(text) if (s.text.rstrip().endswith("?") or ASKS_FOR.search(s.text))
                    and not NEGATION.search(s.text))


def points_back(text: str) -> bool:
    """The words act on "it", "them" or "both", a thing the rest of the message names ("Can someone fix it?",
    "could you bring both on Thursday?")."""
    return bool(_ACTS_ON_IT.search(text))


# a question that asks for an arrangement: "can an engineer come…?", "could the delivery be moved?"
_MODAL_ASK = re.compile(r"^\W*(?:(?:hi|hello|hey)(?:\s+there)?[,!]?\s+|so,?\s+|and\s+|also,?\s+|ok,?\s+)?"
                        r"(?:please\s+)?(?:can|could|would|will|may|might|shall)\b", re.I)
_INFO_QUESTION = re.compile(r"^\W*(?:is|are|was|were|do|does|did|has|have|had|isn'?t|aren'?t|doesn'?t|don'?t)\b",
                            re.I)


# asking to be told, not to have something done: "could you tell me how…", "I was wondering whether…"
_TELL_ME = re.compile(r"\b(?:i\s+(?:was\s+)?wonder(?:ing)?|(?:could|can|would)\s+you\s+(?:please\s+)?(?:tell|explain|"
                      r"let\s+me\s+know|confirm\s+(?:whether|if|how|what|when))|i(?:'?d\s+like|\s+want|\s+need)\s+to\s+"
                      r"know|do\s+you\s+know|just\s+(?:a\s+)?(?:question|checking|asking))\b", re.I)


# the thing itself is unwanted ("it isn't right for us", "they don't fit", "I no longer need it"): a question how to
# send it back, cancel or return it is then a request to
UNWANTED = re.compile(r"\b(?:isn'?t|is\s+not|aren'?t|are\s+not|wasn'?t|was\s+not)\s+(?:right|suitable|what\s+(?:i|we)\s+"
                      r"(?:wanted|expected|ordered))\b|\b(?:doesn'?t|does\s+not|don'?t|do\s+not)\s+(?:fit|suit|work\s+for)\b|"
                      r"\bchanged\s+(?:my|our)\s+minds?\b|\b(?:no\s+longer|don'?t|do\s+not)\s+(?:want|need)\s+(?:it|them)\b|"
                      r"\b(?:doesn'?t|does\s+not|don'?t|do\s+not)\s+go\s+with\b|\b(?:it'?s|it\s+is|they'?re|they\s+are)\s+"
                      r"(?:going|being\s+sent)\s+back\b|\b(?:i'?m|i\s+am|we'?re|we\s+are|i'?ll|we'?ll)\s+(?:be\s+)?"
                      r"(?:sending|returning)\s+(?:it|them)\b", re.I)
# a question about what doing it takes, of the thing just said to be unwanted: "Do I pay anything to return it?"
DOING_IT = re.compile(r"\b(?:pay|cost|costs|charge|fee|free)\b[^.?!]{0,40}\bto\s+\w+\s+(?:it|them)\b", re.I)
HOW_TO = re.compile(r"^\W*(?:(?:so|and|ok|okay),?\s+)?how\s+(?:do|can|should|would)\s+(?:i|we)\s+(?:go\s+about\s+)?\w+",
                    re.I)


def qualifiers(clause: Words, sentence: Words | None = None) -> Qualifiers:
    """What the words of ``clause`` (and the sentence it belongs to, for a condition or a fallback spoken for the
    whole sentence) do to its request."""
    whole = sentence or clause
    condition = _find(CONDITION, clause)
    q = Qualifiers(negated=_find(NEGATION, clause), withdrawn=_find(WITHDRAWN, clause), asks_only=asks_only(clause),
                   condition=condition if condition is None or not ON_STATE.search(condition.text) else None,
                   checkable=condition if condition is not None and ON_STATE.search(condition.text) else None,
                   fallback=_fallback(clause, whole),
                   exceptions=[Words(text=t, start=clause.start + m.start(), end=clause.start + m.start() + len(t))
                               for m in EXCEPTION.finditer(clause.text)
                               if (t := _COURTESY.sub("", m.group(0)).rstrip())],
                   every=_find(EVERY, clause), latest=_find(LATEST, clause), comparative=_find(COMPARATIVE, clause),
                   claims=[w for w in [_find(CLAIM, clause)] if w is not None])
    if q.condition is not None and ULTIMATUM.match(q.condition.text):
        q.condition = None  # "I'm filing a chargeback unless it's refunded today": what they want, said as a threat
    if q.condition is not None and q.fallback is not None and q.condition.start >= q.fallback.start:
        q.condition = None  # "if not, …" is the fallback's own condition
    if q.withdrawn is None and (m := _MEANT_TO.search(whole.text)) is not None and \
            clause.start < whole.start + m.end() and whole.start + m.start() < clause.end:
        q.withdrawn = Words(text=m.group(0), start=whole.start + m.start(), end=whole.start + m.end())
    if q.withdrawn is not None and ASKS_FOR.search(clause.text) and not WITHDRAWS.search(clause.text):
        q.withdrawn = None  # "please cancel it, I changed my mind": the change of mind is the reason for this request
    if q.negated is None and unchanged(clause.text):  # "the installer on Friday should stay as booked"
        q.negated = _find(UNCHANGED, clause)
    if q.negated is not None and re.match(r"(?i)(?:keep|stay|remain|stick)", q.negated.text) and \
            not re.search(r"\b(?:keep|stay|remain|stick)(?:ing)?\b[^.!?;]{0,40}\b(?:on|with|it|them|my|the)\b",
                          clause.text, re.I):
        q.negated = None  # "keep" alone ("keep me posted") negates nothing
    if (narrowed := _find(RESTRICTED, clause)) is not None:
        q.restriction = narrowed
    m = QUANTITY.search(clause.text)
    if m:
        n = numbers.find(m.group(0))
        if n and n[0].whole:
            q.quantity = Value(kind="number", value=n[0].whole,
                               words=Words(text=m.group(0), start=clause.start + m.start(), end=clause.start + m.end()))
    return q


def _fallback(clause: Words, sentence: Words) -> Words | None:
    """The fallback words that open ``clause`` (its request is the second choice)."""
    m = FALLBACK.match(clause.text) or FALLBACK.search(clause.text[:40])
    if m is None:
        return None
    return Words(text=m.group(0).strip(), start=clause.start + m.start(), end=clause.start + m.end())


# slips of the keyboard in the words a request hangs on ("Plesae ship oder #W…"), put right before reading
TYPOS = {"plesae": "please", "pleae": "please", "pleas": "please", "plase": "please", "pls": "please",
         "plz": "please", "oder": "order", "ordr": "order", "odrer": "order", "adress": "address",
         "adresss": "address", "retrun": "return", "cancle": "cancel", "cancell": "cancel"}
_TYPO = re.compile(r"\b(?:" + "|".join(TYPOS) + r")\b", re.I)


def typos_fixed(text: str) -> str:
    """``text`` with the common slips of the keys in the words requests hang on put right."""
    return _TYPO.sub(lambda m: TYPOS[m.group(0).lower()], text)


# a person who will not travel or come after all: "take her off the booking", "my son can't come"
NOT_COMING = re.compile(r"\b(?:take (?:him|her|them) off|remove|can't come|cannot come|no longer (?:coming|"
                        r"travell?ing))\b", re.I)
# a change of plans or of mind told as the reason, not a change asked for ("my plans have changed")
CHANGED_PLANS = re.compile(r"\bplans? (?:have |has |had )?changed\b|\bchanged? (?:my|our|his|her) mind\b|\bchange of "
                           r"(?:plans?|mind)\b", re.I)
# more of something: "add a bag", "two more", "an extra suitcase", "another one"
ADDING = re.compile(r"\b(?:add|adding|more|extra|additional|another)\b", re.I)


@dataclass(frozen=True)
class Construction:
    """One row of the generic-English table: a name, what must happen, and the words that show it."""

    name: str
    effect: str
    example: str


CONSTRUCTIONS = (
    Construction("negation", "no write is proposed for what the customer asks not to be done",
                 "please don't cancel the order"),
    Construction("change of mind", "the earlier request is withdrawn", "I've changed my mind, keep it as it is"),
    Construction("condition", "the step is held with the question to ask", "if it hasn't shipped, cancel it"),
    Construction("fallback", "the second choice waits for the first", "move it to Friday, otherwise cancel it"),
    Construction("exception", "what is left out is left out", "everything except the doorbell"),
    Construction("question", "a question proposes no write and gets its answer", "how long does a refund take?"),
    Construction("quantity", "number words count", "two of them"),
    Construction("every", "each record of the kind is taken", "both my accounts"),
    Construction("latest", "the newest record is taken", "my latest bill"),
    Construction("claim", "a stated fact is checked against the records", "you charged me twice"),
    Construction("nothing now", "no write is proposed while the customer is only weighing it up",
                 "Not switching anything yet, just weighing it up"),
    Construction("same day", "the day already booked is kept and only the time changes",
                 "could he come the same day but in the afternoon?"),
    Construction("unit", "a number said in the argument's unit is the one meant", "both accounts over six months"),
)
