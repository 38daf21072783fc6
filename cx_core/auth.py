"""Staff accounts: argon2-hashed passwords and roles, and sign-in throttling.

Failed sign-ins are counted per account name (known or not, so a name cannot be probed) and per client address.
After ``delay_after`` failures each further attempt of that account waits 2 s, 4 s, 8 s… (at most ``max_delay``);
attempts made while waiting are refused without checking the password and still count. ``lock_after`` failures
within the window lock the account until an admin unlocks it (Users and roles, or ``python -m cx_core users
unlock NAME``); while locked even the right password is refused with the same line. A client address gets the
same growing wait after ``client_delay_after`` failures, whatever names it tries. A successful sign-in resets
the account's count. Every lock, every burst of refused attempts and every unlock is an audit event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from . import audit, sessions
from .config import Settings
from .errors import InvalidInput, NotAuthorised, NotFound
from .models import Role
from .store.db import Database, utcnow
from .store.tables import SignInThrottleRow, StaffUserRow
from .tickets import StaffUser, current, require

_hasher = PasswordHasher()
DEMO_USERS = [("ada", "Ada Advisor", Role.advisor, "advisor-demo"),
              ("sam", "Sam Supervisor", Role.supervisor, "supervisor-demo"),
              ("root", "Robin Admin", Role.admin, "admin-demo")]
ACCOUNT, CLIENT = "account", "client"
LOCKED = "This account is locked after too many failed sign-ins; ask an admin to unlock it."
REFUSED_AUDIT_EVERY = 50  # a long burst of refused attempts is audited at its start and every 50 attempts


def create_user(db: Database, username: str, display_name: str, role: Role, password: str,
                actor: str = "system") -> StaffUser:
    if not re.fullmatch(r"[a-z][a-z0-9._-]{1,39}", username):
        raise InvalidInput("username: 2–40 lower-case letters, digits, '.', '_' or '-', starting with a letter")
    if len(password) < 8:
        raise InvalidInput("password: at least 8 characters")
    with db.tx() as s:
        row = s.get(StaffUserRow, username)
        if row is None:
            row = StaffUserRow(username=username, created_at=utcnow())
            s.add(row)
        else:
            sessions.revoke_all(s, username, "new password", actor)  # a new password signs the old ones out
        row.display_name, row.role, row.password_hash, row.active = display_name, role.value, _hasher.hash(password), True
        audit.append(s, actor, "user.saved", None, username=username, role=role.value)
    return StaffUser(username, display_name, role)


# ------------------------------------------------------------------ sign-in and throttling
@dataclass(frozen=True)
class Throttle:
    """How failed sign-ins slow down and lock; ``from_settings`` reads the ``sign_in_*`` settings."""

    delay_after: int = 5
    lock_after: int = 20
    window: timedelta = timedelta(hours=24)
    client_delay_after: int = 10
    client_window: timedelta = timedelta(hours=1)
    max_delay: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> Throttle:
        return cls(delay_after=settings.sign_in_delay_after, lock_after=settings.sign_in_lock_after,
                   window=timedelta(minutes=settings.sign_in_window_minutes),
                   client_delay_after=settings.sign_in_client_delay_after,
                   client_window=timedelta(minutes=settings.sign_in_client_window_minutes),
                   max_delay=timedelta(seconds=settings.sign_in_max_delay_seconds))

    def wait(self, failures: int, after: int) -> timedelta | None:
        """The wait before the next attempt: none below ``after`` failures, then 2 s doubling up to ``max_delay``."""
        if failures < after:
            return None
        return min(self.max_delay, timedelta(seconds=2 ** min(failures - after + 1, 30)))


def _wait_line(seconds: float) -> str:
    n = max(1, int(seconds + 0.999))
    span = f"{n} s" if n < 120 else f"{(n + 59) // 60} min"
    return f"Too many failed sign-ins; wait {span} and try again."


def _throttle_rows(s: Session, name: str, client: str, now: datetime) -> tuple[SignInThrottleRow, SignInThrottleRow]:
    """The account's and the client's rows, created when missing and locked for this transaction (the insert takes
    SQLite's write lock; PostgreSQL locks the two rows, always account first, so attempts never deadlock)."""
    insert = sqlite_insert if s.get_bind().dialect.name == "sqlite" else pg_insert
    s.execute(insert(SignInThrottleRow).values([
        {"scope": scope, "subject": subject, "failures": 0, "refused": 0, "last_attempt_at": now, "last_client": ""}
        for scope, subject in ((ACCOUNT, name), (CLIENT, client))]).on_conflict_do_nothing())
    account = s.get(SignInThrottleRow, (ACCOUNT, name), with_for_update=True, populate_existing=True)
    source = s.get(SignInThrottleRow, (CLIENT, client), with_for_update=True, populate_existing=True)
    assert account is not None and source is not None
    return account, source


def _forget_if_quiet(row: SignInThrottleRow, window: timedelta, now: datetime) -> None:
    if row.locked_at is None and row.failures and row.last_attempt_at < now - window:
        row.failures, row.refused, row.blocked_until = 0, 0, None


def _refuse(s: Session, limits: Throttle, account: SignInThrottleRow, source: SignInThrottleRow, now: datetime,
            client: str) -> str | None:
    """The line that refuses this attempt without checking the password, or None when it may be checked."""
    if account.locked_at is not None:
        by, line = account, LOCKED
    else:
        waiting = [r for r in (account, source) if r.blocked_until is not None and r.blocked_until > now]
        if not waiting:
            return None
        by = max(waiting, key=lambda r: r.blocked_until or now)
        line = _wait_line(((by.blocked_until or now) - now).total_seconds())
    counted = [account, source] if by is account else [source]  # a busy client does not count against the name
    for row in counted:
        row.failures += 1
        row.last_attempt_at = now
    by.refused += 1
    if by.refused == 1 or by.refused % REFUSED_AUDIT_EVERY == 0:
        audit.append(s, "sign-in", "signin.refused", None, username=account.subject, client=client,
                     reason="locked" if line == LOCKED else "waiting", refused=by.refused, failures=by.failures,
                     until=by.blocked_until if line != LOCKED else None)
    if by is account:
        _lock_if_due(s, limits, account, now, client)
    return LOCKED if account.locked_at is not None else line


def _lock_if_due(s: Session, limits: Throttle, account: SignInThrottleRow, now: datetime, client: str) -> None:
    if account.locked_at is None and account.failures >= limits.lock_after:
        account.locked_at, account.refused, account.blocked_until = now, 0, None  # refusals from here: a new burst
        audit.append(s, "sign-in", "signin.locked", None, username=account.subject, client=client,
                     failures=account.failures)


def _admit(db: Database, limits: Throttle, name: str, client: str, now: datetime) -> None:
    """Refuses the attempt (NotAuthorised, one line) or counts it as a failure until the password proves it right,
    so that attempts made at the same moment see each other and cannot slip past the wait."""
    with db.tx() as s:
        account, source = _throttle_rows(s, name, client, now)
        _forget_if_quiet(account, limits.window, now)
        _forget_if_quiet(source, limits.client_window, now)
        line = _refuse(s, limits, account, source, now, client)
        if line is None:
            for row, after in ((account, limits.delay_after), (source, limits.client_delay_after)):
                row.failures += 1
                row.refused = 0
                row.last_attempt_at = now
                wait = limits.wait(row.failures, after)
                row.blocked_until = now + wait if wait else None
            account.last_client = client
    if line is not None:
        raise NotAuthorised(line)


def _settle(db: Database, limits: Throttle, name: str, client: str, now: datetime, ok: bool) -> None:
    """After the password check: a success clears the account's count and takes back the client's provisional
    failure; a failure may lock the account (NotAuthorised at once). Old quiet counts are dropped on the way."""
    with db.tx() as s:
        account, source = _throttle_rows(s, name, client, now)
        if not ok:
            _lock_if_due(s, limits, account, now, client)
            s.execute(delete(SignInThrottleRow).where(
                SignInThrottleRow.scope == ACCOUNT, SignInThrottleRow.locked_at.is_(None),
                SignInThrottleRow.last_attempt_at < now - limits.window))
            s.execute(delete(SignInThrottleRow).where(
                SignInThrottleRow.scope == CLIENT, SignInThrottleRow.last_attempt_at < now - limits.client_window))
        elif account.locked_at is None:
            s.delete(account)
            source.failures = max(0, source.failures - 1)
            if limits.wait(source.failures, limits.client_delay_after) is None:
                source.blocked_until = None
        locked = account.locked_at is not None  # on success: locked meanwhile by attempts at the same moment
    if locked:
        raise NotAuthorised(LOCKED)


def _check_password(db: Database, name: str, password: str) -> StaffUser | None:
    with db.session() as s:
        row = s.get(StaffUserRow, name)
    if row is None or not row.active:
        _hasher.hash(password or "x")  # similar timing for unknown users
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return StaffUser(row.username, row.display_name, Role(row.role))


def authenticate(db: Database, username: str, password: str, client: str = "", *,
                 limits: Throttle | None = None, now: datetime | None = None) -> StaffUser | None:
    """The user for a correct username and password, else None (the same answer for unknown and deactivated
    users). ``client`` is the address the attempt comes from. Raises NotAuthorised with the one line to show
    while this account or client must wait, or while the account is locked (then even the right password)."""
    limits = limits or Throttle()
    name = username.strip().lower()[:200]
    client = client.strip()[:200] or "unknown"
    now = now or utcnow()
    _admit(db, limits, name, client, now)
    user = _check_password(db, name, password)
    _settle(db, limits, name, client, now, ok=user is not None)
    return user


def ensure_demo_users(db: Database) -> None:
    with db.session() as s:
        missing = [u for u in DEMO_USERS if s.get(StaffUserRow, u[0]) is None]
    for username, name, role, password in missing:
        create_user(db, username, name, role, password)


# ------------------------------------------------------------------ administration (admins only)
def list_users(db: Database, admin: StaffUser) -> list[dict[str, object]]:
    require(admin, Role.admin, db)
    with db.session() as s:
        rows = s.scalars(select(StaffUserRow).order_by(StaffUserRow.username)).all()
        return [{"username": r.username, "name": r.display_name, "role": r.role, "active": r.active,
                 "created": r.created_at} for r in rows]


def add_user(db: Database, admin: StaffUser, username: str, display_name: str, role: Role, password: str) -> StaffUser:
    """A new account (an existing username is refused, so nobody's password is overwritten by accident)."""
    admin = require(admin, Role.admin, db)
    username = username.strip().lower()
    if not display_name.strip():
        raise InvalidInput("name: give the person's name as colleagues know it")
    with db.session() as s:
        if s.get(StaffUserRow, username) is not None:
            raise InvalidInput(f"username: '{username}' is taken; pick another or edit that account")
    return create_user(db, username, display_name.strip(), role, password, actor=admin.username)


def update_user(db: Database, admin: StaffUser, username: str, *, role: Role | None = None,
                active: bool | None = None, password: str | None = None) -> None:
    """Change a role, (de)activate, or set a new password; the last active admin cannot be removed. A deactivated
    account or a new password ends the person's sessions in every browser; a new role applies on their next click."""
    admin = require(admin, Role.admin, db)
    if password is not None and len(password) < 8:
        raise InvalidInput("password: at least 8 characters")
    with db.tx() as s:
        row = s.get(StaffUserRow, username)
        if row is None:
            raise NotFound(f"user {username} not found")
        losing_admin = row.role == Role.admin.value and row.active and (
            (role is not None and role != Role.admin) or active is False)
        if losing_admin:
            admins = s.scalar(select(func.count()).select_from(StaffUserRow).where(
                StaffUserRow.role == Role.admin.value, StaffUserRow.active.is_(True))) or 0
            if admins <= 1:
                raise InvalidInput("this is the last active admin: make someone else admin first")
        changes: dict[str, object] = {}
        if role is not None and role.value != row.role:
            changes["role"] = [row.role, role.value]
            row.role = role.value
        if active is not None and active != row.active:
            changes["active"] = [row.active, active]
            row.active = active
        if password is not None:
            row.password_hash = _hasher.hash(password)
            changes["password"] = "reset"
        if changes:
            audit.append(s, admin.username, "user.changed", None, username=username, **changes)
        if not row.active or password is not None:  # signed out everywhere at once; a new role needs no new session
            sessions.revoke_all(s, username, "deactivated" if not row.active else "new password", admin.username)


def sign_in_locks(db: Database, admin: StaffUser, now: datetime | None = None) -> list[dict[str, Any]]:
    """Account names that are locked or must wait after failed sign-ins, locked first; ``known`` says whether the
    name is an account at all (failures on unknown names are kept the same way, so nobody can probe for names)."""
    require(admin, Role.admin, db)
    now = now or utcnow()
    with db.session() as s:
        rows = s.scalars(select(SignInThrottleRow).where(
            SignInThrottleRow.scope == ACCOUNT,
            or_(SignInThrottleRow.locked_at.is_not(None), SignInThrottleRow.blocked_until > now))).all()
        known = set(s.scalars(select(StaffUserRow.username).where(StaffUserRow.username.in_([r.subject for r in rows]))))
    out = [{"username": r.subject, "known": r.subject in known, "locked": r.locked_at is not None,
            "locked_at": r.locked_at, "waiting_until": r.blocked_until if r.locked_at is None else None,
            "failures": r.failures, "last_attempt": r.last_attempt_at, "client": r.last_client} for r in rows]
    return sorted(out, key=lambda r: (not r["locked"], r["username"]))


def unlock_account(db: Database, username: str, actor: str) -> dict[str, Any]:
    """Clears an account name's failed sign-ins and lock, and the wait of the address its last failure came from
    (so the person can sign in from where they were locked out); audited. For the operator's command line and
    ``unlock``; it checks no role itself."""
    name = username.strip().lower()
    with db.tx() as s:
        row = s.get(SignInThrottleRow, (ACCOUNT, name), with_for_update=True)
        if row is None or (row.locked_at is None and row.failures == 0):
            raise InvalidInput(f"'{name}' is not locked and has no failed sign-ins; nothing to unlock")
        done = {"username": name, "was_locked": row.locked_at is not None, "failures": row.failures,
                "client": row.last_client}
        source = s.get(SignInThrottleRow, (CLIENT, row.last_client), with_for_update=True) if row.last_client else None
        s.delete(row)
        if source is not None:
            s.delete(source)
        audit.append(s, actor, "signin.unlocked", None, **done)
    return done


def unlock(db: Database, admin: StaffUser, username: str) -> dict[str, Any]:
    """An admin lets a locked or waiting account sign in again."""
    admin = require(admin, Role.admin, db)
    return unlock_account(db, username, admin.username)


def refresh(db: Database, user: StaffUser) -> StaffUser | None:
    """The account as it is now: a changed role applies at once, a deactivated account is signed out."""
    try:
        return current(db, user)
    except NotAuthorised:
        return None


def sso_user(db: Database, email: str) -> StaffUser | None:
    """The active account for someone signed in by the identity provider: the username is the local part of
    their e-mail. Roles stay managed in Tandem; an unknown or deactivated person gets no access."""
    local = (email or "").split("@", 1)[0].strip().lower()
    if not local:
        return None
    with db.session() as s:
        row = s.get(StaffUserRow, local)
    if row is None or not row.active:
        return None
    return StaffUser(row.username, row.display_name, Role(row.role))
