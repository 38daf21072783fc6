"""Signed helpdesk webhooks against the real API server: verified before they are read, each delivery read once.

The Chatwoot payloads have the shape Chatwoot builds them in (chatwoot/chatwoot: ``Message#webhook_data`` for
``message_created``; ``Conversations::EventDataPresenter#push_data`` for the conversation events and the message's
``conversation``; ``Contact#webhook_data`` / ``#push_event_data`` for senders; signed by ``Webhooks::Trigger`` with
``X-Chatwoot-Signature: sha256=HMAC(secret, "{timestamp}.{body}")``). The Zendesk body is the trigger template the
README documents, signed as Zendesk does: base64(HMAC-SHA256(secret, timestamp + body)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cx_core.config import Settings
from cx_core.store.tables import AuditRow, MessageRow, TicketRow, WebhookDeliveryRow
from tests.helpers import HTTP
from tests.test_api import Api, count_messages, count_tickets, running_api

pytestmark = pytest.mark.api

CHATWOOT_SECRET = "cw-webhook-secret-for-tests"
ZENDESK_SECRET = "zd-signing-secret-for-tests"
HELPDESK_TOKEN = "hd-url-token-for-tests"
CUSTOMER = "ana.ortiz@example.com"


@pytest.fixture(scope="module")
def api(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env = {"TANDEM_CHATWOOT_WEBHOOK_SECRET": CHATWOOT_SECRET, "TANDEM_ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
           "TANDEM_HELPDESK_WEBHOOK_TOKEN": HELPDESK_TOKEN}
    with running_api(world, tmp_path_factory.mktemp("webhooks"), env) as running:
        yield running


# ------------------------------------------------------------------ Chatwoot's payloads
def _contact_push(contact_id: int) -> dict[str, Any]:
    """``Contact#push_event_data``: the conversation's ``meta.sender``."""
    return {"additional_attributes": {}, "custom_attributes": {}, "email": CUSTOMER, "id": contact_id,
            "identifier": None, "name": "Ana Ortiz", "phone_number": "+34600111222", "thumbnail": "",
            "type": "contact"}


