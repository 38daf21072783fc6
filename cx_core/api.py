"""The inbound HTTP API and the helpdesks' webhooks: a FastAPI app in a process of its own
(``python -m cx_core api``), OpenAPI at ``/api/v1/openapi.json``, docs at ``/api/v1/docs``.

Every way in ends in ``conversations.receive``, which only stores: the worker picks new tickets and messages up, so a
request never waits for the pipeline. Calls carry ``Authorization: Bearer TOKEN`` (``api_tokens``), except the health
check and the webhooks, which are verified by their own signature (Chatwoot, Zendesk, Zammad) or URL token (django-helpdesk)
before their body is parsed, and recorded once by their delivery id. A body over ``TANDEM_API_MAX_BODY_KB`` is
refused while it is read, before anything parses it. Errors are JSON ``{"detail": "one line"}``, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import api_tokens
from .channels import chatwoot, helpdesk, zammad, zendesk
from .channels.webhooks import Webhook, header_value, same_signature
from .config import Settings
from .conversations import Inbound, naive_utc, receive, reserved_id_problem, thread
from .desk import get_ticket
from .errors import ConfigError, ConnectorUnavailable, DatabaseBusy, InvalidInput, NotAuthorised, NotFound, TandemError
from .models import MAX_BODY_CHARS, TicketIn, control_characters, plain_id, storable_text, unknown_channel
from .store.db import Database, utcnow
from .store.tables import TicketRow, WebhookDeliveryRow

log = logging.getLogger("tandem.api")

PREFIX = "/api/v1"
OPEN_PATHS = {f"{PREFIX}/health", f"{PREFIX}/openapi.json", f"{PREFIX}/docs", f"{PREFIX}/docs/oauth2-redirect"}
BODY_METHODS = {"POST", "PUT", "PATCH"}
RETRY_AFTER_SECONDS = 2


# ------------------------------------------------------------------ request and response shapes
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


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
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


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": one_line(detail) or "error"}, status_code=status, headers=headers)


def _validation_detail(exc: RequestValidationError) -> str:
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


def _utc(at: datetime | None) -> datetime | None:
    """A time as naive UTC, the way the database keeps it (an offset is converted, not dropped)."""
    return naive_utc(at) if at is not None else None


def _as_utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _json_object(raw: bytes) -> dict[str, Any]:
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
    messages = [{"author": m["author"], "body": m["body"], "created_at": _as_utc(m["at"]), "direction": m["direction"]}
                for m in thread(db, ticket_id) if m["direction"] != "note"]
    proposals = [{"action": p["action"], "args": p["args"] or {}, "decision": p["decision"], "status": p["status"],
                  "reason": p["reason"]} for p in get_ticket(db, ticket_id)["proposals"]]
    view = TicketView(id=ticket_id, status=status, customer_replied=replied,
                      messages=[MessageView(**m) for m in messages], proposals=[ProposalView(**p) for p in proposals])
    return view.model_dump(mode="json")


def _header_text(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), "")


# ------------------------------------------------------------------ rates
class Buckets:
    """Token buckets by key, in this process: ``take`` spends one request of a key's rate a minute, or says how long
    to wait when there is none left."""

    MAX_KEYS = 10_000

    def __init__(self) -> None:
        self._buckets: dict[Any, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _level(self, key: Any, per_minute: int, now: float) -> float:
        tokens, last = self._buckets.get(key, (float(per_minute), now))
        return min(float(per_minute), tokens + (now - last) * per_minute / 60.0)

    def take(self, key: Any, per_minute: int, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens = self._level(key, per_minute, now)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) * 60.0 / per_minute
            if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
                self._forget_full(per_minute, now)
            self._buckets[key] = (tokens - 1.0, now)
            return None

    def _forget_full(self, per_minute: int, now: float) -> None:
        """Drops the keys whose buckets have filled up again (they would start full anyway)."""
        for key in [k for k in self._buckets if self._level(k, per_minute, now) >= per_minute - 1]:
            del self._buckets[key]


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, int(seconds + 0.999)))}


# ------------------------------------------------------------------ the guard: tokens, rates and body size
class Guard:
    """Checks the bearer token and its rate before the app sees an API call, and the size of every body: a body
    over the limit is refused by its Content-Length or, without one, as soon as the bytes read pass the limit; the
    body read is handed on whole, so nothing downstream reads more. A client address that keeps sending missing or
    wrong tokens gets 429 instead of 401 for a while."""

    def __init__(self, app: ASGIApp, db: Database, settings: Settings) -> None:
        self.app = app
        self.db = db
        self.settings = settings
        self.max_bytes = settings.api_max_body_kb * 1024
        self.rates = Buckets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        if path.startswith(f"{PREFIX}/") and path not in OPEN_PATHS and not path.startswith(f"{PREFIX}/webhooks/"):
            refused = await self._authorise(scope, headers)
            if refused is not None:
                await refused(scope, receive, send)
                return
        if scope.get("method") in BODY_METHODS:
            too_big = _problem(413, f"the request body is over {self.max_bytes // 1024} KB "
                                    "(TANDEM_API_MAX_BODY_KB)")
            declared = _header_text(headers, b"content-length")
            if declared.strip().isdigit() and int(declared) > self.max_bytes:
                await too_big(scope, receive, send)
                return
            body = bytearray()
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                if len(body) > self.max_bytes:
                    await too_big(scope, receive, send)
                    return
                if not message.get("more_body", False):
                    break
            receive = _replay(bytes(body), receive)
        await self.app(scope, receive, send)

    def _client(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> str:
        name = self.settings.client_address_header.strip().lower().encode("latin-1", "ignore")
        if name:
            forwarded = [x.strip() for x in _header_text(headers, name).split(",") if x.strip()]
            if forwarded:
                return forwarded[-1][:200]
        client = scope.get("client")
        return str(client[0]) if client else "unknown"

    async def _authorise(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> JSONResponse | None:
        scheme, _, token = _header_text(headers, b"authorization").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._refused(scope, headers, "missing bearer token: send 'Authorization: Bearer TOKEN' (make "
                                                 "one with 'python -m cx_core api-token create NAME')",
                                 {"WWW-Authenticate": "Bearer"})
        try:
            grant = await run_in_threadpool(api_tokens.verify, self.db, token.strip())
        except TandemError as exc:
            return _problem(503, str(exc), {"Retry-After": str(RETRY_AFTER_SECONDS)})
        if grant is None:
            return self._refused(scope, headers, "the token is not valid or was revoked",
                                 {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        per_minute = grant.rate_per_minute or self.settings.api_rate_per_minute
        wait = self.rates.take(("token", grant.id), per_minute)
        if wait is not None:
            return _problem(429, f"this token's rate of {per_minute} calls a minute is used up; wait and try again",
                            _retry_after(wait))
        scope.setdefault("state", {})["api_grant"] = grant
        return None

    def _refused(self, scope: Scope, headers: list[tuple[bytes, bytes]], line: str, challenge: dict[str, str]
                 ) -> JSONResponse:
        """401 for a missing or wrong token; 429 once the address sent more of them than its rate allows (a right
        token from the same address is never held back)."""
        wait = self.rates.take(("client", self._client(scope, headers)), self.settings.api_failed_auth_per_minute)
        if wait is not None:
            return _problem(429, "too many calls with a missing or wrong token from this address; wait and try "
                                 "again", _retry_after(wait))
        return _problem(401, line, challenge)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="A token from `python -m cx_core api-token create NAME` or the Users page.")


def api_grant(request: Request, _: HTTPAuthorizationCredentials | None = Security(bearer)) -> api_tokens.Grant:
    """What the call's token may do (checked by the guard before the request got here)."""
    grant = getattr(request.state, "api_grant", None)
    if not isinstance(grant, api_tokens.Grant):
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return grant


