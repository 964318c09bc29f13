"""The web app's PostgreSQL read side: full-text index (incremental refresh, safe queries, same
results as FTS5 on the same articles), change detection without a file, embeddings.

Needs a PostgreSQL server (the `pg_url` fixture of tests/conftest.py: STORYLINE_TEST_PG_URL or
scripts/pg.sh); skips with the reason otherwise. No models: articles and vectors are made up.
"""

from __future__ import annotations

import random
import re
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from storyline.config import EmbedConfig
from storyline.enrich.embed import article_model
from storyline.records import Article, Event, Storyline
from storyline.store import Store
from storyline.store import search as fts

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import drop_pg_schema, with_schema  # noqa: E402

MODEL = article_model(EmbedConfig())  # the key the web app reads article vectors by
TEXTS = {
    "a1": ("Leaders meet in Paris", "European leaders met in Paris on Monday for emergency talks on Ukraine."),
    "a2": ("Talks in Riyadh", "American and Russian officials held talks in Riyadh about ending the war."),
    "a3": ("Spice harvest", "Farmers on Zanzibar harvested twice as many cloves this season."),
    "a4": ("Macron calls summit", "French President Emmanuel Macron called an emergency summit in Paris."),
    "a5": ("Storm damage", "A storm destroyed homes along the coast; emergency crews worked overnight."),
}


def art(i: str, title: str, text: str) -> Article:
    return Article(id=i, title=title, text=text, content_hash=f"h-{i}-{abs(hash(text)) % 99991}")


@pytest.fixture
def pg(pg_url):
    """(url of a fresh schema, an open PostgresStore on it); the schema is dropped after."""
    from storyline.store.postgres import PostgresStore

    schema = f"t_pgsearch_{uuid.uuid4().hex[:12]}"
    url = with_schema(pg_url, schema)
    store = PostgresStore(url)
    yield url, store
    for c in _open:
        c.close()
    _open.clear()
    store.close()
    drop_pg_schema(pg_url, schema)


_open: list = []


def reader(store):
    """PgWords over one autocommit connection (as the web app's per-thread ones)."""
    from storyline.store import pg_search

    c = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    _open.append(c)
    return pg_search.PgWords(lambda: c)


