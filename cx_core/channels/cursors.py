"""How far a polled channel has read (a mailbox's UIDVALIDITY and last UID, a helpdesk's last look), kept in the
database so a restart or another worker goes on from there."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..store.db import Database, utcnow
from ..store.tables import ChannelCursorRow


def read(db: Database, name: str) -> dict[str, Any]:
    with db.session() as s:
        row = s.get(ChannelCursorRow, name)
        return dict(row.value) if row is not None else {}


def save(db: Database, name: str, value: dict[str, Any]) -> None:
    def write(s: Session) -> None:
        row = s.get(ChannelCursorRow, name)
        if row is None:
            s.add(ChannelCursorRow(name=name, value=value, updated_at=utcnow()))
        else:
            row.value, row.updated_at = value, utcnow()

    db.run(write)
