"""The same store, actions, audit chain and queue claiming on a real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from cx_core import audit, desk
from cx_core.actions import ExecContext
from cx_core.actions.execute import execute
from cx_core.config import Settings, load_settings
from cx_core.models import Role, TicketIn
from cx_core.policy import load_policy
from cx_core.store.db import MIGRATIONS, Database
from cx_core.store.tables import AuditRow
from domains.lumen.demo.world import build_world
from tests.conftest import NOW
from tests.helpers import fresh_pg_database

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="module")
def pg(pg_url: str) -> Iterator[Database]:
    db = Database(pg_url)
    assert db.migrate() == [v for v, _, _ in MIGRATIONS]
    assert db.migrate() == []  # migrations are recorded and never re-run
    build_world(db, 20261121, NOW.date(), customers=30, orders=90)
    yield db
    db.dispose()


def _pending(db: Database) -> tuple[str, str]:
    from sqlalchemy import select

    from domains.lumen.tables import OrderRow

    with db.session() as s:
        o = s.scalars(select(OrderRow).where(OrderRow.status == "pending").order_by(OrderRow.order_id)).first()
        assert o is not None
        return o.order_id, o.user_id


def test_actions_and_audit_on_postgres(pg: Database, world: Settings) -> None:
    policy = load_policy(world.active_policy_file)
    order_id, user_id = _pending(pg)
    ctx = ExecContext(actor="ada", role=Role.advisor, ticket_id=None, customer_id=user_id, today=NOW.date(), now=NOW)
    args = {"order_id": order_id, "address1": "12 Oak Street", "city": "Austin", "state": "TX", "zip": "78701"}
    assert execute(pg, policy, "change_shipping_address", args, ctx).status == "executed"
    again = execute(pg, policy, "change_shipping_address", {**args, "address1": "1 Other Road"}, ctx)
    assert again.status == "denied"
    cancel = execute(pg, policy, "cancel_order", {"order_id": order_id, "reason": "ordered by mistake"}, ctx)
    assert cancel.status in {"executed", "denied"}
    assert audit.verify(pg).ok


def test_concurrent_audit_appends_keep_one_chain(pg: Database) -> None:
    def worker(n: int) -> None:
        for i in range(15):
            with pg.tx() as s:
                audit.append(s, f"w{n}", "test.concurrent", None, i=i)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = audit.verify(pg)
    assert result.ok, result.message


def test_skip_locked_never_hands_a_ticket_to_two_workers(pg: Database) -> None:
    batch = [TicketIn(id=f"pg-{i}", channel="email", subject="hi", body="where is my order?", created_at=NOW)
             for i in range(30)]
    desk.add_tickets(pg, batch, source="test")
    claimed: list[str] = []
    lock = threading.Lock()

    def claim(name: str) -> None:
        while (row := desk.claim_next(pg, name)) is not None:
            with lock:
                claimed.append(row.id)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(t.id for t in batch)


def test_settings_accept_a_postgres_url(pg_url: str) -> None:
    settings = load_settings(database_url=pg_url)
    assert settings.db_url.startswith("postgresql")


def test_a_message_delivered_at_once_by_many_is_stored_once_on_postgres(pg: Database) -> None:
    from sqlalchemy import func, select

    from cx_core import conversations
    from cx_core.conversations import Inbound
    from cx_core.store.tables import MessageRow, TicketRow

    results: list[conversations.Received] = []

    def deliver(n: int) -> None:
        got = conversations.receive(pg, Inbound(source="chatwoot", conversation="pg-1", external_id="same",
                                                body="Where is my parcel?", channel="chat"))
        results.append(got)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with pg.session() as s:
        assert s.scalar(select(func.count()).select_from(TicketRow).where(TicketRow.id == "chatwoot-pg-1")) == 1
        assert s.scalar(select(func.count()).select_from(MessageRow)
                        .where(MessageRow.external_id == "chatwoot:same")) == 1
    assert sum(1 for r in results if not r.duplicate) == 1 and {r.ticket_id for r in results} == {"chatwoot-pg-1"}


def test_two_dispatchers_never_take_the_same_message_on_postgres(pg: Database) -> None:
    from cx_core import conversations, delivery, outbox
    from cx_core.conversations import Inbound
    from cx_core.store.tables import TicketRow

    got = conversations.receive(pg, Inbound(source="api", ticket_id="PG-OUT", body="A question?"))
    with pg.tx() as s:
        row = s.get(TicketRow, got.ticket_id)
        assert row is not None
        for i in range(30):
            outbox.reply(s, row, "someone@example.net", "Re", f"Answer {i}", "agent", "example.com")
    taken: list[list[int]] = [[], []]

    def take(n: int) -> None:
        while batch := delivery.claim(pg, limit=3, lease_seconds=60):
            taken[n] += [m.id for m in batch]

    threads = [threading.Thread(target=take, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken[0]) + len(taken[1]) == 30 and not set(taken[0]) & set(taken[1])


def test_nul_in_any_text_never_fails_a_transaction_on_postgres(pg: Database) -> None:
    """A NUL typed into a sign-in name, a search or a note reaches PostgreSQL as text it can keep."""
    from cx_core import auth, conversations
    from cx_core.access import StaffUser

    auth.ensure_demo_users(pg)
    assert auth.authenticate(pg, "ro\x00ot", "wrong password", "10.9.9.9") is None
    assert isinstance(desk.inbox(pg, search="kettle\x00"), list | tuple | dict)
    desk.add_tickets(pg, [TicketIn(id="NUL-1", subject="Kettle", body="It broke.")], source="import")
    conversations.add_note(pg, StaffUser("ada", "Ada Advisor", Role.advisor), "NUL-1", "called\x00 back")
    with pg.session() as s:
        assert [e.data for e in s.scalars(select(AuditRow).where(AuditRow.kind == "note.added"))]
