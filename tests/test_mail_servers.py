"""The real mail servers used by the email tests: SMTP delivers into IMAP, and IMAP IDLE sees new mail."""

from __future__ import annotations

import email
import email.policy
import smtplib
import time
import uuid
from email.message import EmailMessage

import pytest
from imapclient.exceptions import LoginError

from tests.servers.mail import MailServers
from tests.servers.mail import mail_servers as mail_servers

pytestmark = pytest.mark.email


def _message(subject: str, sender: str = "ann@customer.test", to: str = "support@tandem.test") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@customer.test>"
    msg.set_content("Hello, my order has not arrived yet.\n")
    return msg


def test_smtp_delivers_into_the_imap_inbox(mail_servers: MailServers) -> None:
    subject = f"Where is my order {uuid.uuid4().hex[:8]}"
    mail_servers.send(_message(subject), "ann@customer.test", "support@tandem.test")

    with mail_servers.imap("support@tandem.test", "support-pass") as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["SUBJECT", subject])
        assert len(uids) == 1
        raw = client.fetch(uids, ["BODY.PEEK[]"])[uids[0]][b"BODY[]"]
    got = email.message_from_bytes(raw, policy=email.policy.default)
    assert got["Subject"] == subject
    assert got["From"] == "ann@customer.test"
    assert "has not arrived" in got.get_content()
    assert raw in mail_servers.inbox("support@tandem.test", "support-pass")


def test_inbox_lists_raw_messages_in_arrival_order_per_user(mail_servers: MailServers) -> None:
    address = f"orders-{uuid.uuid4().hex[:8]}@tandem.test"
    mail_servers.add_user(address, "orders-pass")
    assert mail_servers.inbox(address, "orders-pass") == []

    mail_servers.send(_message("first", to=address), "ann@customer.test", [address])
    mail_servers.send(b"From: ann@customer.test\r\nSubject: second\r\n\r\nraw body\r\n", "ann@customer.test", address)

    subjects = [email.message_from_bytes(raw)["Subject"] for raw in mail_servers.inbox(address, "orders-pass")]
    assert subjects == ["first", "second"]
    assert all(b"Subject: first" not in raw for raw in mail_servers.inbox("ann@customer.test", "ann-pass"))


def test_unknown_recipients_and_wrong_passwords_are_refused(mail_servers: MailServers) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        mail_servers.send(_message("lost"), "ann@customer.test", "nobody@tandem.test")
    with pytest.raises(LoginError):
        mail_servers.inbox("support@tandem.test", "not-the-password")


def test_idle_is_woken_by_a_newly_delivered_mail(mail_servers: MailServers) -> None:
    address = f"idle-{uuid.uuid4().hex[:8]}@tandem.test"
    mail_servers.add_user(address, "idle-pass")
    with mail_servers.imap(address, "idle-pass") as client:
        assert b"IDLE" in client.capabilities()
        client.select_folder("INBOX")
        client.idle()
        assert client.idle_check(timeout=0.2) == []

        started = time.monotonic()
        mail_servers.send(_message("wake up", to=address), "ann@customer.test", address)
        responses: list[tuple[object, ...]] = []
        while not any(r[1:2] == (b"EXISTS",) for r in responses) and time.monotonic() - started < 5:
            responses += client.idle_check(timeout=1)
        client.idle_done()
        woke = time.monotonic() - started

        assert (1, b"EXISTS") in responses, responses
        assert woke < 5
        assert client.search(["SUBJECT", "wake up"]) != []
