"""A value the writer corrects as they write ("nine thousand nine hundred and twelve. Actually, scratch that, I had
my glasses off - it's 9921"; "the 14th, sorry, I mean the 15th"; "the 2nd? Apologies, I've just checked my
contract and the money lands on the 3rd"): the later value stands, the earlier one is set
aside. Generic English, for every reader and every pack."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .types import Value

# what says that the writer takes back the value just given and gives another
CORRECTS = re.compile(
    r"\b(?:scratch\s+that|strike\s+that|sorry,?\s+(?:i\s+)?mean[st]?|i\s+meant|correction|my\s+(?:mistake|bad)|"
    r"typo|make\s+that|no,?\s+wait|wait,?\s+no|or\s+rather|i\s+mis(?:read|typed|spoke|wrote)|"
    r"actually,?\s+(?:it'?s|it\s+is|it\s+was|make\s+it|that'?s|that\s+should)|should\s+have\s+(?:read|said|been)|"
    # the writer looked again: "Apologies, I've just checked my contract and the money lands on the 3rd"
    r"(?:i'?ve|i\s+have)\s+just\s+(?:checked|looked|re-?read|realised|realized|noticed)|(?:checked|looked)\s+again)\b",
    re.I)
# how far apart a value and its correction may stand (the correction's own sentence, or the next)
_REACH = 160


def superseded(text: str, value: Value, others: list[Value]) -> bool:
    """Whether a later value of ``others`` corrects ``value``: correction words stand between them."""
    return corrects(text, (value.words.start, value.words.end, value.value),
                    [(o.words.start, o.words.end, o.value) for o in others])


def corrects(text: str, said: tuple[int, int, object], others: Sequence[tuple[int, int, object]]) -> bool:
    """Whether a later value of ``others`` (each its start, end and value in ``text``) corrects ``said``: the
    correction words stand between them and no other value does (what is corrected is the value just given)."""
    for start, _end, value in others:
        gap = text[said[1]:start]
        if 0 < len(gap) <= _REACH and value != said[2] and CORRECTS.search(gap) \
                and not any(said[1] <= s and e <= start for s, e, _v in others):
            return True
    return False


def standing(text: str, values: list[Value]) -> list[Value]:
    """``values`` without those the writer corrected; all of them when that would leave none."""
    return [v for v in values if not superseded(text, v, values)] or values
