"""The reply's one apology, in the words of what went wrong for the customer (and an illness or a loss they tell
of, acknowledged however calmly it is told)."""

from __future__ import annotations

import re
from collections.abc import Callable

from .models import Triage
from .signals import life


def empathy(triage: Triage, channel: str) -> str:
    """The reply's one apology, for a customer who is upset, in the words of what upset them: one who had to come
    back about it, or has been waiting, is told so; a problem only mentioned in passing ("Monday doesn't work any
    more") gets none. An illness or a loss the customer tells of is acknowledged, however calmly it is told."""
    said = _NOT_OURS.sub(" ", " ".join(r.read_as or r.text for r in triage.requests))  # slips of the keys put right
    if event := str(triage.entities.get("life") or life(said)):
        return _LIFE[event]
    if not (triage.sentiment == "negative" or triage.entities.get("problem")):
        return _gift(triage)
    what = next((sorry(m) for pattern, sorry in _SORRY if (m := pattern.search(said))), "")
    if unanswered := _UNANSWERED.search(said):  # said with what went wrong, when the message names it too
        nobody = ("nobody called you back" if re.search(r"call|rang|ring|phone", unanswered.group(0), re.I)
                  else "nobody got back to you")
        return f"{what[:-1]}, and that {nobody}." if what else f"I'm sorry {nobody}."
    if int(triage.entities.get("contacts") or 1) > 1:
        how = "write to us" if channel in {"email", "social"} else "contact us"
        # what went wrong first, when the message names it: "I'm sorry to hear nobody came as arranged, and that…"
        return f"{what[:-1]}, and that you have had to {how} again about it." if what else \
            f"I'm sorry you have had to {how} again about this."
    if triage.entities.get("waiting"):  # what went wrong first, when the message names it
        return f"{what[:-1]}, and that you have been kept waiting." if what else "I'm sorry you have been kept waiting."
    if not (triage.frustration >= 0.2 or triage.sentiment_score <= -0.4 or triage.entities.get("problem")):
        return _gift(triage)
    return what or "I'm sorry for the trouble."


def _gift(triage: Triage) -> str:
    """A present whose timing matters, acknowledged when the message is about something of theirs we hold (an order,
    a booking, a visit it names), not beside a request about their account alone."""
    named = any(v for k, v in triage.entities.items() if k.endswith("_ids") and k != "user_ids")
    return GIFT if triage.entities.get("gift_in_time") and named else ""


# "Wednesday doesn't work any more": the customer's own diary, nothing of ours that failed
_NOT_OURS = re.compile(r"\b(?:\w+day|morning|afternoon|evening|time|date|slot|trip|plans?)\s+(?:doesn'?t|does not|won'?t|"
                       r"isn'?t|is not) work\w*(?: for (?:me|us))?(?: any ?more)?", re.I)
GIFT = "I understand the timing matters, as it's a present."
_LIFE = {"loss": "I'm very sorry for your loss.",
         "health": "I'm sorry to hear about your health, and I hope all goes well.",
         "unwell": "I'm sorry to hear you have been unwell."}
# nobody answered or called back: said in those words, whatever the count of contacts
_UNANSWERED = re.compile(r"\b(?:nobody|no one|no-one) (?:has |ever )?(?:called|calls?|rang|rings?|phoned|phones?) "
                         r"(?:me |us )?back|\bnever (?:called|rang|phoned) (?:me |us )?back|\b(?:nobody|no one|no-one) "
                         r"(?:has |ever )?(?:got back|gets back|gotten back|replied|replies|responded|answered) "
                         r"|\bstill (?:no|waiting for a|waiting for the) (?:call ?back|reply|response|answer)\b", re.I)


# the apology in the words of what went wrong, most specific first; whatever the business, these are the customer's
# own words for it (a visit or a delivery that never came, a double charge, a thing that arrived broken)
_SORRY: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"\b(?:you|you'?ve|you have|they|they'?ve) cancell?ed (one of )?(?:my|our) (flight|booking|order|"
                r"appointment|visit|trip|reservation)s?\b", re.I),
     lambda m: f"I'm sorry {'one of ' if m.group(1) else ''}your {m.group(2).lower()}{'s' if m.group(1) else ''} "
               "was cancelled."),
    (re.compile(r"\b(?:never (?:came|turned up|showed up)|didn'?t (?:come|turn up|show up)|no[- ]show|(?:nobody|no one|"
                r"no-one) (?:came|turned up|showed up))\b", re.I),
     lambda m: "I'm sorry to hear nobody came as arranged."),
    (re.compile(r"\b(?:\d+|an?|one|two|three|several) (?:hours?|hrs?) late\b|\b(?:came|turned up|arrived|showed up) "
                r"(?:very |really |so )?late\b", re.I), lambda m: "I'm sorry to hear we were late."),
    (re.compile(r"\b(?:charged (?:me )?twice|double[- ]charged|charged (?:two|2) times|same payment (?:of \S+ )?"
                r"(?:two|2) times)\b", re.I), lambda m: "I'm sorry about the double charge."),
    (re.compile(r"\bovercharged\b", re.I), lambda m: "I'm sorry you were overcharged."),
    (re.compile(r"\b(?:delayed|delays?)\b", re.I), lambda m: "I'm sorry about the delay."),
    (re.compile(r"\bwrong (item|size|colou?r|product|model)\b", re.I),
     lambda m: f"I'm sorry you received the wrong {m.group(1).lower()}."),
    (re.compile(r"\b(?:arrived|came|delivered|turned up)\b[^.!?]{0,40}\b(?:broken|damaged|cracked|smashed|dented|"
                r"scratched|torn)\b|\b(?:broken|damaged|cracked|smashed|dented)\b[^.!?]{0,25}\b(?:in (?:delivery|"
                r"transit)|on arrival)\b", re.I), lambda m: "I'm sorry it arrived damaged."),
    (re.compile(r"\b(?:faulty|defective|stopped working|not working|doesn'?t work|won'?t (?:work|turn on|switch on))\b",
                re.I), lambda m: "I'm sorry it isn't working as it should."),
    (re.compile(r"\b(?:locked out|account (?:is |was |has been |got )?locked|can'?t (?:log|sign) ?in|cannot (?:log|sign) "
                r"?in)\b", re.I), lambda m: "I'm sorry you can't get into your account."),
    (re.compile(r"\b(?:hasn'?t (?:arrived|come)|never arrived|haven'?t (?:received|got) (?:it|them|my|the)|not (?:yet )?"
                r"arrived)\b", re.I), lambda m: "I'm sorry it hasn't reached you yet."),
]
