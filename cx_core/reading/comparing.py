"""Words that point at one thing among several, or compare it with another, in any trade: "it", "that one", "the
cheaper one", "a slightly bigger one", "1000 more pieces", "the same colour as the one I got", "the cheapest", a
reason given with "because" or "so". A pack's reader weighs them against its own records; the words are here."""

from __future__ import annotations

import re
from collections.abc import Callable

# the thing spoken of just before: "return it", "cancel that one as well"
ANAPHOR = re.compile(r"\b(?:it|them|this one|that one|these|those|this|that|the same one|one|the item|the product)\b",
                     re.I)
# one of two by its price: "the more expensive one", "the cheaper item" (group 1 or 2: the comparison)
BY_PRICE = re.compile(r"\bthe (more|less) expensive (?:one|item)\b|\bthe (cheaper|cheapest|pricier|priciest|"
                      r"dearer|dearest)\s+(?:one|item)\b", re.I)
# every one of them: "everything", "all the items", "all I ordered"
EVERY_ONE = re.compile(r"\b(?:everything|all (?:the |of the |my |your )?(?:items|things|of it|of them)|the (?:items|"
                       r"things)|(?:whole|entire) order|all (?:that|i|you) (?:ordered|bought|received))\b", re.I)
# a choice described by how it compares with the current one
RELATIVE = re.compile(r"\b(?:bigger|smaller|larger|lower|higher|less|more(?! expensive)|fewer|fewest|maximum|"
                      r"minimum|max|min|fancier|fancy|better|faster|slower|cheaper|longer|shorter|brighter|"
                      r"lighter|heavier|upgrade|downgrade|similar|or above|or below|at least|at most|"
                      r"different|taller|wider|narrower|thinner|thicker|newer|older|warmer|cooler|stronger|"
                      r"weaker|quieter|louder|closer|nicer)\b", re.I)
UP = frozenset({"bigger", "larger", "higher", "more", "longer", "brighter", "heavier", "taller", "wider", "thicker",
                "faster", "stronger", "louder", "greater", "bigger-sized"})
DOWN = frozenset({"smaller", "lower", "less", "fewer", "shorter", "dimmer", "narrower", "thinner", "slower", "weaker",
                  "quieter"})
# scales said in words, lowest first
SCALES = (("low", "medium", "high"), ("small", "medium", "large"), ("slow", "medium", "fast"),
          ("light", "medium", "heavy"), ("short", "medium", "long"))
# "a slightly lower resolution", "the next size up", "1000 more pieces": amount, degree, word, what is compared
COMPARE = re.compile(r"\b(?:(?P<amount>\d+(?:\.\d+)?)\s+)?(?P<degree>slightly |a (?:bit|little) |one step |"
                     r"the next )?(?P<word>" + "|".join(sorted(UP | DOWN)) + r")\b(?:\s+(?P<what>[a-z]+(?: [a-z]+)?))?"
                     r"|\b(?P<amount2>\d+(?:\.\d+)?)\s+(?P<what2>[a-z]+)\s+(?P<word2>more|less|fewer)\b", re.I)
# "the same size as the one I got", "the model that's in my other order"
SAME_AS = re.compile(r"\bsame (?P<what>[a-z]+(?: [a-z]+)?) as (?:the one|the \w+|what|that|those|mine)\b[^.;]*?"
                     r"\b(?P<where>received|got|bought|own|have|had|delivered|other order|before|last time|"
                     r"already)\b|\b(?:the )?(?P<what2>type|kind|model|one|version|variant) (?:that is |that's |which "
                     r"is )?in (?:my|your|the) (?P<where2>pending|other) order\b", re.I)
# the cheapest or the dearest of what fits
_CHEAP_WORDS, _DEAR_WORDS = "cheapest|least expensive|lowest price", "most expensive|priciest|highest price"
CHEAPEST = re.compile(rf"\b(?:{_CHEAP_WORDS})\b", re.I)
DEAREST = re.compile(rf"\b(?:{_DEAR_WORDS})\b", re.I)
_PRICE_WORDS = f"{_CHEAP_WORDS}|{_DEAR_WORDS}"
BY_PRICE_WORDS = re.compile(rf"\b(?:{_PRICE_WORDS})\b", re.I)
# the most or least of one option: "the maximum capacity", "the smallest size" (group 1: the word, 2: the option)
TOP_WORDS = frozenset({"maximum", "max", "highest", "largest", "biggest"})
_EXTREME_WORDS = "maximum|max|highest|largest|biggest|minimum|min|lowest|smallest|fewest"
EXTREME = re.compile(rf"\b({_EXTREME_WORDS})\s+"
                     r"([a-z][a-z ]*?)(?= capacity\b|[,.;]|$| and\b| but\b| with\b)")
