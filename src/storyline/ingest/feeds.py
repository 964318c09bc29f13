"""RSS and Atom feeds (files or URLs): one entry, one document.

feedparser does the parsing (it copes with broken feeds, relative links and declared encodings) and
is only ever given bytes, never a URL, so every download goes through the checked fetcher. An entry
that holds only a teaser can be completed by fetching the page it links to.
"""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser

from ..config import IngestConfig
from ..records import Problem, RawDocument
from .encoding import UNDECODABLE, looks_binary, strip_bom
from .fetch import fetch_html, is_http_url
from .files import IngestError, display, read_bytes, stable_id

Item = RawDocument | Problem

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    "application/x-rss+xml",
)
_FETCH_WORKERS = 8  # teaser pages are fetched in parallel: one slow site must not stall a feed
_TAG = re.compile(r"<[^>]*>")
_HAS_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>")
_FEED_ROOT = re.compile(rb"<(?:[a-zA-Z0-9_]+:)?(rss|feed|RDF)[\s>]")


def looks_like_feed(data: bytes) -> bool:
    """An RSS/Atom/RDF root element near the start (and no ``<html`` before it)."""
    head = strip_bom(data)[0][:2048]
    match = _FEED_ROOT.search(head)
    if not match:
        return False
    html_at = head.lower().find(b"<html")
    return html_at < 0 or html_at > match.start()


def word_count(text: str, *, html: bool) -> int:
    if html:
        text = htmllib.unescape(_TAG.sub(" ", text))
    return len(text.split())


def _domain(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


def _iso(parsed: Any) -> str | None:
    """feedparser's ``*_parsed`` values are UTC struct_times."""
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return dt.datetime(*parsed[:6], tzinfo=dt.timezone.utc).isoformat()
    except (ValueError, OverflowError):
        return None


def _body(entry: Any) -> tuple[str | None, bool]:
    """The longest of the entry's content blocks, else its summary: ``(value, is_html)``."""
    candidates: list[tuple[str, str]] = []
    for block in entry.get("content") or []:
        candidates.append((block.get("value") or "", block.get("type") or "text/html"))
    if not any(value.strip() for value, _ in candidates):
        detail = entry.get("summary_detail") or {}
        candidates = [(entry.get("summary") or "", detail.get("type") or "text/html")]
    value, media = max(candidates, key=lambda c: len(c[0]))
    if not value.strip():
        return None, False
    if "html" in media and _HAS_TAG.search(value):
        return value, True
    # Typed as HTML but without a single tag: it is plain text with entities.
    return htmllib.unescape(value).strip() if "html" in media else value.strip(), False


@dataclass(slots=True)
class FeedEntry:
    """One feed entry as a document; ``needs_page`` when it holds only a teaser and its linked page
    should be fetched (by :func:`parse_feed` here, or later by ``storyline watch``)."""

    doc: RawDocument
    needs_page: bool


def entry_document(entry: Any, number: int, origin: str, feed_title: str | None,
                   feed_url: str | None, config: IngestConfig) -> FeedEntry | Problem:
    """A feedparser ``entry`` (the ``number``-th of the feed read from ``origin``) as a
    :class:`FeedEntry`, or a Problem naming it when it has no text and no page to fetch."""
    item_origin = f"{origin}#{number}"
    link = entry.get("link") or None
    title = (entry.get("title") or "").strip() or None
    body, is_html = _body(entry)
    published = (
        _iso(entry.get("published_parsed"))
        or _iso(entry.get("updated_parsed"))
        or (entry.get("published") or entry.get("updated") or None)
    )
    entry_id = entry.get("id") or entry.get("guid") or link
    if not entry_id:
        entry_id = stable_id(feed_url or origin, title or "", body or "")
    short = body is None or word_count(body, html=is_html) < config.teaser_max_words
    needs_page = short and config.fetch_linked_pages and bool(link) and is_http_url(link or "")
    if body is None and not needs_page:
        why = "feed entry has no text"
        if link and not config.fetch_linked_pages:
            why += " (fetch_linked_pages is off)"
        return Problem(item_origin, why)
    if body is not None and not is_html:
        body = body[: config.max_article_chars]  # HTML is bounded by clean's max_html_chars
    doc = RawDocument(
        id=str(entry_id).strip(),
        origin=item_origin,
        text=None if is_html else body,
        html=body if is_html else None,
        title=title,
        url=link,
        source=feed_title or _domain(link) or _domain(feed_url),
        published_at=published,
        author=(entry.get("author") or "").strip() or None,
    )
    return FeedEntry(doc, needs_page)


def _complete(entry: FeedEntry, config: IngestConfig) -> Item:
    """Swap a teaser for the linked page's HTML; on failure keep the teaser if there is one."""
    if not entry.needs_page:
        return entry.doc
    doc = entry.doc
    try:
        _final_url, page = fetch_html(doc.url or "", config)
    except IngestError as exc:
        if doc.text is None and doc.html is None:
            return Problem(doc.origin, f"feed entry has no text and its page failed: {exc}")
        return doc  # the teaser is still an article, if a short one
    doc.html, doc.text = page, None
    return doc


def parse_feed(data: bytes, origin: str, config: IngestConfig, *, feed_url: str | None = None,
               content_type: str | None = None) -> Iterator[Item]:
    """Yield a document per entry of the feed in ``data`` (or Problems)."""
    if not strip_bom(data)[0].strip():
        yield Problem(origin, "empty")
        return
    if looks_binary(strip_bom(data)[0]):
        yield Problem(origin, UNDECODABLE)
        return
    headers = {}
    if feed_url:
        headers["content-location"] = feed_url  # lets feedparser resolve relative links
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(data, response_headers=headers or None)
    if not parsed.entries:
        if not parsed.get("version"):
            reason = "not an RSS/Atom feed"
            if parsed.get("bozo_exception") is not None:
                reason += f" ({str(parsed.bozo_exception).strip() or type(parsed.bozo_exception).__name__})"
            yield Problem(origin, reason)
        else:
            yield Problem(origin, "feed has no entries")
        return
    feed_title = (parsed.feed.get("title") or "").strip() or None
    entries: list[FeedEntry | Problem] = [
        entry_document(entry, number, origin, feed_title, feed_url, config)
        for number, entry in enumerate(parsed.entries, 1)
    ]
    pending = [e for e in entries if isinstance(e, FeedEntry) and e.needs_page]
    if not pending:
        for e in entries:
            yield e.doc if isinstance(e, FeedEntry) else e
        return
    with ThreadPoolExecutor(max_workers=min(_FETCH_WORKERS, len(pending))) as pool:
        # map keeps the feed's order; results are yielded as soon as their turn comes.
        yield from pool.map(
            lambda e: _complete(e, config) if isinstance(e, FeedEntry) else e, entries
        )


def read_feed_file(path: Path, config: IngestConfig) -> Iterator[Item]:
    """Yield a document per entry of an ``.xml``/``.rss``/``.atom`` feed file."""
    origin = display(path)
    try:
        data = read_bytes(path, config.max_file_bytes)
    except IngestError as exc:
        yield Problem(origin, str(exc))
        return
    yield from parse_feed(data, origin, config)
