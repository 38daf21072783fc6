"""Zammad against the real API server and a stand-in for its REST API: signed trigger webhooks are verified before
they are read and each delivery is read once; replies are posted once as ticket articles.

The webhook bodies have Zammad's default payload shape (``TriggerWebhookJob#default_payload``: ``ticket`` and
``article`` as ``TriggerWebhookJob::RecordPayload`` builds them, as in Zammad's admin documentation, "Webhook
Payload"), signed as ``UserAgent.set_signature`` does: ``X-Hub-Signature: sha1=<hex HMAC-SHA1(token, body)>``, with
``X-Zammad-Trigger`` and ``X-Zammad-Delivery``. The stand-in service records every request and keeps the articles
posted to it; it answers ``GET /api/v1/ticket_articles/by_ticket/ID`` and ``POST /api/v1/ticket_articles`` as Zammad
does (a list of articles; the new article with 201).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update

from cx_core import delivery, outbox
from cx_core.channels import zammad
from cx_core.config import Settings
from cx_core.conversations import thread
from cx_core.store.db import utcnow
from cx_core.store.tables import MessageRow, NotificationRow, TicketRow, WebhookDeliveryRow
from tests.helpers import HTTP
from tests.servers.stub import JsonHandler, Seen, serving
from tests.test_api import Api, count_messages, running_api

pytestmark = pytest.mark.api

SECRET = "zammad-hmac-sha1-token-for-tests"
API_TOKEN = "zammad-agent-access-token"
CUSTOMER = "emily.adams@example.com"
TRIGGER = "Tandem: article created by customer"


@pytest.fixture(scope="module")
def api(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(world, tmp_path_factory.mktemp("zammad"), {"TANDEM_ZAMMAD_WEBHOOK_SECRET": SECRET}) as running:
        yield running


# ------------------------------------------------------------------ Zammad's payloads
def _user(user_id: int, email: str, roles: list[str], first: str, last: str) -> dict[str, Any]:
    """A user as the payload embeds one (``associated_record_attributes``: no password, preferences, groups)."""
    return {"active": True, "created_at": "2026-11-13T12:57:47.679Z", "created_by": "-", "created_by_id": 1,
            "email": email, "firstname": first, "id": user_id, "image": None, "lastname": last, "login": email,
            "organization": None, "organization_id": None, "out_of_office": False, "phone": "+34 600 111 222",
            "mobile": "", "role_ids": [3] if roles == ["Customer"] else [2], "roles": roles,
            "updated_at": "2026-11-13T13:00:03.064Z", "updated_by": "-", "updated_by_id": 1, "verified": False,
            "vip": False}


CUSTOMER_USER = _user(8, CUSTOMER, ["Customer"], "Emily", "Adams")
AGENT_USER = _user(5, "emma@lumen.example", ["Agent"], "Emma", "Taylor")


def payload(ticket_id: int, article_id: int, body: str, *, sender: str = "Customer", internal: bool = False,
            article_type: str = "email", content_type: str = "text/html", title: str = "My parcel never arrived"
            ) -> dict[str, Any]:
    """Zammad's default webhook payload for an article created on a ticket."""
    by = CUSTOMER_USER if sender == "Customer" else AGENT_USER
    ticket = {"article_count": 1, "article_ids": [article_id], "create_article_sender": "Customer",
              "create_article_sender_id": 2, "create_article_type": article_type, "create_article_type_id": 1,
              "created_at": "2026-11-13T14:34:35.282Z", "created_by": CUSTOMER_USER, "created_by_id": 8,
              "customer": CUSTOMER_USER, "customer_id": 8, "group": {"id": 1, "name": "Users", "active": True},
              "group_id": 1, "id": ticket_id, "number": f"3100{ticket_id}", "owner": {}, "owner_id": 1,
              "priority": {"id": 2, "name": "2 normal"}, "priority_id": 2, "state": "new", "state_id": 1,
              "title": title, "updated_at": "2026-11-13T14:34:35.333Z", "updated_by": by, "updated_by_id": by["id"]}
    article = {"attachments": [], "body": body, "cc": None, "content_type": content_type,
               "created_at": "2026-11-13T14:34:35.318Z", "created_by": by, "created_by_id": by["id"],
               "from": f"{by['firstname']} {by['lastname']} <{by['email']}>", "id": article_id,
               "internal": internal, "message_id": f"<{uuid.uuid4().hex}@mail.example.com>", "origin_by_id": None,
               "sender": sender, "sender_id": {"Agent": 1, "Customer": 2, "System": 3}[sender],
               "subject": title, "ticket_id": ticket_id, "to": "Lumen Care <care@lumen.example>",
               "type": article_type, "type_id": 1, "updated_at": "2026-11-13T14:34:35.318Z", "updated_by": by,
               "updated_by_id": by["id"], "accounted_time": 0}
    return {"ticket": ticket, "article": article}


