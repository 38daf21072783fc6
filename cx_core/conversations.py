"""Conversations and intake: a ticket is a thread of messages from the customer, replies to the customer and
internal notes.

Every way in — the inbound API, signed helpdesk webhooks, a polled mailbox, file import — hands a message to
``receive``. A message already seen (its outside id) adds nothing. One that belongs to a ticket — the ticket's id,
the conversation it came from (a Chatwoot conversation, a helpdesk ticket), or an e-mail's ``In-Reply-To`` and
``References`` — joins that ticket, which goes back to the agent to be read again as a whole; otherwise it opens a
new ticket. Status moves new → open → waiting (on the customer) → resolved, and a customer's message reopens.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import audit, packs, repeats
from .access import require
from .domain import active
from .errors import InvalidInput, NotFound, TandemError
from .models import (
    MAX_BODY_CHARS,
    ImportedTicket,
    Role,
    TicketIn,
    control_characters,
    storable_text,
    unknown_channel,
)
from .redact import redact_secrets
from .store.db import Database, utcnow
from .store.tables import MessageRow, NotificationRow, TicketRow

log = logging.getLogger("tandem.conversations")

DIRECTIONS = ("in", "out", "note")
# the systems whose conversations open tickets named after them (``zendesk-123``): such ids are theirs alone, so an
# API call or an import can never take, shadow or pre-empt the ticket of one of their conversations
CHANNEL_SOURCES = {"email": "e-mail", "chatwoot": "Chatwoot", "zendesk": "Zendesk", "zammad": "Zammad",
                   "helpdesk": "django-helpdesk"}
# a ticket the customer's message sends back to the agent; "new" and "processing" are on their way already
REREAD = {"open", "waiting", "resolved", "escalated"}


@dataclass
class Inbound:
    """One message as a channel hands it over. Ids are the source's own; Tandem prefixes them with ``source``."""

    source: str  # api | email | chatwoot | zendesk | helpdesk | import | simulator
    body: str
    subject: str = ""
    customer: str | None = None  # e-mail address or customer id
    channel: str = ""  # a new ticket's channel (default e-mail); a follow-up keeps its ticket's unless given
    external_id: str | None = None  # the message's id in its source (an e-mail's Message-ID)
    conversation: str | None = None  # the thread's id in its source (a Chatwoot conversation, a helpdesk ticket)
    references: tuple[str, ...] = ()  # ids of earlier messages of the same source this one answers
    ticket_id: str | None = None  # Tandem's ticket id, when the caller knows it
    created_at: datetime | None = None
    author: str = "customer"
    direction: str = "in"  # in: from the customer; out: a reply someone sent in the source system; note: internal
    owner_token: int | None = None  # the API token that opens the ticket (it reads and writes its own tickets)


@dataclass
class Received:
    ticket_id: str
    message_id: int | None
    created: bool  # a new ticket was opened
    duplicate: bool  # seen before: nothing was added
    reopened: bool = False  # the ticket goes back to the agent to be read again


def outside_id(source: str, value: str | None) -> str | None:
    """An outside id as stored: prefixed by its source, so that two systems' ids never meet."""
    value = (value or "").strip()
    return f"{source}:{value}"[:400] if value else None


_MAILBOX_ID = re.compile(r"email-[0-9a-f]{12}", re.I)


def reserved_by(ticket_id: str) -> str | None:
    """The channel whose conversations' tickets are named like ``ticket_id``, or None: ``zendesk-…``,
    ``chatwoot-…``, ``zammad-…`` and ``helpdesk-…`` belong to those systems, ``email-`` with twelve hex digits
    to the mailbox."""
    head = ticket_id.split("-", 1)[0].strip().lower() if "-" in ticket_id else ""
    if head == "email":
        return head if _MAILBOX_ID.fullmatch(ticket_id.strip()) else None
    return head if head in CHANNEL_SOURCES else None


