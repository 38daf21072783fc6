"""The inbox at scale: what a page, the queue counts, the filter menus, a search, the "mine" view and the ticket
workspace cost with 100,000 tickets and 2,000 more knowledge documents, against the demo's 200 tickets, on SQLite
and on PostgreSQL, measured side by side (interleaved) in one run.

The large store is a copy of the small one plus a history of resolved tickets: the simulator writes them, they are
stored through ``import-tickets`` and given the triage, priority, SLA, advisor and resolution of a processed
ticket, spread over two years. The live queue is the same in both stores, as in a contact centre whose history
grows while its queue does not. Usage: ``python benchmarks/inbox_scale.py [--history 99800] [--docs 2000]
[--runs 7] [--no-postgres]`` (builds its own demo worlds in temporary folders and databases)."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from benchmarks.results_file import write_section  # noqa: E402

PG_ADMIN = os.environ.get("TANDEM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
ADVISORS = ["ada", "ben", "chloe", "dev", "eli", "fay", "gus", "hana", "ivo", "jun", "kim", "lea"]
ALL = ("new", "processing", "open", "escalated", "resolved")


def cli(args: list[str], data: Path, url: str = "") -> float:
    """Runs ``python -m cx_core ARGS`` on ``data`` (and database ``url``); returns the seconds it took."""
    env = {**os.environ, "TANDEM_DATA_DIR": str(data), "TANDEM_DATABASE_URL": url}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cx_core", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def history_file(small_url: str, n: int, path: Path) -> None:
    """``n`` simulated tickets about the demo's customers, spread over the two years before the demo."""
    from cx_core.store.db import Database, utcnow
    from domains.lumen.demo.simulator import Simulator

    db = Database(small_url)
    sim = Simulator(db, seed=99)
    rng = random.Random(99)
    now = utcnow() - timedelta(days=1)
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            t = sim.ticket(now - timedelta(minutes=rng.uniform(0, 2 * 365 * 24 * 60)))
            row = t.model_dump(mode="json")
            row["id"] = f"H-{i:06d}"
            out.write(json.dumps(row) + "\n")
    db.dispose()


def resolve_history(url: str) -> None:
    """Gives every imported history ticket the conclusions of a processed and resolved one."""
    from sqlalchemy import bindparam, select, update

    from cx_core.store.db import Database
    from cx_core.store.tables import TicketRow

    db = Database(url)
    rng = random.Random(7)
    with db.tx() as s:
        shapes = s.execute(select(TicketRow.task_type, TicketRow.urgency, TicketRow.sentiment, TicketRow.language,
                                  TicketRow.priority, TicketRow.confidence)
                           .where(TicketRow.task_type.is_not(None))).all()
        history = s.execute(select(TicketRow.id, TicketRow.created_at).where(TicketRow.id.like("H-%"))).all()
        values = []
        for tid, created in history:
            task_type, urgency, sentiment, language, priority, confidence = rng.choice(shapes)
            handled = created + timedelta(minutes=rng.uniform(5, 600))
            values.append({"b_id": tid, "status": "resolved", "task_type": task_type, "urgency": urgency,
                           "sentiment": sentiment, "language": language, "priority": priority,
                           "confidence": confidence, "sla_due": created + timedelta(hours=4),
                           "processed_at": created + timedelta(seconds=rng.uniform(1, 60)),
                           "assigned_to": rng.choice(ADVISORS), "assigned_at": handled - timedelta(minutes=10),
                           "resolved_at": handled, "summary": "Resolved."})
        s.connection().execute(update(TicketRow).where(TicketRow.id == bindparam("b_id")), values)
    with db.engine.connect() as conn:
        if db.is_sqlite:
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    db.dispose()