def post_zammad(api: Api, body: dict[str, Any], delivery_id: str | None = None, secret: str = SECRET,
                signed: bool = True) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Zammad User Agent",
               "X-Zammad-Trigger": TRIGGER, "X-Zammad-Delivery": delivery_id or str(uuid.uuid4())}
    if signed:
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()
    return HTTP.post(f"{api.url}/api/v1/webhooks/zammad", content=raw, headers=headers, timeout=30)


def ticket_row(api: Api, ticket_id: str) -> TicketRow | None:
    with api.db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is not None:
            s.expunge(row)
        return row


def deliveries(api: Api) -> int:
    with api.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(WebhookDeliveryRow)
                            .where(WebhookDeliveryRow.provider == "zammad")) or 0)


# ------------------------------------------------------------------ webhooks
def test_a_signed_customer_article_opens_a_ticket_once_and_the_next_one_joins_it(api: Api) -> None:
    html = ("<div>Hello, my parcel W1000001 never arrived.</div><div><br></div><div>Can you check?</div>"
            "<blockquote type=\"cite\">On Mon, 9 Nov 2026 at 10:00, Lumen Care &lt;care@lumen.example&gt; wrote:"
            "<br>Your order has shipped.</blockquote>")
    first = post_zammad(api, payload(81, 104, html), "8e3b1c0a-41a4-4f55-9d0e-6c2f1d9e7a10")
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "ok", "event": TRIGGER, "ticket_id": "zammad-81", "detail": "message received"}
    row = ticket_row(api, "zammad-81")
    assert row is not None
    assert (row.source, row.channel, row.external_ref, row.customer_ref, row.subject) == (
        "zammad", "email", "zammad:81", CUSTOMER, "My parcel never arrived")
    with api.db.session() as s:
        body = s.scalar(select(MessageRow.body).where(MessageRow.external_id == "zammad:104"))
    assert body == "Hello, my parcel W1000001 never arrived.\n\nCan you check?"

    again = post_zammad(api, payload(81, 104, html), "8e3b1c0a-41a4-4f55-9d0e-6c2f1d9e7a10")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert count_messages(api.db, "zammad-81") == 1

    more = post_zammad(api, payload(81, 107, "Any news? It is a gift.", content_type="text/plain"))
    assert more.status_code == 200 and more.json()["ticket_id"] == "zammad-81"
    with api.db.session() as s:
        got = s.execute(select(MessageRow.external_id, MessageRow.direction).where(
            MessageRow.ticket_id == "zammad-81").order_by(MessageRow.id)).all()
        same = s.scalar(select(func.count()).select_from(TicketRow).where(TicketRow.external_ref == "zammad:81"))
    assert [tuple(r) for r in got] == [("zammad:104", "in"), ("zammad:107", "in")]
    assert same == 1


def test_agents_articles_internal_notes_and_system_lines_are_ignored(api: Api) -> None:
    assert post_zammad(api, payload(82, 201, "Where is my refund?", content_type="text/plain")).status_code == 200
    before = deliveries(api)
    reply = post_zammad(api, payload(82, 202, "We are on it.", sender="Agent"))
    assert reply.status_code == 200 and reply.json()["status"] == "ignored"
    assert "agent" in reply.json()["detail"]
    note = post_zammad(api, payload(82, 203, "VIP, refund at once", sender="Agent", internal=True, article_type="note"))
    assert note.json()["status"] == "ignored"
    customer_note = post_zammad(api, payload(82, 204, "private remark", internal=True))
    assert customer_note.json() == {"status": "ignored", "event": TRIGGER, "ticket_id": None,
                                    "detail": "an internal note"}
    system = post_zammad(api, payload(82, 205, "Ticket escalated", sender="System"))
    assert system.json()["status"] == "ignored"
    no_article = post_zammad(api, {**payload(82, 206, "x"), "article": {}})
    assert no_article.json()["status"] == "ignored"
    assert count_messages(api.db, "zammad-82") == 1
    assert deliveries(api) == before + 5