def _need(grant: api_tokens.Grant, scope: str) -> None:
    if not grant.may(scope):
        has = ", ".join(sorted(grant.scopes)) or "none"
        raise HTTPException(403, f"this token may not {api_tokens.SCOPES[scope]} (its scopes: {has}); an admin can "
                                 f"make one with '{scope}'")


def _path_id(ticket_id: str) -> str:
    bad = control_characters(ticket_id)
    if bad:
        raise InvalidInput(f"ticket_id: contains the control character {bad}; only printable characters are allowed "
                           "here")
    if len(ticket_id) > 200:
        raise NotFound(f"ticket {ticket_id[:40]}… not found")
    return ticket_id


def _reachable(db: Database, grant: api_tokens.Grant, ticket_id: str) -> TicketRow | None:
    """The ticket if this token may reach it (it opened it, or an admin let it reach every ticket), else None: a
    ticket out of reach answers exactly like one that does not exist."""
    with db.session() as s:
        row = s.get(TicketRow, _path_id(ticket_id))
    if row is None:
        return None
    return row if grant.reaches_every_ticket or (row.api_token_id == grant.id) else None


# ------------------------------------------------------------------ the app
def create_app(services: Any) -> FastAPI:
    """The API over ``services`` (its database, settings and domain); ``serve`` runs it with uvicorn."""
    db: Database = services.db
    settings: Settings = services.settings
    channels: tuple[str, ...] = tuple(services.pack.channel_names)
    app = FastAPI(title="Tandem inbound API", version="1",
                  description="Tickets and customers' messages in, their state and Tandem's replies out; signed "
                              "webhooks from Chatwoot, Zendesk, Zammad and django-helpdesk. Calls other than the health "
                              "check and the webhooks need `Authorization: Bearer TOKEN`; a token reads and writes "
                              "the tickets it opened, within its scopes (write, read, admin).",
                  openapi_url=f"{PREFIX}/openapi.json", docs_url=f"{PREFIX}/docs", redoc_url=None)
    app.add_middleware(Guard, db=db, settings=settings)
    _handlers(app)
    app.include_router(_service_routes(db))
    app.include_router(_ticket_routes(db, settings, channels))
    for hook in WEBHOOKS:
        app.include_router(_webhook_route(hook, db, settings, channels))
    return app


