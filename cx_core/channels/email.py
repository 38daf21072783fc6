"""E-mail: a support mailbox read over IMAP (IDLE where the server offers it, else polled) and replies sent over SMTP.

New mail becomes a ticket, or a follow-up of the ticket its ``In-Reply-To``/``References`` name; replies carry a
``Message-ID`` of their own (the outbox row's key, fixed before the first try) with ``In-Reply-To`` and
``References``, so the customer's mail client threads them and their answer comes back to the same ticket. The
mailbox is read from a cursor (UIDVALIDITY and the last UID read), kept after each message is stored, and every
message is stored once by its Message-ID (or, for a mail without one, an id made from its content), so a restart, a
rebuilt mailbox or a second reader doubles nothing. Flags are left as they are: people may read the same mailbox.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC
from email.message import EmailMessage, Message
from email.utils import format_datetime, getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

from bs4 import BeautifulSoup, NavigableString

from ..config import Settings
from ..conversations import Inbound, receive
from ..domain import active
from ..errors import ConfigError, InvalidInput, TandemError
from ..models import MAX_BODY_CHARS, MAX_SUBJECT_CHARS
from ..store.db import Database, utcnow
from . import cursors
from .base import DeliveryFailed, Outgoing, failpoint

log = logging.getLogger("tandem.email")

_ATTRIBUTION = r"On .{4,200} wrote:|Le .{4,200} a écrit ?:|Am .{4,200} schrieb .{0,80}:"
_QUOTE_HEADER = re.compile(rf"^({_ATTRIBUTION}|-{{2,}} ?Original Message ?-{{2,}}|_{{10,}}|From: .+)\s*$",
                           re.IGNORECASE)
_WRAPPED_ATTRIBUTION = re.compile(rf"^({_ATTRIBUTION})\s*$", re.IGNORECASE)
_IDS = re.compile(r"<[^<>\s]+>")
_CUT = "\n\n[The rest of this mail is too long to keep here; it is in the support mailbox.]"
_PARAGRAPHS = ("blockquote", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p", "pre", "table", "ul")
_LINES = ("address", "article", "aside", "center", "dd", "div", "dt", "fieldset", "figure", "footer", "form",
          "header", "li", "main", "nav", "section", "tr")
_SOFT, _HARD = "\x01", "\x02"


def _header(msg: Message, name: str) -> str:
    """A header's value as text; as written in the mail when it is too malformed to be decoded (a broken address
    list, an empty ``<>``), so one badly made header never makes the mail unreadable."""
    try:
        return str(msg.get(name) or "")
    except Exception:  # noqa: BLE001 - the email package raises assorted errors on malformed headers
        return next((str(v) for k, v in msg.raw_items() if k.lower() == name.lower()), "")


def _ids(value: str | None) -> list[str]:
    return _IDS.findall(value or "")


def _message_id(value: str) -> str:
    """The ``<id>`` of a Message-ID header, also when a mailer left out the angle brackets; '' when there is none."""
    found = _ids(value)
    if found:
        return found[0]
    bare = value.strip()
    return f"<{bare}>" if "@" in bare and not any(c.isspace() or c in "<>" for c in bare) else ""


def _content_id(msg: Message, raw: bytes) -> str:
    """An id for a mail that has no Message-ID, made from what it says (sender, recipients, date, subject, body), so
    the same mail read again — after a restart, from a rebuilt mailbox with new UIDs, from another folder — is
    recognised."""
    digest = hashlib.sha256()
    for name in ("From", "To", "Cc", "Date", "Subject"):
        digest.update(f"{name}: {' '.join(_header(msg, name).split())}\n".encode("utf-8", "replace"))
    parts = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)
    digest.update(parts[1] if len(parts) > 1 else b"")
    return f"<{digest.hexdigest()[:40]}@no-message-id.tandem>"


def new_text(body: str) -> str:
    """What the customer wrote in this mail: the quoted earlier conversation below it (``> …`` lines, an "On … wrote:"
    header, also when the mail client wrapped it over two lines, and what follows) and a signature after ``-- `` left
    out; the whole text when nothing else remains."""
    kept: list[str] = []
    lines = body.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _QUOTE_HEADER.match(stripped) or line.rstrip() == "--" or (
                following and _WRAPPED_ATTRIBUTION.match(f"{stripped} {following}")):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    text = "\n".join(kept).strip()
    return text or body.strip()


def _html_text(html: str) -> str:
    """The text of an HTML mail as a person reads it: paragraphs apart, a line per line break, block and list item,
    the words of a line together, and no styles, scripts or page title."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["head", "style", "script", "title", "template"]):
        tag.decompose()
    for node in soup.find_all(string=True):
        if type(node) is NavigableString and node.find_parent("pre") is None:
            node.replace_with(re.sub(r"\s+", " ", str(node)))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for names, mark in ((_PARAGRAPHS, _HARD), (_LINES, _SOFT)):
        for tag in soup.find_all(names):
            tag.insert_before(mark)
            tag.insert_after(mark)
    for cell in soup.find_all(["td", "th"]):
        cell.insert_after(" ")

    def breaks(run: re.Match[str]) -> str:
        return "\n\n" if _HARD in run[0] or run[0].count("\n") else "\n"

    text = re.sub(rf"[ \t\n]*[{_SOFT}{_HARD}][{_SOFT}{_HARD} \t\n]*", breaks, soup.get_text())
    lines = [line.strip(" \t") for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


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
        return _html_text(str(content))
    return str(content)


def automatic(msg: Message) -> bool:
    """An out-of-office, a bounce or a list mail: never a customer's message (and never answered)."""
    auto = (_header(msg, "Auto-Submitted") or "no").strip().lower()
    return (auto != "no" or _header(msg, "Precedence").strip().lower() in {"bulk", "junk", "list", "auto_reply"}
            or bool(_header(msg, "X-Autoreply")) or bool(_header(msg, "X-Autorespond"))
            or _header(msg, "Return-Path").strip() == "<>"
            or (msg.get_content_type() == "multipart/report"))


def _text(msg: Message, subject: str) -> str:
    """The customer's words: the mail's new text; the subject when the body says nothing more (a mail written in
    its subject line); the names of the attached files when there is no text at all. Cut, saying so, at the
    length a message may have."""
    text = new_text(_body(msg))
    if not text:
        parts = msg.iter_attachments() if isinstance(msg, EmailMessage) else []
        attached = [str(p.get_filename()) for p in parts if p.get_filename()]
        text = subject or (f"(no text; attached: {', '.join(attached)})" if attached else "")
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS - len(_CUT)] + _CUT


