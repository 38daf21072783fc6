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
import logging
import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from .. import api_tokens
from ..channels import chatwoot, helpdesk, zammad, zendesk
from ..channels.webhooks import Webhook, header_value, same_signature
from ..config import Settings
from ..conversations import Inbound, receive
from ..errors import ConfigError, ConnectorUnavailable, DatabaseBusy, InvalidInput, NotAuthorised, NotFound, TandemError
from ..models import control_characters, storable_text, unknown_channel
from ..store.db import Database, utcnow
from ..store.tables import TicketRow, WebhookDeliveryRow
from .guard import PREFIX, RETRY_AFTER_SECONDS, Guard, api_grant, need_scope, retry_after
from .shapes import (
    Health,
    MessageAdded,
    MessageCreate,
    TicketCreate,
    TicketCreated,
    TicketView,
    WebhookAck,
    as_utc,
    json_object,
    one_line,
    problem,
    problem_responses,
    ticket_view,
    utc,
    validation_detail,
)

log = logging.getLogger("tandem.api")



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

    @router.get("/health", response_model=Health, responses=problem_responses(503))
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
                                retry_after(wait))

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
                            **problem_responses(401, 403, 409, 413, 422, 429, 503)})
    def create_ticket(ticket: TicketCreate, response: Response, grant: api_tokens.Grant = Depends(api_grant)) -> Any:
        """Opens a ticket (stored only: the worker reads it). The same id again from the same token returns the
        existing ticket with 200 and adds nothing; an id another client's ticket has is 409."""
        need_scope(grant, "write")
        if ticket.channel not in channels:
            raise InvalidInput(f"channel: {unknown_channel(ticket.channel, channels)}")
        with db.session() as s:
            taken = s.get(TicketRow, ticket.id) is not None
        if taken:
            return existing(grant, ticket.id)
        quota(grant)
        got = receive(db, Inbound(source="api", ticket_id=ticket.id, external_id=f"ticket:{ticket.id}",
                                  body=ticket.body, subject=ticket.subject, customer=ticket.customer,
                                  channel=ticket.channel, created_at=utc(ticket.created_at), owner_token=grant.id))
        if not got.created:
            return existing(grant, got.ticket_id)
        log.info("%s opened ticket %s", grant.name, got.ticket_id)
        response.headers["Location"] = f"{PREFIX}/tickets/{quote(got.ticket_id, safe='')}"
        return TicketCreated(id=got.ticket_id)

    @router.post("/tickets/{ticket_id}/messages", status_code=201, response_model=MessageAdded,
                 responses={200: {"model": MessageAdded, "description": "This external_id was received before: "
                                                                        "nothing is added"},
                            **problem_responses(401, 403, 404, 409, 413, 422, 429, 503)})
    def add_message(ticket_id: str, message: MessageCreate, grant: api_tokens.Grant = Depends(api_grant)) -> Any:
        """Adds the customer's message to the ticket, which the agent reads again; the same ``external_id`` again
        adds nothing (200)."""
        need_scope(grant, "write")
        row = _reachable(db, grant, ticket_id)
        if row is None:
            raise NotFound(f"ticket {ticket_id} not found")
        quota(grant)
        # a token's message ids are its own: two clients may both number their messages from 1
        ext = f"t{grant.id}:{message.external_id}"
        got = receive(db, Inbound(source="api", ticket_id=ticket_id, external_id=ext, body=message.body,
                                  author="customer", direction="in", channel=row.channel,
                                  created_at=utc(message.created_at)))
        if got.duplicate:
            if got.ticket_id != ticket_id:
                raise HTTPException(409, f"external_id {message.external_id} was already used for a message of "
                                         f"ticket {got.ticket_id}")
            return JSONResponse({"ticket_id": got.ticket_id, "message_id": got.message_id}, status_code=200)
        log.info("%s added message %s to ticket %s", grant.name, got.message_id, got.ticket_id)
        return MessageAdded(ticket_id=got.ticket_id, message_id=got.message_id)

    @router.get("/tickets/{ticket_id}", response_model=TicketView, responses=problem_responses(401, 403, 404, 422, 429, 503))
    def get_ticket(ticket_id: str, grant: api_tokens.Grant = Depends(api_grant)) -> Any:
        """The ticket's status, its conversation (customer's messages and replies, never internal notes) and the
        agent's proposals with their decisions."""
        need_scope(grant, "read")
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
        age = time.time() - as_utc(at).timestamp()
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
        done = hook.handle(db, settings, json_object(raw), channels)
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
                         responses=problem_responses(401, 413, 422, 503), name=f"{hook.name}_webhook",
                         description=hook.events)
    return router


def _handlers(app: FastAPI) -> None:
    """Errors as ``{"detail": "one line"}`` with the right status; never a traceback."""
    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem(422, validation_detail(exc))

    async def http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return problem(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    async def tandem(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, InvalidInput):
            return problem(422, str(exc))
        if isinstance(exc, NotFound):
            return problem(404, str(exc))
        if isinstance(exc, NotAuthorised):
            return problem(403, str(exc))
        if isinstance(exc, DatabaseBusy | ConnectorUnavailable):
            return problem(503, str(exc), {"Retry-After": str(RETRY_AFTER_SECONDS)})
        if isinstance(exc, ConfigError):
            log.error("configuration problem: %s", exc)
            return problem(503, f"configuration problem: {exc}")
        return problem(400, str(exc))

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc)
        return problem(500, "something went wrong on our side; the details were logged for the operator")

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
