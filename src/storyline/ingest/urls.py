"""A URL given as an input: a feed (one document per entry) or a web page (one document)."""

from __future__ import annotations

from collections.abc import Iterator

from ..config import IngestConfig
from ..records import Problem, RawDocument
from .encoding import decode_bytes
from .feeds import FEED_TYPES, looks_like_feed, parse_feed
from .fetch import HTML_TYPES, fetch, looks_like_html
from .files import IngestError, stable_id

Item = RawDocument | Problem


def read_url(url: str, config: IngestConfig) -> Iterator[Item]:
    """Fetch ``url`` (with every safety check) and read it as a feed or as an HTML page."""
    try:
        result = fetch(url, config)
    except IngestError as exc:
        yield Problem(url, str(exc))
        return
    if not result.body.strip():
        yield Problem(url, "empty response")
        return
    # Servers mislabel both ways (feeds as text/html, pages as text/xml): the bytes decide first.
    if looks_like_feed(result.body) or (
        result.content_type in FEED_TYPES and not looks_like_html(result.body)
    ):
        yield from parse_feed(result.body, url, config, feed_url=result.url,
                              content_type=result.content_type)
        return
    if result.content_type in HTML_TYPES or looks_like_html(result.body):
        try:
            html = decode_bytes(result.body, result.charset, html=True)
        except IngestError as exc:
            yield Problem(url, str(exc))
            return
        yield RawDocument(id=stable_id(url), origin=url, html=html,
                          url=result.url)
        return
    yield Problem(url, f"neither a feed nor an HTML page ({result.content_type})")
