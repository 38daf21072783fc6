"""Processing throughput of one against two ``python -m cx_core worker --no-simulate`` processes over the same
PostgreSQL queue (claimed with ``FOR UPDATE SKIP LOCKED``), measured side by side: rounds alternate one and two
workers, each on a fresh batch of simulated tickets, timed from the batch's arrival to its last ticket processed
(the workers are started and warmed on a few tickets first, so model loading is not counted). Each worker gets
``cores / workers`` torch threads (``OMP_NUM_THREADS``), so two workers do not fight over the same cores.
Usage: ``python benchmarks/workers.py [--tickets 120] [--rounds 3]``."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sqlalchemy import func, select  # noqa: E402

from benchmarks.results_file import write_section  # noqa: E402
from cx_core import desk  # noqa: E402
from cx_core.store.db import Database, utcnow  # noqa: E402
from cx_core.store.tables import TicketRow  # noqa: E402
from domains.lumen.demo.simulator import Simulator  # noqa: E402

PG_ADMIN = os.environ.get("TANDEM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
CORES = os.cpu_count() or 1


def left(db: Database, prefix: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).where(TicketRow.id.like(f"{prefix}%"),
                                                       TicketRow.status.in_(("new", "processing")))) or 0)


def claimers(db: Database, prefix: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count(func.distinct(TicketRow.claimed_by)))
                            .where(TicketRow.id.like(f"{prefix}%"), TicketRow.processed_at.is_not(None))) or 0)


def wait_until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not finish in time; is something else loading the machine?")
        time.sleep(0.2)


def one_round(db: Database, sim: Simulator, env: dict[str, str], workers: int, n: int, tag: str) -> float:
    """Tickets per second of ``workers`` processes on a batch of ``n`` new tickets."""
    threads = str(max(1, CORES // workers))
    procs = [subprocess.Popen([sys.executable, "-m", "cx_core", "worker", "--no-simulate"], cwd=ROOT,
                              env={**env, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        warm = f"W{tag}-"
        for i in range(12):  # until every worker has processed a ticket (its models are loaded)
            batch = sim.tickets(workers * 2, utcnow())
            for j, t in enumerate(batch):
                t.id = f"{warm}{i}-{j}"
            desk.add_tickets(db, batch, source="bench")
            wait_until(lambda: left(db, warm) == 0, 600)
            if claimers(db, warm) >= workers:
                break
        batch = sim.tickets(n, utcnow())
        prefix = f"M{tag}-"
        for j, t in enumerate(batch):
            t.id = f"{prefix}{j:04d}"
        started = time.perf_counter()
        desk.add_tickets(db, batch, source="bench")
        wait_until(lambda: left(db, prefix) == 0, 1800)
        return n / (time.perf_counter() - started)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tickets", type=int, default=120, help="tickets per measured batch")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        raise SystemExit("no PostgreSQL server on 127.0.0.1:5432 (set TANDEM_BENCH_PG)") from None
    name = f"bench_workers_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE DATABASE {name}")
    url = PG_ADMIN.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + f"/{name}"
    data = Path(tempfile.mkdtemp(prefix="tandem-workers-"))
    env = {**os.environ, "TANDEM_DATA_DIR": str(data), "TANDEM_DATABASE_URL": url}
    try:
        subprocess.run([sys.executable, "-m", "cx_core", "demo", "--tickets", "0"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        db = Database(url)
        sim = Simulator(db, seed=3)
        rates: dict[int, list[float]] = {1: [], 2: []}
        for r in range(args.rounds):
            for workers in (1, 2) if r % 2 == 0 else (2, 1):
                rates[workers].append(one_round(db, sim, env, workers, args.tickets, f"{r}{workers}"))
                print(f"round {r + 1}: {workers} worker(s) {rates[workers][-1]:.2f} tickets/s", file=sys.stderr)
        db.dispose()
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    rounds = " · ".join(f"{a:.2f} / {b:.2f}" for a, b in zip(rates[1], rates[2], strict=True))
    text = (f"## Workers on PostgreSQL (measured {time.strftime('%Y-%m-%d')}, `python benchmarks/workers.py`)\n\n"
            f"{args.tickets} simulated tickets per batch, {args.rounds} rounds alternating one and two worker "
            f"processes on {CORES} cores (each worker with {CORES} ÷ workers torch threads); the full pipeline, "
            "offline engine.\n\n| workers | tickets/s (median) | × one worker |\n|---|---|---|\n"
            f"| 1 | {one:.2f} | 1.00× |\n| 2 | {two:.2f} | {two / one:.2f}× |\n\n"
            f"Each round, one / two workers: {rounds} tickets/s.\n")
    print(text)
    write_section("workers", text)


if __name__ == "__main__":
    main()
