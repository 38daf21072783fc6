"""Replays the tickets written in customers' own words and scores them, both halves of the fixed tune/check split:
``../shared/data/tickets-natural`` (the development set), ``evaluation/natural`` (the project's own, written the
same way by someone who had not read the readers), ``evaluation/natural-2`` to ``evaluation/natural-16`` (a second
to sixteenth such set, each measured before any rule was changed for it). Each company's world is built as on the
tickets' day (``demo --today``), Northwind's records in its own HTTP service (the tests' service, seeded for that
day); a set whose folder is absent is skipped.

    python benchmarks/natural_tickets.py [--sets shared,own,…,eleventh] [--packs lumen,airline,northwind] [--keep DIR]

Prints one JSON object per (set, pack) and a table; ``--details DIR`` writes every ticket's judgement."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETS = {"shared": ROOT.parent / "shared" / "data" / "tickets-natural", "own": ROOT / "evaluation" / "natural",
        "fresh": ROOT / "evaluation" / "natural-2", "third": ROOT / "evaluation" / "natural-3",
        "fourth": ROOT / "evaluation" / "natural-4", "fifth": ROOT / "evaluation" / "natural-5",
        "sixth": ROOT / "evaluation" / "natural-6", "seventh": ROOT / "evaluation" / "natural-7",
        "eighth": ROOT / "evaluation" / "natural-8", "ninth": ROOT / "evaluation" / "natural-9",
        "tenth": ROOT / "evaluation" / "natural-10", "eleventh": ROOT / "evaluation" / "natural-11",
        "twelfth": ROOT / "evaluation" / "natural-12", "thirteenth": ROOT / "evaluation" / "natural-13",
        "fourteenth": ROOT / "evaluation" / "natural-14",
        "fifteenth": ROOT / "evaluation" / "natural-15", "sixteenth": ROOT / "evaluation" / "natural-16"}
DAY = "2026-11-20"
TOKEN = "nw-dev-token-2026"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "cx_core", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--sets", default="shared,own,fresh,third,fourth,fifth,sixth,seventh,eighth,ninth,tenth,eleventh,"
                                     "twelfth,thirteenth,fourteenth,fifteenth,sixteenth")
    p.add_argument("--packs", default="lumen,airline,northwind")
    p.add_argument("--keep", help="a folder to build the worlds in and keep (built once, reused)")
    p.add_argument("--details", help="a folder for each set's details")
    args = p.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tandem-natural-"))
    base.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_") or k == "TANDEM_EMBEDDING_CACHE"}
    env["HF_HUB_OFFLINE"] = "1"
    server = None
    rows = []
    try:
        for pack in args.packs.split(","):
            penv = {**env, "TANDEM_DOMAIN": pack, "TANDEM_DATA_DIR": str(base / pack)}
            if pack == "northwind":
                port = _port()
                fresh = base / f"northwind-{port}.sqlite"
                server = subprocess.Popen([sys.executable, "-m", "tests.servers.northwind_energy", "--port", str(port),
                                           "--db", str(fresh), "--today", DAY, "--token", TOKEN], cwd=ROOT, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(3)
                penv.update(TANDEM_NORTHWIND_URL=f"http://127.0.0.1:{port}", TANDEM_NORTHWIND_TOKEN=TOKEN,
                            TANDEM_ADMIN_PASSWORD="natural-tickets")
            if not (base / pack / "tandem.db").exists():
                _run(["demo", "--tickets", "0", "--today", DAY], penv)
            for name in args.sets.split(","):
                folder = SETS[name]
                tickets, expected = folder / f"{pack}.jsonl", folder / f"{pack}.expected.jsonl"
                if not tickets.exists():
                    continue
                extra = ["--details", str(Path(args.details) / f"{name}-{pack}.json")] if args.details else []
                if args.details:
                    Path(args.details).mkdir(parents=True, exist_ok=True)
                out = json.loads(_run(["eval", "natural", "--tickets", str(tickets), "--expected", str(expected),
                                       "--today", DAY, "--json", *extra], penv).strip().splitlines()[-1])
                row = {"set": name, "pack": pack, **out}
                print(json.dumps(row), flush=True)
                rows.append(row)
            if server is not None:
                server.terminate()
                server = None
    finally:
        if server is not None:
            server.terminate()
    print("\n| set | pack | tune exact | check exact | all exact (of acts) | must_not |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['set']} | {r['pack']} | {r['tune']['exact']}/{r['tune']['tickets']} | "
              f"{r['check']['exact']}/{r['check']['tickets']} | {r['all']['exact']}/{r['all']['tickets']} "
              f"({r['all']['exact_of_acts']}) | {r['all']['must_not_violated']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
