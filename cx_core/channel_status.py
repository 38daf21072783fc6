"""What an admin needs to see about the ways in and out: which channels are configured (and which setting is
missing), the address each helpdesk's webhook must call, the outbox by channel and status, and recent webhook
deliveries. Secrets are never shown, only whether they are set."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .access import StaffUser, require
from .config import Settings
from .models import Role
from .store.db import Database
from .store.tables import ChannelCursorRow, WebhookDeliveryRow

# channel → (what it does, the settings it needs)
CHANNELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Mailbox (in)": ("new mail becomes tickets and follow-ups", ("imap_host", "imap_user", "imap_password")),
    "E-mail (out)": ("replies to mailbox tickets, threaded", ("smtp_host",)),
    "Chatwoot": ("signed webhooks in, replies through its API",
                 ("chatwoot_webhook_secret", "chatwoot_url", "chatwoot_account_id", "chatwoot_api_token")),
    "Zendesk": ("signed webhooks in, replies as public comments",
                ("zendesk_webhook_secret", "zendesk_url", "zendesk_email", "zendesk_api_token")),
    "Zammad": ("signed webhooks in, replies as ticket articles",
               ("zammad_webhook_secret", "zammad_url", "zammad_api_token")),
    "django-helpdesk": ("webhooks in, replies as follow-ups", ("helpdesk_webhook_token", "helpdesk_url",
                                                               "helpdesk_user", "helpdesk_password")),
    "API replies": ("replies to API tickets POSTed to your webhook", ("outbound_webhook_url",)),
}
WEBHOOK_PATHS = {"Chatwoot": "/api/v1/webhooks/chatwoot", "Zendesk": "/api/v1/webhooks/zendesk",
                 "Zammad": "/api/v1/webhooks/zammad", "django-helpdesk": "/api/v1/webhooks/helpdesk?token=…"}


def _is_set(settings: Settings, name: str) -> bool:
    value = getattr(settings, name)
    value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    return bool(str(value).strip())


def configured(db: Database, user: StaffUser, settings: Settings) -> list[dict[str, Any]]:
    """One row per channel: configured, partly or not at all, with the settings it still needs (admins)."""
    require(user, Role.admin, db)
    rows = []
    for name, (what, needs) in CHANNELS.items():
        missing = [n for n in needs if not _is_set(settings, n)]
        state = "not set up" if len(missing) == len(needs) else "missing settings" if missing else "ready"
        rows.append({"channel": name, "does": what, "state": state,
                     "missing": ", ".join(f"TANDEM_{m.upper()}" for m in missing),
                     "webhook": WEBHOOK_PATHS.get(name, "")})
    return rows


def recent_webhooks(db: Database, user: StaffUser, limit: int = 50) -> list[dict[str, Any]]:
    """The latest webhook deliveries received, newest first, and what became of each (admins)."""
    require(user, Role.admin, db)
    with db.session() as s:
        rows = s.scalars(select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.received_at.desc()).limit(limit))
        return [{"received": r.received_at, "from": r.provider, "event": r.event, "ticket": r.ticket_id or "",
                 "outcome": r.outcome} for r in rows]


def cursors(db: Database, user: StaffUser) -> list[dict[str, Any]]:
    """How far each mailbox and helpdesk reader has read (admins)."""
    require(user, Role.admin, db)
    with db.session() as s:
        return [{"reader": r.name, "read up to": ", ".join(f"{k} {v}" for k, v in r.value.items()),
                 "updated": r.updated_at} for r in s.scalars(select(ChannelCursorRow).order_by(ChannelCursorRow.name))]
