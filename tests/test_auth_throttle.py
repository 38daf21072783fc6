"""Sign-in throttling (per client address, per account at an address, per account from new addresses; locks, admin
unlock, audit), the stored account re-read on every call that changes something, so a stale session of a
deactivated or demoted person does nothing, and the role checked by every read a page guards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cx_core import (
    action_admin,
    audit,
    auth,
    autonomy,
    channel_status,
    delivery,
    desk,
    insights,
    kb_docs,
    replay,
    review,
)
from cx_core.access import StaffUser
from cx_core.auth import LOCKED, Throttle, authenticate
from cx_core.config import PROJECT_ROOT, Settings
from cx_core.errors import InvalidInput, NotAuthorised
from cx_core.models import Role, TicketIn
from cx_core.services import Services
from cx_core.store.db import Database
from cx_core.store.tables import AuditRow
from tests.conftest import NOW, copy_world
from tests.helpers import find_order, fresh_pg_database, plain

ADMIN = StaffUser("root", "Robin Admin", Role.admin)
SUPERVISOR = StaffUser("sam", "Sam Supervisor", Role.supervisor)
ADVISOR = StaffUser("ada", "Ada Advisor", Role.advisor)
T0 = datetime(2026, 11, 18, 9, 0)
REAL_HASHER = auth._hasher  # the product's parameters: attempts at the same moment overlap as long as they do live


@pytest.fixture(autouse=True)
def _quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with its lightest parameters for these tests, which sign in hundreds of times: the throttle, locks and
    roles are what they check, and a hash names its own parameters, so the world's stored ones still verify (attempts
    made at the same moment keep the real cost, so they overlap as long as they would)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def _fresh(db: Database) -> Database:
    db.migrate()
    auth.ensure_demo_users(db)
    return db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = _fresh(Database(f"sqlite:///{tmp_path / 'tandem.db'}"))
    yield database
    database.dispose()


def attempt(db: Database, name: str, password: str, client: str = "10.0.0.1", at: datetime = T0,
            limits: Throttle | None = None) -> str:
    """'ok', 'wrong' or the refusal line."""
    try:
        user = authenticate(db, name, password, client, limits=limits, now=at)
    except NotAuthorised as exc:
        return str(exc)
    return "ok" if user is not None else "wrong"


def events(db: Database, kind: str) -> list[dict[str, object]]:
    with db.session() as s:
        return [json.loads(r.data) | {"actor": r.actor}
                for r in s.scalars(select(AuditRow).where(AuditRow.kind == kind).order_by(AuditRow.seq))]


WAIT = "Too many failed sign-ins; wait"


# ---------------------------------------------------------------- throttling
def test_twenty_wrong_passwords_lock_the_account_there_until_an_admin_unlocks_it(db: Database) -> None:
    outcomes = [attempt(db, "ada", f"guess-{i}") for i in range(20)]
    assert outcomes[:5] == ["wrong"] * 5  # then every attempt waits, and attempts made while waiting count
    assert all(o.startswith(WAIT) for o in outcomes[5:19])
    assert outcomes[19] == LOCKED
    assert attempt(db, "ada", "advisor-demo") == LOCKED  # the right password is refused while locked
    assert attempt(db, "ada", "advisor-demo", at=T0 + timedelta(days=3)) == LOCKED  # there, days later
    locks = auth.sign_in_locks(db, ADMIN)
    assert [(r["username"], r["known"], r["locked"], r["client"], r["scope"]) for r in locks] == [
        ("ada", True, True, "10.0.0.1", "pair")]
    assert [(e["username"], e["scope"]) for e in events(db, "signin.locked")] == [("ada", "pair")]
    refused = events(db, "signin.refused")
    assert {e["reason"] for e in refused} == {"waiting", "locked"} and len(refused) <= 4  # bursts, not every try

    with pytest.raises(NotAuthorised, match="admin role"):
        auth.unlock(db, StaffUser("sam", "Sam", Role.supervisor), "ada")
    auth.unlock(db, ADMIN, "ada")
    assert events(db, "signin.unlocked")[-1].items() >= {"actor": "root", "username": "ada", "was_locked": True}.items()
    assert auth.sign_in_locks(db, ADMIN) == []
    assert attempt(db, "ada", "advisor-demo") == "ok"  # from the address that was locked out, at once
    with pytest.raises(InvalidInput, match="nothing to unlock"):
        auth.unlock(db, ADMIN, "ada")


def test_a_lock_holds_the_account_at_that_address_only(db: Database) -> None:
    for i in range(20):
        attempt(db, "ada", f"guess-{i}", "10.0.0.9")
    assert attempt(db, "ada", "advisor-demo", "10.0.0.9") == LOCKED
    assert attempt(db, "ada", "advisor-demo", "10.9.9.9") == "ok"  # the person, wherever else they are


def test_waits_grow_and_a_successful_sign_in_resets_the_count(db: Database) -> None:
    at = T0
    for _ in range(5):
        assert attempt(db, "sam", "nope-nope", at=at) == "wrong"
    assert attempt(db, "sam", "supervisor-demo", at=at) == "Too many failed sign-ins; wait 2 s and try again."
    at += timedelta(seconds=3)
    assert attempt(db, "sam", "nope-nope", at=at) == "wrong"  # the 7th failure (the refused one counted too)
    assert attempt(db, "sam", "nope-nope", at=at + timedelta(seconds=1)) == (
        "Too many failed sign-ins; wait 7 s and try again.")
    at += timedelta(seconds=9)
    assert attempt(db, "sam", "supervisor-demo", at=at) == "ok"
    elsewhere = "10.0.0.2"  # this address has nine failures of its own now; the account's count is what is reset
    assert attempt(db, "sam", "nope-nope", elsewhere, at) == "wrong"
    assert attempt(db, "sam", "supervisor-demo", elsewhere, at) == "ok"


def test_the_wrong_password_that_reaches_the_limit_is_told_the_account_is_locked(db: Database) -> None:
    limits = Throttle(delay_after=50, lock_after=20, client_delay_after=50)  # no waits: every password is checked

    def one(password: str) -> str:
        try:
            return "ok" if authenticate(db, "ada", password, "10.0.0.3", limits=limits, now=T0) else "wrong"
        except NotAuthorised as exc:
            return str(exc)

    assert [one(f"guess-{i}") for i in range(20)] == ["wrong"] * 19 + [LOCKED]
    assert one("advisor-demo") == LOCKED


def test_failures_are_forgotten_after_a_quiet_window(db: Database) -> None:
    limits = Throttle(window=timedelta(hours=1))
    for i in range(8):
        try:
            authenticate(db, "ada", "wrong-one", "10.0.0.7", limits=limits, now=T0 + timedelta(seconds=i))
        except NotAuthorised:
            pass
    later = T0 + timedelta(hours=2)
    assert authenticate(db, "ada", "advisor-demo", "10.0.0.8", limits=limits, now=later) is not None


def test_unknown_names_are_throttled_and_locked_exactly_like_accounts(db: Database) -> None:
    known = [attempt(db, "root", "not-it-123", "10.0.0.1") for _ in range(21)]
    unknown = [attempt(db, "nobody", "not-it-123", "10.0.0.2") for _ in range(21)]
    assert known == unknown and known[-1] == LOCKED
    locks = {r["username"]: r for r in auth.sign_in_locks(db, ADMIN)}
    assert locks["nobody"]["known"] is False and locks["root"]["known"] is True


def test_one_client_trying_many_names_is_slowed_down_but_others_are_not(db: Database) -> None:
    assert [attempt(db, f"user{i}", "spray-123", "203.0.113.5") for i in range(10)] == ["wrong"] * 10
    assert attempt(db, "ada", "advisor-demo", "203.0.113.5").startswith(WAIT)
    assert attempt(db, "ada", "advisor-demo", "198.51.100.7") == "ok"  # the account itself is not held back
    assert attempt(db, "ada", "advisor-demo", "203.0.113.5", T0 + timedelta(seconds=3)) == "ok"
    assert events(db, "signin.refused")[0].items() >= {"client": "203.0.113.5", "reason": "waiting",
                                                       "scope": "client"}.items()


def test_a_client_trying_many_names_is_locked_for_an_hour_whatever_name_it_tries(db: Database) -> None:
    sprayer, at = "203.0.113.9", T0
    outcomes = []
    for i in range(60):  # one wrong password per name, each after the wait it was told
        outcomes.append(attempt(db, f"user{i}", "spray-123", sprayer, at))
        at += timedelta(seconds=1)
    assert outcomes[:10] == ["wrong"] * 10 and all(o.startswith(WAIT) or o == "wrong" for o in outcomes)
    assert outcomes[-1] == "Too many failed sign-ins; wait 60 min and try again."  # locked: 50 failures
    locked = [e for e in events(db, "signin.locked") if e["scope"] == "client"]
    assert len(locked) == 1 and locked[0]["client"] == sprayer
    assert attempt(db, "ada", "advisor-demo", sprayer, at).startswith(WAIT)  # every name, the right password too
    assert attempt(db, "ada", "advisor-demo", "198.51.100.7", at) == "ok"
    [row] = [r for r in auth.sign_in_locks(db, ADMIN, now=at) if r["scope"] == "client"]
    assert (row["username"], row["client"], row["locked"]) == ("", sprayer, True)
    later = at + timedelta(minutes=61)  # the address's lock ends by itself
    assert attempt(db, "ada", "advisor-demo", sprayer, later) == "ok"
    assert not [r for r in auth.sign_in_locks(db, ADMIN, now=later) if r["scope"] == "client"]


# ---------------------------------------------------------------- a stranger cannot lock anyone out
def test_a_stranger_cannot_lock_the_admin_out(db: Database) -> None:
    assert attempt(db, "root", "admin-demo", "10.0.0.1", T0 - timedelta(days=1)) == "ok"  # root's usual address
    stranger = "10.0.0.66"
    outcomes = [attempt(db, "root", f"guess-{i}", stranger, T0 + timedelta(seconds=i)) for i in range(100)]
    assert outcomes[:5] == ["wrong"] * 5 and outcomes[5].startswith(WAIT)  # slowed down…
    assert LOCKED in outcomes and outcomes[-1] == "Too many failed sign-ins; wait 60 min and try again."  # …locked
    after = T0 + timedelta(seconds=100)
    assert attempt(db, "root", "admin-demo", stranger, after) != "ok"  # not even the right password from there
    assert attempt(db, "ada", "advisor-demo", stranger, after).startswith(WAIT)  # nor any other name
    assert attempt(db, "root", "admin-demo", "10.0.0.1", after) == "ok"  # where root signs in: at once
    assert attempt(db, "root", "admin-demo", "192.0.2.10", after) == "ok"  # and from a new address, first try
    assert {(e["scope"], e["client"]) for e in events(db, "signin.locked")} == {("pair", stranger),
                                                                               ("client", stranger)}
    locks = {(r["scope"], r["client"]): r for r in auth.sign_in_locks(db, ADMIN, now=after)}
    assert set(locks) == {("pair", stranger), ("client", stranger)} and locks["pair", stranger]["familiar"] is False
    # an hour later the address may try other names again, but root stays locked there until an admin unlocks it
    later = after + timedelta(minutes=61)
    assert attempt(db, "ada", "advisor-demo", stranger, later) == "ok"
    assert attempt(db, "root", "admin-demo", stranger, later) == LOCKED


def test_guessing_spread_over_many_addresses_slows_new_addresses_and_never_locks(db: Database) -> None:
    limits = Throttle(account_delay_after=6)
    assert attempt(db, "sam", "supervisor-demo", "10.0.0.1", T0 - timedelta(days=1), limits) == "ok"  # familiar
    at = T0
    for i in range(6):  # six addresses, one wrong password each
        assert attempt(db, "sam", "wrong-pass", f"198.51.100.{i}", at, limits) == "wrong"
    assert attempt(db, "sam", "supervisor-demo", "198.51.100.50", at, limits).startswith(WAIT)  # a new address waits
    assert attempt(db, "sam", "supervisor-demo", "10.0.0.1", at, limits) == "ok"  # the familiar one does not
    for i in range(6, 40):  # more addresses, each after the account's wait
        at += limits.max_delay
        attempt(db, "sam", "wrong-pass", f"198.51.100.{i}", at, limits)
    at += limits.max_delay
    assert attempt(db, "sam", "supervisor-demo", "198.51.100.99", at, limits) == "ok"  # waited as told: in
    assert not events(db, "signin.locked")
    assert attempt(db, "sam", "supervisor-demo", "10.0.0.1", at, limits) == "ok"  # never refused where familiar


def test_one_try_from_each_of_many_addresses_never_locks_a_never_used_admin_out(db: Database) -> None:
    """A break-glass admin that never signed in has no familiar address: one wrong password from each of 175
    addresses makes new addresses wait, and the admin signs in once the wait is over, from anywhere."""
    auth.create_user(db, "breakglass", "Break glass", Role.admin, "glass-Pass-2026")
    at, refused = T0, 0
    for i in range(175):
        out = attempt(db, "breakglass", f"guess-{i}", f"203.0.113.{i}", at + timedelta(seconds=i))
        refused += out.startswith(WAIT)
    assert refused > 100  # most of the spray was refused without a password check
    last = at + timedelta(seconds=175)
    assert not events(db, "signin.locked") and not any(r["locked"] for r in auth.sign_in_locks(db, ADMIN, now=last))
    held = [r for r in auth.sign_in_locks(db, ADMIN, now=last) if r["scope"] == "account"]
    assert held and held[0]["waiting_until"] <= last + Throttle().max_delay
    assert attempt(db, "breakglass", "glass-Pass-2026", "192.0.2.200", held[0]["waiting_until"]) == "ok"


def test_behind_a_proxy_without_the_header_a_spray_never_locks_anyone_out(db: Database) -> None:
    """Every attempt comes from the proxy's address when no header names the client: 80 sprayed sign-ins at the
    admin only make the admin's next attempt wait a little; nothing is locked, and other people behind the same
    proxy are not held back at all."""
    limits = Throttle(trust_addresses=False)
    proxy = "127.0.0.1"
    assert attempt(db, "root", "admin-demo", proxy, T0 - timedelta(days=1), limits) == "ok"
    outcomes = [attempt(db, "root", f"guess-{i}", proxy, T0, limits) for i in range(80)]
    assert outcomes.count("wrong") == limits.delay_after and outcomes[-1].startswith(WAIT)
    assert not events(db, "signin.locked")
    assert attempt(db, "ada", "advisor-demo", proxy, T0, limits) == "ok"  # another person behind the proxy
    for i in range(8):  # the stranger keeps going, each time as soon as the wait allows
        at = T0 + timedelta(seconds=2 ** (i + 2))
        attempt(db, "root", f"more-{i}", proxy, at, limits)
    wait = max(r["waiting_until"] for r in auth.sign_in_locks(db, ADMIN, now=at) if r["username"] == "root")
    assert wait - at <= limits.max_delay and not events(db, "signin.locked")
    assert attempt(db, "root", "admin-demo", proxy, wait, limits) == "ok"
    assert not any(r["locked"] for r in auth.sign_in_locks(db, ADMIN, now=wait))


def test_without_the_header_the_start_up_warns_and_throttling_trusts_no_address(tmp_path: Path) -> None:
    from cx_core.config import load_settings

    plain = load_settings(data_dir=tmp_path, database_url="")
    behind = load_settings(data_dir=tmp_path, database_url="", client_address_header="X-Forwarded-For")
    assert auth.address_warning(plain) == auth.ADDRESSES_UNTRUSTED and auth.address_warning(behind) is None
    assert not Throttle.from_settings(plain).trust_addresses and Throttle.from_settings(behind).trust_addresses


def test_one_address_alone_never_slows_the_account_down_elsewhere(db: Database) -> None:
    at = T0
    for i in range(200):  # a patient stranger who waits as told, until the address is locked for the account
        out = attempt(db, "ada", f"guess-{i}", "10.0.0.66", at)
        if out == LOCKED:
            break
        at += timedelta(minutes=16)
    assert out == LOCKED
    assert attempt(db, "ada", "advisor-demo", "192.0.2.77", at) == "ok"  # a new address, no wait


def test_unlock_clears_the_name_everywhere_and_the_waits_where_it_was_held_back(db: Database) -> None:
    for client in ("10.0.0.7", "10.0.0.8"):
        for i in range(20):
            attempt(db, "ada", f"guess-{i}", client)
    attempt(db, "user1", "spray-123", "10.0.0.9")
    assert [r["client"] for r in auth.sign_in_locks(db, ADMIN)] == ["10.0.0.7", "10.0.0.8"]
    done = auth.unlock(db, ADMIN, "ada")
    assert done["was_locked"] and done["failures"] == 40 and done["clients"] == ["10.0.0.7", "10.0.0.8"]
    assert auth.sign_in_locks(db, ADMIN) == []
    assert attempt(db, "ada", "advisor-demo", "10.0.0.7") == attempt(db, "ada", "advisor-demo", "10.0.0.8") == "ok"
    assert events(db, "signin.unlocked")[-1]["clients"] == ["10.0.0.7", "10.0.0.8"]


def _at_once(db: Database, username: str, net: str, n: int = 12, same_address: bool = False,
             limits: Throttle | None = None) -> list[str]:
    """``n`` wrong passwords for ``username`` at the same moment, from ``n`` addresses or one."""
    results: list[str] = []
    lock = threading.Lock()

    def go(i: int) -> None:
        out = attempt(db, username, f"guess-{i}", net if same_address else f"{net}.{i}", limits=limits)
        with lock:
            results.append(out)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(auth, "_hasher", REAL_HASHER)
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return results


def test_attempts_at_the_same_moment_cannot_slip_past_the_wait(db: Database) -> None:
    results = _at_once(db, "ada", "10.1.0.1", same_address=True)
    assert results.count("wrong") == 5 and len(results) == 12  # only five passwords were ever checked
    spread = _at_once(db, "sam", "10.1.1", limits=Throttle(account_delay_after=5))  # twelve new addresses
    assert spread.count("wrong") == 5 and len(spread) == 12


def test_cli_unlocks_an_account_in_one_line(db: Database, tmp_path: Path) -> None:
    for i in range(20):
        attempt(db, "ada", f"guess-{i}")
    env = {**os.environ, "TANDEM_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    env.pop("TANDEM_DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cx_core", "users", "unlock", *args], env=env,
                              capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300)

    done = run("ada")
    assert done.returncode == 0 and "ada can sign in again" in done.stdout, done.stderr
    assert events(db, "signin.unlocked")[-1]["actor"] == "cli"
    assert attempt(db, "ada", "advisor-demo") == "ok"
    again = run("ada")
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1 and "nothing to unlock" in again.stderr


# ---------------------------------------------------------------- the stored account on every change
def _pending_proposal(svc: Services) -> tuple[str, int]:
    o = find_order(svc, "pending")
    ticket = TicketIn(id="S-1", customer=o["email"], channel="email", subject="New address", created_at=NOW,
                      body=f"Please ship order {o['order_id']} to 12 Oak Street, Austin, TX 78701 instead.")
    desk.add_tickets(svc.db, [ticket], source="test")
    desk.store_result(svc.db, svc.policy(), svc.pipeline.process(ticket, now=NOW))
    pending = [p for p in desk.get_ticket(svc.db, "S-1")["proposals"] if p["status"] == "pending"]
    assert pending
    return "S-1", pending[0]["id"]


def test_a_deactivated_advisors_stale_session_changes_nothing(services: Services) -> None:
    db, policy = services.db, services.policy()
    ticket_id, proposal_id = _pending_proposal(services)
    auth.update_user(db, ADMIN, "ada", active=False)
    deactivated = "your account was deactivated; sign in again"
    with pytest.raises(NotAuthorised, match=deactivated):
        desk.approve(db, policy, ADVISOR, proposal_id)
    with pytest.raises(NotAuthorised, match=deactivated):
        desk.reject(db, ADVISOR, proposal_id, "not needed")
    with pytest.raises(NotAuthorised, match=deactivated):
        desk.send_reply(db, policy, ADVISOR, ticket_id, "Done, thank you.")
    with pytest.raises(NotAuthorised, match=deactivated):
        desk.assign(db, ADVISOR, ticket_id, "ada")
    data = desk.get_ticket(db, ticket_id)
    assert data["ticket"]["assigned_to"] is None and data["ticket"]["status"] != "resolved"
    assert next(p for p in data["proposals"] if p["id"] == proposal_id)["status"] == "pending"
    assert auth.refresh(db, ADVISOR) is None
    auth.update_user(db, ADMIN, "ada", active=True)
    assert desk.assign(db, ADVISOR, ticket_id, "ada") == "ada"


def test_role_checks_read_the_stored_account_never_the_object_handed_in(services: Services) -> None:
    """An advisor's account handed in as a supervisor (a forged or stale object) sees no supervisor's review items
    on a ticket and cannot act on a colleague's ticket; the stored supervisor can."""
    from cx_core.desk.inbox import check_not_taken

    db = services.db
    ticket_id, _ = _pending_proposal(services)
    forged = StaffUser("ada", "Ada Advisor", Role.supervisor)
    with db.tx() as s:
        from cx_core.store.tables import ReviewRow, TicketRow

        s.add(ReviewRow(ticket_id=ticket_id, execution_key="k-1", action="refund", args={}, risk=0.9,
                        why="sampled", status="open", created_at=NOW))
        row = s.get(TicketRow, ticket_id)
        assert row is not None
        row.assigned_to = "bo"
    assert review.for_ticket(db, forged, ticket_id) == {}
    assert set(review.for_ticket(db, SUPERVISOR, ticket_id)) == {"k-1"}
    with pytest.raises(InvalidInput, match="bo is working on this ticket"):
        check_not_taken(db, forged, ticket_id)
    check_not_taken(db, SUPERVISOR, ticket_id)


