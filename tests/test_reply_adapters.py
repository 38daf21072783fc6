"""Replies leave through their ticket's own channel: the dispatcher (``delivery.run_once``) against a small HTTP
service standing in for Chatwoot's and Zendesk's reply APIs and for a team's outbound webhook, which records every
request. A retry after a lost answer never posts twice; a 5xx is retried with its reason shown, a 4xx is final."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import update

from cx_core import conversations, delivery, outbox
from cx_core.config import Settings
from cx_core.conversations import Inbound
from cx_core.services import Services
from cx_core.store.db import utcnow
from cx_core.store.tables import NotificationRow, TicketRow
from tests.conftest import copy_world
from tests.servers.stub import JsonHandler, Seen, serving

pytestmark = pytest.mark.api

CW_TOKEN = "cw-agent-token"
ZD_EMAIL, ZD_TOKEN = "bot@lumen.example", "zd-api-token"
HOOK_SECRET = "outbound-secret"



@dataclass
class Stub:
    """What the stand-in service received, what it keeps (messages, comments) and the answers it is told to give
    next (``fail``: path → statuses; a 5xx after ``keep`` still stores the post, like an answer lost on the way)."""

    requests: list[Seen] = field(default_factory=list)
    chatwoot: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    zendesk: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fail: dict[str, list[int]] = field(default_factory=dict)
    keep: bool = False
    next_id: int = 1000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, method: str, path: str) -> list[Seen]:
        return [r for r in self.requests if r.method == method and r.path.split("?")[0] == path]


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _serve(self) -> None:
            seen = self._seen()
            body = seen.body
            path = self.path.split("?")[0]
            with stub.lock:
                stub.requests.append(seen)
                forced = stub.fail.get(path, [])
                status = forced.pop(0) if forced else 200
                stub.next_id += 1
                new_id = stub.next_id
            if status >= 400 and not (stub.keep and status >= 500):
                self._answer(status, {"error": f"stub refused with {status}", "description": "Invalid request"})
                return
            data = self._store(path, body, new_id)
            self._answer(status, data if status < 400 else {"error": "upstream timeout"})

        def _store(self, path: str, body: Any, new_id: int) -> Any:
            parts = path.strip("/").split("/")
            if path.startswith("/api/v1/accounts/") and parts[-1] == "messages":
                conv = stub.chatwoot.setdefault(parts[-2], [])
                if self.command == "GET":
                    return {"meta": {"labels": [], "contact": {}}, "payload": list(conv)}
                message = {"id": new_id, "content": body["content"], "message_type": 1, "private": body["private"],
                           "content_attributes": body.get("content_attributes") or {}, "conversation_id": parts[-2]}
                conv.append(message)
                return message
            if path.startswith("/api/v2/tickets/") and path.endswith("/comments.json"):
                return {"comments": list(reversed(stub.zendesk.get(parts[-2], []))), "next_page": None}
            if path.startswith("/api/v2/tickets/") and path.endswith(".json"):
                ticket = parts[-1].removesuffix(".json")
                comment = {"id": new_id, "type": "Comment", "body": body["ticket"]["comment"]["body"],
                           "plain_body": body["ticket"]["comment"]["body"], "public": True}
                stub.zendesk.setdefault(ticket, []).append(comment)
                return {"ticket": {"id": int(ticket), "status": "open"}, "audit": {"events": [comment]}}
            return {"id": f"hook-{new_id}", "received": True}

        do_GET = do_POST = do_PUT = _serve

    return Handler


@pytest.fixture(scope="module")
def stub() -> Iterator[tuple[Stub, str]]:
    state = Stub()
    with serving(_handler(state)) as url:
        yield state, url


@pytest.fixture(scope="module")
def svc(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = Services(copy_world(world, tmp_path_factory.mktemp("replies")))
    services.db.migrate()
    yield services
    services.close()


@pytest.fixture(scope="module")
def settings(svc: Services, stub: tuple[Stub, str]) -> Settings:
    url = stub[1]
    return svc.settings.model_copy(update={
        "chatwoot_url": url, "chatwoot_account_id": "7", "chatwoot_api_token": SecretStr(CW_TOKEN),
        "zendesk_url": url, "zendesk_email": ZD_EMAIL, "zendesk_api_token": SecretStr(ZD_TOKEN),
        "outbound_webhook_url": f"{url}/hooks/tandem", "outbound_webhook_secret": SecretStr(HOOK_SECRET),
        "delivery_max_attempts": 3})


def queue_reply(svc: Services, msg: Inbound, body: str) -> tuple[str, int]:
    """A ticket received through ``msg``'s channel with a reply queued to it: (ticket id, outbox row id)."""
    got = conversations.receive(svc.db, msg)
    with svc.db.tx() as s:
        row = s.get(TicketRow, got.ticket_id)
        assert row is not None
        queued = outbox.reply(s, row, row.customer_ref or "", f"Re: {row.subject}", body, "ada", "lumen.example")
    return got.ticket_id, int(queued["notification_id"])


def notification(svc: Services, nid: int) -> NotificationRow:
    with svc.db.session() as s:
        row = s.get(NotificationRow, nid)
        assert row is not None
        s.expunge(row)
        return row


def due_now(svc: Services, nid: int) -> None:
    with svc.db.tx() as s:
        s.execute(update(NotificationRow).where(NotificationRow.id == nid).values(next_attempt_at=utcnow()))