def knowledge_folder(n: int, path: Path) -> None:
    """``n`` Markdown articles of three sections each."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(5)
    path.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        product = f"{fake.color_name()} {fake.word()} {i}"
        sections = "\n\n".join(f"## {fake.sentence(nb_words=4).rstrip('.')}\n\n{fake.paragraph(nb_sentences=5)}"
                               for _ in range(3))
        (path / f"bench-{i:04d}.md").write_text(f"# {product.title()}\n\n{sections}\n", encoding="utf-8")


def grow(small: tuple[Path, str], big: tuple[Path, str], history: int, docs: int, work: Path) -> dict[str, float]:
    """Makes ``big`` the small store plus ``history`` resolved tickets and ``docs`` knowledge documents."""
    jsonl = work / "history.jsonl"
    if not jsonl.exists():
        history_file(small[1], history, jsonl)
    seconds = cli(["import-tickets", str(jsonl)], big[0], big[1])
    resolve_history(big[1])
    kb = work / "knowledge"
    if not kb.exists():
        knowledge_folder(docs, kb)
    cli(["ingest-kb", str(kb), "--actor", "bench"], big[0], big[1])
    return {"import_seconds": seconds, "import_rate": history / seconds}


def search_terms(url: str) -> dict[str, str]:
    """Searches an advisor would type about a ticket of the live queue (present in both stores): its customer's
    e-mail, an order number and words of its subject; then a broad prefix and a common word."""
    import re

    from sqlalchemy import select

    from cx_core.store import fulltext
    from cx_core.store.db import Database
    from cx_core.store.tables import TicketRow

    db = Database(url)
    with db.session() as s:
        live = s.scalars(select(TicketRow).where(TicketRow.status == "open", TicketRow.subject != "",
                                                 TicketRow.customer_ref.like("%@%")).order_by(TicketRow.id)).all()
    db.dispose()
    ticket = next(t for t in live if re.search(r"#W\d{7}", t.body) and len(fulltext.words(t.subject)) >= 2)
    order = re.search(r"#W\d{7}", ticket.body)
    first, second = [w for w in fulltext.words(ticket.subject) if len(w) > 3][:2]
    return {"customer e-mail": str(ticket.customer_ref), "order number": order.group(0) if order else "",
            "two words": f"{first} {second}", "phrase": f'"{first} {second}"', "broad prefix": "thermo*",
            "one common word": "order"}


def measures(url: str, terms: dict[str, str]) -> dict[str, Callable[[], Any]]:
    from cx_core import desk
    from cx_core.desk import InboxFilter
    from cx_core.store.db import Database

    db = Database(url)

    def search(q: str) -> Callable[[], Any]:
        return lambda: desk.inbox(db, where=InboxFilter(statuses=ALL, search=q), limit=15)

    return {
        "one inbox page (Needs action, 15 tickets)":
            lambda: desk.inbox(db, where=InboxFilter(statuses=("new", "processing", "open")), limit=15),
        "queue counts": lambda: desk.counts(db, me="ada"),
        "filter menus": lambda: desk.filter_options(db),
        "mine (open and escalated, assigned to me)":
            lambda: desk.inbox(db, where=InboxFilter(statuses=("open", "escalated"), assigned="mine", me="ada"),
                                  limit=15),
        **{f"search, {kind}: `{q}`": search(q) for kind, q in terms.items()},
        "one inbox page (All, history included, 15 tickets)":
            lambda: desk.inbox(db, where=InboxFilter(statuses=ALL), limit=15),
    }


def matches(url: str, q: str) -> int:
    from cx_core import desk
    from cx_core.desk import InboxFilter
    from cx_core.store.db import Database

    db = Database(url)
    found = desk.inbox(db, where=InboxFilter(statuses=ALL, search=q), limit=1)[1]
    db.dispose()
    return found


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def workspace_ms(data: Path, url: str, runs: int) -> list[float]:
    """The ticket workspace rendered server side (AppTest), in a process of its own for this store."""
    env = {**os.environ, "TANDEM_DATA_DIR": str(data), "TANDEM_DATABASE_URL": url}
    out = subprocess.run([sys.executable, __file__, "--workspace", str(runs)], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    return [float(x) for x in json.loads(out.stdout.strip().splitlines()[-1])]


def workspace_child(runs: int) -> None:
    from sqlalchemy import select
    from streamlit.testing.v1 import AppTest

    from cx_core.access import StaffUser
    from cx_core.models import Role
    from cx_core.services import Services
    from cx_core.store.tables import TicketRow

    svc = Services()
    with svc.db.session() as s:  # the first open ticket of the live queue: the same one in both stores
        ticket = s.scalars(select(TicketRow.id).where(TicketRow.status == "open", TicketRow.customer_id.is_not(None))
                           .order_by(TicketRow.id)).first()
    out = []
    for _ in range(runs + 1):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.session_state["user"] = StaffUser("ada", "Ada Advisor", Role.advisor)
        at.query_params["ticket"] = str(ticket)
        at.switch_page("pages/workspace.py")
        started = time.perf_counter()
        at.run()
        out.append((time.perf_counter() - started) * 1000)
        assert not at.exception, at.exception
    print(json.dumps(out[1:]))  # the first render loads the app's modules


def compare(stores: dict[str, tuple[Path, str]], runs: int) -> list[tuple[str, float, float]]:
    """Median ms of each measure on the small and the big store, interleaved run by run."""
    terms = search_terms(stores["small"][1])
    small, big = measures(stores["small"][1], terms), measures(stores["big"][1], terms)
    for fn in (*small.values(), *big.values()):  # warm caches and connections
        fn()
    times: dict[str, dict[str, list[float]]] = {name: {"small": [], "big": []} for name in small}
    for _ in range(runs):
        for name in small:
            times[name]["small"].append(timed(small[name]))
            times[name]["big"].append(timed(big[name]))
    found = {f"search, {kind}: `{q}`": (matches(stores["small"][1], q), matches(stores["big"][1], q))
             for kind, q in terms.items()}
    rows = [(name + (f" ({found[name][0]:,} / {found[name][1]:,} matches)" if name in found else ""),
             statistics.median(t["small"]), statistics.median(t["big"])) for name, t in times.items()]
    ws_small, ws_big = [], []
    for _ in range(2):  # alternate the processes too
        ws_small += workspace_ms(*stores["small"], runs)
        ws_big += workspace_ms(*stores["big"], runs)
    rows.append(("ticket workspace page, server side (AppTest)", statistics.median(ws_small),
                 statistics.median(ws_big)))
    return rows


def postgres_pair() -> tuple[str, str] | None:
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception:  # noqa: BLE001 - no server: the PostgreSQL half is skipped and says so
        return None
    tag = uuid.uuid4().hex[:8]
    names = (f"bench_small_{tag}", f"bench_big_{tag}")
    admin.execute(f"CREATE DATABASE {names[0]}")
    admin.close()
    base = PG_ADMIN.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0]
    return f"{base}/{names[0]}", f"{base}/{names[1]}"


def pg_copy(small_url: str, big_url: str) -> None:
    import psycopg

    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f"CREATE DATABASE {big_url.rsplit('/', 1)[1]} TEMPLATE {small_url.rsplit('/', 1)[1]}")
    admin.close()


def pg_drop(*urls: str) -> None:
    import psycopg

    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    for url in urls:
        admin.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
    admin.close()


def table(rows: list[tuple[str, float, float]], tickets_big: int, docs: int) -> str:
    lines = [f"| what | 200 tickets, ms | {tickets_big:,} tickets + {docs:,} documents, ms | ratio |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {a:.2f} | {b:.2f} | {b / a:.2f}× |" for name, a, b in rows]
    return "\n".join(lines)


HOW = """How: the live views read indexes that lead with the ticket's status ((status, priority, SLA, created) and
(status, assigned_to)), so a page of the live queue, its counts and "mine" touch the live tickets only; the counts
are computed from the tickets themselves, so no status change by any code path can make them drift. The filter
menus step through one-column indexes from each distinct value to the next (a recursive query), one seek per value.
Search is an FTS5 index (SQLite) or a generated `tsvector` with GIN (PostgreSQL), kept in step by the database.

