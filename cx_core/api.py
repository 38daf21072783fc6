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
import hmac
import importlib
import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import Depends, FastAPI, Query, Request, Response, Security
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
from .config import Settings
from .conversations import Inbound, receive, thread
from .errors import ConfigError, ConnectorUnavailable, DatabaseBusy, InvalidInput, NotAuthorised, NotFound, TandemError
from .models import MAX_BODY_CHARS, TicketIn
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
        """The id is part of the ticket's URL (``GET /api/v1/tickets/ID``)."""
        if "/" in value or any(c.isspace() for c in value):
            raise ValueError("may not contain '/' or spaces (it is part of the ticket's URL)")
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
               403: "Not allowed", 404: "Not found", 409: "Conflict", 413: "Body over TANDEM_API_MAX_BODY_KB",
               422: "A field is missing or wrong; the detail names it", 503: "Try again shortly (Retry-After)"}
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
    if at is None or at.tzinfo is None:
        return at
    return at.astimezone(UTC).replace(tzinfo=None)


def _as_utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("request body: not valid JSON") from exc
    if not isinstance(data, dict):
        raise InvalidInput("request body: a JSON object is expected")
    return data


def ticket_view(db: Database, ticket_id: str) -> dict[str, Any] | None:
    """The ticket as API clients read it: status, the conversation without internal notes, and the proposals."""
    from .tickets import get_ticket

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


def _seen(db: Database, provider: str, delivery: str) -> bool:
    with db.session() as s:
        return s.get(WebhookDeliveryRow, (provider, delivery)) is not None


def _record(db: Database, provider: str, delivery: str, event: str, ticket_id: str | None, outcome: str) -> bool:
    """Records a webhook delivery once; False when another request recorded it meanwhile."""
    def write(s: Any) -> None:
        s.add(WebhookDeliveryRow(provider=provider, delivery_id=delivery, event=event[:60], ticket_id=ticket_id,
                                 outcome=outcome[:200], received_at=utcnow()))
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
    age = time.time() - _as_utc(at).timestamp()
    if abs(age) > settings.webhook_max_age_seconds:
        raise HTTPException(401, f"{header}: {abs(age):.0f} s {'old' if age > 0 else 'ahead'}; the limit is "
                                 f"{settings.webhook_max_age_seconds} s (TANDEM_WEBHOOK_MAX_AGE_SECONDS)")


