"""Full-text search on a PostgreSQL store: PostgreSQL's own machinery, the same rules as FTS5.

The table ``search_tsv`` lives in the store's schema next to the articles (``seq`` = ``articles.seq``)
and holds a weighted ``tsvector`` of each article (title weight A, text weight B) under a GIN index,
with the content hash it was built from, so :func:`refresh_index` only (re)indexes articles that are
new or changed and drops those that are gone, as :func:`storyline.store.search.refresh_index` does
for SQLite. When nothing changed it costs one query of two indexed anti-joins.

User input never reaches PostgreSQL's query language: the query is built from
:func:`storyline.store.search.query_parts` (quoted phrases and words, stop words dropped), each part
bound as a parameter of ``phraseto_tsquery`` / ``plainto_tsquery`` (which treat every character as
text), the parts joined with ``&&`` (all) or ``||`` (any). Ranking is ``ts_rank_cd`` with a title
match counting three times a text match (FTS5's bm25 weights here are 3 and 1); snippets come from
``ts_headline`` with the same HIT_OPEN / HIT_CLOSE markers as FTS5's ``snippet()``.

Differences from SQLite: words are stemmed by PostgreSQL's ``english`` configuration (Snowball),
which also drops English stop words, so a query of stop words only finds nothing; accents are not
folded.

:func:`refresh_index` takes the store's SQLAlchemy Engine; :class:`PgWords` reads through a function
that returns a Connection (the web app's per-thread autocommit connections).
"""

from __future__ import annotations

import logging

from storyline.store.search import HIT_CLOSE, HIT_OPEN, query_parts

log = logging.getLogger(__name__)

CONFIG = "english"
TABLE = "search_tsv"
MAX_INDEXED_CHARS = 250_000  # a tsvector holds at most 1 MB; news articles are far below this
WEIGHTS = "{0.1, 0.2, 0.333, 1.0}"  # D, C, B (text), A (title)
RANK_NORMALISATION = 1  # divide by 1 + log(document length), as bm25 discounts long documents
HEADLINE = (f'StartSel={HIT_OPEN}, StopSel={HIT_CLOSE}, MaxFragments=1, MaxWords=24, MinWords=12,'
            f' FragmentDelimiter=" … "')
_LOCK = 0x5354, 0x5345  # advisory lock ("ST", "SE") around creating the table

TSV = (f"setweight(to_tsvector('{CONFIG}', coalesce(a.title, '')), 'A') ||"
       f" setweight(to_tsvector('{CONFIG}', left(a.text, {MAX_INDEXED_CHARS})), 'B')")

SCHEMA = [
    f"CREATE TABLE IF NOT EXISTS {TABLE} (seq BIGINT PRIMARY KEY, content_hash TEXT NOT NULL, tsv TSVECTOR NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_gin ON {TABLE} USING gin (tsv)",
]


def ensure_index(engine) -> None:
    """Create the table and its GIN index when missing (one creator at a time)."""
    with engine.begin() as c:
        if c.exec_driver_sql("SELECT to_regclass(%s) IS NOT NULL", (TABLE,)).scalar():
            return
        c.exec_driver_sql("SELECT pg_advisory_xact_lock(%s, %s)", _LOCK)
        for statement in SCHEMA:
            c.exec_driver_sql(statement)


def refresh_index(engine) -> int:
    """Bring ``search_tsv`` up to date with ``articles``; returns how many rows changed. Safe to run
    from several processes at once (both statements are idempotent)."""
    ensure_index(engine)
    with engine.begin() as c:
        stale, gone = c.exec_driver_sql(
            f"SELECT EXISTS (SELECT 1 FROM articles a LEFT JOIN {TABLE} s ON s.seq = a.seq"
            f"               WHERE s.seq IS NULL OR s.content_hash <> a.content_hash),"
            f"       EXISTS (SELECT 1 FROM {TABLE} s LEFT JOIN articles a ON a.seq = s.seq WHERE a.seq IS NULL)"
        ).one()
        changed = 0
        if gone:
            changed += c.exec_driver_sql(
                f"DELETE FROM {TABLE} s WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.seq = s.seq)").rowcount
        if stale:
            changed += c.exec_driver_sql(
                f"INSERT INTO {TABLE} (seq, content_hash, tsv)"
                f" SELECT a.seq, a.content_hash, {TSV} FROM articles a LEFT JOIN {TABLE} s ON s.seq = a.seq"
                f" WHERE s.seq IS NULL OR s.content_hash <> a.content_hash"
                f" ON CONFLICT (seq) DO UPDATE SET content_hash = excluded.content_hash, tsv = excluded.tsv").rowcount
    return changed


def tsquery(query: str, any_term: bool = False) -> tuple[str, list[str]] | None:
    """(SQL expression of type tsquery, its parameters) for what a user typed; None when nothing
    searchable is left. The SQL holds no user text, only placeholders."""
    parts = query_parts(query)
    if not parts:
        return None
    sql = (" || " if any_term else " && ").join(
        f"{'phraseto_tsquery' if phrase else 'plainto_tsquery'}('{CONFIG}', %s)" for phrase, _ in parts)
    return sql, [words for _, words in parts]


class PgWords:
    """Word search, snippets and ids for :func:`storyline.store.search.search` on PostgreSQL.
    ``connection`` is a function that returns a SQLAlchemy Connection to read with."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def word_search(self, query: str, limit: int = 200) -> tuple[list[tuple[int, float]], bool]:
        """(seq, rank) best first; all words required, or any word if no article has all."""
        for any_term in (False, True):
            built = tsquery(query, any_term)
            if built is None:
                return [], False
            expr, params = built
            rows = self.connection().exec_driver_sql(
                f"SELECT s.seq, ts_rank_cd(%s::float4[], s.tsv, q.q, {RANK_NORMALISATION}) AS r"
                f" FROM {TABLE} s, (SELECT {expr} AS q) q WHERE s.tsv @@ q.q ORDER BY r DESC, s.seq LIMIT %s",
                (WEIGHTS, *params, limit)).fetchall()
            if rows or any_term:
                return [(r[0], float(r[1])) for r in rows], any_term
            if len(params) < 2:
                return [], False
        return [], False

    def snippets(self, query: str, seqs: list[int], any_term: bool) -> dict[int, str]:
        built = tsquery(query, any_term)
        if built is None or not seqs:
            return {}
        expr, params = built
        rows = self.connection().exec_driver_sql(
            f"SELECT a.seq, ts_headline('{CONFIG}', a.text, q.q, %s) FROM articles a, (SELECT {expr} AS q) q"
            f" WHERE a.seq = ANY(%s)", (HEADLINE, *params, list(seqs)))
        return {r[0]: r[1] for r in rows}

    def article_ids(self, seqs: list[int]) -> dict[int, str]:
        if not seqs:
            return {}
        return dict(self.connection().exec_driver_sql(
            "SELECT seq, id FROM articles WHERE seq = ANY(%s)", (list(seqs),)).fetchall())
