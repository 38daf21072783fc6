"""django-helpdesk as an operator connects it: a real helpdesk whose webhooks call Tandem's real API server, Tandem's
replies posted back through helpdesk's REST API, and the catch-up poll for webhooks that were lost."""

from __future__ import annotations

import contextlib
import copy
import logging
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from cx_core import delivery
from cx_core.access import StaffUser
from cx_core.channels import helpdesk
from cx_core.channels.base import DeliveryFailed, Outgoing
from cx_core.config import PROJECT_ROOT, Settings, load_settings
from cx_core.conversations import thread
from cx_core.desk import send_reply
from cx_core.errors import InvalidInput
from cx_core.models import Role
from cx_core.services import Services
from cx_core.store.db import Database
from cx_core.store.tables import NotificationRow, TicketRow, WebhookDeliveryRow
from cx_core.worker import process_one
from tests.conftest import copy_world
from tests.helpers import HTTP, find_order, free_port, outside_env
from tests.servers import helpdesk as harness
from tests.servers.helpdesk import HelpdeskAPIError, HelpdeskServer

pytestmark = pytest.mark.helpdesk

T = TypeVar("T")
ADA = StaffUser("ada", "Ada", Role.advisor)
REPLY = ("Hello, we are sorry the lid arrived cracked. A replacement lid is on its way.\n"
         "Your reference stays as written: {{ not a template }}, {% neither %} and {\"json\": 1}.")


