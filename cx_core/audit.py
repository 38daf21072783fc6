"""The audit log: typed, append-only, hash-chained events written only by the core.

Each event's hash covers its fields and the previous hash, so editing, deleting or reordering any row
breaks the chain from that row on; ``verify`` names the first event that does not match.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from .access import require
from .errors import InvalidInput
from .models import AuditEvent, Role
from .redact import redact_secrets
from .secret_mask import mask
from .store.db import Database, utcnow
from .store.tables import AuditHeadRow, AuditRow

GENESIS = "0" * 64


def _digest(seq: int, at: datetime, actor: str, kind: str, ticket_id: str | None, data: str, prev: str) -> str:
    payload = json.dumps([seq, at.isoformat(timespec="microseconds"), actor, kind, ticket_id, data, prev],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _canonical(data: dict[str, Any]) -> str:
    """The event's data as it is hashed and kept: card numbers and the like redacted, and every secret masked
    (``secret_mask``) before the hash is taken, so the chain verifies and can never hold one."""
    return mask(redact_secrets(json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)))


def append(s: Session, actor: str, kind: str, ticket_id: str | None = None, **data: Any) -> int:
    """Adds one event inside the caller's transaction; returns its sequence number.

    The head row is updated before it is read, which takes the write lock on SQLite and a row lock on
    PostgreSQL, so concurrent appenders queue instead of forking the chain.
    """
    if s.get(AuditHeadRow, 1) is None:
        s.add(AuditHeadRow(id=1, seq=0, hash=GENESIS))
        s.flush()
    s.execute(update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=AuditHeadRow.seq + 1))
    head = s.scalars(select(AuditHeadRow).where(AuditHeadRow.id == 1).execution_options(populate_existing=True)).one()
    seq = head.seq
    prev = head.hash
    at = utcnow()
    text = _canonical(data)
    digest = _digest(seq, at, actor, kind, ticket_id, text, prev)
    s.add(AuditRow(seq=seq, at=at, actor=actor, kind=kind, ticket_id=ticket_id, data=text, prev_hash=prev,
                   hash=digest))
    head.hash = digest
    s.flush()
    return seq


def append_many(s: Session, actor: str, kind: str, events: list[tuple[str | None, dict[str, Any]]]) -> None:
    """Adds one ``kind`` event per (ticket id, data) pair, in order, inside the caller's transaction: the same
    chain as that many :func:`append` calls, with the head locked and moved once and the rows inserted together
    (bulk intake)."""
    if not events:
        return
    if s.get(AuditHeadRow, 1) is None:
        s.add(AuditHeadRow(id=1, seq=0, hash=GENESIS))
        s.flush()
    s.execute(update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=AuditHeadRow.seq + len(events)))
    head = s.scalars(select(AuditHeadRow).where(AuditHeadRow.id == 1).execution_options(populate_existing=True)).one()
    seq, prev = head.seq - len(events), head.hash
    rows = []
    for ticket_id, data in events:
        seq += 1
        at, text = utcnow(), _canonical(data)
        digest = _digest(seq, at, actor, kind, ticket_id, text, prev)
        rows.append({"seq": seq, "at": at, "actor": actor, "kind": kind, "ticket_id": ticket_id, "data": text,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    s.execute(insert(AuditRow), rows)
    head.hash = prev
    s.flush()


@dataclass
class VerifyResult:
    ok: bool
    count: int
    message: str


def head(db: Database) -> tuple[int, str] | None:
    """The chain's newest event as (sequence number, hash), or None before anything was recorded."""
    with db.session() as s:
        row = s.scalars(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1)).first()
        return (row.seq, row.hash) if row is not None else None


def anchor(db: Database) -> str:
    """The current head as ``SEQ:HASH``, to keep outside the database (a ticket system, a signed e-mail, paper):
    a chain rewritten from its first event verifies on its own, but no longer contains a kept anchor."""
    found = head(db)
    if found is None:
        raise InvalidInput("no audit events yet: there is nothing to anchor")
    return f"{found[0]}:{found[1]}"


