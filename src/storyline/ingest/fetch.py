"""Fetching one URL safely: no private hosts, few redirects, capped size and time.

Server-side request forgery is the risk: a feed (or a link inside one) could point storyline at
``http://169.254.169.254/`` or a service on localhost. So, unless ``allow_private_urls`` is set,
the host is resolved first, *every* address it resolves to must be public, and the connection is
then made to that checked address (the name is only used for ``Host`` and TLS), so a DNS answer
that changes between the check and the connection cannot slip through. Redirects are followed by
hand, and each hop is checked again.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urljoin

import httpx

from .. import __version__
from ..config import IngestConfig
from .encoding import decode_bytes
from .files import IngestError, human_size

MAX_REDIRECTS = 5
USER_AGENT = f"storyline/{__version__} (news ingest; +https://pypi.org/project/storyline/)"
_REDIRECTS = {301, 302, 303, 307, 308}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(IngestError):
    """A URL could not be fetched; the message says why (refused, unreachable, HTTP 404...)."""


@dataclass(slots=True)
class FetchResult:
    url: str  # after redirects
    status: int
    content_type: str  # media type only, lower case ("text/html")
    charset: str | None  # from the Content-Type header
    body: bytes


def is_http_url(value: str) -> bool:
    return value[:8].lower().startswith(("http://", "https://"))


def is_public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses.

    ``is_global`` already excludes private, loopback, link-local, reserved, unspecified and
    shared (100.64/10) ranges; multicast can be "global" so it is excluded by hand, and an
    IPv4-mapped IPv6 address is judged by the IPv4 address inside it.
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise FetchError(f"cannot resolve host {host!r} ({exc})") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])  # drop an IPv6 zone id
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise FetchError(f"cannot resolve host {host!r}")
    return addresses


def check_url(url: str, config: IngestConfig) -> tuple[str, dict[str, str], dict[str, str]]:
    """Vet ``url`` before any request: http(s) only, and its host must resolve to public addresses
    unless ``config.allow_private_urls``. Returns the URL to connect to (pinned to the vetted
    address, so DNS cannot change between check and connect), extra headers and request extensions.
    Raises FetchError naming what was refused."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise FetchError(f"invalid URL ({exc})") from exc
    if parsed.scheme not in ("http", "https"):
        raise FetchError(f"unsupported URL scheme {parsed.scheme!r}")
    host = parsed.raw_host.decode("ascii")  # IDNA-encoded: what DNS, Host and TLS all use
    if not host:
        raise FetchError("URL has no host")
    if config.allow_private_urls:
        return url, {}, {}
    addresses = resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80))
    refused = [str(ip) for ip in addresses if not is_public_address(ip)]
    if refused:
        raise FetchError(
            f"refused: {host} resolves to non-public address {', '.join(refused)} "
            "(set allow_private_urls to fetch private, loopback or reserved hosts)"
        )
    # Connect to the address just checked, not to the name (no DNS rebinding in between);
    # IPv4 first, as hosts without IPv6 routes are common.
    ip = sorted(addresses, key=lambda a: a.version)[0]
    pinned = parsed.copy_with(host=str(ip), username=None, password=None, fragment=None)
    host_header = f"[{host}]" if ":" in host else host
    if parsed.port is not None:
        host_header += f":{parsed.port}"
    extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
    return str(pinned), {"Host": host_header}, extensions


def parse_content_type(value: str) -> tuple[str, str | None]:
    msg = Message()
    msg["content-type"] = value or "application/octet-stream"
    charset = msg.get_param("charset")
    return msg.get_content_type().lower(), (str(charset) if isinstance(charset, str) else None)


def fetch(url: str, config: IngestConfig, *, max_bytes: int | None = None) -> FetchResult:
    """GET ``url`` following at most 5 redirects; raise :class:`FetchError` with a reason.

    Only a 2xx answer is a result. The body is capped at ``max_bytes`` (default
    ``config.max_file_bytes``) and the whole download at about twice ``fetch_timeout_s``.
    """
    limit = config.max_file_bytes if max_bytes is None else max_bytes
    timeout = httpx.Timeout(config.fetch_timeout_s)
    deadline = time.monotonic() + 2 * config.fetch_timeout_s
    # trust_env=False: a proxy from the environment would make the address check meaningless.
    with httpx.Client(
        timeout=timeout, follow_redirects=False, trust_env=False, headers={"User-Agent": USER_AGENT}
    ) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            target, headers, extensions = check_url(url, config)
            try:
                request = client.build_request("GET", target, headers=headers, extensions=extensions)
                response = client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise FetchError(f"timed out after {config.fetch_timeout_s:g} s") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"unreachable ({describe_error(exc)})") from exc
            try:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if not 200 <= response.status_code < 300:
                    raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}".strip())
                body = read_body(response, limit, deadline, config.fetch_timeout_s)
                content_type, charset = parse_content_type(response.headers.get("content-type", ""))
                return FetchResult(url, response.status_code, content_type, charset, body)
            finally:
                response.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


class DownloadError(FetchError):
    """The body of a response could not be read whole (a watcher may retry it at once)."""


def read_body(response: httpx.Response, limit: int, deadline: float, timeout_s: float) -> bytes:
    """The body of a streamed response, refused past ``limit`` bytes (declared or actual, after
    content decoding, so a gzip bomb is capped too) or past the ``deadline`` (time.monotonic())."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(f"response too large ({human_size(int(declared))} > {human_size(limit)})")
    body = bytearray()
    try:
        for chunk in response.iter_bytes():
            body.extend(chunk)
            if len(body) > limit:
                raise FetchError(f"response larger than {human_size(limit)}")
            if time.monotonic() > deadline:
                raise FetchError("download too slow, gave up")
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out after {timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise DownloadError(f"download failed ({describe_error(exc)})") from exc
    return bytes(body)


def describe_error(exc: Exception) -> str:
    """The innermost useful message ("Connection refused" rather than a wrapper's repr)."""
    text = str(exc).strip()
    return text or type(exc).__name__


HTML_TYPES = ("text/html", "application/xhtml+xml")


def looks_like_html(data: bytes) -> bool:
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head or b"<body" in head


def fetch_html(url: str, config: IngestConfig) -> tuple[str, str]:
    """Fetch a web page and return ``(final_url, decoded_html)``; anything but HTML is an error."""
    result = fetch(url, config)
    if result.content_type not in HTML_TYPES and not looks_like_html(result.body):
        raise FetchError(f"not an HTML page ({result.content_type})")
    if not result.body.strip():
        raise FetchError("empty page")
    try:
        html = decode_bytes(result.body, result.charset, html=True)
    except IngestError as exc:
        raise FetchError(str(exc)) from exc
    return result.url, html
