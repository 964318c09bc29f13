"""The PostgreSQL store with pgvector, on a real server that has the extension.

Debian 12 has no pgvector package, so the ``pg_url`` server of the other tests stores embeddings as
``bytea``. Here the server is the ``pgvector_url`` fixture of tests/conftest.py: PostgreSQL 16 and
pgvector as bundled by the ``pgserver`` wheel (dev extra), a throwaway cluster started once per
session. What runs on it:

* every PostgreSQL test of the store contract in tests/test_store.py (imported below, with this
  module's ``pg_url`` pointing them at this server; the SQLite half stays there), now through the
  ``vector(384)`` column;
* which column type a store picks (the extension created when the role may, kept as created, in
  whatever schema it lives) and exact float32 round trips;
* clustering with closed events (their centroids), ``storyline run`` on the samples and the web
  app's meaning search: the same as on SQLite.
"""

from __future__ import annotations

import inspect
import json
import shutil
import uuid

import numpy as np
import pytest
import sqlalchemy as sa
import test_store as contract
from conftest import ROOT, drop_pg_schema, run_cli, with_schema
from test_store import MODEL, art, vec

from storyline.config import EmbedConfig
from storyline.enrich.embed import article_model
from storyline.records import Article
from storyline.store import Store
from storyline.store.postgres import PostgresStore

ARTICLE_VECTORS = article_model(EmbedConfig())  # the pipeline's key of article vectors

pytestmark = pytest.mark.timeout(900)


# -- the server -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_url(pgvector_url: str) -> str:
    """The server of this module's tests, the imported contract tests included: the pgvector one."""
    return pgvector_url


@pytest.fixture
def backend(pg_backend):
    """The contract's store factory, PostgreSQL only."""
    return pg_backend


def _contract() -> dict:
    """The tests of tests/test_store.py that take a PostgreSQL store or server (not the slow
    pipeline run: ``test_cli_run_on_pgvector_writes_what_sqlite_writes`` below does that here), and
    the fixtures they take that this module does not define."""
    stores = {"store", "backend", "pg_store", "pg_backend", "pg_url"}
    out = {name: getattr(contract, name) for name in ("store", "pg_store", "pg_backend")}
    for name, test in vars(contract).items():
        if not name.startswith("test_") or not inspect.isfunction(test):
            continue
        params = set(inspect.signature(test).parameters)
        slow = any(m.name == "slow" for m in getattr(test, "pytestmark", []))
        if params & stores and params <= stores | {"tmp_path"} and not slow:
            out[name] = test
    return out


globals().update(_contract())


def _admin(url: str) -> sa.Engine:
    from storyline.store.postgres import _split_url

    return sa.create_engine(_split_url(url)[0], isolation_level="AUTOCOMMIT")


