"""The inbox at scale: full-text search with one syntax on SQLite and PostgreSQL, counts and filter menus that
match a recount, and bulk intake that keeps one audit event per ticket."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from cx_core import audit, desk
from cx_core.access import StaffUser
from cx_core.desk import InboxFilter
from cx_core.models import Role, TicketIn
from cx_core.services import Services
from cx_core.store import fulltext
from cx_core.store.db import Database
from cx_core.store.tables import TicketRow
from tests.conftest import NOW
from tests.helpers import DEMO_ADMIN, fresh_pg_database

ALL = ("new", "processing", "open", "escalated", "resolved")

SEARCH_TICKETS = [
    TicketIn(id="S-0001", customer="mia.lopez@example.com", channel="email", subject="Charged twice",
             body="I was charged twice for order #W7654321, please refund the second payment.", created_at=NOW),
    TicketIn(id="S-0002", customer="ben.ode@example.com", channel="chat", subject="Delivery",
             body="The courier never came; twice I waited at home. Refunds are not what I want.", created_at=NOW),
    TicketIn(id="S-0003", customer="c_3", channel="email", subject="Thermostat pairing",
             body="How do I pair the thermostat with the app? The café wifi is slow.", created_at=NOW),
]


def ids(db: Database, query: str, statuses: tuple[str, ...] = ALL) -> list[str]:
    rows, total = desk.inbox(db, where=InboxFilter(statuses=statuses, search=query), limit=50)
    assert total == len(rows)
    return [r["id"] for r in rows]


def check_search(db: Database) -> None:
    desk.add_tickets(db, SEARCH_TICKETS, source="test")
    assert ids(db, "charged") == ["S-0001"]  # a word, in the subject and the body
    assert sorted(ids(db, "twice")) == ["S-0001", "S-0002"]
    assert ids(db, "twice refund") == ["S-0001"]  # plain words are ANDed
    assert ids(db, '"charged twice"') == ["S-0001"]  # a phrase keeps its order
    assert ids(db, '"twice charged"') == []
    assert sorted(ids(db, "refund*")) == ["S-0001", "S-0002"]  # a prefix (refund, refunds)
    assert ids(db, "refund") == ["S-0001"]  # words are not stemmed: the same on both databases
    assert ids(db, "S-0002") == ["S-0002"]  # a ticket id
    assert ids(db, "0003") == ["S-0003"]
    assert ids(db, "mia.lopez@example.com") == ["S-0001"]  # an e-mail address
    assert ids(db, "W7654321") == ["S-0001"] and ids(db, "#W7654321") == ["S-0001"]  # an order number
    assert ids(db, "CAFÉ") == ["S-0003"]
    for hostile in ('"', "***", "AND OR NOT (", "a:b|c&d!e", "') OR 1=1 --", "x*", "NEAR(", "'", "\\"):
        assert ids(db, hostile) == []  # never an error, never syntax
    # relevance first: the ticket whose subject says it ranks above one that only mentions it in passing
    desk.add_tickets(db, [TicketIn(id="S-0004", channel="email", subject="Refund", created_at=NOW,
                                      body="Refund please: refund the refund for the kettle.")], source="test")
    assert ids(db, "refund")[0] == "S-0004"
    # within the inbox's filters
    assert ids(db, "twice", statuses=("open",)) == []
    # the index follows every change of the searched text (a corrected body, an added customer reference)
    with db.tx() as s:
        s.execute(update(TicketRow).where(TicketRow.id == "S-0003")
                  .values(body="My heat pump shows error E4.", customer_ref="zoe.k@example.com"))
    assert ids(db, "thermostat") == ["S-0003"]  # still in the subject
    assert ids(db, "pair") == [] and ids(db, "pump") == ["S-0003"] and ids(db, "zoe.k@example.com") == ["S-0003"]
    with db.tx() as s:
        s.execute(text("DELETE FROM ticket_messages WHERE ticket_id = 'S-0002'"))
        s.execute(text("DELETE FROM tickets WHERE id = 'S-0002'"))
    assert ids(db, "courier") == []


def test_query_syntax_is_the_same_for_both_databases() -> None:
    terms = fulltext.parse('refun* "charged twice" ada@example.com  NOT ( x* "')
    assert terms == [fulltext.Term(("refun",), True), fulltext.Term(("charged", "twice")),
                     fulltext.Term(("ada", "example", "com")), fulltext.Term(("not",)), fulltext.Term(("x",))]
    assert fulltext.fts5_match(terms) == '"refun" * AND "charged twice" AND "ada example com" AND "not" AND "x"'
    assert fulltext.tsquery(terms) == ("('refun':*) & ('charged' <-> 'twice') & ('ada' <-> 'example' <-> 'com') "
                                       "& ('not') & ('x')")
    assert fulltext.parse("!!! ***") == []


def test_search_on_sqlite(services: Services) -> None:
    check_search(services.db)


def test_counts_and_menus_match_a_recount(services: Services) -> None:
    db = services.db
    batch = [TicketIn(id=f"C-{i}", channel=["email", "chat", "phone"][i % 3], subject=f"Case {i}", body="Help",
                      created_at=NOW + timedelta(minutes=i)) for i in range(30)]
    desk.add_tickets(db, batch, source="test")
    for i in range(8):  # the worker claims some, fails one
        claimed = desk.claim_next(db, "w1")
        assert claimed is not None
        if i == 0:
            desk.mark_failed(db, claimed.id, "boom")
    with db.tx() as s:  # the pipeline's conclusions, escalations and resolutions, as other code writes them
        for i, row in enumerate(s.scalars(select(TicketRow).where(TicketRow.id.like("C-%")))):
            if i % 4 == 0:
                row.status, row.task_type, row.urgency, row.sentiment = "open", "refund", "high", "negative"
            elif i % 4 == 1:
                row.status, row.task_type, row.urgency = "escalated", "complaint", "critical"
            elif i % 7 == 2:
                row.status, row.task_type, row.sentiment = "resolved", "order_status", "positive"
    ada = StaffUser("ada", "Ada Advisor", Role.advisor)
    open_now = [r["id"] for r in desk.inbox(db, where=InboxFilter(statuses=("open",)), limit=5)[0]]
    desk.assign(db, ada, open_now[0], "ada")

    with db.session() as s:
        rows = s.scalars(select(TicketRow)).all()
    live = [r for r in rows if r.status in ("open", "escalated")]
    want = {k: v for k, v in Counter(r.status for r in rows).items() if k in desk.ACTIVE}
    want["unassigned"] = sum(1 for r in live if r.assigned_to is None)
    want["mine"] = sum(1 for r in live if r.assigned_to == "ada")
    assert desk.counts(db, me="ada") == want and want["mine"] == 1
    assert desk.filter_options(db) == {
        "task_types": sorted({r.task_type for r in rows if r.task_type}),
        "urgencies": sorted({r.urgency for r in rows if r.urgency}),
        "sentiments": sorted({r.sentiment for r in rows if r.sentiment}),
        "channels": sorted({r.channel for r in rows if r.channel})}
    for statuses in (("new", "processing", "open"), ("escalated",), ("resolved",), ALL):
        page, total = desk.inbox(db, where=InboxFilter(statuses=statuses, channels=("chat", "phone"),
                                                          order="priority"), limit=500)
        expected = [r for r in rows if r.status in statuses and r.channel in ("chat", "phone")]
        assert total == len(expected) == len(page)
        by_due, _ = desk.inbox(db, where=InboxFilter(statuses=statuses, channels=("chat", "phone")), limit=500)
        for listed in (page, by_due):  # "All" lists what is still to do first, then the resolved
            done = [p["status"] == "resolved" for p in listed]
            assert done == sorted(done) and (statuses == ("resolved",) or any(done) == (statuses == ALL))
        for part in (False, True):
            same = [p for p in page if (p["status"] == "resolved") == part]
            assert [p["priority"] for p in same] == sorted((p["priority"] for p in same), reverse=True)
            due = [p["sla_due"] for p in by_due if (p["status"] == "resolved") == part and p["sla_due"] is not None]
            tail = [p for p in by_due if (p["status"] == "resolved") == part][len(due):]
            assert due == sorted(due) and all(p["sla_due"] is None for p in tail)  # the default


def test_bulk_intake_keeps_one_audit_event_per_ticket(services: Services) -> None:
    db = services.db
    before = audit.verify(db).count
    batch = [TicketIn(id=f"B-{i}", channel="email", subject=f"Bulk {i}", body=f"Card 4111 1111 1111 1111 #{i}",
                      customer="nobody@example.com", created_at=NOW) for i in range(desk.IMPORT_BATCH * 2 + 50)]
    desk.add_tickets(db, batch[:10], source="test")
    seen: list[int] = []
    added, skipped = desk.add_tickets(db, batch + batch[:3], source="import", progress=seen.append)
    assert (added, skipped) == (len(batch) - 10, 13)  # stored before, and repeated in the same call
    assert sum(seen) == len(batch) + 3 and len(seen) == 3
    check = audit.verify(db)
    assert check.ok and check.count == before + len(batch)
    received = [e for e in audit.events(db, DEMO_ADMIN, limit=len(batch) + 5) if e.kind == "ticket.received"]
    assert Counter(e.ticket_id for e in received) == Counter(t.id for t in batch)
    stored = desk.get_ticket(db, "B-700")
    assert "4111" not in stored["ticket"]["body"] and stored["messages"][0]["body"] == stored["ticket"]["body"]
    assert ids(db, "bulk 700") == ["B-700"]


def test_an_existing_database_gets_its_search_index_built(services: Services) -> None:
    """Upgrading a store that has tickets already: the migration indexes them."""
    db = services.db
    desk.add_tickets(db, SEARCH_TICKETS, source="test")
    with db.tx() as s:
        s.execute(text("DROP TABLE tickets_fts"))
        for trigger in ("insert", "update", "delete"):
            s.execute(text(f"DROP TRIGGER tickets_fts_{trigger}"))
        s.execute(text("DELETE FROM schema_migrations WHERE version = 5"))
    assert 5 in db.migrate()
    assert ids(db, "thermostat") == ["S-0003"]


# ---------------------------------------------------------------- PostgreSQL
@pytest.fixture
def pg() -> Iterator[Database]:
    with fresh_pg_database() as url:
        db = Database(url)
        try:
            db.migrate()
            yield db
        finally:
            db.dispose()


@pytest.mark.postgres
def test_search_on_postgres(pg: Database) -> None:
    check_search(pg)


@pytest.mark.postgres
def test_counts_menus_and_bulk_intake_on_postgres(pg: Database) -> None:
    batch = [TicketIn(id=f"P-{i}", channel=["email", "chat"][i % 2], subject=f"Case {i}", body="Help",
                      created_at=NOW + timedelta(minutes=i)) for i in range(desk.IMPORT_BATCH + 20)]
    assert desk.add_tickets(pg, batch + batch[:2], source="import") == (len(batch), 2)
    for _ in range(5):
        assert desk.claim_next(pg, "w1") is not None
    with pg.tx() as s:
        s.execute(update(TicketRow).where(TicketRow.id.in_(["P-1", "P-2", "P-3"]))
                  .values(status="open", task_type="refund", urgency="high", sentiment="negative"))
    assert desk.counts(pg) == {"new": len(batch) - 5, "processing": 2, "open": 3, "unassigned": 3}
    assert desk.filter_options(pg) == {"task_types": ["refund"], "urgencies": ["high"],
                                          "sentiments": ["negative"], "channels": ["chat", "email"]}
    check = audit.verify(pg)
    assert check.ok and check.count == len(batch)
