"""Each delivery is owned by one dispatcher until it is done: two dispatchers whose lease is shorter than a batch send
every message once (on SQLite and on PostgreSQL, against real processes and a real receiving server), a dispatcher
never sends a message another one has taken over, and a slow send keeps its lease. E-mail records the hand-over
right before ``DATA``: a dispatcher killed anywhere loses nothing, and the only mail sent twice is one the server may
already have taken — sent again with the same Message-ID, counted in ``resent_in_doubt`` and audited."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.utils import make_msgid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select, update

from cx_core import conversations, delivery, outbox
from cx_core.channels.base import DeliveryFailed, Outgoing
from cx_core.config import Settings, load_settings
from cx_core.conversations import Inbound
from cx_core.store.db import Database, utcnow
from cx_core.store.tables import AuditRow, NotificationRow, TicketRow
from domains.lumen import tables as lumen_tables
from tests.fork_server import Forked, ForkServer
from tests.helpers import fresh_pg_database
from tests.servers.sink import running_sink
from tests.servers.smtp_sink import SmtpSink, running_smtp_sink

pytestmark = pytest.mark.crash

MAIL_FROM = "Lumen Care <support@tandem.test>"


# ------------------------------------------------------------------ a store, replies in its outbox, dispatchers
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    """An empty Tandem store, on SQLite or on a throw-away PostgreSQL database."""
    data = tmp_path / "data"
    data.mkdir()
    if request.param == "sqlite":
        yield from _opened(load_settings(data_dir=data, database_url=""))
    else:
        with fresh_pg_database("tandem_dispatch") as url:
            yield from _opened(load_settings(data_dir=data, database_url=url))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    data = tmp_path / "data"
    data.mkdir()
    yield from _opened(load_settings(data_dir=data, database_url=""))


def _opened(settings: Settings) -> Iterator[tuple[Settings, Database]]:
    db = Database(settings.db_url)
    db.migrate()
    lumen_tables.METADATA.create_all(db.engine)  # an e-mail's sender is looked up among the domain's customers
    yield settings, db
    db.dispose()


def _replies(db: Database, n: int, source: str = "api") -> dict[int, str]:
    """``n`` tickets from ``source``, each with a reply committed to the outbox as a decision writes it; the outbox
    ids with each reply's key (for e-mail, its Message-ID)."""
    out: dict[int, str] = {}
    for i in range(n):
        if source == "email":
            msg = Inbound(source="email", external_id=make_msgid(domain="customer.test"), subject=f"Order {i}",
                          customer=f"customer-{i}@customer.test", body=f"Where is order {i}?")
        else:
            msg = Inbound(source="api", ticket_id=f"O-{i}", body=f"Question number {i}?")
        got = conversations.receive(db, msg)
        with db.tx() as s:
            row = s.get(TicketRow, got.ticket_id)
            assert row is not None
            sent = outbox.reply(s, row, msg.customer or "someone@example.net", f"Re: order {i}", f"Answer {i}.",
                                "agent", "lumenhome.example")
            n_row = s.get(NotificationRow, sent["notification_id"])
            assert n_row is not None
            out[n_row.id] = n_row.headers.get("message_id") if source == "email" else n_row.idempotency_key
    return out


def _rows(db: Database, ids: Any) -> dict[int, NotificationRow]:
    with db.session() as s:
        rows = list(s.scalars(select(NotificationRow).where(NotificationRow.id.in_(list(ids)))))
        for r in rows:
            s.expunge(r)
        return {r.id: r for r in rows}


def _statuses(db: Database, ids: Any) -> Counter[str]:
    return Counter(r.status for r in _rows(db, ids).values())


def _all_delivered(db: Database, ids: Any) -> bool:
    return _statuses(db, ids) == Counter({"delivered": len(ids)})


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {**os.environ, "TANDEM_DATA_DIR": str(settings.data_dir), "TANDEM_DATABASE_URL": settings.database_url,
            "TANDEM_DELIVERY_LEASE_SECONDS": "1", "TANDEM_DELIVERY_POLL": "0.1",
            "TANDEM_DELIVERY_RETRY_SECONDS": "0.2", "TANDEM_IMAP_HOST": "", "TANDEM_SMTP_HOST": "",
            "TANDEM_OUTBOUND_WEBHOOK_URL": "", "TANDEM_FAILPOINT": "", **extra}