def reserved_id_problem(ticket_id: str, conversation: str | None = None) -> str | None:
    """Why ``ticket_id`` cannot be given to a ticket from the API or a file, or None. A file's ticket that names the
    conversation it continues (``zendesk:123``) may carry that system's ticket name."""
    source = reserved_by(ticket_id)
    linked = (conversation or "").split(":", 1)[0].strip().lower()
    if source is None or source == linked:
        return None
    return (f"ids like '{ticket_id.split('-', 1)[0]}-…' are kept for tickets that come from "
            f"{CHANNEL_SOURCES[source]}; choose another id")


def conversation_problem(conversation: str) -> str | None:
    """Why ``conversation`` (``SOURCE:ID``, the helpdesk or mailbox conversation an imported ticket continues) is
    not usable, or None."""
    source, _, value = conversation.partition(":")
    if source.strip().lower() not in CHANNEL_SOURCES or not value.strip():
        return (f"'{conversation[:60]}' is not SOURCE:ID with SOURCE one of {', '.join(CHANNEL_SOURCES)} (the "
                "system's own conversation id, e.g. zendesk:123)")
    return None


def _checked(msg: Inbound) -> Inbound:
    """``msg`` with text the database can keep, or ``InvalidInput`` naming an id field that carries control
    characters (ids are printable; a message's own text is kept as written, NUL characters aside)."""
    for name in ("ticket_id", "customer", "external_id", "conversation", "author", "channel"):
        value = getattr(msg, name)
        bad = control_characters(value) if isinstance(value, str) else None
        if bad:
            raise InvalidInput(f"{name}: contains the control character {bad}; only printable characters are "
                               "allowed here")
    for ref in msg.references:
        if control_characters(ref):
            raise InvalidInput("references: an id contains control characters")
    msg.body, msg.subject = storable_text(msg.body), storable_text(msg.subject)
    return msg


def receive(db: Database, msg: Inbound) -> Received:
    """Stores ``msg`` once: as a follow-up of the ticket it belongs to (which is read again), or as a new ticket.
    A message whose outside id is stored already changes nothing. Bad input raises ``InvalidInput`` naming the
    field, and nothing is stored."""
    if msg.direction not in DIRECTIONS:
        raise InvalidInput(f"direction: must be one of {', '.join(DIRECTIONS)}")
    msg = _checked(msg)
    if not msg.body.strip():
        raise InvalidInput("body: the message is empty")
    if len(msg.body) > MAX_BODY_CHARS:
        raise InvalidInput(f"body: {len(msg.body):,} characters; the limit is {MAX_BODY_CHARS:,}")
    for attempt in range(3):
        try:
            return db.run(lambda s: _receive(s, msg))
        except IntegrityError:  # the same message or conversation arrived at the same moment: read it again
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _receive(s: Session, msg: Inbound) -> Received:
    ext = outside_id(msg.source, msg.external_id)
    if ext is not None:
        seen = s.execute(select(MessageRow.id, MessageRow.ticket_id).where(MessageRow.external_id == ext)).first()
        if seen is not None:
            return Received(seen.ticket_id, seen.id, created=False, duplicate=True)
    row = _thread_of(s, msg)
    if row is None:
        return _open(s, msg, ext)
    return _follow_up(s, row, msg, ext)


def _thread_of(s: Session, msg: Inbound) -> TicketRow | None:
    """The ticket ``msg`` belongs to: named by id, by its conversation, or by the messages it answers when one of
    them is Tandem's own reply or the ticket is the sender's."""
    if msg.ticket_id:
        row = s.get(TicketRow, msg.ticket_id, with_for_update=True)
        if row is not None:
            return row
    ref = outside_id(msg.source, msg.conversation)
    if ref is not None:
        row = s.scalars(select(TicketRow).where(TicketRow.external_ref == ref).with_for_update()).first()
        if row is not None:
            return row
    answered = [x for x in (outside_id(msg.source, r) for r in msg.references) if x]
    if answered:
        found = s.execute(select(MessageRow.ticket_id, MessageRow.direction, TicketRow.customer_ref)
                          .join(TicketRow, TicketRow.id == MessageRow.ticket_id)
                          .where(MessageRow.external_id.in_(answered)).order_by(MessageRow.id.desc())).all()
        sender = (msg.customer or "").strip().lower()
        for ticket_id, direction, customer in found:
            # a message Tandem sent, or one whose ticket is the sender's own: anyone who merely quotes a customer's
            # message id (a stranger copied on it) opens a ticket of their own
            if direction == "out" or (sender and sender == (customer or "").strip().lower()):
                return s.get(TicketRow, ticket_id, with_for_update=True)
    return None