def fill(store) -> None:
    store.add_articles([art(i, t, x) for i, (t, x) in TEXTS.items()])
    store.save_clustering([Event(id="ev-1", article_ids=["a1", "a4"], title="Paris talks", storyline_id="sl-1"),
                           Event(id="ev-2", article_ids=["a2"], title="Riyadh", storyline_id="sl-1"),
                           Event(id="ev-3", article_ids=["a3"], title="Cloves", storyline_id="sl-2"),
                           Event(id="ev-4", article_ids=["a5"], title="Storm", storyline_id="sl-3")],
                          [Storyline(id="sl-1", event_ids=["ev-1", "ev-2"], title="Ukraine"),
                           Storyline(id="sl-2", event_ids=["ev-3"], title="Cloves"),
                           Storyline(id="sl-3", event_ids=["ev-4"], title="Storm")])
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((len(TEXTS), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.put_embeddings(MODEL, list(TEXTS), vectors)


def test_refresh_index_is_incremental(pg):
    from storyline.store import pg_search

    url, store = pg
    fill(store)
    assert pg_search.refresh_index(store.engine) == 5
    assert pg_search.refresh_index(store.engine) == 0  # nothing changed: nothing rewritten
    words = reader(store)
    assert [s for s, _ in words.word_search("cloves")[0]] == [3]
    store.add_articles([art("a3", "Spice harvest", "Farmers on Zanzibar harvested record amounts of vanilla.")])
    store.add_articles([art("a6", "New", "A sixth article about vanilla prices.")])
    assert pg_search.refresh_index(store.engine) == 2  # the changed one and the new one, only
    assert words.word_search("cloves")[0] == []
    assert sorted(s for s, _ in words.word_search("vanilla")[0]) == [3, 6]
    with store.transaction() as c:
        c.exec_driver_sql("DELETE FROM articles WHERE id = 'a6'")
    assert pg_search.refresh_index(store.engine) == 1
    assert [s for s, _ in words.word_search("vanilla")[0]] == [3]


def test_user_input_never_reaches_the_query_language(pg):
    from storyline.store import pg_search

    url, store = pg
    fill(store)
    pg_search.refresh_index(store.engine)
    words = reader(store)
    rng = random.Random(5)
    pieces = ["&", "|", "!", "<->", "<2>", ":*", ":A", "(", ")", "'", '"', "\\", "%s", "%(x)s", "?", "--", ";",
              "paris", "talks", "DROP TABLE articles", "$$", "\x00", "é", "emergency"]
    shape = re.compile(r"^(?:(?:plainto|phraseto)_tsquery\('english', %s\)(?: && | \|\| )?)+$")
    for _ in range(300):
        q = " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        for any_term in (False, True):
            built = pg_search.tsquery(q, any_term)
            if built is None:
                continue
            sql, params = built
            assert shape.match(sql), sql  # no user text in the SQL, only placeholders
            assert len(params) == sql.count("%s")
        hits, _ = words.word_search(q)  # runs: no syntax error whatever the input
        words.snippets(q, [s for s, _ in hits], False)
    assert store.article_count() == 5


def test_same_word_hits_as_fts5(pg, tmp_path):
    """The same articles in SQLite (FTS5) and PostgreSQL (tsvector) find the same articles."""
    from storyline.store import pg_search

    url, store = pg
    fill(store)
    pg_search.refresh_index(store.engine)
    with Store(tmp_path / "s.db") as lite:
        fill(lite)
        fts.refresh_index(lite.conn)
        sqlite_words = fts.SqliteWords(lite.conn)
        pg_words = reader(store)
        for q in ["Paris", "emergency", "emergency talks", '"emergency talks"', "talks Paris", "Macron summit",
                  "harvest cloves", "storms", "leaders meeting", "Riyadh OR Paris", "nothing-like-this"]:
            lite_hits, lite_any = sqlite_words.word_search(q)
            pg_hits, pg_any = pg_words.word_search(q)
            assert {s for s, _ in lite_hits} == {s for s, _ in pg_hits}, q
            assert lite_any == pg_any, q
        snips = pg_words.snippets("emergency talks", [1], False)
        assert f"{fts.HIT_OPEN}emergency{fts.HIT_CLOSE} {fts.HIT_OPEN}talks{fts.HIT_CLOSE}" in snips[1]
        # title matches count more than text matches, as in FTS5
        ranked = [s for s, _ in pg_words.word_search("Paris")[0]]
        assert ranked[0] == 1 and set(ranked) == {1, 4}


def test_repo_sees_writes_of_other_processes(pg):
    """Change detection without a file: an event document rewritten in place by another writer (no
    new article, no new event) starts a new generation, and the pages show it."""
    from storyline.serve.data import Repo
    from storyline.store.postgres import PostgresStore

    url, store = pg
    fill(store)
    repo = Repo(url)
    try:
        assert repo.db.counter  # the triggers are installed
        snap = repo.snapshot()
        assert snap.n_articles == 5 and snap.events["ev-1"].lead == ""
        gen = repo.generation(force=True)
        assert repo.generation(force=True) == gen  # reads change nothing
        other = PostgresStore(url)
        other.set_event_data("ev-1", {"summary": [{"text": "Leaders met in Paris.", "article_ids": ["a1"]}]})
        assert repo.generation(force=True) != gen
        assert repo.snapshot().events["ev-1"].lead == "Leaders met in Paris."
        assert repo.event("ev-1")["summary"][0]["text"] == "Leaders met in Paris."
        # a new article from elsewhere: in the counts and, after the refresh the new generation runs, in search
        other.add_articles([art("a7", "Vanilla", "Vanilla prices rose sharply in Madagascar.")])
        other.close()
        repo.generation(force=True)
        assert repo.snapshot().n_articles == 6
        hits = repo.search("vanilla Madagascar", "words", 0, 10).hits
        assert [h.article_id for h in hits] == ["a7"] and fts.HIT_OPEN in hits[0].snippet
        # a second Repo on the same schema finds the triggers in place
        Repo(url).close()
    finally:
        repo.close()


def test_repo_vectors_match_the_store(pg):
    from storyline.serve.data import Repo

    url, store = pg
    fill(store)
    repo = Repo(url)
    try:
        matrix, seqs = repo.vectors()
        assert list(seqs) == [1, 2, 3, 4, 5]
        assert np.allclose(matrix, store.embeddings(MODEL, list(TEXTS)))
        result = repo.search("x", "meaning", 0, 10)  # no embedder: meaning search has nothing to compare
        assert result.hits == []
    finally:
        repo.close()


def test_change_detection_without_triggers(pg, monkeypatch):
    """A role that may not create triggers: counts, highest seq and latest updated_at still see new
    articles and a new clustering from another process."""
    from storyline.serve.backend import PostgresDB
    from storyline.serve.data import Repo
    from storyline.store.postgres import PostgresStore

    url, store = pg
    fill(store)
    monkeypatch.setattr(PostgresDB, "_install_generation_counter", lambda self: False)
    repo = Repo(url)
    try:
        assert repo.db.counter is False
        gen = repo.generation(force=True)
        other = PostgresStore(url)
        other.add_articles([art("a8", "Saffron", "Saffron growers in Kashmir expect a smaller crop.")])
        assert repo.generation(force=True) != gen
        assert repo.snapshot().n_articles == 6
        gen = repo.generation(force=True)
        other.save_clustering([Event(id="ev-9", article_ids=["a8"], title="Saffron", storyline_id="sl-9")],
                              [Storyline(id="sl-9", event_ids=["ev-9"], title="Saffron")])
        other.close()
        assert repo.generation(force=True) != gen
        assert list(repo.snapshot().events) == ["ev-9"]
    finally:
        repo.close()
