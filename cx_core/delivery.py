"""The dispatcher: delivers the outbox's messages through their channel, exactly once as far as the receiving side
can tell, and never silently fails.

A message is claimed for a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), delivered with its idempotency key
(an e-mail's ``Message-ID``, an ``Idempotency-Key`` header, a helpdesk's own check for the key), then marked
delivered. A dispatcher killed in between leaves the message claimed; once the lease runs out another dispatcher (or
the same one restarted) delivers it again with the same key, which the receiving side recognises. A failure is
retried with growing waits and shows on the ticket as "not delivered, retrying"; after the last attempt the
message is marked failed, with the reason, on the ticket and on the Channels page, where an admin retries it.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from . import audit
from .config import Settings
from .errors import ConfigError, NotFound, TandemError
from .store.db import Database, utcnow
from .store.tables import MessageRow, NotificationRow, TicketRow

log = logging.getLogger("tandem.delivery")

UNDELIVERED = ("pending", "sending", "retrying", "failed")


@dataclass(frozen=True)
class Outgoing:
    """One message to deliver, as a channel adapter sees it."""

    id: int
    key: str  # the idempotency key: the same message delivered twice carries the same key
    destination: str
    kind: str
    channel: str
    ticket_id: str | None
    recipient: str
    subject: str
    body: str
    headers: dict[str, Any] = field(default_factory=dict)
    conversation: str | None = None  # the ticket's conversation id in the destination system
    attempts: int = 0


class DeliveryFailed(TandemError):
    """A channel could not deliver a message. ``retry`` is False when trying again cannot help (the receiving
    system refused the message itself)."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class Deliverer(Protocol):
    """A channel adapter's outgoing side: delivers one message, returns the receiving system's id for it (or None;
    a call to an action returns its answer as a dict), raises ``DeliveryFailed`` (or any error, taken as
    temporary)."""

    name: str

    def deliver(self, item: Outgoing) -> str | dict[str, Any] | None: ...


class Kept:
    """Messages that stay in Tandem: replies to demo and imported tickets, notes to the field team, replies to API
    tickets when no outbound webhook is set (the API's ``GET /tickets/ID`` returns them)."""

    def __init__(self, name: str = "local") -> None:
        self.name = name

    def deliver(self, item: Outgoing) -> str | None:
        return None


# channel adapters by destination: each module's ``from_settings(settings)`` returns a Deliverer or None
ADAPTERS = {"email": "cx_core.channels.email", "chatwoot": "cx_core.channels.chatwoot",
            "zendesk": "cx_core.channels.zendesk", "helpdesk": "cx_core.channels.helpdesk",
            "zammad": "cx_core.channels.zammad", "api": "cx_core.channels.outbound"}


def deliverers(settings: Settings) -> dict[str, Deliverer]:
    """The channels this installation delivers through: ``local`` and calls to actions always, the others when
    configured."""
    import importlib

    from .http_actions.dispatch import ActionCaller

    out: dict[str, Deliverer] = {"local": Kept(), "action": ActionCaller()}
    for name, module in ADAPTERS.items():
        try:
            made = importlib.import_module(module).from_settings(settings)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        if made is not None:
            out[name] = made
    if "api" not in out:
        out["api"] = Kept("api")
    return out