def test_a_bad_or_missing_signature_is_401_and_nothing_is_stored(api: Api) -> None:
    before = deliveries(api)
    forged = post_zammad(api, payload(83, 301, "Refund me now."), secret="not-the-token")
    assert forged.status_code == 401
    assert "X-Hub-Signature" in forged.json()["detail"] and "\n" not in forged.json()["detail"]
    unsigned = post_zammad(api, payload(83, 302, "Refund me now."), signed=False)
    assert unsigned.status_code == 401 and "missing" in unsigned.json()["detail"]
    raw = json.dumps(payload(83, 303, "Refund me now.")).encode()
    tampered = HTTP.post(f"{api.url}/api/v1/webhooks/zammad", content=raw.replace(b"Refund", b"Refund 9999 EUR"),
                          headers={"X-Hub-Signature": "sha1=" + hmac.new(SECRET.encode(), raw, hashlib.sha1)
                                   .hexdigest(), "X-Zammad-Delivery": "tampered-1"}, timeout=10)
    assert tampered.status_code == 401
    assert ticket_row(api, "zammad-83") is None
    assert deliveries(api) == before


def test_the_article_type_chooses_the_channel(api: Api) -> None:
    whatsapp = post_zammad(api, payload(84, 401, "Hi, my order is late", article_type="whatsapp message",
                                        content_type="text/plain"))
    assert whatsapp.status_code == 200
    web = post_zammad(api, payload(85, 402, "<p>Question from the form</p>", article_type="web"))
    assert web.status_code == 200
    assert [(r.channel if r else None) for r in (ticket_row(api, "zammad-84"), ticket_row(api, "zammad-85"))] == [
        "whatsapp", "chat"]
    without = ("email", "chat", "phone", "social")
    assert [zammad.channel_for(t, without) for t in ("email", "web", "chat", "phone", "sms", "whatsapp message",
                                                     "telegram personal-message", "fax", "twitter status")] == [
        "email", "chat", "chat", "phone", "chat", "chat", "chat", "email", "email"]


# ------------------------------------------------------------------ replies, against a stand-in for Zammad's API

@dataclass
class Stub:
    """What the stand-in received, the articles it keeps by ticket, and the answers it gives next (``fail``: path →
    statuses; a 5xx with ``keep`` still stores the post, like an answer lost on the way back)."""

    requests: list[Seen] = field(default_factory=list)
    articles: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    fail: dict[str, list[int]] = field(default_factory=dict)
    keep: bool = False
    next_id: int = 5000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, method: str, path: str) -> list[Seen]:
        return [r for r in self.requests if r.method == method and r.path == path]


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        content_type = "application/json; charset=utf-8"

        def _serve(self) -> None:
            seen = self._seen()
            body = seen.body
            with stub.lock:
                stub.requests.append(seen)
                forced = stub.fail.get(self.path, [])
                status = forced.pop(0) if forced else 0
                stub.next_id += 1
                new_id = stub.next_id
            if self.headers.get("Authorization") != f"Token token={API_TOKEN}":
                self._answer(401, {"error": "Invalid token!"})
                return
            if status >= 400 and not (stub.keep and status >= 500):
                self._answer(status, {"error": f"stub refused with {status}", "error_human": "Not found"})
                return
            if self.command == "GET" and self.path.startswith("/api/v1/ticket_articles/by_ticket/"):
                self._answer(status or 200, list(stub.articles.get(int(self.path.rsplit("/", 1)[1]), [])))
                return
            if self.command == "POST" and self.path == "/api/v1/ticket_articles":
                article = {"id": new_id, "sender": "Agent", "sender_id": 1, "created_by_id": 5,
                           "from": "Lumen Care", **body}
                stub.articles.setdefault(int(body["ticket_id"]), []).append(article)
                self._answer(status or 201, article if status < 400 else {"error": "upstream timeout"})
                return
            self._answer(404, {"error": "No route matches"})

        do_GET = do_POST = _serve

    return Handler


@pytest.fixture(scope="module")
def stub() -> Iterator[tuple[Stub, str]]:
    state = Stub()
    with serving(_handler(state)) as url:
        yield state, url


@pytest.fixture
def replying(api: Api, stub: tuple[Stub, str]) -> Settings:
    """Settings with Zammad's reply side (replies to Zammad tickets go back to Zammad)."""
    assert outbox.REPLY_DESTINATIONS["zammad"] == "zammad"
    return api.settings.model_copy(update={"zammad_url": stub[1], "zammad_api_token": SecretStr(API_TOKEN),
                                           "delivery_max_attempts": 3})


def queue_reply(api: Api, ticket_id: str, body: str) -> int:
    with api.db.tx() as s:
        row = s.get(TicketRow, ticket_id)
        assert row is not None
        queued = outbox.reply(s, row, row.customer_ref or "", f"Re: {row.subject}", body, "ada", "lumen.example")
    assert queued["destination"] == "zammad"
    return int(queued["notification_id"])


def notification(api: Api, nid: int) -> NotificationRow:
    with api.db.session() as s:
        row = s.get(NotificationRow, nid)
        assert row is not None
        s.expunge(row)
        return row


