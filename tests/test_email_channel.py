"""A support mailbox against real servers (Dovecot IMAP with IDLE, an SMTP server delivering into it): a customer's
mail becomes a ticket, the advisor's reply reaches the customer threaded under their mail, and their answer comes
back to the same ticket, read once however often (or from however rebuilt a mailbox) it is read; automatic mail
and Tandem's own are ignored; a reply survives a dispatcher killed mid-delivery and a mail server that is down,
and a refused address fails at once with the server's reason."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete, func, select

from cx_core import conversations, delivery, outbox, worker
from cx_core import desk as the_desk
from cx_core.access import StaffUser
from cx_core.channels import email as mailbox
from cx_core.config import PROJECT_ROOT, Settings, load_settings
from cx_core.conversations import Inbound
from cx_core.drafting import for_customer
from cx_core.models import Role
from cx_core.services import Services
from cx_core.store.db import Database, utcnow
from cx_core.store.tables import ChannelCursorRow, MessageRow, NotificationRow, TicketRow
from tests.conftest import copy_world
from tests.helpers import DEMO_ADMIN, find_order, free_port
from tests.servers.mail import MailServers
from tests.servers.mail import mail_servers as mail_servers

pytestmark = pytest.mark.email

SUPPORT, SUPPORT_PASSWORD = "support@tandem.test", "support-pass"
MAIL_FROM = "Lumen Care <support@tandem.test>"
ADVISOR = StaffUser("ada", "Ada Advisor", Role.advisor)


def _settings(data_dir: Path, servers: MailServers, **overrides: Any) -> Settings:
    return load_settings(**{"data_dir": data_dir, "database_url": "", "imap_host": servers.imap_host,
                            "imap_port": servers.imap_port, "imap_ssl": False, "imap_user": SUPPORT,
                            "imap_password": SUPPORT_PASSWORD, "smtp_host": servers.smtp_host,
                            "smtp_port": servers.smtp_port, "smtp_security": "none", "mail_from": MAIL_FROM,
                            **overrides})


@pytest.fixture(scope="module")
def desk(world: Settings, mail_servers: MailServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """One Tandem reading the support mailbox for the whole module: tests look at their own mail by its ids."""
    data = copy_world(world, tmp_path_factory.mktemp("desk")).data_dir
    svc = Services(_settings(data, mail_servers))
    svc.db.migrate()
    yield svc
    svc.close()


@pytest.fixture
def outbox_desk(world: Settings, mail_servers: MailServers, tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    """A Tandem of its own for a test that runs the dispatcher, which delivers everything that is due."""
    settings = _settings(copy_world(world, tmp_path / "data").data_dir, mail_servers)
    db = Database(settings.db_url)
    db.migrate()
    yield settings, db
    db.dispose()


def _customer(servers: MailServers, address: str | None = None) -> tuple[str, str]:
    """A mailbox of its own for a customer (a fresh one unless ``address`` is given), so its INBOX can be counted."""
    address = address or f"customer-{uuid.uuid4().hex[:8]}@customer.test"
    servers.add_user(address, "customer-pass")
    return address.lower(), "customer-pass"


def _mail(sender: str, subject: str, body: str, message_id: str | None = None, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"Lumen Care <{SUPPORT}>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow().replace(tzinfo=UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="customer.test")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def _poll(svc: Services, settings: Settings | None = None) -> int:
    settings = settings or svc.settings
    client = mailbox.connect(settings)
    try:
        return mailbox.poll_once(svc.db, settings, client)
    finally:
        client.logout()


def _count(db: Database, model: type, *where: Any) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _ticket_of(db: Database, message_id: str) -> TicketRow | None:
    """The ticket holding the mail with this Message-ID."""
    with db.session() as s:
        tid = s.scalar(select(MessageRow.ticket_id).where(MessageRow.external_id == f"email:{message_id}"))
        row = s.get(TicketRow, tid) if tid else None
        if row is not None:
            s.expunge(row)
        return row


def _tickets_with_subject(db: Database, subject: str) -> list[TicketRow]:
    with db.session() as s:
        rows = list(s.scalars(select(TicketRow).where(TicketRow.subject == subject)))
        for row in rows:
            s.expunge(row)
        return rows


def _read(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _text(msg: EmailMessage) -> str:
    return str(msg.get_content()).replace("\r\n", "\n").strip()


def _until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if got := check():
            return got
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


def _queue_reply(db: Database, customer: str, subject: str, body: str) -> tuple[str, int]:
    """A ticket from ``customer``'s mail with a reply committed to the outbox, as an advisor's decision writes it."""
    got = conversations.receive(db, Inbound(source="email", external_id=make_msgid(domain="customer.test"),
                                            customer=customer, subject=subject, body="Is my order on its way?"))
    with db.tx() as s:
        row = s.get(TicketRow, got.ticket_id)
        assert row is not None
        nid = outbox.reply(s, row, customer, f"Re: {subject}", body, "ada", "lumenhome.example")["notification_id"]
    return got.ticket_id, int(nid)


def _outbox_row(db: Database, nid: int) -> NotificationRow:
    with db.session() as s:
        row = s.get(NotificationRow, nid)
        assert row is not None
        s.expunge(row)
        return row


# ------------------------------------------------------------------ in, out, and back in
def test_a_mail_is_answered_in_its_thread_and_the_customers_answer_joins_the_same_ticket(
        desk: Services, mail_servers: MailServers) -> None:
    o = find_order(desk, "delivered")
    customer, password = _customer(mail_servers, o["email"])
    subject = f"Invoice for order {o['order_id']}"
    first = make_msgid(domain="customer.test")
    mail_servers.send(_mail(customer, subject, f"Hello,\n\ncould you send me a copy of the invoice for order "
                                               f"{o['order_id']}?\n\nThanks,\n{o['first_name']}", first),
                      customer, SUPPORT)

    assert _poll(desk) == 1
    row = _ticket_of(desk.db, first)
    assert row is not None and row.source == "email" and row.channel == "email" and row.status == "new"
    assert row.customer_ref == customer and row.customer_id == o["user_id"] and row.subject == subject
    with mail_servers.imap(SUPPORT, SUPPORT_PASSWORD) as client:  # read without touching the mailbox's flags
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["HEADER", "Message-ID", first])
        assert len(uids) == 1 and b"\\Seen" not in client.get_flags(uids)[uids[0]]

    assert worker.process_one(desk, "test")
    _, draft = the_desk.reply_draft(the_desk.get_ticket(desk.db, row.id))
    text = draft or f"Hello {o['first_name']}, your invoice is attached to your account."
    sent = the_desk.send_reply(desk.db, desk.policy(), ADVISOR, row.id, text, resolve=False, override="test")
    assert sent["status"] == "executed"
    assert delivery.run_once(desk.db, desk.settings) == 1

    inbox = mail_servers.inbox(customer, password)
    assert len(inbox) == 1
    reply = _read(inbox[0])
    assert reply["In-Reply-To"] == first and first in str(reply["References"]).split()
    assert reply["Subject"] == f"Re: {subject}" and str(reply["From"]) == MAIL_FROM and reply["To"] == customer
    out = [m for m in conversations.thread(desk.db, row.id) if m["direction"] == "out"]
    assert len(out) == 1 and out[0]["body"] == for_customer(text)
    assert _text(reply) == for_customer(text).strip()
    assert out[0]["delivery"]["status"] == "delivered" and out[0]["external_id"] == f"email:{reply['Message-ID']}"

    ours = str(reply["Message-ID"])
    quoted = "\n".join(f"> {line}" if line else ">" for line in _text(reply).splitlines())
    answer = _mail(customer, f"Re: {subject}", f"Thank you, that is what I needed. Could you also tell me when the "
                   f"warranty ends?\n\nOn {reply['Date']}, Lumen Care <{SUPPORT}> wrote:\n{quoted}\n",
                   In_Reply_To=ours, References=f"{first} {ours}")
    mail_servers.send(answer, customer, SUPPORT)
    assert _poll(desk) == 1

    again = _ticket_of(desk.db, str(answer["Message-ID"]))
    assert again is not None and again.id == row.id
    assert again.status == "new" and again.customer_replied
    last = conversations.thread(desk.db, row.id)[-1]
    assert last["direction"] == "in" and last["body"] == ("Thank you, that is what I needed. Could you also tell me "
                                                          "when the warranty ends?")
    assert _count(desk.db, TicketRow, TicketRow.customer_ref == customer) == 1

    counts = (_count(desk.db, TicketRow), _count(desk.db, MessageRow))
    assert _poll(desk) == 0  # the cursor: nothing is read twice
    with desk.db.tx() as s:  # a lost cursor: everything is read again and recognised
        s.execute(delete(ChannelCursorRow))
    assert _poll(desk) == 0
    with desk.db.tx() as s:  # another UIDVALIDITY: the old UIDs mean nothing, everything is read again
        for cursor in s.scalars(select(ChannelCursorRow)):
            cursor.value = {**cursor.value, "uidvalidity": int(cursor.value["uidvalidity"]) + 7}
    assert _poll(desk) == 0
    assert (_count(desk.db, TicketRow), _count(desk.db, MessageRow)) == counts


def test_the_watcher_reads_new_mail_as_soon_as_idle_announces_it(desk: Services, mail_servers: MailServers) -> None:
    settings = desk.settings.model_copy(update={"imap_poll_seconds": 300.0})  # polled alone, it would wait 25 s
    primer, news = make_msgid(domain="customer.test"), make_msgid(domain="customer.test")
    mail_servers.send(_mail("ann@customer.test", "My lamp flickers", "The desk lamp flickers since Monday.", primer),
                      "ann@customer.test", SUPPORT)
    stop = threading.Event()
    watcher = threading.Thread(target=mailbox.watch, args=(desk.db, settings, stop), name="mailbox", daemon=True)
    watcher.start()
    try:
        _until(lambda: _ticket_of(desk.db, primer), 10, "the first mail read")
        time.sleep(0.5)  # the watcher is idling now
        mail_servers.send(_mail("ann@customer.test", "And the kettle", "The kettle does not switch off.", news),
                          "ann@customer.test", SUPPORT)
        _until(lambda: _ticket_of(desk.db, news), 6, "a new mail read while idling")
    finally:
        stop.set()
        watcher.join(timeout=5)
    assert not watcher.is_alive()


def test_automatic_and_own_mail_are_ignored_html_is_read_as_text_and_a_mail_without_id_is_stored_once(
        desk: Services, mail_servers: MailServers) -> None:
    tag = uuid.uuid4().hex[:8]
    away = _mail("ann@customer.test", f"Out of office {tag}", "I am away until Monday.",
                 Auto_Submitted="auto-replied")
    own = _mail(MAIL_FROM, f"Our own {tag}", "A copy of something we sent.")
    html = _mail("ann@customer.test", f"Broken lamp {tag}", "")
    html.set_content("<html><head><style>p { color: #333 }</style><title>Mail</title></head><body>"
                     "<p>Hello,<br>my <b>desk lamp</b> arrived\n broken.</p><ul><li>Box dented</li>"
                     "<li>Glass cracked</li></ul><p>Ann</p></body></html>", subtype="html")
    no_id = (f"From: Ann <ann@customer.test>\r\nTo: {SUPPORT}\r\nSubject: No id {tag}\r\n"
             f"Date: {format_datetime(utcnow().replace(tzinfo=UTC))}\r\n"
             f"\r\nMy kettle leaks.\r\n").encode()
    for msg in (away, own, html):
        mail_servers.send(msg, "ann@customer.test", SUPPORT)
    mail_servers.send(no_id, "ann@customer.test", SUPPORT)

    assert _poll(desk) == 2
    assert _tickets_with_subject(desk.db, f"Out of office {tag}") == []
    assert _tickets_with_subject(desk.db, f"Our own {tag}") == []
    [lamp] = _tickets_with_subject(desk.db, f"Broken lamp {tag}")
    assert lamp.body == "Hello,\nmy desk lamp arrived broken.\n\nBox dented\nGlass cracked\n\nAnn"
    [kettle] = _tickets_with_subject(desk.db, f"No id {tag}")
    assert kettle.body == "My kettle leaks." and kettle.customer_ref == "ann@customer.test"
    with desk.db.tx() as s:
        s.execute(delete(ChannelCursorRow))
    assert _poll(desk) == 0
    assert len(_tickets_with_subject(desk.db, f"No id {tag}")) == 1
    assert _count(desk.db, MessageRow, MessageRow.ticket_id == kettle.id) == 1


def test_answers_to_a_thread_someone_else_started_stay_apart_and_mail_clients_habits_are_read(
        desk: Services, mail_servers: MailServers) -> None:
    tag = uuid.uuid4().hex[:8]
    newsletter = make_msgid(domain="news.lumenhome.example")
    other, _ = _customer(mail_servers)
    for sender in ("ann@customer.test", other):  # two customers answer the same newsletter
        mail_servers.send(_mail(sender, f"Re: Winter offers {tag}", f"Is the offer valid for me? {sender}",
                                In_Reply_To=newsletter, References=newsletter), sender, SUPPORT)
    wrapped = _mail("ann@customer.test", f"Re: Your order {tag}",
                    "Yes, please go ahead.\n\nOn Wed, 18 Nov 2026 at 09:30, Lumen Care <\nsupport@tandem.test> "
                    "wrote:\n> Shall we send a new one?\n")
    subject_only = _mail("ann@customer.test", f"Where is my order W{tag}?", "")
    broken = (f"From: ann@customer.test\r\nTo: =?x?b?@@?=,\r\nMessage-ID: <>\"\"\r\nSubject: Broken {tag}\r\n"
              f"\r\nMy heater is broken.\r\n").encode()
    for msg in (wrapped, subject_only):
        mail_servers.send(msg, "ann@customer.test", SUPPORT)
    mail_servers.send(broken, "ann@customer.test", SUPPORT)

    assert _poll(desk) == 5
    offers = _tickets_with_subject(desk.db, f"Re: Winter offers {tag}")
    assert sorted(t.customer_ref or "" for t in offers) == sorted(["ann@customer.test", other])
    assert all(_count(desk.db, MessageRow, MessageRow.ticket_id == t.id) == 1 for t in offers)
    assert [t.body for t in _tickets_with_subject(desk.db, f"Re: Your order {tag}")] == ["Yes, please go ahead."]
    assert [t.body for t in _tickets_with_subject(desk.db, f"Where is my order W{tag}?")] == [
        f"Where is my order W{tag}?"]
    assert [t.body for t in _tickets_with_subject(desk.db, f"Broken {tag}")] == ["My heater is broken."]
    with desk.db.tx() as s:
        s.execute(delete(ChannelCursorRow))
    assert _poll(desk) == 0


def test_a_rebuilt_mailbox_with_a_new_uidvalidity_doubles_nothing(desk: Services, mail_servers: MailServers) -> None:
    tag = uuid.uuid4().hex[:8]
    mail_servers.send(f"From: ann@customer.test\r\nTo: {SUPPORT}\r\nSubject: Rebuilt {tag}\r\n\r\nNo id here.\r\n"
                      .encode(), "ann@customer.test", SUPPORT)
    mail_servers.send(_mail("ann@customer.test", f"Rebuilt too {tag}", "With an id."), "ann@customer.test", SUPPORT)
    _poll(desk)
    counts = (_count(desk.db, TicketRow), _count(desk.db, MessageRow))
    assert counts[0] and _tickets_with_subject(desk.db, f"Rebuilt {tag}")
    folder = f"Rebuilt-{tag}"
    rebuilt = desk.settings.model_copy(update={"imap_folder": folder})
    with mail_servers.imap(SUPPORT, SUPPORT_PASSWORD) as client:  # the same mail in another folder, other UIDs
        client.select_folder("INBOX", readonly=True)
        client.create_folder(folder)
        client.copy(client.search(["ALL"]), folder)
        first = int(client.select_folder(folder, readonly=True)[b"UIDVALIDITY"])
    assert _poll(desk, rebuilt) == 0

    raws = mail_servers.inbox(SUPPORT, SUPPORT_PASSWORD)
    with mail_servers.imap(SUPPORT, SUPPORT_PASSWORD) as client:  # the folder rebuilt: a new UIDVALIDITY
        client.delete_folder(folder)
        client.create_folder(folder)
        for raw in raws:
            client.append(folder, raw)
        assert int(client.select_folder(folder, readonly=True)[b"UIDVALIDITY"]) != first
    assert _poll(desk, rebuilt) == 0
    assert (_count(desk.db, TicketRow), _count(desk.db, MessageRow)) == counts


# ------------------------------------------------------------------ out: crashes, a server down, a refused address
def _dispatch(settings: Settings, *args: str, failpoint: str = "", smtp_port: int | None = None) -> int:
    env = {**os.environ, "TANDEM_DATA_DIR": str(settings.data_dir), "TANDEM_DATABASE_URL": "",
           "TANDEM_SMTP_HOST": settings.smtp_host, "TANDEM_SMTP_PORT": str(smtp_port or settings.smtp_port),
           "TANDEM_SMTP_SECURITY": "none", "TANDEM_MAIL_FROM": MAIL_FROM, "TANDEM_IMAP_HOST": "",
           "TANDEM_OUTBOUND_WEBHOOK_URL": "", "TANDEM_DELIVERY_LEASE_SECONDS": "1", "TANDEM_DELIVERY_POLL": "0.1",
           "TANDEM_FAILPOINT": failpoint}
    proc = subprocess.run([sys.executable, "-m", "cx_core", "dispatch", *args], cwd=PROJECT_ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    return proc.returncode


def test_a_dispatcher_killed_between_commit_and_sending_delivers_the_reply_exactly_once(
        outbox_desk: tuple[Settings, Database], mail_servers: MailServers) -> None:
    settings, db = outbox_desk
    customer, password = _customer(mail_servers)
    _, nid = _queue_reply(db, customer, "Order status", "Your order left our warehouse today.")

    assert _dispatch(settings, failpoint="delivery.claimed") == -signal.SIGKILL
    assert _outbox_row(db, nid).status == "sending" and mail_servers.inbox(customer, password) == []

    def delivered() -> bool:
        time.sleep(0.3)  # past the dead dispatcher's one-second lease
        assert _dispatch(settings, "--once") == 0
        return _outbox_row(db, nid).status == "delivered"

    _until(delivered, 30, "the reply delivered by a restarted dispatcher")
    inbox = mail_servers.inbox(customer, password)
    assert len(inbox) == 1 and _text(_read(inbox[0])) == "Your order left our warehouse today."
    assert _read(inbox[0])["Message-ID"] == _outbox_row(db, nid).headers["message_id"]


def test_a_mail_server_that_is_down_leaves_the_reply_retrying_with_the_reason_shown(
        outbox_desk: tuple[Settings, Database], mail_servers: MailServers) -> None:
    settings, db = outbox_desk
    customer, password = _customer(mail_servers)
    ticket_id, nid = _queue_reply(db, customer, "Refund", "Your refund is on its way.")
    closed = free_port()
    down = settings.model_copy(update={"smtp_port": closed, "delivery_retry_seconds": 0.05})

    assert delivery.run_once(db, down) == 1
    out = next(m for m in conversations.thread(db, ticket_id) if m["direction"] == "out")
    assert out["delivery"]["status"] == "retrying" and out["delivery"]["attempts"] == 1
    assert f"127.0.0.1:{closed}" in out["delivery"]["error"] and "did not take the message" in out["delivery"]["error"]
    [problem] = [p for p in delivery.problems(db, DEMO_ADMIN) if p["id"] == nid]
    assert problem["status"] == "retrying" and problem["error"] == out["delivery"]["error"]
    assert mail_servers.inbox(customer, password) == []

    _until(lambda: (_outbox_row(db, nid).next_attempt_at or utcnow()) <= utcnow(), 5, "the retry due")
    assert delivery.run_once(db, settings) == 1  # the server is back: delivered on the next try
    assert _outbox_row(db, nid).status == "delivered" and len(mail_servers.inbox(customer, password)) == 1


class _Greylisting:
    """An SMTP server that asks every sender to try again later, as a greylisting server does at first."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        return "450 4.2.0 Greylisted, please try again later"


