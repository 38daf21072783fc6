"""E-mail: a support mailbox read over IMAP (IDLE where the server offers it, else polled) and replies sent over SMTP.

New mail becomes a ticket, or a follow-up of the ticket its ``In-Reply-To``/``References`` name; replies carry a
``Message-ID`` of their own (the outbox row's key, fixed before the first try) with ``In-Reply-To`` and
``References``, so the customer's mail client threads them and their answer comes back to the same ticket. The
mailbox is read from a cursor (UIDVALIDITY and the last UID read), kept after each message is stored, and every
message is stored once by its Message-ID, so a restart or a second reader doubles nothing. Flags are left as they
are: people may read the same mailbox.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import smtplib
import ssl
import threading
from datetime import UTC
from email.message import EmailMessage, Message
from email.utils import format_datetime, getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

from bs4 import BeautifulSoup
from sqlalchemy.orm import Session

from ..config import Settings
from ..conversations import Inbound, receive
from ..delivery import DeliveryFailed, Outgoing
from ..domain import active
from ..errors import InvalidInput, TandemError
from ..store.db import Database, utcnow
from ..store.tables import ChannelCursorRow

log = logging.getLogger("tandem.email")

_QUOTE_HEADER = re.compile(r"^(On .{4,200} wrote:|Le .{4,200} a écrit ?:|Am .{4,200} schrieb .{0,80}:|"
                           r"-{2,} ?Original Message ?-{2,}|From: .+)\s*$", re.IGNORECASE)
_IDS = re.compile(r"<[^<>\s]+>")


def _ids(value: str | None) -> list[str]:
    return _IDS.findall(value or "")


def new_text(body: str) -> str:
    """What the customer wrote in this mail: the quoted earlier conversation below it (``> …`` lines, an "On … wrote:"
    header and what follows) and a signature after ``-- `` left out; the whole text when nothing else remains."""
    kept: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if _QUOTE_HEADER.match(line.strip()) or line.rstrip() == "--":
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    text = "\n".join(kept).strip()
    return text or body.strip()


def _body(msg: Message) -> str:
    if not hasattr(msg, "get_body"):
        return ""
    part = msg.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: read what can be read
        content = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    if part.get_content_type() == "text/html":
        content = BeautifulSoup(content, "html.parser").get_text("\n")
    return str(content)


def automatic(msg: Message) -> bool:
    """An out-of-office, a bounce or a list mail: never a customer's message (and never answered)."""
    auto = (msg.get("Auto-Submitted") or "no").strip().lower()
    return (auto != "no" or (msg.get("Precedence") or "").strip().lower() in {"bulk", "junk", "list", "auto_reply"}
            or bool(msg.get("X-Autoreply")) or bool(msg.get("X-Autorespond"))
            or (msg.get_content_type() == "multipart/report"))