What still grows: a search costs what it matches, since every match is ranked before the best 15 are shown; in the
demo company each of the 200 customers has about 500 tickets in the large store, so even an e-mail address or an
order number matches hundreds of tickets there (a company with 100,000 tickets has far more customers). A broad
prefix or a common word matches thousands to tens of thousands of tickets and costs accordingly. The All view
(history included) sorts and counts every ticket it shows: it is not the live queue.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--history", type=int, default=99_800, help="resolved tickets added to the large store")
    ap.add_argument("--docs", type=int, default=2_000, help="knowledge documents added to the large store")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--keep", help="build the stores in this folder and keep them (reused when present)")
    ap.add_argument("--workspace", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.workspace:
        workspace_child(args.workspace)
        return
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tandem-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    sections = []
    grown: dict[str, dict[str, float]] = {}
    setups: list[tuple[str, dict[str, tuple[Path, str]]]] = [
        ("SQLite", {"small": (work / "sqlite-small", f"sqlite:///{work / 'sqlite-small' / 'tandem.db'}"),
                    "big": (work / "sqlite-big", f"sqlite:///{work / 'sqlite-big' / 'tandem.db'}")})]
    pg = None if args.no_postgres else postgres_pair()
    if pg is not None:
        setups.append(("PostgreSQL", {"small": (work / "pg-small", pg[0]), "big": (work / "pg-big", pg[1])}))
    try:
        for name, stores in setups:
            (small_dir, small_url), (big_dir, big_url) = stores["small"], stores["big"]
            print(f"{name}: building the 200-ticket demo…", file=sys.stderr)
            cli(["demo", "--tickets", "200"], small_dir, small_url)
            print(f"{name}: copying it and adding {args.history:,} tickets and {args.docs:,} documents…",
                  file=sys.stderr)
            shutil.copytree(small_dir, big_dir, dirs_exist_ok=True)
            if name == "PostgreSQL":
                pg_copy(small_url, big_url)
            grown[name] = grow(stores["small"], stores["big"], args.history, args.docs, work)
            print(f"{name}: measuring…", file=sys.stderr)
            rows = compare(stores, args.runs)
            sections.append(f"### {name}\n\n{table(rows, 200 + args.history, args.docs)}\n\n"
                            f"The {args.history:,} history tickets were stored by `import-tickets` at "
                            f"{grown[name]['import_rate']:,.0f} tickets/s "
                            f"({grown[name]['import_seconds']:.0f} s, FTS and indexes included).")
            print(sections[-1])
    finally:
        if pg is not None:
            pg_drop(*pg)
    text = (f"## Inbox at scale (measured {time.strftime('%Y-%m-%d')}, `python benchmarks/inbox_scale.py`)\n\n"
            f"The demo's 200 tickets against the same store plus {args.history:,} resolved tickets (two years of "
            f"history) and {args.docs:,} knowledge documents; median of {args.runs} interleaved runs each, after "
            "one warm-up; the workspace is the median of two processes per store. Search runs in the All view "
            "(history included), ranked by relevance; the matches are those of the small / the large store.\n\n"
            + "\n\n".join(sections) + "\n\n" + HOW)
    write_section("inbox-scale", text)


if __name__ == "__main__":
    main()
