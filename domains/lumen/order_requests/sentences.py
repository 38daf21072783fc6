"""Reading the customer's words: text as the reading compares it, a message cut into requests (sentences, and in
each the verbs with the words they govern), conditions, and the fallbacks a customer gives ("if that is not
possible, …"), with the words of the language that mark them."""

from __future__ import annotations

import re

_NUMBERS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
            "nine": "9", "ten": "10"}


def _norm(text: str) -> str:
    t = text.lower().replace("’", "'")
    for word, digit in _NUMBERS.items():
        t = re.sub(rf"\b{word}(?=[- ](?:piece|inch|foot|feet|ft|bar|liters?|cups?)\b)", digit, t)
        if word != "one":  # "the two-pack" is the 2-pack
            t = re.sub(rf"\b{word}(?=-[a-z])", digit, t)
    t = re.sub(r"(\d)\s*(?:foot|feet)\b", r"\1 ft", t)
    return t


def _flat(text: str) -> str:
    return re.sub(r"[^a-z0-9%.+]+", " ", _norm(text)).strip()


def _has(text: str, phrase: str) -> bool:
    return bool(re.search(rf"(?<![a-z0-9]){re.escape(_flat(phrase))}(?![a-z0-9])", _flat(text)))


_VERB = re.compile(r"\b(return|exchange|swap|switch|change|modify|upgrade|downgrade|replace|cancel|adjust|update|remove|"
                   r"send back|ship (?:it|them|(?:my |the )?order(?:\s+#?W\d{7})?|#?W\d{7})?\s*to|"
                   # "can you send my smart TV to 290 Elm Street", "deliver it to my new address instead"
                   r"(?:send|deliver|redirect|forward)(?:\s+(?!to\b|(?:an?|another|new|replacement|refund|e-?mail|invoice|"
                   r"receipt|label|link|code|details|info\w*)\b)[\w#'-]+){0,4}\s+to(?=\s+(?:\d|(?:my|the|our|his|"
                   r"her|their|this|that)\s+(?:[\w']+\s+){0,2}address\b)))\w*", re.I)
_NEGATED = re.compile(r"(?:\bnot|\bnever|n't|\bnor)\s+(?:\w+\s+){0,2}$", re.I)
_CONDITION = re.compile(r"\b(?:if|unless|otherwise|in case|whether|once|as long as|provided)\b", re.I)
_PAIR = re.compile(r"([A-Za-z][\w-]*(?: [A-Za-z][\w-]*){0,3})\s*(\{[^{}]*\})\s*(?:to|for|into)\b[^{}]*?(\{[^{}]*\})")
_REMOVE = re.compile(r"\b(?:remove|take (?:it |them )?(?:off|out)|delete|drop)\b", re.I)
_PAY_CHANGE = re.compile(r"\bchange (?:the |my |your )?payment(?: method)? to\b", re.I)
_OTHER_ONE = re.compile(r"\bthe other (?:one|item|ones|items)\b", re.I)


def _split_sentences(text: str) -> list[str]:
    parts: list[str] = []
    for sentence in re.split(r"(?<=[.!?;])\s+|\n+", text):
        # "… Also cancel …" starts another request, unless a condition opened before it governs it
        pieces = re.split(r"\s+(?=(?:also|lastly|finally|then|and then|additionally)\b,?\s)", sentence, flags=re.I)
        for i, piece in enumerate(pieces):
            if parts and i and (_CONDITION.search(parts[-1]) or not _VERB.search(piece) or not _VERB.search(parts[-1])):
                parts[-1] += " " + piece
            else:
                parts.append(piece)
    out: list[str] = []
    for part in (p.strip(" .") for p in parts if p and p.strip(" .")):
        if out and out[-1].endswith(";") and not _VERB.search(part) and (
                ":" in out[-1] or re.match(r"(?:via|using|with|paid with|pay with)\b", part, re.I)):
            out[-1] = out[-1][:-1] + ", " + part  # "Return #W…: Kettle; Wall Clock;" is one list, "…; via X" one request
        elif out and out[-1].endswith(","):
            out[-1] = out[-1] + " " + part  # "If the tablet is returned, also cancel …": one sentence, one condition
        else:
            out.append(part)
    return out


_NOUN_BEFORE = re.compile(r"\b(?:the|a|an|this|that|these|those|my|your|his|her|our|their|its|any|some|no|each|"
                          r"every|of|for|life|easy|quick|free)\s+$", re.I)
