"""Search over the store: SQLite FTS5 for words and phrases, embeddings for meaning, one ranking.
(PostgreSQL stores use their own full-text machinery, :mod:`storyline.store.pg_search`, with the same
query rules, markers and fusion.)

The FTS5 table ``search_fts`` lives in the same database as the articles (rowid = ``articles.seq``);
``search_fts_state`` remembers the content hash each row was indexed from, so :func:`refresh_index`
only (re)indexes articles that are new or changed and drops those that are gone. It is safe to call
often: when nothing changed it costs two indexed anti-joins.

User input never reaches FTS5's query language: :func:`fts_query` keeps quoted phrases and words
and quotes every token itself, so operators, column filters and stray quotes are plain text.
The word and meaning rankings are combined by reciprocal rank fusion (RRF), which needs no score
calibration between BM25 and cosine.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field

import numpy as np

FTS_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
    title, text, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS search_fts_state (seq INTEGER PRIMARY KEY, content_hash TEXT NOT NULL);
"""

HIT_OPEN = "\ue000"  # markers snippet() puts around matches; escaped text is then marked up
HIT_CLOSE = "\ue001"
RRF_K = 60
MAX_QUERY_CHARS = 500
MAX_TERMS = 32

_PHRASE = re.compile(r'"([^"]*)"')
# words too common to narrow a search (outside quoted phrases): matching them costs time, adds nothing
STOPWORDS = frozenset("""a an the and or but of to in on at by for with from as is are was were be been
being it its this that these those there here he she they we you i his her their our your not no do does
did has have had will would can could should may might about into over after before than then so if
what which who whom how when where why""".split())
_WORD = re.compile(r"\w+", re.UNICODE)


def ensure_index(conn: sqlite3.Connection) -> None:
    conn.executescript(FTS_SCHEMA)


def refresh_index(conn: sqlite3.Connection, batch: int = 500) -> int:
    """Bring ``search_fts`` up to date with ``articles``; returns how many rows changed."""
    ensure_index(conn)
    stale = [r[0] for r in conn.execute(
        "SELECT a.seq FROM articles a LEFT JOIN search_fts_state s ON s.seq = a.seq"
        " WHERE s.seq IS NULL OR s.content_hash != a.content_hash")]
    gone = [r[0] for r in conn.execute(
        "SELECT s.seq FROM search_fts_state s LEFT JOIN articles a ON a.seq = s.seq WHERE a.seq IS NULL")]
    if not stale and not gone:
        return 0
    own_tx = not conn.in_transaction
    if own_tx:
        conn.execute("BEGIN IMMEDIATE")
    try:
        for i in range(0, len(gone), batch):
            chunk = gone[i:i + batch]
            marks = ",".join("?" * len(chunk))
            conn.execute(f"DELETE FROM search_fts WHERE rowid IN ({marks})", chunk)
            conn.execute(f"DELETE FROM search_fts_state WHERE seq IN ({marks})", chunk)
        for i in range(0, len(stale), batch):
            chunk = stale[i:i + batch]
            marks = ",".join("?" * len(chunk))
            conn.execute(f"DELETE FROM search_fts WHERE rowid IN ({marks})", chunk)
            conn.execute(
                f"INSERT INTO search_fts (rowid, title, text) SELECT seq, coalesce(title, ''), text"
                f" FROM articles WHERE seq IN ({marks})", chunk)
            conn.execute(
                f"INSERT OR REPLACE INTO search_fts_state (seq, content_hash) SELECT seq, content_hash"
                f" FROM articles WHERE seq IN ({marks})", chunk)
        if own_tx:
            conn.execute("COMMIT")
    except BaseException:
        if own_tx:
            conn.execute("ROLLBACK")
        raise
    return len(stale) + len(gone)


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def query_parts(text: str) -> list[tuple[bool, str]]:
    """What a user typed as (is_phrase, words) parts: "quoted phrases" stay phrases, other words are
    terms; stop words are dropped unless nothing else is left; at most MAX_TERMS parts, no repeats.
    Both backends build their query from these parts, never from the raw text."""
    text = text[:MAX_QUERY_CHARS]
    parts: list[tuple[bool, str]] = []
    for phrase in _PHRASE.findall(text):
        tokens = _WORD.findall(phrase)
        if tokens:
            parts.append((True, " ".join(tokens)))
    rest = _PHRASE.sub(" ", text)
    words = _WORD.findall(rest)
    content = [w for w in words if w.casefold() not in STOPWORDS]
    parts += [(False, t) for t in (content if content or parts else words)]
    unique: dict[str, tuple[bool, str]] = {}
    for part in parts:  # a one-word phrase and the same word are one part
        unique.setdefault(part[1], part)
    return list(unique.values())[:MAX_TERMS]


def fts_query(text: str, any_term: bool = False) -> str | None:
    """An FTS5 MATCH expression from what a user typed: "quoted phrases" stay phrases, other words
    are terms, all ANDed (or ORed with ``any_term``). None when nothing searchable is left."""
    parts = [_quote(t) for _, t in query_parts(text)]
    if not parts:
        return None
    return (" OR " if any_term else " AND ").join(parts)


