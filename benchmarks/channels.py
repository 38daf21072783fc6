"""Ways in and out, side by side in one run on SQLite: messages stored per second by ``conversations.receive`` (new
tickets, follow-ups, and the same deliveries again, which are recognised and store nothing) against the batched file
import; tickets acknowledged per second by the real HTTP API (``python -m cx_core api``, one client, keep-alive);
and replies delivered per second by the dispatcher to a local HTTP service honouring ``Idempotency-Key`` against
replies kept in Tandem. Usage: ``python benchmarks/channels.py [--messages 2000]``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx  # noqa: E402

from benchmarks.results_file import write_section  # noqa: E402
from cx_core import api_tokens, conversations, delivery, desk, outbox  # noqa: E402
from cx_core.config import load_settings  # noqa: E402
from cx_core.conversations import Inbound  # noqa: E402
from cx_core.domain import find  # noqa: E402
from cx_core.models import TicketIn  # noqa: E402
from cx_core.packs import use  # noqa: E402
from cx_core.store.db import Database  # noqa: E402
from cx_core.store.tables import TicketRow  # noqa: E402
from domains.lumen.demo.world import build_world  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from tests.servers.sink import running_sink  # noqa: E402


def per_second(n: int, started: float) -> float:
    return n / (time.perf_counter() - started)


def intake(db: Database, n: int) -> dict[str, float]:
    body = "Hello, my order has not arrived yet and the tracking page has not changed for a week. Can you help?"
    started = time.perf_counter()
    for i in range(n):
        conversations.receive(db, Inbound(source="api", ticket_id=f"R-{i}", body=body, channel="email"))
    new = per_second(n, started)
    started = time.perf_counter()
    for i in range(n):
        conversations.receive(db, Inbound(source="api", ticket_id=f"R-{i}", external_id=f"f-{i}", body="Any news?"))
    follow = per_second(n, started)
    started = time.perf_counter()
    for i in range(n):
        conversations.receive(db, Inbound(source="api", ticket_id=f"R-{i}", external_id=f"f-{i}", body="Any news?"))
    again = per_second(n, started)
    batch = [TicketIn(id=f"I-{i}", body=body) for i in range(n)]
    started = time.perf_counter()
    desk.add_tickets(db, batch, source="import")
    return {"new": new, "follow": follow, "again": again, "import": per_second(n, started)}


def through_api(data: Path, n: int) -> float:
    settings = load_settings(data_dir=data, database_url="")
    db = Database(settings.db_url)
    _, token = api_tokens.create(db, "bench", "bench")
    port = free_port()
    env = {**os.environ, "TANDEM_DATA_DIR": str(data), "TANDEM_DATABASE_URL": ""}
    proc = subprocess.Popen([sys.executable, "-m", "cx_core", "api", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api/v1"
    try:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            for _ in range(200):
                try:
                    if client.get(f"{url}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            started = time.perf_counter()
            for i in range(n):
                r = client.post(f"{url}/tickets", json={"id": f"A-{i}", "body": "Where is my parcel?"})
                assert r.status_code == 201, r.text
            return per_second(n, started)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        db.dispose()


def outgoing(data: Path, db: Database, n: int) -> dict[str, float]:
    out = {}
    with running_sink(data) as sink:
        for name, source, settings in (
                ("kept", "import", load_settings(data_dir=data, database_url="")),
                ("http", "api", load_settings(data_dir=data, database_url="", outbound_webhook_url=f"{sink.url}/h"))):
            with db.tx() as s:
                for i in range(n):
                    row = s.get(TicketRow, f"R-{i}")
                    assert row is not None
                    row.source = source
                    outbox.reply(s, row, "c@example.net", "Re", f"Answer {i}", "agent", "example.com")
            channels = delivery.deliverers(settings)
            started = time.perf_counter()
            done = 0
            while (tried := delivery.run_once(db, settings, channels, limit=50)):
                done += tried
            assert done == n
            out[name] = per_second(n, started)
        assert len(sink.applied()) == n
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=2000)
    args = ap.parse_args()
    n = args.messages
    use(find("lumen"))
    data = Path(tempfile.mkdtemp(prefix="tandem-channels-"))
    db = Database(f"sqlite:///{data / 'tandem.db'}")
    db.migrate()
    build_world(db, 20261121, date(2026, 11, 21), customers=50, orders=150)
    got = intake(db, n)
    api = through_api(data, n)
    sent = outgoing(data, db, n)
    text = (f"## Ways in and out (measured {date.today():%Y-%m-%d}, `python benchmarks/channels.py`)\n\n"
            f"SQLite, {n:,} messages each, one process, 2 cores.\n\n"
            "| path | per second | × file import |\n|---|---|---|\n"
            f"| file import (`add_tickets`, batched) | {got['import']:,.0f} | 1.0× |\n"
            f"| `conversations.receive`: a new ticket | {got['new']:,.0f} | {got['new'] / got['import']:.2f}× |\n"
            f"| `conversations.receive`: a follow-up (the ticket goes back to the agent) | {got['follow']:,.0f} | "
            f"{got['follow'] / got['import']:.2f}× |\n"
            f"| `conversations.receive`: the same delivery again (nothing stored) | {got['again']:,.0f} | "
            f"{got['again'] / got['import']:.2f}× |\n"
            f"| `POST /api/v1/tickets` over HTTP, acknowledged (stored; the worker reads it) | {api:,.0f} | "
            f"{api / got['import']:.2f}× |\n\n"
            "| delivery | replies per second | × kept |\n|---|---|---|\n"
            f"| kept in Tandem (imported tickets) | {sent['kept']:,.0f} | 1.0× |\n"
            f"| POSTed to a local service with `Idempotency-Key` | {sent['http']:,.0f} | "
            f"{sent['http'] / sent['kept']:.2f}× |\n\n"
            "Each new message is one transaction with its audit event; a delivery seen again is answered from the "
            "unique index on outside ids without a write. The API answers before any agent work, so its rate is the "
            "store's plus HTTP and JSON. The dispatcher claims 50 messages per transaction and records each "
            "delivery in its own.\n")
    print(text)
    write_section("channels", text)
    db.dispose()


if __name__ == "__main__":
    main()
