"""The audit chain: intact after real work, and names the first event edited, removed or cut off."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import delete, text, update

from cx_core import audit
from cx_core.services import Services
from cx_core.store.tables import AuditRow
from tests.helpers import DEMO_ADMIN, cache_env


def _some_events(svc: Services, n: int = 5) -> list[int]:
    seqs = []
    for i in range(n):
        with svc.db.tx() as s:
            seqs.append(audit.append(s, "tester", "test.event", f"T-{i}", value=i, card="4111 1111 1111 1111"))
    return seqs


def test_chain_is_intact_and_secrets_are_redacted(services: Services) -> None:
    before = audit.verify(services.db).count
    _some_events(services)
    result = audit.verify(services.db)
    assert result.ok and result.count == before + 5
    events = audit.events(services.db, DEMO_ADMIN)
    assert all("4111" not in str(e.data) for e in events)


def test_edited_row_is_named(services: Services) -> None:
    seqs = _some_events(services)
    with services.db.tx() as s:
        s.execute(update(AuditRow).where(AuditRow.seq == seqs[2]).values(data='{"value": 99}'))
    result = audit.verify(services.db)
    assert not result.ok
    assert f"event {seqs[2]} " in result.message and "changed" in result.message


def test_removed_rows_are_detected(services: Services) -> None:
    seqs = _some_events(services)
    with services.db.tx() as s:
        s.execute(delete(AuditRow).where(AuditRow.seq == seqs[1]))
    assert f"event {seqs[1]} is missing" in audit.verify(services.db).message


def test_truncated_tail_is_detected(services: Services) -> None:
    seqs = _some_events(services)
    with services.db.tx() as s:
        s.execute(delete(AuditRow).where(AuditRow.seq == seqs[-1]))
    result = audit.verify(services.db)
    assert not result.ok and "removed from the end" in result.message


def test_cli_verify_exit_codes(services: Services) -> None:
    seqs = _some_events(services)
    env = {"TANDEM_DATA_DIR": str(services.settings.data_dir), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
           **cache_env()}
    ok = subprocess.run([sys.executable, "-m", "cx_core", "audit", "verify"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and "intact" in ok.stdout
    with services.db.tx() as s:
        s.execute(text(f"UPDATE audit_events SET actor = 'mallory' WHERE seq = {seqs[3]}"))
    bad = subprocess.run([sys.executable, "-m", "cx_core", "audit", "verify"], env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and f"event {seqs[3]} " in bad.stdout
