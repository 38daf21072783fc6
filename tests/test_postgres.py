"""The same store, actions, audit chain and queue claiming on a real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from cx_core import audit, tickets
from cx_core.actions import ExecContext, execute
from cx_core.config import Settings, load_settings
from cx_core.models import Role, TicketIn
from cx_core.policy import load_policy
from cx_core.store.db import MIGRATIONS, Database
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
    tickets.add_tickets(pg, batch, source="test")
    claimed: list[str] = []
    lock = threading.Lock()

    def claim(name: str) -> None:
        while (row := tickets.claim_next(pg, name)) is not None:
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
