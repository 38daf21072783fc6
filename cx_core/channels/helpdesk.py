"""django-helpdesk: its webhooks bring tickets and customers' e-mailed follow-ups in, a poll of its REST API catches
what a lost webhook missed, and Tandem's replies go back as public follow-ups, which helpdesk e-mails to the customer.

django-helpdesk (2.6) sends two webhooks, unsigned (the URL carries Tandem's token), once, without retry, from inside
its own request with a 3 s timeout: ``HELPDESK_NEW_TICKET_WEBHOOK_URLS`` with ``{"ticket", "queue_slug"}`` and
``HELPDESK_FOLLOWUP_WEBHOOK_URLS`` with ``{"ticket", "queue_slug", "followup_id"}``; ``ticket`` is the ticket as its
REST API returns it, with every follow-up (``followup_set``). So a webhook only stores what its payload holds and
never calls helpdesk back, and every message of a ticket is offered each time (stored once by its id: ``t<ticket id>``
for the ticket's opening text, ``f<follow-up id>`` for a follow-up). ``poll_once`` reads the open and reopened tickets
the same way every ``TANDEM_HELPDESK_POLL_SECONDS``.

Who wrote a follow-up: the customer's come in by e-mail (no ``user``, a ``message_id``); one without a user or an
e-mail is helpdesk's own (an escalation, "Submitter accepted resolution") and kept as a note, like staff's private
follow-ups; staff's public follow-ups are replies already sent (kept on the thread, never sent again). Tandem's own
replies come back through the same webhook: they are the follow-ups whose text is a reply Tandem sent on that ticket.
helpdesk gives a follow-up no field a caller can mark (its ``title`` renames the ticket and the customer's e-mail
subject; ``message_id`` is read-only), so the text is the mark.

Replies: ``POST /api/followups/`` as a staff user (HTTP Basic), public, without a title. The comment is rendered as a
Django template there, so every brace is sent as a template literal (``escape``) and arrives as written. Before
posting, the ticket's follow-ups are read and one by Tandem's user with exactly this text is taken as delivered, so a
retried reply never posts twice (an identical reply already on the ticket is not repeated either).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import http_client
from ..config import Settings
from ..conversations import Inbound, outside_id, receive
from ..domain import active
from ..errors import ConfigError, ConnectorUnavailable, InvalidInput
from ..store.db import Database, utcnow
from ..store.tables import MessageRow, TicketRow
from . import cursors
from .base import DeliveryFailed, Outgoing
from .email import new_text
from .webhooks import Webhook, WebhookResult, list_field, text_field

log = logging.getLogger("tandem.helpdesk")

SOURCE = "helpdesk"
STAFF = "helpdesk staff"  # author of a reply or note a person wrote in helpdesk
SYSTEM = "helpdesk"  # author of a line helpdesk wrote itself
OPEN_STATUSES = "1,2"  # Open, Reopened
TIMEOUT = httpx.Timeout(15.0)
PAGE_SIZE = 100
OPENED_TITLES = ("Ticket Opened", "E-Mail Received from")
EMAILED_TITLE = "E-Mail Received from"


def escape(text: str) -> str:
    """``text`` as a Django template that renders back to exactly ``text``: each brace becomes a string literal."""
    return re.sub(r"[{}]", lambda m: "{{ '" + m.group(0) + "' }}", text)


def _same(text: str) -> str:
    return " ".join(text.split())


def _when(value: Any) -> datetime | None:
    """A follow-up's ``date`` as naive UTC; None when missing, unreadable or in the future."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        at = datetime.fromisoformat(value.strip())
        if at.tzinfo is not None:
            at = at.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    return at if at <= utcnow() else None


def _channel() -> str:
    names = active().channel_names
    return "email" if "email" in names or not names else names[0]


