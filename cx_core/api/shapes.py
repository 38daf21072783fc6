"""The API's request and response shapes, its one-line problems and the ticket view it returns."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..conversations import naive_utc, reserved_id_problem, thread
from ..desk import get_ticket
from ..errors import InvalidInput
from ..models import MAX_BODY_CHARS, TicketIn, plain_id, storable_text
from ..store.db import Database
from ..store.tables import TicketRow

# when a message sent through the API may say it was written: recently (the queue serves the oldest first, so a
# date decades back would jump it), and never ahead of the server's clock by more than a clock's drift
PAST_WINDOW = timedelta(days=30)
FUTURE_SLACK = timedelta(minutes=5)


def written_when(value: datetime | None) -> datetime | None:
    """``created_at`` when it lies in the window, else ``ValueError`` with what to send instead."""
    if value is None:
        return None
    at, now = as_utc(value), datetime.now(UTC)
    if at > now + FUTURE_SLACK:
        raise ValueError(f"{at:%Y-%m-%d %H:%M} UTC is in the future; send when the customer wrote, or leave it out")
    if at < now - PAST_WINDOW:
        raise ValueError(f"{at:%Y-%m-%d} is more than {PAST_WINDOW.days} days ago; send when the customer wrote "
                         "(older conversations are added with import-tickets), or leave it out")
    return value


class TicketCreate(TicketIn):
    """A new ticket: the ticket-file contract (``id``, ``customer``, ``channel``, ``subject``, ``body``,
    ``created_at``); ``channel`` is one of the active domain's channels."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "id": "WEB-1001", "customer": "ana@example.com", "channel": "email", "subject": "Where is my order?",
        "body": "Hello, my order W1234567 has not arrived yet.", "created_at": "2026-11-23T10:00:00Z"}]})

    body: str = Field(min_length=1, description="The customer's message.")

    @field_validator("id")
    @classmethod
    def _usable_in_url(cls, value: str) -> str:
        """The id is part of the ticket's URL (``GET /api/v1/tickets/ID``) and never one a channel's tickets have."""
        if "/" in value or any(c.isspace() for c in value):
            raise ValueError("may not contain '/' or spaces (it is part of the ticket's URL)")
        problem = reserved_id_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("created_at")
    @classmethod
    def _recent(cls, value: datetime | None) -> datetime | None:
        return written_when(value)


class MessageCreate(BaseModel):
    """A customer's follow-up on a ticket. ``external_id`` is its id in the calling system: the same id again adds
    nothing."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "body": "It arrived today, thank you.", "author": "customer", "external_id": "form-msg-77"}]})

    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    author: Literal["customer"] = "customer"
    external_id: str = Field(min_length=1, max_length=300)
    created_at: datetime | None = None

    @field_validator("external_id")
    @classmethod
    def _printable(cls, value: str) -> str:
        return plain_id(value)

    @field_validator("created_at")
    @classmethod
    def _recent(cls, value: datetime | None) -> datetime | None:
        return written_when(value)

    @field_validator("body")
    @classmethod
    def _storable(cls, value: str) -> str:
        value = storable_text(value)
        if not value.strip():
            raise ValueError("the message is empty")
        return value


class TicketCreated(BaseModel):
    id: str


class MessageAdded(BaseModel):
    ticket_id: str
    message_id: int | None


class MessageView(BaseModel):
    author: str
    body: str
    created_at: datetime
    direction: Literal["in", "out"]


class ProposalView(BaseModel):
    action: str
    args: dict[str, Any]
    decision: str
    status: str
    reason: str | None


class TicketView(BaseModel):
    id: str
    status: str
    customer_replied: bool
    messages: list[MessageView]
    proposals: list[ProposalView]


class Health(BaseModel):
    status: str
    database: str


class WebhookAck(BaseModel):
    status: Literal["ok", "ignored", "duplicate"]
    event: str = ""
    ticket_id: str | None = None
    detail: str = ""


class Problem(BaseModel):
    detail: str


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text_of = {400: "Bad request", 401: "Missing, wrong or revoked token (or webhook signature)",
               403: "The token's scopes do not allow this", 404: "Not found (or not this token's)",
               409: "Conflict", 413: "Body over TANDEM_API_MAX_BODY_KB",
               422: "A field is missing or wrong; the detail names it",
               429: "Over the token's rate or daily quota, or too many wrong tokens (Retry-After)",
               503: "Try again shortly (Retry-After)"}
    return {c: {"model": Problem, "description": text_of[c]} for c in codes}


# ------------------------------------------------------------------ helpers
def one_line(value: Any, limit: int = 300) -> str:
    """The first line of ``value``: what an API client shows a person."""
    line = next((x.strip() for x in str(value or "").splitlines() if x.strip()), "")
    return line[:limit]


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": one_line(detail) or "error"}, status_code=status, headers=headers)


def validation_detail(exc: RequestValidationError) -> str:
    """The first error as ``field: what is wrong`` (``body: field required``)."""
    errors = exc.errors()
    if not errors:
        return "request body: not valid"
    err = errors[0]
    loc = [str(p) for p in err.get("loc", ())]
    if loc and loc[0] in {"body", "query", "path", "header"}:
        loc = loc[1:]
    if err.get("type") == "json_invalid":
        return "request body: not valid JSON"
    field = ".".join(loc) or "request body"
    msg = str(err.get("msg", "not valid")).removeprefix("Value error, ")
    if msg[:1].isupper() and not msg[1:2].isupper():
        msg = msg[0].lower() + msg[1:]
    return f"{field}: {msg}"


def utc(at: datetime | None) -> datetime | None:
    """A time as naive UTC, the way the database keeps it (an offset is converted, not dropped)."""
    return naive_utc(at) if at is not None else None


def as_utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput("request body: not valid JSON") from exc
    if not isinstance(data, dict):
        raise InvalidInput("request body: a JSON object is expected")
    return _storable(data)


def _storable(value: Any) -> Any:
    """A JSON document with every text as the database can keep it (no NUL, no half characters), read once at the
    door so that no channel meets them."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def ticket_view(db: Database, ticket_id: str) -> dict[str, Any] | None:
    """The ticket as API clients read it: status, the conversation without internal notes, and the proposals."""

    with db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is None:
            return None
        status, replied = row.status, bool(row.customer_replied)
    messages = [{"author": m["author"], "body": m["body"], "created_at": as_utc(m["at"]), "direction": m["direction"]}
                for m in thread(db, ticket_id) if m["direction"] != "note"]
    proposals = [{"action": p["action"], "args": p["args"] or {}, "decision": p["decision"], "status": p["status"],
                  "reason": p["reason"]} for p in get_ticket(db, ticket_id)["proposals"]]
    view = TicketView(id=ticket_id, status=status, customer_replied=replied,
                      messages=[MessageView(**m) for m in messages], proposals=[ProposalView(**p) for p in proposals])
    return view.model_dump(mode="json")