def parse_anchor(text: str) -> tuple[int | None, str]:
    seq, _, digest = text.strip().rpartition(":")
    if not re.fullmatch(r"[0-9a-f]{64}", digest) or (seq and not seq.isdigit()):
        raise InvalidInput("--anchor: give the SEQ:HASH (or the 64-hex-digit hash) that 'audit anchor' printed")
    return (int(seq) if seq else None), digest


def _supervisor(db: Database, user: Any) -> None:

    require(user, Role.supervisor, db)


def anchor_for(db: Database, user: Any) -> str:
    """``anchor`` for a person on the Audit log page (supervisors)."""
    _supervisor(db, user)
    return anchor(db)


def verify_for(db: Database, user: Any, anchor_text: str = "") -> VerifyResult:
    """``verify`` for a person on the Audit log page (supervisors). ``verify`` and ``anchor`` themselves check no
    role: the operator's command line (``audit verify``, ``audit anchor``) runs them."""
    _supervisor(db, user)
    return verify(db, anchor_text)


def verify(db: Database, anchor_text: str = "") -> VerifyResult:
    """Walks the chain in order; the first event whose link or hash does not match is named. With an anchor kept
    from ``anchor``, the chain must still contain that event, with that hash, at that place."""
    want = parse_anchor(anchor_text) if anchor_text else None
    result = _walk(db)
    if not result.ok or want is None:
        return result
    seq, digest = want
    with db.session() as s:
        stmt = select(AuditRow).where(AuditRow.hash == digest)
        row = s.scalars(stmt.where(AuditRow.seq == seq) if seq is not None else stmt).first()
    if row is None:
        where = f"event {seq}" if seq is not None else "any event"
        return VerifyResult(False, result.count, f"the chain no longer contains the anchor: {where} does not have "
                                                 f"hash {digest[:12]}…, so the log was rewritten after it was kept")
    return VerifyResult(True, result.count, f"{result.message}; it contains the anchor (event {row.seq})")


def _walk(db: Database) -> VerifyResult:
    prev = GENESIS
    count = 0
    expected_seq = 1
    with db.session() as s:
        for row in s.scalars(select(AuditRow).order_by(AuditRow.seq)).yield_per(500):
            if row.seq != expected_seq:
                return VerifyResult(False, count, f"event {expected_seq} is missing (next found is {row.seq})")
            if row.prev_hash != prev:
                return VerifyResult(False, count, f"event {row.seq} ({row.kind}) does not link to event {row.seq - 1}")
            if _digest(row.seq, row.at, row.actor, row.kind, row.ticket_id, row.data, row.prev_hash) != row.hash:
                return VerifyResult(False, count, f"event {row.seq} ({row.kind}, {row.at:%Y-%m-%d %H:%M:%S}) "
                                                  "was changed after it was written")
            prev = row.hash
            count += 1
            expected_seq += 1
        head = s.get(AuditHeadRow, 1)
    if head is not None and (head.seq != count or head.hash != prev):
        return VerifyResult(False, count, f"the chain ends at event {count} but the head says {head.seq}: "
                                          "events were removed from the end")
    if count == 0:
        return VerifyResult(True, 0, "no audit events yet: nothing has been recorded in this data folder")
    return VerifyResult(True, count, f"audit chain intact: {count} events")


def events(db: Database, user: Any, ticket_id: str | None = None, limit: int = 200) -> list[AuditEvent]:
    """The newest events first, all or one ticket's (the Audit log page; supervisors)."""
    _supervisor(db, user)
    with db.session() as s:
        stmt = select(AuditRow).order_by(AuditRow.seq.desc()).limit(limit)
        if ticket_id:
            stmt = stmt.where(AuditRow.ticket_id == ticket_id)
        return [AuditEvent(seq=r.seq, at=r.at, actor=r.actor, kind=r.kind, ticket_id=r.ticket_id,
                           data=json.loads(r.data), prev_hash=r.prev_hash, hash=r.hash) for r in s.scalars(stmt)]