def _followups(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted((f for f in list_field(ticket.get("followup_set"))
                   if isinstance(f, dict) and isinstance(f.get("id"), int) and not isinstance(f.get("id"), bool)),
                  key=lambda f: f["id"])


def _opening(f: dict[str, Any], ticket: dict[str, Any]) -> bool:
    """Whether ``f`` (the ticket's first follow-up) only records the ticket's opening, whose text is the
    description."""
    title = text_field(f.get("title"))
    return title.startswith(OPENED_TITLES) or _same(text_field(f.get("comment"))) == _same(
        text_field(ticket.get("description")))


def _customer_text(comment: str) -> str:

    return new_text(comment)


def ticket_messages(ticket: dict[str, Any], own_user_id: int | None = None) -> list[Inbound]:
    """The messages of one helpdesk ticket (as its REST API and webhooks give it) as Tandem keeps them, oldest first:
    the opening text, then the customer's e-mailed follow-ups (``in``), staff's public follow-ups (``out``, already
    sent) and private ones and helpdesk's own lines (``note``). Follow-ups by ``own_user_id`` (Tandem's account, when
    known) are left out; empty ones too."""
    tid = ticket.get("id")
    if not isinstance(tid, int) or isinstance(tid, bool):
        raise InvalidInput("ticket.id: missing or not a number")
    conversation = str(tid)[:100]
    customer = text_field(ticket.get("submitter_email"))[:200] or None
    title = " ".join(text_field(ticket.get("title")).split())[:500]
    followups = _followups(ticket)
    out: list[Inbound] = []
    opening = text_field(ticket.get("description")) or title
    if opening:
        first_at = _when(followups[0].get("date")) if followups else None
        out.append(Inbound(source=SOURCE, body=opening, subject=title, customer=customer, channel=_channel(),
                           external_id=f"t{tid}", conversation=conversation, created_at=first_at))
    for i, f in enumerate(followups):
        if i == 0 and _opening(f, ticket):
            continue
        user = f.get("user")
        if own_user_id is not None and user == own_user_id:
            continue
        comment = text_field(f.get("comment"))
        if not comment:
            continue
        public = f.get("public") is True
        emailed = bool(text_field(f.get("message_id"))) or EMAILED_TITLE in text_field(f.get("title"))
        if user is None and public and emailed:
            direction, author, body = "in", "customer", _customer_text(comment)
        elif user is not None and public:
            direction, author, body = "out", STAFF, comment
        else:
            direction, author, body = "note", STAFF if user is not None else SYSTEM, comment
        out.append(Inbound(source=SOURCE, body=body, subject=title, customer=customer, channel=_channel(),
                           external_id=f"f{f['id']}", conversation=conversation, created_at=_when(f.get("date")),
                           author=author, direction=direction))
    return out


def store(db: Database, messages: list[Inbound]) -> tuple[str | None, int]:
    """Offers one ticket's messages to ``receive`` and returns Tandem's ticket id and how many were new. Messages
    stored before are skipped in one query; a staff reply whose text is one of Tandem's own replies on that ticket is
    Tandem's reply coming back and is skipped; a message ``receive`` refuses is logged and the others are stored."""
    if not messages:
        return None, 0
    ids = [x for x in (outside_id(SOURCE, m.external_id) for m in messages) if x]
    ref = outside_id(SOURCE, messages[0].conversation)
    with db.session() as s:
        known = set(s.scalars(select(MessageRow.external_id).where(MessageRow.external_id.in_(ids))))
        ticket_id = s.scalar(select(TicketRow.id).where(TicketRow.external_ref == ref))
        ours = _own_replies(s, ticket_id) if ticket_id else set()
    added = 0
    for m in messages:
        if outside_id(SOURCE, m.external_id) in known:
            continue
        if m.direction == "out" and _same(m.body) in ours:
            continue
        if ticket_id is None and m.direction != "in":
            continue
        try:
            got = receive(db, m)
        except InvalidInput as exc:
            log.warning("helpdesk ticket %s: message %s not stored: %s", m.conversation, m.external_id, exc)
            continue
        ticket_id = got.ticket_id
        added += 0 if got.duplicate else 1
    return ticket_id, added


def _own_replies(s: Session, ticket_id: str) -> set[str]:
    """The texts of the replies Tandem sent on the ticket (every reply on its thread not copied from helpdesk)."""
    return {_same(b) for b in s.scalars(select(MessageRow.body).where(
        MessageRow.ticket_id == ticket_id, MessageRow.direction == "out", MessageRow.author != STAFF))}


def handle_webhook(db: Database, settings: Settings, payload: dict[str, Any]) -> dict[str, Any]:
    """One django-helpdesk webhook (new ticket or follow-up): stores what the payload's ticket holds that Tandem has
    not seen, without calling helpdesk. Returns ``{"ticket_id", "added", "event", "detail"}``."""
    ticket = payload.get("ticket")
    if not isinstance(ticket, dict) or not isinstance(ticket.get("id"), int):
        raise InvalidInput("ticket: missing from the webhook body (django-helpdesk sends {\"ticket\": {...}})")
    event = "followup" if "followup_id" in payload else "ticket"
    ticket_id, added = store(db, ticket_messages(ticket))
    detail = f"{added} message{'s' if added != 1 else ''} added" if added else "nothing new"
    return {"ticket_id": ticket_id, "added": added, "event": event, "detail": detail}


def handle(db: Database, settings: Settings, payload: dict[str, Any], channels: tuple[str, ...]) -> WebhookResult:
    done = handle_webhook(db, settings, payload)
    return WebhookResult("ok", done["event"], done["ticket_id"], done["detail"])


WEBHOOK = Webhook(
    name=SOURCE, label="django-helpdesk", secret_setting="helpdesk_webhook_token", handle=handle,
    events="django-helpdesk's webhook (not signed): the URL's ``token`` must be TANDEM_HELPDESK_WEBHOOK_TOKEN.")


# ------------------------------------------------------------------ the REST API
class HelpdeskError(ConnectorUnavailable):
    """django-helpdesk did not do what was asked; ``retry`` is False when asking again cannot help."""

    def __init__(self, message: str, retry: bool = True, status: int | None = None) -> None:
        super().__init__(message)
        self.retry, self.status = retry, status


class HelpdeskClient:
    """django-helpdesk's REST API (``{url}/api/``) as a staff user."""

    def __init__(self, url: str, user: str, password: str, client: httpx.Client | None = None) -> None:
        self.base = url.rstrip("/")
        self.user = user
        self.client = client or http_client.client(timeout=TIMEOUT, follow_redirects=False,
                                             auth=httpx.BasicAuth(user, password),
                                             headers={"Accept": "application/json", "User-Agent": "Tandem"})

    @classmethod
    def from_settings(cls, settings: Settings) -> HelpdeskClient:
        password = settings.helpdesk_password.get_secret_value()
        if not (settings.helpdesk_url.strip() and settings.helpdesk_user.strip() and password):
            raise ConfigError("set TANDEM_HELPDESK_URL, TANDEM_HELPDESK_USER and TANDEM_HELPDESK_PASSWORD (a "
                              "django-helpdesk staff user) to read and answer its tickets")
        return cls(settings.helpdesk_url.strip(), settings.helpdesk_user.strip(), password)

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """One call; the answer's JSON. Failures raise ``HelpdeskError`` with one line for people."""
        try:
            resp = self.client.request(method, f"{self.base}/api/{path.lstrip('/')}", **kwargs)
        except httpx.TimeoutException as exc:
            raise HelpdeskError(f"helpdesk did not answer within {TIMEOUT.read:.0f} s ({what})") from exc
        except httpx.HTTPError as exc:
            reason = next((x.strip() for x in str(exc).splitlines() if x.strip()), type(exc).__name__)
            raise HelpdeskError(f"helpdesk at {self.base} could not be reached: {reason}"[:300]) from exc
        code = resp.status_code
        if resp.is_success:
            try:
                return resp.json()
            except ValueError as exc:
                raise HelpdeskError(f"helpdesk answered {code} without JSON ({what}): is {self.base} "
                                    "django-helpdesk?", retry=False, status=code) from exc
        if code in (401, 403):
            raise HelpdeskError(f"helpdesk refused user '{self.user}' ({code}): check TANDEM_HELPDESK_USER and "
                                "TANDEM_HELPDESK_PASSWORD, and that the user is staff", retry=False, status=code)
        detail = " ".join(resp.text.split())[:200] if code < 500 else ""
        raise HelpdeskError(f"helpdesk answered {code} ({what})" + (f": {detail}" if detail else ""),
                            retry=code >= 500 or code in (408, 429), status=code)

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        """The ticket with all its follow-ups."""
        try:
            data = self.call("GET", f"tickets/{ticket_id}/", f"ticket {ticket_id}")
        except HelpdeskError as exc:
            if exc.status == 404:
                raise HelpdeskError(f"helpdesk ticket {ticket_id} not found", retry=False, status=404) from exc
            raise
        if not isinstance(data, dict):
            raise HelpdeskError(f"helpdesk ticket {ticket_id}: unexpected answer", retry=False)
        return data

    def open_tickets(self) -> Iterator[dict[str, Any]]:
        """Every open or reopened ticket, page by page."""
        page = 1
        while True:
            data = self.call("GET", "tickets/", "open tickets",
                             params={"status": OPEN_STATUSES, "page_size": PAGE_SIZE, "page": page})
            results = data.get("results") if isinstance(data, dict) else None
            if not isinstance(results, list):
                raise HelpdeskError("helpdesk's ticket list has no results: is this django-helpdesk's API?",
                                    retry=False)
            yield from (t for t in results if isinstance(t, dict))
            if not data.get("next") or not results:
                return
            page += 1

    def add_followup(self, ticket_id: int, comment: str) -> dict[str, Any]:
        """A public follow-up as the API user; helpdesk e-mails it to the customer."""
        data = self.call("POST", "followups/", f"reply on ticket {ticket_id}",
                         json={"ticket": ticket_id, "comment": escape(comment), "public": True})
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise HelpdeskError(f"helpdesk took the reply on ticket {ticket_id} but returned no follow-up id",
                                retry=False)
        return data


# ------------------------------------------------------------------ catching up
def _cursor_name(settings: Settings) -> str:
    return f"helpdesk:{settings.helpdesk_url.strip().rstrip('/')}"[:120]




def poll_once(db: Database, settings: Settings, client: HelpdeskClient | None = None) -> int:
    """Reads every open and reopened helpdesk ticket and stores what Tandem has not seen; returns how many messages
    were added. A ticket whose messages cannot be read is logged and the others are still read."""
    mine = client is None
    api = client or HelpdeskClient.from_settings(settings)
    try:
        tickets = added = 0
        for listed in api.open_tickets():
            tickets += 1
            try:
                ticket = listed if "followup_set" in listed else api.ticket(int(listed["id"]))
                added += store(db, ticket_messages(ticket))[1]
            except (InvalidInput, HelpdeskError, KeyError, TypeError, ValueError) as exc:
                log.warning("helpdesk ticket %s not read: %s", listed.get("id"), exc)
        cursors.save(db, _cursor_name(settings), {"polled_at": utcnow().isoformat(timespec="seconds"),
                                                  "open_tickets": tickets, "added": added})
        return added
    finally:
        if mine:
            api.close()


def watch(db: Database, settings: Settings, stop: threading.Event) -> None:
    """Polls helpdesk every ``helpdesk_poll_seconds`` until ``stop``; a failed poll is logged and tried again after
    growing waits (5 s, doubling, at most 5 minutes). Returns at once, with a warning, when no API user is set (the
    webhooks still work)."""
    try:
        client = HelpdeskClient.from_settings(settings)
    except ConfigError as exc:
        log.warning("helpdesk catch-up polling is off: %s", exc)
        return
    failures = 0
    try:
        while not stop.is_set():
            try:
                added = poll_once(db, settings, client)
                failures = 0
                if added:
                    log.info("helpdesk: %s message(s) caught up", added)
                wait = settings.helpdesk_poll_seconds
            except Exception as exc:  # noqa: BLE001 - the poll is tried again; the worker never stops for it
                failures += 1
                wait = min(5.0 * 2 ** (failures - 1), 300.0)
                reason = next((x.strip() for x in str(exc).splitlines() if x.strip()), type(exc).__name__)
                log.warning("helpdesk %s: %s; trying again in %.0f s", settings.helpdesk_url, reason, wait)
            stop.wait(wait)
    finally:
        client.close()


# ------------------------------------------------------------------ sending replies
class HelpdeskReplies:
    """Posts replies to their helpdesk ticket as public follow-ups, once."""

    name = SOURCE
    hands_over = True

    def __init__(self, client: HelpdeskClient) -> None:
        self.client = client
        self.user_id: int | None = None  # the API user's id, known from its first follow-up

    def deliver(self, item: Outgoing) -> str | None:
        """Posts the reply unless an earlier attempt did; returns the follow-up's id as Tandem stores it
        (``f<id>``)."""
        if not item.conversation:
            raise DeliveryFailed("this ticket did not come from the helpdesk", retry=False)
        if not item.conversation.isdigit():
            raise DeliveryFailed(f"'{item.conversation[:40]}' is not a helpdesk ticket number", retry=False)
        ticket_id = int(item.conversation)
        try:
            earlier = self.posted(self.client.ticket(ticket_id), item.body)
            if earlier is not None:
                return f"f{earlier}"
            item.handing_over()
            made = self.client.add_followup(ticket_id, item.body)
        except HelpdeskError as exc:
            raise DeliveryFailed(str(exc), retry=exc.retry) from exc
        if isinstance(made.get("user"), int):
            self.user_id = made["user"]
        return f"f{made['id']}"

    def posted(self, ticket: dict[str, Any], body: str) -> int | None:
        """The id of a public staff follow-up with exactly this text (by the API user, when known), else None."""
        want = _same(body)
        for f in reversed(_followups(ticket)):
            user = f.get("user")
            if user is None or not f.get("public") or (self.user_id is not None and user != self.user_id):
                continue
            if _same(str(f.get("comment") or "")) == want:
                return int(f["id"])
        return None


def from_settings(settings: Settings) -> HelpdeskReplies | None:
    """helpdesk's reply side when its URL, staff user and password are set (``TANDEM_HELPDESK_*``), else None."""
    try:
        return HelpdeskReplies(HelpdeskClient.from_settings(settings))
    except ConfigError:
        return None
