"""Tokens for the inbound API: made by an admin (Users page or ``python -m cx_core api-token create``), shown once,
kept only as their SHA-256, revoked at any time. A call with a revoked or unknown token gets 401.

A token is made for a purpose, as helpdesks scope theirs: ``write`` adds tickets and customers' messages, ``read``
reads tickets back, ``admin`` does both on every ticket. A ``write`` or ``read`` token reaches only the tickets it
opened; letting it reach every ticket of every channel is an admin's explicit choice (``widen``), shown on the Users
page and audited. Each token has a rate (requests a minute, answered 429 beyond it) and a daily quota of new tickets
and messages, both from the settings unless set on the token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from . import audit
from .access import require
from .errors import InvalidInput, NotFound
from .models import Role
from .store.db import Database, utcnow
from .store.tables import ApiTokenRow, ApiTokenUsageRow

PREFIX = "tdm_"
NAME_MAX = 80
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token
SCOPES = {"write": "add tickets and customers' messages", "read": "read tickets back",
          "admin": "read and write every ticket of every channel"}
DEFAULT_SCOPES = ("write", "read")
MAX_RATE = 100_000
MAX_QUOTA = 10_000_000


@dataclass(frozen=True)
class Grant:
    """What a verified token may do."""

    id: int
    name: str
    scopes: frozenset[str]
    all_tickets: bool  # widened by an admin: every ticket, not only its own
    rate_per_minute: int | None = None
    daily_quota: int | None = None

    def may(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    @property
    def reaches_every_ticket(self) -> bool:
        return self.all_tickets or "admin" in self.scopes


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("name: say what the token is for (1-80 characters)")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"name: {len(name)} characters; the limit is {NAME_MAX}")
    return name


def clean_scopes(scopes: Any) -> tuple[str, ...]:
    """The scopes asked for, checked: one or more of write, read, admin."""
    if isinstance(scopes, str):
        scopes = scopes.split(",")
    picked = tuple(dict.fromkeys(str(s).strip().lower() for s in (scopes or ()) if str(s).strip()))
    unknown = [s for s in picked if s not in SCOPES]
    if unknown:
        raise InvalidInput(f"scopes: '{unknown[0]}' is not a scope (scopes: {', '.join(SCOPES)})")
    if not picked:
        raise InvalidInput(f"scopes: choose at least one of {', '.join(SCOPES)}")
    return picked


def _limit(value: int | None, what: str, most: int) -> int | None:
    if value is None:
        return None
    if not 1 <= int(value) <= most:
        raise InvalidInput(f"{what}: between 1 and {most:,} (or leave it empty for the default)")
    return int(value)


def create(db: Database, name: str, actor: str, scopes: Any = DEFAULT_SCOPES, all_tickets: bool = False,
           rate_per_minute: int | None = None, daily_quota: int | None = None) -> tuple[int, str]:
    """Makes a token for ``name`` and returns (its id, the token). The token itself is never stored, so this is the
    only moment anyone sees it; the audit log records who made which token (by id and prefix) and what it may do."""
    name = _clean_name(name)
    picked = clean_scopes(scopes)
    rate = _limit(rate_per_minute, "rate_per_minute", MAX_RATE)
    quota = _limit(daily_quota, "daily_quota", MAX_QUOTA)
    token = PREFIX + secrets.token_urlsafe(32)

    def write(s: Session) -> int:
        row = ApiTokenRow(name=name, token_hash=_hash(token), prefix=token[:8], created_by=actor[:80],
                          created_at=utcnow(), scopes=",".join(picked), all_tickets=bool(all_tickets),
                          rate_per_minute=rate, daily_quota=quota)
        s.add(row)
        s.flush()
        audit.append(s, actor, "api_token.created", None, token_id=row.id, name=name, prefix=row.prefix,
                     scopes=list(picked), all_tickets=bool(all_tickets), rate_per_minute=rate, daily_quota=quota)
        return row.id

    return db.run(write), token


def all_tokens(db: Database) -> list[dict[str, Any]]:
    """Every token, oldest first, without the tokens themselves: what each is for and may do, who made it, when it
    was last used and whether it is revoked. For the operator's command line; pages call ``list_tokens``."""
    with db.session() as s:
        rows = s.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id)).all()
        return [{"id": r.id, "name": r.name, "prefix": r.prefix, "created_by": r.created_by,
                 "created_at": r.created_at, "last_used_at": r.last_used_at, "revoked_at": r.revoked_at,
                 "revoked_by": r.revoked_by, "scopes": [x for x in (r.scopes or "").split(",") if x],
                 "all_tickets": bool(r.all_tickets), "rate_per_minute": r.rate_per_minute,
                 "daily_quota": r.daily_quota} for r in rows]


