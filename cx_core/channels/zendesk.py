"""Zendesk: a signed webhook, fired by a trigger, brings customers' comments in; the Tickets API takes Tandem's
replies back as public comments.

A trigger's webhook body is whatever the trigger says, so Tandem expects this JSON template (README, "Inbound API
and webhooks")::

    {"ticket_id": "{{ticket.id}}",
     "comment_id": "{% for c in ticket.public_comments limit:1 %}{{c.id}}{% endfor %}",
     "comment": "{{ticket.latest_public_comment}}",
     "author_role": "{{current_user.role}}",
     "requester_email": "{{ticket.requester.email}}",
     "requester_phone": "{{ticket.requester.phone}}",
     "requester_id": "{{ticket.requester.id}}",
     "subject": "{{ticket.title}}",
     "via": "{{ticket.via}}"}

Only ``ticket_id`` and ``comment`` are required. Without ``comment_id`` a comment is known by a hash of its ticket
and text. A comment by an agent or admin (``author_role``) is not the customer's and is ignored, which also keeps
Tandem's own replies, which fire the trigger too, from coming back in.

Replies: ``PUT /api/v2/tickets/{id}.json`` with ``{"ticket": {"comment": {"body", "public": true}}}``, basic auth
``{email}/token:{api token}`` and ``Idempotency-Key``; before that, the ticket's newest comments are read and a
comment with exactly this text is taken as delivered, so a retry never posts twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from .. import http_client
from ..config import Settings
from ..conversations import Inbound, receive
from ..store.db import Database
from .base import DeliveryFailed, Outgoing
from .outbound import TIMEOUT, call, json_or_empty
from .webhooks import Webhook, WebhookResult, same_signature, text_field

SOURCE = "zendesk"
AGENT_ROLES = {"agent", "admin", "administrator", "light agent"}
VIA = (("mail", "email"), ("email", "email"), ("chat", "chat"), ("messag", "chat"), ("widget", "chat"),
       ("whatsapp", "whatsapp"), ("sms", "sms"), ("text", "sms"), ("voice", "phone"), ("phone", "phone"),
       ("call", "phone"), ("twitter", "social"), ("facebook", "social"), ("instagram", "social"),
       ("social", "social"))


def verify_signature(secret: str, timestamp: str, raw: bytes, signature: str) -> bool:
    """Whether ``signature`` is Zendesk's base64(HMAC-SHA256(secret, timestamp + raw body)), in constant time."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + raw, hashlib.sha256).digest()
    return same_signature(base64.b64encode(digest), signature)


def channel_for(via: str, channels: tuple[str, ...]) -> str:
    """The domain's channel for Zendesk's ``{{ticket.via}}`` (Mail, Web Widget, Chat, Voice, Twitter…)."""
    text = (via or "").lower()
    wanted = next((name for word, name in VIA if word in text), "email")
    for name in (wanted, "chat" if wanted in {"whatsapp", "sms"} else "email", "email"):
        if name in channels:
            return name
    return channels[0] if channels else "email"


def parse(payload: dict[str, Any], channels: tuple[str, ...]) -> tuple[Inbound | None, str]:
    """The trigger's body as the customer's message, or None and why it is not one."""
    ticket_id = _text(payload.get("ticket_id"))
    if not ticket_id:
        return None, "ticket_id: missing (see the JSON template in the README)"
    comment = payload.get("comment")
    if not isinstance(comment, str) or not comment.strip():
        return None, "no public comment to read"
    role = _text(payload.get("author_role")).lower()
    if role in AGENT_ROLES:
        return None, "a comment by an agent, not the customer's"
    comment_id = _text(payload.get("comment_id"))
    if not comment_id:
        comment_id = "text-" + hashlib.sha256(f"{ticket_id}\n{comment.strip()}".encode()).hexdigest()[:32]
    customer = (_text(payload.get("requester_email")) or _text(payload.get("requester_phone"))
                or (f"zendesk-user-{_text(payload.get('requester_id'))}" if _text(payload.get("requester_id"))
                    else f"zendesk-ticket-{ticket_id}"))
    return Inbound(source=SOURCE, body=comment, subject=_text(payload.get("subject"))[:300], customer=customer[:200],
                   channel=channel_for(_text(payload.get("via")), channels), external_id=comment_id,
                   conversation=ticket_id), ""