@pytest.fixture
def fresh_db(pgvector_url: str):
    """A new database on the pgvector server, without the extension created in it: its URL; dropped after."""
    name = f"d_{uuid.uuid4().hex[:12]}"
    admin = _admin(pgvector_url)
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.DBAPIError as exc:
        admin.dispose()
        pytest.skip(f"the pgvector server's role may not create databases: {exc.orig}")
    yield sa.engine.make_url(pgvector_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def column_type(store: PostgresStore, table: str = "embeddings") -> str:
    with store.engine.connect() as c:
        return c.execute(sa.text(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = t.relnamespace"
            " WHERE n.nspname = current_schema() AND t.relname = :t AND a.attname = 'vector'"), {"t": table}).scalar()


def extension_schema(url: str) -> str | None:
    engine = _admin(url)
    try:
        with engine.connect() as c:
            return c.exec_driver_sql("SELECT extnamespace::regnamespace::text FROM pg_extension"
                                     " WHERE extname = 'vector'").scalar()
    finally:
        engine.dispose()


# -- the column type --------------------------------------------------------------------------------

def test_a_new_store_creates_the_extension_and_a_vector_column(fresh_db):
    assert extension_schema(fresh_db) is None
    with PostgresStore(fresh_db) as s:  # no ?schema=: the database's default schema, public
        assert s.vector_type == "vector" and s.schema is None
        assert column_type(s) == "vector(384)"
        assert column_type(s, "text_embeddings") == "bytea" and column_type(s, "event_centroids") == "bytea"
        s.add_articles([art("a")])
        s.put_embeddings(MODEL, ["a"], vec(1)[None])
        assert np.array_equal(s.embeddings(MODEL, ["a"]), vec(1)[None])
    assert extension_schema(fresh_db) == "public"
    with PostgresStore(with_schema(fresh_db, "s1")) as again, PostgresStore(with_schema(fresh_db, "s2")) as other:
        assert again.vector_type == other.vector_type == "vector"


def test_a_role_that_may_not_create_the_extension_gets_bytea_and_keeps_it(fresh_db):
    """pgvector is not a trusted extension: an ordinary role owning the database cannot create it, and
    the store falls back to bytea inside the same transaction. Once an administrator installs it,
    that store keeps its bytea column (existing data stays readable) while new stores use vector."""
    role, password = f"r_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    admin = _admin(fresh_db)
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        c.exec_driver_sql(f'ALTER DATABASE "{sa.engine.make_url(fresh_db).database}" OWNER TO {role}')
    url = sa.engine.make_url(fresh_db).set(username=role, password=password).render_as_string(hide_password=False)
    try:
        with PostgresStore(with_schema(url, "old")) as old:
            assert old.vector_type == "bytea" and column_type(old) == "bytea"
            old.add_articles([art("a"), art("b")])
            old.put_embeddings(MODEL, ["a"], vec(1)[None])
        assert extension_schema(fresh_db) is None
        with admin.connect() as c:
            c.exec_driver_sql("CREATE EXTENSION vector")
        for opener in (url, fresh_db):  # the role and a superuser: the existing column type wins
            with PostgresStore(with_schema(opener, "old")) as old:
                assert old.vector_type == "bytea"
                assert np.array_equal(old.embeddings(MODEL, ["a"]), vec(1)[None])
        with PostgresStore(with_schema(url, "old")) as old:
            old.put_embeddings(MODEL, ["b"], vec(2)[None])
            assert np.array_equal(old.embeddings(MODEL, ["b", "a"]), np.vstack([vec(2), vec(1)]))
            from storyline.serve.backend import PostgresDB

            db = PostgresDB(with_schema(url, "old"))
            try:
                matrix, seqs = db.vectors(MODEL)
            finally:
                db.close()
            assert np.array_equal(matrix, np.vstack([vec(1), vec(2)])) and seqs.tolist() == [1, 2]
        with PostgresStore(with_schema(url, "new")) as new:
            assert new.vector_type == "vector" and column_type(new) == "vector(384)"
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'ALTER DATABASE "{sa.engine.make_url(fresh_db).database}" OWNER TO CURRENT_USER')
            c.exec_driver_sql(f"DROP OWNED BY {role} CASCADE")
            c.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


def test_the_extension_in_another_schema(fresh_db):
    """A database whose administrator put pgvector in its own schema, not on the search path."""
    admin = _admin(fresh_db)
    with admin.connect() as c:
        c.exec_driver_sql("CREATE SCHEMA ext")
        c.exec_driver_sql("CREATE EXTENSION vector SCHEMA ext")
    admin.dispose()
    with PostgresStore(with_schema(fresh_db, "s1")) as s:
        assert s.vector_type == "vector" and column_type(s) == "ext.vector(384)"
        s.add_articles([art("a"), art("b")])
        vectors = np.vstack([vec(1), vec(2)])
        s.put_embeddings(MODEL, ["a", "b"], vectors)
        assert np.array_equal(s.embeddings(MODEL, ["b", "a"]), vectors[[1, 0]])
        from storyline.serve.backend import PostgresDB

        db = PostgresDB(with_schema(fresh_db, "s1"))
        try:
            matrix, seqs = db.vectors(MODEL)
        finally:
            db.close()
        assert np.array_equal(matrix, vectors) and seqs.tolist() == [1, 2]


