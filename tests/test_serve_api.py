"""The HTTP API and the pages of `storyline serve`, in-process (FastAPI TestClient), on both stores.

One store is built from the five seed articles per module; an event gets a small hand-written
enrichment (entities, quotes, timeline) so those endpoints have something to return whether or not
the enrichment stage has run. Every test that takes the store runs twice: on that SQLite file and on
a copy of it in a PostgreSQL schema (the `pg_url` fixture of tests/conftest.py: STORYLINE_TEST_PG_URL
or scripts/pg.sh; skipped with the reason when there is no server). Tests that write work on
their own copy.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from storyline.export.json_export import export_schema  # noqa: E402
from storyline.serve.app import create_app  # noqa: E402
from storyline.store import Store  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_backends import pg_copy, store_on  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "s3cret-token"
XSS_TITLE = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.timeout(600)

ENRICHMENT = {
    "entities": [
        {"name": "Emmanuel Macron", "type": "PERSON", "aliases": ["Macron"], "article_ids": [], "role": "French President"},
        {"name": "NATO", "type": "ORG", "aliases": [], "article_ids": []},
        {"name": XSS_IMG, "type": "PERSON", "aliases": [], "article_ids": []},
    ],
    "quotes": [
        {"text": "Europe's security is at a turning point", "speaker": "Emmanuel Macron", "article_ids": []},
        {"text": XSS_TITLE, "speaker": XSS_IMG, "article_ids": []},
    ],
    "timeline": [{"date": "2025-02-17", "text": "Leaders meet in Paris", "article_ids": []}],
}


@pytest.fixture(scope="module")
def sqlite_seeds(tmp_path_factory) -> Path:
    from storyline.serve.demo import build_demo_store

    out = tmp_path_factory.mktemp("api")
    shutil.copytree(ROOT / "examples", out / "examples")
    db = build_demo_store([out / "examples"], out / "store", enrich=False)
    with Store(db) as store:
        ev = max(store.events(), key=lambda e: len(e.article_ids))
        data = store.event_data(ev.id)
        enr = json.loads(json.dumps(ENRICHMENT))
        for item in enr["entities"] + enr["quotes"] + enr["timeline"]:
            item["article_ids"] = ev.article_ids[:2]
        data["enrichment"] = enr
        store.set_event_data(ev.id, data)
    return db


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def seeds_store(request, sqlite_seeds) -> str | Path:
    """The seeds store: the SQLite file, or a copy of it in a fresh PostgreSQL schema (its URL)."""
    if request.param == "sqlite":
        yield sqlite_seeds
    else:
        with pg_copy(sqlite_seeds, request.getfixturevalue("pg_url")) as url:
            yield url


@pytest.fixture(scope="module")
def client(seeds_store):
    app = create_app(seeds_store, token=TOKEN, warm=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def store_copy(request, seeds_store, sqlite_seeds, tmp_path):
    """A private copy of the seeds store on the same backend (a path or a URL)."""
    if isinstance(seeds_store, Path):
        with store_on("sqlite", sqlite_seeds, tmp_path) as target:
            yield target
    else:
        with store_on("postgres", sqlite_seeds, tmp_path, request.getfixturevalue("pg_url")) as target:
            yield target


def big_event(client) -> dict:
    items = client.get("/api/events", params={"per_page": 200}).json()["items"]
    return max(items, key=lambda e: e["n_articles"])


# -- reads ---------------------------------------------------------------------------------------


def test_health(client):
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] and body["articles"] == 5 and body["writes"] is True


def test_storylines(client):
    r = client.get("/api/storylines")
    assert r.status_code == 200
    page = r.json()
    assert page["total"] >= 1 and page["page"] == 1 and page["items"]
    s = page["items"][0]
    one = client.get(f"/api/storylines/{quote(s['id'])}").json()
    assert one["id"] == s["id"] and [e["id"] for e in one["events"]] == s["event_ids"]
    assert client.get("/api/storylines/sl-nope").status_code == 404


def test_events_list_paging_and_filters(client):
    page = client.get("/api/events", params={"per_page": 1}).json()
    assert page["per_page"] == 1 and len(page["items"]) == 1 and page["pages"] == page["total"]
    assert client.get("/api/events", params={"per_page": 0}).status_code == 422
    assert client.get("/api/events", params={"per_page": 201}).status_code == 422
    assert client.get("/api/events", params={"page": 0}).status_code == 422
    r = client.get("/api/events", params={"date_from": "yesterday"})
    assert r.status_code == 422 and r.json()["problems"][0]["where"] == "query.date_from"
    assert client.get("/api/events", params={"date_from": "2099-01-01"}).json()["total"] == 0
    with_macron = client.get("/api/events", params={"entity": "emmanuel MACRON", "per_page": 200}).json()["items"]
    assert big_event(client)["id"] in [e["id"] for e in with_macron]
    assert client.get("/api/events", params={"entity": "Nobody"}).json()["total"] == 0
    assert client.get("/api/events", params={"outlet": "' OR '1'='1"}).json()["total"] == 0
    sid = page["items"][0]["storyline_id"]
    assert client.get("/api/events", params={"storyline": sid}).json()["total"] >= 1


def test_event_in_export_format(client):
    import jsonschema

    ev = big_event(client)
    r = client.get(f"/api/events/{quote(ev['id'])}")
    assert r.status_code == 200
    body = r.json()
    jsonschema.validate(body, export_schema()["properties"]["events"]["items"])
    assert body["summary"] and all(s["article_ids"] for s in body["summary"])
    assert body["entities"][0]["name"] == "Emmanuel Macron"
    assert client.get("/api/events/ev-missing").status_code == 404


def test_articles(client):
    page = client.get("/api/articles", params={"per_page": 2}).json()
    assert page["total"] == 5 and len(page["items"]) == 2 and page["pages"] == 3
    aid = page["items"][0]["id"]
    a = client.get(f"/api/articles/{quote(aid)}").json()
    assert a["id"] == aid and a["text"] and isinstance(a["removed"], list) and a["event_id"]
    assert a["origin"] and "/" not in a["origin"]  # the file's name, not the server's folders
    ev = big_event(client)
    assert client.get("/api/articles", params={"event": ev["id"]}).json()["total"] == ev["n_articles"]
    assert client.get("/api/articles/no-such-article").status_code == 404
    assert client.get("/api/articles/' OR 1=1 --").status_code == 404


def test_entities_and_quotes(client):
    page = client.get("/api/entities").json()
    names = [e["name"] for e in page["items"]]
    assert "Emmanuel Macron" in names and "NATO" in names
    found = client.get("/api/entities", params={"q": "macr", "per_page": 200}).json()["items"]
    assert "Emmanuel Macron" in [e["name"] for e in found] and all("macr" in e["name"].lower() for e in found)
    orgs = client.get("/api/entities", params={"type": "ORG", "per_page": 200}).json()["items"]
    assert "NATO" in [e["name"] for e in orgs] and {e["type"] for e in orgs} == {"ORG"}
    assert client.get("/api/entities", params={"type": "ALIEN"}).status_code == 422
    one = client.get("/api/entities/Emmanuel Macron").json()
    assert "French President" in one["roles"] and len(one["events"]) >= 1 and len(one["quotes"]) >= 1
    assert client.get("/api/entities/Nobody").status_code == 404
    quotes = client.get("/api/quotes").json()
    assert quotes["total"] >= 2
    mine = client.get("/api/quotes", params={"speaker": "emmanuel macron", "per_page": 200}).json()["items"]
    assert "Europe's security is at a turning point" in [q["text"] for q in mine]
    assert all(q["speaker"].lower() == "emmanuel macron" for q in mine)


def test_search(client):
    r = client.get("/api/search", params={"q": "\"emergency talks\""})
    assert r.status_code == 200
    body = r.json()
    assert body["items"] and body["items"][0]["matched"] in ("words", "both")
    assert "emergency talks" in body["items"][0]["snippet"].lower()
    words = client.get("/api/search", params={"q": "Macron Paris", "mode": "words"}).json()
    assert words["items"] and all(i["matched"] == "words" for i in words["items"])
    meaning = client.get("/api/search", params={"q": "continental allies left out of peace negotiations",
                                                "mode": "meaning"}).json()
    assert meaning["items"] and all(i["cosine"] > 0.25 for i in meaning["items"])
    # FTS5 and tsquery syntax in the query is plain text, never an error
    for q in ['NEAR(a b) OR "', "title:Paris", "a AND", "*", "'; DROP TABLE articles; --", "Paris & !Macron | x",
              "talks:* <-> (leaders", "\\", "'Paris'", "a <2> b", "%s %(x)s ?", "--", '"""']:
        for mode in ("hybrid", "words"):
            assert client.get("/api/search", params={"q": q, "mode": mode}).status_code == 200, q
    # the operators are words like any other: "Paris & !Macron" finds what "Paris Macron" finds
    plain = client.get("/api/search", params={"q": "Paris Macron", "mode": "words"}).json()["items"]
    ops = client.get("/api/search", params={"q": "Paris & !Macron", "mode": "words"}).json()["items"]
    assert [i["article_id"] for i in ops] == [i["article_id"] for i in plain]
    assert client.get("/api/search", params={"q": ""}).status_code == 422
    assert client.get("/api/search", params={"q": "x" * 501}).status_code == 422
    assert client.get("/api/search", params={"q": "paris", "mode": "magic"}).status_code == 422
    assert client.get("/api/search").status_code == 422
    paged = client.get("/api/search", params={"q": "Paris", "per_page": 2, "page": 2}).json()
    assert paged["page"] == 2 and len(paged["items"]) <= 2


