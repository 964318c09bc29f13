"""The watcher's memory, in the store's own SQLite database (so one file holds everything).

``feed_state``: per feed, the validators of its last good answer (ETag, Last-Modified), when to poll
it next and how many polls in a row failed. ``feed_entries``: every entry seen per feed, with its
status: ``pending`` (its article is not stored yet: the document waits here, with its page-fetch
attempts, so a crash or a failing page loses nothing), ``done`` (stored) or ``failed`` (given up,
with why). A restart reads both and goes on where the last process stopped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from dataclasses import dataclass

from ..records import RawDocument
from ..store import Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_state (
    url TEXT PRIMARY KEY,
    etag TEXT, last_modified TEXT,
    next_poll REAL NOT NULL DEFAULT 0,      -- unix time
    failures INTEGER NOT NULL DEFAULT 0,    -- failed polls in a row
    last_error TEXT, last_polled TEXT, last_ok TEXT
);
CREATE TABLE IF NOT EXISTS feed_entries (
    feed_url TEXT NOT NULL,
    entry_id TEXT NOT NULL,                 -- = the article id
    status TEXT NOT NULL,                   -- pending, done, failed
    needs_page INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    doc TEXT,                               -- the RawDocument as JSON while pending
    error TEXT,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_url, entry_id)
);
CREATE INDEX IF NOT EXISTS feed_entries_pending ON feed_entries (status, next_try);
"""


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(slots=True)
class FeedState:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    next_poll: float = 0.0
    failures: int = 0
    last_error: str | None = None


@dataclass(slots=True)
class PendingEntry:
    feed_url: str
    entry_id: str
    doc: RawDocument
    needs_page: bool
    attempts: int


class WatchState:
    """Reads and writes the two tables on ``store``'s connection (main thread only)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn: sqlite3.Connection = store.conn
        self.conn.executescript(_SCHEMA)

    # -- feeds ----------------------------------------------------------------------------------

    def feed(self, url: str) -> FeedState:
        row = self.conn.execute(
            "SELECT url, etag, last_modified, next_poll, failures, last_error FROM feed_state WHERE url = ?",
            (url,)).fetchone()
        return FeedState(*row) if row else FeedState(url)

    def feeds(self, urls: list[str]) -> list[FeedState]:
        return [self.feed(u) for u in urls]

    def poll_ok(self, url: str, *, etag: str | None, last_modified: str | None, next_poll: float,
                not_modified: bool) -> None:
        now = _now_iso()
        if not_modified:  # keep the validators we sent (a 304 need not repeat them)
            self.conn.execute(
                "INSERT INTO feed_state (url, next_poll, failures, last_polled, last_ok) VALUES (?,?,0,?,?)"
                " ON CONFLICT(url) DO UPDATE SET next_poll=excluded.next_poll, failures=0, last_error=NULL,"
                " last_polled=excluded.last_polled, last_ok=excluded.last_ok,"
                " etag=COALESCE(?, feed_state.etag), last_modified=COALESCE(?, feed_state.last_modified)",
                (url, next_poll, now, now, etag, last_modified))
            return
        self.conn.execute(
            "INSERT INTO feed_state (url, etag, last_modified, next_poll, failures, last_polled, last_ok)"
            " VALUES (?,?,?,?,0,?,?) ON CONFLICT(url) DO UPDATE SET etag=excluded.etag,"
            " last_modified=excluded.last_modified, next_poll=excluded.next_poll, failures=0,"
            " last_error=NULL, last_polled=excluded.last_polled, last_ok=excluded.last_ok",
            (url, etag, last_modified, next_poll, now, now))

    def poll_failed(self, url: str, *, error: str, next_poll: float) -> int:
        """Record a failed poll; return the number of failures in a row."""
        self.conn.execute(
            "INSERT INTO feed_state (url, next_poll, failures, last_error, last_polled) VALUES (?,?,1,?,?)"
            " ON CONFLICT(url) DO UPDATE SET next_poll=excluded.next_poll, failures=feed_state.failures+1,"
            " last_error=excluded.last_error, last_polled=excluded.last_polled",
            (url, next_poll, error, _now_iso()))
        return self.feed(url).failures

    def set_next_poll(self, url: str, next_poll: float) -> None:
        self.conn.execute("UPDATE feed_state SET next_poll = ? WHERE url = ?", (next_poll, url))

    # -- entries --------------------------------------------------------------------------------

    def known(self, feed_url: str, entry_ids: list[str]) -> set[str]:
        """Which of ``entry_ids`` this feed has shown before (any status)."""
        found: set[str] = set()
        for start in range(0, len(entry_ids), 500):
            chunk = entry_ids[start:start + 500]
            q = (f"SELECT entry_id FROM feed_entries WHERE feed_url = ? AND entry_id IN"
                 f" ({','.join('?' * len(chunk))})")
            found.update(r[0] for r in self.conn.execute(q, (feed_url, *chunk)))
        return found

    def stored(self, article_ids: list[str]) -> set[str]:
        """Which of ``article_ids`` are articles in the store already."""
        found: set[str] = set()
        for start in range(0, len(article_ids), 500):
            chunk = article_ids[start:start + 500]
            q = f"SELECT id FROM articles WHERE id IN ({','.join('?' * len(chunk))})"
            found.update(r[0] for r in self.conn.execute(q, chunk))
        return found

    def add_entries(self, feed_url: str, entries: list[tuple[RawDocument, bool]], done: set[str]) -> None:
        """Remember new entries: ``done`` for those whose article is stored already, else pending."""
        now = _now_iso()
        with self.store.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO feed_entries (feed_url, entry_id, status, needs_page, doc, seen_at)"
                " VALUES (?,?,?,?,?,?)",
                [(feed_url, doc.id, "done" if doc.id in done else "pending", int(needs_page),
                  None if doc.id in done else json.dumps(dataclasses.asdict(doc)), now)
                 for doc, needs_page in entries])

    def pending(self, now: float, *, include_later: bool = False) -> list[PendingEntry]:
        q = "SELECT feed_url, entry_id, doc, needs_page, attempts FROM feed_entries WHERE status = 'pending'"
        args: tuple = ()
        if not include_later:
            q += " AND next_try <= ?"
            args = (now,)
        rows = self.conn.execute(q + " ORDER BY rowid", args).fetchall()
        return [PendingEntry(r[0], r[1], RawDocument(**json.loads(r[2])), bool(r[3]), r[4]) for r in rows]

    def next_pending_try(self) -> float | None:
        row = self.conn.execute("SELECT MIN(next_try) FROM feed_entries WHERE status = 'pending'").fetchone()
        return row[0]

    def retry_later(self, entry: PendingEntry, *, error: str, next_try: float) -> None:
        self.conn.execute(
            "UPDATE feed_entries SET attempts = attempts + 1, next_try = ?, error = ? WHERE feed_url = ?"
            " AND entry_id = ?", (next_try, error, entry.feed_url, entry.entry_id))

    def finish(self, results: list[tuple[str, str, str, str | None]]) -> None:
        """``(feed_url, entry_id, status, error)`` per entry: done or failed, the document dropped."""
        with self.store.transaction() as conn:
            conn.executemany(
                "UPDATE feed_entries SET status = ?, error = ?, doc = NULL WHERE feed_url = ? AND entry_id = ?",
                [(status, error, feed, entry) for feed, entry, status, error in results])

    def counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM feed_entries GROUP BY status").fetchall())
