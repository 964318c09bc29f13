"""The store's contract, run against both backends: SQLite (a fresh file) and PostgreSQL (a fresh
schema in a real server).

PostgreSQL comes from ``STORYLINE_TEST_PG_URL`` when set (``.ci/run`` sets it), else from
``scripts/pg.sh``, which starts a throwaway server on loopback (installing Debian's postgresql when
run as root): the ``pg_url`` fixture of tests/conftest.py. Without either, the PostgreSQL half skips
and says why; STORYLINE_TEST_PG=0 turns it off.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from storyline.records import Article, DuplicateLink, Event, Problem, Storyline
from storyline.store import Store, open_store

from conftest import drop_pg_schema

ROOT = Path(__file__).resolve().parent.parent
MODEL = "all-MiniLM-L6-v2"


# -- backends ---------------------------------------------------------------------------------------

def _pg_factory(url: str):
    """(open: a function that opens the same fresh schema each call, cleanup)."""
    from storyline.store.postgres import PostgresStore

    schema = f"t_{uuid.uuid4().hex[:16]}"
    opened: list = []

    def make():
        opened.append(PostgresStore(url, schema=schema))
        return opened[-1]

    def cleanup():
        for s in opened:
            s.close()
        if opened:
            drop_pg_schema(url, schema)
    return make, cleanup


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path):
    """A factory that opens the same fresh store each time it is called (to test reopening)."""
    if request.param == "sqlite":
        opened: list = []

        def make():
            opened.append(Store(tmp_path / "storyline.db"))
            return opened[-1]
        yield make
        for s in opened:
            s.close()
    else:
        make, cleanup = _pg_factory(request.getfixturevalue("pg_url"))
        yield make
        cleanup()


@pytest.fixture
def pg_backend(pg_url: str):
    make, cleanup = _pg_factory(pg_url)
    yield make
    cleanup()


@pytest.fixture
def store(backend):
    return backend()


def art(i: str, text: str | None = None, **kw) -> Article:
    text = text if text is not None else f"Text of article {i}."
    return Article(id=i, text=text, content_hash=f"h-{i}-{hash(text) & 0xffff}", **kw)


def vec(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(384).astype(np.float32)


def is_pg(store) -> bool:
    return type(store).__name__ == "PostgresStore"


# -- articles ---------------------------------------------------------------------------------------

def test_add_new_unchanged_updated(store):
    a, b = art("a"), art("b")
    assert store.add_articles([a, b]) == ["new", "new"]
    assert store.add_articles([a, b]) == ["unchanged", "unchanged"]
    a2 = art("a", "A different text now.")
    assert store.add_articles([art("c"), a2, b]) == ["new", "updated", "unchanged"]
    assert [x.id for x in store.articles()] == ["a", "b", "c"]  # an update keeps the article's place
    assert store.articles(["a"])[0].text == "A different text now."
    assert store.articles(["a"])[0].content_hash == a2.content_hash
    assert store.article_count() == 3
    assert store.add_articles([]) == []


def test_same_id_twice_in_one_call(store):
    a, a2 = art("a"), art("a", "Second version.")
    assert store.add_articles([a, a, a2, art("b")]) == ["new", "unchanged", "updated", "new"]
    assert [(x.id, x.text) for x in store.articles()] == [("a", "Second version."), ("b", "Text of article b.")]
    assert store.add_articles([a2]) == ["unchanged"]


def test_article_fields_round_trip(store):
    full = art("full", "Ünïcode — text\nwith lines.", origin="feeds/x.xml#3", title="A “title”",
               url="https://example.org/a?b=1", source="Example", author="Jo Doe",
               published_at=dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=2))),
               removed=["Sign up for our newsletter", "Photo: AP"])
    naive = art("naive", published_at=dt.datetime(2023, 1, 2, 3, 4))
    bare = art("bare")
    store.add_articles([full, naive, bare])
    got = {a.id: a for a in store.articles()}
    assert got["full"] == full
    assert got["naive"] == naive and got["naive"].published_at.tzinfo is None
    assert got["bare"] == bare and got["bare"].removed == [] and got["bare"].origin == ""


def test_articles_by_ids_in_the_order_asked(store):
    store.add_articles([art(i) for i in "abcde"])
    assert [a.id for a in store.articles(["d", "zz", "a", "c"])] == ["d", "a", "c"]
    assert store.articles([]) == []
    many = [f"x{i:05d}" for i in range(1200)]  # more than one query chunk
    store.add_articles([art(i) for i in many])
    assert [a.id for a in store.articles(list(reversed(many)))] == list(reversed(many))


def test_update_drops_derived_data(store):
    store.add_articles([art("a"), art("b"), art("c")])
    store.put_embeddings(MODEL, ["a", "b", "c"], np.vstack([vec(1), vec(2), vec(3)]))
    store.put_enrichment({"a": {"entities": ["X"]}, "b": {"entities": ["Y"]}})
    store.replace_duplicates([DuplicateLink("a", "b", "near", 0.9), DuplicateLink("c", "a", "exact", 1.0)])
    store.save_clustering([Event("e1", ["a", "b", "c"], title="T")], [Storyline("s1", ["e1"])])

    assert store.add_articles([art("a", "Rewritten a.")]) == ["updated"]
    assert store.missing_embeddings(MODEL) == ["a"]
    assert store.missing_enrichment() == ["a", "c"]
    assert store.enrichment(["a", "b"]) == {"b": {"entities": ["Y"]}}
    assert store.duplicates() == [DuplicateLink("c", "a", "exact", 1.0)]  # links *to* a stay
    assert store.assignments() == {"b": "e1", "c": "e1"}
    assert np.array_equal(store.embeddings(MODEL, ["b"]), vec(2)[None])
    # unchanged articles keep everything
    assert store.add_articles([art("b")]) == ["unchanged"]
    assert store.missing_embeddings(MODEL) == ["a"]


def test_work_left_comes_in_insertion_order(store):
    """What each stage has left to do is listed in insertion order, not in id order."""
    order = ["m", "c", "x", "a", "q"]
    store.add_articles([art(i) for i in order])
    assert store.missing_embeddings(MODEL) == order
    assert store.missing_enrichment() == order
    assert store.missing_minhashes() == order
    assert store.unclustered() == order
    store.put_enrichment({"x": {}, "m": {}})
    assert store.missing_enrichment() == ["c", "a", "q"]


# -- embeddings ---------------------------------------------------------------------------------------

def test_embeddings_round_trip(store):
    ids = ["a", "b", "c"]
    store.add_articles([art(i) for i in ids])
    assert store.missing_embeddings(MODEL) == ids
    vectors = np.vstack([vec(i) for i in range(3)])
    vectors[0, :3] = [1e-38, 3.0e38, -0.0]
    store.put_embeddings(MODEL, ids[:2], vectors[:2])
    assert store.missing_embeddings(MODEL) == ["c"]
    assert store.missing_embeddings("other-model") == ids
    got = store.embeddings(MODEL, ["b", "a"])
    assert got.dtype == np.float32 and got.shape == (2, 384)
    assert np.array_equal(got, vectors[[1, 0]])
    assert store.embeddings(MODEL, []).shape == (0, 384)
    with pytest.raises(KeyError):
        store.embeddings(MODEL, ["a", "c"])
    with pytest.raises(KeyError):
        store.embeddings("other-model", ["a"])
    # replacing an embedding (float64 input is stored as float32)
    store.put_embeddings(MODEL, ["a"], vectors[2:3].astype(np.float64))
    assert np.array_equal(store.embeddings(MODEL, ["a"]), vectors[2:3])
    store.put_embeddings(MODEL, [], np.zeros((0, 384), dtype=np.float32))


def test_text_vectors_cache(store):
    assert store.text_vectors(MODEL, ["h1"]) == {}
    store.put_text_vectors(MODEL, {"h1": vec(1), "h2": vec(2)})
    store.put_text_vectors(MODEL, {"h1": vec(9), "h3": vec(3)})  # a cached text keeps its vector
    got = store.text_vectors(MODEL, ["h3", "h1", "nope"])
    assert set(got) == {"h1", "h3"}
    assert np.array_equal(got["h1"], vec(1)) and np.array_equal(got["h3"], vec(3))
    assert got["h1"].dtype == np.float32
    assert store.text_vectors("other", ["h1"]) == {}
    store.put_text_vectors(MODEL, {})


# -- duplicates, events, storylines ---------------------------------------------------------------------

def test_duplicates_replace(store):
    store.add_articles([art(i) for i in "abcd"])
    store.replace_duplicates([DuplicateLink("b", "a", "exact", 1.0), DuplicateLink("c", "a", "near", 0.875)])
    assert sorted(store.duplicates(), key=lambda d: d.article_id) == [
        DuplicateLink("b", "a", "exact", 1.0), DuplicateLink("c", "a", "near", 0.875)]
    store.replace_duplicates([DuplicateLink("d", "c", "rewrite", 0.8125)])
    assert store.duplicates() == [DuplicateLink("d", "c", "rewrite", 0.8125)]
    store.replace_duplicates([])
    assert store.duplicates() == []


def test_events_storylines_assignments(store):
    store.add_articles([art(i) for i in "abcdef"])
    events = [
        Event("e2", ["c", "a"], title="Second", date=dt.date(2024, 3, 1), storyline_id="s1"),
        Event("e1", ["b"], title="First", date=dt.date(2024, 1, 5), storyline_id="s1"),
        Event("e0", ["e", "d"], title="", date=None, storyline_id="s2"),
        Event("E9", ["f"], title="Upper", date=dt.date(2024, 1, 5), storyline_id="s2"),
    ]
    store.save_clustering(events, [Storyline("s2", ["e0", "E9"], title="Two"), Storyline("s1", ["e1", "e2"])])
    got = store.events()
    # by date (undated first), then id byte-wise; members in insertion order of the articles
    assert [e.id for e in got] == ["e0", "E9", "e1", "e2"]
    assert got[3] == Event("e2", ["a", "c"], title="Second", date=dt.date(2024, 3, 1), storyline_id="s1")
    assert got[0].article_ids == ["d", "e"] and got[0].date is None
    assert store.assignments() == {"a": "e2", "b": "e1", "c": "e2", "d": "e0", "e": "e0", "f": "E9"}
    assert store.storylines() == [Storyline("s1", ["e1", "e2"], title=""), Storyline("s2", ["e0", "E9"], title="Two")]


def test_save_clustering_keeps_data_and_titles_of_kept_events(store):
    store.add_articles([art(i) for i in "abcd"])
    store.save_clustering([Event("e1", ["a", "b"], title="Old title", date=dt.date(2024, 1, 1)),
                           Event("e2", ["c"], title="Gone soon")], [Storyline("s1", ["e1", "e2"])])
    store.set_event_data("e1", {"summary": ["x"], "enrichment": {"quotes": [{"who": "A", "text": "q"}]}})
    store.set_event_title("e2", "Synth title")
    store.set_storyline_title("s1", "Story", {"overview": ["o"]})
    assert store.storyline_data("s1") == {"event_ids": ["e1", "e2"], "overview": ["o"]}

    # e1 keeps its id (an empty title keeps the stored one), e2 disappears, e3 is new
    store.save_clustering([Event("e1", ["a", "b", "d"], title="", date=dt.date(2024, 1, 2)),
                           Event("e3", ["c"], title="New")], [Storyline("s9", ["e1", "e3"])])
    got = {e.id: e for e in store.events()}
    assert set(got) == {"e1", "e3"}
    assert got["e1"].title == "Old title" and got["e1"].date == dt.date(2024, 1, 2)
    assert got["e1"].article_ids == ["a", "b", "d"]
    assert store.event_data("e1") == {"summary": ["x"], "enrichment": {"quotes": [{"who": "A", "text": "q"}]}}
    assert store.event_data("e2") == {} and store.event_data("e3") == {}
    assert store.storylines() == [Storyline("s9", ["e1", "e3"])]
    assert store.storyline_data("s1") == {}
    # a stored title wins over the clustering's placeholder: only synthesis (set_event_title) rewrites it
    store.save_clustering([Event("e1", ["a"], title="Newer")], [])
    assert [(e.id, e.title) for e in store.events()] == [("e1", "Old title")]
    assert store.storylines() == []
    store.save_clustering([], [])
    assert store.events() == [] and store.assignments() == {}


def test_set_title_of_unknown_ids_does_nothing(store):
    store.set_event_title("nope", "x")
    store.set_event_data("nope", {"a": 1})
    store.set_storyline_title("nope", "x", {"a": 1})
    assert store.events() == [] and store.storylines() == [] and store.event_data("nope") == {}


# -- enrichment, problems ----------------------------------------------------------------------------------

def test_enrichment_cache(store):
    store.add_articles([art(i) for i in "abc"])
    assert store.missing_enrichment() == ["a", "b", "c"]
    data = {"entities": [{"text": "Paris", "label": "GPE"}], "quotes": [], "score": 0.5, "n": 3, "none": None}
    store.put_enrichment({"b": data, "a": {"entities": []}})
    assert store.missing_enrichment() == ["c"]
    assert store.enrichment(["b", "c", "a"]) == {"b": data, "a": {"entities": []}}
    store.put_enrichment({"a": {"entities": ["replaced"]}})
    assert store.enrichment(["a"]) == {"a": {"entities": ["replaced"]}}
    assert store.enrichment([]) == {}


def test_json_round_trips_exactly(store):
    """Key order, NUL characters, numbers: what goes in comes out (export.json is byte-identical
    across backends)."""
    store.add_articles([art("a", removed=["z", "a\x00b"])])
    data = {"zeta": 1, "alpha": {"y": [3, 1.5, None], "b": True}, "mid": "x\x00y", "k\\": "\\u0000",
            "big": 12345678901234567890, "small": 1e-300}
    store.put_enrichment({"a": data})
    got = store.enrichment(["a"])["a"]
    assert got == data and list(got) == list(data) and list(got["alpha"]) == ["y", "b"]
    assert store.articles()[0].removed[0] == "z"
    store.save_clustering([Event("e1", ["a"])], [Storyline("s1", ["e1"])])
    store.set_event_data("e1", data)
    assert list(store.event_data("e1")) == list(data) and store.event_data("e1") == data
    store.set_storyline_title("s1", "T", {"overview": [{"line": "l", "date": "d", "event_id": "e1"}]})
    assert list(store.storyline_data("s1")["overview"][0]) == ["line", "date", "event_id"]


def test_problems_log(store):
    assert store.problems() == []
    store.log_problems([])
    store.log_problems([Problem("x.html", "no text"), Problem("y.txt", "empty")])
    store.log_problems([Problem("z.warc", "bad record")])
    assert store.problems() == [Problem("z.warc", "bad record"), Problem("y.txt", "empty"), Problem("x.html", "no text")]
    assert store.problems(limit=2) == [Problem("z.warc", "bad record"), Problem("y.txt", "empty")]


# -- transactions and reopening ----------------------------------------------------------------------------

def test_failed_writes_leave_nothing(store):
    store.add_articles([art("keep")])

    def articles_then_crash():
        yield art("a")
        yield art("b")
        raise RuntimeError("input died half way")

    with pytest.raises(RuntimeError):
        store.add_articles(articles_then_crash())
    assert [a.id for a in store.articles()] == ["keep"]

    # the second embedding names no stored article: the first is not kept either
    with pytest.raises(Exception):
        store.put_embeddings(MODEL, ["keep", "ghost"], np.vstack([vec(1), vec(2)]))
    assert store.missing_embeddings(MODEL) == ["keep"]

    store.save_clustering([Event("e1", ["keep"], title="T")], [Storyline("s1", ["e1"])])
    with pytest.raises(Exception):  # one article in two events breaks the membership key
        store.save_clustering([Event("e2", ["keep"]), Event("e3", ["keep"])], [])
    assert [(e.id, e.article_ids, e.title) for e in store.events()] == [("e1", ["keep"], "T")]
    assert store.storylines() == [Storyline("s1", ["e1"])]


def test_transaction_that_raises_leaves_nothing(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as conn:
            if is_pg(store):
                import sqlalchemy as sa

                conn.execute(sa.text("INSERT INTO problems (run_at, item, reason) VALUES ('t', 'i', 'r')"))
            else:
                conn.execute("INSERT INTO problems (run_at, item, reason) VALUES ('t', 'i', 'r')")
            raise RuntimeError("boom")
    assert store.problems() == []


def test_reopen_keeps_everything(backend):
    first = backend()
    first.add_articles([art("a"), art("b")])
    first.put_embeddings(MODEL, ["a"], vec(1)[None])
    first.save_clustering([Event("e1", ["a", "b"], title="T")], [])
    first.close()
    again = backend()
    assert again.add_articles([art("a"), art("c")]) == ["unchanged", "new"]
    assert np.array_equal(again.embeddings(MODEL, ["a"]), vec(1)[None])
    assert again.missing_embeddings(MODEL) == ["b", "c"]
    assert [e.article_ids for e in again.events()] == [["a", "b"]]


# -- PostgreSQL only -----------------------------------------------------------------------------------------

@pytest.fixture
def pg_store(pg_backend):
    return pg_backend()


def test_pg_store_methods_join_an_open_transaction(pg_store):
    with pytest.raises(RuntimeError):
        with pg_store.transaction():
            pg_store.add_articles([art("a")])
            pg_store.put_embeddings(MODEL, ["a"], vec(1)[None])
            assert pg_store.article_count() == 1  # reads inside see the transaction's writes
            raise RuntimeError("boom")
    assert pg_store.article_count() == 0 and pg_store.missing_embeddings(MODEL) == []


def test_pg_concurrent_writers_never_store_twice(pg_store, pg_backend):
    others = [pg_backend() for _ in range(3)]
    batch = [art(f"a{i}") for i in range(200)]
    results: list[list[str]] = []
    barrier = threading.Barrier(len(others))

    def work(s):
        barrier.wait()
        results.append(s.add_articles(batch))

    threads = [threading.Thread(target=work, args=(s,)) for s in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pg_store.article_count() == 200
    assert sorted(r[0] for r in results) == ["new", "unchanged", "unchanged"]
    assert all(len(set(r)) == 1 for r in results)


def test_pg_nul_characters_are_stored(pg_store):
    a = art("nul", "before\x00after", title="t\x00", removed=["x\x00y"])
    assert pg_store.add_articles([a]) == ["new"]
    got = pg_store.articles()[0]
    assert got.text == "before\ufffdafter" and got.title == "t\ufffd"  # text columns cannot hold NUL
    assert got.removed == ["x\x00y"]  # JSON can


def test_pg_store_has_no_sqlite_connection(pg_store, pg_url):
    import sqlalchemy as sa

    with pytest.raises(AttributeError, match="transaction"):
        pg_store.conn  # noqa: B018
    password = sa.engine.make_url(pg_url).password
    assert not password or password not in pg_store.url  # safe to log
    with pg_store.transaction() as c:
        available = c.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).scalar()
    assert pg_store.vector_type == ("vector" if available else "bytea")


def test_open_store_picks_the_backend(tmp_path, pg_url):
    from storyline.store.postgres import PostgresStore

    with open_store(tmp_path / "x" / "storyline.db") as s:
        assert isinstance(s, Store)
    with open_store(str(tmp_path / "y.db")) as s:
        assert isinstance(s, Store)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    for scheme in ("postgresql://", "postgres://"):
        url = scheme + pg_url.split("://", 1)[1] + f"?schema={schema}"
        with open_store(url) as s:
            assert isinstance(s, PostgresStore) and s.schema == schema
            s.add_articles([art("a")])
            assert s.article_count() == 1
    drop_pg_schema(pg_url, schema)


def test_importing_the_store_does_not_load_sqlalchemy():
    code = "import sys, storyline.store; assert 'sqlalchemy' not in sys.modules, 'sqlalchemy loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pg_role_without_ddl_rights_opens_an_existing_store(pg_store, pg_url):
    """A team's writers often get only read/write rights on tables someone else created."""
    import sqlalchemy as sa

    from storyline.store.postgres import PostgresStore

    pg_store.add_articles([art("a")])
    role, password = f"w_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    schema = pg_store.schema
    try:
        with pg_store.engine.begin() as c:
            c.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
    except sa.exc.DBAPIError as exc:
        pytest.skip(f"the test server's role may not create roles: {exc.orig}")
    try:
        with pg_store.engine.begin() as c:
            c.execute(sa.text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
            c.execute(sa.text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role}'))
            c.execute(sa.text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role}'))
        url = sa.engine.make_url(pg_url).set(username=role, password=password)
        with PostgresStore(url.render_as_string(hide_password=False), schema=schema) as writer:
            assert writer.add_articles([art("a"), art("b")]) == ["unchanged", "new"]
            writer.put_embeddings(MODEL, ["b"], vec(1)[None])
            assert writer.missing_embeddings(MODEL) == ["a"]
    finally:
        with pg_store.engine.begin() as c:
            c.execute(sa.text(f'DROP OWNED BY {role}'))
            c.execute(sa.text(f'DROP ROLE {role}'))


@pytest.mark.slow  # runs the embedding model
def test_pipeline_on_postgres_writes_the_same_outputs_as_on_sqlite(pg_backend, tmp_path):
    """The whole pipeline on the samples, once per backend, then again on PostgreSQL: export.json
    and report.html come out byte for byte the same, and the second run adds nothing."""
    from storyline.config import Config
    from storyline.export import write_outputs
    from storyline.pipeline import Pipeline
    from storyline.progress import Progress

    config = Config()
    config.progress = False

    def run_on(store, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        with Progress(enabled=False) as progress:
            summary = Pipeline(store, config, progress).run([str(ROOT / "examples")])
            write_outputs(store, out)
        return summary

    with Store(tmp_path / "sqlite" / "storyline.db") as lite:
        run_on(lite, tmp_path / "sqlite")
    pg = pg_backend()
    first = run_on(pg, tmp_path / "pg")
    for name in ("export.json", "report.html"):
        assert (tmp_path / "pg" / name).read_bytes() == (tmp_path / "sqlite" / name).read_bytes(), name
    assert first.events == 2 and first.storylines == 1
    before = pg.article_count()
    run_on(pg, tmp_path / "pg-again")
    assert pg.article_count() == before
    assert (tmp_path / "pg-again" / "export.json").read_bytes() == (tmp_path / "pg" / "export.json").read_bytes()


# -- incremental clustering and the persistent LSH index (both backends) ------------------------------

def test_update_clustering_writes_only_what_changed(store):
    store.add_articles([art(i) for i in "abcde"])
    store.update_clustering(
        [Event("e1", ["a", "b"], date=dt.date(2024, 1, 2), storyline_id="s1", last_day=19724.0, last_seq=2),
         Event("e2", ["c"], storyline_id="s1", last_day=None, last_seq=3)],
        members_changed=["e1", "e2"], meta={"max_day": "19724.0"})
    assert store.unclustered() == ["d", "e"]
    assert store.hot_assignments() == {"a": "e1", "b": "e1", "c": "e2"}
    assert [s.event_ids for s in store.storylines()] == [["e1", "e2"]]
    assert {e.id for e in store.dirty_events()} == {"e1", "e2"}
    assert store.meta("max_day") == "19724.0"
    store.clear_dirty(["e1", "e2"])
    assert store.dirty_events() == []

    # e1 closes (keeps its members, leaves the hot set, its centroid joins the events-level index);
    # e2 takes d; e3 starts with e in its own storyline. Memberships of e1 are not rewritten.
    store.update_clustering(
        [Event("e1", ["a", "b"], storyline_id="s1", last_day=19724.0, last_seq=2, open=False),
         Event("e2", ["c", "d"], storyline_id="s1", last_seq=4),
         Event("e3", ["e"], storyline_id="s3", last_seq=5)],
        members_changed=["e2", "e3"], centroids={"e1": (vec(1), {"summit": 0.8, "paris": 0.6})})
    assert store.hot_assignments() == {"c": "e2", "d": "e2", "e": "e3"}
    assert store.assignments() == {"a": "e1", "b": "e1", "c": "e2", "d": "e2", "e": "e3"}
    assert {e.id for e in store.dirty_events()} == {"e2", "e3"}
    ids, sids, vectors = store.closed_centroids()
    assert ids == ["e1"] and sids == ["s1"] and np.allclose(vectors[0], vec(1))
    assert store.centroid_terms(["e1", "e2"]) == {"e1": {"summit": 0.8, "paris": 0.6}}
    closed = store.events(["e1"])[0]
    assert not closed.open and closed.article_ids == ["a", "b"] and closed.last_day == 19724.0

    # e3 bridges storyline s3 into s1; e2 is merged into e3 (dropped).
    store.update_clustering([Event("e3", ["c", "d", "e"], storyline_id="s1", last_seq=5)], dropped=["e2"],
                            members_changed=["e3"], storyline_moves={"s3": "s1"})
    assert store.assignments() == {"a": "e1", "b": "e1", "c": "e3", "d": "e3", "e": "e3"}
    assert [(s.id, s.event_ids) for s in store.storylines()] == [("s1", ["e1", "e3"])]
    assert store.event_count() == 2 and store.storyline_count() == 1


def _lsh_candidates(store, keys) -> dict:
    """Articles sharing a band key with ``keys``: id -> (seq, signature), as find_new_copies reads them."""
    return store.minhash_rows({i for ids in store.band_members(keys).values() for i in ids})


def test_updated_article_marks_its_event_dirty(store):
    store.add_articles([art("a"), art("b")])
    store.update_clustering([Event("e1", ["a", "b"], storyline_id="s1")], members_changed=["e1"])
    store.clear_dirty(["e1"])
    store.put_minhashes({"a": b"\x01\x00\x00\x00"}, [("a", 0, 7)], [])
    store.add_articles([art("a", "A new text of article a.")])
    assert [e.id for e in store.dirty_events()] == ["e1"]
    assert store.unclustered() == ["a"] and store.missing_minhashes() == ["a", "b"]
    assert _lsh_candidates(store, [(0, 7)]) == {}


def test_minhash_tables_and_copy_links(store):
    same = "h-same"
    store.add_articles([Article("a", "Same text.", same), art("b", "Other text."), Article("c", "Same text.", same)])
    assert store.missing_minhashes() == ["a", "b", "c"]
    sig = np.arange(8, dtype=np.uint32).tobytes()
    store.put_minhashes({"a": sig, "b": sig, "c": b""}, [("a", 0, 11), ("a", 1, -5), ("b", 1, 2**62)],
                        [DuplicateLink("c", "a", "exact", 1.0)])
    assert store.missing_minhashes() == []
    assert store.first_with_hash([same, "h-none"]) == {same: "a"}
    seqs = store.article_seqs(["a", "b"])
    assert _lsh_candidates(store, [(1, -5), (0, 3)]) == {"a": (seqs["a"], sig)}
    assert _lsh_candidates(store, [(1, 2**62)]) == {"b": (seqs["b"], sig)}
    store.replace_rewrites(["b"], [DuplicateLink("b", "a", "rewrite", 0.75)])
    assert store.copy_ids(["a", "b", "c"]) == {"c"}
    assert store.duplicate_counts() == {"exact": 1, "rewrite": 1}
    store.replace_rewrites(["b", "c"], [])  # rewrites go, the copy stays
    assert store.duplicate_counts() == {"exact": 1}


def test_rewrite_check_keys_go_with_their_links(store):
    """Keys are replaced with the links of the articles checked, and dropped when the article's text
    changes or all links are replaced (the links they vouch for are gone)."""
    store.add_articles([art("a", "First text."), art("b", "Second text."), art("c", "Third text.")])
    store.replace_rewrites(["a", "b", "c"], [DuplicateLink("b", "a", "rewrite", 0.75)], {"a": "k1", "b": "k2", "c": "k3"})
    assert store.rewrite_checks(["a", "b", "c", "x"]) == {"a": "k1", "b": "k2", "c": "k3"}
    store.replace_rewrites(["b", "c"], [], {"b": "k4"})
    assert store.rewrite_checks(["a", "b", "c"]) == {"a": "k1", "b": "k4"} and store.duplicates() == []
    store.add_articles([art("a", "First text, corrected.")])
    assert store.rewrite_checks(["a", "b"]) == {"b": "k4"}
    store.replace_duplicates([])
    assert store.rewrite_checks(["a", "b"]) == {}


def test_stored_json_with_nan_still_reads():
    from storyline.store.sqlite import _json_loads

    assert _json_loads('{"a": 0.5}') == {"a": 0.5}
    value = _json_loads('{"a": NaN}')["a"]
    assert value != value  # NaN, as json.dumps wrote it