def parse(raw: bytes, own_addresses: set[str] | None = None, fallback_id: str = "") -> Inbound | None:
    """A received mail as a message for ``conversations.receive``; None for automatic mail and Tandem's own."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    sender = parseaddr(str(msg.get("From") or ""))[1].strip().lower()
    if automatic(msg) or not sender or sender in (own_addresses or set()):
        return None
    message_id = (_ids(str(msg.get("Message-ID") or "")) or [fallback_id])[0]
    references = [*_ids(str(msg.get("References") or "")), *_ids(str(msg.get("In-Reply-To") or ""))]
    try:
        when = parsedate_to_datetime(str(msg.get("Date"))) if msg.get("Date") else None
        created = when.astimezone(UTC).replace(tzinfo=None) if when and when.tzinfo else when
    except (TypeError, ValueError):
        created = None
    created = created if created is not None and created <= utcnow() else None
    return Inbound(source="email", body=new_text(_body(msg)), subject=" ".join(str(msg.get("Subject") or "").split()),
                   customer=sender, channel="email", external_id=message_id or None,
                   conversation=(references[0] if references else message_id) or None,
                   references=tuple(dict.fromkeys(references)), created_at=created)


def _own(settings: Settings) -> set[str]:
    addresses = {a.lower() for _, a in getaddresses([settings.mail_from, active().brand.sender, settings.imap_user])
                 if "@" in a}
    return addresses


# ------------------------------------------------------------------ reading the mailbox
def poll_once(db: Database, settings: Settings, client: Any) -> int:
    """Reads the mail that arrived since the cursor; returns how many messages were stored (new or follow-ups)."""
    folder = settings.imap_folder
    info = client.select_folder(folder, readonly=True)
    validity = int(info.get(b"UIDVALIDITY", 0))
    name = f"imap:{settings.imap_user}@{settings.imap_host}/{folder}"
    cursor = _cursor(db, name)
    last = int(cursor.get("last_uid", 0)) if int(cursor.get("uidvalidity", -1)) == validity else 0
    uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
    stored = 0
    own = _own(settings)
    for uid in uids:
        fetched = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {})
        raw = fetched.get(b"BODY[]") or b""
        msg = parse(raw, own, fallback_id=f"<uid-{validity}-{uid}@{settings.imap_host}>") if raw else None
        if msg is not None:
            try:
                got = receive(db, msg)
                stored += 0 if got.duplicate else 1
            except InvalidInput as exc:  # kept in the mailbox for a person; the rest is still read
                log.warning("mail %s from %s not stored: %s", uid, msg.customer, exc)
        _save_cursor(db, name, {"uidvalidity": validity, "last_uid": uid})
    return stored


def _cursor(db: Database, name: str) -> dict[str, Any]:
    with db.session() as s:
        row = s.get(ChannelCursorRow, name)
        return dict(row.value) if row is not None else {}


def _save_cursor(db: Database, name: str, value: dict[str, Any]) -> None:
    def write(s: Session) -> None:
        row = s.get(ChannelCursorRow, name)
        if row is None:
            s.add(ChannelCursorRow(name=name, value=value, updated_at=utcnow()))
        else:
            row.value, row.updated_at = value, utcnow()

    db.run(write)


def connect(settings: Settings) -> Any:
    """A logged-in IMAP client for the support mailbox."""
    from imapclient import IMAPClient

    context = ssl.create_default_context() if settings.imap_ssl else None
    client = IMAPClient(settings.imap_host, port=settings.imap_port, ssl=settings.imap_ssl, ssl_context=context,
                        timeout=30)
    client.login(settings.imap_user, settings.imap_password.get_secret_value())
    return client


def watch(db: Database, settings: Settings, stop: threading.Event) -> None:
    """Reads the mailbox until ``stop``: with IDLE, new mail is read as the server announces it (and at least every
    few minutes); without it, every ``imap_poll_seconds``. A lost connection is opened again with growing waits."""
    wait = 1.0
    while not stop.is_set():
        client = None
        try:
            client = connect(settings)
            idle = b"IDLE" in client.capabilities()
            log.info("reading %s on %s (%s)", settings.imap_folder, settings.imap_host, "IDLE" if idle else "polling")
            wait = 1.0
            while not stop.is_set():
                poll_once(db, settings, client)
                if idle:
                    client.idle()
                    try:
                        client.idle_check(timeout=min(settings.imap_poll_seconds, 25.0))
                    finally:
                        client.idle_done()
                else:
                    stop.wait(settings.imap_poll_seconds)
        except (OSError, TandemError) as exc:
            log.warning("mailbox %s: %s; trying again in %.0f s", settings.imap_host, exc, wait)
        except Exception as exc:  # noqa: BLE001 - imaplib's and the server's errors: reconnect, never stop the worker
            log.warning("mailbox %s: %s: %s; trying again in %.0f s", settings.imap_host, type(exc).__name__, exc,
                        wait)
        finally:
            if client is not None:
                try:
                    client.logout()
                except Exception:  # noqa: BLE001, S110 - the connection is gone already
                    pass
        stop.wait(wait)
        wait = min(wait * 2, 300.0)


# ------------------------------------------------------------------ sending replies
class EmailDeliverer:
    """Sends replies over SMTP, threaded to the customer's mail."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        brand = active().brand
        self.sender = settings.mail_from or (f"{brand.name} <{brand.sender}>" if brand.sender else "")
        if not self.sender:
            from ..errors import ConfigError

            raise ConfigError("set TANDEM_MAIL_FROM: replies by e-mail need a From address")

    def message(self, item: Outgoing) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = item.recipient
        msg["Subject"] = item.subject or "Your message"
        msg["Date"] = format_datetime(utcnow().replace(tzinfo=UTC))
        msg["Message-ID"] = item.headers.get("message_id") or f"<{item.key}@tandem.local>"
        if item.headers.get("in_reply_to"):
            msg["In-Reply-To"] = item.headers["in_reply_to"]
        if item.headers.get("references"):
            msg["References"] = " ".join(item.headers["references"])
        msg["Auto-Submitted"] = "no"
        msg.set_content(item.body)
        return msg

    def deliver(self, item: Outgoing) -> str | None:
        s = self.settings
        msg = self.message(item)
        try:
            if s.smtp_security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=30,
                                                      context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30)
            with smtp:
                if s.smtp_security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password.get_secret_value())
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(f"the mail server refused the address {item.recipient}: {exc}", retry=False) from exc
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600 and exc.smtp_code not in {530, 535}
            reason = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise DeliveryFailed(f"the mail server answered {exc.smtp_code}: {reason}", retry=not permanent) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"the mail server {s.smtp_host}:{s.smtp_port} did not take the message: {exc}") \
                from exc
        return str(msg["Message-ID"])


def from_settings(settings: Settings) -> EmailDeliverer | None:
    return EmailDeliverer(settings) if settings.smtp_host else None