def _smtp_env(settings: Settings, sink: SmtpSink, **extra: str) -> dict[str, str]:
    return _env(settings, TANDEM_SMTP_HOST=sink.host, TANDEM_SMTP_PORT=str(sink.port), TANDEM_SMTP_SECURITY="none",
                TANDEM_MAIL_FROM=MAIL_FROM, **extra)


@pytest.fixture(scope="module")
def forks() -> Iterator[ForkServer]:
    server = ForkServer()
    yield server
    server.close()


def _start(forks: ForkServer, env: dict[str, str], log: Path, *args: str) -> Forked:
    """A real ``python -m cx_core dispatch`` process, its log in ``log`` (a fork of a process that imported Tandem
    once, so that it starts delivering at once; ``tests/fork_server.py``)."""
    return forks.start(["dispatch", *args], env, log)


def _until(check: Callable[[], Any], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


def _stop(*procs: Forked) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def _in_doubt_events(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(AuditRow)
                            .where(AuditRow.kind == "message.resent_in_doubt")) or 0)


# ------------------------------------------------------------------ two dispatchers, a lease shorter than a batch
def test_two_dispatchers_with_a_lease_shorter_than_a_batch_send_each_message_once(
        store: tuple[Settings, Database], tmp_path: Path, forks: ForkServer) -> None:
    settings, db = store
    keys = _replies(db, 24)
    with running_sink(tmp_path) as sink:
        sink.delay = 0.25  # a batch of 20 takes 5 s; the lease is 1 s
        env = _env(settings, TANDEM_OUTBOUND_WEBHOOK_URL=f"{sink.url}/hooks/tandem")
        procs = [_start(forks, env, tmp_path / f"dispatch-{i}.log") for i in range(2)]
        try:
            _until(lambda: _all_delivered(db, keys), 60, f"every reply delivered ({_statuses(db, keys)})")
        finally:
            _stop(*procs)
        received = Counter(r["key"] for r in sink.requests())
    twice = {k: n for k, n in received.items() if n > 1}
    print(f"\n{settings.db_url.split(':')[0]}: {len(keys)} replies, {sum(received.values())} requests received, "
          f"{sum(n - 1 for n in twice.values())} double sends")
    assert set(received) == set(keys.values())  # none lost
    assert twice == {}  # none sent twice
    owners = {(r.claim or "").rsplit(":", 1)[0] for r in _rows(db, keys).values()}
    assert len(owners) == 2  # both dispatchers delivered some of them


# ------------------------------------------------------------------ ownership, in one process
class _Counting:
    """A channel that counts what it is given; ``during`` runs in the middle of each send."""

    name = "api"

    def __init__(self, during: Callable[[Outgoing], None] | None = None, hands_over: bool = False,
                 fail: Exception | None = None) -> None:
        self.sent: list[str] = []
        self.during = during
        self.hands_over = hands_over
        self.fail = fail

    def deliver(self, item: Outgoing) -> str:
        if self.hands_over:
            item.handing_over()
        if self.during is not None:
            self.during(item)
        if self.fail is not None:
            raise self.fail
        self.sent.append(item.key)
        return f"r-{item.id}"


def _expire(db: Database, nid: int) -> None:
    """The owner's lease runs out (as when it froze or its renewals stopped reaching the database)."""
    with db.tx() as s:
        s.execute(update(NotificationRow).where(NotificationRow.id == nid)
                  .values(lease_until=utcnow() - timedelta(seconds=1)))


def test_a_message_taken_over_is_never_sent_by_its_first_owner(sqlite_store: tuple[Settings, Database]) -> None:
    settings, db = sqlite_store
    [(nid, key)] = _replies(db, 1).items()
    channel = _Counting()
    [first] = delivery.claim(db, 10, 60)
    _expire(db, nid)
    [second] = delivery.claim(db, 10, 60)
    assert first.token and second.token and first.token != second.token
    assert delivery.deliver(db, settings, first, {"api": channel}) == "skipped"
    assert channel.sent == []
    assert delivery.deliver(db, settings, second, {"api": channel}) == "delivered"
    assert channel.sent == [key]


