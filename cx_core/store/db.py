"""Engine, sessions and ordered migrations; SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ConfigError, NotFound
from .tables import Base, MigrationRow

T = TypeVar("T")


def utcnow() -> datetime:
    """Naive UTC timestamp (both databases store it the same way)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _initial_schema(engine: Engine) -> None:
    Base.metadata.create_all(engine)


def _review_and_policy_history(engine: Engine) -> None:
    """Review queue and policy history tables; proposals remember whether a person edited them."""
    Base.metadata.create_all(engine)  # creates only the missing tables
    columns = {c["name"] for c in inspect(engine).get_columns("proposals")}
    if "edited" not in columns:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE proposals ADD COLUMN edited BOOLEAN NOT NULL DEFAULT FALSE"))


def _assignment_and_kb_versions(engine: Engine) -> None:
    """Tickets can be assigned to an advisor; knowledge-base documents keep their versions."""
    Base.metadata.create_all(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("tickets")}
    with engine.begin() as conn:
        if "assigned_to" not in columns:
            conn.execute(text("ALTER TABLE tickets ADD COLUMN assigned_to VARCHAR(80)"))
            conn.execute(text("CREATE INDEX IF NOT EXISTS ix_tickets_assigned_to ON tickets (assigned_to)"))
        if "assigned_at" not in columns:
            conn.execute(text(f"ALTER TABLE tickets ADD COLUMN assigned_at {'DATETIME' if engine.dialect.name == 'sqlite' else 'TIMESTAMP'}"))


# Ordered migrations: append, never edit a released one.
MIGRATIONS: list[tuple[int, str, Callable[[Engine], None]]] = [
    (1, "initial schema", _initial_schema),
    (2, "review queue, policy history, edited proposals", _review_and_policy_history),
    (3, "ticket assignment, knowledge-base versions", _assignment_and_kb_versions),
]


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with SQLite tuned for a web app and a worker side by side."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"TANDEM_DATABASE_URL is not usable: {exc}") from exc
    return engine


def migrate(engine: Engine) -> list[int]:
    """Apply the migrations this database has not had yet; returns the versions applied."""
    try:
        MigrationRow.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
    except OperationalError as exc:
        raise ConfigError(f"cannot open the database: {str(exc.orig).splitlines()[0]}") from exc
    applied: list[int] = []
    with Session(engine) as session:
        done = set(session.scalars(select(MigrationRow.version)))
    for version, name, step in MIGRATIONS:
        if version in done:
            continue
        step(engine)
        with Session(engine) as session, session.begin():
            session.add(MigrationRow(version=version, name=name, applied_at=utcnow()))
        applied.append(version)
    return applied


def require_row(s: Session, model: type[T], key: object, what: str) -> T:
    """The row with primary key ``key``, or ``NotFound`` naming it (e.g. "invoice INV-1 not found")."""
    row = s.get(model, key)
    if row is None:
        raise NotFound(f"{what} {key} not found")
    return row


def has_schema(engine: Engine) -> bool:
    return inspect(engine).has_table("tickets")


class Database:
    """The engine plus a session factory; ``with db.tx() as s:`` is one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def migrate(self) -> list[int]:
        return migrate(self.engine)

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._factory() as session, session.begin():
            yield session

    def session(self) -> Session:
        return self._factory()

    def dispose(self) -> None:
        self.engine.dispose()