def _unix(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _iso(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _header_text(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), "")


# ------------------------------------------------------------------ the guard: tokens and body size, before routing
class Guard:
    """Checks the bearer token of API calls and the size of every body before the app sees the request: a body
    over the limit is refused by its Content-Length or, without one, as soon as the bytes read pass the limit; the
    body read is handed on whole, so nothing downstream reads more."""

    def __init__(self, app: ASGIApp, db: Database, max_bytes: int) -> None:
        self.app = app
        self.db = db
        self.max_bytes = max_bytes

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

    async def _authorise(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> JSONResponse | None:
        scheme, _, token = _header_text(headers, b"authorization").strip().partition(" ")
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not token.strip():
            return _problem(401, "missing bearer token: send 'Authorization: Bearer TOKEN' (make one with "
                                 "'python -m cx_core api-token create NAME')", challenge)
        try:
            name = await run_in_threadpool(api_tokens.verify, self.db, token.strip())
        except TandemError as exc:
            return _problem(503, str(exc), {"Retry-After": str(RETRY_AFTER_SECONDS)})
        if name is None:
            return _problem(401, "the token is not valid or was revoked",
                            {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        scope.setdefault("state", {})["api_client"] = name
        return None


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


def api_client(request: Request, _: HTTPAuthorizationCredentials | None = Security(bearer)) -> str:
    """The name of the token the call was made with (checked by the guard before the request got here)."""
    name = getattr(request.state, "api_client", None)
    if not name:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return str(name)


# ------------------------------------------------------------------ the app
def create_app(services: Any) -> FastAPI:
    """The API over ``services`` (its database, settings and domain); ``serve`` runs it with uvicorn."""
    db: Database = services.db
    settings: Settings = services.settings
    channels: tuple[str, ...] = tuple(services.pack.channel_names)
    app = FastAPI(title="Tandem inbound API", version="1",
                  description="Tickets and customers' messages in, their state and Tandem's replies out; signed "
                              "webhooks from Chatwoot, Zendesk, Zammad and django-helpdesk. Calls other than the health "
                              "check and the webhooks need `Authorization: Bearer TOKEN`.",
                  openapi_url=f"{PREFIX}/openapi.json", docs_url=f"{PREFIX}/docs", redoc_url=None)
    app.add_middleware(Guard, db=db, max_bytes=settings.api_max_body_kb * 1024)
    _handlers(app)

    @app.get(f"{PREFIX}/health", tags=["service"], response_model=Health, responses=_problems(503))
    def health() -> Any:
        """Whether the API and its database answer (no token needed)."""
        try:
            with db.session() as s:
                s.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - reported as the database's state
            log.warning("health check: database unavailable: %s", one_line(exc))
            return JSONResponse({"status": "unavailable", "database": "unavailable"}, status_code=503)
        return Health(status="ok", database="ok")

    @app.post(f"{PREFIX}/tickets", tags=["tickets"], status_code=201, response_model=TicketCreated,
              responses={200: {"model": TicketView, "description": "A ticket with this id exists: it is returned "
                                                                   "as it is, nothing is added"},
                         **_problems(401, 413, 422, 503)})
    def create_ticket(ticket: TicketCreate, response: Response, client: str = Depends(api_client)) -> Any:
        """Opens a ticket (stored only: the worker reads it). The same id again returns the existing ticket with
        200 and adds nothing."""
        existing = ticket_view(db, ticket.id)
        if existing is not None:
            return JSONResponse(existing, status_code=200)
        got = receive(db, Inbound(source="api", ticket_id=ticket.id, external_id=f"ticket:{ticket.id}",
                                  body=ticket.body, subject=ticket.subject, customer=ticket.customer,
                                  channel=ticket.channel, created_at=_utc(ticket.created_at)))
        if not got.created:
            return JSONResponse(ticket_view(db, got.ticket_id), status_code=200)
        log.info("%s opened ticket %s", client, got.ticket_id)
        response.headers["Location"] = f"{PREFIX}/tickets/{quote(got.ticket_id, safe='')}"
        return TicketCreated(id=got.ticket_id)

    @app.post(f"{PREFIX}/tickets/{{ticket_id}}/messages", tags=["tickets"], status_code=201,
              response_model=MessageAdded,
              responses={200: {"model": MessageAdded, "description": "This external_id was received before: "
                                                                     "nothing is added"},
                         **_problems(401, 404, 409, 413, 422, 503)})
    def add_message(ticket_id: str, message: MessageCreate, client: str = Depends(api_client)) -> Any:
        """Adds the customer's message to the ticket, which the agent reads again; the same ``external_id`` again
        adds nothing (200)."""
        with db.session() as s:
            row = s.get(TicketRow, ticket_id)
            if row is None:
                raise NotFound(f"ticket {ticket_id} not found")
            channel = row.channel
        got = receive(db, Inbound(source="api", ticket_id=ticket_id, external_id=message.external_id,
                                  body=message.body, author="customer", direction="in", channel=channel,
                                  created_at=_utc(message.created_at)))
        if got.duplicate:
            if got.ticket_id != ticket_id:
                raise HTTPException(409, f"external_id {message.external_id} was already used for a message of "
                                         f"ticket {got.ticket_id}")
            return JSONResponse({"ticket_id": got.ticket_id, "message_id": got.message_id}, status_code=200)
        log.info("%s added message %s to ticket %s", client, got.message_id, got.ticket_id)
        return MessageAdded(ticket_id=got.ticket_id, message_id=got.message_id)

    @app.get(f"{PREFIX}/tickets/{{ticket_id}}", tags=["tickets"], response_model=TicketView,
             responses=_problems(401, 404, 503))
    def get_ticket(ticket_id: str, client: str = Depends(api_client)) -> Any:
        """The ticket's status, its conversation (customer's messages and replies, never internal notes) and the
        agent's proposals with their decisions."""
        view = ticket_view(db, ticket_id)
        if view is None:
            raise NotFound(f"ticket {ticket_id} not found")
        return JSONResponse(view)

    # -------------------------------------------------------------- webhooks
    @app.post(f"{PREFIX}/webhooks/chatwoot", tags=["webhooks"], response_model=WebhookAck,
              responses=_problems(401, 413, 422, 503))
    async def chatwoot_webhook(request: Request) -> Any:
        """Chatwoot's account webhook (events message_created, conversation_created, conversation_status_changed),
        verified by ``X-Chatwoot-Signature`` over ``X-Chatwoot-Timestamp`` and the raw body."""
        from .channels import chatwoot

        secret = settings.chatwoot_webhook_secret.get_secret_value()
        if not secret:
            raise HTTPException(503, "the Chatwoot webhook is not set up here: set TANDEM_CHATWOOT_WEBHOOK_SECRET "
                                     "to the webhook's secret")
        stamp = request.headers.get("x-chatwoot-timestamp", "").strip()
        signature = request.headers.get("x-chatwoot-signature", "").strip()
        if not signature:
            raise HTTPException(401, "X-Chatwoot-Signature: missing (give the Chatwoot webhook a secret)")
        _fresh(_unix(stamp) if stamp else None, settings, "X-Chatwoot-Timestamp")
        raw = await request.body()
        if not chatwoot.verify_signature(secret, stamp, raw, signature):
            raise HTTPException(401, "X-Chatwoot-Signature: does not match the body (check "
                                     "TANDEM_CHATWOOT_WEBHOOK_SECRET)")
        delivery = (request.headers.get("x-chatwoot-delivery", "").strip()
                    or hashlib.sha256(stamp.encode() + b"." + raw).hexdigest())[:200]
        return await run_in_threadpool(_chatwoot, delivery, raw)

    def _chatwoot(delivery: str, raw: bytes) -> WebhookAck:
        from .channels import chatwoot

        if _seen(db, "chatwoot", delivery):
            return WebhookAck(status="duplicate")
        event = chatwoot.parse(_json_object(raw), channels)
        ticket_id: str | None = None
        outcome = event.ignored
        if event.messages:
            got = [receive(db, m) for m in event.messages]
            ticket_id = got[-1].ticket_id
            added = sum(1 for g in got if not g.duplicate)
            outcome = f"{added} message(s) received" + (f", {len(got) - added} seen before" if added < len(got)
                                                          else "")
        elif event.resolve:
            ticket_id, outcome = chatwoot.resolve_conversation(db, "chatwoot", event.resolve, "chatwoot")
        _record(db, "chatwoot", delivery, event.kind, ticket_id, outcome)
        status: Literal["ok", "ignored"] = "ok" if (event.messages or event.resolve) else "ignored"
        return WebhookAck(status=status, event=event.kind, ticket_id=ticket_id, detail=outcome)

    @app.post(f"{PREFIX}/webhooks/zendesk", tags=["webhooks"], response_model=WebhookAck,
              responses=_problems(401, 413, 422, 503))
    async def zendesk_webhook(request: Request) -> Any:
        """A Zendesk trigger's webhook (JSON template in the README), verified by ``X-Zendesk-Webhook-Signature``
        over ``X-Zendesk-Webhook-Signature-Timestamp`` and the raw body."""
        from .channels import zendesk

        secret = settings.zendesk_webhook_secret.get_secret_value()
        if not secret:
            raise HTTPException(503, "the Zendesk webhook is not set up here: set TANDEM_ZENDESK_WEBHOOK_SECRET to "
                                     "the webhook's signing secret")
        stamp = request.headers.get("x-zendesk-webhook-signature-timestamp", "").strip()
        signature = request.headers.get("x-zendesk-webhook-signature", "").strip()
        if not signature:
            raise HTTPException(401, "X-Zendesk-Webhook-Signature: missing")
        _fresh(_iso(stamp) if stamp else None, settings, "X-Zendesk-Webhook-Signature-Timestamp")
        raw = await request.body()
        if not zendesk.verify_signature(secret, stamp, raw, signature):
            raise HTTPException(401, "X-Zendesk-Webhook-Signature: does not match the body (check "
                                     "TANDEM_ZENDESK_WEBHOOK_SECRET)")
        delivery = (request.headers.get("x-zendesk-webhook-invocation-id", "").strip()
                    or hashlib.sha256(stamp.encode() + raw).hexdigest())[:200]
        return await run_in_threadpool(_zendesk, delivery, raw)

    def _zendesk(delivery: str, raw: bytes) -> WebhookAck:
        from .channels import zendesk

        if _seen(db, "zendesk", delivery):
            return WebhookAck(status="duplicate")
        msg, why = zendesk.parse(_json_object(raw), channels)
        if msg is None:
            _record(db, "zendesk", delivery, "trigger", None, why)
            return WebhookAck(status="ignored", event="trigger", detail=why)
        got = receive(db, msg)
        outcome = "seen before" if got.duplicate else "message received"
        _record(db, "zendesk", delivery, "trigger", got.ticket_id, outcome)
        return WebhookAck(status="ok", event="trigger", ticket_id=got.ticket_id, detail=outcome)

    @app.post(f"{PREFIX}/webhooks/zammad", tags=["webhooks"], response_model=WebhookAck,
              responses=_problems(401, 413, 422, 503))
    async def zammad_webhook(request: Request) -> Any:
        """A Zammad trigger's webhook (default payload: ``ticket`` and ``article``), verified by ``X-Hub-Signature``
        (HMAC-SHA1 of the raw body with the webhook's signature token) and read once by ``X-Zammad-Delivery``.
        Zammad sends no timestamp, so there is no age check: a replayed request is recognised by its delivery id,
        and its article by its id."""
        from .channels import zammad

        secret = settings.zammad_webhook_secret.get_secret_value()
        if not secret:
            raise HTTPException(503, "the Zammad webhook is not set up here: set TANDEM_ZAMMAD_WEBHOOK_SECRET to "
                                     "the webhook's HMAC SHA1 signature token")
        signature = request.headers.get("x-hub-signature", "").strip()
        if not signature:
            raise HTTPException(401, "X-Hub-Signature: missing (give the Zammad webhook an HMAC SHA1 signature "
                                     "token)")
        raw = await request.body()
        if not zammad.verify_signature(secret, raw, signature):
            raise HTTPException(401, "X-Hub-Signature: does not match the body (check TANDEM_ZAMMAD_WEBHOOK_SECRET)")
        delivery = (request.headers.get("x-zammad-delivery", "").strip() or hashlib.sha256(raw).hexdigest())[:200]
        trigger = one_line(request.headers.get("x-zammad-trigger", ""), 60) or "trigger"
        return await run_in_threadpool(_zammad, delivery, trigger, raw)

    def _zammad(delivery: str, trigger: str, raw: bytes) -> WebhookAck:
        from .channels import zammad

        if _seen(db, "zammad", delivery):
            return WebhookAck(status="duplicate")
        msg, why = zammad.parse(_json_object(raw), channels)
        if msg is None:
            _record(db, "zammad", delivery, trigger, None, why)
            return WebhookAck(status="ignored", event=trigger, detail=why)
        got = receive(db, msg)
        outcome = "seen before" if got.duplicate else "message received"
        _record(db, "zammad", delivery, trigger, got.ticket_id, outcome)
        return WebhookAck(status="ok", event=trigger, ticket_id=got.ticket_id, detail=outcome)

    @app.post(f"{PREFIX}/webhooks/helpdesk", tags=["webhooks"], response_model=WebhookAck,
              responses=_problems(401, 413, 422, 503))
    async def helpdesk_webhook(request: Request, token: str = Query("", description="TANDEM_HELPDESK_WEBHOOK_TOKEN")
                               ) -> Any:
        """django-helpdesk's webhook (not signed): the URL's ``token`` must be TANDEM_HELPDESK_WEBHOOK_TOKEN."""
        expected = settings.helpdesk_webhook_token.get_secret_value()
        if not expected:
            raise HTTPException(503, "the helpdesk webhook is not set up here: set TANDEM_HELPDESK_WEBHOOK_TOKEN")
        if not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
            raise HTTPException(401, "token: wrong or missing (the webhook URL's ?token=)")
        raw = await request.body()
        return await run_in_threadpool(_helpdesk, raw)

    def _helpdesk(raw: bytes) -> WebhookAck:
        try:
            module = importlib.import_module("cx_core.channels.helpdesk")
        except ModuleNotFoundError as exc:
            if exc.name != "cx_core.channels.helpdesk":
                raise
            module = None
        handle = getattr(module, "handle_webhook", None)
        if handle is None:
            raise HTTPException(503, "the helpdesk channel is not installed")
        delivery = hashlib.sha256(raw).hexdigest()
        if _seen(db, "helpdesk", delivery):
            return WebhookAck(status="duplicate")
        result = handle(db, settings, _json_object(raw)) or {}
        ticket_id = result.get("ticket_id")
        detail = one_line(result.get("detail") or result.get("reason") or result.get("outcome") or "")
        event = str(result.get("event") or "")
        status: Literal["ok", "ignored"] = "ignored" if result.get("status") == "ignored" else "ok"
        _record(db, "helpdesk", delivery, event, str(ticket_id) if ticket_id else None, detail or status)
        return WebhookAck(status=status, event=event, ticket_id=str(ticket_id) if ticket_id else None, detail=detail)

    return app


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