def _failpoint(name: str) -> None:
    """Fault injection for the crash tests: ``TANDEM_FAILPOINT=name`` kills this process right here."""
    if os.environ.get("TANDEM_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _due(now: datetime) -> Any:
    return or_(and_(NotificationRow.status.in_(("pending", "retrying")),
                    or_(NotificationRow.next_attempt_at.is_(None), NotificationRow.next_attempt_at <= now)),
               and_(NotificationRow.status == "sending", NotificationRow.lease_until < now))


def claim(db: Database, limit: int = 20, lease_seconds: float = 60.0) -> list[Outgoing]:
    """Claims up to ``limit`` messages that are due (or whose dispatcher's lease ran out) for ``lease_seconds``."""
    def take(s: Session) -> list[Outgoing]:
        now = utcnow()
        stmt = select(NotificationRow.id).where(_due(now)).order_by(NotificationRow.id).limit(limit)
        if not db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(s.scalars(stmt))
        if not ids:
            return []
        s.execute(update(NotificationRow).where(NotificationRow.id.in_(ids), _due(now))
                  .values(status="sending", lease_until=now + timedelta(seconds=lease_seconds)),
                  execution_options={"synchronize_session": False})
        rows = s.scalars(select(NotificationRow).where(NotificationRow.id.in_(ids),
                                                       NotificationRow.status == "sending")).all()
        refs = dict(s.execute(select(TicketRow.id, TicketRow.external_ref).where(
            TicketRow.id.in_({r.ticket_id for r in rows if r.ticket_id})) ).tuples().all())
        return [Outgoing(id=r.id, key=r.idempotency_key or f"tandem-notification-{r.id}", destination=r.destination,
                         kind=r.kind, channel=r.channel, ticket_id=r.ticket_id, recipient=r.recipient,
                         subject=r.subject, body=r.body, headers=dict(r.headers or {}),
                         conversation=_conversation_id(refs.get(r.ticket_id or ""), r.destination),
                         attempts=r.attempts) for r in rows]

    return db.run(take)


def _conversation_id(ref: str | None, destination: str) -> str | None:
    """The ticket's conversation id in ``destination`` (its ``external_ref`` without the source prefix)."""
    if not ref or ":" not in ref:
        return None
    source, value = ref.split(":", 1)
    return value if source == destination else None


def deliver(db: Database, settings: Settings, item: Outgoing, channels: dict[str, Deliverer]) -> str:
    """Delivers one claimed message and records the outcome: ``delivered``, ``retrying`` or ``failed``."""
    adapter = channels.get(item.destination)
    _failpoint("delivery.claimed")
    try:
        if adapter is None:
            raise DeliveryFailed(f"no {item.destination} channel is configured here: set its settings "
                                 "(README, 'Connect your helpdesk or mailbox') and it is delivered on the next try")
        remote = adapter.deliver(item)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the message and retried or shown
        return _failed(db, settings, item, exc)
    _failpoint("delivery.sent")
    return _delivered(db, item, remote)


def _delivered(db: Database, item: Outgoing, answer: str | dict[str, Any] | None) -> str:
    remote = answer if isinstance(answer, str) else None

    def write(s: Session) -> str:
        row = s.get(NotificationRow, item.id, with_for_update=True)
        if row is None or row.status == "delivered":
            return "delivered"
        row.status, row.delivered_at, row.remote_id = "delivered", utcnow(), (remote or None)
        if isinstance(answer, dict):
            from .http_actions.dispatch import called

            row.result = answer.get("result")
            called(s, row, answer)
        row.attempts, row.lease_until, row.last_error = row.attempts + 1, None, None
        if remote and row.message_id:
            ext = f"{item.destination}:{remote}"[:400]
            taken = s.scalar(select(func.count()).select_from(MessageRow).where(MessageRow.external_id == ext))
            m = s.get(MessageRow, row.message_id)
            if m is not None and m.external_id is None and not taken:
                m.external_id = ext  # the receiving system's echo of this message is known as ours
        if item.destination != "local":
            audit.append(s, "dispatcher", "message.delivered", row.ticket_id, notification_id=row.id,
                         destination=item.destination, key=item.key, remote_id=remote, attempts=row.attempts)
        return "delivered"

    return db.run(write)


def backoff(settings: Settings, attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failures: doubling from the first wait, with jitter."""
    wait = min(settings.delivery_retry_max_seconds, settings.delivery_retry_seconds * 2 ** max(attempts - 1, 0))
    return float(wait * random.uniform(0.8, 1.2))


def _failed(db: Database, settings: Settings, item: Outgoing, exc: BaseException) -> str:
    reason = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else type(exc).__name__
    retry = not isinstance(exc, DeliveryFailed) or exc.retry

    def write(s: Session) -> str:
        row = s.get(NotificationRow, item.id, with_for_update=True)
        if row is None or row.status == "delivered":
            return "delivered"
        row.attempts += 1
        row.last_error, row.lease_until = reason, None
        if retry and row.attempts < settings.delivery_max_attempts:
            row.status = "retrying"
            row.next_attempt_at = utcnow() + timedelta(seconds=backoff(settings, row.attempts))
        else:
            row.status, row.next_attempt_at = "failed", None
        if item.kind == "action_call":
            from .http_actions.dispatch import call_failed

            call_failed(s, row, exc, reason)
        elif row.attempts == 1 or row.status == "failed":
            audit.append(s, "dispatcher", "message.failed" if row.status == "failed" else "message.retrying",
                         row.ticket_id, notification_id=row.id, destination=item.destination, reason=reason,
                         attempts=row.attempts)
        return row.status

    log.warning("message %s to %s not delivered (attempt %s): %s", item.id, item.destination, item.attempts + 1,
                reason)
    return db.run(write)


def deliver_key(db: Database, key: str, settings: Settings | None = None) -> str | None:
    """Delivers the message with idempotency key ``key`` now, if it is due and no dispatcher holds it (a call to an
    action made at once after its approval); returns how it ended, or None when it was not ours to send."""
    settings = settings or default_settings()

    def take(s: Session) -> Outgoing | None:
        now = utcnow()
        row = s.scalars(select(NotificationRow).where(NotificationRow.idempotency_key == key, _due(now))).first()
        if row is None:
            return None
        done = s.execute(update(NotificationRow).where(NotificationRow.id == row.id, _due(now))
                         .values(status="sending", lease_until=now + timedelta(seconds=settings.delivery_lease_seconds)),
                         execution_options={"synchronize_session": False})
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return Outgoing(id=row.id, key=key, destination=row.destination, kind=row.kind, channel=row.channel,
                        ticket_id=row.ticket_id, recipient=row.recipient, subject=row.subject, body=row.body,
                        headers=dict(row.headers or {}), attempts=row.attempts)

    item = db.run(take)
    if item is None:
        return None
    from .http_actions.dispatch import ActionCaller

    channels: dict[str, Deliverer] = {"action": ActionCaller()} if item.destination == "action" \
        else deliverers(settings)
    return deliver(db, settings, item, channels)


_DEFAULT: list[Settings] = []


def default_settings() -> Settings:
    """The process's settings, read once (for deliveries started outside a dispatcher)."""
    if not _DEFAULT:
        from .config import load_settings

        _DEFAULT.append(load_settings())
    return _DEFAULT[0]


def run_once(db: Database, settings: Settings, channels: dict[str, Deliverer] | None = None, limit: int = 20
             ) -> int:
    """Delivers what is due now; returns how many messages were tried."""
    channels = channels if channels is not None else deliverers(settings)
    batch = claim(db, limit, settings.delivery_lease_seconds)
    for item in batch:
        deliver(db, settings, item, channels)
    return len(batch)


def run(db: Database, settings: Settings, stop: threading.Event, channels: dict[str, Deliverer] | None = None
        ) -> int:
    """Delivers until ``stop`` is set; returns how many messages were tried."""
    try:
        channels = channels if channels is not None else deliverers(settings)
    except ConfigError as exc:
        log.error("delivery cannot start: %s", exc)
        raise
    tried = 0
    name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:4]}"
    log.info("dispatcher %s delivering through %s", name, ", ".join(sorted(channels)))
    while not stop.is_set():
        try:
            n = run_once(db, settings, channels)
        except TandemError as exc:
            log.warning("delivery paused: %s", exc)
            n = 0
        tried += n
        if n == 0:
            stop.wait(settings.delivery_poll)
    return tried


