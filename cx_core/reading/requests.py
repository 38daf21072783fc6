"""The grammar of requests on a kind of record, for every pack alike: a message cut into requests (sentences, and in
each the verbs with the words they govern), whether a sentence puts a condition on what it asks, the fallbacks a
customer gives ("if that is not possible, …", "otherwise …"), and the words that tell a request from a question, a
hint, a preference, a hold or a change of mind.

A pack brings its verbs as data (``reading.yaml``'s ``requests``: each kind of request with the words customers use
for it, and the kind of record they act on, whose words and id shape ``reading.yaml`` already gives); how English
negates, conditions, falls back or asks is written here once.

``requests:`` in ``reading.yaml``::

    requests:
      record: order                       # the kind of record these requests act on (its words and ids)
      verbs:                              # each kind of request, with the verbs customers use for it
        return: [return, send back]
        exchange: [exchange, swap, switch, change]
        cancel: [cancel]
      money_back: return                  # "I want a full refund": this kind of request
      not_needed: cancel                  # "I no longer need the boots": this kind of request
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import conditions, language
from .types import Words

# ------------------------------------------------------------------ what a verb's word is, in its sentence
NEGATED = re.compile(r"(?:\bnot|\bnever|n't|\bnor)\s+(?:\w+\s+){0,2}$", re.I)
CONDITION = re.compile(rf"\b(?:{conditions.CONDITIONAL}|whether|once)\b", re.I)
# a verb's word used as a noun ("the return", "life changes", "quick swap"), in the passive ("is exchanged"),
# after "when you …", or in an idiom ("changed my mind", "my plans have changed", "it won't switch on")
_NOUN_BEFORE = re.compile(r"\b(?:the|a|an|this|that|these|those|my|your|his|her|our|their|its|any|some|no|each|"
                          r"every|of|for|life|easy|quick|free)\s+$", re.I)
_WANT_BE = re.compile(r"\b(?:needs?|has|have|must|should|wants?|would like|like)\s+(?:\w+\s+)?to be\s+$|"
                      r"\b(?:must|should)\s+be\s+$", re.I)
_WHEN_BEFORE = re.compile(r"\b(?:when|once|until|after|before|till) (?:you|i|we|they|he|she)\s+$", re.I)
_IDIOM_AFTER = re.compile(r"\s+(?:(?:my|our|his|her|their|your) mind|of (?:mind|heart|plans?))\b", re.I)
_IDIOM_BEFORE = re.compile(r"\bplans?\s+(?:have\s+|has\s+|had\s+)?$", re.I)
_ON_OFF = re.compile(r"\s+(?:back\s+)?(?:on|off)\b", re.I)
_BE_BEFORE = re.compile(r"\b(?:be|been|being|is|are|was|were|get|got|gets)\s+$", re.I)
_THIRD_PERSON = re.compile(r"\b(?:it|he|she|who|which)\s+$", re.I)
# "… Also cancel …" starts another request
_NEXT_REQUEST = re.compile(r"\s+(?=(?:also|lastly|finally|then|and then|additionally)\b,?\s)", re.I)
_LIST_GOES_ON = re.compile(r"(?:via|using|with|paid with|pay with)\b", re.I)
# "if" meaning "whether": "you want to know if the order has shipped"
WHETHER = re.compile(r"\b(?:know|check|ask|asks|wonder|see|find out|confirm|verify|inquire|understand|curious|sure)\b",
                     re.I)

# ------------------------------------------------------------------ fallbacks: "if that is not possible, …"
_IF = re.compile(r"^\W*(?:(?:and|but|also|then|so)\s+)*(?:if|in case|should)\s+(?P<cond>[^,]+?)\s*,\s*(?:then\s+)?"
                 r"(?P<then>.+)$", re.I | re.S)
_ELSE = re.compile(r"^\W*(?:(?:and|but)\s+)?(?:otherwise|if not|else|failing that|if that fails)\b,?\s*(?P<then>.+)$",
                   re.I | re.S)
_NOT = re.compile(r"\b(?:not|no|cannot|unable|impossible|unavailable|none)\b|n't\b", re.I)
_POSSIBLE = re.compile(r"\b(?:possible|impossible|available|unavailable|able|way|doable|work|works|worked|in stock|"
                       r"can|could|cannot|allowed|refuse|decline)\b|n't be\b|can't\b|\bwon'?t\b|\bwill not\b", re.I)
# what the one who receives it does when something is sent back: "if you won't take it back"
_TAKE_BACK = re.compile(r"\b(?:take|taking|took|accept|accepting)\s+(?:\w+\s+){0,2}back\b", re.I)
# a condition on what someone says or does in the conversation, or on a fact the reading does not check
_OTHER_PARTY = re.compile(r"\b(?:agent|they|he|she|someone|anyone|asks?|asked|says?|said|tells?|told|offers?|"
                          r"propos\w*|confirm\w*|agrees?|insists?|help|allow\w*|let)\b|\$|\d|\b(?:price|cost|"
                          r"cheaper|expensive|less than|more than|over|under|above|below|shipped|arriv\w*|"
                          r"deliver\w*|time|days?|weeks?|still)\b", re.I)
_PLAIN_CONDITION = {"this", "that", "it", "they", "there", "so", "for", "whatever", "some", "reason", "you", "is",
                    "are", "was", "were", "be", "isn't", "aren't", "not", "no", "possible", "available", "in",
                    "stock", "work", "works", "doable", "an", "option", "a", "way", "any", "to", "do", "the", "same",
                    "item", "items", "one", "does", "doesn't", "don't", "can", "can't", "cannot", "done", "exact",
                    "that's", "it's", "isnt", "n't"}
# doing something to part of a record: "cancel just one item of the order", "a partial cancellation"
PART_OF = re.compile(r"\b(?:cancel\w*|remov\w*|delet\w*)\b.{0,30}\b(?:partial\w*|part|one|some|single|"
                     r"individual|just|only|an?)\b.{0,12}\b(?:items?|things?|products?|of (?:the|an|my|your) "
                     r"order)\b|\b(?:partial|partially)\b.{0,20}\bcancel\w*", re.I)
REMOVE = re.compile(r"\b(?:remove|take (?:it |them )?(?:off|out)|delete|drop)\b", re.I)
REMOVES_ITEM = re.compile(r"\bremov\w*\b.{0,20}\b(?:items?|one|it|them)\b", re.I)

# ------------------------------------------------------------------ what a sentence is, besides a request
# a preference that breaks ties: "if both are available, I'd prefer the black one"
PREFERENCE = re.compile(r"\bif\b[^.]*\b(?:multiple|several|both|more than one|many)\b[^.]*\b(?:available|options?)\b"
                        r"[^.,]*,\s*(?:you |i )?(?:would )?(?:prefer|like|want|choose|pick)\b", re.I)
PREFERENCE_IF = re.compile(r"(?:,\s*)?(?:and\s+)?(?:you |i )?(?:would )?prefer\w*\b[^.;]*?\bif\b[^.;]*?\b(?:multiple|"
                           r"several|both|more than one|many)\b[^.;]*?\b(?:available|options?)\b", re.I)
# the customer may change their mind
MIND = re.compile(r"\b(?:regrets?|change (?:your|my|his|her) mind|changes? (?:it|them) back|back to the original|"
                  r"undo|reverse|then decide|later decide|on second thought|initially|eventually|indecisive|"
                  r"undecided|at first)\b", re.I)
# the customer asks about something without wanting it done yet
HOLD = re.compile(r"\b(?:not sure yet|don'?t process|do not process|don'?t do anything|do not do anything|"
                  r"hold off|wait before|(?:just|only) (?:check|ask)\w*)\b", re.I)
# a hint about which thing is meant: "which lamp? it's the one in the hallway"
HINT = re.compile(r"\bwhich ([a-z][a-z -]*?)\b[^,]*,\s*(?:it is|it's|they are|mention|say)\b(.*)", re.I)
ACTIONISH = re.compile(r"\b(?:return|exchange|swap|switch|change|modify|upgrade|cancel|refund|keep|proceed|"
                       r"transfer|do|go (?:for|with)|get|use|pay|buy|order|remove|add)\w*\b", re.I)
QUESTION = re.compile(r"^\s*(?:(?:finally|lastly|also|then|and|but|additionally|first|second|next)\b,?\s*)*"
                      r"(?:you (?:also )?(?:want|would like|wish) to (?:know|check|ask|confirm|find out|"
                      r"inquire)|ask\b|you wonder|what|how|which|when|is|are|can|could)\b", re.I)
ASKING = re.compile(r"^\s*(?:how|what|when|where|why|which|is|are|does|do|will)\b[^?]*\?\s*$", re.I)
WANTS = re.compile(r"\b(?:please|pls|i'?d like|i would like|i want|i need|i'?d love|can (?:i|you)|could (?:i|you)|"
                   r"would you|send me)\b", re.I)
# a detail for when the agent asks: "if they ask how I'll pay, …"
ASKED = re.compile(r"\b(?:if|when|once)\s+(?:the agent |they |he |she |someone )?(?:asks?|asked)\b", re.I)
PAYING = re.compile(r"\b(?:pay\w*|refund\w*|charge\w*)\b", re.I)
BECAUSE = re.compile(r"\bbecause\b", re.I)
UNNEEDED = re.compile(r"\b(?:no longer|don'?t|do not|won'?t|will not) (?:need|want)\b", re.I)
# "the delivery address on … is wrong, it should be 219 Pine Drive, …": a change asked for without its verb
ADDRESS_FIX = re.compile(r"\baddress\b[^.?!]{0,80}?\b(?:is|was|'s) (?:wrong|incorrect|not right|outdated|old)\b|"
                         r"\baddress\b[^.?!]{0,60}?\b(?:should|must|needs? to|has to|was meant to) (?:be|read|say)\b|"
                         r"\b(?:correct|right|proper) (?:shipping |delivery )?address (?:is|should be)\b|"
                         # "new address is …, please put that as my address on file": the account's, said so
                         r"\b(?:(?:my|our) )?new (?:home |postal )?address is\b(?=[^.?!]*\b(?:on file|account|profile)\b)",
                         re.I)
MONEY_BACK = re.compile(r"\b(?:full|complete) refund|\b(?:get|want|need|receive|request|like) (?:a |my )?refund\b|"
                        r"\bmoney back\b|\brefund (?:me|it|them)\b", re.I)
# "… and the other one too", "return it because …"
TOO = re.compile(r"\b(?:too|as well|also)\b", re.I)
OTHER_ONE = re.compile(r"\bthe other (?:one|item|ones|items)\b", re.I)
ADDS = re.compile(r"\b(?:other|too|as well|also|both|another|additionally|plus|all|every\w*)\b", re.I)
THE_SAME_THING = re.compile(r"\b(?:it|them|the item|the product)\b", re.I)
POSSIBLE_WORD = re.compile(r"\bpossible\b", re.I)


@dataclass(frozen=True)
class Grammar:
    """The requests a pack's customers make on one kind of record, read in English: ``verb`` finds a verb (its first
    group the verb's words), ``kinds`` says which kind of request each verb's word is, ``record_id`` finds the
    record's ids."""

    verb: re.Pattern[str]
    kinds: Mapping[str, str] = field(default_factory=dict)
    stems: Mapping[str, str] = field(default_factory=dict)  # a verb's stem ("exchang") → its kind, for conditions
    record_id: re.Pattern[str] = re.compile(r"(?!x)x")
    money_back: str = ""
    not_needed: str = ""
    # "the same address as order #…": the record whose detail is copied (its first group the id)
    same_as: re.Pattern[str] = re.compile(r"(?!x)x")

    @classmethod
    def of(cls, spec: Mapping[str, Any] | None, records: Mapping[str, Iterable[str]],
           ids: Mapping[str, re.Pattern[str]]) -> Grammar:
        """From ``reading.yaml``'s ``requests`` (see the module), the words of the pack's records and its ids."""
        spec = spec or {}
        if not isinstance(spec, Mapping):
            raise ValueError("requests: expected a mapping with 'record' and 'verbs'")
        verbs = spec.get("verbs") or {}
        if not isinstance(verbs, Mapping) or not all(isinstance(v, list) for v in verbs.values()):
            raise ValueError("requests: verbs: expected each kind of request with a list of verbs")
        kinds = {str(w).lower(): str(kind) for kind, words in verbs.items() for w in words}
        record = str(spec.get("record") or "")
        pattern = ids.get(record)
        id_rx = pattern.pattern.removeprefix("(?i)") if pattern is not None else r"(?!x)x"
        nouns = "|".join(re.escape(w) for w in records.get(record, ())) or r"(?!x)x"
        words = "|".join(re.escape(w) for w in sorted(kinds, key=len, reverse=True)) or r"(?!x)x"
        verb = re.compile(
            rf"\b({words}|ship (?:it|them|(?:my |the )?(?:{nouns})(?:\s+{id_rx})?|{id_rx})?\s*to|"
            # "can you send my smart TV to 290 Elm Street", "deliver it to my new address instead"
            r"(?:send|deliver|redirect|forward)(?:\s+(?!to\b|(?:an?|another|new|replacement|refund|e-?mail|invoice|"
            r"receipt|label|link|code|details|info\w*)\b)[\w#'-]+){0,4}\s+to(?=\s+(?:\d|(?:my|the|our|his|"
            r"her|their|this|that)\s+(?:[\w']+\s+){0,2}address\b)))\w*", re.I)
        stems = {_stem(w): kind for w, kind in kinds.items() if " " not in w}
        money_back, not_needed = str(spec.get("money_back") or ""), str(spec.get("not_needed") or "")
        same_as = re.compile(rf"same (?:address )?as (?:(?:in |my )?(?:{nouns}) )?{id_rx}", re.I)
        return cls(verb, kinds, stems, re.compile(id_rx, re.I), money_back, not_needed, same_as)

    # -------------------------------------------------------------- sentences and their verbs
    def sentences(self, text: str) -> list[str]:
        """The requests of a message, one a sentence: "… Also cancel …" starts another, unless a condition opened
        before it governs it; "Return #…: Kettle; Wall Clock;" is one list and "…; via PayPal" one request."""
        parts: list[str] = []
        for sentence in re.split(r"(?<=[.!?;])\s+|\n+", text):
            for i, piece in enumerate(_NEXT_REQUEST.split(sentence)):
                if parts and i and (CONDITION.search(parts[-1]) or not self.verb.search(piece)
                                    or not self.verb.search(parts[-1])):
                    parts[-1] += " " + piece
                else:
                    parts.append(piece)
        out: list[str] = []
        for part in (p.strip(" .") for p in parts if p and p.strip(" .")):
            if out and out[-1].endswith(";") and not self.verb.search(part) and (
                    ":" in out[-1] or _LIST_GOES_ON.match(part)):
                out[-1] = out[-1][:-1] + ", " + part
            elif out and out[-1].endswith(","):
                out[-1] = out[-1] + " " + part  # "If the tablet is returned, also cancel …": one condition
            else:
                out.append(part)
        return out

    def ops(self, sentence: str, passive: bool = False) -> list[tuple[str, str]]:
        """The (verb, segment) pairs of a sentence: each verb with the words up to the next verb. A verb's word used
        as a noun ("the return is complete", "life changes", "clicky switches") or, unless ``passive``, in the
        passive ("the camera to be exchanged") asks for nothing."""
        hits = [m for m in self.verb.finditer(sentence) if self._asks(sentence, m, passive)]
        out = []
        for i, m in enumerate(hits):
            end = hits[i + 1].start() if i + 1 < len(hits) else len(sentence)
            out.append((m.group(1).lower(), sentence[m.start(): end]))
        return out

    @staticmethod
    def _asks(sentence: str, m: re.Match[str], passive: bool) -> bool:
        prefix = sentence[: m.start()]
        if NEGATED.search(prefix[-40:]) or _NOUN_BEFORE.search(prefix[-12:]) or _WHEN_BEFORE.search(prefix[-16:]):
            return False
        if _IDIOM_AFTER.match(sentence[m.end():]) or _IDIOM_BEFORE.search(prefix[-30:]) or \
                m.group(0).lower().startswith("switch") and _ON_OFF.match(sentence[m.end():]):
            return False  # "changed my mind", "my plans have changed", "it won't switch on": no change asked for
        word = m.group(0).lower()
        if word.endswith("s") and " " not in word and not _THIRD_PERSON.search(prefix[-10:]):
            return False
        return not (word.endswith("ed") and not passive and _BE_BEFORE.search(prefix[-10:])
                    and not _WANT_BE.search(prefix[-30:]))

    def spoken_of(self, sentence: str) -> bool:
        """A verb of these requests is spoken of, even as a noun ("a return"), and not only denied ("it won't switch
        on", "I don't want to cancel")."""
        for m in self.verb.finditer(sentence):
            prefix = sentence[: m.start()]
            if not NEGATED.search(prefix[-40:]) and not (m.group(0).lower().startswith("switch")
                                                          and _ON_OFF.match(sentence[m.end():])):
                return True
        return False

    def conditional(self, sentence: str) -> bool:
        """The sentence puts a condition on something ("if", "unless", "otherwise"); an "if" that means "whether"
        ("you want to know if the order has shipped") does not."""
        for m in CONDITION.finditer(sentence):
            if m.group(0).lower() in {"if", "whether"}:
                prefix = sentence[: m.start()]
                asks = list(WHETHER.finditer(prefix))
                if asks and not self.ops(prefix[asks[-1].end():]):
                    continue
                if m.group(0).lower() == "whether":
                    continue
            return True
        return False

    # -------------------------------------------------------------- kinds of request
    def kind(self, verb: str) -> str:
        """The kind of request a verb's words make ("swap" → exchange); the words themselves when the pack names
        none ("ship it to")."""
        if verb == "refund" and self.money_back:
            return self.money_back
        if verb == "unneeded" and self.not_needed:
            return self.not_needed
        return self.kinds.get(verb, verb)

    def cond_kind(self, cond: str) -> str | None:
        """The kind of request a condition names ("if it cannot be returned": return; "if you won't take it
        back": what sending back is), or None."""
        back = next((kind for verb, kind in self.kinds.items() if verb.endswith(" back")), None)
        if back is not None and _TAKE_BACK.search(cond):  # "send back", "bring back": what the other takes back
            return back
        for m in re.finditer(r"[a-z]+", cond.lower()):
            word = m.group(0)
            for stem, kind in self.stems.items():
                if word.startswith(stem):
                    return kind
            if word.startswith("refund") and self.money_back:
                return self.money_back
        return None

    # -------------------------------------------------------------- fallbacks
    def fallback(self, sentence: str, refused: Callable[[str], bool | None]) -> tuple[str, str] | None:
        """(condition, what to do) when the sentence says what to do if something cannot be done; None otherwise.
        The condition is "" when it only says "otherwise", or names the request it is about ("removing one item");
        ``refused`` says whether the pack's rules refuse what a condition speaks of (False), or the words do not
        say (None)."""
        m = _ELSE.match(sentence)
        if m:
            return "", m.group("then")
        m = _IF.match(sentence)
        if not m:
            return None
        cond = m.group("cond")
        if refused(cond) is False and _NOT.search(cond):
            return cond, m.group("then")
        if not (_NOT.search(cond) and _POSSIBLE.search(cond)) or _OTHER_PARTY.search(cond):
            return None
        rest = [w for w in re.findall(r"[a-z']+", cond.lower()) if w not in _PLAIN_CONDITION]
        if rest and self.cond_kind(cond) is None:
            return None  # "if you can't get a coupon": a condition on something else
        return cond, m.group("then")

    @staticmethod
    def if_possible(sentence: str) -> tuple[str, str] | None:
        """(condition, what to do) for "if <something> is possible, <do this>" (the opposite of a fallback)."""
        m = _IF.match(sentence)
        if not m or _NOT.search(m.group("cond")) or not POSSIBLE_WORD.search(m.group("cond")):
            return None
        return m.group("cond"), m.group("then")


def _stem(word: str) -> str:
    """A verb's stem as a condition may inflect it: "exchange" → "exchang", "modify" → "modif"."""
    return word[:-1] if word.endswith(("e", "y")) and len(word) > 4 else word


# the verbs of a change asked for, wherever they stand in a request ("…and move our gas onto it?")
_CHANGE = re.compile(r"\b(?:cancel|change|move|switch|put|swap|return|exchange|refund|credit|waive|book|reschedule|"
                     r"add|remove|upgrade|downgrade|replace|reverse|close|transfer|update)\b", re.I)


def asks_for_a_change(sentence: Words) -> bool:
    """Whether a clause of a sentence asks for something to be changed (a request or a wish with a verb of change),
    not only to be told something ("could you tell me how to change it?" only asks)."""
    return any(not language.asks_to_be_told(c) and language.ASKS_FOR.search(c.text) and any(
        not language.NEGATION.search(c.text[max(0, m.start() - 30):m.end()]) for m in _CHANGE.finditer(c.text))
        for c in language.clauses(sentence))