def dispatch(api: Api, settings: Settings, nid: int) -> NotificationRow:
    """Makes the message due now and runs the dispatcher once."""
    with api.db.tx() as s:
        s.execute(update(NotificationRow).where(NotificationRow.id == nid).values(next_attempt_at=utcnow()))
    delivery.run_once(api.db, settings, limit=500)
    return notification(api, nid)


def test_a_reply_is_one_email_article_even_when_the_answer_is_lost(api: Api, stub: tuple[Stub, str],
                                                                    replying: Settings) -> None:
    state, _ = stub
    assert post_zammad(api, payload(91, 901, "My parcel is a week late.", content_type="text/plain")).status_code \
        == 200
    nid = queue_reply(api, "zammad-91", "Your parcel left our warehouse this morning.")
    state.keep, state.fail["/api/v1/ticket_articles"] = True, [502]  # stored in Zammad, the answer lost
    first = dispatch(api, replying, nid)
    assert first.status == "retrying" and "502" in (first.last_error or "")
    listed = state.of("GET", "/api/v1/ticket_articles/by_ticket/91")
    post = state.of("POST", "/api/v1/ticket_articles")[0]
    assert listed and listed[0].headers["authorization"] == f"Token token={API_TOKEN}"
    assert post.headers["authorization"] == f"Token token={API_TOKEN}"
    assert post.headers["content-type"].startswith("application/json")
    assert post.body == {"ticket_id": 91, "body": "Your parcel left our warehouse this morning.",
                         "content_type": "text/plain", "type": "email", "internal": False,
                         "subject": "Re: My parcel never arrived", "to": CUSTOMER}

    done = dispatch(api, replying, nid)
    assert done.status == "delivered"
    assert len(state.of("POST", "/api/v1/ticket_articles")) == 1  # the retry found its article and did not post
    assert done.remote_id == str(state.articles[91][0]["id"])
    assert thread(api.db, "zammad-91")[-1]["external_id"] == f"zammad:{done.remote_id}"

    echo = payload(91, int(done.remote_id or 0), "Your parcel left our warehouse this morning.", sender="Agent")
    assert post_zammad(api, echo).json()["status"] == "ignored"  # Tandem's own reply, fired back by a trigger
    assert count_messages(api.db, "zammad-91") == 2


def test_a_chat_ticket_is_answered_with_a_public_web_article(api: Api, stub: tuple[Stub, str],
                                                            replying: Settings) -> None:
    state, _ = stub
    state.keep = False
    assert post_zammad(api, payload(92, 911, "Is the blue kettle in stock?", article_type="web")).status_code == 200
    nid = queue_reply(api, "zammad-92", "Yes, the blue kettle ships tomorrow.")
    assert dispatch(api, replying, nid).status == "delivered"
    sent = state.of("POST", "/api/v1/ticket_articles")[-1].body
    assert (sent["ticket_id"], sent["type"], sent["internal"], "to" in sent) == (92, "web", False, False)


def test_a_5xx_is_retried_and_a_4xx_fails_with_its_reason(api: Api, stub: tuple[Stub, str],
                                                         replying: Settings) -> None:
    state, _ = stub
    state.keep = False
    assert post_zammad(api, payload(93, 921, "Hello?", content_type="text/plain")).status_code == 200
    flaky = queue_reply(api, "zammad-93", "Hello from Lumen Care.")
    state.fail["/api/v1/ticket_articles"] = [500]
    row = dispatch(api, replying, flaky)
    assert row.status == "retrying" and row.next_attempt_at is not None
    assert row.last_error and "Zammad answered 500" in row.last_error and "\n" not in row.last_error
    assert dispatch(api, replying, flaky).status == "delivered"
    assert len([a for a in state.articles[93] if a["body"] == "Hello from Lumen Care."]) == 1

    assert post_zammad(api, payload(94, 931, "Hi", content_type="text/plain")).status_code == 200
    refused = queue_reply(api, "zammad-94", "A reply to a ticket Zammad no longer has.")
    state.fail["/api/v1/ticket_articles/by_ticket/94"] = [404]
    row = dispatch(api, replying, refused)
    assert row.status == "failed" and row.next_attempt_at is None
    assert "Zammad answered 404" in (row.last_error or "") and "\n" not in (row.last_error or "")
    assert 94 not in state.articles


def test_without_its_settings_zammad_is_off(api: Api, replying: Settings) -> None:
    assert zammad.from_settings(api.settings) is None
    assert "zammad" not in delivery.deliverers(api.settings)
    assert delivery.deliverers(replying)["zammad"].name == "zammad"