def test_meaning_search_on_a_store_made_before_lead_tokens(sqlite_seeds, tmp_path):
    """A store whose article vectors were made before ``lead_tokens`` (key ``MODEL_NAME``, 128 pieces)
    is still searched by meaning until its next run embeds it again."""
    import sqlite3

    from storyline.enrich.embed import MODEL_NAME

    db = tmp_path / "old.db"
    shutil.copyfile(sqlite_seeds, db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE embeddings SET model = ?", (MODEL_NAME,))
    with TestClient(create_app(db, token=TOKEN, warm=False)) as c:
        meaning = c.get("/api/search", params={"q": "continental allies left out of peace negotiations",
                                               "mode": "meaning"}).json()
    assert meaning["items"] and all(i["cosine"] > 0.25 for i in meaning["items"])


def test_openapi(client):
    spec = client.get("/openapi.json").json()
    for path in ("/api/storylines", "/api/events", "/api/events/{event_id}", "/api/articles",
                 "/api/articles/{article_id}", "/api/entities", "/api/quotes", "/api/search"):
        assert path in spec["paths"], path
    assert "post" in spec["paths"]["/api/articles"]


def test_pages(client):
    ev = big_event(client)
    aid = client.get("/api/articles").json()["items"][0]["id"]
    pages = ["/", f"/event/{quote(ev['id'])}", f"/storyline/{quote(ev['storyline_id'])}", f"/article/{quote(aid)}",
             "/entity?name=Emmanuel+Macron", "/search?q=Paris", "/search?q=leaders&mode=meaning", "/search", "/api",
             "/?date_from=2020-01-01&date_to=2030-01-01", "/?entity=NATO", "/static/app.css", "/static/app.js"]
    for url in pages:
        r = client.get(url)
        assert r.status_code == 200, url
    html = client.get(f"/event/{quote(ev['id'])}").text
    assert 'class="cite"' in html and "<svg" in html and "Emmanuel Macron" in html
    for url in ["/event/nope", "/storyline/nope", "/article/nope", "/entity?name=Nobody"]:
        assert client.get(url).status_code == 404, url
    assert client.get("/?date_from=soon").status_code == 400
    assert client.get("/entity").status_code == 400
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/%2e%2e/app.py").status_code == 404
    html = client.get("/search?q=Paris").text  # the ranking help names the store's own machinery
    assert ("PostgreSQL full-text search" in html) == (not isinstance(client.app.state.repo.writer, Store))


def test_security_headers(client):
    for url in ("/", "/api/events", "/nope"):
        h = client.get(url).headers
        csp = h["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
    html = client.get("/").text
    assert "<script>" not in html and " style=" not in html and "onclick" not in html


# -- writes --------------------------------------------------------------------------------------


def test_post_needs_the_token(client):
    rec = {"id": "t1", "title": "t", "text": "Some words here for a test article body."}
    r = client.post("/api/articles", json=rec)
    assert r.status_code == 401 and "token" in r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"
    r = client.post("/api/articles", json=rec, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403
    r = client.post("/articles", json=rec, headers={"X-Storyline-Token": "wrong"})
    assert r.status_code == 403
    assert client.get("/api/articles/t1").status_code == 404


def test_post_without_configured_token_is_refused(seeds_store):
    with TestClient(create_app(seeds_store, token=None, embedder=None, warm=False)) as c:
        r = c.post("/api/articles", json={"id": "x", "text": "words words words words words"},
                   headers={"Authorization": "Bearer anything"})
        assert r.status_code == 403 and "disabled" in r.json()["detail"]
        assert c.get("/api/health").json()["writes"] is False


def test_post_bad_bodies(client):
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    r = client.post("/api/articles", content=b'{"id": "a", "text": ', headers=auth)
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    r = client.post("/api/articles", content=b"", headers=auth)
    assert r.status_code == 400 and "empty body" in r.json()["detail"]
    r = client.post("/api/articles", content=b"\xff\xfe\x00", headers=auth)
    assert r.status_code == 400
    r = client.post("/api/articles", content=b'"just a string"', headers=auth)
    assert r.status_code == 422
    assert client.post("/api/articles", content=b"[]", headers=auth).status_code == 422
    r = client.post("/api/articles", content=json.dumps([{"id": "a", "url": "http://x"}, 5]).encode(), headers=auth)
    assert r.status_code == 422
    problems = r.json()["detail"]["problems"]
    assert [p["item"] for p in problems] == [0, 1]
    r = client.post("/api/articles", content=json.dumps([{"id": "d", "text": "one two three four five six"}] * 2).encode(),
                    headers=auth)
    assert r.status_code == 422 and "duplicate id" in r.json()["detail"]["problems"][0]["problem"]
    r = client.post("/api/articles", content=b'{"id": "a"}\n{oops', headers={**auth, "Content-Type": "application/x-ndjson"})
    assert r.status_code == 400 and "line 2" in r.json()["detail"]


def test_post_body_limit(seeds_store):
    app = create_app(seeds_store, token=TOKEN, embedder=None, warm=False, max_body=1000, max_batch=3)
    with TestClient(app) as c:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        r = c.post("/api/articles", json={"id": "big", "text": "x " * 2000}, headers=auth)
        assert r.status_code == 413 and "over 1000 bytes" in r.json()["detail"]

        def chunks():
            for _ in range(10):
                yield b"x" * 500

        r = c.post("/api/articles", content=chunks(), headers=auth)  # chunked, no Content-Length
        assert r.status_code == 413
        r = c.post("/api/articles", json=[{"id": str(i), "title": "t"} for i in range(4)], headers=auth)
        assert r.status_code == 413 and "at most 3" in r.json()["detail"]


def test_post_adds_articles_and_updates_events(store_copy, monkeypatch):
    from storyline.serve.ingest import DocumentPipeline

    closed = []  # the app's one ingest pipeline keeps its enrichment workers until shutdown
    close = DocumentPipeline.close
    monkeypatch.setattr(DocumentPipeline, "close", lambda self: (closed.append(self.keep_workers), close(self)))
    app = create_app(store_copy, token=TOKEN, warm=False)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    batch = [
        {"id": "new-1", "title": "European leaders meet again in Paris over Ukraine",
         "text": "European leaders met again in Paris on Wednesday for emergency talks about Ukraine and the "
                 "security guarantees Europe could offer, after the United States opened talks with Russia. "
                 "French President Emmanuel Macron hosted the meeting.",
         "source": "Example Wire", "url": "https://example.org/a", "published_at": "2025-02-19",
         "gold_event": "must be ignored"},
        {"id": "new-2", "title": "Zanzibar spice harvest doubles",
         "text": "Farmers on Zanzibar harvested twice as many cloves this season as last, the cooperative said, "
                 "crediting the long rains and new drying sheds built with a development grant.",
         "source": "Island Times", "date": "2025-03-01"},
    ]
    with TestClient(app) as c:
        before = c.get("/api/health").json()["articles"]
        r = c.post("/api/articles", json=batch, headers=auth)
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["new"] == 2 and out["received"] == 2
        event_of = {a["id"]: a["event_id"] for a in out["articles"]}
        assert event_of["new-1"] and event_of["new-2"] and event_of["new-1"] != event_of["new-2"]
        assert c.get("/api/health").json()["articles"] == before + 2
        a = c.get("/api/articles/new-2").json()
        assert a["source"] == "Island Times" and "gold_event" not in json.dumps(a)
        ev = c.get(f"/api/events/{quote(event_of['new-2'])}").json()
        assert ev["article_ids"] == ["new-2"] and ev["title"]
        hits = c.get("/api/search", params={"q": "cloves Zanzibar", "mode": "words"}).json()["items"]
        assert hits and hits[0]["article_id"] == "new-2"
        assert c.get(f"/event/{quote(event_of['new-1'])}").status_code == 200
        # the same article again changes nothing
        r = c.post("/articles", json=batch[1], headers={"X-Storyline-Token": TOKEN})
        assert r.status_code == 200 and r.json()["unchanged"] == 1
        assert closed == []
    assert closed == [True]


def test_script_in_title_and_text_shows_as_text_everywhere(store_copy):
    app = create_app(store_copy, token=TOKEN, warm=False)
    record = {"id": "xss-1", "title": XSS_TITLE,
              "text": f"European leaders met in Paris for emergency talks on Ukraine. {XSS_IMG} The summit "
                      "discussed security guarantees. Officials said more talks would follow next week.",
              "source": "<b>Evil</b> Outlet", "url": "javascript:alert(1)", "author": "\"><svg onload=alert(1)>",
              "published_at": "2025-02-17"}
    with TestClient(app) as c:
        r = c.post("/api/articles", json=record, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 201, r.text
        event_id = r.json()["articles"][0]["event_id"]
        ev = c.get(f"/api/events/{quote(event_id)}").json()
        pages = ["/", "/article/xss-1", f"/event/{quote(event_id)}", f"/storyline/{quote(ev['storyline_id'])}",
                 "/search?q=alert", f"/search?q={quote(XSS_TITLE)}", f"/search?q={quote(XSS_IMG)}&mode=words",
                 "/?outlet=" + quote("<b>Evil</b> Outlet"), f"/entity?name={quote(XSS_IMG)}"]
        big = big_event(c)
        pages.append(f"/event/{quote(big['id'])}")
        for url in pages:
            resp = c.get(url)
            assert resp.status_code == 200, url
            html = resp.text
            assert XSS_TITLE not in html, url
            assert "<img src=x" not in html and "<svg onload" not in html and "<b>Evil" not in html, url
            assert 'href="javascript:' not in html, url
        html = c.get("/article/xss-1").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        api = c.get("/api/articles/xss-1").json()
        assert api["title"] == XSS_TITLE  # JSON carries the data as is; pages escape it
        assert c.get("/api/articles/xss-1").headers["content-type"].startswith("application/json")


def test_serve_command_refuses_a_missing_store(tmp_path):
    import subprocess

    r = subprocess.run([sys.executable, "-m", "storyline.serve", "--db", str(tmp_path / "nope.db")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "no storyline database" in r.stderr
    r = subprocess.run([sys.executable, "-m", "storyline.serve", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "--token" in r.stdout and "127.0.0.1" in r.stdout
    # an unreachable PostgreSQL server: a one-line reason, never the password
    r = subprocess.run([sys.executable, "-m", "storyline.serve", "--db",
                        "postgresql://someone:hunter2@127.0.0.1:1/storyline"], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "COLUMNS": "300"})
    said = " ".join(r.stderr.replace("│", " ").split())
    assert r.returncode != 0 and "cannot open postgresql://someone:***@127.0.0.1:1/storyline" in said, said
    assert "hunter2" not in r.stderr and "Traceback" not in r.stderr


def test_connections_of_ended_threads_are_closed(seeds_store):
    """The server's worker threads come and go: each one's read connection is closed once it has
    ended (when the next thread opens one), so none pile up over hours; close() closes the rest."""
    import threading

    from storyline.serve.data import Repo

    repo = Repo(seeds_store)
    try:
        def read():
            assert repo.rows("SELECT COUNT(*) FROM articles")[0][0] == 5

        for _ in range(5):
            t = threading.Thread(target=read)
            t.start()
            t.join()
        held = repo.db._conns.conns
        assert len(held) == 1 and held[0][0].is_alive() is False  # only the last thread's, until the next
        read()
        assert [t for t, _ in repo.db._conns.conns] == [threading.current_thread()]
    finally:
        repo.close()
    assert repo.db._conns.conns == []
