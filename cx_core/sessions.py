"""Signed-in browser sessions: signed, expiring, revocable tokens with their record on the server.

A token is ``SECRET.SIGNATURE``: 32 random bytes and their HMAC-SHA256 under the server key (``session_secret``,
else a random key kept in ``data_dir/session.key``). The browser keeps it in a cookie; the server keeps only the
SHA-256 of the secret part with the account, the expiry (``session_hours`` after sign-in) and the revocation.
:func:`resume` is asked on every page run and answers with the account as stored now, so a changed role applies
at once and a deactivated account, an expired or revoked session, or a forged or altered token signs out.
Signing out ends every session of the account (:func:`end_all`); deactivating an account or setting a new
password does the same. Starts and ends are audit events.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from . import audit
from .access import StaffUser
from .config import Settings
from .errors import ConfigError, DatabaseBusy
from .models import Role
from .store.db import Database, utcnow
from .store.tables import StaffSessionRow, StaffUserRow

log = logging.getLogger("tandem.sessions")
KEY_FILE = "session.key"
TOUCH_EVERY = timedelta(minutes=5)  # last_seen_at is written at most this often per session
KEEP_ENDED = timedelta(days=30)  # expired session records are kept this long, then dropped
MAX_TOKEN = 200


@dataclass(frozen=True)
class SessionKeys:
    """The key that signs tokens and how long a session lasts; ``from_settings`` reads ``session_*``."""

    secret: bytes
    lifetime: timedelta = timedelta(hours=12)

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionKeys:
        configured = settings.session_secret.get_secret_value().strip()
        if configured and len(configured) < 16:
            raise ConfigError("session_secret: at least 16 characters (or leave it empty for a generated key)")
        secret = configured.encode("utf-8") if configured else _stored_key(settings.data_dir / KEY_FILE)
        return cls(secret=secret, lifetime=timedelta(hours=settings.session_hours))

    @property
    def cookie_name(self) -> str:
        """The cookie's name, distinct per key, so two Tandem servers on one host never overwrite each other's."""
        return "tandem_session_" + hmac.new(self.secret, b"cookie-name", hashlib.sha256).hexdigest()[:10]

    def sign(self, raw: str) -> str:
        mac = hmac.new(self.secret, raw.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def _stored_key(path: Path) -> bytes:
    """The generated key in ``path``, made on first use (readable by its owner only). Several processes starting
    together agree on one key: it is written to a private file and linked into place, which only one can do."""
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= 32:
            return key.encode("ascii")
        raise ConfigError(f"{path}: the session key is damaged; delete the file to make a new one "
                          "(everyone is signed out)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)
    return _stored_key(path)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def _verified(keys: SessionKeys, token: str) -> str | None:
    """The secret part of a well-formed token whose signature is right, else None."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN or token.count(".") != 1:
        return None
    raw, signature = token.split(".")
    if not raw or not raw.isascii() or not signature.isascii():
        return None
    return raw if hmac.compare_digest(keys.sign(raw), signature) else None


def start(db: Database, user: StaffUser, client: str = "", *, keys: SessionKeys,
          now: datetime | None = None) -> str:
    """A new session for ``user`` (already authenticated); returns the token for the browser's cookie."""
    now = now or utcnow()
    raw = secrets.token_urlsafe(32)
    expires = now + keys.lifetime
    with db.tx() as s:
        s.add(StaffSessionRow(token_hash=_hash(raw), username=user.username, created_at=now, expires_at=expires,
                              last_seen_at=now, client=client.strip()[:200]))
        s.execute(delete(StaffSessionRow).where(StaffSessionRow.expires_at < now - KEEP_ENDED))
        audit.append(s, user.username, "session.started", None, username=user.username, client=client.strip()[:200],
                     expires=expires)
    return f"{raw}.{keys.sign(raw)}"


def resume(db: Database, token: str | None, *, keys: SessionKeys, now: datetime | None = None) -> StaffUser | None:
    """The account of a live session, as stored now (its current role), or None when the token is missing, forged
    or altered, the session expired or was ended, or the account is deactivated or gone."""
    raw = _verified(keys, token or "")
    if raw is None:
        return None
    now = now or utcnow()
    digest = _hash(raw)
    with db.session() as s:
        found = s.execute(select(StaffSessionRow, StaffUserRow)
                          .join(StaffUserRow, StaffUserRow.username == StaffSessionRow.username)
                          .where(StaffSessionRow.token_hash == digest)).first()
    if found is None:
        return None
    session, account = found
    if session.revoked_at is not None or session.expires_at <= now or not account.active:
        return None
    if now - session.last_seen_at >= TOUCH_EVERY:
        _touch(db, digest, now)
    return StaffUser(account.username, account.display_name, Role(account.role))


def _touch(db: Database, digest: str, now: datetime) -> None:
    try:
        with db.tx() as s:
            s.execute(update(StaffSessionRow).where(StaffSessionRow.token_hash == digest).values(last_seen_at=now))
    except DatabaseBusy:
        log.info("session last-seen time not written: the database is busy")  # only a note; the session stands


def revoke_all(s: Session, username: str, reason: str, actor: str, now: datetime | None = None) -> int:
    """Ends every live session of ``username`` inside the caller's transaction; audited when there was one.
    Returns how many were ended."""
    now = now or utcnow()
    done = s.execute(update(StaffSessionRow)
                     .where(StaffSessionRow.username == username, StaffSessionRow.revoked_at.is_(None),
                            StaffSessionRow.expires_at > now)
                     .values(revoked_at=now, revoked_reason=reason[:40]))
    ended = cast(CursorResult[Any], done).rowcount
    if ended:
        audit.append(s, actor, "session.ended", None, username=username, reason=reason, sessions=ended)
    return int(ended or 0)


def end_all(db: Database, username: str, reason: str = "signed out", actor: str | None = None,
            now: datetime | None = None) -> int:
    """Signing out: every session of ``username``, in every browser and tab, ends now."""
    with db.tx() as s:
        return revoke_all(s, username, reason, actor or username, now)

