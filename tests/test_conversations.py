"""A ticket is a conversation: follow-ups join their ticket by id, conversation or e-mail thread, are read once, send
the ticket back to the agent to read the whole thread again (decisions kept, nothing run twice, nothing rejected
proposed again), and move it through new → open → waiting → resolved, a customer's message reopening it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from cx_core import audit, conversations, desk, outbox, worker
from cx_core.access import StaffUser
from cx_core.conversations import Inbound
from cx_core.errors import InvalidInput
from cx_core.models import Role
from cx_core.services import Services
from cx_core.store.db import Database
from cx_core.store.tables import ExecutionRow, MessageRow, NotificationRow, ProposalRow, TicketRow
from tests.helpers import DEMO_ADMIN, find_order

ADVISOR = StaffUser("ada", "Ada Advisor", Role.advisor)


def _ticket(svc: Services, ticket_id: str) -> TicketRow:
    with svc.db.session() as s:
        row = s.get(TicketRow, ticket_id)
        assert row is not None
        s.expunge(row)
        return row


def _work(svc: Services) -> None:
    while worker.process_one(svc, "test"):
        pass


def _count(svc: Services, model: type, *where: object) -> int:
    with svc.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_message_is_stored_once_and_follow_ups_join_their_ticket(services: Services) -> None:
    o = find_order(services, "pending")
    first = conversations.receive(services.db, Inbound(source="chatwoot", conversation="77", external_id="m1",
                                                       customer=o["email"], channel="chat",
                                                       body="Where is my order?"))
    assert first.created and not first.duplicate and first.ticket_id == "chatwoot-77"
    again = conversations.receive(services.db, Inbound(source="chatwoot", conversation="77", external_id="m1",
                                                       customer=o["email"], channel="chat",
                                                       body="Where is my order?"))
    assert again.duplicate and again.ticket_id == first.ticket_id
    more = conversations.receive(services.db, Inbound(source="chatwoot", conversation="77", external_id="m2",
                                                      body=f"It is order {o['order_id']}."))
    assert more.ticket_id == first.ticket_id and not more.created and not more.duplicate
    by_id = conversations.receive(services.db, Inbound(source="api", ticket_id=first.ticket_id, external_id="x9",
                                                       body="Any news?"))
    assert by_id.ticket_id == first.ticket_id
    assert _count(services, TicketRow) == 1
    assert _count(services, MessageRow, MessageRow.ticket_id == first.ticket_id) == 3
    # the same id in another system is another message
    other = conversations.receive(services.db, Inbound(source="zendesk", conversation="77", external_id="m1",
                                                       body="Hello from Zendesk"))
    assert other.created and other.ticket_id != first.ticket_id


def test_bad_messages_are_refused_in_one_line_and_nothing_is_stored(services: Services) -> None:
    for msg, says in ((Inbound(source="api", body="  "), "body: the message is empty"),
                      (Inbound(source="api", body="hi", channel="pigeon"), "channel"),
                      (Inbound(source="api", body="x" * 200_001), "the limit is 200,000")):
        try:
            conversations.receive(services.db, msg)
        except InvalidInput as exc:
            assert says in str(exc) and "\n" not in str(exc)
        else:
            raise AssertionError(f"accepted {msg}")
    assert _count(services, TicketRow) == 0 and _count(services, MessageRow) == 0


def test_a_follow_up_is_read_with_the_whole_thread_keeping_what_was_decided(services: Services) -> None:
    o = find_order(services, "pending")
    services.settings.policy_file = None
    got = conversations.receive(services.db, Inbound(
        source="api", ticket_id="CONV-1", customer=o["email"], subject="New address",
        body=f"Hi, I've moved. Please ship order {o['order_id']} to 12 Oak Street, Austin, TX 78701 instead."))
    _work(services)
    data = desk.get_ticket(services.db, got.ticket_id)
    change = next(p for p in data["proposals"] if p["action"] == "change_shipping_address")
    assert change["status"] == "pending" and data["ticket"]["status"] == "open"
    assert desk.approve(services.db, services.policy(), ADVISOR, change["id"])["status"] == "executed"
    parts, text = desk.reply_draft(desk.get_ticket(services.db, got.ticket_id))
    desk.send_reply(services.db, services.policy(), ADVISOR, got.ticket_id, text, resolve=False)
    assert _ticket(services, got.ticket_id).status == "waiting"
    assert not _ticket(services, got.ticket_id).customer_replied

    follow = conversations.receive(services.db, Inbound(
        source="api", ticket_id=got.ticket_id, external_id="f-1",
        body=f"Thank you! Could you also send me a copy of the invoice for order {o['order_id']}?"))
    assert follow.reopened
    row = _ticket(services, got.ticket_id)
    assert row.status == "new" and row.customer_replied
    _work(services)

    data = desk.get_ticket(services.db, got.ticket_id)
    assert data["ticket"]["status"] in {"open", "escalated"}
    changes = [p for p in data["proposals"] if p["action"] == "change_shipping_address"]
    assert len(changes) == 1 and changes[0]["status"] == "executed"  # kept, never run again
    assert _count(services, ExecutionRow, ExecutionRow.action == "change_shipping_address") == 1
    assert any(p["action"] == "resend_invoice" and p["status"] == "pending" for p in data["proposals"])
    assert data["result"] is not None and "invoice" in data["result"].draft.summary.lower()
    kinds = [e.kind for e in audit.events(services.db, DEMO_ADMIN, ticket_id=got.ticket_id)]
    assert kinds.count("ticket.processed") == 2 and "message.received" in kinds


def test_a_rejected_proposal_is_not_proposed_again_when_the_customer_writes(services: Services) -> None:
    o = find_order(services, "pending")
    conversations.receive(services.db, Inbound(
        source="api", ticket_id="CONV-2", customer=o["email"], subject="Address",
        body=f"Please ship order {o['order_id']} to 9 Elm Road, Dallas, TX 75201."))
    _work(services)
    change = next(p for p in desk.get_ticket(services.db, "CONV-2")["proposals"]
                  if p["action"] == "change_shipping_address")
    desk.reject(services.db, ADVISOR, change["id"], "Customer must confirm first")
    conversations.receive(services.db, Inbound(source="api", ticket_id="CONV-2", external_id="again",
                                               body="Hello? Any news on this?"))
    _work(services)
    props = [p for p in desk.get_ticket(services.db, "CONV-2")["proposals"]
             if p["action"] == "change_shipping_address"]
    assert [p["status"] for p in props] == ["rejected"]


def test_a_resolved_ticket_reopens_when_the_customer_answers(services: Services) -> None:
    o = find_order(services, "delivered")
    conversations.receive(services.db, Inbound(source="api", ticket_id="CONV-3", customer=o["email"],
                                               body="How do I pair my smart thermostat with the app?"))
    _work(services)
    _, text = desk.reply_draft(desk.get_ticket(services.db, "CONV-3"))
    if _ticket(services, "CONV-3").status != "resolved":
        desk.send_reply(services.db, services.policy(), ADVISOR, "CONV-3", text or "Here is how.", resolve=True,
                           override="test")
    assert _ticket(services, "CONV-3").status == "resolved"
    conversations.receive(services.db, Inbound(source="api", ticket_id="CONV-3", external_id="r1",
                                               body="That did not work, the app still cannot find it."))
    row = _ticket(services, "CONV-3")
    assert row.status == "new" and row.resolved_at is None and row.customer_replied
    assert any(e.kind == "ticket.reopened" for e in audit.events(services.db, DEMO_ADMIN, ticket_id="CONV-3"))
    _work(services)
    assert _ticket(services, "CONV-3").status in {"open", "escalated", "resolved"}
    assert _ticket(services, "CONV-3").read_through == conversations.last_message_id(services.db, "CONV-3")


def test_an_email_reply_is_threaded_and_the_customers_answer_finds_the_ticket(services: Services) -> None:
    o = find_order(services, "delivered")
    conversations.receive(services.db, Inbound(source="email", external_id="<abc@customer.test>",
                                               customer=o["email"], subject="Invoice",
                                               body="Hello, could you send me a copy of my last invoice?"))
    ticket_id = services.db.session().scalar(select(TicketRow.id))
    assert ticket_id and ticket_id.startswith("email-")
    _work(services)
    data = desk.get_ticket(services.db, ticket_id)
    for p in data["proposals"]:
        if p["status"] == "pending" and p["decision"] != "abstained":
            desk.approve(services.db, services.policy(), ADVISOR, p["id"])
    _, text = desk.reply_draft(desk.get_ticket(services.db, ticket_id))
    desk.send_reply(services.db, services.policy(), ADVISOR, ticket_id, text or "Done.", resolve=False,
                       override="test")
    with services.db.session() as s:
        sent = s.scalars(select(NotificationRow).where(NotificationRow.ticket_id == ticket_id,
                                                       NotificationRow.kind == "reply")).one()
        assert sent.destination == "email" and sent.status == "pending" and sent.recipient == o["email"]
        assert sent.headers["in_reply_to"] == "<abc@customer.test>"
        assert sent.headers["references"] == ["<abc@customer.test>"]
        assert sent.subject.startswith("Re: ")
        message_id = sent.headers["message_id"]
    answer = conversations.receive(services.db, Inbound(
        source="email", external_id="<def@customer.test>", customer=o["email"], subject="Re: Invoice",
        references=("<abc@customer.test>", message_id), body="Thanks, got it."))
    assert answer.ticket_id == ticket_id and answer.reopened


def test_internal_notes_stay_internal(services: Services) -> None:
    o = find_order(services, "delivered")
    got = conversations.receive(services.db, Inbound(source="api", ticket_id="CONV-5", customer=o["email"],
                                                     body="Where is my refund?"))
    conversations.add_note(services.db, ADVISOR, got.ticket_id, "Called billing, they are on it.")
    with services.db.session() as s:
        text, _ = conversations.customer_text(s, got.ticket_id, "")
    assert "billing" not in text
    thread = conversations.thread(services.db, got.ticket_id)
    assert [m["direction"] for m in thread] == ["in", "note"]
    assert _ticket(services, got.ticket_id).status == "new" and not _ticket(services, got.ticket_id).customer_replied
    try:
        conversations.add_note(services.db, ADVISOR, got.ticket_id, "   ")
    except InvalidInput as exc:
        assert str(exc) == "the note is empty"


def test_replies_to_imported_tickets_stay_local_and_are_marked_delivered(services: Services) -> None:
    from cx_core import delivery

    o = find_order(services, "delivered")
    got = conversations.receive(services.db, Inbound(source="import", ticket_id="CONV-6", customer=o["email"],
                                                     body="Please send me my invoice."))
    with services.db.tx() as s:
        row = s.get(TicketRow, got.ticket_id)
        assert row is not None
        outbox.reply(s, row, o["email"], "Re: invoice", "Here it is.", "ada", "lumenhome.example")
    assert delivery.run_once(services.db, services.settings) == 1
    with services.db.session() as s:
        n = s.scalars(select(NotificationRow).where(NotificationRow.ticket_id == got.ticket_id)).one()
        assert n.status == "delivered" and n.destination == "local" and n.attempts == 1
    assert _count(services, ProposalRow) == 0


def test_a_store_from_before_conversations_keeps_its_messages_and_replies(tmp_path: Path) -> None:
    """Upgrading: the customer's messages stay theirs, earlier replies count as sent and delivered."""
    from datetime import datetime

    from sqlalchemy import text

    from cx_core.store.db import Database

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    db.migrate()
    new_columns = {"tickets": ("external_ref", "customer_replied", "read_through"),
                   "ticket_messages": ("direction", "channel", "external_id"),
                   "notify_outbox": ("destination", "status", "idempotency_key", "message_id", "headers", "attempts",
                                     "next_attempt_at", "lease_until", "last_error", "delivered_at", "remote_id")}
    with db.engine.begin() as conn:  # back to the schema of the release before conversations
        for index in ("ux_tickets_external_ref", "ux_ticket_messages_external_id",
                      "ux_notify_outbox_idempotency_key", "ix_outbox_due"):
            conn.execute(text(f"DROP INDEX {index}"))
        for table, columns in new_columns.items():
            for column in columns:
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(text("DELETE FROM schema_migrations WHERE version = 9"))
        at = datetime(2026, 1, 2, 3, 4)
        conn.execute(text("INSERT INTO tickets (id, channel, subject, body, created_at, source, status, priority) "
                          "VALUES ('OLD-1', 'email', 's', 'b', :at, 'import', 'resolved', 0)"), {"at": at})
        conn.execute(text("INSERT INTO ticket_messages (ticket_id, author, body, created_at) VALUES "
                          "('OLD-1', 'customer', 'hello', :at), ('OLD-1', 'ada', 'hi there', :at)"), {"at": at})
        conn.execute(text("INSERT INTO notify_outbox (recipient, channel, kind, subject, body, ticket_id, created_at) "
                          "VALUES ('a@b.c', 'email', 'reply', 'Re', 'hi there', 'OLD-1', :at)"), {"at": at})
    assert db.migrate() == [9]
    assert [m["direction"] for m in conversations.thread(db, "OLD-1")] == ["in", "out"]
    with db.session() as s:
        n = s.scalars(select(NotificationRow)).one()
        assert n.status == "delivered" and n.destination == "local"
        old = s.get(TicketRow, "OLD-1")
        assert old is not None and not old.customer_replied and old.external_ref is None
    got = conversations.receive(db, Inbound(source="api", ticket_id="OLD-1", external_id="n1", body="Me again"))
    assert got.reopened
    db.dispose()


