"""Who may do what: staff accounts as the core sees them, and the role check every call makes (reads included),
against the account as stored now, so a changed role or a deactivated account applies on the next click."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import NotAuthorised
from .models import ROLE_RANK, Role
from .store.db import Database
from .store.tables import StaffUserRow


@dataclass
class StaffUser:
    username: str
    display_name: str
    role: Role


def current(db: Database, user: StaffUser) -> StaffUser:
    """The account as stored now: the object a page holds may predate a deactivation or a role change."""
    with db.session() as s:
        row = s.get(StaffUserRow, user.username)
    if row is None:
        raise NotAuthorised("your account no longer exists; sign in again")
    if not row.active:
        raise NotAuthorised("your account was deactivated; sign in again")
    return StaffUser(row.username, row.display_name, Role(row.role))


def require(user: StaffUser, role: Role, db: Database) -> StaffUser:
    """Roles are enforced here, in the core, not only by hiding pages, and always against the account as stored
    now (``current``): the object a caller hands in may claim any role, and a stale session of someone deactivated
    or demoted since is refused. Returns the user as stored, to act as from here on."""
    stored = current(db, user)
    if ROLE_RANK[stored.role] < ROLE_RANK[role]:
        now = "your role is now" if stored.role != user.role else "you are signed in as"
        raise NotAuthorised(f"this needs the {role.value} role; {now} {stored.role.value}")
    return stored