# -- embeddings in the vector column ----------------------------------------------------------------

def test_embeddings_round_trip_bit_for_bit(pg_store):
    """float32 in, the same bits out: the text form the store writes has 9 significant digits
    (enough for any float32), and it reads pgvector's binary form."""
    ids = [f"a{i}" for i in range(50)]
    pg_store.add_articles([art(i) for i in ids])
    vectors = np.random.default_rng(7).standard_normal((50, 384)).astype(np.float32)
    vectors[0, :8] = [-0.0, 1e-45, 1.17549435e-38, 1e-38, 3.4028235e38, -3.4028235e38, 1 / 3, np.pi]
    vectors[1] /= np.linalg.norm(vectors[1])  # as MiniLM's vectors are
    pg_store.put_embeddings(MODEL, ids, vectors)
    assert pg_store.vector_type == "vector" and column_type(pg_store) == "vector(384)"
    got = pg_store.embeddings(MODEL, ids[::-1])
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert np.array_equal(got.view(np.uint32), vectors[::-1].view(np.uint32))
    with pg_store.transaction() as c:  # what is stored is a real pgvector value: it can be queried as one
        nearest = c.execute(sa.text(
            f'SELECT article_id FROM embeddings ORDER BY vector <-> CAST(:q AS "{pg_store._vector_ns}".vector)'
            " LIMIT 1"), {"q": pg_store._vector_param(vectors[17] + 1e-3)}).scalar()
    assert nearest == "a17"


def test_a_vector_pgvector_refuses_leaves_nothing_behind(pg_store):
    """pgvector refuses NaN and infinity (bytea would store them); the write fails as a whole."""
    pg_store.add_articles([art("a"), art("b")])
    bad = np.vstack([vec(1), vec(2)])
    bad[1, 5] = np.nan
    with pytest.raises(sa.exc.DataError):
        pg_store.put_embeddings(MODEL, ["a", "b"], bad)
    assert pg_store.missing_embeddings(MODEL) == ["a", "b"]


# -- the pipeline: closed events, storylines, the samples ---------------------------------------------

def test_incremental_clustering_with_closed_events_matches_sqlite(pg_backend, tmp_path):
    """Events close, their centroids join the events-level index and a returning story links to its
    closed event's storyline through it: the same events, storylines and centroids as on SQLite."""
    import datetime as dt

    from test_pipeline_incremental import DAY0, Feed, partition, run

    def scenario(store) -> None:
        feed = Feed(store)
        feed.add(0, 4, DAY0)
        feed.add(1, 4, DAY0)
        run(store)
        feed.add(2, 3, DAY0 + dt.timedelta(days=40))  # events 0 and 1 close
        run(store)
        feed.add(0, 3, DAY0 + dt.timedelta(days=60))  # story 0 again
        run(store)

    with Store(tmp_path / "s.db") as lite:
        scenario(lite)
        pg = pg_backend()
        scenario(pg)
        assert pg.vector_type == "vector"
        assert partition(pg) == partition(lite) and len(partition(pg)) == 4
        assert [(e.id, e.storyline_id, e.open, e.article_ids) for e in pg.events()] == \
            [(e.id, e.storyline_id, e.open, e.article_ids) for e in lite.events()]
        assert [(s.id, s.event_ids) for s in pg.storylines()] == [(s.id, s.event_ids) for s in lite.storylines()]
        ids, sids, centroids = pg.closed_centroids()
        lite_ids, lite_sids, lite_centroids = lite.closed_centroids()
        assert (ids, sids) == (lite_ids, lite_sids) and len(ids) >= 2
        assert np.array_equal(centroids, lite_centroids)


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory, pgvector_url):
    """``storyline run`` on the five samples, once into SQLite and once into a fresh schema of the
    pgvector server: (SQLite output folder, PostgreSQL output folder, the schema's URL)."""
    base = tmp_path_factory.mktemp("pgvector-run")
    shutil.copytree(ROOT / "examples", base / "examples")
    schema = f"t_run_{uuid.uuid4().hex[:12]}"
    url = with_schema(pgvector_url, schema)
    try:
        for out, db in ((base / "sqlite", None), (base / "pg", url)):
            done = run_cli("run", str(base / "examples"), "--out", str(out), *(["--db", db] if db else []))
            assert done.returncode == 0, done.stderr[-3000:]
        yield base / "sqlite", base / "pg", url
    finally:
        drop_pg_schema(pgvector_url, schema)