_WANT_BE = re.compile(r"\b(?:needs?|has|have|must|should|wants?|would like|like)\s+(?:\w+\s+)?to be\s+$|"
                      r"\b(?:must|should)\s+be\s+$", re.I)
_WHEN_BEFORE = re.compile(r"\b(?:when|once|until|after|before|till) (?:you|i|we|they|he|she)\s+$", re.I)
_IDIOM_AFTER = re.compile(r"\s+(?:(?:my|our|his|her|their|your) mind|of (?:mind|heart|plans?))\b", re.I)
_IDIOM_BEFORE = re.compile(r"\bplans?\s+(?:have\s+|has\s+|had\s+)?$", re.I)
_ON_OFF = re.compile(r"\s+(?:back\s+)?(?:on|off)\b", re.I)
_BE_BEFORE = re.compile(r"\b(?:be|been|being|is|are|was|were|get|got|gets)\s+$", re.I)


def _sentence_ops(sentence: str, passive: bool = False) -> list[tuple[str, str]]:
    """The (verb, segment) pairs of a sentence: each verb with the words up to the next verb. A verb's word used
    as a noun ("the return is complete", "life changes", "clicky switches") or, unless ``passive``, in the passive
    ("the camera to be exchanged") asks for nothing."""
    hits = []
    for m in _VERB.finditer(sentence):
        prefix = sentence[: m.start()]
        if _NEGATED.search(prefix[-40:]) or _NOUN_BEFORE.search(prefix[-12:]) or _WHEN_BEFORE.search(prefix[-16:]):
            continue
        if _IDIOM_AFTER.match(sentence[m.end():]) or _IDIOM_BEFORE.search(prefix[-30:]) or \
                m.group(0).lower().startswith("switch") and _ON_OFF.match(sentence[m.end():]):
            continue  # "changed my mind", "my plans have changed", "it won't switch on": not a change asked for
        word = m.group(0).lower()
        if word.endswith("s") and " " not in word and not re.search(r"\b(?:it|he|she|who|which)\s+$", prefix[-10:],
                                                                    re.I):
            continue
        if word.endswith("ed") and not passive and _BE_BEFORE.search(prefix[-10:]) and not _WANT_BE.search(prefix[-30:]):
            continue
        hits.append(m)
    out = []
    for i, m in enumerate(hits):
        end = hits[i + 1].start() if i + 1 < len(hits) else len(sentence)
        out.append((m.group(1).lower(), sentence[m.start(): end]))
    return out


def _spoken_of(sentence: str) -> bool:
    """An order's verb is spoken of, even as a noun ("a return"), and not only denied ("it won't switch on",
    "I don't want to cancel")."""
    for m in _VERB.finditer(sentence):
        prefix = sentence[: m.start()]
        if not _NEGATED.search(prefix[-40:]) and not (m.group(0).lower().startswith("switch")
                                                       and _ON_OFF.match(sentence[m.end():])):
            return True
    return False


_WHETHER = re.compile(r"\b(?:know|check|ask|asks|wonder|see|find out|confirm|verify|inquire|understand|curious|sure)\b",
                      re.I)


def _conditional(sentence: str) -> bool:
    """The sentence puts a condition on something ("if", "unless", "otherwise"); an "if" that means "whether"
    ("you want to know if the order has shipped") does not."""
    for m in _CONDITION.finditer(sentence):
        if m.group(0).lower() in {"if", "whether"}:
            prefix = sentence[: m.start()]
            asks = list(_WHETHER.finditer(prefix))
            if asks and not _sentence_ops(prefix[asks[-1].end():]):
                continue
            if m.group(0).lower() == "whether":
                continue
        return True
    return False


# "if that is not possible", "if it cannot be returned", "if removing one item is not possible", "otherwise"
_IF = re.compile(r"^\W*(?:(?:and|but|also|then|so)\s+)*(?:if|in case|should)\s+(?P<cond>[^,]+?)\s*,\s*(?:then\s+)?"
                 r"(?P<then>.+)$", re.I | re.S)
_ELSE = re.compile(r"^\W*(?:(?:and|but)\s+)?(?:otherwise|if not|else|failing that|if that fails)\b,?\s*(?P<then>.+)$",
                   re.I | re.S)
