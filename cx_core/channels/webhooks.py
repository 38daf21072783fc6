"""The contract of a helpdesk's inbound webhook: how it is verified and how its body becomes Tandem's work.

Each channel module that receives webhooks exports one ``Webhook``; the API mounts them all from one table
(``cx_core.api``), so signature, freshness, de-duplication and error handling are written once. A delivery is
verified before its body is parsed: by an HMAC signature header (Chatwoot, Zendesk, Zammad), compared as bytes in
constant time whatever the header holds, or by a token in the URL (django-helpdesk, whose webhooks are unsigned).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ..config import Settings
from ..models import control_characters
from ..store.db import Database


@dataclass(frozen=True)
class WebhookResult:
    """What one delivery did: ``ok`` (stored or acted on), ``ignored`` (not the customer's, and why)."""

    status: Literal["ok", "ignored"]
    event: str = ""
    ticket_id: str | None = None
    detail: str = ""


# verify(secret, timestamp, raw body, signature) -> whether the signature is the sender's
Verifier = Callable[[str, str, bytes, str], bool]
# handle(db, settings, payload, the domain's channel names) -> what the delivery did
Handler = Callable[[Database, Settings, dict[str, Any], tuple[str, ...]], WebhookResult]


@dataclass(frozen=True)
class Webhook:
    """One system's inbound webhook, as the API mounts it at ``/api/v1/webhooks/{name}``."""

    name: str
    label: str
    secret_setting: str  # the Settings field holding the secret (TANDEM_<NAME> in upper case)
    handle: Handler
    verify: Verifier | None = None  # None: the secret is a token in the URL's ``?token=``
    signature_header: str = ""
    timestamp_header: str = ""  # empty: the system sends no time, so only the delivery id stops a replay
    parse_time: Callable[[str], datetime | None] | None = None
    delivery_header: str = ""  # the system's own id of a delivery (the same on its retries)
    event_header: str = ""
    events: str = ""  # what the route's description says it receives

    @property
    def env(self) -> str:
        return f"TANDEM_{self.secret_setting.upper()}"


def same_signature(expected: str | bytes, given: str) -> bool:
    """Whether the ``given`` header value equals ``expected`` (hex or base64 text), compared as bytes in constant
    time; a header with characters no signature has is simply not equal."""
    want = expected.encode("ascii") if isinstance(expected, str) else expected
    return hmac.compare_digest(want, given.strip().encode("utf-8", "surrogateescape"))


def header_value(value: str, limit: int = 200) -> str:
    """A header's value as it may be stored (a delivery id, an event name): printable, one line, at most ``limit``
    characters; empty when it carries control characters."""
    value = value.strip()
    return "" if control_characters(value) else value[:limit]


def text_field(value: Any) -> str:
    """A JSON field read as text: strings and numbers as written, anything else (a list, an object) as empty."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value).strip()
    return ""


def dict_field(value: Any) -> dict[str, Any]:
    """A JSON field read as an object: anything else as empty."""
    return value if isinstance(value, dict) else {}


def list_field(value: Any) -> list[Any]:
    """A JSON field read as a list: anything else as empty."""
    return value if isinstance(value, list) else []
