"""The watcher: poll feeds, fetch what is new, process it with the pipeline, rewrite the outputs.

One cycle:
1. poll every feed that is due (conditional GET with its remembered ETag / Last-Modified; polite
   per host; requests in parallel threads, database writes in the main thread only);
2. remember each entry not seen before as *pending* (its document kept in the database), before
   the feed's new validators are saved, so nothing is lost if the process dies in between;
3. fetch the linked page of pending teaser entries (a failing page is retried with back-off, then
   the teaser is kept or the entry given up, with a log line);
4. run the same :class:`~storyline.pipeline.Pipeline` as ``storyline run`` over the new documents,
   mark the stored ones done, and rewrite ``export.json`` and ``report.html``.

A feed that fails (down, hanging, garbage, redirect loop, refused address) logs one line, waits
``backoff_s`` doubling per failure (at most ``backoff_max_s``), and the other feeds go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import feedparser

from ..config import Config
from ..ingest.encoding import looks_binary, strip_bom
from ..ingest.feeds import FeedEntry, entry_document, looks_like_feed
from ..ingest.fetch import looks_like_html
from ..pipeline import Pipeline, RunSummary
from ..progress import Progress
from ..records import Problem, RawDocument
from ..store import open_store
from .http import Fetcher, HostGate, PollError, Response, page_html
from .state import FeedState, PendingEntry, WatchState

log = logging.getLogger("storyline.watch")


class WatchPipeline(Pipeline):
    """The pipeline of ``storyline run``, fed documents the watcher already fetched."""

    def ingest(self, inputs: Sequence[RawDocument]) -> None:  # type: ignore[override]
        self.ingest_documents(inputs)


@dataclass(slots=True)
class FeedPoll:
    """What a worker thread brings back from one feed."""

    url: str
    response: Response | None = None
    entries: list[tuple[RawDocument, bool]] = field(default_factory=list)  # (document, needs its page)
    skipped: list[Problem] = field(default_factory=list)
    malformed: str | None = None  # parsed despite broken XML: read it in full next time
    error: PollError | None = None


@dataclass(slots=True)
class CycleReport:
    polled: int = 0
    not_modified: int = 0
    failed: int = 0
    new_entries: int = 0
    new_articles: int = 0
    given_up: int = 0


def _entry_origin(feed_url: str, entry_id: str) -> str:
    return f"{feed_url}#entry={entry_id}"


def parse_feed_entries(poll: FeedPoll, config: Config) -> None:
    """Fill ``poll.entries`` from ``poll.response``; a body that is no feed is a :class:`PollError`."""
    assert poll.response is not None
    body = poll.response.body
    data = strip_bom(body)[0]
    if not data.strip():
        raise PollError("empty response, not a feed")
    if looks_binary(data):
        raise PollError("binary data, not a feed")
    if looks_like_html(data) and not looks_like_feed(data):
        raise PollError(f"an HTML page, not a feed ({poll.response.content_type or 'no content type'})")
    headers = {"content-location": poll.response.url}
    if poll.response.content_type:
        headers["content-type"] = poll.response.content_type
    parsed = feedparser.parse(body, response_headers=headers)
    bozo = parsed.get("bozo_exception")
    if not parsed.entries:
        if not parsed.get("version"):
            why = f" ({str(bozo).strip() or type(bozo).__name__})" if bozo is not None else ""
            raise PollError(f"not an RSS/Atom feed{why}")
        if bozo is not None:
            raise PollError(f"malformed feed, no entries ({str(bozo).strip() or type(bozo).__name__})")
        return
    # Broken XML (not a mere encoding or content-type mismatch, which many good feeds have): the
    # entries read are kept, but the feed may have been cut short, so it is read in full next time.
    if bozo is not None and not isinstance(bozo, feedparser.ThingsNobodyCaresAboutButMe):
        poll.malformed = str(bozo).strip() or type(bozo).__name__
    feed_title = (parsed.feed.get("title") or "").strip() or None
    for number, entry in enumerate(parsed.entries, 1):
        item = entry_document(entry, number, poll.url, feed_title, poll.response.url, config.ingest)
        if isinstance(item, FeedEntry):
            item.doc.origin = _entry_origin(poll.url, item.doc.id)
            poll.entries.append((item.doc, item.needs_page))
        else:
            poll.skipped.append(item)


class Watcher:
    """Polls ``feeds`` into a store: ``db`` (a SQLite path or a PostgreSQL URL; default
    ``out_dir/storyline.db``), writing export.json and report.html to ``out_dir``. Use as a context
    manager or call :meth:`close`."""

    def __init__(self, feeds: Sequence[str], out_dir: str | Path, config: Config | None = None,
                 db: str | Path | None = None) -> None:
        self.feeds = list(dict.fromkeys(feeds))
        self.config = config or Config()
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.store = open_store(db or self.out / "storyline.db")
        self.state = WatchState(self.store)
        w = self.config.watch
        self.fetcher = Fetcher(self.config.ingest, timeout_s=w.timeout_s, retries=w.retries,
                               retry_delay_s=w.retry_delay_s, gate=HostGate(w.host_delay_s, w.host_concurrency))
        self.pool = ThreadPoolExecutor(max_workers=max(1, w.workers), thread_name_prefix="watch")
        self._pipeline: WatchPipeline | None = None
        self._first_cycle = True
        self.cycles = 0
        self.last_report: CycleReport | None = None
        self.stop_event = threading.Event()

    def __enter__(self) -> "Watcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self._pipeline is not None:
            self._pipeline.close()
        self.store.close()

    @property
    def pipeline(self) -> WatchPipeline:
        if self._pipeline is None:  # loads the models on first use only, then keeps them (and the
            # enrichment workers, from the first cycle large enough to start them)
            self._pipeline = WatchPipeline(self.store, self.config, Progress(enabled=False), keep_workers=True)
        return self._pipeline

    # -- the loop -------------------------------------------------------------------------------

    def run(self, *, once: bool = False, max_cycles: int | None = None) -> None:
        """Cycle until stopped (``stop_event``, Ctrl-C), after one cycle with ``once`` (every feed
        polled now, whatever its schedule), or after ``max_cycles``."""
        while not self.stop_event.is_set():
            self.cycle(force=once)
            if once or (max_cycles is not None and self.cycles >= max_cycles):
                return
            wait = self.next_wakeup() - time.time()
            if wait > 0:
                self.stop_event.wait(wait)

    def next_wakeup(self) -> float:
        """When something is next due: a feed's poll or a pending page's retry."""
        times = [f.next_poll for f in self.state.feeds(self.feeds)]
        pending = self.state.next_pending_try()
        if pending is not None:
            times.append(pending)
        return min(times) if times else time.time() + self.config.watch.interval_s

    def backoff(self, failures: int, retry_after: float | None = None) -> float:
        w = self.config.watch
        delay = min(w.backoff_max_s, w.backoff_s * 2 ** max(0, failures - 1))
        return max(delay, retry_after or 0.0)

    def cycle(self, *, force: bool = False) -> CycleReport:
        """One pass: poll due feeds (all with ``force``), fetch pending pages, process, export."""
        self.cycles += 1
        report = CycleReport()
        now = time.time()
        due = [f for f in self.state.feeds(self.feeds) if force or f.next_poll <= now]
        futures = {self.pool.submit(self._poll, f): f for f in due}
        for future in as_completed(futures):
            self._record_poll(futures[future], future.result(), report)
        self._process_pending(report, include_later=force)
        busy = self._first_cycle or report.failed or report.new_entries or report.new_articles or report.given_up
        log.log(logging.INFO if busy else logging.DEBUG,
                "cycle %d: polled %d feeds (%d not modified, %d failed), %d new entries, %d new articles;"
                " %d articles in the store", self.cycles, report.polled, report.not_modified, report.failed,
                report.new_entries, report.new_articles, self.store.article_count())
        self._first_cycle = False
        self.last_report = report
        return report

    # -- feeds ----------------------------------------------------------------------------------

    def _poll(self, feed: FeedState) -> FeedPoll:
        """Worker thread: conditional GET and parse. No database access here."""
        poll = FeedPoll(feed.url)
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        try:
            poll.response = self.fetcher.get(feed.url, headers)
            if not poll.response.not_modified:
                parse_feed_entries(poll, self.config)
        except PollError as exc:
            poll.error = exc
        except Exception as exc:  # noqa: BLE001 - a bug or a parser crash must not stop the other feeds
            poll.error = PollError(f"unexpected error: {type(exc).__name__}: {exc}")
        return poll

    def _record_poll(self, feed: FeedState, poll: FeedPoll, report: CycleReport) -> None:
        now = time.time()
        report.polled += 1
        if poll.error is not None:
            report.failed += 1
            failures = feed.failures + 1
            delay = self.backoff(failures, poll.error.retry_after)
            self.state.poll_failed(feed.url, error=str(poll.error), next_poll=now + delay)
            log.warning("feed %s failed: %s; next try in %s (%d failure%s in a row)", feed.url, poll.error,
                        _seconds(delay), failures, "" if failures == 1 else "s")
            return
        assert poll.response is not None
        next_poll = now + self.config.watch.interval_s
        if poll.response.not_modified:
            report.not_modified += 1
            self.state.poll_ok(feed.url, etag=poll.response.etag, last_modified=poll.response.last_modified,
                               next_poll=next_poll, not_modified=True)
            log.debug("feed %s: not modified", feed.url)
            return
        ids = [doc.id for doc, _ in poll.entries]
        known = self.state.known(feed.url, ids)
        fresh: dict[str, tuple[RawDocument, bool]] = {}
        for doc, needs_page in poll.entries:
            if doc.id not in known and doc.id not in fresh:
                fresh[doc.id] = (doc, needs_page)
        stored = self.state.stored(list(fresh))  # stored before (another feed, a run): not fetched again
        self.state.add_entries(feed.url, list(fresh.values()), stored)
        report.new_entries += len(fresh) - len(stored)
        # Validators are saved only after the entries are safe; a malformed feed is read in full next
        # time (it may have been cut short), so its validators are not kept.
        etag = None if poll.malformed else poll.response.etag
        modified = None if poll.malformed else poll.response.last_modified
        self.state.poll_ok(feed.url, etag=etag, last_modified=modified, next_poll=next_poll, not_modified=False)
        for problem in poll.skipped:
            log.info("feed %s: entry skipped: %s", feed.url, problem)
        if poll.malformed:
            log.warning("feed %s: malformed XML (%s); read %d entries, will read it in full next time",
                        feed.url, poll.malformed, len(poll.entries))
        log.debug("feed %s: %d entries, %d new", feed.url, len(poll.entries), len(fresh) - len(stored))

    # -- entries --------------------------------------------------------------------------------

    def _page(self, entry: PendingEntry) -> str:
        """Worker thread: the HTML of the entry's linked page."""
        return page_html(self.fetcher.get(entry.doc.url or ""))

    def _process_pending(self, report: CycleReport, *, include_later: bool) -> None:
        now = time.time()
        pending = self.state.pending(now, include_later=include_later)
        stored = self.state.stored([p.entry_id for p in pending])
        finished: list[tuple[str, str, str, str | None]] = []
        todo: list[PendingEntry] = []
        taken: set[str] = set()
        for p in pending:
            if p.entry_id in stored:  # stored meanwhile (a crash after the run, or another feed)
                finished.append((p.feed_url, p.entry_id, "done", None))
            elif p.entry_id not in taken:  # the same article in two feeds: fetched once
                taken.add(p.entry_id)
                todo.append(p)
        ready = [p for p in todo if not p.needs_page]
        jobs: dict[Future, PendingEntry] = {self.pool.submit(self._page, p): p for p in todo if p.needs_page}
        for future in as_completed(jobs):
            p = jobs[future]
            try:
                html = future.result()
            except Exception as exc:  # noqa: BLE001 - PollError, or a bug: the entry waits either way
                self._page_failed(p, exc, ready, finished, report)
                continue
            p.doc.html, p.doc.text = html, None
            ready.append(p)
        if finished:
            self.state.finish(finished)
            finished = []
        if ready or (self._first_cycle and self._store_incomplete()):
            self._process(ready, report)

    def _page_failed(self, p: PendingEntry, exc: Exception, ready: list[PendingEntry],
                     finished: list[tuple[str, str, str, str | None]], report: CycleReport) -> None:
        attempts = p.attempts + 1
        limit = self.config.watch.entry_attempts
        if attempts < limit:
            delay = self.backoff(attempts, getattr(exc, "retry_after", None))
            self.state.retry_later(p, error=str(exc), next_try=time.time() + delay)
            log.warning("page %s (feed %s) failed: %s; next try in %s (attempt %d of %d)", p.doc.url,
                        p.feed_url, exc, _seconds(delay), attempts, limit)
        elif p.doc.text or p.doc.html:
            log.warning("page %s (feed %s) failed %d times (%s); keeping the feed's teaser", p.doc.url,
                        p.feed_url, attempts, exc)
            ready.append(p)
        else:
            report.given_up += 1
            finished.append((p.feed_url, p.entry_id, "failed", f"page failed {attempts} times: {exc}"))
            log.warning("page %s (feed %s) failed %d times (%s); entry given up", p.doc.url, p.feed_url,
                        attempts, exc)

    def _store_incomplete(self) -> bool:
        """Articles a killed process stored but did not finish (no embedding or no event yet)."""
        return bool(self.state.unclustered()) or (
            not (self.out / "export.json").exists() and self.store.article_count() > 0)

    def _process(self, ready: list[PendingEntry], report: CycleReport) -> None:
        from storyline.export import write_outputs

        pipeline = self.pipeline
        pipeline.summary = RunSummary()
        try:
            summary = pipeline.run([p.doc for p in ready])
            write_outputs(self.store, self.out)
        except Exception as exc:  # noqa: BLE001 - the entries wait (with back-off) and are tried again
            log.exception("processing %d new documents failed; they will be tried again", len(ready))
            given_up = []
            for p in ready:
                if p.attempts + 1 >= self.config.watch.entry_attempts:
                    given_up.append((p.feed_url, p.entry_id, "failed", f"processing failed: {exc}"))
                else:
                    self.state.retry_later(p, error=f"processing failed: {exc}",
                                           next_try=time.time() + self.backoff(p.attempts + 1))
            self.state.finish(given_up)
            report.given_up += len(given_up)
            return
        stored = self.state.stored([p.entry_id for p in ready])
        problems = {pr.item: pr.reason for pr in summary.problems}
        results: list[tuple[str, str, str, str | None]] = []
        for p in ready:
            if p.entry_id in stored:
                results.append((p.feed_url, p.entry_id, "done", None))
            else:
                why = problems.get(p.doc.origin, "not stored")
                results.append((p.feed_url, p.entry_id, "failed", why))
                report.given_up += 1
                log.warning("entry %s (feed %s) skipped: %s", p.entry_id, p.feed_url, why)
        self.state.finish(results)
        report.new_articles += summary.new + summary.updated


def _seconds(value: float) -> str:
    if value < 120:
        return f"{value:g} s" if value < 10 else f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def watch(feeds_file: str | Path, out_dir: str | Path, config: Config | None = None, *, once: bool = False,
          max_cycles: int | None = None, db: str | Path | None = None) -> Watcher:
    """Read the FEEDS file and run a watcher on it (returns it, closed, for its counters)."""
    from .feedlist import read_feed_list

    feeds = read_feed_list(feeds_file)
    with Watcher(feeds, out_dir, config, db) as watcher:
        log.info("watching %d feeds into %s", len(feeds), getattr(watcher.store, "url", None) or watcher.store.path)
        try:
            watcher.run(once=once, max_cycles=max_cycles)
        except KeyboardInterrupt:
            log.info("stopped after %d cycles; a restart goes on from here", watcher.cycles)
            raise
    return watcher