def _open(s: Session, msg: Inbound, ext: str | None) -> Received:
    ref = outside_id(msg.source, msg.conversation) or (ext if msg.source == "email" else None)
    ticket_id = msg.ticket_id or _free_id(s, _new_id(msg))
    channels = active().channel_names
    if (msg.channel or "email") not in channels:
        raise InvalidInput(f"channel: {unknown_channel(msg.channel or 'email', channels)}")
    try:
        ticket = TicketIn(id=ticket_id, customer=msg.customer, channel=msg.channel or "email", subject=msg.subject,
                          body=msg.body, created_at=msg.created_at)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "message"
        raise InvalidInput(f"{field}: {err['msg'].removeprefix('Value error, ')}") from exc
    # a message sent again joins the sender's open ticket; a caller's own ticket id or an outside conversation
    # (whose replies go back to it) always opens its own
    joined: dict[str, str] | None = {} if msg.ticket_id is None and msg.conversation is None \
        and msg.direction == "in" else None
    ids = insert_tickets(s, [ticket], msg.source, "intake", extras={ticket.id: {
        "external_ref": ref, "api_token_id": msg.owner_token,
        "message": {"external_id": ext, "channel": ticket.channel, "author": msg.author, "direction": msg.direction}}},
        joined=joined)
    if joined:  # the customer's message again: it joined their open ticket
        into = joined[ticket.id]
        last = s.scalar(select(func.max(MessageRow.id)).where(MessageRow.ticket_id == into))
        return Received(into, last, created=False, duplicate=False)
    if not ids and ext is not None:  # the same message was stored a moment ago, under the ticket it opened
        seen = s.execute(select(MessageRow.id, MessageRow.ticket_id).where(MessageRow.external_id == ext)).first()
        if seen is not None:
            return Received(seen.ticket_id, seen.id, created=False, duplicate=True)
    first = s.scalar(select(MessageRow.id).where(MessageRow.ticket_id == ticket.id).order_by(MessageRow.id))
    return Received(ticket.id, first, created=bool(ids), duplicate=not ids)


def _new_id(msg: Inbound) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", (msg.conversation or "").strip()).strip("-")[:60]
    return f"{msg.source}-{base}" if base and msg.source != "email" else f"{msg.source}-{uuid.uuid4().hex[:12]}"


def _free_id(s: Session, wanted: str) -> str:
    """``wanted``, or the first of ``wanted-2``, ``wanted-3``… that no ticket has: a conversation always opens its
    own ticket, whatever ticket ids were taken before it arrived (by an older import, say)."""
    candidate, n = wanted, 1
    while s.get(TicketRow, candidate) is not None:
        n += 1
        candidate = f"{wanted}-{n}" if n < 20 else f"{wanted}-{uuid.uuid4().hex[:8]}"
    return candidate


def _follow_up(s: Session, row: TicketRow, msg: Inbound, ext: str | None) -> Received:
    """Adds the message to the ticket's thread; a customer's message sends the ticket back to the agent (a
    resolved or waiting ticket reopens), and the inbox marks that the customer replied."""
    at = naive_utc(msg.created_at) if msg.created_at else utcnow()
    m = MessageRow(ticket_id=row.id, author=msg.author[:80], body=redact_secrets(msg.body), created_at=at,
                   direction=msg.direction, channel=msg.channel if msg.channel else row.channel, external_id=ext)
    s.add(m)
    s.flush()
    reopened = False
    if msg.direction == "in":
        row.customer_replied = True
        was = row.status
        if was in REREAD:
            row.status, row.claimed_by, row.lease_until = "new", None, None
            reopened = True
            if was == "resolved":
                row.resolved_at = None
                audit.append(s, "intake", "ticket.reopened", row.id, by="customer", previous=was)
    audit.append(s, "intake", "message.received", row.id, source=msg.source, direction=msg.direction,
                 message_id=m.id, external_id=ext, reread=reopened)
    return Received(row.id, m.id, created=False, duplicate=False, reopened=reopened)