def _service_routes(db: Database) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["service"])

    @router.get("/health", response_model=Health, responses=_problems(503))
    def health() -> Any:
        """Whether the API and its database answer (no token needed)."""
        try:
            with db.session() as s:
                s.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - reported as the database's state
            log.warning("health check: database unavailable: %s", one_line(exc))
            return JSONResponse({"status": "unavailable", "database": "unavailable"}, status_code=503)
        return Health(status="ok", database="ok")

    return router


def _ticket_routes(db: Database, settings: Settings, channels: tuple[str, ...]) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["tickets"])

    def quota(grant: api_tokens.Grant) -> None:
        wait = api_tokens.take_quota(db, grant, settings.api_daily_quota)
        if wait is not None:
            raise HTTPException(429, f"this token's daily quota of {grant.daily_quota or settings.api_daily_quota:,} "
                                     "new tickets and messages is used up; it renews at midnight UTC",
                                _retry_after(wait))

    def existing(grant: api_tokens.Grant, ticket_id: str) -> JSONResponse:
        """A ticket id used again: the token's own ticket is returned as it is (200); another's is a conflict."""
        if _reachable(db, grant, ticket_id) is None:
            raise HTTPException(409, f"id: {ticket_id} is taken by a ticket this token did not open; choose "
                                     "another id")
        view = ticket_view(db, ticket_id) if grant.may("read") else {"id": ticket_id}
        return JSONResponse(view, status_code=200)

    @router.post("/tickets", status_code=201, response_model=TicketCreated,
                 responses={200: {"model": TicketView, "description": "This token opened a ticket with this id "
                                                                      "before: it is returned as it is (only its id "
                                                                      "without the read scope), nothing is added"},
                            **_problems(401, 403, 409, 413, 422, 429, 503)})
    def create_ticket(ticket: TicketCreate, response: Response, grant: api_tokens.Grant = Depends(api_grant)) -> Any:
        """Opens a ticket (stored only: the worker reads it). The same id again from the same token returns the
        existing ticket with 200 and adds nothing; an id another client's ticket has is 409."""
        _need(grant, "write")
        if ticket.channel not in channels:
            raise InvalidInput(f"channel: {unknown_channel(ticket.channel, channels)}")
        with db.session() as s:
            taken = s.get(TicketRow, ticket.id) is not None
        if taken:
            return existing(grant, ticket.id)
        quota(grant)
        got = receive(db, Inbound(source="api", ticket_id=ticket.id, external_id=f"ticket:{ticket.id}",
                                  body=ticket.body, subject=ticket.subject, customer=ticket.customer,
                                  channel=ticket.channel, created_at=_utc(ticket.created_at), owner_token=grant.id))
        if not got.created:
            return existing(grant, got.ticket_id)
        log.info("%s opened ticket %s", grant.name, got.ticket_id)
        response.headers["Location"] = f"{PREFIX}/tickets/{quote(got.ticket_id, safe='')}"
        return TicketCreated(id=got.ticket_id)

    @router.post("/tickets/{ticket_id}/messages", status_code=201, response_model=MessageAdded,
                 responses={200: {"model": MessageAdded, "description": "This external_id was received before: "
                                                                        "nothing is added"},
                            **_problems(401, 403, 404, 409, 413, 422, 429, 503)})
    def add_message(ticket_id: str, message: MessageCreate, grant: api_tokens.Grant = Depends(api_grant)) -> Any:
        """Adds the customer's message to the ticket, which the agent reads again; the same ``external_id`` again
        adds nothing (200)."""
        _need(grant, "write")
        row = _reachable(db, grant, ticket_id)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        quota(grant)
        # a token's message ids are its own: two clients may both number their messages from 1
        ext = f"t{grant.id}:{message.external_id}"
        got = receive(db, Inbound(source="api", ticket_id=ticket_id, external_id=ext, body=message.body,
                                  author="customer", direction="in", channel=row.channel,
                                  created_at=_utc(message.created_at)))
        if got.duplicate:
            if got.ticket_id != ticket_id:
                raise HTTPException(409, f"external_id {message.external_id} was already used for a message of "
                                         f"ticket {got.ticket_id}")
            return JSONResponse({"ticket_id": got.ticket_id, "message_id": got.message_id}, status_code=200)
        log.info("%s added message %s to ticket %s", grant.name, got.message_id, got.ticket_id)
        return MessageAdded(ticket_id=got.ticket_id, message_id=got.message_id)

    @router.get("/tickets/{ticket_id}", response_model=TicketView, responses=_problems(401, 403, 404, 422, 429, 503))
    def get_ticket(ticket_id: str, grant: api_tokens.Grant = Depends(api_grant)) -> Any:
        """The ticket's status, its conversation (customer's messages and replies, never internal notes) and the
        agent's proposals with their decisions."""
        _need(grant, "read")
        view = ticket_view(db, ticket_id) if _reachable(db, grant, ticket_id) is not None else None
        if view is None:
            raise NotFound(f"ticket {ticket_id} not found")
        return JSONResponse(view)

    return router


