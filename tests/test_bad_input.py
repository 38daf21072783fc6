"""Bad input and odd states get one clear line: an empty data folder, an over-long ticket, a rewritten audit log."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from cx_core import audit, desk
from cx_core.models import MAX_BODY_CHARS
from cx_core.services import Services
from cx_core.store.tables import AuditRow
from tests.test_cli import run


def test_audit_commands_on_a_folder_where_nothing_ran_say_so_in_one_line(tmp_path: Path) -> None:
    verify = run(["audit", "verify"], tmp_path / "empty")
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.strip() == "no audit events yet: nothing has been recorded in this data folder"
    assert "Traceback" not in verify.stderr
    anchor = run(["audit", "anchor"], tmp_path / "empty")
    assert anchor.returncode == 2 and anchor.stderr.strip() == "error: no audit events yet: there is nothing to anchor"


def test_a_chain_rewritten_from_its_first_event_no_longer_holds_its_anchor(services: Services) -> None:
    for i in range(3):
        with services.db.tx() as s:
            audit.append(s, "tester", "test.event", f"T-{i}", value=i)
    kept = audit.anchor(services.db)
    assert audit.verify(services.db, kept).ok
    with services.db.tx() as s:  # later events do not disturb the anchor
        audit.append(s, "tester", "test.event", "T-9", value=9)
    assert audit.verify(services.db, kept).ok
    # rewrite every event from the first, recomputing each hash: the chain verifies on its own...
    with services.db.tx() as s:
        prev = audit.GENESIS
        for row in s.scalars(select(AuditRow).order_by(AuditRow.seq)):
            if row.seq == 1:
                row.actor = "someone-else"
            row.prev_hash = prev
            row.hash = audit._digest(row.seq, row.at, row.actor, row.kind, row.ticket_id, row.data, prev)
            prev = row.hash
        from cx_core.store.tables import AuditHeadRow

        head = s.get(AuditHeadRow, 1)
        assert head is not None
        head.hash = prev
    assert audit.verify(services.db).ok
    # ...but not against the anchor kept outside
    result = audit.verify(services.db, kept)
    assert not result.ok and "no longer contains the anchor" in result.message


def test_a_bad_anchor_is_one_line(services: Services) -> None:
    import pytest

    from cx_core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="--anchor: give the SEQ:HASH"):
        audit.verify(services.db, "not-a-hash")


def test_a_long_ticket_is_kept_whole_and_one_over_the_limit_is_refused_by_line(tmp_path: Path) -> None:
    whole = "word " * 30_000  # 150,000 characters: more than the old silent cut
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in [
        {"id": "long", "channel": "email", "body": whole},
        {"id": "too-long", "channel": "email", "body": "x" * (MAX_BODY_CHARS + 1)},
        {"id": "ok", "channel": "chat", "body": "hello"}]) + "\n", encoding="utf-8")
    good, bad = desk.parse_ticket_file(path)
    assert [t.id for _, t in good] == ["long", "ok"] and good[0][1].body == whole
    assert [b.message for b in bad] == [f"line 2: field 'body': {MAX_BODY_CHARS + 1:,} characters; the limit is "
                                        f"{MAX_BODY_CHARS:,}"]
