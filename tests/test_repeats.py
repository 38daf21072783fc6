"""The same message sent again joins the sender's ticket still open instead of opening a second one that would be
answered, and acted on, twice: by e-mail (no ticket id, no outside conversation) and from the demo's simulator,
within a week, same sender, subject and words (case and spacing aside). A ticket id the caller chose, another
conversation, another sender, other words or a resolved ticket always open their own ticket."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from cx_core import conversations, desk
from cx_core.conversations import Inbound
from cx_core.models import TicketIn
from cx_core.services import Services
from cx_core.store.tables import AuditRow, MessageRow, TicketRow
from tests.conftest import NOW
from tests.helpers import find_order


def _mail(sender: str, body: str, subject: str = "My order", **more: object) -> Inbound:
    return Inbound(source="email", customer=sender, subject=subject, body=body, created_at=NOW, **more)  # type: ignore[arg-type]


def _count(svc: Services, model: type, *where: object) -> int:
    with svc.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_message_sent_again_joins_the_open_ticket_and_is_read_once(services: Services) -> None:
    o = find_order(services, "pending")
    body = f"Where is my order {o['order_id']}? It was due last week."
    first = conversations.receive(services.db, _mail(o["email"], body, external_id="<r1@x>"))
    again = conversations.receive(services.db, _mail(o["email"].upper(), "  " + body.replace(" ", "  ").lower(),
                                                     external_id="<r2@x>"))
    assert first.created and not again.created and not again.duplicate and again.ticket_id == first.ticket_id
    assert _count(services, MessageRow, MessageRow.ticket_id == first.ticket_id) == 2
    assert _count(services, AuditRow, AuditRow.kind == "message.repeated", AuditRow.ticket_id == first.ticket_id) == 1
    with services.db.session() as s:  # nothing new to read: the ticket is not sent back, and reads the words once
        assert s.get(TicketRow, first.ticket_id).status == "new"  # type: ignore[union-attr]
        text, _ = conversations.customer_text(s, first.ticket_id, "")
    assert " ".join(text.split()).casefold().count("it was due last week") == 1


def test_other_words_another_sender_a_chosen_id_a_conversation_or_a_resolved_ticket_open_their_own(
        services: Services) -> None:
    o = find_order(services, "pending")
    body = f"Please cancel order {o['order_id']}, I ordered it by mistake."
    assert conversations.receive(services.db, _mail(o["email"], body)).created
    assert conversations.receive(services.db, _mail(o["email"], body + " Thanks")).created
    assert conversations.receive(services.db, _mail("someone.else@example.com", body)).created
    assert conversations.receive(services.db, _mail(o["email"], body, subject="Cancel please")).created
    assert conversations.receive(services.db, _mail(o["email"], body, ticket_id="MY-OWN-1")).created
    assert conversations.receive(services.db, Inbound(source="chatwoot", conversation="91", customer=o["email"],
                                                      channel="chat", subject="My order", body=body)).created
    assert conversations.receive(services.db, _mail("", "Hello?")).created
    assert conversations.receive(services.db, _mail("", "Hello?")).created  # no sender: never taken for another
    with services.db.tx() as s:  # every ticket of theirs with these words closed
        s.execute(update(TicketRow).where(TicketRow.customer_ref == o["email"]).values(status="resolved"))
    assert conversations.receive(services.db, _mail(o["email"], body)).created
    week_later = _mail(o["email"], "Hi, is anyone there?", external_id="<w1@x>")
    opened = conversations.receive(services.db, week_later)
    later = Inbound(source="email", customer=o["email"], subject="My order", body="Hi, is anyone there?",
                    created_at=NOW + timedelta(days=8))
    assert conversations.receive(services.db, later).ticket_id != opened.ticket_id


def test_the_simulators_repeats_join_within_one_batch_and_a_file_import_keeps_every_row(services: Services) -> None:
    o = find_order(services, "pending")
    same = [TicketIn(id=f"REP-{i}", customer=o["email"], channel="email", subject="Twice", body="Refund me please.",
                     created_at=NOW + timedelta(minutes=i)) for i in range(3)]
    assert desk.add_tickets(services.db, same, source="simulator", join_repeats=True) == (1, 2)
    assert _count(services, MessageRow, MessageRow.ticket_id == "REP-0") == 3
    assert _count(services, TicketRow, TicketRow.id.in_(["REP-1", "REP-2"])) == 0
    rows = [t.model_copy(update={"id": f"IMP-{t.id}"}) for t in same]
    assert desk.add_tickets(services.db, rows, source="import") == (3, 0)
