"""The times said of each day, where a message names several: "Is there any chance of Friday the 27th, 2 to 4? If
that one's full, the Monday after in the morning" asks for Friday's window and Monday's morning, not both of each."""

from __future__ import annotations

from datetime import date
from typing import Any

from . import when


def times_of_days(text: str, today: date) -> dict[str, dict[str, list[Any]]]:
    """The times said of each day the text names, where several days are named ("Friday the 27th, 2 to 4? If
    that's full, the Monday after in the morning"): per day (ISO), its ``clock`` times and its ``parts`` of the day,
    as ``find_clock_times`` and ``find_times_of_day`` give them for the whole text."""
    days = [(w.start, w.end, str(w.value)) for w in when.dates(text, today)]
    if len({d for _, _, d in days}) < 2:
        return {}
    said = of_each_day(days, [(t.start, t.end, t) for t in when.times(text)], text)
    return {d: {"clock": [{"at": str(t.value), "bound": t.bound} for t in ts if t.kind == "time"],
                "parts": list(dict.fromkeys(str(t.value) if t.kind == "period" else when.period_of(int(str(t.value)[:2]))
                                            for t in ts))} for d, ts in said.items()}


def of_each_day(days: list[tuple[int, int, str]], times: list[tuple[int, int, Any]], text: str) -> dict[str, list[Any]]:
    """The times said of each day (``days``: where each is said and its value; ``times``: where each time is said
    and what it is): a time goes with the day said last before it in its sentence, else with the first said after
    it there ("in the morning on Monday"). A day with none of its own is absent."""
    out: dict[str, list[Any]] = {}
    for start, end, t in times:
        left = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
        right = min((i for i in (text.find(c, end) for c in ".!?\n") if i >= 0), default=len(text))
        before = [d for d in days if left <= d[0] and d[1] <= start]
        after = [d for d in days if end <= d[0] and d[1] <= right]
        owner = before[-1] if before else after[0] if after else None
        if owner is not None:
            out.setdefault(owner[2], []).append(t)
    return out