def test_a_demoted_supervisors_stale_session_cannot_do_supervisor_things(services: Services) -> None:
    db = services.db
    ticket_id, _ = _pending_proposal(services)
    auth.update_user(db, ADMIN, "sam", role=Role.advisor)
    now_advisor = "this needs the supervisor role; your role is now advisor"
    with pytest.raises(NotAuthorised, match=now_advisor):
        review.confirm(db, SUPERVISOR, 1)
    with pytest.raises(NotAuthorised, match=now_advisor):
        review.reverse(db, SUPERVISOR, 1, "wrong refund")
    with pytest.raises(NotAuthorised, match=now_advisor):
        kb_docs.upload(db, services.kb, SUPERVISOR, [("gift.md", b"# Gift wrap\n\n## Prices\nFour dollars.\n")])
    with pytest.raises(NotAuthorised, match="only a supervisor assigns"):  # acts with the role it has now
        desk.assign(db, SUPERVISOR, ticket_id, "ada")
    assert desk.assign(db, SUPERVISOR, ticket_id, "sam") == "sam"  # advisor things still work


def test_a_demoted_admins_stale_session_cannot_change_policy_or_users(services: Services) -> None:
    db = services.db
    auth.add_user(db, ADMIN, "robin2", "Robin Two", Role.admin, "second-admin-1")
    auth.update_user(db, StaffUser("robin2", "Robin Two", Role.admin), "root", role=Role.supervisor)
    policy = services.policy()
    with pytest.raises(NotAuthorised, match="this needs the admin role; your role is now supervisor"):
        autonomy.set_level(db, services.settings.writable_policy_file, policy, ADMIN, "order_status", 0, "test")
    with pytest.raises(NotAuthorised, match="your role is now supervisor"):
        auth.update_user(db, ADMIN, "ada", active=False)
    with pytest.raises(NotAuthorised, match="your role is now supervisor"):
        auth.unlock(db, ADMIN, "ada")


