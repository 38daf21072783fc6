"""A crash strands nothing and doubles nothing: a worker killed with SIGKILL at random points, 20 times, on SQLite
and on PostgreSQL, then restarted; every ticket ends processed exactly once, and every action that ran has its
proposal, its audit event and its review sample, and ran once. Also: Ctrl-C finishes the ticket in hand, an expired
lease is taken back, and an action run just before a crash is recorded, not run again."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select, update

from cx_core import audit, desk, worker
from cx_core.config import PROJECT_ROOT, Settings, load_settings
from cx_core.services import Services
from cx_core.store.db import Database, utcnow
from cx_core.store.tables import AuditRow, ExecutionRow, ProposalRow, ReviewRow, TicketRow
from domains.lumen.demo.simulator import Simulator
from domains.lumen.demo.world import build_world
from tests.conftest import NOW, copy_world
from tests.helpers import find_order, fresh_pg_database

KILLS = 20
TICKETS = 50


def _acting_policy(settings: Settings) -> None:
    """Every task type acts alone (supervised autonomy) and every autonomous action is sampled for review."""
    policy = yaml.safe_load((settings.knowledge_dir / "policy.yaml").read_text())
    policy["autonomy"] = {name: 3 for name in policy["autonomy"]}
    policy["escalation"]["act_alone_min_confidence"] = 0.5
    policy["escalation"]["frustration_above"] = 1.0
    policy["review"] = {"sample_rate": 1.0, "risk_above": 1.0}
    settings.writable_policy_file.write_text(yaml.safe_dump(policy))


def _queue(db: Database, n: int) -> list[str]:
    sim = Simulator(db, seed=5)
    batch = sim.tickets(n, utcnow() - timedelta(minutes=5))
    desk.add_tickets(db, batch, source="test")
    return [t.id for t in batch]


def _run_driver(data: Path, url: str, seed: int) -> dict[str, object]:
    env = {**os.environ, "TANDEM_LEASE_SECONDS": "3", "TANDEM_WORKER_POLL": "0.2", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, "-m", "tests.crash_driver", str(data), url, str(KILLS), str(seed)],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=560)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["drain_exit"] == 0, done.stderr[-3000:]
    return dict(report)


def _check(db: Database, ids: list[str]) -> dict[str, int]:
    with db.session() as s:
        statuses = dict(s.execute(select(TicketRow.id, TicketRow.status).where(TicketRow.id.in_(ids))).tuples().all())
        errors = s.scalars(select(TicketRow.id).where(TicketRow.id.in_(ids), TicketRow.error.is_not(None))).all()
        processed = Counter(s.scalars(select(AuditRow.ticket_id).where(AuditRow.kind == "ticket.processed")))
        # a ticket another one's record change sent back to the agent is read once more, on purpose and audited
        again = Counter(s.scalars(select(AuditRow.ticket_id).where(AuditRow.kind == "ticket.reread")))
        taken_back = s.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.kind == "ticket.lease_expired"))
        executions = s.scalars(select(ExecutionRow).where(ExecutionRow.actor == "agent")).all()
        by_key = {p.execution_key: p for p in s.scalars(select(ProposalRow).where(ProposalRow.execution_key.is_not(None)))}
        proposals_per_key = Counter(s.scalars(select(ProposalRow.execution_key)
                                              .where(ProposalRow.execution_key.is_not(None))))
        executed_events = Counter(json.loads(d).get("key") for d in s.scalars(
            select(AuditRow.data).where(AuditRow.kind == "action.executed")))
        reviews = Counter(s.scalars(select(ReviewRow.execution_key)))
    assert set(statuses) == set(ids)
    stranded = [i for i, st in statuses.items() if st in {"new", "processing"}]
    assert not stranded, f"{len(stranded)} tickets stranded: {stranded[:5]}"
    assert not errors, f"tickets failed after a crash: {errors[:5]}"
    assert all(processed[i] == 1 + again[i] for i in ids), {i: processed[i] for i in ids if processed[i] != 1 + again[i]}
    ran = Counter((e.ticket_id, e.action) for e in executions)
    assert all(n == 1 for n in ran.values()), [k for k, n in ran.items() if n > 1]
    for e in executions:
        assert executed_events[e.idempotency_key] == 1, f"{e.action} on {e.ticket_id}: no single audit event"
        assert reviews[e.idempotency_key] == 1, f"{e.action} on {e.ticket_id}: no review sample"
        if e.action == "send_reply":  # the reply itself is no proposal: the ticket says it was answered
            assert statuses[e.ticket_id] == "resolved", f"{e.ticket_id} was answered but is {statuses[e.ticket_id]}"
            continue
        p = by_key.get(e.idempotency_key)
        assert p is not None and p.status == "executed" and p.ticket_id == e.ticket_id, \
            f"{e.action} on {e.ticket_id} ran with no executed proposal"
        assert proposals_per_key[e.idempotency_key] == 1, f"{e.action} on {e.ticket_id} recorded twice"
    checked = audit.verify(db)
    assert checked.ok, checked.message
    return {"executions": len(executions), "taken_back": int(taken_back or 0)}


@pytest.mark.crash
def test_kill_the_worker_20_times_on_sqlite(world: Settings, tmp_path: Path) -> None:
    settings = copy_world(world, tmp_path / "data")
    _acting_policy(settings)
    db = Database(settings.db_url)
    ids = _queue(db, TICKETS)
    report = _run_driver(settings.data_dir, "", 1)
    seen = _check(db, ids)
    db.dispose()
    print("sqlite", seen, report)
    assert seen["executions"] >= 10, (seen, report)  # the tickets made the agent act
    assert seen["taken_back"] >= 5, (seen, report)  # kills landed while tickets were held


@pytest.fixture
def pg_data(world: Settings, tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copytree(world.chroma_path, data / "chroma")
    shutil.copytree(world.model_dir, data / "models")
    with fresh_pg_database("tandem_crash") as url:
        yield load_settings(data_dir=data, database_url=url), url


@pytest.mark.crash
@pytest.mark.postgres
def test_kill_the_worker_20_times_on_postgres(pg_data: tuple[Settings, str]) -> None:
    settings, url = pg_data
    _acting_policy(settings)
    db = Database(url)
    db.migrate()
    build_world(db, settings.seed, NOW.date(), customers=60, orders=200)
    ids = _queue(db, TICKETS)
    report = _run_driver(settings.data_dir, url, 2)
    seen = _check(db, ids)
    db.dispose()
    print("postgres", seen, report)
    assert seen["executions"] >= 10, (seen, report)
    assert seen["taken_back"] >= 5, (seen, report)


def test_an_expired_lease_is_taken_back_by_a_worker_and_by_the_app(services: Services) -> None:
    ids = _queue(services.db, 2)
    first = desk.claim_next(services.db, "dead-worker", lease_seconds=60)
    assert first is not None and first.id == ids[0]
    # a live lease holds: the next worker takes the other ticket
    second = desk.claim_next(services.db, "other", lease_seconds=60)
    assert second is not None and second.id == ids[1]
    assert desk.claim_next(services.db, "third", lease_seconds=60) is None
    with services.db.tx() as s:  # both holders died a minute ago
        s.execute(update(TicketRow).values(lease_until=utcnow() - timedelta(seconds=1)))
    again = desk.claim_next(services.db, "rescuer", lease_seconds=60)
    assert again is not None and again.id == ids[0] and again.claimed_by != first.claimed_by
    assert desk.release_expired(services.db) == 1  # the app takes back the other one
    with services.db.session() as s:
        assert s.get(TicketRow, ids[1]).status == "new"  # type: ignore[union-attr]
        kinds = s.scalars(select(AuditRow.kind).where(AuditRow.kind == "ticket.lease_expired")).all()
    assert len(kinds) == 2
    # the dead worker's late result is refused: the ticket belongs to its new holder
    from cx_core.errors import LeaseLost

    result = services.pipeline.process(desk.as_ticket_in(first), now=NOW, claim=first.claimed_by)
    with pytest.raises(LeaseLost):
        desk.store_result(services.db, services.policy(), result, claim=first.claimed_by)


def test_an_action_run_before_a_crash_is_recorded_not_run_again(services: Services) -> None:
    _acting_policy(services.settings)
    o = find_order(services, "pending")
    t = Simulator(services.db, seed=3).ticket(utcnow())
    t = t.model_copy(update={"id": "CRASH-1", "customer": o["email"], "subject": "",
                             "body": f"Please ship order {o['order_id']} to 12 Oak Street, Austin, TX 78701 instead."})
    desk.add_tickets(services.db, [t], source="test")
    row = desk.claim_next(services.db, "doomed", lease_seconds=60)
    assert row is not None
    r = services.pipeline.process(desk.as_ticket_in(row), claim=row.claimed_by)  # acts, then dies unstored
    with services.db.session() as s:
        ran = s.scalars(select(ExecutionRow).where(ExecutionRow.ticket_id == "CRASH-1")).all()
    assert sorted(e.action for e in ran) == ["change_shipping_address", "send_reply"], \
        [(p.action, p.decision, p.reason) for p in r.proposals]
    with services.db.tx() as s:
        s.execute(update(TicketRow).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert worker.process_one(services, "rescuer")
    data = desk.get_ticket(services.db, "CRASH-1")
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ExecutionRow)
                        .where(ExecutionRow.ticket_id == "CRASH-1")) == 2  # neither ran a second time
        assert s.scalar(select(func.count()).select_from(ReviewRow).where(ReviewRow.ticket_id == "CRASH-1")) == 2
    moved = [p for p in data["proposals"] if p["action"] == "change_shipping_address"]
    assert len(moved) == 1 and moved[0]["status"] == "executed"
    assert data["ticket"]["status"] == "resolved"  # the reply went out before the crash


def test_ctrl_c_finishes_the_ticket_in_hand(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    _queue(services.db, 3)
    stop = threading.Event()
    seen: list[bool] = []
    original = desk.store_result

    def slow_store(*args: object, **kwargs: object) -> None:
        stop.set()  # the stop arrives mid-ticket
        original(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(True)

    monkeypatch.setattr(desk, "store_result", slow_store)
    n = worker.run(services, simulate=False, stop=stop)
    assert n == 1 and seen == [True]
    with services.db.session() as s:
        statuses = Counter(s.scalars(select(TicketRow.status).where(TicketRow.id.like("T-%"))))
    assert statuses["processing"] == 0 and statuses["new"] == 2


@pytest.mark.crash
def test_sigint_stops_a_real_worker_cleanly(world: Settings, tmp_path: Path) -> None:
    settings = copy_world(world, tmp_path / "data")
    db = Database(settings.db_url)
    _queue(db, 40)
    env = {**os.environ, "TANDEM_DATA_DIR": str(settings.data_dir), "TANDEM_WORKER_POLL": "0.2"}
    proc = subprocess.Popen([sys.executable, "-m", "cx_core", "worker", "--no-simulate"], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with db.session() as s:
            if s.scalar(select(func.count()).select_from(TicketRow).where(TicketRow.status != "new")):
                break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    with db.session() as s:
        assert not s.scalar(select(func.count()).select_from(TicketRow).where(TicketRow.status == "processing"))
    db.dispose()
