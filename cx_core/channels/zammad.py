"""Zammad: a signed webhook, fired by a trigger, brings customers' articles in; the ticket articles API takes
Tandem's replies back.

A trigger whose action calls a webhook (Manage → Webhook, without a custom payload) POSTs Zammad's default payload
(``TriggerWebhookJob#default_payload``)::

    {"ticket": {"id", "number", "title", "state", "customer_id", "customer": {"email", "phone", "mobile", …}, …},
     "article": {"id", "ticket_id", "body", "content_type", "internal", "sender", "from", "type", "created_at", …}}

``sender`` and ``type`` are names (``Customer`` / ``Agent`` / ``System``; ``email``, ``web``, ``chat``, ``phone``,
``sms``, ``whatsapp message``, ``telegram personal-message``, ``note``…); a ticket update without an article sends
``"article": {}``. Each request carries ``X-Zammad-Trigger`` (the trigger's name) and ``X-Zammad-Delivery`` (the
job's id, the same on Zammad's own retries) and, when the webhook has an HMAC SHA1 signature token,
``X-Hub-Signature: sha1=<hex HMAC-SHA1(token, raw body)>`` (``UserAgent.set_signature``). Only public articles by the
customer are read: agents' articles (Tandem's own replies among them), system lines and internal notes are not.

Replies: ``POST /api/v1/ticket_articles`` with ``Authorization: Token token=…`` (an agent's token, so the article's
sender is Agent): an e-mail to the customer on e-mail tickets, a public article everywhere else. Before posting, the
ticket's articles are read and an agent's article with exactly this text is taken as delivered, so a retry never
posts twice.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

import httpx

from .. import http_client
from ..config import Settings
from ..conversations import Inbound, receive
from ..domain import active
from ..models import MAX_BODY_CHARS
from ..store.db import Database
from .base import DeliveryFailed, Outgoing
from .email import _html_text, new_text
from .outbound import TIMEOUT, call, json_or_empty
from .webhooks import Webhook, WebhookResult, same_signature, text_field

SOURCE = "zammad"
SENDERS = {1: "Agent", 2: "Customer", 3: "System"}  # Zammad's seeded Ticket::Article::Sender ids
ARTICLE_TYPES = {"email": "email", "web": "chat", "chat": "chat", "phone": "phone", "sms": "whatsapp",
                 "whatsapp message": "whatsapp", "telegram personal-message": "whatsapp"}
_CUT = "\n\n[The rest of this message is too long to keep here; it is in Zammad.]"


def verify_signature(secret: str, raw: bytes, signature: str) -> bool:
    """Whether ``signature`` is Zammad's ``sha1=<hex HMAC-SHA1(secret, raw body)>`` (the prefix is optional),
    compared in constant time."""
    given = signature.strip()
    given = given[5:] if given.lower().startswith("sha1=") else given
    expected = hmac.new(secret.encode("utf-8"), raw, hashlib.sha1).hexdigest()
    return same_signature(expected, given.lower())


def channel_for(article_type: str, channels: tuple[str, ...]) -> str:
    """The domain's channel for a Zammad article type: e-mail is e-mail, the web form and chat are chat, a call is
    phone, SMS, WhatsApp and Telegram are ``whatsapp`` where the domain has it (chat otherwise), anything else
    e-mail."""
    wanted = ARTICLE_TYPES.get(article_type.strip().lower(), "email")
    fallback = "chat" if wanted == "whatsapp" else "email"
    for name in (wanted, fallback, "chat", "email"):
        if name in channels:
            return name
    return channels[0] if channels else "email"


def parse(payload: dict[str, Any], channels: tuple[str, ...]) -> tuple[Inbound | None, str]:
    """The webhook's payload as the customer's message, or None and why it is not one."""
    ticket, article = _dict(payload.get("ticket")), _dict(payload.get("article"))
    if not article:
        return None, "no article (a ticket change without a message)"
    sender = _text(article.get("sender")) or SENDERS.get(_int(article.get("sender_id")) or 0, "")
    if sender != "Customer":
        by = "an agent" if sender == "Agent" else f"the sender {sender}" if sender else "an unknown sender"
        return None, f"an article by {by}, not the customer's"
    if article.get("internal") in (True, "true", 1):
        return None, "an internal note"
    ticket_id = _text(ticket.get("id")) or _text(article.get("ticket_id"))
    article_id = _text(article.get("id"))
    if not ticket_id or not article_id:
        return None, "an article without its id or its ticket's"
    body = _plain(article)
    if not body:
        return None, "an article without text"
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS - len(_CUT)] + _CUT
    return Inbound(source=SOURCE, body=body, subject=" ".join(_text(ticket.get("title")).split())[:300],
                   customer=_customer(ticket, article), channel=channel_for(_text(article.get("type")), channels),
                   external_id=article_id, conversation=ticket_id, created_at=_when(article.get("created_at"))), ""


def parse_webhook(payload: dict[str, Any], channels: tuple[str, ...] | None = None) -> Inbound | None:
    """The customer's message in the webhook's payload, or None when the article is not one (an agent's reply, an
    internal note, a system line, a ticket change without an article). ``channels`` default to the active
    domain's."""
    return parse(payload, channels if channels is not None else active().channel_names)[0]