def wait_for(check: Callable[[], T | None], what: str, seconds: float = 20) -> T:
    """``check()``'s first truthy answer, asked every 50 ms; fails naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds:.0f} s for {what}")
        time.sleep(0.05)


@dataclass
class Stack:
    hd: HelpdeskServer
    api_url: str
    token: str
    svc: Services
    settings: Settings  # Tandem's settings with the helpdesk connected (the dispatcher's)


@pytest.fixture(scope="module")
def stack(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Tandem's API server and django-helpdesk whose webhooks call it, over one copy of the demo world."""
    data = tmp_path_factory.mktemp("tandem")
    copy_world(world, data)
    token = secrets.token_urlsafe(16)
    port = free_port()
    env = {**outside_env(),
           "TANDEM_DATA_DIR": str(data), "TANDEM_DATABASE_URL": "", "TANDEM_HELPDESK_WEBHOOK_TOKEN": token,
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OPENAI_API_KEY": "test-key-unused",
           "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    log = (data / "api.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "cx_core", "api", "--port", str(port)], cwd=PROJECT_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    api_url = f"http://127.0.0.1:{port}"
    hook = f"{api_url}/api/v1/webhooks/helpdesk?token={token}"
    svc: Services | None = None
    try:
        with harness.helpdesk_or_skip(tmp_path_factory.mktemp("helpdesk"), webhook_url=hook,
                                      followup_webhook_url=hook) as hd:
            def healthy() -> bool:
                if proc.poll() is not None:
                    pytest.fail("the API exited: " + (data / "api.log").read_text()[-2000:])
                try:
                    return HTTP.get(f"{api_url}/api/v1/health", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(healthy, "Tandem's API to start", 90)
            svc = Services(load_settings(data_dir=data, database_url=""))
            settings = load_settings(data_dir=data, database_url="", helpdesk_url=hd.url, helpdesk_user=hd.api_user,
                                     helpdesk_password=hd.api_password)
            yield Stack(hd, api_url, token, svc, settings)
    finally:
        if svc is not None:
            svc.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def ticket_row(db: Database, ticket_id: str) -> TicketRow | None:
    with db.session() as s:
        row = s.get(TicketRow, ticket_id)
        if row is not None:
            s.expunge(row)
        return row


def process(svc: Services, ticket_id: str) -> TicketRow:
    """Runs the worker until ``ticket_id`` has been read by the agent."""
    def done() -> TicketRow | None:
        process_one(svc, "test")
        row = ticket_row(svc.db, ticket_id)
        return row if row is not None and row.status not in ("new", "processing") else None

    return wait_for(done, f"the agent to process {ticket_id}", 60)


def deliver_all(stack: Stack, notification_id: int) -> NotificationRow:
    """Runs the dispatcher until the outbox row is delivered (or fails the test with its error)."""
    def delivered() -> NotificationRow | None:
        delivery.run_once(stack.svc.db, stack.settings)
        with stack.svc.db.session() as s:
            row = s.get(NotificationRow, notification_id)
            assert row is not None
            assert row.status in ("pending", "sending", "delivered"), row.last_error
            s.expunge(row)
            return row if row.status == "delivered" else None

    return wait_for(delivered, f"message {notification_id} to be delivered")


@dataclass
class Replied:
    helpdesk_id: int
    ticket_id: str
    customer: str
    notification_id: int


@pytest.fixture(scope="module")
def replied(stack: Stack) -> Replied:
    """A customer's helpdesk ticket that reached Tandem, was processed and answered by an advisor, and delivered."""
    hd, svc = stack.hd, stack.svc
    customer = find_order(svc, "delivered")
    opened = hd.open_ticket(customer["email"], "Cracked kettle lid",
                            f"Hello, the kettle of order {customer['order_id']} arrived with a cracked lid. "
                            "What can you do?")
    ticket_id = f"helpdesk-{opened['id']}"
    wait_for(lambda: ticket_row(svc.db, ticket_id), f"{ticket_id} to reach Tandem")
    process(svc, ticket_id)
    sent = send_reply(svc.db, svc.policy(), ADA, ticket_id, REPLY, resolve=False, override="test")
    assert sent["status"] == "executed", sent
    assert sent["result"]["via"] == "helpdesk"
    row = deliver_all(stack, sent["result"]["notification_id"])
    return Replied(opened["id"], ticket_id, customer["email"], row.id)


def test_helpdesk_ticket_becomes_a_tandem_ticket(stack: Stack, replied: Replied) -> None:
    row = ticket_row(stack.svc.db, replied.ticket_id)
    assert row is not None
    assert row.source == "helpdesk" and row.external_ref == f"helpdesk:{replied.helpdesk_id}"
    assert row.subject == "Cracked kettle lid" and row.customer_ref
    first = thread(stack.svc.db, replied.ticket_id)[0]
    assert first["direction"] == "in" and "cracked lid" in first["body"]
    assert first["external_id"] == f"helpdesk:t{replied.helpdesk_id}"


def test_reply_is_a_public_followup_with_the_exact_text(stack: Stack, replied: Replied) -> None:
    hd = stack.hd
    ours = [f for f in hd.followups(replied.helpdesk_id) if f["comment"] == REPLY]
    assert len(ours) == 1
    [posted] = ours
    assert posted["public"] is True and posted["user"] is not None
    assert hd.ticket(replied.helpdesk_id)["title"] == "Cracked kettle lid"  # the reply did not rename the ticket
    with stack.svc.db.session() as s:
        row = s.get(NotificationRow, replied.notification_id)
        assert row is not None and row.status == "delivered" and row.destination == "helpdesk"
        assert row.remote_id == f"f{posted['id']}"
    mailed = [m for m in hd.outbox() if m["To"] == replied.customer]
    assert any("{{ not a template }}, {% neither %}" in str(m.get_body(("plain",)).get_content())  # type: ignore[union-attr]
               for m in mailed)


def test_the_webhook_for_tandems_own_reply_adds_nothing(stack: Stack, replied: Replied) -> None:
    messages = thread(stack.svc.db, replied.ticket_id)
    assert [m["direction"] for m in messages][:2] == ["in", "out"]
    assert sum(m["direction"] == "out" for m in messages) == 1
    assert messages[1]["external_id"] == f"helpdesk:{_remote(stack, replied)}"
    with stack.svc.db.session() as s:
        hooks = s.scalars(select(WebhookDeliveryRow).where(WebhookDeliveryRow.provider == "helpdesk",
                                                           WebhookDeliveryRow.ticket_id == replied.ticket_id)
                          .order_by(WebhookDeliveryRow.received_at)).all()
        assert [(h.event, h.outcome) for h in hooks][:2] == [("ticket", "1 message added"),
                                                           ("followup", "nothing new")]


def _remote(stack: Stack, replied: Replied) -> str:
    with stack.svc.db.session() as s:
        row = s.get(NotificationRow, replied.notification_id)
        assert row is not None and row.remote_id
        return row.remote_id


def test_a_retried_delivery_never_posts_twice(stack: Stack, replied: Replied) -> None:
    db = stack.svc.db
    posted = _remote(stack, replied)
    with db.tx() as s:  # as a dispatcher that died after posting leaves it
        s.execute(update(NotificationRow).where(NotificationRow.id == replied.notification_id)
                  .values(status="retrying", next_attempt_at=None, remote_id=None, delivered_at=None))
    row = deliver_all(stack, replied.notification_id)
    assert row.remote_id == posted
    assert [f"f{f['id']}" for f in stack.hd.followups(replied.helpdesk_id) if f["comment"] == REPLY] == [posted]


def test_the_customers_answer_in_helpdesk_reopens_the_same_ticket(stack: Stack, replied: Replied) -> None:
    hd, svc = stack.hd, stack.svc
    hd.add_customer_followup(replied.helpdesk_id, replied.customer, "Thank you! Will the lid fit the 1.7 l model?")

    def answered() -> TicketRow | None:
        row = ticket_row(svc.db, replied.ticket_id)
        return row if row is not None and row.customer_replied else None

    row = wait_for(answered, "the customer's answer to reach Tandem")
    assert row.status == "new"
    messages = thread(svc.db, replied.ticket_id)
    assert [m["direction"] for m in messages] == ["in", "out", "in"]
    assert messages[2]["body"] == "Thank you! Will the lid fit the 1.7 l model?"
    assert process(svc, replied.ticket_id).status in ("open", "escalated")
    assert [m["direction"] for m in thread(svc.db, replied.ticket_id)] == ["in", "out", "in"]


def test_delivery_failures_say_what_is_wrong(stack: Stack) -> None:
    hd = stack.hd
    replies = helpdesk.from_settings(stack.settings)
    assert replies is not None
    item = Outgoing(id=0, key="tandem-x", destination="helpdesk", kind="reply", channel="email", ticket_id="t",
                    recipient="a@example.com", subject="", body="Hello", conversation="999999")
    with pytest.raises(DeliveryFailed) as missing:
        replies.deliver(item)
    assert (str(missing.value), missing.value.retry) == ("helpdesk ticket 999999 not found", False)
    with pytest.raises(DeliveryFailed) as local:
        replies.deliver(Outgoing(**{**item.__dict__, "conversation": None}))
    assert (str(local.value), local.value.retry) == ("this ticket did not come from the helpdesk", False)
    wrong = helpdesk.from_settings(stack.settings.model_copy(update={"helpdesk_password": SecretStr("nope")}))
    assert wrong is not None
    with pytest.raises(DeliveryFailed) as login:
        wrong.deliver(Outgoing(**{**item.__dict__, "conversation": "1"}))
    assert not login.value.retry and f"refused user '{hd.api_user}'" in str(login.value)
    down = helpdesk.from_settings(stack.settings.model_copy(update={"helpdesk_url": f"http://127.0.0.1:{free_port()}"}))
    assert down is not None
    with pytest.raises(DeliveryFailed) as unreachable:
        down.deliver(Outgoing(**{**item.__dict__, "conversation": "1"}))
    assert unreachable.value.retry and "could not be reached" in str(unreachable.value)
    assert helpdesk.from_settings(stack.settings.model_copy(update={"helpdesk_user": ""})) is None


def test_the_webhook_route_refuses_a_body_without_a_ticket(stack: Stack) -> None:
    url = f"{stack.api_url}/api/v1/webhooks/helpdesk"
    bad = HTTP.post(url, params={"token": stack.token}, json={"queue_slug": "support"}, timeout=10)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("ticket: missing")
    assert HTTP.post(url, params={"token": "wrong"}, json={"ticket": {}}, timeout=10).status_code == 401


def test_catch_up_reads_what_lost_webhooks_missed(world: Settings, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    data = copy_world(world, tmp_path / "data")
    db = Database(data.db_url)
    dead = f"http://127.0.0.1:{free_port()}/api/v1/webhooks/helpdesk?token=x"
    with harness.helpdesk_or_skip(tmp_path / "helpdesk", webhook_url=dead) as hd:
        for n, email in enumerate(("lee@example.com", "kim@example.com")):
            try:
                hd.open_ticket(email, f"Question {n}", f"Where is my parcel number {n}?")
            except urllib.error.HTTPError as refused:
                assert refused.code == 500  # helpdesk's webhook call failed, and the customer saw an error …
        opened = sorted(hd.tickets(), key=lambda t: t["id"])
        assert [t["submitter_email"] for t in opened] == ["lee@example.com", "kim@example.com"]  # … yet it is saved
        for text, public in (("We are checking with the carrier.", True), ("carrier ticket 4411", False)):
            try:
                hd.add_staff_followup(opened[0]["id"], text, public=public)
            except HelpdeskAPIError as refused:
                assert refused.status == 500
        settings = load_settings(data_dir=data.data_dir, database_url="", helpdesk_url=hd.url,
                                 helpdesk_user=hd.api_user, helpdesk_password=hd.api_password)
        monkeypatch.setattr(helpdesk, "PAGE_SIZE", 1)
        assert helpdesk.poll_once(db, settings) == 4
        assert helpdesk.poll_once(db, settings) == 0
        first = thread(db, f"helpdesk-{opened[0]['id']}")
        assert [(m["direction"], m["author"]) for m in first] == [("in", "customer"), ("out", "helpdesk staff"),
                                                                  ("note", "helpdesk staff")]
        assert [m["direction"] for m in thread(db, f"helpdesk-{opened[1]['id']}")] == ["in"]

        # helpdesk answers 500 when its webhook fails, after saving the follow-up: the retry finds it
        replies = helpdesk.from_settings(settings)
        assert replies is not None
        item = Outgoing(id=0, key="tandem-k", destination="helpdesk", kind="reply", channel="email", ticket_id=None,
                        recipient="kim@example.com", subject="", body="Your parcel left the depot {today}.",
                        conversation=str(opened[1]["id"]))
        with pytest.raises(DeliveryFailed) as failed:
            replies.deliver(item)
        assert failed.value.retry and "helpdesk answered 500" in str(failed.value)
        again = replies.deliver(item)
        assert [f"f{f['id']}" for f in hd.followups(opened[1]["id"]) if f["comment"] == item.body] == [again]

        stop = threading.Event()
        watcher = threading.Thread(target=helpdesk.watch,
                                   args=(db, settings.model_copy(update={"helpdesk_poll_seconds": 0.1}), stop))
        watcher.start()
        try:
            with contextlib.suppress(urllib.error.HTTPError):
                hd.open_ticket("max@example.com", "Question 2", "Can I change my delivery address?")
            wait_for(lambda: any(t["subject"] == "Question 2" for t in _tickets(db)), "the watcher to catch up")
        finally:
            stop.set()
            watcher.join(timeout=5)
        assert not watcher.is_alive()
    db.dispose()


def _tickets(db: Database) -> list[dict[str, Any]]:
    with db.session() as s:
        return [{"id": r.id, "subject": r.subject} for r in s.scalars(select(TicketRow))]


def test_watch_keeps_trying_and_stops_when_asked(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(data_dir=tmp_path, database_url="", helpdesk_url=f"http://127.0.0.1:{free_port()}",
                             helpdesk_user="u", helpdesk_password="p")
    db = Database(settings.db_url)
    stop = threading.Event()
    watcher = threading.Thread(target=helpdesk.watch, args=(db, settings, stop))
    with caplog.at_level(logging.WARNING, logger="tandem.helpdesk"):
        watcher.start()
        wait_for(lambda: "trying again in 5 s" in caplog.text, "the watcher's warning", 10)
        stop.set()
        watcher.join(timeout=5)
    assert not watcher.is_alive()
    assert "could not be reached" in caplog.text
    db.dispose()


# ------------------------------------------------------------------ ticket_messages on a captured payload
CAPTURED: dict[str, Any] = {  # a follow-up webhook from django-helpdesk 2.6.1, as the harness recorded it
    "ticket": {
        "id": 1, "queue": 1, "title": "Where is my order?", "description": "Order 77 has not arrived.",
        "resolution": None, "submitter_email": "dana@example.com", "assigned_to": None, "status": 1,
        "on_hold": False, "priority": 3, "due_date": None, "merged_to": None,
        "followup_set": [
            {"id": 1, "ticket": 1, "user": None, "title": "Ticket Opened Via Web",
             "comment": "Order 77 has not arrived.", "public": True, "new_status": None, "time_spent": None,
             "followupattachment_set": [], "date": "2026-11-23T17:57:45.461263Z", "message_id": None,
             "email_recipients": ["dana@example.com"]},
            {"id": 2, "ticket": 1, "user": 1, "title": "Where is my order?", "comment": "It ships tomorrow.",
             "public": True, "new_status": None, "time_spent": None, "followupattachment_set": [],
             "date": "2026-11-23T17:57:45.529703Z", "message_id": None, "email_recipients": ["dana@example.com"]},
            {"id": 3, "ticket": 1, "user": None, "title": "E-Mail Received from dana@example.com",
             "comment": "Great, thanks!\n", "public": True, "new_status": None, "time_spent": None,
             "followupattachment_set": [], "date": "2026-11-23T17:57:46.598810Z",
             "message_id": "<7c328481202442bfb7ce0a99cf324e16@customer.test>", "email_recipients": ["dana@example.com"]},
        ]},
    "queue_slug": "support", "followup_id": 3}


def _with(*followups: dict[str, Any]) -> dict[str, Any]:
    ticket = copy.deepcopy(CAPTURED["ticket"])
    base = ticket["followup_set"][1]
    ticket["followup_set"] += [{**base, **f} for f in followups]
    return dict(ticket)


def test_ticket_messages_of_a_captured_payload() -> None:
    got = helpdesk.ticket_messages(CAPTURED["ticket"])
    assert [(m.external_id, m.direction, m.author, m.body) for m in got] == [
        ("t1", "in", "customer", "Order 77 has not arrived."),
        ("f2", "out", "helpdesk staff", "It ships tomorrow."),
        ("f3", "in", "customer", "Great, thanks!"),
    ]
    assert {(m.source, m.conversation, m.customer, m.channel, m.subject) for m in got} == {
        ("helpdesk", "1", "dana@example.com", "email", "Where is my order?")}
    assert got[0].created_at is not None and got[0].created_at.tzinfo is None
    assert str(got[2].created_at) == "2026-11-23 17:57:46.598810"


def test_ticket_messages_sorts_out_notes_system_lines_and_own_followups() -> None:
    ticket = _with({"id": 4, "user": 2, "public": False, "comment": "refund approved by finance"},
                   {"id": 5, "user": None, "title": "Ticket Escalated", "comment": "Ticket escalated after 3 days"},
                   {"id": 6, "user": 7, "comment": "Tandem's reply"},
                   {"id": 7, "user": None, "message_id": "<a@b>", "comment": "  "},
                   {"id": 8, "user": None, "title": "Ticket Re-Opened by E-Mail Received from dana@example.com",
                    "message_id": "<c@d>", "comment": "Still nothing.\n\nOn Mon, Support wrote:\n> It ships"})
    got = {m.external_id: (m.direction, m.author, m.body) for m in helpdesk.ticket_messages(ticket, own_user_id=7)}
    assert got["f4"] == ("note", "helpdesk staff", "refund approved by finance")
    assert got["f5"] == ("note", "helpdesk", "Ticket escalated after 3 days")
    assert got["f8"] == ("in", "customer", "Still nothing.")
    assert "f6" not in got and "f7" not in got and "f1" not in got
    assert "f6" in {m.external_id for m in helpdesk.ticket_messages(ticket)}


def test_a_staff_opened_ticket_keeps_its_description_once() -> None:
    ticket = {"id": 9, "title": "Refund please", "description": "Order 1234 arrived broken.",
              "submitter_email": "lee@example.com",
              "followup_set": [{"id": 20, "user": 1, "title": "Ticket Opened", "public": True,
                                "comment": "Order 1234 arrived broken.", "date": "2026-11-23T10:00:00Z",
                                "message_id": None}]}
    [only] = helpdesk.ticket_messages(ticket)
    assert (only.external_id, only.direction, only.body) == ("t9", "in", "Order 1234 arrived broken.")


def test_handle_webhook_refuses_a_payload_without_a_ticket() -> None:
    for payload in ({}, {"ticket": "1"}, {"ticket": {"title": "no id"}}):
        with pytest.raises(InvalidInput) as err:
            helpdesk.handle_webhook(None, None, payload)  # type: ignore[arg-type]
        assert str(err.value).startswith("ticket: missing") and "\n" not in str(err.value)


def test_escape_leaves_no_template_syntax() -> None:
    for text in ["a {{ ticket.id }} b", "50%} off {% if %}", "{#", "}}{{"]:
        escaped = helpdesk.escape(text)
        assert "{%" not in escaped and "%}" not in escaped and "{#" not in escaped
        assert escaped.replace("{{ '{' }}", "{").replace("{{ '}' }}", "}") == text
