"""A second reading of a sentence that asks for something in so many words, where the pack's classifier is unsure
of its kind: how well it fits each of the pack's own actions, by their descriptions (the schema reader trained on
services never seen, ``schema_reader``). Where both put the same kind first, the two are averaged, so a request the
pack's examples barely cover ("Please put my electricity on the tariff with the lowest unit rate") is read as the
request it is; a sentence the classifier is sure of, a question, or one that only tells, is left as it was read."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

import numpy as np

from ..errors import ConfigError


class Backing:
    """The pack's write actions as a schema, and each action's task types; ``specs`` gives the actions in force
    (``ActionSpec``s), read when first needed and again when they change."""

    def __init__(self, specs: Callable[[], Iterable[Any]]) -> None:
        self._specs = specs
        # the actions' names, their schema and each one's task types, replaced whole (threads read it at once)
        self._state: tuple[tuple[str, ...], Any, list[tuple[str, ...]]] = ((), None, [])

    def _current(self) -> tuple[Any, list[tuple[str, ...]]]:
        from . import schema

        specs = [s for s in self._specs() if s.writes and s.task_types]
        key = tuple(s.name for s in specs)
        if key != self._state[0]:
            self._state = (key, schema.from_actions("pack", specs) if len(specs) > 1 else None,
                           [tuple(s.task_types) for s in specs])
        return self._state[1], self._state[2]

    def row(self, sentence: str, labels: Sequence[str]) -> np.ndarray | None:
        """The probability of each of ``labels`` (task types) that the sentence asks for an action of that kind,
        by the actions' descriptions; None when the pack has fewer than two such actions."""
        schema, action_kinds = self._current()
        if schema is None:
            return None
        from .schema_reader import Turn
        from .shipped import schema_reader

        try:
            reader = schema_reader()
        except ConfigError:  # the reader's weights are not there: the classifier's reading stands
            return None
        probs = reader.action_probs(schema, Turn(sentence, date.min))  # no day plays a part in it
        out = np.zeros(len(labels))
        index = {label: n for n, label in enumerate(labels)}
        for p, kinds in zip(probs, action_kinds, strict=True):
            for kind in kinds:
                if kind in index:
                    out[index[kind]] += float(p) / len(kinds)
        return out


def backed(row: np.ndarray, sentence: str, labels: Sequence[str], backing: Backing | None,
           asks: Callable[[str], bool], unsure_below: float) -> np.ndarray:
    """``row`` (the classifier's belief over ``labels`` for one sentence) averaged with the actions' reading, when
    the classifier is unsure (below the triage's request bar), the sentence asks in so many words (``asks``) without a question mark, and the two
    readings put the same kind first (the actions alone never choose a kind the classifier did not put first: "We
    want you to supply us there too, on the same green tariff" is no change of tariff)."""
    if backing is None or float(row.max()) >= unsure_below or "?" in sentence or not asks(sentence):
        return row
    other = backing.row(sentence, labels)
    return row if other is None or int(other.argmax()) != int(row.argmax()) else (row + other) / 2