_text = text_field


def handle(db: Database, settings: Settings, payload: dict[str, Any], channels: tuple[str, ...]) -> WebhookResult:
    """One verified trigger: the customer's comment stored once, anything else ignored with its reason."""
    msg, why = parse(payload, channels)
    if msg is None:
        return WebhookResult("ignored", "trigger", None, why)
    got = receive(db, msg)
    return WebhookResult("ok", "trigger", got.ticket_id, "seen before" if got.duplicate else "message received")


def _iso(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


WEBHOOK = Webhook(
    name=SOURCE, label="Zendesk", secret_setting="zendesk_webhook_secret", handle=handle, verify=verify_signature,
    signature_header="X-Zendesk-Webhook-Signature", timestamp_header="X-Zendesk-Webhook-Signature-Timestamp",
    parse_time=_iso, delivery_header="X-Zendesk-Webhook-Invocation-Id",
    events="A Zendesk trigger's webhook (JSON template in the README), verified by ``X-Zendesk-Webhook-Signature`` "
           "over ``X-Zendesk-Webhook-Signature-Timestamp`` and the raw body.")


class ZendeskReplies:
    """Adds replies to their Zendesk ticket as public comments."""

    name = SOURCE
    hands_over = True

    def __init__(self, url: str, email: str, token: str, client: httpx.Client | None = None) -> None:
        self.base = url.rstrip("/")
        self.auth = httpx.BasicAuth(f"{email}/token", token)
        self.client = client or http_client.client(timeout=TIMEOUT, follow_redirects=False)

    def deliver(self, item: Outgoing) -> str | None:
        """Adds the comment once; returns the new comment's id (or ``ticket-ID`` when Zendesk's answer has none)."""
        if not item.conversation:
            raise DeliveryFailed("the ticket has no Zendesk ticket to reply on", retry=False)
        ticket = quote(item.conversation, safe="")
        existing = self._posted(ticket, item)
        if existing is not None:
            return existing
        item.handing_over()
        resp = call(self.client, "PUT", f"{self.base}/api/v2/tickets/{ticket}.json", "Zendesk", auth=self.auth,
                    headers={"Idempotency-Key": item.key, "Accept": "application/json"},
                    json={"ticket": {"comment": {"body": item.body, "public": True}}})
        data = json_or_empty(resp)
        events = (data.get("audit") or {}).get("events") if isinstance(data, dict) else None
        for ev in events or []:
            if isinstance(ev, dict) and ev.get("type") == "Comment" and ev.get("id") is not None:
                return str(ev["id"])
        return f"ticket-{item.conversation}"

    def _posted(self, ticket: str, item: Outgoing) -> str | None:
        """The id of a comment of the ticket whose text is exactly this reply's (an earlier attempt's), else None."""
        resp = call(self.client, "GET", f"{self.base}/api/v2/tickets/{ticket}/comments.json", "Zendesk",
                    auth=self.auth, params={"sort_order": "desc", "per_page": 100},
                    headers={"Accept": "application/json"})
        data = json_or_empty(resp)
        want = " ".join(item.body.split())
        for c in (data.get("comments") if isinstance(data, dict) else None) or []:
            if not isinstance(c, dict) or c.get("id") is None:
                continue
            if any(" ".join(str(c.get(k) or "").split()) == want for k in ("body", "plain_body")):
                return str(c["id"])
        return None


def from_settings(settings: Settings) -> ZendeskReplies | None:
    """Zendesk's reply side when its URL, agent e-mail and API token are set (``TANDEM_ZENDESK_*``), else None."""
    token = settings.zendesk_api_token.get_secret_value().strip()
    if not (settings.zendesk_url.strip() and settings.zendesk_email.strip() and token):
        return None
    return ZendeskReplies(settings.zendesk_url.strip(), settings.zendesk_email.strip(), token)
