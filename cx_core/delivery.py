"""The dispatcher: delivers the outbox's messages through their channel, exactly once as far as the receiving side
can tell, and never silently fails.

Each message is owned by one dispatcher at a time. ``claim`` takes due messages (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL) and writes its own fencing token and a lease on each. Right before a message is handed over, its owner
takes it again in a short transaction of its own — the lease renewed only while the row still carries its token and
is still being sent — and skips it when another dispatcher has taken it meanwhile; during a send the lease is renewed
every third of it, so a slow receiving system never lets a live dispatcher's lease run out. Only a dead (or frozen)
dispatcher's messages are taken over.

The moment a message leaves for the receiving system is recorded first (``handed_over_at``; for e-mail after the
server accepted sender and recipients, right before ``DATA``). A message taken over with that mark set is "in
doubt": the receiving side may already have it, so it is sent again with the same idempotency key (an e-mail's
``Message-ID``, an ``Idempotency-Key`` header, a helpdesk's own check for the key), counted in ``resent_in_doubt``,
audited and logged. A message taken over without it was certainly not handed over and is simply sent. So after a
crash only a message the receiving side may have accepted is sent again, and nothing else.

A failure is retried with growing waits and shows on the ticket as "not delivered, retrying"; after the last attempt
the message is marked failed, with the reason, on the ticket and on the Channels page, where an admin retries it.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from . import audit
from .access import require
from .channels.base import Deliverer, DeliveryFailed, Kept, NotOurs, Outgoing, failpoint
from .config import Settings, load_settings
from .errors import ConfigError, NotFound, TandemError
from .http_actions.dispatch import ActionCaller, call_failed, called
from .models import Role
from .store.db import Database, utcnow
from .store.tables import MessageRow, NotificationRow, TicketRow

log = logging.getLogger("tandem.delivery")

UNDELIVERED = ("pending", "sending", "retrying", "failed")


# channel adapters by destination: each module's ``from_settings(settings)`` returns a Deliverer or None
ADAPTERS = {"email": "cx_core.channels.email", "chatwoot": "cx_core.channels.chatwoot",
            "zendesk": "cx_core.channels.zendesk", "helpdesk": "cx_core.channels.helpdesk",
            "zammad": "cx_core.channels.zammad", "api": "cx_core.channels.outbound"}


def deliverers(settings: Settings) -> dict[str, Deliverer]:
    """The channels this installation delivers through: ``local`` and calls to actions always, the others when
    configured."""
    import importlib


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


def _due(now: datetime) -> Any:
    return or_(and_(NotificationRow.status.in_(("pending", "retrying")),
                    or_(NotificationRow.next_attempt_at.is_(None), NotificationRow.next_attempt_at <= now)),
               and_(NotificationRow.status == "sending", NotificationRow.lease_until < now))


def new_token() -> str:
    """A fencing token no other claim ever had (host and process first, for people reading the row)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:24]}"


def claim(db: Database, limit: int = 20, lease_seconds: float = 60.0) -> list[Outgoing]:
    """Claims up to ``limit`` messages that are due (or whose dispatcher's lease ran out) for ``lease_seconds``,
    writing a new fencing token on each."""
    token = new_token()

    def take(s: Session) -> list[Outgoing]:
        now = utcnow()
        stmt = select(NotificationRow.id).where(_due(now)).order_by(NotificationRow.id).limit(limit)
        if not db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(s.scalars(stmt))
        if not ids:
            return []
        s.execute(update(NotificationRow).where(NotificationRow.id.in_(ids), _due(now))
                  .values(status="sending", claim=token, lease_until=now + timedelta(seconds=lease_seconds)),
                  execution_options={"synchronize_session": False})
        rows = s.scalars(select(NotificationRow).where(NotificationRow.id.in_(ids), NotificationRow.claim == token)
                         .order_by(NotificationRow.id)).all()
        refs = dict(s.execute(select(TicketRow.id, TicketRow.external_ref).where(
            TicketRow.id.in_({r.ticket_id for r in rows if r.ticket_id})) ).tuples().all())
        return [_outgoing(r, token, _conversation_id(refs.get(r.ticket_id or ""), r.destination)) for r in rows]

    return db.run(take)


def _outgoing(r: NotificationRow, token: str, conversation: str | None = None) -> Outgoing:
    return Outgoing(id=r.id, key=r.idempotency_key or f"tandem-notification-{r.id}", destination=r.destination,
                    kind=r.kind, channel=r.channel, ticket_id=r.ticket_id, recipient=r.recipient, subject=r.subject,
                    body=r.body, headers=dict(r.headers or {}), conversation=conversation, attempts=r.attempts,
                    token=token, in_doubt=r.handed_over_at is not None)