def test_a_reply_sent_on_an_earlier_reading_does_not_resolve_the_next_one(services: Services) -> None:
    o = find_order(services, "delivered")
    conversations.receive(services.db, Inbound(source="api", ticket_id="CONV-7", customer=o["email"],
                                               body="Hi, my smart thermostat won't connect to the Wi-Fi. What should "
                                                    "I do?"))
    _work(services)
    assert _ticket(services, "CONV-7").status == "resolved"  # answered alone at level 1
    conversations.receive(services.db, Inbound(source="api", ticket_id="CONV-7", external_id="inv",
                                               body="Thanks. Also, could you send me a copy of my last invoice?"))
    _work(services)
    data = desk.get_ticket(services.db, "CONV-7")
    assert data["ticket"]["status"] == "open"  # the invoice waits for an advisor
    assert [m["direction"] for m in conversations.thread(services.db, "CONV-7")] == ["in", "out", "in"]


def _mail(sender: str, message_id: str, body: str, **headers: str) -> bytes:
    """A raw e-mail as a mail server hands it over."""
    lines = [f"From: {sender}", "To: care@lumen.test", f"Message-ID: {message_id}", "Subject: Re: my order",
             *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items()), "", body]
    return "\r\n".join(lines).encode()


def _strangers_stay_out(db: Database) -> None:
    """A customer's mail opens a ticket and Tandem answers it. A stranger who quotes the customer's own Message-ID
    (``In-Reply-To`` or ``References``, as anyone copied on the mail can) opens a ticket of their own; the customer
    answering their own mail, and anyone answering Tandem's reply, join the ticket."""
    from cx_core.channels import email as mailbox

    def arrive(raw: bytes) -> conversations.Received:
        msg = mailbox.parse(raw)
        assert msg is not None
        return conversations.receive(db, msg)

    first = arrive(_mail("Ann Lee <ann@customer.test>", "<ann-1@customer.test>", "Where is my parcel?"))
    with db.tx() as s:
        ticket = s.get(TicketRow, first.ticket_id)
        assert ticket is not None
        sent = outbox.reply(s, ticket, "ann@customer.test", "Re: my order", "It is on its way.", "ada", "lumen.test")
        ours = s.get(NotificationRow, sent["notification_id"])
        assert ours is not None
        ours_id = ours.headers["message_id"]
    strangers = [arrive(_mail("Mallory <mallory@evil.test>", f"<m-{n}@evil.test>", "I am Ann, refund me to my "
                              "new card.", **{header: "<ann-1@customer.test>"}))
                 for n, header in enumerate(("In_Reply_To", "References"))]
    assert all(r.ticket_id != first.ticket_id and r.created for r in strangers), strangers
    again = arrive(_mail("ANN@customer.test", "<ann-2@customer.test>", "Any news?", In_Reply_To="<ann-1@customer.test>"))
    assert again.ticket_id == first.ticket_id and not again.created
    answer = arrive(_mail("Bob Lee <bob@customer.test>", "<bob-1@customer.test>", "Ann's husband here: thanks!",
                          In_Reply_To=ours_id))
    assert answer.ticket_id == first.ticket_id  # an answer to Tandem's own reply
    with db.session() as s:
        joined = s.scalars(select(MessageRow.body).where(MessageRow.ticket_id == first.ticket_id,
                                                         MessageRow.direction == "in")).all()
    assert not any("refund me" in b for b in joined), joined


def test_a_stranger_quoting_a_customers_message_id_opens_a_ticket_of_their_own(services: Services) -> None:
    _strangers_stay_out(services.db)


@pytest.mark.postgres
def test_a_stranger_quoting_a_customers_message_id_stays_out_on_postgres(tmp_path: Path) -> None:
    from cx_core.config import load_settings
    from tests.helpers import fresh_pg_database

    with fresh_pg_database() as url:
        svc = Services(load_settings(data_dir=tmp_path / "data", database_url=url))
        try:
            svc.db.migrate()
            _strangers_stay_out(svc.db)
        finally:
            svc.close()
