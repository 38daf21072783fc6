"""Staff accounts: argon2-hashed passwords and roles, and sign-in throttling.

Throttling holds back whoever guesses, never the person whose account is guessed. Failed sign-ins are counted
three ways, for names that are accounts and names that are not alike (so a name cannot be probed):

* **Per client address**, whatever names it tries: after ``client_delay_after`` failures (10) each further attempt
  from the address waits 2 s, 4 s, 8 s… (at most ``max_delay``, 15 min); after ``client_lock_after`` (50) within
  ``client_window`` (1 h) the address is refused for every name for ``client_lock_for`` (1 h), then starts afresh.
* **Per account and address**: after ``delay_after`` (5) failures of one account from one address, attempts of
  that account from there wait the same way; after ``lock_after`` (20) within ``window`` (24 h) the account is
  locked *at that address* until an admin unlocks it. Failures from one address never lock the account anywhere
  else, so a stranger cannot lock anyone out, the admin included.
* **Per account, from new addresses**: an address the account signed in from successfully in the last
  ``familiar_for`` (90 days) is *familiar*; wrong passwords from every other address are also counted together.
  After ``account_delay_after`` (25) within the window every new address waits before trying that account. This
  slows down guessing spread over many addresses and never locks: one try from each of a thousand addresses makes a
  new address wait, it never shuts the account (a break-glass admin that never signed in, say) out everywhere.
  Familiar addresses are never held back by it; the first threshold is above ``lock_after``, so one address alone
  never slows the account down for anybody else.

**Addresses are trusted only when a reverse proxy says which they are** (``client_address_header``). Without it
every person behind one proxy has the proxy's address, so a lock of "the address" or of "the account at the
address" would lock everyone out, the admin included. Then throttling falls back to the account at the address
and to the account as a whole, and both only slow down (``trust_addresses`` False): nothing locks, an attempt
refused while it must wait does not make the wait longer, and the start-up warns that the header is not set.

Attempts made while waiting or locked are refused without checking the password; where a lock can follow, they
still count, for the address and for the account there (never for the account as a whole). A successful sign-in
clears the account's count at that address and makes the address familiar; the count from new addresses is
forgotten only after a quiet window or by an unlock. An admin unlock (Users and roles, or ``python -m cx_core
users unlock NAME``) clears everything about the name, and the waits of the addresses where it was held back.
Every lock, every burst of refused attempts and every unlock is an audit event.
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
from .access import StaffUser, current, require
from .config import Settings
from .errors import InvalidInput, NotAuthorised, NotFound
from .models import Role
from .store.db import Database, utcnow
from .store.tables import SignInFamiliarRow, SignInThrottleRow, StaffUserRow

_hasher = PasswordHasher()
DEMO_USERS = [("ada", "Ada Advisor", Role.advisor, "advisor-demo"),
              ("bo", "Bo Advisor", Role.advisor, "colleague-demo"),  # the colleague whose earlier work the demo shows
              ("sam", "Sam Supervisor", Role.supervisor, "supervisor-demo"),
              ("root", "Robin Admin", Role.admin, "admin-demo")]
ACCOUNT, PAIR, CLIENT = "account", "pair", "client"
LOCKED = "This account is locked after too many failed sign-ins; ask an admin to unlock it."
ADDRESSES_UNTRUSTED = ("TANDEM_CLIENT_ADDRESS_HEADER is not set: behind a reverse proxy every sign-in comes from the "
                       "proxy's address, so failed sign-ins only slow down the account tried and never lock; set it "
                       "to the header your proxy writes (e.g. X-Forwarded-For)")
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
    """How failed sign-ins slow down and lock; ``from_settings`` reads the ``sign_in_*`` settings. Without
    ``trust_addresses`` (no proxy header names the client) nothing locks and only the account is slowed down."""

    delay_after: int = 5  # one account at one address
    lock_after: int = 20
    window: timedelta = timedelta(hours=24)
    account_delay_after: int = 25  # one account, wrong passwords from all its unfamiliar addresses together
    client_delay_after: int = 10  # one address, whatever names
    client_lock_after: int = 50
    client_window: timedelta = timedelta(hours=1)
    client_lock_for: timedelta = timedelta(hours=1)
    max_delay: timedelta = timedelta(minutes=15)
    familiar_for: timedelta = timedelta(days=90)
    trust_addresses: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> Throttle:
        return cls(delay_after=settings.sign_in_delay_after, lock_after=settings.sign_in_lock_after,
                   window=timedelta(minutes=settings.sign_in_window_minutes),
                   account_delay_after=settings.sign_in_account_delay_after,
                   client_delay_after=settings.sign_in_client_delay_after,
                   client_lock_after=settings.sign_in_client_lock_after,
                   client_window=timedelta(minutes=settings.sign_in_client_window_minutes),
                   client_lock_for=timedelta(minutes=settings.sign_in_client_lock_minutes),
                   max_delay=timedelta(seconds=settings.sign_in_max_delay_seconds),
                   trust_addresses=bool(settings.client_address_header.strip()))

    def wait(self, failures: int, after: int) -> timedelta | None:
        """The wait before the next attempt: none below ``after`` failures, then 2 s doubling up to ``max_delay``."""
        if failures < after:
            return None
        return min(self.max_delay, timedelta(seconds=2 ** min(failures - after + 1, 30)))


def address_warning(settings: Settings) -> str | None:
    """The start-up's warning when no proxy header names the client's address (see the module's note)."""
    return None if settings.client_address_header.strip() else ADDRESSES_UNTRUSTED


def _wait_line(seconds: float) -> str:
    n = max(1, int(seconds + 0.999))
    span = f"{n} s" if n < 120 else f"{(n + 59) // 60} min"
    return f"Too many failed sign-ins; wait {span} and try again."


def _printable(text: str, limit: int) -> str:
    return "".join(ch for ch in text.strip() if ch.isprintable())[:limit]


def _pair(name: str, client: str) -> str:
    """The subject of an account's row at one address (a name holds no line break, so it splits back)."""
    return f"{name}\n{client}"


@dataclass
class _Rows:
    """The three counts one attempt touches, and whether the address is familiar to the account."""

    account: SignInThrottleRow  # the account's failures from unfamiliar addresses, all together
    pair: SignInThrottleRow  # the account's failures from this address
    client: SignInThrottleRow  # this address's failures, whatever names
    familiar: bool

    def holding(self, now: datetime, trusted: bool = True) -> tuple[SignInThrottleRow, str] | None:
        """The row that refuses an attempt now and the line to show, or None when the password may be checked.
        A lock wins over a wait; among waits the longest one. An address that is not ``trusted`` is not held back
        for itself (it may be a proxy's, shared by everyone)."""
        if trusted and self.client.locked_at is not None:
            return self.client, _wait_line(((self.client.blocked_until or now) - now).total_seconds())
        if trusted and self.pair.locked_at is not None:
            return self.pair, LOCKED
        rows = ([self.client] if trusted else []) + [self.pair] + ([] if self.familiar else [self.account])
        waiting = [r for r in rows if r.blocked_until is not None and r.blocked_until > now]
        if not waiting:
            return None
        by = max(waiting, key=lambda r: r.blocked_until or now)
        return by, _wait_line(((by.blocked_until or now) - now).total_seconds())

    def locked_line(self, now: datetime, trusted: bool = True) -> str | None:
        held = self.holding(now, trusted)
        return held[1] if held is not None and held[0].locked_at is not None else None


def _rows(s: Session, limits: Throttle, name: str, client: str, now: datetime) -> _Rows:
    """The attempt's rows, created when missing and locked for this transaction (the insert takes SQLite's write
    lock; PostgreSQL locks the rows always in the order account, pair, client, so attempts never deadlock)."""
    insert = sqlite_insert if s.get_bind().dialect.name == "sqlite" else pg_insert
    keys = ((ACCOUNT, name), (PAIR, _pair(name, client)), (CLIENT, client))
    s.execute(insert(SignInThrottleRow).values([
        {"scope": scope, "subject": subject, "failures": 0, "refused": 0, "last_attempt_at": now,
         "last_client": client if scope != ACCOUNT else ""} for scope, subject in keys]).on_conflict_do_nothing())
    account, pair, source = (s.get(SignInThrottleRow, key, with_for_update=True, populate_existing=True)
                             for key in keys)
    assert account is not None and pair is not None and source is not None
    known = s.get(SignInFamiliarRow, (name, client))
    return _Rows(account, pair, source, known is not None and known.last_success_at >= now - limits.familiar_for)


def _forget_if_quiet(row: SignInThrottleRow, window: timedelta, now: datetime) -> None:
    if row.scope == CLIENT and row.locked_at is not None and (row.blocked_until or now) <= now:
        row.locked_at = None  # an address's lock ends by itself, and its count with it
        row.failures, row.refused, row.blocked_until = 0, 0, None
    elif row.locked_at is None and row.failures and row.last_attempt_at < now - window:
        row.failures, row.refused, row.blocked_until = 0, 0, None


def _refuse(s: Session, limits: Throttle, rows: _Rows, now: datetime, name: str, client: str) -> str | None:
    """The line that refuses this attempt without checking the password, or None when it may be checked. Where a
    lock can follow (``trust_addresses``), a refused attempt counts for the address and, unless the address alone
    is held back, for the account there; otherwise it makes no wait longer."""
    trusted = limits.trust_addresses
    held = rows.holding(now, trusted)
    if held is None:
        return None
    by, line = held
    counted = ([rows.client] if by is rows.client else [rows.pair, rows.client]) if trusted else []
    for row in counted:
        row.failures += 1
        row.last_attempt_at = now
    by.refused += 1
    if by.refused == 1 or by.refused % REFUSED_AUDIT_EVERY == 0:
        audit.append(s, "sign-in", "signin.refused", None, username=name, client=client, scope=by.scope,
                     reason="locked" if by.locked_at is not None else "waiting", refused=by.refused,
                     failures=by.failures, until=by.blocked_until)
    _lock_if_due(s, limits, rows, now, name, client)
    return rows.locked_line(now, trusted) or line


def _lock_if_due(s: Session, limits: Throttle, rows: _Rows, now: datetime, name: str, client: str) -> None:
    """Locks the account at the address, or the address, once their failures reach the limit: only where
    addresses are trusted. The account as a whole is never locked."""
    if not limits.trust_addresses:
        return
    due = [(rows.pair, limits.lock_after, None), (rows.client, limits.client_lock_after, now + limits.client_lock_for)]
    for row, after, until in due:
        if row.locked_at is None and row.failures >= after:
            row.locked_at, row.refused, row.blocked_until = now, 0, until  # refusals from here: a new burst
            audit.append(s, "sign-in", "signin.locked", None, username=name, client=client, scope=row.scope,
                         failures=row.failures, until=until)


def _admit(db: Database, limits: Throttle, name: str, client: str, now: datetime) -> bool:
    """Refuses the attempt (NotAuthorised, one line) or counts it as a failure until the password proves it right,
    so that attempts made at the same moment see each other and cannot slip past a wait. Returns whether the
    address is familiar to the account."""
    with db.tx() as s:
        rows = _rows(s, limits, name, client, now)
        _forget_if_quiet(rows.account, limits.window, now)
        _forget_if_quiet(rows.pair, limits.window, now)
        _forget_if_quiet(rows.client, limits.client_window, now)
        line = _refuse(s, limits, rows, now, name, client)
        if line is None:
            counted = [(rows.pair, limits.delay_after)]
            if limits.trust_addresses:
                counted.append((rows.client, limits.client_delay_after))
            if not rows.familiar:
                counted.append((rows.account, limits.account_delay_after))
                rows.account.last_client = client
            for row, after in counted:
                row.failures += 1
                row.refused = 0
                row.last_attempt_at = now
                wait = limits.wait(row.failures, after)
                row.blocked_until = now + wait if wait else None
        familiar = rows.familiar
    if line is not None:
        raise NotAuthorised(line)
    return familiar


def _take_back(row: SignInThrottleRow, limits: Throttle, after: int) -> None:
    row.failures = max(0, row.failures - 1)
    if limits.wait(row.failures, after) is None:
        row.blocked_until = None


def _settle(db: Database, limits: Throttle, name: str, client: str, now: datetime, familiar: bool, ok: bool) -> None:
    """After the password check: a failure may lock (NotAuthorised at once), and old quiet counts are dropped on
    the way. A success clears the account's count at this address, takes back the provisional failure of the
    address (and of the account's new addresses, when ``familiar`` was false at admission) and makes the address
    familiar."""
    with db.tx() as s:
        rows = _rows(s, limits, name, client, now)
        rows.familiar = familiar  # as admitted, even if a sign-in at the same moment made the address familiar
        if not ok:
            _lock_if_due(s, limits, rows, now, name, client)
            s.execute(delete(SignInThrottleRow).where(
                SignInThrottleRow.scope.in_((ACCOUNT, PAIR)), SignInThrottleRow.locked_at.is_(None),
                SignInThrottleRow.last_attempt_at < now - limits.window))
            s.execute(delete(SignInThrottleRow).where(
                SignInThrottleRow.scope == CLIENT, SignInThrottleRow.last_attempt_at < now - limits.client_window,
                or_(SignInThrottleRow.locked_at.is_(None), SignInThrottleRow.blocked_until <= now)))
            s.execute(delete(SignInFamiliarRow).where(SignInFamiliarRow.last_success_at < now - limits.familiar_for))
        line = rows.locked_line(now, limits.trust_addresses)  # on success: locked meanwhile at the same moment
        if ok and line is None:
            s.delete(rows.pair)
            _take_back(rows.client, limits, limits.client_delay_after)
            if not rows.familiar:
                _take_back(rows.account, limits, limits.account_delay_after)
            if rows.account.failures == 0 and rows.account.locked_at is None:
                s.delete(rows.account)
            insert = sqlite_insert if s.get_bind().dialect.name == "sqlite" else pg_insert
            s.execute(insert(SignInFamiliarRow).values(username=name, client=client, last_success_at=now)
                      .on_conflict_do_update(index_elements=["username", "client"], set_={"last_success_at": now}))
    if line is not None:
        raise NotAuthorised(line)


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
    while the attempt must wait, or while the account is locked there (then even the right password)."""
    limits = limits or Throttle()
    name = _printable(username.lower(), 80)
    client = _printable(client, 100) or "unknown"
    now = now or utcnow()
    familiar = _admit(db, limits, name, client, now)
    user = _check_password(db, name, password)
    _settle(db, limits, name, client, now, familiar, ok=user is not None)
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
    """Where sign-ins are held back after failures, locked first, names before addresses: an account at one
    address (``scope`` "pair", with whether the address is ``familiar``), an account to every new address
    ("account", ``client`` empty) and a client address whatever the name ("client", ``username`` empty; its lock
    ends by itself). ``known`` says whether the name is an account at all (unknown names are kept the same way,
    so nobody can probe for names)."""
    require(admin, Role.admin, db)
    now = now or utcnow()
    with db.session() as s:
        rows = s.scalars(select(SignInThrottleRow).where(
            or_(SignInThrottleRow.locked_at.is_not(None), SignInThrottleRow.blocked_until > now))).all()
        rows = [r for r in rows if not (r.scope == CLIENT and (r.blocked_until or now) <= now)]  # an ended lock
        held = [(r, *_subject(r)) for r in rows]
        names = {name for r, name, _ in held if r.scope != CLIENT}
        known = set(s.scalars(select(StaffUserRow.username).where(StaffUserRow.username.in_(names))))
        familiar = {(u, c) for u, c in s.execute(select(SignInFamiliarRow.username, SignInFamiliarRow.client).where(
            SignInFamiliarRow.username.in_(names), SignInFamiliarRow.last_success_at >= now - Throttle().familiar_for))}
    out = [{"username": name, "client": client, "scope": r.scope, "known": name in known,
            "familiar": (name, client) in familiar, "locked": r.locked_at is not None, "locked_at": r.locked_at,
            "waiting_until": r.blocked_until if r.locked_at is None or r.scope == CLIENT else None,
            "failures": r.failures, "last_attempt": r.last_attempt_at} for r, name, client in held]
    return sorted(out, key=lambda r: (not r["locked"], r["scope"] == CLIENT, r["username"], r["client"]))


def _subject(row: SignInThrottleRow) -> tuple[str, str]:
    """(name, address) of a throttle row; the account's row has no address, an address's row no name."""
    if row.scope == PAIR:
        name, _, client = row.subject.partition("\n")
        return name, client
    return (row.subject, "") if row.scope == ACCOUNT else ("", row.subject)


def unlock_account(db: Database, username: str, actor: str, now: datetime | None = None) -> dict[str, Any]:
    """Clears everything about an account name: its failed sign-ins at every address and from new addresses, its
    locks, and the waits of the addresses where it was held back (so the person can sign in from where they were
    locked out); audited. For the operator's command line and ``unlock``; it checks no role itself."""
    name = _printable(username.lower(), 80)
    now = now or utcnow()
    with db.tx() as s:  # rows locked in the order attempts lock them: account, pairs, clients
        account = s.get(SignInThrottleRow, (ACCOUNT, name), with_for_update=True)
        pairs = s.scalars(select(SignInThrottleRow).where(
            SignInThrottleRow.scope == PAIR, SignInThrottleRow.subject.startswith(_pair(name, ""), autoescape=True))
            .order_by(SignInThrottleRow.subject).with_for_update()).all()
        rows = [r for r in [account, *pairs] if r is not None and (r.locked_at is not None or r.failures)]
        if not rows:
            raise InvalidInput(f"'{name}' is not locked and has no failed sign-ins; nothing to unlock")
        held_at = sorted({p.last_client for p in pairs
                          if p.locked_at is not None or (p.blocked_until is not None and p.blocked_until > now)})
        done = {"username": name, "was_locked": any(r.locked_at is not None for r in rows),
                "failures": max(sum(p.failures for p in pairs), account.failures if account is not None else 0),
                "clients": held_at}
        sources = s.scalars(select(SignInThrottleRow).where(
            SignInThrottleRow.scope == CLIENT, SignInThrottleRow.subject.in_(held_at))
            .order_by(SignInThrottleRow.subject).with_for_update()).all() if held_at else []
        for row in [*([account] if account is not None else []), *pairs, *sources]:
            s.delete(row)
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