def test_a_message_delivered_after_it_was_taken_over_stays_delivered_and_is_not_sent_again(
        sqlite_store: tuple[Settings, Database]) -> None:
    settings, db = sqlite_store
    [(nid, key)] = _replies(db, 1).items()
    taken: list[Outgoing] = []

    def taken_over(item: Outgoing) -> None:
        _expire(db, item.id)
        taken.extend(delivery.claim(db, 10, 60))

    slow = _Counting(during=taken_over)
    [first] = delivery.claim(db, 10, 60)
    assert delivery.deliver(db, settings, first, {"api": slow}) == "delivered"
    assert len(taken) == 1 and taken[0].token != first.token
    other = _Counting()
    assert delivery.deliver(db, settings, taken[0], {"api": other}) == "skipped"
    assert slow.sent == [key] and other.sent == []
    assert _rows(db, [nid])[nid].status == "delivered"


def test_a_slow_send_keeps_its_lease(sqlite_store: tuple[Settings, Database]) -> None:
    settings, db = sqlite_store
    ids = _replies(db, 1)
    short = settings.model_copy(update={"delivery_lease_seconds": 0.3})
    seen: list[list[Outgoing]] = []

    def slow(item: Outgoing) -> None:
        time.sleep(1.0)  # three leases long
        seen.append(delivery.claim(db, 10, 60))

    channel = _Counting(during=slow)
    [item] = delivery.claim(db, 10, 0.3)
    assert delivery.deliver(db, short, item, {"api": channel}) == "delivered"
    assert seen == [[]]  # nobody could take it while it was being sent
    assert _all_delivered(db, ids) and len(channel.sent) == 1


@pytest.mark.parametrize("answered", [True, False])
def test_a_failure_after_the_hand_over_leaves_the_next_try_in_doubt_only_without_an_answer(
        sqlite_store: tuple[Settings, Database], answered: bool) -> None:
    settings, db = sqlite_store
    [(nid, _)] = _replies(db, 1).items()
    settings = settings.model_copy(update={"delivery_retry_seconds": 0.01})
    failing = _Counting(hands_over=True, fail=DeliveryFailed("the service went away", in_doubt=not answered))
    [item] = delivery.claim(db, 10, 60)
    assert delivery.deliver(db, settings, item, {"api": failing}) == "retrying"
    assert (_rows(db, [nid])[nid].handed_over_at is None) is answered
    time.sleep(0.05)
    [again] = delivery.claim(db, 10, 60)
    assert delivery.deliver(db, settings, again, {"api": _Counting(hands_over=True)}) == "delivered"
    row = _rows(db, [nid])[nid]
    assert row.resent_in_doubt == (0 if answered else 1) and row.handed_over_at is None
    assert _in_doubt_events(db) == row.resent_in_doubt