@dataclass(slots=True)
class Hit:
    seq: int
    article_id: str
    score: float = 0.0  # fused (RRF) score
    word_rank: int | None = None  # 1-based rank among word matches
    meaning_rank: int | None = None
    bm25: float | None = None  # the word score: FTS5's bm25 (lower is better) or PostgreSQL's ts_rank_cd
    cosine: float | None = None
    snippet: str | None = None  # with HIT_OPEN / HIT_CLOSE around matched words
    matched: str = ""  # "words", "meaning" or "both"


@dataclass(slots=True)
class SearchResult:
    query: str
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    mode: str = "hybrid"
    any_term: bool = False  # no document had every word: ranked by any word


def word_search(conn: sqlite3.Connection, query: str, limit: int = 200) -> tuple[list[tuple[int, float]], bool]:
    """(seq, bm25) best first for ``query``; all words required, or any word if none has all."""
    for any_term in (False, True):
        expr = fts_query(query, any_term=any_term)
        if expr is None:
            return [], False
        rows = conn.execute(
            "SELECT rowid, bm25(search_fts, 3.0, 1.0) AS r FROM search_fts WHERE search_fts MATCH ?"
            " ORDER BY r LIMIT ?", (expr, limit)).fetchall()
        if rows or any_term:
            return [(r[0], r[1]) for r in rows], any_term
        if " AND " not in expr:
            return [], False
    return [], False


def snippets(conn: sqlite3.Connection, query: str, seqs: list[int], any_term: bool) -> dict[int, str]:
    expr = fts_query(query, any_term=any_term)
    if expr is None or not seqs:
        return {}
    marks = ",".join("?" * len(seqs))
    rows = conn.execute(
        f"SELECT rowid, snippet(search_fts, 1, ?, ?, ' … ', 24) FROM search_fts"
        f" WHERE search_fts MATCH ? AND rowid IN ({marks})", (HIT_OPEN, HIT_CLOSE, expr, *seqs))
    return {r[0]: r[1] for r in rows}


def fuse(word: list[int], meaning: list[int], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of two best-first lists of ids."""
    score: dict[int, float] = {}
    for ranked in (word, meaning):
        for rank, item in enumerate(ranked, 1):
            score[item] = score.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))


def meaning_search(matrix: np.ndarray, seqs: np.ndarray, query_vector: np.ndarray,
                   limit: int = 200, min_cosine: float = 0.25) -> list[tuple[int, float]]:
    """(seq, cosine) best first among the rows of ``matrix`` (L2-normalised)."""
    if matrix.size == 0:
        return []
    sims = matrix @ query_vector.astype(np.float32)
    n = min(limit, len(sims))
    top = np.argpartition(-sims, n - 1)[:n]
    top = top[np.argsort(-sims[top], kind="stable")]
    return [(int(seqs[i]), float(sims[i])) for i in top if sims[i] >= min_cosine]


class SqliteWords:
    """Word search, snippets and ids on a SQLite connection (FTS5): what :func:`search` uses by default.
    A PostgreSQL store passes :class:`storyline.store.pg_search.PgWords`, which has the same methods."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def word_search(self, query: str, limit: int = 200) -> tuple[list[tuple[int, float]], bool]:
        return word_search(self.conn, query, limit)

    def snippets(self, query: str, seqs: list[int], any_term: bool) -> dict[int, str]:
        return snippets(self.conn, query, seqs, any_term)

    def article_ids(self, seqs: list[int]) -> dict[int, str]:
        if not seqs:
            return {}
        marks = ",".join("?" * len(seqs))
        return dict(self.conn.execute(f"SELECT seq, id FROM articles WHERE seq IN ({marks})", seqs))


def search(conn: sqlite3.Connection | None, query: str, *, mode: str = "hybrid",
           matrix: np.ndarray | None = None, seqs: np.ndarray | None = None,
           query_vector: np.ndarray | None = None, offset: int = 0, limit: int = 20,
           words_backend=None) -> SearchResult:
    """Words (FTS5, or ``words_backend``), meaning (cosine to ``query_vector`` over ``matrix`` rows =
    ``seqs``) or both."""
    backend = words_backend if words_backend is not None else SqliteWords(conn)
    result = SearchResult(query=query, mode=mode)
    words: list[tuple[int, float]] = []
    meaning: list[tuple[int, float]] = []
    if mode in ("hybrid", "words"):
        words, result.any_term = backend.word_search(query)
    if mode in ("hybrid", "meaning") and matrix is not None and query_vector is not None:
        meaning = meaning_search(matrix, seqs, query_vector)
    fused = fuse([s for s, _ in words], [s for s, _ in meaning])
    result.total = len(fused)
    page = fused[offset:offset + limit]
    word_at = {s: (i + 1, b) for i, (s, b) in enumerate(words)}
    meaning_at = {s: (i + 1, c) for i, (s, c) in enumerate(meaning)}
    ids = backend.article_ids([s for s, _ in page]) if page else {}
    snips = backend.snippets(query, [s for s, _ in page if s in word_at], result.any_term)
    for seq, score in page:
        if seq not in ids:
            continue
        w, m = word_at.get(seq), meaning_at.get(seq)
        result.hits.append(Hit(
            seq=seq, article_id=ids[seq], score=score,
            word_rank=w[0] if w else None, bm25=w[1] if w else None,
            meaning_rank=m[0] if m else None, cosine=m[1] if m else None,
            snippet=snips.get(seq), matched="both" if w and m else ("words" if w else "meaning"),
        ))
    return result
