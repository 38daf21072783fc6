"""Domain types shared by the pipeline, the actions, the store and the pages."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .reading.types import Reading


class Channel(StrEnum):
    email = "email"
    chat = "chat"
    phone = "phone"
    social = "social"


class Role(StrEnum):
    advisor = "advisor"
    supervisor = "supervisor"
    admin = "admin"


ROLE_RANK = {Role.advisor: 1, Role.supervisor: 2, Role.admin: 3}


class Autonomy(IntEnum):
    """Autonomy levels per task type (ARCHITECTURE.md)."""

    manual = 0
    answer = 1
    copilot = 2
    supervised = 3
    orchestrate = 4


class Decision(StrEnum):
    executed = "executed"
    needs_approval = "needs_approval"
    escalated = "escalated"
    denied = "denied"
    abstained = "abstained"


class Status(StrEnum):
    """What ``execute`` did with one action, and the proposal's decision it becomes."""

    executed = "executed"
    needs_approval = "needs_approval"
    escalated = "escalated"
    denied = "denied"
    failed = "failed"  # the system did not answer: a person decides again
    calling = "calling"  # sent to a team's system alone; its proposal follows the answer

    @property
    def decision(self) -> Decision:
        return _DECISION_OF[self]


_DECISION_OF = {Status.executed: Decision.executed, Status.needs_approval: Decision.needs_approval,
                Status.escalated: Decision.escalated, Status.denied: Decision.denied,
                Status.failed: Decision.needs_approval, Status.calling: Decision.needs_approval}


class TicketStatus(StrEnum):
    new = "new"
    processing = "processing"
    open = "open"
    escalated = "escalated"
    resolved = "resolved"


MAX_BODY_CHARS = 200_000  # a ticket's message (about 60 printed pages)
MAX_SUBJECT_CHARS = 500


def unknown_channel(value: Any, names: Any) -> str:
    """The one line that refuses a channel the domain does not have."""
    return f"'{value}' is not a channel here (channels are: {', '.join(names)})"


def control_characters(value: str) -> str | None:
    """A description of the first control or invisible formatting character in ``value`` (NUL, a line break, a
    right-to-left override…), or None: ids, names and addresses may carry none of them."""
    for ch in value:
        if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"}:
            return f"U+{ord(ch):04X}"
    return None


def plain_id(value: str) -> str:
    """``value`` if it is usable as an id, a name or an address (no control characters), else ``ValueError`` in one
    line naming the character."""
    bad = control_characters(value)
    if bad:
        raise ValueError(f"contains the control character {bad}; only printable characters are allowed here")
    return value


def storable_text(value: str) -> str:
    """Text as it can be stored on every database: NUL characters (which PostgreSQL cannot keep in text) are
    dropped and halves of a character that JSON can smuggle in (lone surrogates) become U+FFFD; everything else is
    kept as written."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


class TicketIn(BaseModel):
    """A ticket as the importers and the simulator hand it over (the ticket-file contract)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    customer: str | None = Field(default=None, max_length=200, description="Email or customer id; optional.")
    channel: str = Field(default="email", description="A channel of the active domain (email, chat, phone…).")
    subject: str = ""
    body: str = ""
    created_at: datetime | None = None

    @field_validator("channel", mode="before")
    @classmethod
    def _known_channel(cls, value: Any, info: ValidationInfo) -> str:
        """A channel name; when the caller gives the domain's channels (``context={"channels": …}``), one of them.
        The model itself reaches for no domain: intake checks the channel against the pack it serves."""
        name = str(value.value if isinstance(value, Channel) else value).strip().lower()
        names = (info.context or {}).get("channels") if isinstance(info.context, dict) else None
        if names is not None:
            if name not in names:
                raise ValueError(unknown_channel(value, names))
        elif not re.fullmatch(r"[a-z][a-z0-9_]{0,19}", name):
            raise ValueError(f"'{value}' is not a channel name (lower-case letters, digits and '_')")
        return name

    @field_validator("subject", "body")
    @classmethod
    def _within_limit(cls, value: str, info: ValidationInfo) -> str:
        """Kept whole up to the limit and refused beyond it, never cut without a word."""
        limit = MAX_SUBJECT_CHARS if info.field_name == "subject" else MAX_BODY_CHARS
        if len(value) > limit:
            raise ValueError(f"{len(value):,} characters; the limit is {limit:,}")
        return storable_text(value)

    @field_validator("id")
    @classmethod
    def _printable_id(cls, value: str) -> str:
        return plain_id(value)

    @field_validator("customer")
    @classmethod
    def _printable_customer(cls, value: str | None) -> str | None:
        return plain_id(value) if value is not None else None


class ImportedTicket(TicketIn):
    """A row of a ticket file: a ticket, and optionally the conversation it continues in the helpdesk or mailbox it
    was exported from (``zendesk:123``, ``email:<Message-ID>``), so that what that system sends next joins it and
    the reply goes back there."""

    conversation: str | None = Field(default=None, max_length=400)

    @field_validator("conversation")
    @classmethod
    def _printable_conversation(cls, value: str | None) -> str | None:
        return plain_id(value.strip()) if value and value.strip() else None