def test_a_chatwoot_reply_is_posted_once_even_when_the_answer_is_lost(svc: Services, settings: Settings,
                                                                      stub: tuple[Stub, str]) -> None:
    state, _ = stub
    ticket_id, nid = queue_reply(svc, Inbound(source="chatwoot", conversation="301", external_id="cw-9001",
                                              channel="chat", customer="ana@example.com",
                                              body="My order arrived broken."),
                                 "I'm sorry about that: a replacement is on its way.")
    path = "/api/v1/accounts/7/conversations/301/messages"
    state.keep, state.fail[path] = True, [200, 502]  # the GET is fine; the POST is stored, its answer lost
    delivery.run_once(svc.db, settings)
    first = notification(svc, nid)
    assert first.status == "retrying" and "502" in (first.last_error or "")
    post = state.of("POST", path)[0]
    assert post.headers["api_access_token"] == CW_TOKEN
    assert post.body == {"content": "I'm sorry about that: a replacement is on its way.", "message_type": "outgoing",
                         "private": False, "content_attributes": {"tandem_key": first.idempotency_key}}

    due_now(svc, nid)
    delivery.run_once(svc.db, settings)
    done = notification(svc, nid)
    assert done.status == "delivered"
    assert len(state.of("POST", path)) == 1  # the retry found its message and did not post again
    assert done.remote_id == str(state.chatwoot["301"][0]["id"])
    thread = conversations.thread(svc.db, ticket_id)
    assert thread[-1]["direction"] == "out" and thread[-1]["external_id"] == f"chatwoot:{done.remote_id}"


def test_a_zendesk_reply_is_a_public_comment_added_once(svc: Services, settings: Settings,
                                                        stub: tuple[Stub, str]) -> None:
    state, _ = stub
    _, nid = queue_reply(svc, Inbound(source="zendesk", conversation="4401", external_id="88001",
                                      customer="ana@example.com", body="Where is my parcel?"),
                         "Your parcel left our warehouse this morning.")
    put = "/api/v2/tickets/4401.json"
    state.keep, state.fail[put] = True, [503]
    delivery.run_once(svc.db, settings)
    assert notification(svc, nid).status == "retrying"
    sent = state.of("PUT", put)[0]
    expected_auth = base64.b64encode(f"{ZD_EMAIL}/token:{ZD_TOKEN}".encode()).decode()
    assert sent.headers["authorization"] == f"Basic {expected_auth}"
    assert sent.headers["idempotency-key"] == notification(svc, nid).idempotency_key
    assert sent.body == {"ticket": {"comment": {"body": "Your parcel left our warehouse this morning.",
                                                "public": True}}}
    assert state.of("GET", "/api/v2/tickets/4401/comments.json")

    due_now(svc, nid)
    delivery.run_once(svc.db, settings)
    done = notification(svc, nid)
    assert done.status == "delivered" and done.remote_id == str(state.zendesk["4401"][0]["id"])
    assert len(state.of("PUT", put)) == 1


def test_an_api_ticket_reply_goes_to_the_signed_outbound_webhook(svc: Services, settings: Settings,
                                                                 stub: tuple[Stub, str]) -> None:
    state, _ = stub
    state.keep = False
    ticket_id, nid = queue_reply(svc, Inbound(source="api", ticket_id="API-OUT-1", customer="ana@example.com",
                                              subject="Invoice", body="Please send my invoice again."),
                                 "Here is your invoice again.")
    delivery.run_once(svc.db, settings)
    done = notification(svc, nid)
    assert done.status == "delivered" and (done.remote_id or "").startswith("hook-")
    hook = state.of("POST", "/hooks/tandem")[-1]
    assert hook.body == {"event": "reply", "ticket_id": ticket_id,
                         "message": {"body": "Here is your invoice again.", "subject": "Re: Invoice",
                                     "key": done.idempotency_key}}
    assert hook.headers["idempotency-key"] == done.idempotency_key
    stamp = hook.headers["x-tandem-timestamp"]
    raw = json.dumps(hook.body, ensure_ascii=False, separators=(",", ":")).encode()
    expected = hmac.new(HOOK_SECRET.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    assert hook.headers["x-tandem-signature"] == f"sha256={expected}"


def test_a_5xx_is_retried_with_its_reason_and_a_4xx_fails(svc: Services, settings: Settings,
                                                         stub: tuple[Stub, str]) -> None:
    state, _ = stub
    state.keep = False
    _, flaky = queue_reply(svc, Inbound(source="api", ticket_id="API-OUT-2", body="Hello?"), "Hello from Tandem.")
    state.fail["/hooks/tandem"] = [500]
    delivery.run_once(svc.db, settings)
    row = notification(svc, flaky)
    assert row.status == "retrying" and row.next_attempt_at is not None
    assert row.last_error and "500" in row.last_error and "\n" not in row.last_error
    first_key = state.of("POST", "/hooks/tandem")[-1].headers["idempotency-key"]
    due_now(svc, flaky)
    delivery.run_once(svc.db, settings)
    assert notification(svc, flaky).status == "delivered"
    assert state.of("POST", "/hooks/tandem")[-1].headers["idempotency-key"] == first_key  # same key on the retry

    _, refused = queue_reply(svc, Inbound(source="api", ticket_id="API-OUT-3", body="Hi"), "A reply they refuse.")
    state.fail["/hooks/tandem"] = [400]
    delivery.run_once(svc.db, settings)
    row = notification(svc, refused)
    assert row.status == "failed" and row.next_attempt_at is None
    assert "400" in (row.last_error or "") and "stub refused" in (row.last_error or "")


def test_without_settings_the_adapters_are_off(svc: Services) -> None:
    from cx_core.channels import chatwoot, outbound, zendesk

    assert chatwoot.from_settings(svc.settings) is None
    assert zendesk.from_settings(svc.settings) is None
    assert outbound.from_settings(svc.settings) is None
    assert delivery.deliverers(svc.settings)["api"].name == "api"  # replies to API tickets stay readable by GET
