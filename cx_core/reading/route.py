"""Which of the places a message names a trip leaves from and which it goes to, in any trade: "from Chicago", "out
of Boston", "to Vegas", "into Denver", "bound for Leeds". A pack says which of its entities are places
(``routes:`` in its recipes); the words are here."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# the words just before a place that say the trip leaves it, or goes to it
_FROM = re.compile(r"\b(?:from|out\s+of|leaving|departing(?:\s+from)?|flying\s+out\s+of)\s+(?:the\s+)?$", re.I)
_TO = re.compile(r"\b(?:to|into|arriving\s+(?:in|at|into)|landing\s+(?:in|at)|bound\s+for|headed\s+(?:to|for)|"
                 r"heading\s+(?:to|for)|flying\s+(?:in)?to)\s+(?:the\s+)?$", re.I)


def ordered(text: str, spans: Mapping[str, Sequence[tuple[int, int]]]) -> list[str]:
    """The places (each with where it is said) in the order of the trip: the one the words say it leaves first,
    the one they say it goes to last; otherwise in the order they are said."""
    order = sorted(spans, key=lambda v: min(s for s, _ in spans[v]))
    if len(order) < 2:
        return order

    def said(rx: re.Pattern[str], value: str) -> bool:
        return any(rx.search(text[max(0, s - 30):s]) for s, _ in spans[value])

    starts, ends = [v for v in order if said(_FROM, v)], [v for v in order if said(_TO, v)]
    if len(starts) == 1 and starts[0] not in ends:
        order = [starts[0], *(v for v in order if v != starts[0])]
    if len(ends) == 1 and ends[0] not in starts:
        order = [*(v for v in order if v != ends[0]), ends[0]]
    return order