@pytest.mark.slow  # runs the embedding model
def test_cli_run_on_pgvector_writes_what_sqlite_writes(sample_runs):
    lite_out, pg_out, url = sample_runs
    for name in ("export.json", "report.html"):
        assert (pg_out / name).read_bytes() == (lite_out / name).read_bytes(), name
    export = json.loads((pg_out / "export.json").read_text())
    assert len(export["events"]) == 2 and len(export["storylines"]) == 1
    with PostgresStore(url) as pg, Store(lite_out / "storyline.db") as lite:
        assert pg.vector_type == "vector" and column_type(pg) == "vector(384)"
        assert [(e.id, e.article_ids) for e in pg.events()] == [(e.id, e.article_ids) for e in lite.events()]
        ids = [a.id for a in lite.articles()]
        assert pg.missing_embeddings(ARTICLE_VECTORS) == [] and len(ids) == 5
        assert np.allclose(pg.embeddings(ARTICLE_VECTORS, ids), lite.embeddings(ARTICLE_VECTORS, ids), atol=1e-6)


# -- the web app --------------------------------------------------------------------------------------

@pytest.mark.slow  # runs the embedding model
def test_serve_reads_vectors_from_pgvector(sample_runs, pgvector_url):
    """The web app's meaning search on a copy of the SQLite store in the pgvector server: the same
    matrix (bit for bit, same article order) and the same answers as on the SQLite file."""
    from fastapi.testclient import TestClient
    from serve_backends import pg_copy

    from storyline.serve.app import create_app
    from storyline.serve.backend import open_db

    lite_db = sample_runs[0] / "storyline.db"
    with pg_copy(lite_db, pgvector_url) as url:
        lite, pg = open_db(lite_db), open_db(url)
        try:
            assert pg.writer.vector_type == "vector"
            (m_lite, s_lite), (m_pg, s_pg) = lite.vectors(ARTICLE_VECTORS), pg.vectors(ARTICLE_VECTORS)
            assert m_pg.dtype == np.float32 and m_pg.shape == (5, 384)
            assert np.array_equal(m_pg, m_lite) and np.array_equal(s_pg, s_lite)
            # a vector written after start-up is read on the next request
            pg.writer.add_articles([Article("late", "A late report.", "h-late")])
            pg.writer.put_embeddings(ARTICLE_VECTORS, ["late"], m_lite[:1])
            m_pg, s_pg = pg.vectors(ARTICLE_VECTORS)
            assert m_pg.shape == (6, 384) and np.array_equal(m_pg[5], m_lite[0]) and s_pg[5] == s_pg[:5].max() + 1
        finally:
            lite.close()
            pg.close()
    with pg_copy(lite_db, pgvector_url) as url:
        answers = []
        for target in (lite_db, url):
            with TestClient(create_app(target, warm=False)) as client:
                body = client.get("/api/search", params={"q": "continental allies left out of peace negotiations",
                                                         "mode": "meaning"}).json()
            answers.append([(i["article_id"], round(i["cosine"], 6)) for i in body["items"]])
        assert answers[0] and all(cos > 0.25 for _, cos in answers[0])
        assert answers[1] == answers[0]
