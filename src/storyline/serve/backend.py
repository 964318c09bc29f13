"""The two stores as the web app reads them: SQLite (a file) and PostgreSQL (a URL).

Both give :class:`storyline.serve.data.Repo` the same small interface: ``rows(sql, params)`` with
``?`` placeholders (rows indexable by position and by column name), the writer store, a cheap
change ``stamp()``, ``refresh_search()`` for the full-text index, the embedding matrix, the word
search backend, and the few SQL fragments that differ (JSON field access). Every query is
parameterised on both.

SQLite: one read-only connection per thread; the stamp is the database file's and its WAL's mtime
and size. PostgreSQL: one autocommit connection per thread from the store's engine (no transaction
stays open between requests, so nothing blocks DDL or VACUUM); the stamp is a generation counter
that statement-level triggers on the store's tables bump on every write, read with one indexed
query (when the role may not create triggers: counts, highest ``seq`` and latest ``updated_at``,
which miss in-place updates of event documents by other processes until the next clustering).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from storyline.store import is_postgres_url
from storyline.store import search as fts

log = logging.getLogger(__name__)

VECTOR_DIM = 384


class _PerThread:
    """One connection per thread; those of threads that ended (the server's worker threads come and
    go) are closed when the next one opens, the rest on :meth:`close_all`."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.conns: list[tuple[threading.Thread, Any]] = []

    def get(self):
        return getattr(self.local, "conn", None)

    def add(self, conn) -> None:
        self.local.conn = conn
        me = threading.current_thread()
        with self.lock:  # connections of ended threads, and this thread's previous (broken) one
            dead = [c for t, c in self.conns if t is me or not t.is_alive()]
            self.conns = [(t, c) for t, c in self.conns if t is not me and t.is_alive()] + [(me, conn)]
        for c in dead:
            _close_quietly(c)

    def drop(self) -> None:
        self.local.conn = None

    def close_all(self) -> None:
        with self.lock:
            conns, self.conns = self.conns, []
        for _, c in conns:
            _close_quietly(c)


def _close_quietly(conn) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - closing a connection that may be broken
        pass


