"""Chatwoot: its signed webhooks bring customers' messages in, its API takes Tandem's replies back.

Webhooks (``POST /api/v1/webhooks/chatwoot``, verified in ``cx_core.api``) carry the payloads Chatwoot builds in
``Message#webhook_data`` and ``Conversation#webhook_data`` (``Conversations::EventDataPresenter#push_data``):

- ``message_created``: the message at the top level (``id``, ``content``, ``message_type`` "incoming" / "outgoing" /
  "activity" / "template", ``private``, ``created_at``, ``sender``, ``inbox``, ``account``) with its ``conversation``
  (``id`` is the conversation's display id, ``channel`` the inbox type such as ``Channel::WebWidget``, ``meta.sender``
  the contact with ``email`` and ``phone_number``). Only incoming, public messages from a contact are read: agents'
  replies, private notes and activity lines (Tandem's own replies come back this way too) are ignored.
- ``conversation_created``: the conversation, whose ``messages`` hold its latest message (``message_type`` 0 =
  incoming, 1 = outgoing, 2 = activity, 3 = template).
- ``conversation_status_changed``: the conversation with its new ``status``; "resolved" resolves Tandem's ticket.

Replies go to ``POST /api/v1/accounts/{account}/conversations/{id}/messages`` with the agent's ``api_access_token``,
carrying the outbox's idempotency key in ``content_attributes.tandem_key``; before posting, the conversation's messages
are read and a message already carrying that key is taken as delivered, so a retry never posts twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, http_client
from ..config import Settings
from ..conversations import Inbound, outside_id, receive
from ..store.db import Database, utcnow
from ..store.tables import TicketRow
from .base import DeliveryFailed, Outgoing
from .outbound import TIMEOUT, call, json_or_empty
from .webhooks import Webhook, WebhookResult, list_field, same_signature, text_field

SOURCE = "chatwoot"
# Chatwoot's inbox types and the channel each one is, here (the domain's own channel names decide at the end)
CHANNEL_TYPES = {
    "Channel::Email": "email", "Channel::WebWidget": "chat", "Channel::Api": "chat", "Channel::Whatsapp": "whatsapp",
    "Channel::TwilioSms": "sms", "Channel::Sms": "sms", "Channel::Telegram": "chat", "Channel::Line": "chat",
    "Channel::FacebookPage": "social", "Channel::Instagram": "social", "Channel::TwitterProfile": "social",
    "Channel::Tiktok": "social", "Channel::Voice": "phone",
}
INCOMING = ("incoming", 0)
OUTGOING = ("outgoing", 1)
NOT_CONTACTS = {"user", "agent_bot", "captain_assistant"}


@dataclass
class ChatwootEvent:
    """What one webhook asks of Tandem: messages to receive, a conversation to resolve, or nothing (and why)."""

    kind: str
    messages: list[Inbound] = field(default_factory=list)
    resolve: str | None = None  # the Chatwoot conversation id whose ticket is resolved
    ignored: str = ""


def verify_signature(secret: str, timestamp: str, raw: bytes, signature: str) -> bool:
    """Whether ``signature`` is Chatwoot's ``sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`` (the
    ``sha256=`` prefix is optional), compared in constant time."""
    given = signature.strip()
    given = given[7:] if given.lower().startswith("sha256=") else given
    expected = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + b"." + raw, hashlib.sha256).hexdigest()
    return same_signature(expected, given.lower())


def channel_for(channel_type: str | None, channels: tuple[str, ...]) -> str:
    """The domain's channel for a Chatwoot inbox type: e-mail inboxes are e-mail, the web widget is chat, WhatsApp
    is ``whatsapp`` where the domain has that channel and chat otherwise, social networks are social."""
    wanted = CHANNEL_TYPES.get(channel_type if isinstance(channel_type, str) else "", "chat")
    for name in (wanted, "chat", "email"):
        if name in channels:
            return name
    return channels[0] if channels else "email"


def parse(payload: dict[str, Any], channels: tuple[str, ...]) -> ChatwootEvent:
    """The webhook ``payload`` as Tandem's work: the customer's messages, a resolution, or a reason to ignore it."""
    kind = text_field(payload.get("event"))[:60]
    if kind == "message_created":
        conversation = payload.get("conversation")
        if not isinstance(conversation, dict):
            return ChatwootEvent(kind, ignored="the message has no conversation")
        msg, why = _inbound(payload, conversation, channels)
        return ChatwootEvent(kind, messages=[msg]) if msg else ChatwootEvent(kind, ignored=why)
    if kind == "conversation_created":
        found: list[Inbound] = []
        reasons: list[str] = []
        for m in list_field(payload.get("messages")):
            if isinstance(m, dict):
                msg, why = _inbound(m, payload, channels)
                if msg:
                    found.append(msg)
                else:
                    reasons.append(why)
        if found:
            return ChatwootEvent(kind, messages=found)
        return ChatwootEvent(kind, ignored=reasons[0] if reasons else "the conversation has no message yet")
    if kind == "conversation_status_changed":
        status = text_field(payload.get("status"))[:40]
        if status == "resolved" and text_field(payload.get("id")):
            return ChatwootEvent(kind, resolve=text_field(payload.get("id"))[:200])
        return ChatwootEvent(kind, ignored=f"the conversation is now {status or 'in an unknown state'}: nothing to do")
    return ChatwootEvent(kind, ignored=f"the event {kind or '(unnamed)'} is not used")


def _inbound(msg: dict[str, Any], conversation: dict[str, Any], channels: tuple[str, ...]
             ) -> tuple[Inbound | None, str]:
    """One Chatwoot message as an ``Inbound``, or None and why it is not the customer's."""
    if msg.get("message_type") not in INCOMING:
        kind = msg.get("message_type")
        return None, f"an {'outgoing' if kind in OUTGOING else kind} message, not the customer's"
    if msg.get("private"):
        return None, "a private note"
    sender = _dict(msg.get("sender"))
    if (text_field(sender.get("type")) or "contact") in NOT_CONTACTS:
        return None, "a message from an agent or a bot"
    content = msg.get("content")
    if not isinstance(content, str) or not content.strip():
        return None, "a message without text"
    if not text_field(msg.get("id")) or not text_field(conversation.get("id")):
        return None, "a message without its id or its conversation's"
    contact = _dict(_dict(conversation.get("meta")).get("sender"))
    subject = text_field(_dict(conversation.get("additional_attributes")).get("mail_subject"))
    return Inbound(source=SOURCE, body=content, subject=subject[:300],
                   customer=_customer(sender, contact), channel=channel_for(conversation.get("channel"), channels),
                   external_id=text_field(msg.get("id"))[:200], conversation=text_field(conversation.get("id"))[:200],
                   created_at=_when(msg.get("created_at"))), ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _customer(sender: dict[str, Any], contact: dict[str, Any]) -> str:
    for who in (sender, contact):
        for key in ("email", "phone_number"):
            value = who.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:200]
    ident = (text_field(sender.get("id")) or text_field(contact.get("id")))[:80]
    return f"chatwoot-contact-{ident}" if ident else "chatwoot-contact"