def _conversation_id(ref: str | None, destination: str) -> str | None:
    """The ticket's conversation id in ``destination`` (its ``external_ref`` without the source prefix)."""
    if not ref or ":" not in ref:
        return None
    source, value = ref.split(":", 1)
    return value if source == destination else None


def deliver(db: Database, settings: Settings, item: Outgoing, channels: dict[str, Deliverer]) -> str:
    """Delivers one claimed message if it is still this dispatcher's and records the outcome: ``delivered``,
    ``retrying`` or ``failed``; ``skipped`` when another dispatcher has taken it over (it delivers it)."""
    adapter = channels.get(item.destination)
    lease = settings.delivery_lease_seconds
    failpoint("delivery.claimed")
    marks = adapter is not None and bool(getattr(adapter, "hands_over", False))
    state = {"handed_over": False}

    def handover() -> None:
        if not _take_again(db, item, lease, handover=True):
            raise NotOurs(f"message {item.id} was taken over by another dispatcher")
        state["handed_over"] = True
        failpoint("delivery.handed_over")

    # the fence: still ours right before the hand-over (the channel marks the hand-over itself, or it is marked here)
    if marks or adapter is None:
        owned = _take_again(db, item, lease)
    else:
        try:
            handover()
            owned = True
        except NotOurs:
            owned = False
    if not owned:
        log.info("message %s to %s skipped: another dispatcher has taken it over", item.id, item.destination)
        return "skipped"
    item = replace(item, handover=handover if marks else None)
    try:
        with _kept(db, item, lease):
            if adapter is None:
                raise DeliveryFailed(f"no {item.destination} channel is configured here: set its settings "
                                     "(README, 'Connect your helpdesk or mailbox') and it is delivered on the next "
                                     "try")
            remote = adapter.deliver(item)
    except NotOurs:
        log.info("message %s to %s not sent: another dispatcher took it over during the send", item.id,
                 item.destination)
        return "skipped"
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the message and retried or shown
        return _failed(db, settings, item, exc, state["handed_over"])
    failpoint("delivery.sent")
    return _delivered(db, item, remote)


def _take_again(db: Database, item: Outgoing, lease: float, handover: bool = False) -> bool:
    """Renews the lease of ``item`` if its row still carries this claim's token and is being sent; False when
    another dispatcher has taken it. With ``handover`` it also records that the message is leaving now; a message
    whose earlier hand-over has no recorded outcome is sent again "in doubt", counted and audited."""
    if not handover:
        def renew(s: Session) -> bool:
            now = utcnow()
            done = s.execute(update(NotificationRow).where(NotificationRow.id == item.id,
                                                           NotificationRow.claim == item.token,
                                                           NotificationRow.status == "sending")
                             .values(lease_until=now + timedelta(seconds=lease)),
                             execution_options={"synchronize_session": False})
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

        return db.run(renew)

    def mark(s: Session) -> tuple[bool, datetime | None]:
        row = s.get(NotificationRow, item.id, with_for_update=True)
        if row is None or row.claim != item.token or row.status != "sending":
            return False, None
        now = utcnow()
        earlier = row.handed_over_at
        row.lease_until, row.handed_over_at = now + timedelta(seconds=lease), now
        if earlier is not None:
            row.resent_in_doubt = (row.resent_in_doubt or 0) + 1
            audit.append(s, "dispatcher", "message.resent_in_doubt", row.ticket_id, notification_id=row.id,
                         destination=item.destination, key=item.key, handed_over_at=earlier.isoformat(),
                         resent_in_doubt=row.resent_in_doubt)
        return True, earlier

    owned, earlier = db.run(mark)
    if earlier is not None:
        log.warning("message %s to %s sent again with the same key %s: an earlier attempt (handed over at %s) "
                    "ended without an outcome, so the receiving side may already have it", item.id,
                    item.destination, item.key, earlier.isoformat(timespec="seconds"))
    return owned


