"""Staff accounts: argon2-hashed passwords and roles."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from . import audit
from .errors import InvalidInput
from .models import Role
from .store.db import Database, utcnow
from .store.tables import StaffUserRow
from .tickets import StaffUser

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
