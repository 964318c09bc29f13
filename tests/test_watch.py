"""``storyline watch`` against feeds and pages served by a local HTTP server on 127.0.0.1.

The server's answers are set per path and per request (status, delay, body, validators), so a
test can make a feed fail, hang, serve garbage or redirect in a loop, and count what was asked.
The pipeline is the real one (``synthesize=False`` only for speed).
"""

from __future__ import annotations

import hashlib
import html
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from storyline.config import Config
from storyline.watch import FeedListError, Watcher, read_feed_list
from storyline.watch.http import Fetcher, HostGate

from conftest import run_cli

# -- a controllable server ------------------------------------------------------------------------

Route = Callable[["Handler", int], None]  # (handler, how many times this path was asked before)


class Handler(BaseHTTPRequestHandler):
    server: "Site"

    def do_GET(self) -> None:  # noqa: N802
        site = self.server
        with site.lock:
            n = sum(1 for p, _, _ in site.requests if p == self.path)
            site.requests.append((self.path, dict(self.headers), time.monotonic()))
            route = site.routes.get(self.path)
        if route is None:
            self.reply(404, b"not found", "text/plain")
            return
        try:
            route(self, n)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def reply(self, status: int, body: bytes = b"", content_type: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Site(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict, float]] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, _, _ in self.requests if p == path)

    def headers_of(self, path: str) -> list[dict]:
        with self.lock:
            return [h for p, h, _ in self.requests if p == path]


@pytest.fixture
def site():
    server = Site()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# -- content --------------------------------------------------------------------------------------

TOWNS = ["Aberdeen", "Bilbao", "Cork", "Dresden", "Esbjerg", "Florence", "Ghent", "Hamburg", "Innsbruck",
         "Jena", "Kraków", "Lyon", "Malmö", "Nantes", "Oulu", "Porto"]
TOPICS = ["a new tram line", "the harbour bridge repairs", "a ban on night flights", "school meal prices",
          "a flood barrier", "the central library", "bicycle lanes", "a football stadium", "water charges",
          "the old hospital site", "street lighting", "a music festival", "bus drivers' pay", "a new museum",
          "park opening hours", "the airport rail link"]


