"""Browser sessions: signed, expiring, revocable tokens with their record on the server; a new role applies at
once, deactivation, a new password and sign-out end them everywhere; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from cx_core import auth, sessions
from cx_core.access import StaffUser
from cx_core.config import load_settings
from cx_core.errors import ConfigError
from cx_core.models import Role
from cx_core.sessions import SessionKeys
from cx_core.store.db import Database, utcnow
from cx_core.store.tables import AuditRow, StaffSessionRow
from tests.helpers import fresh_pg_database

ADMIN = StaffUser("root", "Robin Admin", Role.admin)
ADA = StaffUser("ada", "Ada Advisor", Role.advisor)
SAM = StaffUser("sam", "Sam Supervisor", Role.supervisor)
KEYS = SessionKeys(secret=b"k" * 48, lifetime=timedelta(hours=12))
T0 = utcnow().replace(microsecond=0)  # now: an admin's change ends the sessions live at this moment


def _fresh(db: Database) -> Database:
    db.migrate()
    auth.ensure_demo_users(db)
    return db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = _fresh(Database(f"sqlite:///{tmp_path / 'tandem.db'}"))
    yield database
    database.dispose()


def events(db: Database, kind: str) -> list[dict[str, object]]:
    with db.session() as s:
        return [json.loads(r.data) | {"actor": r.actor}
                for r in s.scalars(select(AuditRow).where(AuditRow.kind == kind).order_by(AuditRow.seq))]


def test_a_session_resumes_as_the_account_until_it_expires(db: Database) -> None:
    token = sessions.start(db, ADA, "10.0.0.1", keys=KEYS, now=T0)
    assert sessions.resume(db, token, keys=KEYS, now=T0 + timedelta(hours=11, minutes=59)) == ADA
    assert sessions.resume(db, token, keys=KEYS, now=T0 + timedelta(hours=12)) is None
    assert events(db, "session.started")[-1].items() >= {"actor": "ada", "username": "ada",
                                                         "client": "10.0.0.1"}.items()


def test_only_a_hash_of_the_token_is_stored(db: Database) -> None:
    token = sessions.start(db, ADA, keys=KEYS, now=T0)
    raw = token.split(".")[0]
    with db.session() as s:
        row = s.scalars(select(StaffSessionRow)).one()
    assert row.token_hash != raw and raw not in row.token_hash and len(row.token_hash) == 64
    assert (row.username, row.created_at, row.expires_at) == ("ada", T0, T0 + timedelta(hours=12))


def test_forged_altered_or_foreign_tokens_are_refused(db: Database) -> None:
    token = sessions.start(db, ADA, keys=KEYS, now=T0)
    raw, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for bad in ["", "nonsense", f"{raw}.{flipped}", f"{raw}x.{signature}", f"{raw}.{signature}.x",
                f"{raw}.", f".{signature}", "é" * 10 + "." + signature, token + "0" * 300]:
        assert sessions.resume(db, bad, keys=KEYS, now=T0) is None, bad
    other = SessionKeys(secret=b"another-server-key-0123456789")
    assert sessions.resume(db, token, keys=other, now=T0) is None  # signed with another server's key
    assert other.cookie_name != KEYS.cookie_name
    # a correctly signed secret that was never issued (e.g. the session record was deleted) is refused too
    unknown = "never-issued-secret"
    assert sessions.resume(db, f"{unknown}.{KEYS.sign(unknown)}", keys=KEYS, now=T0) is None
    assert sessions.resume(db, token, keys=KEYS, now=T0) == ADA


def test_a_changed_role_applies_at_once_and_deactivation_ends_every_session(db: Database) -> None:
    first = sessions.start(db, ADA, keys=KEYS, now=T0)
    second = sessions.start(db, ADA, keys=KEYS, now=T0)
    auth.update_user(db, ADMIN, "ada", role=Role.supervisor)
    resumed = sessions.resume(db, first, keys=KEYS, now=T0)
    assert resumed is not None and resumed.role == Role.supervisor  # the same session, the new role
    auth.update_user(db, ADMIN, "ada", active=False)
    assert sessions.resume(db, first, keys=KEYS, now=T0) is None
    assert sessions.resume(db, second, keys=KEYS, now=T0) is None
    assert events(db, "session.ended")[-1].items() >= {"actor": "root", "username": "ada", "reason": "deactivated",
                                                       "sessions": 2}.items()
    auth.update_user(db, ADMIN, "ada", active=True)  # reactivating does not bring an ended session back
    assert sessions.resume(db, first, keys=KEYS, now=T0) is None


def test_an_inactive_account_is_refused_even_with_a_live_session_record(db: Database) -> None:
    token = sessions.start(db, ADA, keys=KEYS, now=T0)
    from cx_core.store.tables import StaffUserRow

    with db.tx() as s:  # deactivated behind the application's back: the account is still checked on every resume
        row = s.get(StaffUserRow, "ada")
        assert row is not None
        row.active = False
    assert sessions.resume(db, token, keys=KEYS, now=T0) is None


def test_sign_out_ends_every_session_of_that_account_only(db: Database) -> None:
    tabs = [sessions.start(db, ADA, keys=KEYS, now=T0) for _ in range(3)]
    sams = sessions.start(db, SAM, keys=KEYS, now=T0)
    assert sessions.end_all(db, "ada", now=T0 + timedelta(minutes=1)) == 3
    assert all(sessions.resume(db, t, keys=KEYS, now=T0 + timedelta(minutes=2)) is None for t in tabs)
    assert sessions.resume(db, sams, keys=KEYS, now=T0 + timedelta(minutes=2)) == SAM
    assert events(db, "session.ended")[-1].items() >= {"actor": "ada", "reason": "signed out", "sessions": 3}.items()
    assert sessions.end_all(db, "ada", now=T0 + timedelta(minutes=3)) == 0  # nothing left; no further event
    assert len(events(db, "session.ended")) == 1
    again = sessions.start(db, ADA, keys=KEYS, now=T0 + timedelta(minutes=4))  # signing in again works
    assert sessions.resume(db, again, keys=KEYS, now=T0 + timedelta(minutes=5)) == ADA


def test_a_new_password_ends_the_sessions(db: Database) -> None:
    by_admin = sessions.start(db, ADA, keys=KEYS, now=T0)
    auth.update_user(db, ADMIN, "ada", password="a-new-password")
    assert sessions.resume(db, by_admin, keys=KEYS, now=T0) is None
    from_cli = sessions.start(db, ADA, keys=KEYS, now=T0)
    auth.create_user(db, "ada", "Ada Advisor", Role.advisor, "yet-another-one", actor="cli")
    assert sessions.resume(db, from_cli, keys=KEYS, now=T0) is None
    assert [e["reason"] for e in events(db, "session.ended")] == ["new password", "new password"]


def test_last_seen_is_written_at_most_every_few_minutes(db: Database) -> None:
    token = sessions.start(db, ADA, keys=KEYS, now=T0)

    def last_seen() -> datetime:
        with db.session() as s:
            return s.scalars(select(StaffSessionRow.last_seen_at)).one()

    sessions.resume(db, token, keys=KEYS, now=T0 + timedelta(minutes=1))
    assert last_seen() == T0
    sessions.resume(db, token, keys=KEYS, now=T0 + timedelta(minutes=6))
    assert last_seen() == T0 + timedelta(minutes=6)


def test_long_expired_session_records_are_dropped(db: Database) -> None:
    sessions.start(db, ADA, keys=KEYS, now=T0)
    sessions.start(db, SAM, keys=KEYS, now=T0 + timedelta(days=40))
    with db.session() as s:
        assert s.scalars(select(StaffSessionRow.username)).all() == ["sam"]


def test_the_key_is_made_once_kept_private_and_shared_by_every_process(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", database_url="")
    made: list[SessionKeys] = []
    threads = [threading.Thread(target=lambda: made.append(SessionKeys.from_settings(settings))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({k.secret for k in made}) == 1 and len(made[0].secret) >= 32
    key_file = settings.data_dir / sessions.KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert sorted(p.name for p in settings.data_dir.iterdir()) == [sessions.KEY_FILE]  # no temporary files left
    assert SessionKeys.from_settings(settings).secret == made[0].secret  # the same key on the next start
    configured = load_settings(data_dir=tmp_path / "data", database_url="", session_secret="s" * 40,
                               session_hours=8)
    keys = SessionKeys.from_settings(configured)
    assert keys.secret == b"s" * 40 and keys.lifetime == timedelta(hours=8)
    assert "s" * 40 not in repr(configured)
    with pytest.raises(ConfigError, match="session_secret"):
        SessionKeys.from_settings(configured.model_copy(update={"session_secret": SecretStr("short")}))
    key_file.write_text("x\n")
    with pytest.raises(ConfigError, match="damaged"):
        SessionKeys.from_settings(settings)


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
def test_sessions_on_postgres(pg: Database) -> None:
    first = sessions.start(pg, SAM, "10.3.0.1", keys=KEYS, now=T0)
    second = sessions.start(pg, SAM, "10.3.0.2", keys=KEYS, now=T0)
    assert sessions.resume(pg, first, keys=KEYS, now=T0 + timedelta(minutes=10)) == SAM
    assert sessions.resume(pg, first + "x", keys=KEYS, now=T0) is None
    assert sessions.resume(pg, first, keys=KEYS, now=T0 + timedelta(hours=13)) is None
    auth.update_user(pg, ADMIN, "sam", role=Role.advisor)
    demoted = sessions.resume(pg, second, keys=KEYS, now=T0)
    assert demoted is not None and demoted.role == Role.advisor
    assert sessions.end_all(pg, "sam", now=T0 + timedelta(minutes=20)) == 2
    assert sessions.resume(pg, second, keys=KEYS, now=T0 + timedelta(minutes=21)) is None
    third = sessions.start(pg, SAM, keys=KEYS, now=T0 + timedelta(minutes=30))
    auth.update_user(pg, ADMIN, "sam", active=False)
    assert sessions.resume(pg, third, keys=KEYS, now=T0 + timedelta(minutes=31)) is None
