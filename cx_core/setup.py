"""``setup``: what any pack needs before the app, the worker and the API start — the database schema (stamped with the
pack it belongs to), the pack's knowledge index (its ``articles/``), the task-type classifier trained on its
``training/task_types.csv``, and a first admin when there is no staff account yet. Safe to run at every start: what
is already there is kept, a changed article becomes a new version and changed examples retrain the classifier.

A pack with a demo module gets its demo world instead (``demo``), with the demo logins."""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from . import desk, kb_docs
from .auth import create_user, ensure_demo_users
from .documents import load_paths
from .models import Role
from .secret_mask import register
from .store.db import meta, set_meta, utcnow
from .store.tables import StaffUserRow
from .triage import train_default
from .worker import process_one

FIRST_ADMIN = "admin"


def first_admin(services: Any) -> tuple[str, str | None] | None:
    """Creates the first admin when the database has no staff account: ``admin`` with ``TANDEM_ADMIN_PASSWORD``
    when it is set, else with a random password returned here once (to be shown once, never stored in clear: only
    its hash is kept, and the masking step knows it, so no log line can hold it). Returns (username, the generated
    password or None), or None when there were staff accounts already."""
    with services.db.session() as s:
        if int(s.scalar(select(func.count()).select_from(StaffUserRow)) or 0):
            return None
    given = services.settings.admin_password.get_secret_value()
    password = given or secrets.token_urlsafe(12)
    register(password)
    create_user(services.db, FIRST_ADMIN, "Administrator", Role.admin, password, "setup")
    return FIRST_ADMIN, None if given else password


def prepare(services: Any, say: Callable[[str], None] = lambda _msg: None) -> dict[str, Any]:
    """The schema, the knowledge index and the classifier of the pack, brought up to date."""
    services.db.migrate()
    settings = services.settings
    articles = settings.articles_dir
    passages = 0
    if articles.is_dir():
        say(f"indexing the knowledge base ({articles})…")
        done = kb_docs.ingest(services.db, services.kb, load_paths([articles]), "system")
        passages = sum(d["passages"] for d in done)
        changed = sum(1 for d in done if d.get("status") != "unchanged")
        say(f"  {len(done)} articles, {changed} new or changed")
    else:
        say(f"no articles in {articles}: the replies will quote nothing until some are added")
    trained = retrain_if_stale(services, say)
    # the pack changed since the last start: tickets waiting on a decision are read again with it
    print_ = fingerprint(services.pack.root)
    before = meta(services.db.engine, "pack_fingerprint")
    again: list[str] = []
    if before != print_:
        if before is not None:
            again = desk.reread_waiting(services.db, actor="setup", why="the pack changed")
            say(f"the pack changed: {len(again)} open ticket{'s' if len(again) != 1 else ''} read again with it")
        set_meta(services.db.engine, "pack_fingerprint", print_)
    return {"articles": len(services.kb.documents()), "passages": passages, "trained": trained, "reread": len(again)}


def retrain_if_stale(services: Any, say: Callable[[str], None] = lambda _msg: None) -> bool:
    """The task-type classifier trained again when there is none or the pack's examples changed since; whether it
    was."""
    training = services.settings.knowledge_dir / "training" / "task_types.csv"
    model = services.model_path
    if model.exists() and not (training.exists() and training.stat().st_mtime > model.stat().st_mtime):
        return False
    say("training the task-type classifier…")
    services.__dict__["intent_model"] = train_default(training, services.embedder, model)
    services.__dict__.pop("triager", None)
    services.__dict__.pop("pipeline", None)
    return True


_PACK_FILES = (".py", ".yaml", ".yml", ".csv", ".md", ".json", ".jsonl", ".txt")


def fingerprint(root: Any) -> str:
    """A hash of what a pack is made of (its code, declarations, policy, examples and articles; not its demo
    world nor compiled files): it changes whenever the pack does."""
    import hashlib
    from pathlib import Path

    h = hashlib.sha256()
    base = Path(root)
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if not path.is_file() or path.suffix not in _PACK_FILES or rel.parts[0] == "demo" or "__pycache__" in rel.parts:
            continue
        h.update(str(rel).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:32]


def build_demo(services: Any, tickets_n: int = 24, process: bool = True, quiet: bool = False,
               today: date | None = None, **sizes: int) -> dict[str, Any]:
    """(Re)builds the domain's demo world, staff users, knowledge base, classifier and a first batch of tickets,
    as on ``today`` (default: the clock's day); ``sizes`` (e.g. customers=200) go to the pack's world builder."""
    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    now = utcnow() if today is None else datetime(today.year, today.month, today.day, 9, 0)
    demo = services.pack.module("demo")
    say(f"building the demo world ({services.pack.title})…")
    counts = demo.build_world(services.db, services.settings.seed, now.date(), **sizes)
    ensure_demo_users(services.db)
    say(f"  {demo.summary(counts)}")
    say("indexing the knowledge base…")
    services.kb.reset()
    chunks = sum(d["passages"] for d in kb_docs.ingest(services.db, services.kb,
                                                        load_paths([services.settings.articles_dir]), "system"))
    say(f"  {len(services.kb.documents())} articles, {chunks} passages")
    say("training the task-type classifier…")
    model = train_default(services.settings.knowledge_dir / "training" / "task_types.csv", services.embedder,
                          services.model_path)
    services.__dict__["intent_model"] = model
    services.__dict__.pop("triager", None)
    services.__dict__.pop("pipeline", None)
    sim = demo.Simulator(services.db, seed=services.settings.seed)
    batch = sim.tickets(tickets_n, now, spread_minutes=180)
    added, _ = desk.add_tickets(services.db, batch, source="simulator", join_repeats=True)
    processed = 0
    if process:
        say(f"processing {added} tickets…")
        while process_one(services, "demo"):
            processed += 1
        worked = demo.work_some(services)
        say(f"  {worked} tickets already handled by the demo advisor")
    took = time.perf_counter() - started
    say(f"demo ready in {took:.1f}s")
    return {**counts, "articles": len(services.kb.documents()), "passages": chunks, "tickets": added,
            "processed": processed, "seconds": round(took, 1)}
