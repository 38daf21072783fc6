"""Full-text search over tickets: an FTS5 index on SQLite, a ``tsvector`` with GIN on PostgreSQL, one query syntax.

Both databases see the same words: the ticket's id, customer reference, subject and body are split on everything
that is not a letter or a digit (so ``ada@example.com`` is the words ``ada example com`` and ``T-0042`` is
``t 0042``), lower-cased, not stemmed and with accents kept. What a person types is read the same way:

- plain words must all appear (``refund invoice``);
- ``"quoted words"`` must appear next to each other, in that order;
- ``word*`` is a prefix (``refun*`` finds refund, refunds, refunded);
- a word with punctuation inside is a phrase of its parts, so an e-mail address or a ticket id finds its ticket.

Everything else (operators, brackets, stray quotes) is only a separator, so no input can fail or reach the
database as syntax. Both indexes are kept in step with ``tickets`` by the database itself (SQLite triggers, a
PostgreSQL generated column), so every way a ticket is written updates them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, column, func, literal_column, table

FTS_TABLE = "tickets_fts"
# Characters PostgreSQL's parser would otherwise keep inside a token (e-mail addresses, hosts, paths, numbers
# with a sign or decimals, hyphenated words); turned into spaces so both databases split words alike.
_PG_JOINERS = "@.-_/:+~#\\"
_WORD = re.compile(r"[^\W_]+")
_CHUNK = re.compile(r'"([^"]*)"?(\*?)|([^\s"]+)')
MAX_TERMS = 32
MIN_PREFIX = 2


@dataclass(frozen=True)
class Term:
    """Words that must appear next to each other, in order; ``prefix`` makes the last one a prefix."""

    words: tuple[str, ...]
    prefix: bool = False


def words(text: str) -> list[str]:
    """The words of ``text`` as both indexes see them."""
    return _WORD.findall(unicodedata.normalize("NFC", text).lower())


def parse(query: str) -> list[Term]:
    """The terms of a search box entry; an entry with no letters or digits has none."""
    terms: list[Term] = []
    for quoted, star, bare in _CHUNK.findall(query or ""):
        raw = quoted if bare == "" else bare
        prefix = star == "*" if bare == "" else raw.endswith("*")
        found = tuple(words(raw))
        if not found:
            continue
        terms.append(Term(found, prefix and len(found[-1]) >= MIN_PREFIX))
        if len(terms) == MAX_TERMS:
            break
    return terms


def fts5_match(terms: list[Term]) -> str:
    """An FTS5 ``MATCH`` expression: every term a quoted phrase (words are letters and digits only)."""
    return " AND ".join(f'"{" ".join(t.words)}"' + (" *" if t.prefix else "") for t in terms)


def tsquery(terms: list[Term]) -> str:
    """A ``to_tsquery('simple', …)`` expression with the same meaning as :func:`fts5_match`."""
    parts = []
    for t in terms:
        lexemes = [f"'{w}'" for w in t.words]
        if t.prefix:
            lexemes[-1] += ":*"
        parts.append("(" + " <-> ".join(lexemes) + ")")
    return " & ".join(parts)


def restrict(stmt: Select[Any], dialect: str, terms: list[Term]) -> tuple[Select[Any], Any]:
    """``stmt`` (a query over ``tickets``) narrowed to the tickets matching ``terms``, and its relevance order."""
    if dialect == "sqlite":  # joined directly (not as a subquery), so a count never computes the ranking
        index = table(FTS_TABLE, column("rowid"))
        match = literal_column(FTS_TABLE).op("MATCH")(bindparam("fts_match", fts5_match(terms)))
        return (stmt.join(index, index.c.rowid == literal_column("tickets.rowid")).where(match),
                literal_column(SQLITE_RANK).asc())
    vector: Any = literal_column(f"tickets.{PG_VECTOR}")
    query = func.to_tsquery(literal_column("'simple'::regconfig"), bindparam("ts_query", tsquery(terms)))
    return stmt.where(vector.op("@@")(query)), func.ts_rank(vector, query).desc()


def _pg_words(expr: str) -> str:
    spaces = " " * len(_PG_JOINERS)
    return f"to_tsvector('simple'::regconfig, translate({expr}, '{_PG_JOINERS}', '{spaces}'))"


# Id, customer and subject weigh more than the body in the ranking (bm25 column weights, tsvector weights A/B).
SQLITE_RANK = f"bm25({FTS_TABLE}, 4.0, 4.0, 2.0, 1.0)"
PG_VECTOR = "search_vector"
_PG_HEAD = "id || ' ' || coalesce(customer_ref, '') || ' ' || subject"
_PG_DOCUMENT = f"setweight({_pg_words(_PG_HEAD)}, 'A') || setweight({_pg_words('body')}, 'B')"

_SQLITE_DDL = [
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(id, customer_ref, subject, body, content='tickets', "
    "content_rowid='rowid', tokenize='unicode61 remove_diacritics 0', prefix='2 3')",
    f"""CREATE TRIGGER IF NOT EXISTS tickets_fts_insert AFTER INSERT ON tickets BEGIN
        INSERT INTO {FTS_TABLE}(rowid, id, customer_ref, subject, body)
        VALUES (new.rowid, new.id, new.customer_ref, new.subject, new.body);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS tickets_fts_delete AFTER DELETE ON tickets BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, id, customer_ref, subject, body)
        VALUES ('delete', old.rowid, old.id, old.customer_ref, old.subject, old.body);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS tickets_fts_update AFTER UPDATE OF id, customer_ref, subject, body ON tickets
    BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, id, customer_ref, subject, body)
        VALUES ('delete', old.rowid, old.id, old.customer_ref, old.subject, old.body);
        INSERT INTO {FTS_TABLE}(rowid, id, customer_ref, subject, body)
        VALUES (new.rowid, new.id, new.customer_ref, new.subject, new.body);
    END""",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
]

_PG_DDL = [
    f"ALTER TABLE tickets ADD COLUMN IF NOT EXISTS {PG_VECTOR} tsvector GENERATED ALWAYS AS ({_PG_DOCUMENT}) STORED",
    f"CREATE INDEX IF NOT EXISTS ix_tickets_search ON tickets USING gin ({PG_VECTOR})",
]


def install(conn: Connection) -> None:
    """Creates (or rebuilds from the tickets) the full-text index of this database."""
    statements = _SQLITE_DDL if conn.dialect.name == "sqlite" else _PG_DDL
    for sql in statements:
        conn.exec_driver_sql(sql)