# ---------------------------------------------------------------- every read a page guards checks the role itself
GUARDED_READS: dict[str, tuple[Role, Any]] = {  # what the Review, Insights, Audit log, Autonomy, Users, Channels
    "review.counts": (Role.supervisor, lambda svc, u: review.counts(svc.db, u)),  # and Actions pages read
    "review.queue": (Role.supervisor, lambda svc, u: review.queue(svc.db, u)),
    "review.escalations": (Role.supervisor, lambda svc, u: review.escalations(svc.db, u)),
    "insights.ticket_facts": (Role.supervisor, lambda svc, u: insights.ticket_facts(svc.db, u, T0 - timedelta(days=9))),
    "audit.events": (Role.supervisor, lambda svc, u: audit.events(svc.db, u)),
    "audit.verify_for": (Role.supervisor, lambda svc, u: audit.verify_for(svc.db, u)),
    "audit.anchor_for": (Role.supervisor, lambda svc, u: audit.anchor_for(svc.db, u)),
    "autonomy.earned_autonomy": (Role.admin, lambda svc, u: autonomy.earned_autonomy(svc.db, u, svc.policy())),
    "autonomy.history": (Role.admin, lambda svc, u: autonomy.history(svc.db, u)),
    "replay.recent_tickets": (Role.admin, lambda svc, u: replay.recent_tickets(svc.db, u, limit=2)),
    "replay.compare_for": (Role.admin, lambda svc, u: replay.compare_for(svc.db, u, svc.settings, [], svc.policy(),
                                                                      svc.policy())),
    "auth.list_users": (Role.admin, lambda svc, u: auth.list_users(svc.db, u)),
    "auth.sign_in_locks": (Role.admin, lambda svc, u: auth.sign_in_locks(svc.db, u)),
    "channel_status.configured": (Role.admin, lambda svc, u: channel_status.configured(svc.db, u, svc.settings)),
    "channel_status.recent_webhooks": (Role.admin, lambda svc, u: channel_status.recent_webhooks(svc.db, u)),
    "channel_status.cursors": (Role.admin, lambda svc, u: channel_status.cursors(svc.db, u)),
    "delivery.summary": (Role.admin, lambda svc, u: delivery.summary(svc.db, u)),
    "delivery.problems": (Role.admin, lambda svc, u: delivery.problems(svc.db, u)),
    "action_admin.catalogue": (Role.admin, lambda svc, u: action_admin.catalogue(svc, u)),
    "action_admin.missing_secrets": (Role.admin, lambda svc, u: action_admin.missing_secrets(svc.db, u)),
    "action_admin.file_problems": (Role.admin, lambda svc, u: action_admin.file_problems(svc.db, u)),
    "action_admin.recent_calls": (Role.admin, lambda svc, u: action_admin.recent_calls(svc.db, u)),
    "action_admin.not_in_force": (Role.admin, lambda svc, u: action_admin.not_in_force(svc.db, u)),
}
BELOW = {Role.supervisor: Role.advisor, Role.admin: Role.supervisor}