def article_text(key: str) -> list[str]:
    """Five distinct paragraphs (well over 120 words) about one made-up local story."""
    n = int(hashlib.sha1(key.encode()).hexdigest(), 16)
    town, topic = TOWNS[n % len(TOWNS)], TOPICS[(n // 16) % len(TOPICS)]
    code = key.upper()
    return [
        f"The council of {town} voted on Tuesday to approve {topic}, ending a debate that had lasted "
        f"almost two years, officials said in a statement numbered {code}.",
        f"Supporters of {topic} said the decision would help residents of {town} and bring new jobs to "
        f"the area, while opponents warned that the cost had been badly underestimated from the start.",
        f"The mayor of {town} told reporters that work on {topic} would begin in the spring and that the "
        f"first results should be visible before the end of next year, if the weather allowed it.",
        f"Local businesses in {town} gave a mixed response. Several shop owners said they feared months "
        f"of disruption, but the chamber of commerce welcomed {topic} as a long overdue investment.",
        f"A final report on {topic} in {town}, reference {code}, will be published by the regional "
        f"government in the coming weeks, together with a detailed timetable and a budget review.",
    ]


def page(key: str) -> bytes:
    paras = "".join(f"<p>{html.escape(p)}</p>\n" for p in article_text(key))
    return (f"<!doctype html><html><head><title>Story {key}</title></head><body>"
            f"<nav><a href='/'>Home</a></nav><article><h1>Story {key}</h1>{paras}</article>"
            f"<footer>Copyright</footer></body></html>").encode()


def rss(site: Site, items: list[tuple[str, bool]], title: str = "Test feed") -> bytes:
    """An RSS feed; each item is (key, full): full entries carry the text, teasers link a page."""
    out = []
    for key, full in items:
        body = "".join(f"<p>{p}</p>" for p in article_text(key)) if full else f"<p>Teaser for {key}.</p>"
        out.append(f"<item><title>Story {key}</title><link>{site.url('/p/' + key + '.html')}</link>"
                   f"<guid>urn:test:{key}</guid><description>{html.escape(body)}</description>"
                   f"<pubDate>Tue, 10 Nov 2026 10:00:00 GMT</pubDate></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>{site.url('/')}</link><description>d</description>{''.join(out)}</channel></rss>").encode()


def feed_route(site: Site, items: list[tuple[str, bool]], *, etag: bool = True, modified: bool = False,
               conditional: Callable[[], bool] = lambda: True) -> Route:
    """A feed of the *current* ``items`` that honours If-None-Match / If-Modified-Since."""
    def route(h: Handler, n: int) -> None:
        body = rss(site, items)
        digest = hashlib.sha1(body).hexdigest()[:16]
        headers = {}
        if etag:
            headers["ETag"] = f'"{digest}"'
        if modified:
            headers["Last-Modified"] = formatdate(1_700_000_000 + len(items) * 60, usegmt=True)
        if conditional() and (
                (etag and h.headers.get("If-None-Match") == headers["ETag"])
                or (modified and not etag and h.headers.get("If-Modified-Since") == headers["Last-Modified"])):
            h.reply(304, headers=headers)
            return
        h.reply(200, body, "application/rss+xml", headers)
    return route


def page_route(key: str, fail_first: int = 0, hang_first: int = 0, hang_s: float = 2.5) -> Route:
    def route(h: Handler, n: int) -> None:
        if n < hang_first:
            time.sleep(hang_s)
            h.reply(200, page(key))
        elif n < hang_first + fail_first:
            h.reply(500, b"oops", "text/plain")
        else:
            h.reply(200, page(key))
    return route


def quick_config(**watch: float) -> Config:
    config = Config(synthesize=False)
    config.progress = False
    config.ingest.allow_private_urls = True
    w = config.watch
    w.interval_s, w.host_delay_s, w.timeout_s = 0.0, 0.0, 1.0  # hangs below sleep 2.5 s
    w.retries, w.retry_delay_s, w.backoff_s, w.backoff_max_s = 1, 0.02, 0.05, 0.3
    for k, v in watch.items():
        setattr(w, k, v)
    return config


def stored_ids(out: Path) -> list[str]:
    with sqlite3.connect(out / "storyline.db") as conn:
        return [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY seq")]


def entry_status(out: Path) -> dict[str, str]:
    with sqlite3.connect(out / "storyline.db") as conn:
        return {r[0]: r[1] for r in conn.execute("SELECT entry_id, status FROM feed_entries")}


# -- tests without the models -------------------------------------------------------------------


def test_feed_list_text_and_opml(tmp_path: Path) -> None:
    text = tmp_path / "feeds.txt"
    text.write_text("# news\nhttps://a.example/rss\n\n  https://b.example/atom.xml  # comment\n"
                    "https://a.example/rss\n", encoding="utf-8")
    assert read_feed_list(text) == ["https://a.example/rss", "https://b.example/atom.xml"]
    opml = tmp_path / "subs.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="News">'
                    '<outline type="rss" xmlUrl="https://c.example/feed"/>'
                    '<outline type="rss" xmlUrl="http://d.example/rss?x=1&amp;y=2"/></outline>'
                    '<outline text="no url"/></body></opml>', encoding="utf-8")
    assert read_feed_list(opml) == ["https://c.example/feed", "http://d.example/rss?x=1&y=2"]
    bad = tmp_path / "bad.txt"
    bad.write_text("https://ok.example/rss\nfile:///etc/passwd\n", encoding="utf-8")
    with pytest.raises(FeedListError, match="bad.txt:2"):
        read_feed_list(bad)


def test_private_address_refused_without_the_flag(site: Site, tmp_path: Path, caplog) -> None:
    site.routes["/feed.xml"] = feed_route(site, [("r1", True)])
    config = quick_config()
    config.ingest.allow_private_urls = False
    caplog.set_level(logging.INFO, logger="storyline.watch")
    for url in (site.url("/feed.xml"), f"http://localhost:{site.server_address[1]}/feed.xml"):
        with Watcher([url], tmp_path / "out", config) as watcher:
            report = watcher.cycle()
            assert report.failed == 1 and watcher._pipeline is None
            assert watcher.state.feed(url).failures == 1
    assert site.requests == []  # nothing ever reached the server
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 2 and all("non-public address" in r.getMessage() for r in refusals)
    assert stored_ids(tmp_path / "out") == []
    # the command line refuses too, names why, and says so in its exit status (3: a feed failed)
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text(site.url("/feed.xml") + "\n", encoding="utf-8")
    result = run_cli("watch", str(feeds_file), "--out", str(tmp_path / "cli"), "--once", timeout=120)
    assert result.returncode == 3, result.stderr
    assert "refused" in result.stderr and "allow_private_urls" in result.stderr
    assert site.requests == []


def test_failing_feed_backs_off_exponentially(site: Site, tmp_path: Path, caplog) -> None:
    site.routes["/down.xml"] = lambda h, n: h.reply(503, b"down", "text/plain")
    site.routes["/quiet.xml"] = feed_route(site, [])  # healthy, no entries yet
    config = quick_config(backoff_s=10.0, backoff_max_s=35.0, retries=1, interval_s=30.0)
    caplog.set_level(logging.WARNING, logger="storyline.watch")
    with Watcher([site.url("/down.xml"), site.url("/quiet.xml")], tmp_path / "out", config) as watcher:
        delays = []
        for _ in range(4):
            start = time.time()
            watcher.cycle(force=True)
            delays.append(watcher.state.feed(site.url("/down.xml")).next_poll - start)
            assert watcher.state.feed(site.url("/quiet.xml")).next_poll - start == pytest.approx(30, abs=2)
        assert watcher.cycle().polled == 0  # neither is due: not hammered
    assert delays == pytest.approx([10, 20, 35, 35], abs=2)  # doubling, capped (the cycle's own time aside)
    assert site.hits("/down.xml") == 8  # each poll: one request and one quick retry
    assert site.hits("/quiet.xml") == 4
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4 and all("HTTP 503" in line and "next try in" in line for line in lines)


def test_politeness_per_host_delay_and_concurrency(site: Site) -> None:
    site.routes["/x"] = lambda h, n: h.reply(200, b"<html><body>x</body></html>")
    in_flight = {"now": 0, "max": 0}

    def slow(h: Handler, n: int) -> None:
        with site.lock:
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
        time.sleep(0.3)
        with site.lock:
            in_flight["now"] -= 1
        h.reply(200, b"<html><body>slow</body></html>")

    site.routes["/slow"] = slow
    config = quick_config()

    def hammer(gate: HostGate, path: str, n: int) -> None:
        fetcher = Fetcher(config.ingest, timeout_s=5, retries=0, retry_delay_s=0, gate=gate)
        threads = [threading.Thread(target=fetcher.get, args=(site.url(path),)) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    class RecordingGate(HostGate):
        """Notes when each request is let through: what the gate promises (the server's clock also
        counts connection set-up, which a loaded machine can delay for one request and not another)."""

        entered: list[float] = []

        @contextmanager
        def slot(self, url: str):
            with super().slot(url):
                self.entered.append(time.monotonic())
                yield

    gate = RecordingGate(0.3, 4)
    hammer(gate, "/x", 4)  # starts at least 0.3 s apart
    starts = sorted(gate.entered)
    assert site.hits("/x") == 4 and min(b - a for a, b in zip(starts, starts[1:])) >= 0.29
    hammer(HostGate(0.0, 2), "/slow", 6)  # never more than 2 at once
    assert site.hits("/slow") == 6 and in_flight["max"] == 2


# -- tests with the real pipeline --------------------------------------------------------------


@pytest.mark.slow
def test_conditional_get_new_entries_and_restart(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "out"
    a_items = [("a1", True), ("a2", True)]
    b_items = [("b1", False), ("b2", False)]
    honour = {"on": True}
    site.routes["/a.xml"] = feed_route(site, a_items, etag=True, conditional=lambda: honour["on"])
    site.routes["/b.rss"] = feed_route(site, b_items, etag=False, modified=True, conditional=lambda: honour["on"])
    for key in ("b1", "b2", "b3"):
        site.routes[f"/p/{key}.html"] = page_route(key)
    feeds = [site.url("/a.xml"), site.url("/b.rss")]
    pages = ["/p/b1.html", "/p/b2.html"]
    config = quick_config()

    with Watcher(feeds, out, config) as watcher:
        first = watcher.cycle()
        assert (first.polled, first.new_articles) == (2, 4)
        assert sorted(stored_ids(out)) == ["urn:test:a1", "urn:test:a2", "urn:test:b1", "urn:test:b2"]
        assert [site.hits(p) for p in pages] == [1, 1]
        assert (out / "export.json").exists() and (out / "report.html").exists()
        text = {a.id: a.text for a in watcher.store.articles()}
        assert "chamber of commerce" in text["urn:test:b1"]  # the page's text, not the teaser

        second = watcher.cycle()  # nothing changed: both answer 304
        assert (second.polled, second.not_modified, second.new_articles) == (2, 2, 0)
        assert site.headers_of("/a.xml")[-1].get("If-None-Match", "").startswith('"')
        assert site.headers_of("/b.rss")[-1].get("If-Modified-Since", "").endswith("GMT")
        assert [site.hits(p) for p in pages] == [1, 1]

        a_items.append(("a3", True))
        b_items.insert(0, ("b3", False))
        third = watcher.cycle()
        assert (third.not_modified, third.new_entries, third.new_articles) == (0, 2, 2)
        assert len(stored_ids(out)) == 6
        assert [site.hits(p) for p in pages] == [1, 1] and site.hits("/p/b3.html") == 1
        exported = (out / "export.json").read_text(encoding="utf-8")
        assert "urn:test:a3" in exported and "urn:test:b3" in exported

    # A restart on the same database, the server now ignoring validators: nothing is fetched
    # again or reprocessed (the pipeline is not even loaded).
    honour["on"] = False
    before = len(site.requests)
    with Watcher(feeds, out, config) as watcher:
        report = watcher.cycle(force=True)
        assert (report.polled, report.new_entries, report.new_articles) == (2, 0, 0)
        assert watcher._pipeline is None
    assert sorted(p for p, _, _ in site.requests[before:]) == ["/a.xml", "/b.rss"]

    # ... and the same from a new process, through the command line.
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text("# test feeds\n" + "\n".join(feeds) + "\n", encoding="utf-8")
    before = len(site.requests)
    result = run_cli("watch", str(feeds_file), "--out", str(out), "--once", "--allow-private-urls", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "0 new articles" in result.stderr
    assert sorted(p for p, _, _ in site.requests[before:]) == ["/a.xml", "/b.rss"]
    assert len(stored_ids(out)) == 6 and len(set(stored_ids(out))) == 6


@pytest.mark.slow
def test_failing_hanging_garbage_and_looping_feeds_lose_nothing(site: Site, tmp_path: Path, caplog) -> None:
    out = tmp_path / "out"
    # down: 500 for two polls (each poll = request + one quick retry), then a feed that ignores
    # validators (so the watcher sees its entries again and again, and must not refetch them).
    down_feed = feed_route(site, [("d1", True), ("d2", False)], etag=False)
    site.routes["/down.xml"] = lambda h, n: h.reply(500, b"error", "text/plain") if n < 4 else down_feed(h, n)
    # d2's page: 500 three times (first cycle: request + retry; next: one more), then fine.
    site.routes["/p/d2.html"] = page_route("d2", fail_first=3)
    # hang: the first request sleeps past the client's timeout, then a normal feed.
    hang_feed = feed_route(site, [("h1", False), ("h2", True)])
    site.routes["/hang.xml"] = lambda h, n: (time.sleep(2.5), h.reply(200, rss(site, [("x", True)])))[1] \
        if n == 0 else hang_feed(h, n)
    site.routes["/p/h1.html"] = page_route("h1", hang_first=1, hang_s=2.5)  # its page hangs once too
    # garbage: not XML at all, then malformed XML that still holds entries, then a valid feed.
    good = rss(site, [("g1", True), ("g2", True), ("g3", True)])
    broken = good.replace(b"<title>Story g1</title>", b"<title>Story g1 & co</title>")  # bare '&'
    garbage = [b"<<<\x1b this is not a feed >>> {]", broken, good]
    site.routes["/garbage.xml"] = lambda h, n: h.reply(200, garbage[min(n, 2)], "text/xml",
                                                       {"ETag": f'"g{min(n, 2)}"'})
    # loop: /loop.xml -> /loop2.xml -> /loop.xml -> ...
    site.routes["/loop.xml"] = lambda h, n: h.reply(302, b"", headers={"Location": "/loop2.xml"})
    site.routes["/loop2.xml"] = lambda h, n: h.reply(302, b"", headers={"Location": "/loop.xml"})
    # a healthy feed beside them, which goes on regardless.
    site.routes["/ok.xml"] = feed_route(site, [("k1", True), ("k2", False), ("z1", False)])
    site.routes["/p/k2.html"] = page_route("k2")
    # z1's page never works (404): tried entry_attempts times, then its 3-word teaser is all there
    # is, which is no article: the entry is given up, with why, and never tried again.
    site.routes["/p/z1.html"] = lambda h, n: h.reply(404, b"gone", "text/plain")

    feeds = [site.url(p) for p in ("/down.xml", "/hang.xml", "/garbage.xml", "/loop.xml", "/ok.xml")]
    caplog.set_level(logging.INFO, logger="storyline.watch")
    config = quick_config(entry_attempts=3)
    with Watcher(feeds, out, config) as watcher:
        first = watcher.cycle()
        assert first.failed == 4  # down, hang, garbage, loop; ok.xml went on
        assert sorted(stored_ids(out)) == ["urn:test:k1", "urn:test:k2"]
        for _ in range(30):  # cycles as `run` makes them, until nothing waits any more
            time.sleep(min(0.5, max(0.0, watcher.next_wakeup() - time.time())))
            watcher.run(max_cycles=watcher.cycles + 1)
            if "pending" not in entry_status(out).values() and watcher.state.feed(feeds[0]).failures == 0:
                break

    expected = {f"urn:test:{k}" for k in ("d1", "d2", "h1", "h2", "g1", "g2", "g3", "k1", "k2")}
    ids = stored_ids(out)
    assert len(ids) == len(set(ids)) == len(expected)  # none lost, none twice
    assert set(ids) == expected
    status = entry_status(out)
    assert status.pop("urn:test:z1") == "failed"
    assert set(status.values()) == {"done"}
    # every page fetched until it worked, and never after; z1's page as often as allowed
    assert (site.hits("/p/d2.html"), site.hits("/p/h1.html"), site.hits("/p/k2.html")) == (4, 2, 1)
    assert site.hits("/p/z1.html") == 3

    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    def lines(fragment: str) -> list[str]:
        return [m for m in messages if fragment in m]
    assert len(lines("/down.xml failed: HTTP 500")) == 2
    assert len(lines("/hang.xml failed: timed out")) == 1
    assert len(lines("/garbage.xml failed: not an RSS/Atom feed")) == 1
    assert len(lines("/garbage.xml: malformed XML")) == 1
    assert len(lines("/loop.xml failed: more than 5 redirects")) >= 3
    assert len(lines("/p/d2.html")) == 1 and len(lines("/p/h1.html")) == 1
    assert len(lines("/p/z1.html")) == 3 and "keeping the feed's teaser" in lines("/p/z1.html")[-1]
    assert len(lines("urn:test:z1 (feed")) == 1  # the teaser is too short to be an article
    assert not lines("/ok.xml failed")
    with sqlite3.connect(out / "storyline.db") as conn:
        loop = conn.execute("SELECT failures, last_error FROM feed_state WHERE url = ?", (feeds[3],)).fetchone()
        healthy = conn.execute("SELECT COUNT(*) FROM feed_state WHERE failures = 0").fetchone()[0]
    assert loop[0] >= 3 and "redirects" in loop[1]
    assert healthy == 4

    # A restart goes on from the database: nothing fetched again, nothing reprocessed.
    before = {p: site.hits(p) for p in ("/p/d2.html", "/p/h1.html", "/p/k2.html", "/p/z1.html")}
    with Watcher(feeds, out, config) as watcher:
        report = watcher.cycle(force=True)
        assert report.new_articles == 0 and watcher._pipeline is None
    assert {p: site.hits(p) for p in before} == before
    assert sorted(stored_ids(out)) == sorted(ids)


@pytest.mark.slow
def test_killed_watcher_loses_nothing(site: Site, tmp_path: Path) -> None:
    """kill -9 while entries are pending (their pages being fetched): the next watcher finishes them."""
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "out"
    site.routes["/f.xml"] = feed_route(site, [("s1", True), ("s2", False), ("s3", False)])
    for key in ("s2", "s3"):
        slow = page_route(key)
        site.routes[f"/p/{key}.html"] = lambda h, n, slow=slow: (time.sleep(0.4), slow(h, n))[1]
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text(site.url("/f.xml") + "\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "storyline.cli", "watch", str(feeds_file), "--out", str(out),
                             "--once", "--allow-private-urls", "--no-synthesize"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:  # entries remembered as pending and the feed's ETag saved: now fetching the pages
                with sqlite3.connect(out / "storyline.db") as conn:
                    etag = conn.execute("SELECT etag FROM feed_state").fetchone()
                if etag and etag[0] and "pending" in entry_status(out).values():
                    break
            except sqlite3.OperationalError:
                pass  # the table is not there yet
            time.sleep(0.02)
        assert proc.poll() is None, "the watcher finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert stored_ids(out) == []  # killed before anything was stored
    with Watcher([site.url("/f.xml")], out, quick_config()) as watcher:
        watcher.cycle()  # the feed is not due yet (the killed process polled it): nothing polled
    assert site.hits("/f.xml") == 1  # so the pending entries came from the database
    ids = stored_ids(out)
    assert sorted(ids) == ["urn:test:s1", "urn:test:s2", "urn:test:s3"]
    assert set(entry_status(out).values()) == {"done"}


@pytest.mark.slow
def test_watcher_on_postgres_fails_retries_and_resumes(site: Site, tmp_path: Path, pg_schema_url: str) -> None:
    """The same feed state on a PostgreSQL store: a failing page is retried, nothing is stored twice,
    and a second watcher (another machine, say) on the same database fetches nothing again."""
    from storyline.store import open_store

    out = tmp_path / "out"
    items = [("g1", True), ("g2", False)]
    site.routes["/g.xml"] = feed_route(site, items)
    site.routes["/p/g2.html"] = page_route("g2", fail_first=2)  # one poll's request + retry fail
    config = quick_config(retries=0, backoff_s=0.0, backoff_max_s=0.0)
    with Watcher([site.url("/g.xml")], out, config, db=pg_schema_url) as watcher:
        first = watcher.cycle()
        assert first.new_articles == 1  # g2's page failed: it waits, with its teaser, in the store
        assert watcher.state.counts() == {"done": 1, "pending": 1}
        while watcher.state.counts().get("pending"):
            watcher.cycle()
        assert watcher.state.counts() == {"done": 2}
        assert watcher.state.feed(site.url("/g.xml")).etag
    assert not (out / "storyline.db").exists()  # everything went to PostgreSQL
    with open_store(pg_schema_url) as store:
        texts = {a.id: a.text for a in store.articles()}
        assert sorted(texts) == ["urn:test:g1", "urn:test:g2"]
        assert "chamber of commerce" in texts["urn:test:g2"]  # the page, not the teaser
        assert len(store.assignments()) == 2
    before = len(site.requests)
    with Watcher([site.url("/g.xml")], out, config, db=pg_schema_url) as watcher:
        report = watcher.cycle(force=True)
        assert (report.polled, report.not_modified, report.new_articles) == (1, 1, 0)
        assert watcher._pipeline is None  # nothing new: the models are not even loaded
    assert [p for p, _, _ in site.requests[before:]] == ["/g.xml"]
    with open_store(pg_schema_url) as store:
        assert store.article_count() == 2