class SqliteDB:
    kind = "sqlite"
    busy_errors: tuple = (sqlite3.OperationalError,)
    # events: entities, quotes, first summary sentence (JSON text; the caller parses it)
    EVENT_FIELDS = ("json_extract(data, '$.enrichment.entities'), json_extract(data, '$.enrichment.quotes'),"
                    " json_extract(data, '$.summary[0].text')")

    def __init__(self, path: str | Path) -> None:
        from storyline.store import Store

        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no storyline database at {self.path}")
        self.writer = Store(self.path)
        self.label = str(self.path)
        self._conns = _PerThread()

    def conn(self) -> sqlite3.Connection:
        c = self._conns.get()
        if c is None:
            c = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            c.row_factory = sqlite3.Row
            c.execute("PRAGMA query_only = ON")
            c.execute("PRAGMA busy_timeout = 5000")
            self._conns.add(c)
        return c

    def rows(self, sql: str, params: Sequence = ()) -> list:
        return self.conn().execute(sql, params).fetchall()

    def stamp(self) -> tuple:
        """Changes whenever the database file or its WAL changes."""
        parts: list[int] = []
        for suffix in ("", "-wal"):
            try:
                st = os.stat(str(self.path) + suffix)
                parts += [st.st_mtime_ns, st.st_size]
            except OSError:
                parts += [0, 0]
        return tuple(parts)

    def refresh_search(self) -> int:
        return fts.refresh_index(self.writer.conn)

    def words_backend(self):
        return fts.SqliteWords(self.conn())

    def vectors(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        return _bytea_vectors(self, model)

    def close(self) -> None:
        self._conns.close_all()
        self.writer.close()


class Row:
    """A result row indexable by position and by column name (as ``sqlite3.Row``)."""

    __slots__ = ("_values", "_index")

    def __init__(self, values: tuple, index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)


_TRIGGER_TABLES = ("articles", "embeddings", "duplicates", "events", "event_articles", "storylines",
                   "article_enrichment")
_GEN_TABLE = "serve_generation"
_GEN_LOCK = (0x5354, 0x5347)  # advisory lock ("ST", "SG") around installing the triggers
_PLACEHOLDER = re.compile(r"\?")


class PostgresDB:
    kind = "postgres"
    EVENT_FIELDS = ("data -> 'enrichment' -> 'entities', data -> 'enrichment' -> 'quotes',"
                    " data -> 'summary' -> 0 ->> 'text'")

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        from storyline.store import pg_search
        from storyline.store.postgres import PostgresStore

        self.sa = sa
        self.pg_search = pg_search
        self.busy_errors = (sa.exc.DBAPIError,)
        # room for a held connection per request thread (+ the event loop's, the warm-up's, the writer's)
        threads = int(os.environ.get("STORYLINE_THREADS", "8"))
        self.writer = PostgresStore(url, pool_size=threads + 4, max_overflow=threads + 4)
        self.engine = self.writer.engine
        self.label = self.writer.url  # password hidden
        self._conns = _PerThread()
        self._sql: dict[str, str] = {}
        self.counter = self._install_generation_counter()

    # -- connections ------------------------------------------------------------------------------

    def conn(self):
        c = self._conns.get()
        if c is None or c.closed or c.invalidated:
            c = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._conns.add(c)
        return c

    def _run(self, sql: str, params: Sequence = ()):
        try:
            return self.conn().exec_driver_sql(sql, tuple(params))
        except self.sa.exc.DBAPIError as e:
            if not e.connection_invalidated:  # a dropped connection (server restart): once more on a new one
                raise
            self._conns.drop()
            return self.conn().exec_driver_sql(sql, tuple(params))

    def rows(self, sql: str, params: Sequence = ()) -> list[Row]:
        pg = self._sql.get(sql)
        if pg is None:
            pg = self._sql[sql] = _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))
        result = self._run(pg, params)
        index = {k: i for i, k in enumerate(result.keys())}
        return [Row(tuple(r), index) for r in result.fetchall()]

    # -- change detection -------------------------------------------------------------------------

    def _install_generation_counter(self) -> bool:
        """A counter that every write statement on the store's tables bumps (statement-level
        triggers). False when this role may not create them."""
        sa = self.sa
        try:
            with self.engine.begin() as c:
                c.exec_driver_sql("SELECT pg_advisory_xact_lock(%s, %s)", _GEN_LOCK)
                schema = c.exec_driver_sql("SELECT current_schema()").scalar()
                have = {r[0] for r in c.exec_driver_sql(
                    "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema() AND t.tgname = 'storyline_serve_generation'")}
                if set(_TRIGGER_TABLES) <= have:
                    return True
                q = '"' + schema.replace('"', '""') + '"'
                c.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {q}.{_GEN_TABLE} (id INT PRIMARY KEY, n BIGINT NOT NULL)")
                c.exec_driver_sql(f"INSERT INTO {q}.{_GEN_TABLE} (id, n) VALUES (1, 0) ON CONFLICT DO NOTHING")
                c.exec_driver_sql(
                    f"CREATE OR REPLACE FUNCTION {q}.storyline_serve_bump() RETURNS trigger LANGUAGE plpgsql AS"
                    f" $$BEGIN UPDATE {q}.{_GEN_TABLE} SET n = n + 1 WHERE id = 1; RETURN NULL; END$$")
                for table in _TRIGGER_TABLES:
                    if table not in have:
                        c.exec_driver_sql(
                            f"CREATE TRIGGER storyline_serve_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
                            f" ON {q}.{table} FOR EACH STATEMENT EXECUTE FUNCTION {q}.storyline_serve_bump()")
            return True
        except sa.exc.DBAPIError as e:
            log.warning("storyline serve: cannot install the change counter (%s); watching counts instead",
                        str(e.orig).strip().splitlines()[0] if e.orig else e)
            return False

    def stamp(self) -> tuple:
        if self.counter:
            return tuple(self._run(f"SELECT n FROM {_GEN_TABLE} WHERE id = 1").fetchone() or (0,))
        return tuple(self._run(
            "SELECT (SELECT COUNT(*) FROM articles), (SELECT MAX(seq) FROM articles),"
            " (SELECT COUNT(*) FROM events), (SELECT MAX(updated_at) FROM events),"
            " (SELECT COUNT(*) FROM event_articles), (SELECT COUNT(*) FROM storylines),"
            " (SELECT COUNT(*) FROM duplicates), (SELECT COUNT(*) FROM article_enrichment),"
            " (SELECT COUNT(*) FROM embeddings)").fetchone())

    # -- search -----------------------------------------------------------------------------------

    def refresh_search(self) -> int:
        return self.pg_search.refresh_index(self.engine)

    def words_backend(self):
        return self.pg_search.PgWords(self.conn)

    def vectors(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        if getattr(self.writer, "vector_type", "bytea") == "bytea":
            return _bytea_vectors(self, model)
        for attempt in range(3):  # pgvector: the store decodes its type; retry if a row went meanwhile
            rows = self.rows("SELECT a.seq, a.id FROM embeddings e JOIN articles a ON a.id = e.article_id"
                             " WHERE e.model = ? ORDER BY a.seq", (model,))
            try:
                matrix = self.writer.embeddings(model, [r[1] for r in rows])
            except KeyError:
                if attempt == 2:
                    raise
                continue
            return matrix.astype(np.float32, copy=False), np.array([r[0] for r in rows], dtype=np.int64)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._conns.close_all()
        self.writer.close()


def _bytea_vectors(db: SqliteDB | PostgresDB, model: str) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, article seqs) of ``model`` stored as float32 bytes (SQLite; PostgreSQL without
    pgvector), in article order."""
    rows = db.rows("SELECT a.seq, e.vector FROM embeddings e JOIN articles a ON a.id = e.article_id"
                   " WHERE e.model = ? ORDER BY a.seq", (model,))
    seqs = np.array([r[0] for r in rows], dtype=np.int64)
    matrix = (np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows]) if rows
              else np.zeros((0, VECTOR_DIM), dtype=np.float32))
    return matrix, seqs


def open_db(target: str | Path) -> SqliteDB | PostgresDB:
    """The store at ``target``: a PostgreSQL URL or a SQLite file (which must exist)."""
    if is_postgres_url(target):
        return PostgresDB(str(target))
    return SqliteDB(target)


def json_value(value: Any, default: Any = None) -> Any:
    """A JSON column's value: SQLite gives text, PostgreSQL (psycopg) the parsed value."""
    if value is None:
        return default
    if isinstance(value, (str, bytes)):
        import json

        try:
            return json.loads(value)
        except ValueError:
            return default
    return value