def list_tokens(db: Database, user: Any) -> list[dict[str, Any]]:
    """``all_tokens`` for a signed-in admin (the Users page): the role is checked here, in the core."""

    require(user, Role.admin, db)
    return all_tokens(db)


def revoke(db: Database, token_id: int, actor: str) -> None:
    """Revokes a token: every call with it is refused from now on. Revoking a revoked token changes nothing."""
    def write(s: Session) -> None:
        row = s.get(ApiTokenRow, token_id, with_for_update=True)
        if row is None:
            raise NotFound(f"API token {token_id} not found")
        if row.revoked_at is not None:
            return
        row.revoked_at, row.revoked_by = utcnow(), actor[:80]
        audit.append(s, actor, "api_token.revoked", None, token_id=row.id, name=row.name, prefix=row.prefix)

    db.run(write)


def widen(db: Database, token_id: int, all_tickets: bool, actor: str) -> None:
    """Lets a token reach every ticket of every channel (``all_tickets``), or only the tickets it opened again;
    audited (``api_token.widened`` / ``api_token.narrowed``)."""
    def write(s: Session) -> None:
        row = s.get(ApiTokenRow, token_id, with_for_update=True)
        if row is None:
            raise NotFound(f"API token {token_id} not found")
        if row.revoked_at is not None:
            raise InvalidInput(f"API token {token_id} is revoked; make a new one")
        if bool(row.all_tickets) == bool(all_tickets):
            return
        row.all_tickets = bool(all_tickets)
        audit.append(s, actor, "api_token.widened" if all_tickets else "api_token.narrowed", None,
                     token_id=row.id, name=row.name, prefix=row.prefix)

    db.run(write)


def verify(db: Database, token: str) -> Grant | None:
    """What the active token ``token`` may do, or None. The lookup is by the token's hash, so the time it takes
    says nothing about how much of a guess was right; the use is noted at most once a minute."""
    token = (token or "").strip()
    if not token.startswith(PREFIX) or len(token) > 200 or not token.isascii():
        return None
    digest = _hash(token)
    with db.session() as s:
        row = s.scalars(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest)).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at is not None:
            return None
        grant = Grant(row.id, row.name, frozenset(x for x in (row.scopes or "").split(",") if x),
                      bool(row.all_tickets), row.rate_per_minute, row.daily_quota)
        last = row.last_used_at
    now = utcnow()
    if last is None or now - last >= TOUCH_EVERY:
        db.run(lambda s: s.execute(update(ApiTokenRow).where(ApiTokenRow.id == grant.id,
                                                             ApiTokenRow.revoked_at.is_(None))
                                   .values(last_used_at=now)))
    return grant


def take_quota(db: Database, grant: Grant, default_quota: int, now: datetime | None = None) -> float | None:
    """Counts one new ticket or message against the token's daily quota (UTC days); returns None when it fits, or
    the seconds until the quota renews when today's is used up (nothing is counted then)."""
    now = now or utcnow()
    quota = grant.daily_quota or default_quota
    day = now.strftime("%Y-%m-%d")

    def write(s: Session) -> float | None:
        insert = sqlite_insert if s.get_bind().dialect.name == "sqlite" else pg_insert
        s.execute(insert(ApiTokenUsageRow).values(token_id=grant.id, day=day, count=0).on_conflict_do_nothing())
        row = s.get(ApiTokenUsageRow, (grant.id, day), with_for_update=True, populate_existing=True)
        assert row is not None
        if row.count >= quota:
            tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            return max(1.0, (tomorrow - now).total_seconds())
        row.count += 1
        return None

    return db.run(write)


def create_for(db: Database, user: Any, name: str, scopes: Any = DEFAULT_SCOPES, all_tickets: bool = False,
               rate_per_minute: int | None = None, daily_quota: int | None = None) -> tuple[int, str]:
    """``create`` for a signed-in admin (the Users page): the role is checked here, in the core."""

    admin = require(user, Role.admin, db)
    return create(db, name, admin.username, scopes, all_tickets, rate_per_minute, daily_quota)


def revoke_for(db: Database, user: Any, token_id: int) -> None:
    """``revoke`` for a signed-in admin (the Users page): the role is checked here, in the core."""

    admin = require(user, Role.admin, db)
    revoke(db, token_id, admin.username)


def widen_for(db: Database, user: Any, token_id: int, all_tickets: bool) -> None:
    """``widen`` for a signed-in admin (the Users page): the role is checked here, in the core."""

    admin = require(user, Role.admin, db)
    widen(db, token_id, all_tickets, admin.username)
