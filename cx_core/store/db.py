"""Engine, sessions and ordered migrations; SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, select, text
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from ..errors import ConfigError, DatabaseBusy, NotFound
from . import fulltext
from .tables import CONVERSATION_INDEXES, INBOX_INDEXES, Base, MetaRow, MigrationRow

T = TypeVar("T")

# SQLSTATEs of a PostgreSQL transaction that lost a race for a lock: serialization failure, deadlock, lock not available
_PG_LOCK_STATES = {"40001", "40P01", "55P03"}
_SQLITE_LOCK_WORDS = ("database is locked", "database table is locked", "database schema is locked")


def is_lock_error(exc: BaseException) -> bool:
    """True when ``exc`` means another writer held a lock: the work was rolled back and can run again as it is.
    A lock is contention, never a sign that a system is down."""
    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) in _PG_LOCK_STATES:
        return True
    return any(words in str(exc.orig).lower() for words in _SQLITE_LOCK_WORDS)


def retrying(attempts: int = 5) -> Retrying:
    """Tenacity's retry loop for whole transactions that lost a lock race: a short random backoff, then
    ``DatabaseBusy`` (one line for people) if the database stayed locked."""
    return Retrying(retry=retry_if_exception(is_lock_error), stop=stop_after_attempt(attempts),
                    wait=wait_random_exponential(multiplier=0.05, max=2.0),
                    retry_error_callback=_still_locked)


def _still_locked(state: Any) -> Any:
    raise DatabaseBusy("the database stayed locked by other writers; nothing was changed, try again in a moment") \
        from state.outcome.exception()


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


def _leases(engine: Engine) -> None:
    """Processing claims are leases: who holds the ticket and until when (a dead worker's tickets come back).
    Executions remember the claim they ran under; proposals name the execution behind them."""
    Base.metadata.create_all(engine)
    inspector = inspect(engine)
    columns = {table: {c["name"] for c in inspector.get_columns(table)} for table in ("tickets", "executions", "proposals")}
    timestamp = "DATETIME" if engine.dialect.name == "sqlite" else "TIMESTAMP"
    with engine.begin() as conn:
        if "lease_until" not in columns["tickets"]:
            # tickets left in 'processing' before leases existed have none, and so come back at once
            conn.execute(text(f"ALTER TABLE tickets ADD COLUMN lease_until {timestamp}"))
        if "claim" not in columns["executions"]:
            conn.execute(text("ALTER TABLE executions ADD COLUMN claim VARCHAR(80)"))
        if "execution_key" not in columns["proposals"]:
            conn.execute(text("ALTER TABLE proposals ADD COLUMN execution_key VARCHAR(128)"))
            conn.execute(text("CREATE INDEX IF NOT EXISTS ix_proposals_execution_key ON proposals (execution_key)"))


def _inbox_at_scale(engine: Engine) -> None:
    """Indexes that match the inbox's order and filters, and a full-text index over tickets kept in step by the
    database (FTS5 and triggers on SQLite, a generated ``tsvector`` with GIN on PostgreSQL), built from the
    tickets already stored."""
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        for index in INBOX_INDEXES:
            index.create(conn, checkfirst=True)  # create_all skips the indexes of tables that already exist
        fulltext.install(conn)


def _sign_in_throttling(engine: Engine) -> None:
    """Failed sign-ins are counted per account and per client; accounts lock after repeated failures."""
    Base.metadata.create_all(engine)


def _reply_notes(engine: Engine) -> None:
    """A rejected proposal can carry what the advisor tells the customer instead."""
    columns = {c["name"] for c in inspect(engine).get_columns("proposals")}
    if "customer_note" not in columns:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE proposals ADD COLUMN customer_note TEXT"))


def _staff_sessions(engine: Engine) -> None:
    """Signed-in browser sessions kept on the server (token hashes, expiry, revocation)."""
    Base.metadata.create_all(engine)


def _conversations(engine: Engine) -> None:
    """Tickets are conversations: messages have a direction, a channel and an outside id (unique); tickets know the
    conversation they came from, whether the customer wrote again and what the agent has read. The outbox becomes
    a delivery queue (status, attempts, idempotency key); webhook deliveries, API tokens and channel cursors get
    tables of their own. Messages and replies stored before are kept as sent."""
    Base.metadata.create_all(engine)
    inspector = inspect(engine)
    cols = {t: {c["name"] for c in inspector.get_columns(t)} for t in ("tickets", "ticket_messages", "notify_outbox")}
    ts = "DATETIME" if engine.dialect.name == "sqlite" else "TIMESTAMP"
    false = "0" if engine.dialect.name == "sqlite" else "FALSE"
    adds = {
        "tickets": [("external_ref", "VARCHAR(400)"), ("customer_replied", f"BOOLEAN NOT NULL DEFAULT {false}"),
                    ("read_through", "INTEGER")],
        "ticket_messages": [("direction", "VARCHAR(10) NOT NULL DEFAULT 'in'"), ("channel", "VARCHAR(20)"),
                            ("external_id", "VARCHAR(400)")],
        "notify_outbox": [("destination", "VARCHAR(20) NOT NULL DEFAULT 'local'"),
                          ("status", "VARCHAR(20) NOT NULL DEFAULT 'delivered'"), ("idempotency_key", "VARCHAR(200)"),
                          ("message_id", "INTEGER"), ("headers", "JSON"), ("attempts", "INTEGER NOT NULL DEFAULT 0"),
                          ("next_attempt_at", ts), ("lease_until", ts), ("last_error", "TEXT"), ("delivered_at", ts),
                          ("remote_id", "VARCHAR(300)")],
    }
    with engine.begin() as conn:
        for table, columns in adds.items():
            for name, kind in columns:
                if name not in cols[table]:
                    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))
        if "direction" not in cols["ticket_messages"]:
            conn.execute(text("UPDATE ticket_messages SET direction = 'out' WHERE author <> 'customer'"))
        for index in CONVERSATION_INDEXES:
            index.create(conn, checkfirst=True)


def _action_calls(engine: Engine) -> None:
    """Calls to a team's own systems are recorded (status, latency, digests) and an action's answer is kept on its
    outbox row."""
    Base.metadata.create_all(engine)
    if "result" not in {c["name"] for c in inspect(engine).get_columns("notify_outbox")}:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE notify_outbox ADD COLUMN result JSON"))


def _owned_and_fenced(engine: Engine) -> None:
    """Tickets know the API token that opened them; tokens have scopes, a widening flag, a rate and a daily quota
    (with a usage table); outbox rows carry their dispatcher's fencing token and whether an attempt was handed
    over; sign-ins remember the addresses each account signed in from."""
    Base.metadata.create_all(engine)
    inspector = inspect(engine)
    cols = {t: {c["name"] for c in inspector.get_columns(t)} for t in ("tickets", "api_tokens", "notify_outbox")}
    ts = "DATETIME" if engine.dialect.name == "sqlite" else "TIMESTAMP"
    false = "0" if engine.dialect.name == "sqlite" else "FALSE"
    adds = {
        "tickets": [("api_token_id", "INTEGER")],
        "api_tokens": [("scopes", "VARCHAR(60) NOT NULL DEFAULT 'write,read'"),
                       ("all_tickets", f"BOOLEAN NOT NULL DEFAULT {false}"), ("rate_per_minute", "INTEGER"),
                       ("daily_quota", "INTEGER")],
        "notify_outbox": [("claim", "VARCHAR(80)"), ("handed_over_at", ts),
                          ("resent_in_doubt", "INTEGER NOT NULL DEFAULT 0")],
    }
    with engine.begin() as conn:
        for table, columns in adds.items():
            for name, kind in columns:
                if name not in cols[table]:
                    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_tickets_api_token_id ON tickets (api_token_id)"))


def _store_meta(engine: Engine) -> None:
    """The store's own facts: the pack it belongs to and the installation's id (written at the first migrate)."""
    Base.metadata.create_all(engine)


def _step_dependencies(engine: Engine) -> None:
    """A proposal knows the step of its plan it needs to have run first."""
    Base.metadata.create_all(engine)
    if "depends_on" not in {c["name"] for c in inspect(engine).get_columns("proposals")}:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE proposals ADD COLUMN depends_on VARCHAR(60)"))


# Ordered migrations: append, never edit a released one.
MIGRATIONS: list[tuple[int, str, Callable[[Engine], None]]] = [
    (1, "initial schema", _initial_schema),
    (2, "review queue, policy history, edited proposals", _review_and_policy_history),
    (3, "ticket assignment, knowledge-base versions", _assignment_and_kb_versions),
    (4, "processing leases", _leases),
    (5, "inbox indexes, kept counts, full-text search", _inbox_at_scale),
    (6, "sign-in throttling and account locks", _sign_in_throttling),
    (7, "what the customer is told instead of a rejected action", _reply_notes),
    (8, "server-side sign-in sessions", _staff_sessions),
    (9, "conversations, delivery queue, webhooks, API tokens", _conversations),
    (10, "calls to a team's own systems", _action_calls),
    (11, "owned tickets, scoped tokens, fenced deliveries, familiar sign-in addresses", _owned_and_fenced),
    (12, "the pack a store belongs to, the installation's id", _store_meta),
    (13, "proposals that need another step to run first", _step_dependencies),
]


# The active domain pack's own tables (its systems' records), created beside the engine's.
_PACK_TABLES: list[MetaData] = []


def use_pack_tables(metadata: MetaData | None) -> None:
    _PACK_TABLES[:] = [metadata] if metadata is not None else []


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
                # SQLAlchemy emits BEGIN itself (below), so that a write transaction can ask for the lock up front
                dbapi_conn.isolation_level = None

            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn: Connection) -> None:
                # IMMEDIATE waits (busy_timeout) for the write lock at the start; a DEFERRED transaction that read
                # first fails at its first write, without waiting, whenever another writer committed in between
                mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
                conn.exec_driver_sql(f"BEGIN {mode}")

        else:
            engine = create_engine(url, pool_pre_ping=True)

            @event.listens_for(engine, "before_cursor_execute", retval=True)
            def _no_nul(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                        executemany: bool) -> tuple[str, Any]:
                # PostgreSQL text cannot hold NUL: whatever reached this far without being refused loses it here
                # rather than failing the transaction (ids and names are refused with a line long before)
                return statement, _without_nul(parameters)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"TANDEM_DATABASE_URL is not usable: {exc}") from exc
    return engine


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()} if any(
            isinstance(v, str | list | tuple | dict) for v in value.values()) else value
    if isinstance(value, list | tuple):
        return type(value)(_without_nul(v) for v in value)
    return value


def meta(engine: Engine, key: str, default: Callable[[], str] | None = None) -> str | None:
    """The store's fact ``key``; with ``default``, written once when it is not there yet (the first writer wins)."""
    from sqlalchemy.exc import IntegrityError

    with Session(engine) as session:
        row = session.get(MetaRow, key)
        if row is not None or default is None:
            return row.value if row is not None else None
    try:
        with Session(engine) as session, session.begin():
            session.add(MetaRow(key=key, value=default(), at=utcnow()))
    except IntegrityError:
        pass  # written meanwhile by another process: that one stands
    with Session(engine) as session:
        row = session.get(MetaRow, key)
        return row.value if row is not None else None


def set_meta(engine: Engine, key: str, value: str) -> None:
    """Writes the store's fact ``key`` (replacing what was there)."""
    with Session(engine) as session, session.begin():
        row = session.get(MetaRow, key)
        if row is None:
            session.add(MetaRow(key=key, value=value, at=utcnow()))
        else:
            row.value, row.at = value, utcnow()


def claim_for_pack(engine: Engine, pack: str) -> None:
    """Writes the pack a new store belongs to; a store of another pack stops here with one line. Two packs never
    share one database (their records, tickets, policy and audit would mix)."""
    owner = meta(engine, "pack", lambda: pack)
    if owner is not None and owner != pack:
        if engine.dialect.name == "sqlite":
            where = f"this data folder ({Path(engine.url.database or '').parent}) belongs to pack '{owner}'; " \
                    "give TANDEM_DATA_DIR another folder"
        else:
            where = f"this database belongs to pack '{owner}'; give TANDEM_DATABASE_URL another database"
        raise ConfigError(f"{where} or use TANDEM_DOMAIN={owner}")


def migrate(engine: Engine, pack: str | None = None) -> list[int]:
    """Apply the migrations this database has not had yet; returns the versions applied. With ``pack``, the store
    is the pack's (written at the first migrate, checked at every later one)."""
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
    if pack:
        claim_for_pack(engine, pack)
    for metadata in _PACK_TABLES:
        metadata.create_all(engine)  # only the missing tables
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

    def __init__(self, url: str, pack: str | None = None) -> None:
        self.url = url
        self.pack = pack  # the pack this store belongs to, checked at migrate
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        self._install_id: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def migrate(self) -> list[int]:
        return migrate(self.engine, self.pack)

    @property
    def install_id(self) -> str:
        """This installation's random id, made once and kept in the store: every idempotency key sent to another
        system carries it, so keys never repeat after a rebuild or across installations."""
        if self._install_id is None:
            self._install_id = meta(self.engine, "install_id", lambda: secrets.token_hex(6))
        assert self._install_id is not None
        return self._install_id

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """A session in one write transaction: committed on success, rolled back on any error.

        On SQLite the write lock is taken when the transaction starts (``BEGIN IMMEDIATE``), so a transaction
        that reads and then writes queues behind other writers instead of failing; taking the lock is retried
        when another writer held it for longer than the busy timeout."""
        session = retrying()(self._writing_session)
        with session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
            session.commit()

    def _writing_session(self) -> Session:
        session = self._factory()
        try:
            session.begin()
            if self.is_sqlite:
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        except BaseException:
            session.close()
            raise
        return session

    def run(self, work: Callable[[Session], T]) -> T:
        """``work`` in one write transaction, run again from the start when it lost a lock race (a PostgreSQL
        deadlock or serialization failure, a SQLite lock held past the busy timeout); ``DatabaseBusy`` when
        the database stayed locked. Only for work whose sole effects are in that transaction."""
        def once() -> T:
            with self.tx() as s:
                return work(s)

        return retrying()(once)

    def session(self) -> Session:
        return self._factory()

    def dispose(self) -> None:
        self.engine.dispose()