def naive_utc(at: datetime) -> datetime:
    """A time as stored (naive UTC): one with an offset is converted first, one without is taken as UTC."""
    try:
        return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at
    except (OverflowError, ValueError) as exc:
        raise InvalidInput(f"created_at: {at.isoformat()} is out of range") from exc


def add_note(db: Database, user: Any, ticket_id: str, body: str) -> int:
    """An internal note on the ticket's thread: seen by staff, never sent, never read as the customer's words."""
    user = require(user, Role.advisor, db)
    if not body.strip():
        raise InvalidInput("the note is empty")
    if len(body) > 20_000:
        raise InvalidInput(f"the note has {len(body):,} characters; the limit is 20,000")

    def write(s: Session) -> int:
        if s.get(TicketRow, ticket_id) is None:
            raise NotFound(f"ticket {ticket_id} not found")
        m = MessageRow(ticket_id=ticket_id, author=user.username, body=redact_secrets(body.strip()),
                       created_at=utcnow(), direction="note", channel="internal")
        s.add(m)
        s.flush()
        audit.append(s, user.username, "note.added", ticket_id, message_id=m.id)
        return m.id

    return db.run(write)


def customer_text(s: Session, ticket_id: str, fallback: str) -> tuple[str, int | None]:
    """What the customer has written on the ticket, oldest first, as the text the agent reads, and the newest
    message id it includes. With one message it is that message; the newest text is kept whole within the limit."""
    rows = s.execute(select(MessageRow.id, MessageRow.body).where(MessageRow.ticket_id == ticket_id,
                                                                 MessageRow.direction == "in")
                     .order_by(MessageRow.id)).all()
    latest = s.scalar(select(func.max(MessageRow.id)).where(MessageRow.ticket_id == ticket_id))
    if len(rows) <= 1:
        return (rows[0].body if rows else fallback), latest
    parts: list[str] = []
    room, said = MAX_BODY_CHARS, set[str]()
    for r in reversed(rows):
        if (words := " ".join(r.body.split()).casefold()) in said:
            continue  # the same message sent again is read once
        said.add(words)
        if len(r.body) + 2 > room:
            break
        parts.append(r.body)
        room -= len(r.body) + 2
    return "\n\n".join(reversed(parts)) or rows[-1].body[-MAX_BODY_CHARS:], latest


def unread_customer_message(s: Session, ticket_id: str, read_through: int | None) -> bool:
    """Whether the customer wrote after the message the agent's result has read."""
    q = select(func.count()).select_from(MessageRow).where(MessageRow.ticket_id == ticket_id,
                                                           MessageRow.direction == "in")
    if read_through is not None:
        q = q.where(MessageRow.id > read_through)
    return bool(read_through is not None and s.scalar(q))


def thread(db: Database, ticket_id: str) -> list[dict[str, Any]]:
    """The ticket's messages in order, each with its delivery state when it went out."""

    with db.session() as s:
        rows = s.scalars(select(MessageRow).where(MessageRow.ticket_id == ticket_id).order_by(MessageRow.id)).all()
        sent = {n.message_id: n for n in s.scalars(select(NotificationRow).where(
            NotificationRow.ticket_id == ticket_id, NotificationRow.message_id.is_not(None)))}
        out = []
        for m in rows:
            n = sent.get(m.id)
            out.append({"id": m.id, "author": m.author, "body": m.body, "at": m.created_at, "direction": m.direction,
                        "channel": m.channel, "external_id": m.external_id,
                        "delivery": None if n is None else {"status": n.status, "destination": n.destination,
                                                            "attempts": n.attempts, "error": n.last_error,
                                                            "next_attempt_at": n.next_attempt_at,
                                                            "delivered_at": n.delivered_at}})
        return out