# ------------------------------------------------------------------ what people see
def _admin(db: Database, user: Any) -> None:
    from .models import Role
    from .tickets import require

    require(user, Role.admin, db)


def summary(db: Database, user: Any) -> dict[str, dict[str, int]]:
    """Messages by destination and status (the Channels page's table; admins)."""
    _admin(db, user)
    with db.session() as s:
        out: dict[str, dict[str, int]] = {}
        for dest, status, n in s.execute(select(NotificationRow.destination, NotificationRow.status, func.count())
                                         .group_by(NotificationRow.destination, NotificationRow.status)):
            out.setdefault(dest, {})[status] = int(n)
        return out


def problems(db: Database, user: Any, limit: int = 100) -> list[dict[str, Any]]:
    """Messages not delivered after a first try, newest first: what failed, why, and when it is tried again
    (admins)."""
    _admin(db, user)
    with db.session() as s:
        rows = s.scalars(select(NotificationRow).where(NotificationRow.status.in_(("retrying", "failed")))
                         .order_by(NotificationRow.id.desc()).limit(limit)).all()
        return [{"id": r.id, "ticket_id": r.ticket_id, "destination": r.destination, "recipient": r.recipient,
                 "status": r.status, "attempts": r.attempts, "error": r.last_error,
                 "next_attempt_at": r.next_attempt_at, "created_at": r.created_at} for r in rows]


def retry_now(db: Database, user: Any, notification_id: int) -> None:
    """An admin sends a failed or waiting message again now (its key unchanged, so it is never doubled)."""
    from .models import Role
    from .tickets import require

    user = require(user, Role.admin, db)

    def write(s: Session) -> None:
        row = s.get(NotificationRow, notification_id, with_for_update=True)
        if row is None:
            raise NotFound(f"message {notification_id} not found")
        if row.status not in {"retrying", "failed"}:
            return
        row.status, row.next_attempt_at = "retrying", utcnow()
        audit.append(s, user.username, "message.retry", row.ticket_id, notification_id=row.id,
                     destination=row.destination)

    db.run(write)
