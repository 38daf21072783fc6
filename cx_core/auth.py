"""Staff accounts: argon2-hashed passwords and roles."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select

from . import audit
from .errors import InvalidInput, NotFound
from .models import Role
from .store.db import Database, utcnow
from .store.tables import StaffUserRow
from .tickets import StaffUser, require

_hasher = PasswordHasher()
DEMO_USERS = [("ada", "Ada Advisor", Role.advisor, "advisor-demo"),
              ("sam", "Sam Supervisor", Role.supervisor, "supervisor-demo"),
              ("root", "Robin Admin", Role.admin, "admin-demo")]


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
        row.display_name, row.role, row.password_hash, row.active = display_name, role.value, _hasher.hash(password), True
        audit.append(s, actor, "user.saved", None, username=username, role=role.value)
    return StaffUser(username, display_name, role)


def authenticate(db: Database, username: str, password: str) -> StaffUser | None:
    """The user for a correct username and password, else None (same answer for unknown users)."""
    with db.session() as s:
        row = s.get(StaffUserRow, username.strip().lower())
    if row is None or not row.active:
        _hasher.hash(password or "x")  # similar timing for unknown users
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return StaffUser(row.username, row.display_name, Role(row.role))


def ensure_demo_users(db: Database) -> None:
    with db.session() as s:
        missing = [u for u in DEMO_USERS if s.get(StaffUserRow, u[0]) is None]
    for username, name, role, password in missing:
        create_user(db, username, name, role, password)


# ------------------------------------------------------------------ administration (admins only)
def list_users(db: Database, admin: StaffUser) -> list[dict[str, object]]:
    require(admin, Role.admin)
    with db.session() as s:
        rows = s.scalars(select(StaffUserRow).order_by(StaffUserRow.username)).all()
        return [{"username": r.username, "name": r.display_name, "role": r.role, "active": r.active,
                 "created": r.created_at} for r in rows]


def add_user(db: Database, admin: StaffUser, username: str, display_name: str, role: Role, password: str) -> StaffUser:
    """A new account (an existing username is refused, so nobody's password is overwritten by accident)."""
    require(admin, Role.admin)
    username = username.strip().lower()
    if not display_name.strip():
        raise InvalidInput("name: give the person's name as colleagues know it")
    with db.session() as s:
        if s.get(StaffUserRow, username) is not None:
            raise InvalidInput(f"username: '{username}' is taken; pick another or edit that account")
    return create_user(db, username, display_name.strip(), role, password, actor=admin.username)


def update_user(db: Database, admin: StaffUser, username: str, *, role: Role | None = None,
                active: bool | None = None, password: str | None = None) -> None:
    """Change a role, (de)activate, or set a new password; the last active admin cannot be removed."""
    require(admin, Role.admin)
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


def refresh(db: Database, user: StaffUser) -> StaffUser | None:
    """The account as it is now: a changed role applies at once, a deactivated account is signed out."""
    with db.session() as s:
        row = s.get(StaffUserRow, user.username)
    if row is None or not row.active:
        return None
    return StaffUser(row.username, row.display_name, Role(row.role))


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
