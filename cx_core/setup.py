"""``setup``: what any pack needs before the app, the worker and the API start — the database schema (stamped with the
pack it belongs to), the pack's knowledge index (its ``articles/``), the task-type classifier trained on its
``training/task_types.csv``, and a first admin when there is no staff account yet. Safe to run at every start: what
is already there is kept, a changed article becomes a new version and changed examples retrain the classifier.

A pack with a demo module gets its demo world instead (``demo``), with the demo logins."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from .models import Role
from .secret_mask import register
from .store.tables import StaffUserRow

FIRST_ADMIN = "admin"


def first_admin(services: Any) -> tuple[str, str | None] | None:
    """Creates the first admin when the database has no staff account: ``admin`` with ``TANDEM_ADMIN_PASSWORD``
    when it is set, else with a random password returned here once (to be shown once, never stored in clear: only
    its hash is kept, and the masking step knows it, so no log line can hold it). Returns (username, the generated
    password or None), or None when there were staff accounts already."""
    from .auth import create_user

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
    from . import kb_docs
    from .knowledge import load_paths
    from .triage import train_default

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
    training = settings.knowledge_dir / "training" / "task_types.csv"
    model = services.model_path
    trained = False
    if not model.exists() or (training.exists() and training.stat().st_mtime > model.stat().st_mtime):
        say("training the task-type classifier…")
        services.__dict__["intent_model"] = train_default(training, services.embedder, model)
        services.__dict__.pop("triager", None)
        services.__dict__.pop("pipeline", None)
        trained = True
    return {"articles": len(services.kb.documents()), "passages": passages, "trained": trained}
