"""Tokens for the inbound API: made by an admin (Users page or ``python -m cx_core api-token create``), shown once,
kept only as their SHA-256, revoked at any time. A call with a revoked or unknown token gets 401."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import audit
from .errors import InvalidInput, NotFound
from .models import Role
from .store.db import Database, utcnow
from .store.tables import ApiTokenRow

PREFIX = "tdm_"
NAME_MAX = 80
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("name: say what the token is for (1-80 characters)")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"name: {len(name)} characters; the limit is {NAME_MAX}")
    return name


def create(db: Database, name: str, actor: str) -> tuple[int, str]:
    """Makes a token for ``name`` and returns (its id, the token). The token itself is never stored, so this is the
    only moment anyone sees it; the audit log records who made which token (by id and prefix)."""
    name = _clean_name(name)
    token = PREFIX + secrets.token_urlsafe(32)

    def write(s: Session) -> int:
        row = ApiTokenRow(name=name, token_hash=_hash(token), prefix=token[:8], created_by=actor[:80],
                          created_at=utcnow())
        s.add(row)
        s.flush()
        audit.append(s, actor, "api_token.created", None, token_id=row.id, name=name, prefix=row.prefix)
        return row.id

    return db.run(write), token


def list_tokens(db: Database) -> list[dict[str, Any]]:
    """Every token, oldest first, without the tokens themselves: what each is for, who made it, when it was last
    used and whether it is revoked."""
    with db.session() as s:
        rows = s.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id)).all()
        return [{"id": r.id, "name": r.name, "prefix": r.prefix, "created_by": r.created_by,
                 "created_at": r.created_at, "last_used_at": r.last_used_at, "revoked_at": r.revoked_at,
                 "revoked_by": r.revoked_by} for r in rows]


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


def verify(db: Database, token: str) -> str | None:
    """The name of the active token ``token``, or None. The lookup is by the token's hash, so the time it takes
    says nothing about how much of a guess was right; the use is noted at most once a minute."""
    token = (token or "").strip()
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    digest = _hash(token)
    with db.session() as s:
        row = s.scalars(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest)).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at is not None:
            return None
        token_id, name, last = row.id, row.name, row.last_used_at
    now = utcnow()
    if last is None or now - last >= TOUCH_EVERY:
        db.run(lambda s: s.execute(update(ApiTokenRow).where(ApiTokenRow.id == token_id,
                                                             ApiTokenRow.revoked_at.is_(None))
                                   .values(last_used_at=now)))
    return name


def create_for(db: Database, user: Any, name: str) -> tuple[int, str]:
    """``create`` for a signed-in admin (the Users page): the role is checked here, in the core."""
    from .tickets import require

    admin = require(user, Role.admin, db)
    return create(db, name, admin.username)


def revoke_for(db: Database, user: Any, token_id: int) -> None:
    """``revoke`` for a signed-in admin (the Users page): the role is checked here, in the core."""
    from .tickets import require

    admin = require(user, Role.admin, db)
    revoke(db, token_id, admin.username)
