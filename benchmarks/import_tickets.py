"""Bulk intake: tickets stored per second by the batched ``add_tickets`` (a few hundred per transaction, one audit
event each) against the former path (one transaction and one audit append per ticket, kept here only to compare),
side by side in one run on SQLite and PostgreSQL, plus ``python -m cx_core import-tickets`` end to end (parsing,
progress bar, storing). Usage: ``python benchmarks/import_tickets.py [--tickets 100000] [--old 3000]
[--no-postgres]``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sqlalchemy.exc import IntegrityError  # noqa: E402

from benchmarks.results_file import write_section  # noqa: E402
from cx_core import audit, conversations  # noqa: E402
from cx_core.models import TicketIn  # noqa: E402
from cx_core.redact import redact_secrets  # noqa: E402
from cx_core.store.db import Database, utcnow  # noqa: E402
from cx_core.store.tables import MessageRow, TicketRow  # noqa: E402
from domains.lumen.demo.simulator import Simulator  # noqa: E402
from domains.lumen.demo.world import build_world  # noqa: E402
from domains.lumen.records import find_customer  # noqa: E402

PG_ADMIN = os.environ.get("TANDEM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def one_by_one(db: Database, batch: list[TicketIn], source: str, actor: str = "intake") -> tuple[int, int]:
    """The former intake: a transaction, a customer lookup and an audit append for every ticket."""
    added = skipped = 0
    for t in batch:
        try:
            with db.tx() as s:
                if s.get(TicketRow, t.id) is not None:
                    skipped += 1
                    continue
                cust = find_customer(s, t.customer)
                created = (t.created_at.replace(tzinfo=None) if t.created_at else utcnow())
                s.add(TicketRow(id=t.id, customer_ref=t.customer, customer_id=cust.user_id if cust else None,
                                channel=t.channel, subject=redact_secrets(t.subject)[:500],
                                body=redact_secrets(t.body), created_at=created, source=source, status="new"))
                s.flush()
                s.add(MessageRow(ticket_id=t.id, author="customer", body=redact_secrets(t.body), created_at=created))
                audit.append(s, actor, "ticket.received", t.id, channel=t.channel, source=source,
                             customer_id=cust.user_id if cust else None)
                added += 1
        except IntegrityError:
            skipped += 1
    return added, skipped


def world(url: str) -> None:
    db = Database(url)
    build_world(db, 20261121, date(2026, 11, 21))
    db.dispose()


def simulated(url: str, n: int, prefix: str) -> list[TicketIn]:
    db = Database(url)
    sim = Simulator(db, seed=11)
    out = []
    for i, t in enumerate(sim.tickets(n, utcnow(), spread_minutes=60 * 24 * 30)):
        t.id = f"{prefix}-{i:06d}"
        out.append(t)
    db.dispose()
    return out


def rate(fn: Callable[[Database, list[TicketIn], str], tuple[int, int]], db: Database,
         batch: list[TicketIn]) -> float:
    started = time.perf_counter()
    added, _ = fn(db, batch, "bench")
    took = time.perf_counter() - started
    assert added == len(batch)
    assert audit.verify(db).ok
    return len(batch) / took


def measure(name: str, url_old: str, url_new: str, url_cli: str, data: Path, n: int, n_old: int) -> str:
    for url in (url_old, url_new, url_cli):
        world(url)
    batch = simulated(url_new, n, "N")
    old = rate(one_by_one, Database(url_old), batch[:n_old])
    new = rate(conversations.add_tickets, Database(url_new), batch)
    path = data / "tickets.jsonl"
    path.write_text("".join(json.dumps({**t.model_dump(mode="json"), "id": f"C-{t.id}"}) + "\n" for t in batch),
                    encoding="utf-8")
    env = {**os.environ, "TANDEM_DATA_DIR": str(data), "TANDEM_DATABASE_URL": url_cli}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cx_core", "import-tickets", str(path)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end_to_end = n / (time.perf_counter() - started)
    return (f"### {name}\n\n| path | tickets | tickets/s | × former |\n|---|---|---|---|\n"
            f"| former: one transaction and audit append per ticket | {n_old:,} | {old:,.0f} | 1.0× |\n"
            f"| `add_tickets`: {conversations.IMPORT_BATCH} per transaction, one audit event each | {n:,} | {new:,.0f} | "
            f"{new / old:.1f}× |\n"
            f"| `python -m cx_core import-tickets FILE.jsonl` end to end (start, parse, store) | {n:,} | "
            f"{end_to_end:,.0f} | {end_to_end / old:.1f}× |\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--old", type=int, default=3_000, help="tickets stored by the former path")
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="tandem-import-"))
    sections = [measure("SQLite", f"sqlite:///{data / 'old.db'}", f"sqlite:///{data / 'new.db'}",
                        f"sqlite:///{data / 'cli.db'}", data, args.tickets, args.old)]
    print(sections[-1])
    if not args.no_postgres:
        try:
            import psycopg

            admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
        except Exception:  # noqa: BLE001 - no server: only SQLite is measured, and the section says so
            admin = None
        if admin is not None:
            tag = uuid.uuid4().hex[:8]
            names = [f"bench_{kind}_{tag}" for kind in ("old", "new", "cli")]
            for db_name in names:
                admin.execute(f"CREATE DATABASE {db_name}")
            base = PG_ADMIN.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0]
            try:
                sections.append(measure("PostgreSQL", *(f"{base}/{x}" for x in names), data, args.tickets,
                                        args.old))
                print(sections[-1])
            finally:
                for db_name in names:
                    admin.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
                admin.close()
        else:
            sections.append("PostgreSQL: not measured (no server on 127.0.0.1:5432).")
    text = (f"## Bulk ticket import (measured {time.strftime('%Y-%m-%d')}, `python benchmarks/import_tickets.py`)\n\n"
            "Simulated tickets about the demo company's customers, into a demo world (search index, triggers and "
            "inbox indexes in place); every stored ticket has its own `ticket.received` audit event and the chain "
            "verifies after each path.\n\n" + "\n".join(sections))
    write_section("import", text)


if __name__ == "__main__":
    main()
