"""A busy database is not an outage: with another writer hammering the SQLite store, 120 tickets are processed and
no proposal says a system is unavailable; a lock held past every retry is one line, never a traceback."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from cx_core import audit, desk, worker
from cx_core.errors import DatabaseBusy
from cx_core.services import Services
from cx_core.store.db import Database, is_lock_error, retrying, utcnow
from cx_core.store.tables import AuditRow, ProposalRow, TicketRow
from domains.lumen.demo.simulator import Simulator


def _hammer(db: Database, stop: threading.Event, counts: Counter[str]) -> None:
    """Another writer: a transaction every ~15 ms, each holding the write lock a few milliseconds (a second app
    process saving decisions, an importer); a writer that never lets go would starve any SQLite writer."""
    while not stop.is_set():
        try:
            with db.tx() as s:
                audit.append(s, "load", "load.write", None, n=counts["writes"])
                s.execute(text("SELECT 1"))
                stop.wait(0.004)
            counts["writes"] += 1
            stop.wait(0.01)
        except DatabaseBusy:
            counts["busy"] += 1


def test_a_hundred_and_twenty_tickets_under_steady_writes_mark_nothing_unavailable(services: Services) -> None:
    sim = Simulator(services.db, seed=21)
    batch = sim.tickets(120, utcnow() - timedelta(minutes=1))
    desk.add_tickets(services.db, batch, source="test")
    stop, counts = threading.Event(), Counter[str]()
    writers = [threading.Thread(target=_hammer, args=(services.db, stop, counts)) for _ in range(1)]
    for w in writers:
        w.start()
    try:
        done = 0
        while worker.process_one(services, "busy-test"):
            done += 1
    finally:
        stop.set()
        for w in writers:
            w.join()
    with services.db.session() as s:  # a ticket another one sent back (the same record) is read twice
        again = s.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.kind == "ticket.reread")) or 0
    assert done == 120 + again
    assert counts["writes"] > 120  # the store really was busy throughout
    with services.db.session() as s:
        proposals = s.scalars(select(ProposalRow).where(ProposalRow.ticket_id.in_([t.id for t in batch]))).all()
        statuses = Counter(s.scalars(select(TicketRow.status).where(TicketRow.id.in_([t.id for t in batch]))))
        errors = s.scalars(select(TicketRow.error).where(TicketRow.error.is_not(None))).all()
    unavailable = [p for p in proposals if "unavailable" in (p.reason or "")]
    assert len(proposals) > 100
    assert not unavailable, f"{len(unavailable)} of {len(proposals)} proposals: {unavailable[0].reason}"
    assert not errors, errors[:3]
    assert statuses["new"] == 0 and statuses["processing"] == 0


def test_a_lock_is_told_apart_from_a_system_down() -> None:
    locked = OperationalError("UPDATE tickets", {}, Exception("database is locked"))
    gone = OperationalError("SELECT 1", {}, Exception("unable to open database file"))
    assert is_lock_error(locked) and not is_lock_error(gone)


def test_a_lock_held_past_every_retry_is_one_line() -> None:
    tries: list[int] = []

    def always_locked() -> None:
        tries.append(1)
        raise OperationalError("UPDATE tickets", {}, Exception("database is locked"))

    with pytest.raises(DatabaseBusy) as busy:
        retrying(attempts=3)(always_locked)
    assert len(tries) == 3
    assert "\n" not in str(busy.value) and "try again" in str(busy.value)