# ------------------------------------------------------------------ webhooks, mounted from one table
WEBHOOKS = (chatwoot.WEBHOOK, zendesk.WEBHOOK, zammad.WEBHOOK, helpdesk.WEBHOOK)


def _seen(db: Database, provider: str, delivery: str) -> bool:
    with db.session() as s:
        return s.get(WebhookDeliveryRow, (provider, delivery)) is not None


def _record(db: Database, provider: str, delivery: str, event: str, ticket_id: str | None, outcome: str) -> bool:
    """Records a webhook delivery once; False when another request recorded it meanwhile."""
    def write(s: Any) -> None:
        s.add(WebhookDeliveryRow(provider=provider, delivery_id=delivery, event=event[:60], ticket_id=ticket_id,
                                 outcome=storable_text(outcome)[:200], received_at=utcnow()))
        s.flush()

    try:
        db.run(write)
    except IntegrityError:
        return False
    return True


def _fresh(at: datetime | None, settings: Settings, header: str) -> None:
    """Refuses a signed webhook whose timestamp is missing, unreadable, too old or too far ahead (a replay)."""
    if at is None:
        raise HTTPException(401, f"{header}: missing or not a time")
    try:
        age = time.time() - _as_utc(at).timestamp()
    except (OverflowError, OSError, ValueError) as exc:
        raise HTTPException(401, f"{header}: not a usable time") from exc
    if abs(age) > settings.webhook_max_age_seconds:
        raise HTTPException(401, f"{header}: {abs(age):.0f} s {'old' if age > 0 else 'ahead'}; the limit is "
                                 f"{settings.webhook_max_age_seconds} s (TANDEM_WEBHOOK_MAX_AGE_SECONDS)")