def _conversation(conv_id: int, contact_id: int, status: str = "open", last: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """``Conversations::EventDataPresenter#push_data`` of a web-widget conversation."""
    now = int(time.time())
    return {
        "additional_attributes": {"browser": {"device_name": "Unknown", "browser_name": "Firefox",
                                              "platform_name": "Linux", "browser_version": "133.0",
                                              "platform_version": ""},
                                  "referer": "https://shop.example.com/orders", "initiated_at": {
                                      "timestamp": "Mon Nov 23 2026 10:00:00 GMT+0000 (Coordinated Universal Time)"}},
        "can_reply": True, "channel": "Channel::WebWidget",
        "contact_inbox": {"id": 900 + contact_id, "contact_id": contact_id, "inbox_id": 4,
                          "source_id": str(uuid.uuid4()), "created_at": "2026-11-23T10:00:00.000Z",
                          "updated_at": "2026-11-23T10:00:00.000Z", "hmac_verified": False,
                          "pubsub_token": "Vx7fq2LbC5sYk1NwZpRu8dHe"},
        "id": conv_id, "inbox_id": 4, "messages": [last] if last else [], "labels": [],
        "meta": {"sender": _contact_push(contact_id), "assignee": None, "assignee_type": None, "team": None,
                 "hmac_verified": False},
        "status": status, "custom_attributes": {}, "snoozed_until": None, "unread_count": 1,
        "first_reply_created_at": None, "priority": None, "waiting_since": now, "agent_last_seen_at": 0,
        "contact_last_seen_at": now, "last_activity_at": now, "timestamp": now, "created_at": now - 60,
        "updated_at": now + 0.25,
    }


def _push_message(msg_id: int, conv_id: int, contact_id: int, content: str) -> dict[str, Any]:
    """``Message#push_event_data`` of an incoming message (``message_type`` 0), as in ``conversation.messages``."""
    return {"id": msg_id, "content": content, "account_id": 1, "inbox_id": 4, "conversation_id": conv_id,
            "message_type": 0, "created_at": int(time.time()), "updated_at": "2026-11-23T10:00:01.000Z",
            "private": False, "status": "sent", "source_id": None, "content_type": "text", "content_attributes": {},
            "sender_type": "Contact", "sender_id": contact_id, "external_source_ids": {},
            "additional_attributes": {}, "processed_message_content": content, "sentiment": {},
            "conversation": {"assignee_id": None, "unread_count": 1, "last_activity_at": int(time.time()),
                             "contact_inbox": {"source_id": "8d7c5b1e-3f4a-4c2b-9e6d-1a2b3c4d5e6f"}},
            "sender": _contact_push(contact_id)}


def message_created(msg_id: int, conv_id: int, content: str, contact_id: int = 31, message_type: str = "incoming",
                    private: bool = False, agent: bool = False) -> dict[str, Any]:
    """``Message#webhook_data`` merged with ``event: message_created``."""
    sender = ({"id": 2, "name": "Lee Agent", "email": "lee@lumen.example", "type": "user"} if agent else
              {"id": contact_id, "name": "Ana Ortiz", "avatar": "", "type": "contact",
               "account": {"id": 1, "name": "Lumen"}})
    return {"event": "message_created", "id": msg_id, "content": content,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"), "message_type": message_type,
            "content_type": "text", "private": private, "content_attributes": {}, "source_id": None,
            "additional_attributes": {}, "sender": sender, "inbox": {"id": 4, "name": "Lumen website"},
            "conversation": _conversation(conv_id, contact_id,
                                          last=_push_message(msg_id, conv_id, contact_id, content)),
            "account": {"id": 1, "name": "Lumen"}}


def conversation_created(conv_id: int, msg_id: int, content: str, contact_id: int = 32) -> dict[str, Any]:
    return {**_conversation(conv_id, contact_id, last=_push_message(msg_id, conv_id, contact_id, content)),
            "event": "conversation_created"}


def status_changed(conv_id: int, status: str, contact_id: int = 31) -> dict[str, Any]:
    return {**_conversation(conv_id, contact_id, status=status), "event": "conversation_status_changed",
            "changed_attributes": [{"status": {"previous_value": "open", "current_value": status}}]}


def post_chatwoot(api: Api, payload: dict[str, Any], delivery: str | None = None, secret: str = CHATWOOT_SECRET,
                  stamp: int | None = None, prefix: str = "sha256=") -> httpx.Response:
    body = json.dumps(payload).encode()
    ts = str(stamp if stamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Chatwoot-Signature": prefix + digest,
               "X-Chatwoot-Timestamp": ts, "X-Chatwoot-Delivery": delivery or str(uuid.uuid4())}
    return HTTP.post(f"{api.url}/api/v1/webhooks/chatwoot", content=body, headers=headers, timeout=30)


def ticket_row(api: Api, ticket_id: str) -> TicketRow | None:
    with api.db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is not None:
            s.expunge(row)
        return row


def deliveries(api: Api, provider: str) -> int:
    with api.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(WebhookDeliveryRow)
                            .where(WebhookDeliveryRow.provider == provider)) or 0)


# ------------------------------------------------------------------ Chatwoot
def test_a_chatwoot_message_opens_a_ticket_once_and_follow_ups_join_it(api: Api) -> None:
    delivery = str(uuid.uuid4())
    first = post_chatwoot(api, message_created(5001, 101, "My order W1000001 arrived damaged."), delivery)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "ok" and first.json()["ticket_id"] == "chatwoot-101"
    row = ticket_row(api, "chatwoot-101")
    assert row is not None
    assert (row.source, row.channel, row.external_ref, row.customer_ref) == ("chatwoot", "chat", "chatwoot:101",
                                                                             CUSTOMER)
    assert count_messages(api.db, "chatwoot-101") == 1

    again = post_chatwoot(api, message_created(5001, 101, "My order W1000001 arrived damaged."), delivery)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert count_messages(api.db, "chatwoot-101") == 1

    more = post_chatwoot(api, message_created(5002, 101, "The box was crushed, photos attached."))
    assert more.status_code == 200 and more.json()["ticket_id"] == "chatwoot-101"
    assert count_tickets(api.db, "chatwoot-101") == 1
    with api.db.session() as s:
        got = s.execute(select(MessageRow.external_id, MessageRow.direction).where(
            MessageRow.ticket_id == "chatwoot-101").order_by(MessageRow.id)).all()
    assert [tuple(r) for r in got] == [("chatwoot:5001", "in"), ("chatwoot:5002", "in")]