def _when(value: Any) -> datetime | None:
    """Chatwoot's time of a message (unix seconds, or ISO-8601 text) as naive UTC; None when unreadable."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)
        if isinstance(value, str) and value.strip():
            text = value.strip().replace(" UTC", "+00:00")
            at = datetime.fromisoformat(text)
            return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
    except (ValueError, OverflowError, OSError):
        return None
    return None


def resolve_conversation(db: Database, source: str, conversation: str, actor: str) -> tuple[str | None, str]:
    """Resolves the ticket of ``source``'s ``conversation`` because it was resolved there, with a
    ``ticket.resolved`` audit event by ``actor``. Returns (ticket id or None, what happened). A ticket the agent is
    reading at this moment is left to it."""
    ref = outside_id(source, conversation)

    def write(s: Session) -> tuple[str | None, str]:
        row = s.scalars(select(TicketRow).where(TicketRow.external_ref == ref).with_for_update()).first()
        if row is None:
            return None, f"no ticket for {source} conversation {conversation}"
        if row.status == "resolved":
            return row.id, "already resolved"
        if row.status == "processing":
            return row.id, "not resolved: the agent is reading the ticket right now"
        previous = row.status
        row.status, row.resolved_at = "resolved", utcnow()
        audit.append(s, actor, "ticket.resolved", row.id, source=source, conversation=conversation,
                     previous=previous)
        return row.id, "resolved"

    return db.run(write)


def handle(db: Database, settings: Settings, payload: dict[str, Any], channels: tuple[str, ...]) -> WebhookResult:
    """One verified webhook: the customer's messages stored (each once), a resolved conversation's ticket resolved,
    anything else ignored with its reason."""
    event = parse(payload, channels)
    if event.messages:
        got = [receive(db, m) for m in event.messages]
        added = sum(1 for g in got if not g.duplicate)
        detail = f"{added} message(s) received" + (f", {len(got) - added} seen before" if added < len(got) else "")
        return WebhookResult("ok", event.kind, got[-1].ticket_id, detail)
    if event.resolve:
        ticket_id, detail = resolve_conversation(db, SOURCE, event.resolve, SOURCE)
        return WebhookResult("ok", event.kind, ticket_id, detail)
    return WebhookResult("ignored", event.kind, None, event.ignored)


def _unix(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


WEBHOOK = Webhook(
    name=SOURCE, label="Chatwoot", secret_setting="chatwoot_webhook_secret", handle=handle, verify=verify_signature,
    signature_header="X-Chatwoot-Signature", timestamp_header="X-Chatwoot-Timestamp", parse_time=_unix,
    delivery_header="X-Chatwoot-Delivery",
    events="Chatwoot's account webhook (events message_created, conversation_created, conversation_status_changed), "
           "verified by ``X-Chatwoot-Signature`` over ``X-Chatwoot-Timestamp`` and the raw body.")


class ChatwootReplies:
    """Posts replies into their Chatwoot conversation as outgoing, public messages."""

    name = SOURCE
    hands_over = True

    def __init__(self, url: str, account_id: str, token: str, client: httpx.Client | None = None) -> None:
        self.base = url.rstrip("/")
        self.account = account_id.strip()
        self.token = token
        self.client = client or http_client.client(timeout=TIMEOUT, follow_redirects=False)

    def deliver(self, item: Outgoing) -> str | None:
        """Posts the reply once: a message of the conversation that already carries the key is the delivery."""
        if not item.conversation:
            raise DeliveryFailed("the ticket has no Chatwoot conversation to reply in", retry=False)
        url = (f"{self.base}/api/v1/accounts/{quote(self.account, safe='')}/conversations/"
               f"{quote(item.conversation, safe='')}/messages")
        headers = {"api_access_token": self.token, "Accept": "application/json"}
        existing = self._posted(url, headers, item)
        if existing is not None:
            return existing
        item.handing_over()
        resp = call(self.client, "POST", url, "Chatwoot", headers=headers,
                    json={"content": item.body, "message_type": "outgoing", "private": False,
                          "content_attributes": {"tandem_key": item.key}})
        data = json_or_empty(resp)
        remote = data.get("id") if isinstance(data, dict) else None
        return str(remote) if remote is not None else None

    def _posted(self, url: str, headers: dict[str, str], item: Outgoing) -> str | None:
        """The id of this reply in the conversation when an earlier attempt posted it: a message with its key, or
        (should Chatwoot drop unknown attributes) the newest outgoing message when its text is this reply's."""
        data = json_or_empty(call(self.client, "GET", url, "Chatwoot", headers=headers))
        messages = data.get("payload") if isinstance(data, dict) else data
        if not isinstance(messages, list):
            return None
        newest_out: dict[str, Any] | None = None
        for m in messages:
            if not isinstance(m, dict):
                continue
            attrs = m.get("content_attributes")
            if isinstance(attrs, str):
                try:
                    attrs = json.loads(attrs)
                except ValueError:
                    attrs = {}
            if isinstance(attrs, dict) and attrs.get("tandem_key") == item.key and m.get("id") is not None:
                return str(m["id"])
            if m.get("message_type") in OUTGOING and not m.get("private"):
                if newest_out is None or int(m.get("id") or 0) > int(newest_out.get("id") or 0):
                    newest_out = m
        if newest_out is not None and (newest_out.get("content") or "").strip() == item.body.strip():
            return str(newest_out.get("id"))
        return None


def from_settings(settings: Settings) -> ChatwootReplies | None:
    """Chatwoot's reply side when its URL, account and API token are set (``TANDEM_CHATWOOT_*``), else None."""
    token = settings.chatwoot_api_token.get_secret_value().strip()
    if not (settings.chatwoot_url.strip() and settings.chatwoot_account_id.strip() and token):
        return None
    return ChatwootReplies(settings.chatwoot_url.strip(), settings.chatwoot_account_id, token)