def _webhook_route(hook: Webhook, db: Database, settings: Settings, channels: tuple[str, ...]) -> APIRouter:
    """``POST /api/v1/webhooks/{name}``: the secret set, the delivery verified (signature and age, or the URL's
    token) before the body is parsed, read once by its delivery id, and handed to the channel."""
    router = APIRouter(prefix=f"{PREFIX}/webhooks", tags=["webhooks"])

    def verified(request: Request, raw: bytes, token: str) -> str:
        """The delivery's id once it is verified; HTTPException (401/503) otherwise."""
        secret_value = getattr(settings, hook.secret_setting)
        secret = secret_value.get_secret_value() if hasattr(secret_value, "get_secret_value") else str(secret_value)
        if not secret.strip():
            raise HTTPException(503, f"the {hook.label} webhook is not set up here: set {hook.env}")
        if hook.verify is None:
            if not same_signature(secret.encode("utf-8"), token):
                raise HTTPException(401, "token: wrong or missing (the webhook URL's ?token=)")
            return hashlib.sha256(raw).hexdigest()
        signature = request.headers.get(hook.signature_header, "").strip()
        if not signature:
            raise HTTPException(401, f"{hook.signature_header}: missing (give the {hook.label} webhook a secret)")
        stamp = request.headers.get(hook.timestamp_header, "").strip() if hook.timestamp_header else ""
        if hook.timestamp_header and hook.parse_time is not None:
            _fresh(hook.parse_time(stamp) if stamp else None, settings, hook.timestamp_header)
        if not hook.verify(secret, stamp, raw, signature):
            raise HTTPException(401, f"{hook.signature_header}: does not match the body (check {hook.env})")
        given = header_value(request.headers.get(hook.delivery_header, "")) if hook.delivery_header else ""
        return given or hashlib.sha256(stamp.encode("latin-1", "replace") + b"." + raw).hexdigest()

    def handle(delivery: str, event: str, raw: bytes) -> WebhookAck:
        if _seen(db, hook.name, delivery):
            return WebhookAck(status="duplicate")
        done = hook.handle(db, settings, _json_object(raw), channels)
        kind = done.event or event
        _record(db, hook.name, delivery, kind, done.ticket_id, done.detail or done.status)
        return WebhookAck(status=done.status, event=kind, ticket_id=done.ticket_id, detail=one_line(done.detail))

    async def webhook(request: Request, token: str = Query("", description=f"{hook.env} (URL-token webhooks only)")
                      ) -> Any:
        raw = await request.body()
        delivery = verified(request, raw, token)
        event = header_value(request.headers.get(hook.event_header, ""), 60) if hook.event_header else ""
        return await run_in_threadpool(handle, delivery, event or "trigger", raw)

    webhook.__doc__ = hook.events
    router.add_api_route(f"/{hook.name}", webhook, methods=["POST"], response_model=WebhookAck,
                         responses=_problems(401, 413, 422, 503), name=f"{hook.name}_webhook",
                         description=hook.events)
    return router


def _handlers(app: FastAPI) -> None:
    """Errors as ``{"detail": "one line"}`` with the right status; never a traceback."""
    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _problem(422, _validation_detail(exc))

    async def http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return _problem(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    async def tandem(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, InvalidInput):
            return _problem(422, str(exc))
        if isinstance(exc, NotFound):
            return _problem(404, str(exc))
        if isinstance(exc, NotAuthorised):
            return _problem(403, str(exc))
        if isinstance(exc, DatabaseBusy | ConnectorUnavailable):
            return _problem(503, str(exc), {"Retry-After": str(RETRY_AFTER_SECONDS)})
        if isinstance(exc, ConfigError):
            log.error("configuration problem: %s", exc)
            return _problem(503, f"configuration problem: {exc}")
        return _problem(400, str(exc))

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc)
        return _problem(500, "something went wrong on our side; the details were logged for the operator")

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(HTTPException, http)
    app.add_exception_handler(TandemError, tandem)
    app.add_exception_handler(Exception, unexpected)


def serve(services: Any, host: str = "127.0.0.1", port: int = 8600) -> None:
    """Runs the API with uvicorn until stopped (Ctrl-C or SIGTERM)."""
    import uvicorn

    app = create_app(services)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", server_header=False, access_log=True)
    logging.getLogger("uvicorn.access").addFilter(_HideUrlTokens())
    log.info("inbound API on http://%s:%s%s (docs at %s/docs)", host, port, PREFIX, PREFIX)
    uvicorn.Server(config).run()


class _HideUrlTokens(logging.Filter):
    """Keeps the helpdesk webhook's ``?token=`` out of the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            record.args = (*record.args[:2], _URL_TOKEN.sub(r"\1***", record.args[2]), *record.args[3:])
        return True


_URL_TOKEN = re.compile(r"((?:^|[?&])token=)(?:\[secret removed\]|[^&\s]*)")  # masked already, or not