def test_a_signature_without_the_prefix_is_accepted(api: Api) -> None:
    got = post_chatwoot(api, message_created(5101, 111, "Hello, is anyone there?"), prefix="")
    assert got.status_code == 200 and got.json()["ticket_id"] == "chatwoot-111"


def test_a_bad_signature_or_a_stale_timestamp_is_401_and_nothing_is_stored(api: Api) -> None:
    before = deliveries(api, "chatwoot")
    forged = post_chatwoot(api, message_created(5201, 121, "Refund me now."), secret="not-the-secret")
    assert forged.status_code == 401
    assert "X-Chatwoot-Signature" in forged.json()["detail"] and "\n" not in forged.json()["detail"]
    stale = post_chatwoot(api, message_created(5202, 122, "Refund me now."), stamp=int(time.time()) - 3600)
    assert stale.status_code == 401 and "X-Chatwoot-Timestamp" in stale.json()["detail"]
    ahead = post_chatwoot(api, message_created(5203, 123, "Refund me now."), stamp=int(time.time()) + 3600)
    assert ahead.status_code == 401
    unsigned = HTTP.post(f"{api.url}/api/v1/webhooks/chatwoot", json=message_created(5204, 124, "Hi"), timeout=10)
    assert unsigned.status_code == 401
    for conv in (121, 122, 123, 124):
        assert ticket_row(api, f"chatwoot-{conv}") is None
    assert deliveries(api, "chatwoot") == before


def test_agents_replies_private_notes_and_other_events_are_ignored(api: Api) -> None:
    assert post_chatwoot(api, message_created(5301, 131, "Where is my refund?")).status_code == 200
    reply = post_chatwoot(api, message_created(5302, 131, "We are on it.", message_type="outgoing", agent=True))
    assert reply.status_code == 200 and reply.json()["status"] == "ignored"
    note = post_chatwoot(api, message_created(5303, 131, "VIP customer", private=True, agent=True))
    assert note.json()["status"] == "ignored"
    activity = post_chatwoot(api, message_created(5304, 131, "Conversation was marked resolved",
                                                  message_type="activity"))
    assert activity.json()["status"] == "ignored"
    other = post_chatwoot(api, {**status_changed(131, "open"), "event": "conversation_updated"})
    assert other.json()["status"] == "ignored"
    assert count_messages(api.db, "chatwoot-131") == 1


def test_conversation_created_reads_its_first_message_once(api: Api) -> None:
    created = post_chatwoot(api, conversation_created(141, 5401, "Can I change my delivery address?"))
    assert created.status_code == 200 and created.json()["ticket_id"] == "chatwoot-141"
    same = post_chatwoot(api, message_created(5401, 141, "Can I change my delivery address?", contact_id=32))
    assert same.status_code == 200
    assert count_messages(api.db, "chatwoot-141") == 1


def test_a_conversation_resolved_in_chatwoot_resolves_the_ticket(api: Api) -> None:
    assert post_chatwoot(api, message_created(5501, 151, "Thanks, all sorted.")).status_code == 200
    still_open = post_chatwoot(api, status_changed(151, "open"))
    assert still_open.json()["status"] == "ignored"
    resolved = post_chatwoot(api, status_changed(151, "resolved"))
    assert resolved.status_code == 200 and resolved.json()["ticket_id"] == "chatwoot-151"
    row = ticket_row(api, "chatwoot-151")
    assert row is not None and row.status == "resolved" and row.resolved_at is not None
    with api.db.session() as s:
        events = s.execute(select(AuditRow.actor).where(AuditRow.ticket_id == "chatwoot-151",
                                                        AuditRow.kind == "ticket.resolved")).all()
    assert [e.actor for e in events] == ["chatwoot"]


