"""The FEEDS file of ``storyline watch``: one URL a line (``#`` comments), or an OPML outline."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..ingest.fetch import is_http_url

MAX_LIST_BYTES = 10 * 1024 * 1024


class FeedListError(ValueError):
    """The FEEDS file cannot be read; the message says why."""


def _is_opml(path: Path, data: bytes) -> bool:
    return path.suffix.lower() == ".opml" or b"<opml" in data[:4096].lower()


def read_feed_list(path: str | Path) -> list[str]:
    """Feed URLs in file order, without duplicates. Non-http(s) lines are an error (named)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_LIST_BYTES:
            raise FeedListError(f"{path}: larger than {MAX_LIST_BYTES // 1024 // 1024} MB")
        data = path.read_bytes()
    except OSError as exc:
        raise FeedListError(f"{path}: {exc.strerror or exc}") from exc
    urls = _from_opml(path, data) if _is_opml(path, data) else _from_lines(path, data)
    seen: set[str] = set()
    unique = [u for u in urls if not (u in seen or seen.add(u))]
    if not unique:
        raise FeedListError(f"{path}: no feed URLs in it")
    return unique


def _from_lines(path: Path, data: bytes) -> list[str]:
    urls = []
    text = data.decode("utf-8-sig", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.split()[0]  # "URL  # a comment" or "URL title": the URL is the first word
        if not is_http_url(line):
            raise FeedListError(f"{path}:{number}: not an http(s) URL: {line[:100]!r}")
        urls.append(line)
    return urls


def _from_opml(path: Path, data: bytes) -> list[str]:
    if b"<!ENTITY" in data.upper():  # no entity expansion from a downloaded outline
        raise FeedListError(f"{path}: OPML with entity declarations is not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise FeedListError(f"{path}: not valid OPML ({exc})") from exc
    urls = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url and is_http_url(url):
            urls.append(url)
    return urls