@pytest.fixture(scope="module")
def staffed(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The demo world with, for each role, a person who has it, one demoted since and one deactivated since."""
    svc = Services(copy_world(world, tmp_path_factory.mktemp("roles") / "data"))
    auth.create_user(svc.db, "has-advisor", "has", Role.advisor, "password-123")
    for role in (Role.supervisor, Role.admin):
        for kind in ("has", "demoted", "gone"):
            auth.create_user(svc.db, f"{kind}-{role.value}", kind, role, "password-123")
        auth.update_user(svc.db, ADMIN, f"demoted-{role.value}", role=BELOW[role])
        auth.update_user(svc.db, ADMIN, f"gone-{role.value}", active=False)
    yield svc
    svc.close()


@pytest.mark.parametrize("read", sorted(GUARDED_READS))
def test_every_read_a_page_guards_checks_the_role_in_the_core(staffed: Services, read: str) -> None:
    role, call = GUARDED_READS[read]
    lower = BELOW[role]
    with pytest.raises(NotAuthorised, match=f"this needs the {role.value} role; you are signed in as {lower.value}"):
        call(staffed, StaffUser(f"has-{lower.value}", "has", lower))  # the role below is not enough…
    with pytest.raises(NotAuthorised, match=f"this needs the {role.value} role; your role is now {lower.value}"):
        call(staffed, StaffUser(f"demoted-{role.value}", "demoted", role))  # …nor one the account no longer has
    with pytest.raises(NotAuthorised, match="your account was deactivated"):
        call(staffed, StaffUser(f"gone-{role.value}", "gone", role))
    call(staffed, StaffUser(f"has-{role.value}", "has", role))
    if role == Role.supervisor:
        call(staffed, StaffUser("has-admin", "has", Role.admin))  # a higher role reads it too


# ---------------------------------------------------------------- the sign-in page and the admin's page
@pytest.fixture
def app_db(world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    settings = copy_world(world, tmp_path / "data")
    monkeypatch.setenv("TANDEM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TANDEM_CLIENT_ADDRESS_HEADER", "X-Forwarded-For")  # addresses told by a proxy: locks apply
    import streamlit as st

    st.cache_resource.clear()
    svc = Services(settings)
    yield svc
    svc.close()
    st.cache_resource.clear()


def test_sign_in_page_says_the_account_is_locked_and_the_admin_unlocks_it(app_db: Services) -> None:
    from streamlit.testing.v1 import AppTest

    app = str(PROJECT_ROOT / "app.py")
    for i in range(20):
        try:
            authenticate(app_db.db, "ada", f"guess-{i}", "localhost")
        except NotAuthorised:
            pass
    at = AppTest.from_file(app, default_timeout=60).run()
    at.text_input[0].input("ada")
    at.text_input[1].input("advisor-demo")
    at.button[0].click().run()
    assert not at.exception and "user" not in at.session_state
    assert [plain(e.value) for e in at.error] == [LOCKED]

    for i in range(60):  # and an address trying many names, locked for a while whatever the name
        try:
            authenticate(app_db.db, f"user{i}", "spray-123", "203.0.113.9")
        except NotAuthorised:
            pass
    admin = AppTest.from_file(app, default_timeout=60)
    admin.session_state["user"] = ADMIN
    admin.switch_page("pages/users.py").run()
    assert not admin.exception and not admin.error
    shown = admin.dataframe[-1].value
    assert list(zip(shown["Username"], shown["From"], strict=True)) == [("ada", "localhost"),
                                                                        ("any account", "203.0.113.9")]
    assert shown["State"][0] == "locked" and shown["State"][1].startswith("locked until")
    assert next(s for s in admin.selectbox if s.label == "Account to unlock").options == ["ada"]
    next(b for b in admin.button if b.label == "Unlock").click().run()
    assert not admin.exception
    assert any("ada can sign in again" in s.value for s in admin.success)
    assert authenticate(app_db.db, "ada", "advisor-demo", "localhost") is not None


# ---------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def pg() -> Iterator[Database]:
    with fresh_pg_database() as url:
        database = _fresh(Database(url))
        try:
            yield database
        finally:
            database.dispose()


@pytest.mark.postgres
def test_throttling_and_locks_on_postgres(pg: Database) -> None:
    results = _at_once(pg, "sam", "10.2.0.1", same_address=True)
    assert results.count("wrong") == 5 and len(results) == 12
    spread = _at_once(pg, "ada", "10.2.1", limits=Throttle(account_delay_after=5))
    assert spread.count("wrong") == 5 and len(spread) == 12
    while attempt(pg, "sam", "guess", "10.2.0.1") != LOCKED:
        pass
    assert attempt(pg, "sam", "supervisor-demo", "10.2.0.1") == LOCKED
    assert attempt(pg, "sam", "supervisor-demo", "10.2.0.2") == "ok"  # locked there only
    assert [(r["username"], r["client"]) for r in auth.sign_in_locks(pg, ADMIN) if r["locked"]] == [
        ("sam", "10.2.0.1")]
    auth.unlock(pg, ADMIN, "sam")
    assert attempt(pg, "sam", "supervisor-demo", "10.2.0.1") == "ok"
    for i in range(100):  # a stranger on root
        attempt(pg, "root", f"guess-{i}", "10.2.9.66", T0 + timedelta(seconds=i))
    assert attempt(pg, "root", "admin-demo", "10.2.9.66", T0 + timedelta(seconds=100)) != "ok"
    assert attempt(pg, "root", "admin-demo", "10.2.0.1", T0 + timedelta(seconds=100)) == "ok"