class _Remote:
    """A team's system behind an action: counts the calls it gets."""

    def __init__(self, idempotent: bool) -> None:
        self.idempotent = idempotent
        self.keys: list[str | None] = []

    def call(self, args: dict[str, Any], key: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        self.keys.append(key)
        return {"refund_id": "r-1"}, {"method": "POST", "host": "orders.test", "path": "/refunds", "status": 201}


@pytest.mark.parametrize("idempotent", [True, False])
def test_a_call_that_went_out_unanswered_is_made_again_only_with_a_key(
        sqlite_store: tuple[Settings, Database], monkeypatch: pytest.MonkeyPatch, idempotent: bool) -> None:
    from cx_core.actions.base import REGISTRY
    from cx_core.http_actions.dispatch import ActionCaller

    settings, db = sqlite_store
    remote = _Remote(idempotent)
    monkeypatch.setitem(REGISTRY, "refund_test", SimpleNamespace(remote=remote))  # type: ignore[arg-type]
    with db.tx() as s:
        nid = outbox.send(s, "orders", "action", "action_call", "Refund", json.dumps(
            {"action": "refund_test", "args": {"order_id": "O-1", "amount": 20}}), None, destination="action",
            key="refund-key-1")
    [item] = delivery.claim(db, 10, 60)
    with db.tx() as s:  # the dispatcher handed the call over, then died before the answer came back
        s.execute(update(NotificationRow).where(NotificationRow.id == nid).values(handed_over_at=utcnow()))
    _expire(db, nid)
    [again] = delivery.claim(db, 10, 60)
    assert again.in_doubt and again.token != item.token
    outcome = delivery.deliver(db, settings, again, {"action": ActionCaller()})
    row = _rows(db, [nid])[nid]
    if idempotent:  # the service recognises the key: sent again, counted
        assert outcome == "delivered" and remote.keys == ["refund-key-1"] and row.resent_in_doubt == 1
    else:  # a second refund is never risked: a person checks the system and decides
        assert outcome == "failed" and remote.keys == [] and row.resent_in_doubt == 0
        assert "it may have been done; check the system before trying again" in (row.last_error or "")
        assert row.handed_over_at is not None


# ------------------------------------------------------------------ e-mail: killed at each step, then at random
@pytest.mark.email
@pytest.mark.parametrize(("failpoint", "taken", "in_doubt"), [
    ("delivery.claimed", 1, 0),  # nothing recorded, nothing sent: sent normally
    ("delivery.handed_over", 1, 1),  # handed over, but DATA never began: sent again in doubt, taken once
    ("email.accepted", 2, 1),  # the server took it, the dispatcher died before recording it: the one duplicate
])
def test_an_email_dispatcher_killed_at_each_step(sqlite_store: tuple[Settings, Database], tmp_path: Path,
                                                 forks: ForkServer, failpoint: str, taken: int, in_doubt: int) -> None:
    settings, db = sqlite_store
    [(nid, message_id)] = _replies(db, 1, source="email").items()
    with running_smtp_sink() as sink:
        dead = _start(forks, _smtp_env(settings, sink, TANDEM_FAILPOINT=failpoint), tmp_path / "dead.log", "--once")
        assert dead.wait(timeout=60) == -signal.SIGKILL
        assert _rows(db, [nid])[nid].status == "sending"

        def restarted() -> bool:
            time.sleep(0.5)  # past the dead dispatcher's one-second lease
            again = _start(forks, _smtp_env(settings, sink), tmp_path / "again.log", "--once")
            assert again.wait(timeout=60) == 0
            return _all_delivered(db, [nid])

        _until(restarted, 30, "the reply delivered by a restarted dispatcher")
        assert sink.taken() == [message_id] * taken  # the same Message-ID each time
    row = _rows(db, [nid])[nid]
    assert row.resent_in_doubt == in_doubt and _in_doubt_events(db) == in_doubt and row.handed_over_at is None


@pytest.mark.email
def test_an_email_dispatcher_killed_ten_times_loses_nothing_and_resends_only_what_the_server_may_have(
        sqlite_store: tuple[Settings, Database], tmp_path: Path, forks: ForkServer) -> None:
    settings, db = sqlite_store
    replies = _replies(db, 60, source="email")
    rng = random.Random(2025)
    kills, left_at_kill = 0, []
    # the server answers each RCPT TO after 50 ms (nothing handed over yet) and DATA 50 ms after it took the message
    with running_smtp_sink(delay=0.05, rcpt_delay=0.05) as sink:
        env = _smtp_env(settings, sink)
        log = tmp_path / "dispatch.log"
        while kills < 10:
            before = len(sink.taken())
            proc = _start(forks, env, log)
            _until(lambda p=proc, n=before: p.poll() is not None or len(sink.taken()) > n, 30,
                   "the dispatcher delivering")
            time.sleep(rng.uniform(0.0, 0.4))  # a random moment of its delivering
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
            kills += 1
            left_at_kill.append(len(replies) - _statuses(db, replies)["delivered"])
        sink.delay = sink.rcpt_delay = 0.0  # the rest goes out at full speed
        last = _start(forks, env, log)
        try:
            _until(lambda: _all_delivered(db, replies), 60, f"every reply delivered ({_statuses(db, replies)})")
        finally:
            _stop(last)
        received = sink.counts()
    rows = _rows(db, replies)
    duplicates = {nid: received[mid] - 1 for nid, mid in replies.items() if received[mid] > 1}
    resent = sum(r.resent_in_doubt for r in rows.values())
    print(f"\n{kills} kills (messages left at each: {left_at_kill}); {len(replies)} replies, "
          f"{sum(received.values())} mails taken by the server, lost 0, duplicates {sum(duplicates.values())} "
          f"(of {len(duplicates)} replies), resent in doubt {resent} (of "
          f"{sum(1 for r in rows.values() if r.resent_in_doubt)} replies)")
    assert kills == 10 and left_at_kill[-1] > 0  # every kill came while there was mail to send
    assert set(received) == set(replies.values())  # nothing lost, nothing that is not a reply
    for nid, row in rows.items():  # a mail is taken again only after a hand-over whose outcome was unknown
        assert received[replies[nid]] <= 1 + row.resent_in_doubt, (nid, received[replies[nid]], row.resent_in_doubt)
        assert row.handed_over_at is None
    assert sum(duplicates.values()) <= resent == _in_doubt_events(db)
