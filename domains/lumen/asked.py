"""One request as the Lumen planner reads it, and what planning it gives: the steps, and what to ask."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from cx_core import packs
from cx_core.plans import Step
from cx_core.reading import language
from domains.lumen import PACK
from domains.lumen.picking import pick_order

Planned = tuple[list[Step], str]


class Answer(str):
    """What a planner tells the customer from their records instead of asking ("order #W… is already due on
    Tuesday 1 December, the day you ask for"): the reply says it, with no rule quoted beside it."""

def order_refs(text: str) -> list[str]:
    """The orders ``text`` names by id (the shape ``reading.yaml`` declares), as written back ("#W1234567"), each
    once, in order."""
    return list(dict.fromkeys("#" + x.lstrip("#").upper() for x in packs.reading(PACK).ids["order"].findall(text)))


@dataclass(frozen=True)
class Asked:
    """One request as the planner reads it: its intent and words, the ticket's entities, the customer's records,
    the day, and the whole message."""

    intent: str
    text: str
    ents: dict[str, Any]
    snap: dict[str, Any]
    today: date
    full_text: str
    intents: tuple[str, ...] = ()  # the kinds of every request of the message, this one's among them

    @property
    def alone(self) -> bool:
        """The message's only request: "fix it" may point at a thing described elsewhere in it."""
        return len(self.intents) == 1

    @property
    def uid(self) -> str:
        return str(self.snap["profile"]["user_id"])

    def order(self, statuses: tuple[str, ...]) -> tuple[dict[str, Any] | None, str]:
        """The order the request is about among those in ``statuses``, or (None, what to ask): one its own words
        name first ("…where order #W2 is?" beside "ship order #W1 to…"), else those the message names."""
        said = order_refs(self.text)
        ents = {**self.ents, "order_ids": said} if said else self.ents
        return pick_order(self.snap, ents, statuses, self.text + " " + " ".join(ents.get("order_ids", [])),
                          self.full_text, described=self.pointed_at())

    def pointed_at(self) -> str:
        """What "it", "them" or "both" of this request points at: the rest of the message when it is the only
        request, else the sentence just before this request's ("The washer and dishwasher I ordered are due on
        Monday … could you bring both on Thursday?")."""
        if not language.points_back(self.text):
            return ""
        if self.alone:
            return language.unnegated(self.full_text)
        pointing = next((s.text for s in language.sentences(self.text) if language.points_back(s.text)), "")
        at = self.full_text.find(pointing) if pointing else -1
        before = [s for s in language.sentences(self.full_text) if 0 <= at and s.end <= at]
        return language.unnegated(before[-1].text) if before else ""