# "one size bigger", "a size down" (group 1: which way; STEP_UP the words of the way up)
SIZE_STEP = re.compile(r"\b(?:one|a) size (smaller|bigger|larger|up|down)\b", re.I)
STEP_UP = frozenset({"bigger", "larger", "up"})
# a superlative that picks one: "the cheapest", "the largest"
SUPERLATIVE = re.compile(rf"\b(?:{_PRICE_WORDS}|{_EXTREME_WORDS})\b", re.I)
# a preference that only breaks ties, and the word before what is set below it: "ideally silver, rather than black"
PREFERENCE = re.compile(r"\b(?:prefer(?:ably|ring|s|red)?|ideally|if possible)\b", re.I)
OVER = re.compile(r"\s*(?:>|\bthan\b|\bover\b|\brather than\b|\binstead of\b)", re.I)
# what the customer says they do not mind (group 1): "I don't care about the color"
INDIFFERENT = re.compile(r"\b(?:do not|don't|doesn't|does not) care (?:about|for) (?:the )?([a-z ]+?)(?: or not)?"
                         r"(?=[,.;]|$| and\b)")
# the whole of a thing, not a part of it: "the whole order", "the entire booking"
WHOLE = re.compile(r"\b(?:whole|entire|full|complete)\b", re.I)
WHOLE_OR_ALL = re.compile(r"\b(?:whole|entire|full|complete|all|everything)\b", re.I)
# a thing said not to have come yet: "the pending lamp", "the one I just ordered", "not yet delivered"
NOT_ARRIVED = re.compile(r"\b(?:pending|just (?:ordered|placed)|not (?:yet )?(?:arrived|delivered|received))\b", re.I)
ARRIVED = re.compile(r"\b(?:received|delivered|got)\b", re.I)
# why a thing is not wanted any more: a mistake, or no need of it
BY_MISTAKE = re.compile(r"\bmistake|\bwrong (?:item|thing|one|order)|by accident|accidental|\bsomehow (?:managed to |"
                        r"ended up )?(?:order|book|buy|bought|place)|\b(?:didn'?t|did not|never) mean(?:t)? to\b|"
                        r"\bwithout meaning to\b", re.I)
NO_NEED = re.compile(r"no longer (?:need|want)|don'?t (?:need|want)|do not (?:need|want)|not need(?:ed)? any ?more|"
                     r"\w+ged my mind|change of mind|no need for|won'?t need|not needed|only (?:need|want)(?:ed)? (?:one|1)\b",
                     re.I)


def every(noun: str) -> re.Pattern[str]:
    """Every one of the customer's records of a kind, as it stands: "all my orders", "all of the open orders"."""
    return re.compile(rf"\ball (?:of )?(?:my |your |the )?(?:possible |current )?(?:pending |open )?{noun}s?\b", re.I)


def preferred(text: str) -> str | None:
    """The words of what the customer prefers ("I'd prefer PayPal over a gift card": "PayPal"), up to what is set
    below it; None when nothing is said to be preferred."""
    m = re.search(r"\bprefer\w*\b(.*)", text, re.I)
    if not m:
        return None
    return re.split(r"\b(?:than|over|rather than|to|instead of|but|and then|then)\b|>|,", m.group(1), maxsplit=1,
                    flags=re.I)[0]


# a reason given for a request: "because", "since", "so I can", "I found it cheaper"
REASON = re.compile(r"\b(?:because|since|due to|given that|as i|as you|as we|so that|so i|so you)\b|,\s*so\b|"
                    r"\b(?:found|find|buy|get) (?:it|them|the same \w+|a better \w+|\w+ cheaper)\b", re.I)
# what a thing is described by, not what is asked about: "the speaker that came in one box with my kettle and the
# lamp", "the one in the same parcel as the charger"
ALONG_WITH = re.compile(r"\b(?:(?:that|which)\s+)?(?:came|arrived|was\s+delivered|were\s+delivered|got\s+delivered|"
                        r"shipped|was\s+sent|were\s+sent|(?:was\s+|were\s+)?put\s+in)\s+(?:\w+\s+){0,3}?"
                        r"(?:with|alongside|along\s+with|together\s+with)\s+[^.;!?()]*|\bin\s+the\s+same\s+(?:box|parcel|order|delivery|"
                        r"package|shipment)\s+as\s+[^.;!?()]*", re.I)


def without_companions(text: str, names_it: Callable[[str], bool]) -> str:
    """``text`` without what the thing is described by ("the speaker that came with my kettle": the speaker), when
    the rest still names it (``names_it``); else ``text`` as it is."""
    subject = ALONG_WITH.sub(" ", text)
    return subject if names_it(subject) else text