@contextmanager
def _kept(db: Database, item: Outgoing, lease: float) -> Iterator[None]:
    """Renews the lease of the message being sent every third of it for as long as the send lasts, so a slow
    receiving system never lets a live dispatcher's message be taken over."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(lease / 3):
            try:
                owned = _take_again(db, item, lease)
            except Exception as exc:  # noqa: BLE001 - a busy database: try again at the next beat
                log.warning("message %s: its lease could not be renewed: %s", item.id, exc)
                continue
            if not owned and not done.is_set():
                log.warning("message %s to %s: its lease ran out during the send and another dispatcher has taken "
                            "it over", item.id, item.destination)
                return

    keeper = threading.Thread(target=beat, name=f"lease-{item.id}", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        done.set()


def _delivered(db: Database, item: Outgoing, answer: str | dict[str, Any] | None) -> str:
    """Records the delivery: whoever holds the row now, a message that was delivered is delivered (a dispatcher
    that took it over meanwhile then finds it so at its own hand-over and does not send it again)."""
    remote = answer if isinstance(answer, str) else None

    def write(s: Session) -> str:
        row = s.get(NotificationRow, item.id, with_for_update=True)
        if row is None or row.status == "delivered":
            return "delivered"
        if row.claim != item.token:
            log.info("message %s to %s delivered after another dispatcher took it over: recorded as delivered",
                     item.id, item.destination)
        row.status, row.delivered_at, row.remote_id = "delivered", utcnow(), (remote or None)
        if isinstance(answer, dict):

            row.result = answer.get("result")
            called(s, row, answer)
        row.attempts, row.lease_until, row.last_error, row.handed_over_at = row.attempts + 1, None, None, None
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


def _failed(db: Database, settings: Settings, item: Outgoing, exc: BaseException, handed_over: bool = False) -> str:
    """Records a failed attempt, if the message is still this dispatcher's (else its new owner decides). When this
    attempt handed the message over and the receiving system answered with a refusal, the hand-over has its outcome
    and its mark is cleared; when no answer came back, the mark stays and the next attempt is sent in doubt."""
    reason = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else type(exc).__name__
    retry = not isinstance(exc, DeliveryFailed) or exc.retry
    answered = isinstance(exc, DeliveryFailed) and not exc.in_doubt

    def write(s: Session) -> str:
        row = s.get(NotificationRow, item.id, with_for_update=True)
        if row is None or row.status == "delivered":
            return "delivered"
        if row.claim != item.token or row.status != "sending":
            return "skipped"
        row.attempts += 1
        row.last_error, row.lease_until = reason, None
        if handed_over and answered:
            row.handed_over_at = None
        if retry and row.attempts < settings.delivery_max_attempts:
            row.status = "retrying"
            row.next_attempt_at = utcnow() + timedelta(seconds=backoff(settings, row.attempts))
        else:
            row.status, row.next_attempt_at = "failed", None
        if item.kind == "action_call":

            call_failed(s, row, exc, reason)
        elif row.attempts == 1 or row.status == "failed":
            audit.append(s, "dispatcher", "message.failed" if row.status == "failed" else "message.retrying",
                         row.ticket_id, notification_id=row.id, destination=item.destination, reason=reason,
                         attempts=row.attempts)
        return row.status

    status = db.run(write)
    if status == "skipped":
        log.info("message %s to %s: its failure (%s) is not recorded here, another dispatcher has taken it over",
                 item.id, item.destination, reason)
    elif status != "delivered":
        log.warning("message %s to %s not delivered (attempt %s): %s", item.id, item.destination,
                    item.attempts + 1, reason)
    return status


def deliver_key(db: Database, key: str, settings: Settings | None = None) -> str | None:
    """Delivers the message with idempotency key ``key`` now, if it is due and no dispatcher holds it (a call to an
    action made at once after its approval); returns how it ended, or None when it was not ours to send."""
    settings = settings or default_settings()

    token = new_token()

    def take(s: Session) -> Outgoing | None:
        now = utcnow()
        row = s.scalars(select(NotificationRow).where(NotificationRow.idempotency_key == key, _due(now))).first()
        if row is None:
            return None
        done = s.execute(update(NotificationRow).where(NotificationRow.id == row.id, _due(now))
                         .values(status="sending", claim=token,
                                 lease_until=now + timedelta(seconds=settings.delivery_lease_seconds)),
                         execution_options={"synchronize_session": False})
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return replace(_outgoing(row, token), key=key)

    item = db.run(take)
    if item is None:
        return None

    channels: dict[str, Deliverer] = {"action": ActionCaller()} if item.destination == "action" \
        else deliverers(settings)
    return deliver(db, settings, item, channels)


_DEFAULT: list[Settings] = []


def default_settings() -> Settings:
    """The process's settings, read once (for deliveries started outside a dispatcher)."""
    if not _DEFAULT:

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

    user = require(user, Role.admin, db)

    def write(s: Session) -> None:
        row = s.get(NotificationRow, notification_id, with_for_update=True)
        if row is None:
            raise NotFound(f"message {notification_id} not found")
        if row.status not in {"retrying", "failed"}:
            return
        row.status, row.next_attempt_at = "retrying", utcnow()
        if row.destination == "action":
            row.handed_over_at = None  # a call that may have been done is made again on a person's word
        audit.append(s, user.username, "message.retry", row.ticket_id, notification_id=row.id,
                     destination=row.destination)

    db.run(write)