def _plain(article: dict[str, Any]) -> str:
    """The article's text as the customer wrote it: HTML read as text, the quoted conversation below it left out."""
    body = article.get("body")
    if not isinstance(body, str) or not body.strip():
        return ""
    if "html" in _text(article.get("content_type")).lower():
        body = _html_text(body)
    return new_text(body)


def _customer(ticket: dict[str, Any], article: dict[str, Any]) -> str:
    """The ticket's customer: the e-mail address, else the phone, else the article's sender address, else an id."""
    who = _dict(ticket.get("customer"))
    for key in ("email", "mobile", "phone"):
        value = _text(who.get(key))
        if value:
            return value[:200]
    address = parseaddr(_text(article.get("from")))[1]
    if "@" in address:
        return address[:200]
    ident = _text(ticket.get("customer_id")) or _text(who.get("id"))
    return f"zammad-customer-{ident}" if ident else f"zammad-ticket-{_text(ticket.get('id'))}"


def _when(value: Any) -> datetime | None:
    """Zammad's ISO-8601 time (``2020-11-13T14:34:35.318Z``) as naive UTC; None when missing or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
    except (ValueError, OverflowError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_text = text_field


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def handle(db: Database, settings: Settings, payload: dict[str, Any], channels: tuple[str, ...]) -> WebhookResult:
    """One verified trigger: the customer's article stored once, anything else ignored with its reason."""
    msg, why = parse(payload, channels)
    if msg is None:
        return WebhookResult("ignored", "", None, why)
    got = receive(db, msg)
    return WebhookResult("ok", "", got.ticket_id, "seen before" if got.duplicate else "message received")


def _signed_only(secret: str, timestamp: str, raw: bytes, signature: str) -> bool:
    return verify_signature(secret, raw, signature)


WEBHOOK = Webhook(
    name=SOURCE, label="Zammad", secret_setting="zammad_webhook_secret", handle=handle, verify=_signed_only,
    signature_header="X-Hub-Signature", delivery_header="X-Zammad-Delivery", event_header="X-Zammad-Trigger",
    events="A Zammad trigger's webhook (default payload: ``ticket`` and ``article``), verified by ``X-Hub-Signature`` "
           "(HMAC-SHA1 of the raw body with the webhook's signature token) and read once by ``X-Zammad-Delivery``. "
           "Zammad sends no timestamp, so there is no age check: a replayed request is recognised by its delivery "
           "id, and its article by its id.")


def _same(text: str) -> str:
    return " ".join(text.split())


class ZammadReplies:
    """Adds replies to their Zammad ticket as public articles by the token's agent."""

    name = SOURCE
    hands_over = True

    def __init__(self, url: str, token: str, client: httpx.Client | None = None) -> None:
        self.base = url.rstrip("/")
        self.headers = {"Authorization": f"Token token={token}", "Accept": "application/json"}
        self.client = client or http_client.client(timeout=TIMEOUT, follow_redirects=False)

    def deliver(self, item: Outgoing) -> str | None:
        """Posts the reply once; returns the new article's id (an earlier attempt's when it got through)."""
        ticket = _int(item.conversation)
        if ticket is None:
            raise DeliveryFailed("the ticket has no Zammad ticket to reply on", retry=False)
        existing = self._posted(ticket, item)
        if existing is not None:
            return existing
        kind = self.article_type(item)
        article: dict[str, Any] = {"ticket_id": ticket, "body": item.body, "content_type": "text/plain",
                                   "type": kind, "internal": False, "subject": item.subject}
        if kind == "email":
            article["to"] = item.recipient
        item.handing_over()
        resp = call(self.client, "POST", f"{self.base}/api/v1/ticket_articles", "Zammad", headers=self.headers,
                    json=article)
        data = json_or_empty(resp)
        remote = data.get("id") if isinstance(data, dict) else None
        return str(remote) if remote is not None else None

    @staticmethod
    def article_type(item: Outgoing) -> str:
        """``email`` (sent to the customer by Zammad) on e-mail tickets with an address to write to; ``note`` on
        phone tickets, where the call is the conversation; otherwise ``web``, which the customer reads in Zammad's
        customer portal. All of them public."""
        if item.channel == "email" and "@" in parseaddr(item.recipient)[1]:
            return "email"
        return "note" if item.channel == "phone" else "web"

    def _posted(self, ticket: int, item: Outgoing) -> str | None:
        """The id of an agent's article of the ticket whose text is exactly this reply's (an earlier attempt's)."""
        resp = call(self.client, "GET", f"{self.base}/api/v1/ticket_articles/by_ticket/{ticket}", "Zammad",
                    headers=self.headers)
        data = json_or_empty(resp)
        want = _same(item.body)
        for a in data if isinstance(data, list) else []:
            if not isinstance(a, dict) or a.get("id") is None:
                continue
            sender = _text(a.get("sender")) or SENDERS.get(_int(a.get("sender_id")) or 0, "")
            if sender != "Agent" or not isinstance(a.get("body"), str):
                continue
            body = a["body"]
            if "html" in _text(a.get("content_type")).lower():
                body = _html_text(body)
            if _same(body) == want:
                return str(a["id"])
        return None


def from_settings(settings: Settings) -> ZammadReplies | None:
    """Zammad's reply side when its URL and API token are set (``TANDEM_ZAMMAD_*``), else None."""
    token = settings.zammad_api_token.get_secret_value().strip()
    if not (settings.zammad_url.strip() and token):
        return None
    return ZammadReplies(settings.zammad_url.strip(), token)
