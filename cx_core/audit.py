"""The audit log: typed, append-only, hash-chained events written only by the core.

Each event's hash covers its fields and the previous hash, so editing, deleting or reordering any row
breaks the chain from that row on; ``verify`` names the first event that does not match.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import AuditEvent
from .redact import redact_secrets
from .store.db import Database, utcnow
from .store.tables import AuditHeadRow, AuditRow

GENESIS = "0" * 64


def _digest(seq: int, at: datetime, actor: str, kind: str, ticket_id: str | None, data: str, prev: str) -> str:
    payload = json.dumps([seq, at.isoformat(timespec="microseconds"), actor, kind, ticket_id, data, prev],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _canonical(data: dict[str, Any]) -> str:
    return redact_secrets(json.dumps(data, sort_keys=True, default=str, ensure_ascii=False))


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


@dataclass
class VerifyResult:
    ok: bool
    count: int
    message: str


def verify(db: Database) -> VerifyResult:
    """Walks the chain in order; the first event whose link or hash does not match is named."""
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
    return VerifyResult(True, count, f"audit chain intact: {count} events")


def events(db: Database, ticket_id: str | None = None, limit: int = 200) -> list[AuditEvent]:
    with db.session() as s:
        stmt = select(AuditRow).order_by(AuditRow.seq.desc()).limit(limit)
        if ticket_id:
            stmt = stmt.where(AuditRow.ticket_id == ticket_id)
        return [AuditEvent(seq=r.seq, at=r.at, actor=r.actor, kind=r.kind, ticket_id=r.ticket_id,
                           data=json.loads(r.data), prev_hash=r.prev_hash, hash=r.hash) for r in s.scalars(stmt)]
