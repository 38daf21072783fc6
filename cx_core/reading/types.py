"""The Reading: what one message says, made once by the engine, as plain typed data with a JSON schema.

Every value keeps the words it came from (``Words``: the text and where it stands in the message), so a person, a
test or a model can check it against the message. Planning, policy, drafting and the desk read this object; no
later stage reads the customer's raw text again. A configured model fills the same structure
(``Reading.model_json_schema()``), and the same binding and policy dispose of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ValueKind = Literal["date", "time", "period", "number", "ordinal", "money", "phone", "email", "address", "name",
                    "id", "enum", "text", "duration", "boolean"]
RequestKind = Literal["act", "ask", "report"]


class Words(BaseModel):
    """Where something was read: the words as written and their place in the message's text."""

    model_config = ConfigDict(frozen=True)

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class Value(BaseModel):
    """A value the message gives: a date (ISO), a time (``HH:MM``), a period of the day, a number, an amount
    (``{"amount", "currency"}``), a phone number (E.164), an address (its parts), a name, an id, an enum value of an
    argument, or free text; with the words it came from."""

    kind: ValueKind
    value: Any
    words: Words
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    kept: bool = False  # said in words that ask to keep something as it is ("keep the outbound on the 24th as it is")
    every: bool = False  # a weekday said of every week ("Sundays", "Thursday afternoons"): its next one stands for it


class Window(BaseModel):
    """A stretch of time the customer names: wanted (``after 2pm``, ``next week``) or ruled out (``away all of next
    week``, ``not Saturday``). Dates are ISO, times ``HH:MM``; an open end is None."""

    first_day: str | None = None
    last_day: str | None = None
    after: str | None = None
    before: str | None = None
    excluded: bool = False
    words: Words


class Qualifiers(BaseModel):
    """The words that change what a request means. Each is generic English, read the same for every company:

    - ``negated``: the customer asks for it *not* to be done ("please don't cancel the vacuum");
    - ``withdrawn``: a change of mind takes back an earlier request ("I asked to move to Fixed 24 but I've changed
      my mind");
    - ``asks_only``: a question about the thing, not a request to do it ("how long does a refund take?");
    - ``condition``: it holds only if something is true that the records cannot tell ("if my wife agrees");
    - ``checkable``: a condition on the record's own state or on what is possible ("if it hasn't shipped yet"):
      the action's own checks decide it, so it holds nothing by itself;
    - ``fallback``: it is the second choice, wanted only if the first cannot be done ("otherwise just refund me");
    - ``exceptions``: what is left out ("everything except the doorbell");
    - ``quantity``: how many ("two of them", "a couple");
    - ``every``: all of a kind ("both my accounts");
    - ``restriction``: which ones "all" means is narrowed by a clause ("all of my flights that have one passenger");
    - ``latest``: the most recent one ("my latest bill");
    - ``windows``: times wanted or ruled out;
    - ``comparative``: a comparison that picks ("the cheapest", "under what I paid");
    - ``claims``: a fact the customer states as true, which the records may contradict ("you charged me twice").
    """

    negated: Words | None = None
    withdrawn: Words | None = None
    asks_only: Words | None = None
    condition: Words | None = None
    checkable: Words | None = None
    fallback: Words | None = None
    exceptions: list[Words] = Field(default_factory=list)
    quantity: Value | None = None
    every: Words | None = None
    restriction: Words | None = None
    latest: Words | None = None
    windows: list[Window] = Field(default_factory=list)
    comparative: Words | None = None
    claims: list[Words] = Field(default_factory=list)

    def holds_a_write(self) -> str:
        """Why a write for this request must not run as read ('' when nothing stops it): the customer does not want
        it, took it back, only asks, or wants it only under a condition or as a second choice."""
        for name, said in (("the customer asks for it not to be done", self.negated),
                           ("the customer changed their mind about it", self.withdrawn),
                           ("the customer only asks about it", self.asks_only),
                           ("the customer sets a condition on it", self.condition),
                           ("the customer wants it only if the first choice cannot be done", self.fallback),
                           ("the customer narrows which ones they mean", self.restriction)):
            if said is not None:
                return f"{name} (“{said.text}”)"
        return ""


class RecordRef(BaseModel):
    """A record the request points at: by its id, or described ("the black ones", "my other order", "the 5th
    December flight"); ``kind`` is the pack's name for the collection when the words say it."""

    kind: str | None = None
    id: str | None = None
    description: Words | None = None


class RequestReading(BaseModel):
    """One thing the customer wants done (``act``), asks (``ask``) or reports (``report``)."""

    kind: RequestKind
    task_type: str | None = None
    action: str | None = None
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    sentence: Words
    args: dict[str, Value] = Field(default_factory=dict)
    records: list[RecordRef] = Field(default_factory=list)
    qualifiers: Qualifiers = Field(default_factory=Qualifiers)


class Party(BaseModel):
    """Who goes with the writer, as the words say it: alone ("just me"), with someone they call by a word ("me and
    my wife": ``companion`` "wife"), and whether the writer goes too beside the people they name ("Alex and I")."""

    alone: bool = False
    companion: str | None = None
    with_writer: bool = False
    without_writer: bool = False  # the writer stays behind: "I'm not travelling myself"


class Facts(BaseModel):
    """What the customer states about themselves and their world, wherever in the message."""

    names: list[Value] = Field(default_factory=list)
    dates_of_birth: list[Value] = Field(default_factory=list)
    # people named with their date of birth: ``{"first_name", "last_name", "dob"}`` (kind ``name``)
    people: list[Value] = Field(default_factory=list)
    party: Party = Field(default_factory=Party)
    addresses: list[Value] = Field(default_factory=list)
    phones: list[Value] = Field(default_factory=list)
    emails: list[Value] = Field(default_factory=list)
    amounts: list[Value] = Field(default_factory=list)
    dates: list[Value] = Field(default_factory=list)
    times: list[Value] = Field(default_factory=list)
    numbers: list[Value] = Field(default_factory=list)
    ids: list[Value] = Field(default_factory=list)


class Reading(BaseModel):
    """Everything one message says, read relative to when it was written (``written_at``), never to the clock of
    the machine that reads it."""

    written_at: datetime
    language: str = "en"
    text: str = ""
    sentences: list[Words] = Field(default_factory=list)
    requests: list[RequestReading] = Field(default_factory=list)
    facts: Facts = Field(default_factory=Facts)
    reader: str = "offline"  # who filled it: the offline reader, or a model (its name)
    # the words that say nothing is to change now ("not switching anything yet"): every write of the message waits
    nothing_now: Words | None = None

    def for_task(self, task_type: str) -> list[RequestReading]:
        return [r for r in self.requests if r.task_type == task_type]

    def kept_only(self, kind: str) -> set[Any]:
        """The values of ``facts.<kind>`` (``"dates"``…) the message names only to keep as they are."""
        said = getattr(self.facts, kind)
        return {str(v.value) for v in said if v.kept} - {str(v.value) for v in said if not v.kept}

    def held(self, task_type: str) -> str:
        """Why a write for ``task_type`` must wait ('' when nothing in the message holds it)."""
        return next((why for r in self.for_task(task_type) if (why := r.qualifiers.holds_a_write())), "")


def schema() -> dict[str, Any]:
    """The Reading's JSON schema (what a model is asked to fill)."""
    return Reading.model_json_schema()