# ------------------------------------------------------------------ Zendesk
def zendesk_body(ticket_id: str, comment_id: str, comment: str, role: str = "end-user") -> dict[str, str]:
    """The trigger's JSON template (README), as Zendesk renders it."""
    return {"ticket_id": ticket_id, "comment_id": comment_id, "comment": comment, "author_role": role,
            "requester_email": CUSTOMER, "requester_phone": "", "requester_id": "381", "subject": "Late delivery",
            "via": "Web Widget"}


def post_zendesk(api: Api, payload: dict[str, str], secret: str = ZENDESK_SECRET, invocation: str | None = None,
                 at: datetime | None = None) -> httpx.Response:
    body = json.dumps(payload).encode()
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()
    headers = {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": signature,
               "X-Zendesk-Webhook-Signature-Timestamp": stamp, "X-Zendesk-Webhook-Id": "01HZTANDEMTESTWEBHOOK",
               "X-Zendesk-Webhook-Invocation-Id": invocation or str(uuid.uuid4().int)[:10],
               "X-Zendesk-Account-Id": "123456"}
    return HTTP.post(f"{api.url}/api/v1/webhooks/zendesk", content=body, headers=headers, timeout=30)


def test_a_signed_zendesk_comment_opens_a_ticket_once(api: Api) -> None:
    got = post_zendesk(api, zendesk_body("7001", "90001", "My parcel is a week late."), invocation="8350205582")
    assert got.status_code == 200, got.text
    assert got.json()["ticket_id"] == "zendesk-7001"
    row = ticket_row(api, "zendesk-7001")
    assert row is not None and (row.source, row.channel, row.external_ref) == ("zendesk", "chat", "zendesk:7001")
    again = post_zendesk(api, zendesk_body("7001", "90001", "My parcel is a week late."), invocation="8350205582")
    assert again.json()["status"] == "duplicate"
    by_agent = post_zendesk(api, zendesk_body("7001", "90002", "We are checking with the courier.", role="agent"))
    assert by_agent.json()["status"] == "ignored"
    follow = post_zendesk(api, zendesk_body("7001", "90003", "Any news?"))
    assert follow.json()["ticket_id"] == "zendesk-7001"
    assert count_messages(api.db, "zendesk-7001") == 2


def test_a_bad_zendesk_signature_or_stale_timestamp_is_401(api: Api) -> None:
    forged = post_zendesk(api, zendesk_body("7101", "91001", "Refund me."), secret="wrong")
    assert forged.status_code == 401 and "X-Zendesk-Webhook-Signature" in forged.json()["detail"]
    stale = post_zendesk(api, zendesk_body("7102", "91002", "Refund me."), at=datetime.now(UTC) - timedelta(hours=1))
    assert stale.status_code == 401
    assert ticket_row(api, "zendesk-7101") is None and ticket_row(api, "zendesk-7102") is None


# ------------------------------------------------------------------ django-helpdesk and limits
def test_the_helpdesk_webhook_needs_its_token(api: Api) -> None:
    wrong = HTTP.post(f"{api.url}/api/v1/webhooks/helpdesk", params={"token": "guess"}, json={"ticket": 1},
                       timeout=10)
    assert wrong.status_code == 401 and "token" in wrong.json()["detail"]
    missing = HTTP.post(f"{api.url}/api/v1/webhooks/helpdesk", json={"ticket": 1}, timeout=10)
    assert missing.status_code == 401
    assert deliveries(api, "helpdesk") == 0
    right = HTTP.post(f"{api.url}/api/v1/webhooks/helpdesk", params={"token": HELPDESK_TOKEN}, json={"ticket": 1},
                       timeout=10)
    assert right.status_code != 401
    assert HELPDESK_TOKEN not in (api.settings.data_dir / "api.log").read_text()


def test_an_oversize_webhook_is_413(api: Api) -> None:
    big = message_created(5601, 161, "z" * (api.settings.api_max_body_kb * 1024 + 10))
    assert post_chatwoot(api, big).status_code == 413
    assert ticket_row(api, "chatwoot-161") is None