def test_a_refused_address_fails_at_once_with_the_servers_reason_and_a_later_please_is_retried(
        outbox_desk: tuple[Settings, Database], mail_servers: MailServers) -> None:
    settings, db = outbox_desk
    ticket_id, nid = _queue_reply(db, "nobody-here@tandem.test", "Hello", "We have your message.")
    assert delivery.run_once(db, settings) == 1
    row = _outbox_row(db, nid)
    assert row.status == "failed" and row.attempts == 1 and row.next_attempt_at is None
    assert row.last_error == ("the mail server refused the address nobody-here@tandem.test: "
                              "550 5.1.1 No such user here")
    out = next(m for m in conversations.thread(db, ticket_id) if m["direction"] == "out")
    assert out["delivery"]["status"] == "failed" and "550 5.1.1 No such user here" in out["delivery"]["error"]
    assert any(p["id"] == nid and p["status"] == "failed" for p in delivery.problems(db, DEMO_ADMIN))

    customer, password = _customer(mail_servers)
    _, later = _queue_reply(db, customer, "Hello again", "We have your message.")
    grey = Controller(_Greylisting(), hostname="127.0.0.1", port=free_port())
    grey.start()
    try:
        assert delivery.run_once(db, settings.model_copy(update={"smtp_port": grey.port})) == 1
    finally:
        grey.stop()
    row = _outbox_row(db, later)
    assert row.status == "retrying" and "450 4.2.0 Greylisted" in (row.last_error or "")

