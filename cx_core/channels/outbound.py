"""Replies to tickets that came in through the inbound API, POSTed to the team's own webhook
(``TANDEM_OUTBOUND_WEBHOOK_URL``), signed when ``TANDEM_OUTBOUND_WEBHOOK_SECRET`` is set.

The request carries ``Idempotency-Key`` (the same for every retry of one reply), ``X-Tandem-Timestamp`` and
``X-Tandem-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``. A 2xx answer means delivered;
5xx, 429 and timeouts are retried; any other 4xx is a refusal, not retried. Also home of the small HTTP helpers the
Chatwoot and Zendesk adapters share.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from .. import http_client
from ..config import Settings
from .base import DeliveryFailed, Outgoing

TIMEOUT = httpx.Timeout(10.0)


def one_line(text: str, limit: int = 200) -> str:
    """The first line of ``text``, cut to ``limit`` characters: what a person reads on the ticket."""
    line = next((x.strip() for x in (text or "").splitlines() if x.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def call(client: httpx.Client, method: str, url: str, system: str, **kwargs: Any) -> httpx.Response:
    """One HTTP call to ``system``; a failure becomes ``DeliveryFailed`` with one line for people: timeouts, lost
    connections, 5xx and 429 are temporary (retried), any other 4xx is a refusal (not retried)."""
    sent = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
    try:
        resp = client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:  # once the request went out, it may have been done: in doubt
        raise DeliveryFailed(f"{system} did not answer within {TIMEOUT.read:.0f} s ({type(exc).__name__})",
                             in_doubt=isinstance(exc, sent)) from exc
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{system} could not be reached: {one_line(str(exc)) or type(exc).__name__}",
                             in_doubt=isinstance(exc, sent)) from exc
    if resp.is_success:
        return resp
    reason = one_line(_error_text(resp))
    detail = f"{system} answered {resp.status_code}" + (f": {reason}" if reason else "")
    raise DeliveryFailed(detail, retry=resp.status_code >= 500 or resp.status_code in (408, 409, 425, 429))


def _error_text(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:300]
    if isinstance(data, dict):
        for key in ("error", "message", "description", "detail", "errors"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value
            if isinstance(value, dict | list) and value:
                return json.dumps(value)[:300]
    return json.dumps(data)[:300]


def json_or_empty(resp: httpx.Response) -> Any:
    """The answer's JSON, or {} when it has none."""
    try:
        return resp.json()
    except ValueError:
        return {}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``: how a receiver knows the request is Tandem's."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class OutboundWebhook:
    """Delivers replies to API tickets to the team's webhook."""

    name = "api"

    def __init__(self, url: str, secret: str = "", client: httpx.Client | None = None) -> None:
        self.url = url
        self.secret = secret
        self.client = client or http_client.client(timeout=TIMEOUT, follow_redirects=False)

    def deliver(self, item: Outgoing) -> str | None:
        """POSTs the reply once per key; returns the receiver's id for it when its answer has one."""
        body = json.dumps({"event": "reply", "ticket_id": item.ticket_id,
                           "message": {"body": item.body, "subject": item.subject, "key": item.key}},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "Idempotency-Key": item.key, "X-Tandem-Timestamp": timestamp,
                   "User-Agent": "Tandem"}
        if self.secret:
            headers["X-Tandem-Signature"] = sign(self.secret, timestamp, body)
        resp = call(self.client, "POST", self.url, "the outbound webhook", content=body, headers=headers)
        data = json_or_empty(resp)
        remote = data.get("id") if isinstance(data, dict) else None
        return str(remote) if remote not in (None, "") else None


def from_settings(settings: Settings) -> OutboundWebhook | None:
    """The outbound webhook when ``TANDEM_OUTBOUND_WEBHOOK_URL`` is set; otherwise replies to API tickets stay in
    Tandem and are read with ``GET /api/v1/tickets/ID``."""
    if not settings.outbound_webhook_url.strip():
        return None
    return OutboundWebhook(settings.outbound_webhook_url.strip(), settings.outbound_webhook_secret.get_secret_value())
