"""The web app in a real headless Chromium (Debian's `chromium`, driven by Playwright).

Starts `python -m storyline.serve` on a free loopback port over the five seed articles (with
entities, quotes and timelines added when the enrichment stage is available), opens every page,
hovers and clicks a citation, filters, searches, sorts a table, checks that no Content-Security-
Policy violation or script error happens, and saves a screenshot of each page (to a temporary
folder; `STORYLINE_SCREENSHOTS=docs/screenshots` refreshes the README's, so a plain test run never
changes tracked files).
Everything runs twice: on the SQLite store and on a copy of it in PostgreSQL (`serve --db
postgresql://...`; the `pg_url` fixture of tests/conftest.py, skipped with the reason without a
server). Screenshots come from the SQLite run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_backends import pg_copy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("STORYLINE_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("STORYLINE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "storyline-screenshots")
PREFIX = os.environ.get("STORYLINE_SCREENSHOT_PREFIX", "")  # e.g. "allsides-" for another store
TOKEN = "browser-test-token"
QUERY = os.environ.get("STORYLINE_BROWSER_QUERY", '"emergency talks" Paris')  # words the store holds

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (scripts/install.sh --dev does, as root)",
                allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory) -> Path:
    from storyline.serve.demo import build_demo_store

    db = os.environ.get("STORYLINE_BROWSER_DB")  # look at another store (e.g. for docs screenshots)
    if db:
        return Path(db)
    out = tmp_path_factory.mktemp("seeds")
    examples = out / "examples"
    shutil.copytree(ROOT / "examples", examples)
    return build_demo_store([examples], out / "store")


_backend = {"name": "sqlite"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store(request, sqlite_store):
    """The store served: the SQLite file, or a copy of it in a fresh PostgreSQL schema (its URL)."""
    _backend["name"] = request.param
    if request.param == "sqlite":
        yield sqlite_store
    else:
        with pg_copy(sqlite_store, request.getfixturevalue("pg_url")) as url:
            yield url


@pytest.fixture(scope="module")
def server(store):
    port = _free_port()
    env = {**os.environ, "STORYLINE_TOKEN": TOKEN, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "storyline.serve", "--db", str(store), "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            if _get_json(base + "/api/health").get("ready"):
                break
        except OSError:
            pass
        if proc.poll() is not None:
            pytest.fail("server exited: " + (proc.stdout.read() if proc.stdout else ""))
        if time.time() > deadline:
            proc.terminate()
            pytest.fail("server did not become ready in 120 s")
        time.sleep(0.3)
    yield base
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update"])
        yield b
        b.close()


class Watch:
    """Collects what must not happen: script errors, CSP violations, dialogs (alert = XSS)."""

    def __init__(self, page) -> None:
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("console", self._console)
        page.on("dialog", self._dialog)

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.problems.append(f"console: {msg.text}")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, device_scale_factor=1)
    pg = context.new_page()
    pg.watch = Watch(pg)
    yield pg
    problems, dialogs = pg.watch.problems, pg.watch.dialogs
    context.close()
    assert not dialogs, f"a dialog opened (script ran): {dialogs}"
    assert not problems, problems


def shot(page, name: str) -> None:
    if _backend["name"] != "sqlite":  # the same pages: one set of screenshots
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{PREFIX}{name}.png"), full_page=True)


def first_event(base: str) -> dict:
    ev = _get_json(base + "/api/events?per_page=200")["items"]
    assert ev, "the seeds store has events"
    return max(ev, key=lambda e: e["n_articles"])


def test_front_page(server, page):
    resp = page.goto(server + "/")
    assert resp.status == 200
    assert "default-src 'none'" in resp.headers["content-security-policy"]
    assert page.locator("h1").inner_text() == "Stories in this collection"
    assert page.locator("ol.events li").count() >= 1
    assert page.locator("#storylines tbody tr").count() >= 1
    stats = page.locator(".hero .stats").inner_text()
    n = _get_json(server + "/api/health")["articles"]
    assert f"{n:,} articles" in stats
    shot(page, "front")


def test_event_page_and_citation(server, page):
    big = first_event(server)
    page.goto(server + "/")
    link = page.locator("ol.events a.ev-title").first
    if big["n_articles"] > 1 and page.locator(f"ol.events a.ev-title[href='/event/{quote(big['id'])}']").count():
        link = page.locator(f"ol.events a.ev-title[href='/event/{quote(big['id'])}']")
    link.click()
    page.wait_for_url("**/event/**")
    event_id = page.url.split("/event/", 1)[1]
    ev = next(e for e in _get_json(server + "/api/events?per_page=200")["items"] if quote(e["id"]) == event_id)
    assert page.locator("h1").inner_text().strip() == (ev["title"] or "(untitled event)")
    summary = page.locator("#summary li")
    assert summary.count() >= 1
    cite = page.locator("#summary a.cite").first
    cite.hover()
    pop = page.locator("#cite-popover")
    pop.wait_for(state="visible")
    sentence = pop.locator("blockquote").inner_text()
    assert len(sentence) > 20, sentence
    # the pop-up shows the supporting sentence rendered for that citation
    target = cite.get_attribute("data-src")
    assert page.locator(f"#{target} blockquote").text_content().strip() == sentence.strip()
    page.mouse.move(5, 5)
    pop.wait_for(state="hidden")
    cite.click()
    pop.wait_for(state="visible")
    page.mouse.move(5, 5)
    assert pop.is_visible(), "a clicked citation stays open"
    # timeline chart, comparison table, articles table
    if page.locator("figure.chart svg").count():
        assert page.locator("figure.chart svg circle, figure.chart svg rect").count() >= 1
    assert page.locator("#articles tbody tr").count() == ev["n_articles"]
    table = page.locator("#comparison")
    if table.count():
        header = table.locator("thead th").last
        header.click()
        assert header.get_attribute("aria-sort") == "ascending"
        header.click()
        assert header.get_attribute("aria-sort") == "descending"
    page.mouse.move(5, 5)
    page.locator("#summary a.cite").first.click()
    shot(page, "event")
    page.keyboard.press("Escape")
    pop.wait_for(state="hidden")


def test_sortable_articles_table(server, page):
    ev = first_event(server)
    page.goto(server + f"/event/{quote(ev['id'])}")
    th = page.locator("#articles thead th").nth(2)
    th.click()
    titles = page.locator("#articles tbody tr td:nth-child(3)").all_inner_texts()
    assert titles == sorted(titles, key=str.casefold)


def test_storyline_page(server, page):
    s = max(_get_json(server + "/api/storylines?per_page=200")["items"], key=lambda x: (x["n_events"], x["n_articles"]))
    page.goto(server + f"/storyline/{quote(s['id'])}")
    assert page.locator("h1").inner_text().strip() == (s["title"] or "(untitled storyline)")
    assert page.locator("ol.story-events li").count() == s["n_events"]
    page.locator("ol.story-events a.ev-title").first.click()
    page.wait_for_url("**/event/**")
    page.go_back()
    shot(page, "storyline")


def test_article_page(server, page):
    ev = first_event(server)
    page.goto(server + f"/event/{quote(ev['id'])}")
    page.locator("#articles tbody a[href^='/article/']").first.click()
    page.wait_for_url("**/article/**")
    assert page.locator("#text p").count() >= 2
    article_id = page.url.split("/article/", 1)[1]
    enrichment = _get_json(server + "/api/articles/" + article_id)["enrichment"] or {}
    if enrichment.get("mentions"):
        assert page.locator("#text span.ent").count() >= 1
    if enrichment.get("quotes"):
        assert page.locator("#text span.quote").count() >= 1
    removed = page.locator("#removed")
    if removed.count():
        assert removed.get_attribute("open") is None  # collapsed
        removed.locator("summary").click()
        assert removed.get_attribute("open") is not None
    shot(page, "article")


def test_entity_page(server, page):
    ev = first_event(server)
    entities = _get_json(server + "/api/events/" + quote(ev["id"]))["entities"]
    if not entities:
        page.goto(server + "/entity?name=Nobody")
        assert page.locator("h1").inner_text() == "404"
        pytest.skip("no entities in this store yet (enrichment stage unavailable)")
    page.goto(server + f"/event/{quote(ev['id'])}")
    person = page.locator("ul.entities a").first
    name = person.inner_text()
    person.click()
    page.wait_for_url("**/entity?name=**")
    assert name in page.locator("h1").inner_text()
    assert page.locator("table.sortable tbody tr").count() >= 1
    shot(page, "entity")


def test_filters(server, page):
    page.goto(server + "/")
    page.fill("input[name=date_from]", "2099-01-01")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**date_from=2099-01-01**")
    assert "No events match" in page.locator(".col-main").inner_text()
    page.click("a.clear")
    page.wait_for_url(server + "/")
    assert page.locator("ol.events li").count() >= 1
    names = [e["name"] for e in _get_json(server + "/api/entities?per_page=5")["items"]]
    if names:
        page.fill("input[name=entity]", names[0])
        page.click("#filters button[type=submit]")
        page.wait_for_url("**entity=**")
        assert page.locator("ol.events li").count() >= 1
        page.fill("input[name=entity]", "Nobody Atall")
        page.click("#filters button[type=submit]")
        assert "No events match" in page.locator(".col-main").inner_text()


def test_search(server, page):
    page.goto(server + "/")
    page.fill(".top-search input[name=q]", QUERY)
    page.press(".top-search input[name=q]", "Enter")
    page.wait_for_url("**/search?q=**")
    results = page.locator("#results li")
    assert results.count() >= 1
    assert page.locator("#results mark").count() >= 1
    marks = {m.lower() for m in page.locator("#results mark").all_inner_texts()}
    assert marks & {w.lower() for w in QUERY.replace('"', " ").split()}
    shot(page, "search")
    # meaning: no shared word needed
    page.check("input[value=meaning]")
    page.fill("#search-form input[name=q]", "continental allies worried about being left out of peace negotiations")
    page.click("#search-form button")
    page.wait_for_url("**mode=meaning**")
    assert page.locator("#results li").count() >= 1
    assert page.locator("#results .match-meaning").count() >= 1


def test_api_page_and_openapi(server, page):
    page.goto(server + "/api")
    assert page.locator("table.api tbody tr").count() >= 10
    shot(page, "api")
    spec = _get_json(server + "/openapi.json")
    assert "/api/events/{event_id}" in spec["paths"]


def test_error_page(server, page):
    resp = page.goto(server + "/event/no-such-event")
    assert resp.status == 404
    assert "No such event" in page.locator("main").inner_text()
    # the browser logs the 404 of the document itself: expected here
    page.watch.problems[:] = [p for p in page.watch.problems if "404" not in p]


def test_posted_script_stays_text(server, page):
    """An article posted with a script title and an onerror image shows as text everywhere."""
    title = "<script>alert(1)</script>"
    body = ("European leaders met in Paris for emergency talks on Ukraine. <img src=x onerror=alert(1)> "
            "The summit discussed security guarantees and the war. Officials said more talks would follow.")
    record = {"id": "xss-1", "title": title, "text": body, "source": "<b>Evil</b> Outlet",
              "url": "javascript:alert(1)", "published_at": "2025-02-17"}
    req = urllib.request.Request(server + "/api/articles", data=json.dumps(record).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            out = json.loads(r.read())
    except urllib.error.HTTPError as e:  # say what the server said
        pytest.fail(f"POST /api/articles: {e.code} {e.read()[:2000]!r}")
    assert out["articles"][0]["id"] == "xss-1"
    event_id = out["articles"][0]["event_id"]
    urls = ["/article/xss-1", "/", "/search?q=script+alert", f"/search?q={quote(title)}"]
    if event_id:
        urls.append(f"/event/{quote(event_id)}")
    for url in urls:
        page.goto(server + url)
        assert page.locator("script:not([src])").count() == 0, url
        assert page.locator("img[src=x]").count() == 0, url
    page.goto(server + "/article/xss-1")
    assert page.locator("h1").inner_text() == title
    assert "<img src=x onerror=alert(1)>" in page.locator("#text").inner_text()
    assert page.locator("a[href^='javascript:']").count() == 0
