"""Delivery survives crashes: a reply committed with its decision is delivered exactly once by a dispatcher that is
killed with SIGKILL between the commit and the delivery, or after the receiving service took it but before the
outbox knew; and a channel that stays down shows as "not delivered, retrying", then failed, never silently."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cx_core import conversations, delivery, outbox
from cx_core.config import PROJECT_ROOT, Settings, load_settings
from cx_core.conversations import Inbound
from cx_core.store.db import Database
from cx_core.store.tables import NotificationRow, TicketRow
from tests.conftest import copy_world
from tests.fork_server import Forked, ForkServer
from tests.helpers import DEMO_ADMIN
from tests.servers.sink import Sink, running_sink

pytestmark = pytest.mark.crash


@pytest.fixture
def setup(world: Settings, tmp_path: Path) -> Iterator[tuple[Settings, Database, Sink]]:
    settings = copy_world(world, tmp_path / "data")
    db = Database(settings.db_url)
    db.migrate()
    with running_sink(tmp_path) as sink:
        yield settings, db, sink
    db.dispose()


def _replies(db: Database, n: int, start: int = 0) -> list[int]:
    """``n`` API tickets, each with a reply committed to the outbox (as a decision's transaction writes it)."""
    ids = []
    for i in range(start, start + n):
        got = conversations.receive(db, Inbound(source="api", ticket_id=f"D-{i}", body=f"Question number {i}?"))
        with db.tx() as s:
            row = s.get(TicketRow, got.ticket_id)
            assert row is not None
            ids.append(outbox.reply(s, row, "someone@example.net", "Re: your question", f"Answer {i}.", "agent",
                                    "lumenhome.example")["notification_id"])
    return ids


@pytest.fixture(scope="module")
def forks() -> Iterator[ForkServer]:
    server = ForkServer()
    yield server
    server.close()


def _dispatch(settings: Settings, sink: Sink, *args: str, failpoint: str = "", wait: bool = True,
              forks: ForkServer | None = None) -> subprocess.Popen[bytes] | Forked:
    """A real ``python -m cx_core dispatch``; with ``forks``, a fork of a process that imported Tandem once
    (``tests/fork_server.py``), which starts delivering at once."""
    env = {**os.environ, "TANDEM_DATA_DIR": str(settings.data_dir), "TANDEM_DATABASE_URL": "",
           "TANDEM_OUTBOUND_WEBHOOK_URL": f"{sink.url}/hooks/tandem", "TANDEM_DELIVERY_LEASE_SECONDS": "1",
           "TANDEM_DELIVERY_POLL": "0.1", "TANDEM_DELIVERY_RETRY_SECONDS": "0.2", "TANDEM_FAILPOINT": failpoint}
    proc: subprocess.Popen[bytes] | Forked
    if forks is not None:
        proc = forks.start(["dispatch", *args], env, settings.data_dir / "dispatch.log")
    else:
        proc = subprocess.Popen([sys.executable, "-m", "cx_core", "dispatch", *args], cwd=PROJECT_ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if wait:
        proc.wait(timeout=120)
    return proc


def _statuses(db: Database, ids: list[int]) -> Counter[str]:
    with db.session() as s:
        return Counter(s.scalars(select(NotificationRow.status).where(NotificationRow.id.in_(ids))))


def _drain(settings: Settings, sink: Sink, db: Database, ids: list[int], forks: ForkServer) -> None:
    """Runs dispatchers (after the dead one's lease ran out) until every message is delivered."""
    for _ in range(20):
        time.sleep(1.2)
        _dispatch(settings, sink, "--once", forks=forks)
        if _statuses(db, ids) == Counter({"delivered": len(ids)}):
            return
    raise AssertionError(f"not all delivered: {_statuses(db, ids)}")


def test_killed_between_commit_and_delivery_it_delivers_exactly_once(setup: tuple[Settings, Database, Sink],
                                                                     forks: ForkServer) -> None:
    settings, db, sink = setup
    ids = _replies(db, 5)
    dead = _dispatch(settings, sink, failpoint="delivery.claimed", forks=forks)
    assert dead.returncode == -signal.SIGKILL
    assert sink.requests() == []
    assert _statuses(db, ids) == Counter({"sending": 5})  # claimed, then the process died
    _drain(settings, sink, db, ids, forks)
    keys = [r["key"] for r in sink.requests()]
    assert len(keys) == 5 and len(set(keys)) == 5 and sorted(sink.applied()) == sorted(keys)


def test_killed_after_the_service_took_it_the_retry_is_recognised(setup: tuple[Settings, Database, Sink],
                                                                  forks: ForkServer) -> None:
    settings, db, sink = setup
    ids = _replies(db, 3)
    dead = _dispatch(settings, sink, failpoint="delivery.sent", forks=forks)
    assert dead.returncode == -signal.SIGKILL
    assert len(sink.requests()) == 1  # the service has it; the outbox does not know yet
    _drain(settings, sink, db, ids, forks)
    keys = Counter(r["key"] for r in sink.requests())
    assert len(keys) == 3 and sorted(keys.values()) == [1, 1, 2]  # one was sent twice, with the same key
    assert len(sink.applied()) == 3  # and applied once


def test_random_kills_never_lose_or_double_a_delivery(setup: tuple[Settings, Database, Sink],
                                                     forks: ForkServer) -> None:
    settings, db, sink = setup
    ids = _replies(db, 30)
    sink.delay = 0.05
    rng = random.Random(7)
    kills = 0
    for _ in range(12):
        proc = _dispatch(settings, sink, wait=False)
        time.sleep(rng.uniform(0.8, 2.5))  # start-up takes most of a second; then it is delivering
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        if _statuses(db, ids).get("delivered", 0) == len(ids):
            break
    _drain(settings, sink, db, ids, forks)
    requests = sink.requests()
    assert kills >= 1
    assert len(sink.applied()) == len(ids) and len(set(sink.applied())) == len(ids)
    assert {r["key"] for r in requests} == set(sink.applied())


def test_a_channel_that_stays_down_is_shown_retrying_then_failed(setup: tuple[Settings, Database, Sink]) -> None:
    settings, db, sink = setup
    ids = _replies(db, 1)
    down = load_settings(data_dir=settings.data_dir, database_url="",
                         outbound_webhook_url="http://127.0.0.1:9/closed", delivery_retry_seconds=0.01,
                         delivery_max_attempts=3)
    assert delivery.run_once(db, down) == 1
    thread = conversations.thread(db, "D-0")
    out = next(m for m in thread if m["direction"] == "out")
    assert out["delivery"]["status"] == "retrying" and out["delivery"]["error"]
    assert delivery.problems(db, DEMO_ADMIN)[0]["status"] == "retrying"
    for _ in range(2):
        time.sleep(0.05)
        delivery.run_once(db, down)
    assert _statuses(db, ids) == Counter({"failed": 1})
    assert delivery.problems(db, DEMO_ADMIN)[0]["attempts"] == 3
    # once the channel is back, an admin's retry delivers it, with the same key
    from cx_core.access import StaffUser
    from cx_core.models import Role

    delivery.retry_now(db, StaffUser("root", "Root", Role.admin), ids[0])
    up = load_settings(data_dir=settings.data_dir, database_url="", outbound_webhook_url=f"{sink.url}/hooks")
    assert delivery.run_once(db, up) == 1
    assert _statuses(db, ids) == Counter({"delivered": 1}) and len(sink.applied()) == 1
