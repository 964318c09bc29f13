"""HTTP for the watcher: conditional GET, per-host politeness, quick retries.

Built on :mod:`storyline.ingest.fetch`: every hop of every request goes through its address check
(no private, loopback or reserved host unless ``allow_private_urls``) and connects to the address
it checked. What is added here: request headers (``If-None-Match`` / ``If-Modified-Since``), a
``304 Not Modified`` answer, the response's ``ETag`` / ``Last-Modified``, and errors that say
whether trying again at once could help.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from ..config import IngestConfig
from ..ingest.encoding import decode_bytes
from ..ingest.fetch import (
    HTML_TYPES,
    MAX_REDIRECTS,
    USER_AGENT,
    DownloadError,
    FetchError,
    check_url,
    describe_error,
    looks_like_html,
    parse_content_type,
    read_body,
)
from ..ingest.files import IngestError

_REDIRECTS = {301, 302, 303, 307, 308}
_RETRY_STATUS = {429, 500, 502, 503, 504}


class PollError(Exception):
    """A request failed. ``retry_now``: a quick retry may help (dropped connection, 5xx, 429);
    ``retry_after``: seconds the server asked us to wait, if it said."""

    def __init__(self, message: str, *, retry_now: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_now = retry_now
        self.retry_after = retry_after


@dataclass(slots=True)
class Response:
    url: str  # after redirects
    status: int  # 2xx or 304
    content_type: str = ""
    charset: str | None = None
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def _retry_after(value: str | None) -> float | None:
    value = (value or "").strip()
    return float(value) if value.isdigit() else None


def get(url: str, config: IngestConfig, *, timeout_s: float, headers: dict[str, str] | None = None,
        max_bytes: int | None = None) -> Response:
    """GET ``url`` with extra ``headers``, following at most 5 redirects (each hop checked).

    Returns a 2xx :class:`Response` or a 304 one (empty body); anything else raises
    :class:`PollError` with a one-line reason.
    """
    limit = config.max_file_bytes if max_bytes is None else max_bytes
    deadline = time.monotonic() + 2 * timeout_s
    with httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False,
                      headers={"User-Agent": USER_AGENT}) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                target, pinned_headers, extensions = check_url(url, config)
            except FetchError as exc:
                raise PollError(str(exc)) from exc
            try:
                request = client.build_request("GET", target, headers={**(headers or {}), **pinned_headers},
                                               extensions=extensions)
                response = client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise PollError(f"timed out after {timeout_s:g} s") from exc
            except httpx.HTTPError as exc:
                raise PollError(f"unreachable ({describe_error(exc)})", retry_now=True) from exc
            try:
                status = response.status_code
                if status in _REDIRECTS and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if status == 304:
                    return Response(url, 304, etag=response.headers.get("etag"),
                                    last_modified=response.headers.get("last-modified"))
                if not 200 <= status < 300:
                    raise PollError(f"HTTP {status} {response.reason_phrase}".strip(),
                                    retry_now=status in _RETRY_STATUS,
                                    retry_after=_retry_after(response.headers.get("retry-after")))
                try:
                    body = read_body(response, limit, deadline, timeout_s)
                except FetchError as exc:
                    raise PollError(str(exc), retry_now=isinstance(exc, DownloadError)) from exc
                content_type, charset = parse_content_type(response.headers.get("content-type", ""))
                return Response(url, status, content_type, charset, body,
                                etag=response.headers.get("etag"),
                                last_modified=response.headers.get("last-modified"))
            finally:
                response.close()
    raise PollError(f"more than {MAX_REDIRECTS} redirects (a redirect loop?)")


def page_html(response: Response) -> str:
    """The decoded HTML of a fetched page; anything but HTML is a :class:`PollError`."""
    if response.content_type not in HTML_TYPES and not looks_like_html(response.body):
        raise PollError(f"not an HTML page ({response.content_type})")
    if not response.body.strip():
        raise PollError("empty page")
    try:
        return decode_bytes(response.body, response.charset, html=True)
    except IngestError as exc:
        raise PollError(str(exc)) from exc


@dataclass
class _Host:
    slots: threading.Semaphore
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_at: float = 0.0


class HostGate:
    """Politeness: at most ``concurrency`` requests in flight per host, and request starts to one
    host at least ``delay_s`` apart. Thread-safe; other hosts are never held up."""

    def __init__(self, delay_s: float, concurrency: int) -> None:
        self.delay_s = max(0.0, delay_s)
        self.concurrency = max(1, concurrency)
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {}

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        key = (urlsplit(url).hostname or "").lower()
        with self._lock:
            host = self._hosts.get(key)
            if host is None:
                host = self._hosts[key] = _Host(threading.Semaphore(self.concurrency))
        with host.slots:
            with host.lock:  # reserve the next start time, then wait for it outside the lock
                now = time.monotonic()
                start = max(now, host.next_at)
                host.next_at = start + self.delay_s
            if start > now:
                time.sleep(start - now)
            yield


class Fetcher:
    """Polite, retrying GETs: what the watcher uses for feeds and linked pages."""

    def __init__(self, config: IngestConfig, *, timeout_s: float, retries: int, retry_delay_s: float,
                 gate: HostGate) -> None:
        self.config = config
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.retry_delay_s = retry_delay_s
        self.gate = gate

    def get(self, url: str, headers: dict[str, str] | None = None) -> Response:
        attempt = 0
        while True:
            try:
                with self.gate.slot(url):
                    return get(url, self.config, timeout_s=self.timeout_s, headers=headers)
            except PollError as exc:
                if not exc.retry_now or attempt >= self.retries:
                    raise
                wait = self.retry_delay_s * 2 ** attempt
                if exc.retry_after is not None:
                    wait = max(wait, exc.retry_after)
                if wait > 60:  # the server wants a long pause: leave it to the next poll
                    raise
                time.sleep(wait)
                attempt += 1