def parse(raw: bytes, own_addresses: set[str] | None = None, fallback_id: str = "") -> Inbound | None:
    """A received mail as a message for ``conversations.receive``; None for automatic mail and Tandem's own.

    A mail without a Message-ID gets ``fallback_id``, else an id made from its content. It joins a ticket only
    through the messages it answers (``In-Reply-To``, ``References``) that Tandem stored, and then only through one
    Tandem sent or from the ticket customer's own address (``conversations``): the first id of a thread someone else
    started (a newsletter two customers answer) never ties two customers' mail together, and a stranger quoting a
    customer's Message-ID opens a ticket of their own."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    sender = parseaddr(_header(msg, "From"))[1].strip().lower()
    if automatic(msg) or not sender or sender in (own_addresses or set()):
        return None
    message_id = _message_id(_header(msg, "Message-ID")) or fallback_id or _content_id(msg, raw)
    references = [*_ids(_header(msg, "References")), *_ids(_header(msg, "In-Reply-To"))]
    try:
        date = _header(msg, "Date")
        when = parsedate_to_datetime(date) if date else None
        created = when.astimezone(UTC).replace(tzinfo=None) if when and when.tzinfo else when
    except (TypeError, ValueError, OverflowError):
        created = None
    created = created if created is not None and created <= utcnow() else None
    subject = " ".join(_header(msg, "Subject").split())[:MAX_SUBJECT_CHARS]
    return Inbound(source="email", body=_text(msg, subject), subject=subject, customer=sender, channel="email",
                   external_id=message_id, conversation=message_id,
                   references=tuple(r for r in dict.fromkeys(references) if r != message_id), created_at=created)


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
    name = _cursor_name(settings)
    cursor = cursors.read(db, name)
    last = int(cursor.get("last_uid", 0)) if int(cursor.get("uidvalidity", -1)) == validity else 0
    uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
    stored = 0
    own = _own(settings)
    for uid in uids:
        fetched = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {})
        raw = fetched.get(b"BODY[]") or b""
        try:
            msg = parse(raw, own) if raw else None
        except Exception as exc:  # noqa: BLE001 - one unreadable mail must not stop the mailbox; it stays there
            log.warning("mail %s in %s could not be read and is left for a person: %s: %s", uid, folder,
                        type(exc).__name__, exc)
            msg = None
        if msg is not None:
            try:
                got = receive(db, msg)
                stored += 0 if got.duplicate else 1
            except InvalidInput as exc:  # kept in the mailbox for a person; the rest is still read
                log.warning("mail %s from %s not stored: %s", uid, msg.customer, exc)
        cursors.save(db, name, {"uidvalidity": validity, "last_uid": uid})
    return stored


def _cursor_name(settings: Settings) -> str:
    """The mailbox's cursor key: login, server and folder (a long one shortened with a hash to fit the column)."""
    name = f"imap:{settings.imap_user}@{settings.imap_host}/{settings.imap_folder}"
    return name if len(name) <= 120 else f"{name[:95]}#{hashlib.sha256(name.encode()).hexdigest()[:24]}"






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
    ``imap_poll_seconds``, 25 s at most, which also keeps the connection alive); without it, every
    ``imap_poll_seconds``. ``stop`` is seen within a second. A lost connection is opened again with growing waits."""
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
                        until = time.monotonic() + min(settings.imap_poll_seconds, 25.0)
                        while not stop.is_set() and (left := until - time.monotonic()) > 0:
                            if client.idle_check(timeout=min(left, 1.0)):
                                break
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
class _HandingOver(smtplib.SMTP):
    """An SMTP session that records the hand-over right before ``DATA``: the server has accepted the sender and the
    recipients, and only from here on may it have the message."""

    handover: Callable[[], None] | None = None
    handed_over = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        if self.handover is not None:
            self.handover()
        self.handed_over = True
        return super().data(msg)


class _HandingOverSSL(smtplib.SMTP_SSL, _HandingOver):
    """The same over TLS from the first byte (port 465)."""


class EmailDeliverer:
    """Sends replies over SMTP, threaded to the customer's mail.

    The connection, TLS, login, ``MAIL FROM`` and ``RCPT TO`` come first; the hand-over is recorded after the server
    accepted them, right before ``DATA``. So a dispatcher that dies before then sent nothing, and the only moment a
    crash leaves the outcome unknown is between the end of ``DATA`` and the dispatcher recording the delivery: that
    one message is sent again, with the same ``Message-ID``."""

    name = "email"
    hands_over = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        brand = active().brand
        self.sender = settings.mail_from or (f"{brand.name} <{brand.sender}>" if brand.sender else "")
        if not self.sender:

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
        smtp: _HandingOver | None = None
        try:
            if s.smtp_security == "ssl":
                smtp = _HandingOverSSL(s.smtp_host, s.smtp_port, timeout=30, context=ssl.create_default_context())
            else:
                smtp = _HandingOver(s.smtp_host, s.smtp_port, timeout=30)
            smtp.handover = item.handing_over
            if s.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password.get_secret_value())
            smtp.send_message(msg)
            failpoint("email.accepted")
        except smtplib.SMTPRecipientsRefused as exc:  # 5xx: the address does not exist; 4xx: later (greylisting)
            code, answer = next(iter(exc.recipients.values()), (550, b""))
            raise DeliveryFailed(f"the mail server refused the address {item.recipient}: {code} {_text_of(answer)}"
                                 .strip(), retry=not 500 <= code < 600) from exc
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600 and exc.smtp_code not in {530, 535}
            raise DeliveryFailed(f"the mail server answered {exc.smtp_code}: {_text_of(exc.smtp_error)}",
                                 retry=not permanent) from exc
        except (OSError, smtplib.SMTPException) as exc:
            # after DATA began, a lost connection leaves unknown whether the server took the message
            raise DeliveryFailed(f"the mail server {s.smtp_host}:{s.smtp_port} did not take the message: {exc}",
                                 in_doubt=smtp is not None and smtp.handed_over) from exc
        finally:
            if smtp is not None:
                _quit(smtp)
        return str(msg["Message-ID"])


def _quit(smtp: smtplib.SMTP) -> None:
    """Ends the session; the message was taken (or refused) already, so an error here changes nothing, and a server
    slow to say goodbye is not waited for long (the delivery is recorded after this)."""
    try:
        if smtp.sock is not None:
            smtp.sock.settimeout(5)
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _text_of(answer: bytes | str) -> str:
    """An SMTP server's answer as one line of text."""
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    return " ".join(text.split())


def from_settings(settings: Settings) -> EmailDeliverer | None:
    return EmailDeliverer(settings) if settings.smtp_host else None