class Request(BaseModel):
    """One distinct thing the customer asks for, found in the ticket text."""

    intent: str
    text: str
    confidence: float
    read_as: str = ""  # the text with its slips of the keys put right ("Gogle" → "google"), to search knowledge by
    second: str = ""  # the model's next reading of the request, when it is close (read instead when this one can't be)


class Triage(BaseModel):
    task_type: str
    intent: str
    confidence: float
    abstained: bool = False
    requests: list[Request] = Field(default_factory=list)
    urgency: str = "normal"
    urgency_reasons: list[str] = Field(default_factory=list)
    sentiment: str = "neutral"
    sentiment_score: float = 0.0
    frustration: float = 0.0
    sentiment_reasons: list[str] = Field(default_factory=list)
    language: str = "en"
    pii: list[str] = Field(default_factory=list)
    entities: dict[str, Any] = Field(default_factory=dict)


class Passage(BaseModel):
    """A retrieved piece of a knowledge-base article."""

    doc_id: str
    title: str
    heading: str
    text: str
    score: float
    similarity: float = 0.0  # cosine similarity of the passage to the query (0 when not searched densely)
    task_types: list[str] = Field(default_factory=list)  # the task types its article is written for (none: any)


class Citation(BaseModel):
    doc_id: str
    title: str
    heading: str


class ReplyPart(BaseModel):
    """One sentence of a reply (or its greeting or sign-off). A sentence about an action belongs to that action's
    proposal (its index in ``ProcessResult.proposals``), so that its wording can follow the proposal's state: done
    once executed, never claimed while it waits, gone once rejected. ``support`` is the knowledge quoted beside an
    action: it stays only while the action's own sentence does. ``next`` says what happens next, and only when the
    reply would otherwise say nothing beyond its greeting and sign-off."""

    text: str
    paragraph: int = 0
    kind: Literal["text", "action", "support", "next"] = "text"
    proposal: int | None = None
    intent: str = ""
    planned: dict[str, str] = Field(default_factory=dict)  # what the step gives once approved (a slot's start)


class Draft(BaseModel):
    summary: str
    reply: str
    citations: list[Citation] = Field(default_factory=list)
    parts: list[ReplyPart] = Field(default_factory=list)  # the reply sentence by sentence (empty once rewritten)


class Proposal(BaseModel):
    """A typed action the agent proposes, with the policy's decision on it."""

    action: str
    args: dict[str, Any]
    rationale: str = ""
    decision: Decision = Decision.needs_approval
    reason: str = ""
    required_role: Role = Role.advisor
    result: dict[str, Any] | None = None
    execution_key: str = ""
    route: str = ""  # how an orchestrated step ran: planned, alternative, fallback, skipped
    refused_by: str = ""  # a denial's source: policy (limits, levels), invariant (the domain's own rule), invalid
    depends_on: str = ""  # the action of this plan it needs to have run first


class Customer(BaseModel):
    user_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    tier: str = "standard"
    verified_email: bool = True

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ProcessResult(BaseModel):
    """Everything the pipeline concluded about one ticket."""

    ticket_id: str
    customer_id: str | None
    triage: Triage
    passages: list[Passage] = Field(default_factory=list)
    draft: Draft
    proposals: list[Proposal] = Field(default_factory=list)
    escalated: bool = False
    escalation_reason: str = ""
    autonomy: int = 2
    ms: float = 0.0
    engine: str = "offline"
    engine_note: str = ""
    packet: dict[str, Any] | None = None  # the context packet handed to a person on escalation
    no_action: list[str] = Field(default_factory=list)  # requests the domain knows no action for
    reading: Reading | None = None  # what the message says, read once (``cx_core.reading``)
    reply_waits: str = ""  # why a reply the level let go alone waits for a person instead

    def replay_record(self) -> dict[str, Any]:
        """The replay contract object of ARCHITECTURE.md."""
        return {
            "ticket_id": self.ticket_id,
            "task_type": self.triage.task_type,
            "intent": self.triage.intent,
            "confidence": round(self.triage.confidence, 4),
            "urgency": self.triage.urgency,
            "sentiment": self.triage.sentiment,
            "language": self.triage.language,
            "summary": self.draft.summary,
            "reply": self.draft.reply,
            "citations": list(dict.fromkeys(c.doc_id for c in self.draft.citations)),
            "proposals": [
                {"action": p.action, "args": p.args, "decision": p.decision.value, "reason": p.reason}
                for p in self.proposals
            ],
            "escalated": self.escalated,
            **({"reply_waits": self.reply_waits} if self.reply_waits else {}),
        }

    def executed_writes(self) -> list[Proposal]:
        return [p for p in self.proposals if p.decision == Decision.executed and p.action != "lookup_order"]


class AuditEvent(BaseModel):
    seq: int
    at: datetime
    actor: str
    kind: str
    ticket_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str