_NOT = re.compile(r"\b(?:not|no|cannot|unable|impossible|unavailable|none)\b|n't\b", re.I)
_POSSIBLE = re.compile(r"\b(?:possible|impossible|available|unavailable|able|way|doable|work|works|worked|in stock|"
                       r"can|could|cannot|allowed)\b|n't be\b|can't\b", re.I)

# a condition on what someone says or does in the conversation, or on a fact the reading does not check
_OTHER_PARTY = re.compile(r"\b(?:agent|they|he|she|someone|anyone|asks?|asked|says?|said|tells?|told|offers?|"
                          r"propos\w*|confirm\w*|agrees?|insists?|help|allow\w*|let)\b|\$|\d|\b(?:price|cost|"
                          r"cheaper|expensive|less than|more than|over|under|above|below|shipped|arriv\w*|"
                          r"deliver\w*|time|days?|weeks?|still)\b", re.I)
_PARTIAL = re.compile(r"\b(?:cancel\w*|remov\w*|delet\w*)\b.{0,30}\b(?:partial\w*|part|one|some|single|"
                      r"individual|just|only|an?)\b.{0,12}\b(?:items?|things?|products?|of (?:the|an|my|your) "
                      r"order)\b|\b(?:partial|partially)\b.{0,20}\bcancel\w*", re.I)


def _fallback(sentence: str) -> tuple[str, str] | None:
    """(condition, what to do) when the sentence says what to do if something cannot be done; None otherwise.
    The condition is "" when it only says "otherwise", or names the request it is about ("removing one item")."""
    m = _ELSE.match(sentence)
    if m:
        return "", m.group("then")
    m = _IF.match(sentence)
    if not m:
        return None
    cond = m.group("cond")
    if _rule(cond) is False and _NOT.search(cond):
        return cond, m.group("then")
    if not (_NOT.search(cond) and _POSSIBLE.search(cond)) or _OTHER_PARTY.search(cond):
        return None
    rest = [w for w in re.findall(r"[a-z']+", cond.lower()) if w not in _PLAIN_CONDITION]
    if rest and _cond_kind(cond) is None:
        return None  # "if you can't get a coupon": a condition on something else
    return cond, m.group("then")


_PLAIN_CONDITION = {"this", "that", "it", "they", "there", "so", "is", "are", "was", "were", "be", "isn't", "aren't",
                    "not", "no", "possible", "available", "in", "stock", "work", "works", "doable", "an", "option",
                    "a", "way", "any", "to", "do", "the", "same", "item", "items", "one", "does", "doesn't",
                    "don't", "can", "can't", "cannot", "done", "exact", "that's", "it's", "isnt", "n't"}


def _if_possible(sentence: str) -> tuple[str, str] | None:
    """(condition, what to do) for "if <something> is possible, <do this>" (the opposite of a fallback)."""
    m = _IF.match(sentence)
    if not m or _NOT.search(m.group("cond")) or not re.search(r"\bpossible\b", m.group("cond"), re.I):
        return None
    return m.group("cond"), m.group("then")


def _rule(cond: str) -> bool | None:
    """Whether what a condition speaks of can be done under the shop's rules, when the words say so on their own:
    part of an order cannot be cancelled, an item cannot be removed from one. None: the words do not say."""
    if _PARTIAL.search(cond) or re.search(r"\bremov\w*\b.{0,20}\b(?:items?|one|it|them)\b", cond, re.I):
        return False
    return None


def _kind(verb: str) -> str:
    return {"swap": "exchange", "switch": "exchange", "replace": "exchange", "modify": "exchange",
            "upgrade": "exchange", "downgrade": "exchange", "adjust": "exchange", "update": "exchange",
            "change": "exchange", "send back": "return", "unneeded": "cancel", "refund": "return"}.get(verb, verb)


def _cond_kind(cond: str) -> str | None:
    """The kind of request a condition names ("if it cannot be returned": return), or None."""
    m = re.search(r"\b(return|exchang|swap|switch|chang|modif|upgrad|cancel|remov|refund)\w*", cond, re.I)
    if not m:
        return None
    word = m.group(1).lower()
    return {"exchang": "exchange", "swap": "exchange", "switch": "exchange", "chang": "exchange",
            "modif": "exchange", "upgrad": "exchange", "remov": "remove", "refund": "return"}.get(word, word)