def last_message_id(db: Database, ticket_id: str) -> int:
    """The newest message's id on the ticket (0 when none): the workspace compares it to show arrivals live."""
    with db.session() as s:
        return int(s.scalar(select(func.max(MessageRow.id)).where(MessageRow.ticket_id == ticket_id)) or 0)


# ------------------------------------------------------------------ intake: tickets from files and the simulator
@dataclass
class ParseError:
    line: int
    message: str


def parse_ticket_file(path: Path, intake: bool = False, channels: tuple[str, ...] | None = None
                      ) -> tuple[list[tuple[int, TicketIn]], list[ParseError]]:
    """Tickets from a JSONL or CSV file; each bad line becomes an error naming the line, the rest still parse.
    For ``intake`` (an import into the live queue), an id named like a channel's tickets is refused unless the line
    names that channel's conversation it continues. ``channels``: the domain's, which each ticket's must be one of."""
    if not path.exists():
        raise InvalidInput(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text") from exc
    good: list[tuple[int, TicketIn]] = []
    bad: list[ParseError] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if "id" not in (reader.fieldnames or []):
            raise InvalidInput(f"{path}: CSV needs a header with at least an 'id' column")
        rows: list[tuple[int, Any]] = [(reader.line_num, row) for row in reader]
    else:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                bad.append(ParseError(n, f"line {n}: not valid JSON ({exc.msg} at column {exc.colno})"))
    for n, raw in rows:
        if not isinstance(raw, dict):
            bad.append(ParseError(n, f"line {n}: expected a JSON object with id, channel, subject, body"))
            continue
        raw = {k: v for k, v in raw.items() if v not in (None, "")} if path.suffix.lower() == ".csv" else raw
        try:
            ticket = ImportedTicket.model_validate(raw, context={"channels": channels} if channels else None)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "ticket"
            bad.append(ParseError(n, f"line {n}: field '{field}': {err['msg'].removeprefix('Value error, ')}"))
            continue
        problem = _intake_problem(ticket) if intake else None
        if problem:
            bad.append(ParseError(n, f"line {n}: {problem}"))
            continue
        good.append((n, ticket))
    return good, bad


def _intake_problem(ticket: ImportedTicket) -> str | None:
    if ticket.conversation:
        problem = conversation_problem(ticket.conversation)
        if problem:
            return f"field 'conversation': {problem}"
    problem = reserved_id_problem(ticket.id, ticket.conversation)
    return f"field 'id': {problem}" if problem else None


IMPORT_BATCH = 500


def add_tickets(db: Database, tickets: list[TicketIn], source: str, actor: str = "intake",
                progress: Callable[[int], None] | None = None, join_repeats: bool = False) -> tuple[int, int]:
    """Stores new tickets, a few hundred per transaction, each still its own ``ticket.received`` audit event;
    duplicates by id (stored already, or repeated in ``tickets``) are skipped, and with ``join_repeats`` so is a
    message repeating a ticket of its sender still open, which joins it (``repeats``). ``progress`` is told how many
    tickets each batch handled. Returns (added, skipped)."""
    added = skipped = 0
    for start in range(0, len(tickets), IMPORT_BATCH):
        batch = tickets[start:start + IMPORT_BATCH]
        try:
            got = _add_batch(db, batch, source, actor, join_repeats)
        except IntegrityError:  # another writer stored one of these ids meanwhile: this batch one by one
            got = (0, 0)
            for t in batch:
                try:
                    one = _add_batch(db, [t], source, actor, join_repeats)
                except IntegrityError:
                    one = (0, 1)
                got = (got[0] + one[0], got[1] + one[1])
        added, skipped = added + got[0], skipped + got[1]
        if progress is not None:
            progress(len(batch))
    return added, skipped


def _add_batch(db: Database, batch: list[TicketIn], source: str, actor: str, join_repeats: bool) -> tuple[int, int]:
    """One transaction: the tickets not stored yet, their first message and one audit event each, in order."""
    with db.tx() as s:
        added = insert_tickets(s, batch, source, actor, joined={} if join_repeats else None)
        return len(added), len(batch) - len(added)


def insert_tickets(s: Session, batch: list[TicketIn], source: str, actor: str,
                   extras: dict[str, dict[str, Any]] | None = None,
                   joined: dict[str, str] | None = None) -> list[str]:
    """Stores the tickets of ``batch`` not stored yet, each with its first message and a ``ticket.received`` audit
    event, in the caller's transaction; ``extras`` adds columns by ticket id (its outside conversation, and under
    ``message`` the first message's own). Given ``joined``, a message repeating a ticket of its sender still open
    joins that ticket instead (``repeats``), and ``joined`` maps the ticket not opened to it. Returns the ids added."""
    records = packs.records(active())
    extras = dict(extras or {})
    for t in batch:  # a file's ticket that continues a helpdesk's conversation keeps its link (and its way back)
        conversation = getattr(t, "conversation", None)
        if conversation and t.id not in extras:
            source, _, value = conversation.partition(":")
            extras[t.id] = {"external_ref": f"{source.strip().lower()}:{value.strip()}"[:400],
                            "source": source.strip().lower()}
    seen = set(s.scalars(select(TicketRow.id).where(TicketRow.id.in_({t.id for t in batch}))))
    refs = [e["external_ref"] for e in extras.values() if e.get("external_ref")]
    if refs:  # a conversation already here is not opened twice
        linked = set(s.scalars(select(TicketRow.external_ref).where(TicketRow.external_ref.in_(refs))))
        seen |= {t.id for t in batch if extras.get(t.id, {}).get("external_ref") in linked}
    customers: dict[str | None, str | None] = {}
    fresh: list[tuple[TicketIn, str | None]] = []
    rows: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for t in batch:
        if t.id in seen:
            continue
        seen.add(t.id)
        if t.customer not in customers:
            try:
                cust = records.lookup(s, t.customer)
            except TandemError as exc:  # the team's records do not answer: the customer is found when it is read
                log.warning("ticket %s: its customer could not be looked up now: %s", t.id, exc)
                cust = None
            customers[t.customer] = cust.id if cust else None
        customer_id = customers[t.customer]
        created = naive_utc(t.created_at) if t.created_at else utcnow()
        body = redact_secrets(t.body)
        extra = dict(extras.get(t.id, {}))
        message = {"author": "customer", "direction": "in", "channel": t.channel, **extra.pop("message", {})}
        rows.append({"id": t.id, "customer_ref": t.customer, "customer_id": customer_id,
                     "channel": t.channel, "subject": redact_secrets(t.subject)[:500], "body": body,
                     "created_at": created, "source": source, "status": "new", "external_ref": None,
                     "api_token_id": None, **extra})
        messages.append({"ticket_id": t.id, "body": body, "created_at": created, "external_id": None, **message})
        fresh.append((t, customer_id))
    aside: dict[str, str] = {}
    if joined is not None:
        aside = repeats.set_aside(s, rows, messages)
        joined.update(aside)
        fresh = [f for f in fresh if f[0].id not in aside]
        rows = [r for r in rows if r["id"] not in aside]
    if messages:
        if rows:
            s.execute(insert(TicketRow), rows)
        s.execute(insert(MessageRow), messages)
        audit.append_many(s, actor, "ticket.received", [
            (t.id, {"channel": t.channel, "source": source, "customer_id": customer_id})
            for t, customer_id in fresh])
        audit.append_many(s, actor, "message.repeated", [(into, {"instead_of": new, "source": source})
                                                          for new, into in aside.items()])
    return [t.id for t, _ in fresh]


