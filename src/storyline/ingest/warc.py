"""WARC and WARC.gz web archives: every successful HTML response is one document.

Requests, metadata, revisits, redirects, errors and non-HTML payloads are not articles and are
passed over silently. Records are streamed, so a truncated archive still yields everything before
the damage, followed by one Problem.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from ..config import IngestConfig
from ..records import Problem, RawDocument
from .encoding import decode_bytes
from .fetch import HTML_TYPES, parse_content_type
from .files import IngestError, check_size, display, human_size, os_reason, stable_id

Item = RawDocument | Problem


def _record_document(record: object, number: int, origin: str, config: IngestConfig) -> Item | None:
    """A document for one WARC record, a Problem, or None when the record is not an article."""
    if getattr(record, "rec_type", None) != "response":
        return None
    http = getattr(record, "http_headers", None)
    if http is None:  # a response record for dns:, ftp: ... has no HTTP headers
        return None
    if http.get_statuscode() != "200":
        return None
    content_type, charset = parse_content_type(http.get_header("Content-Type") or "")
    if content_type not in HTML_TYPES:
        return None
    item = f"{origin}#{number}"
    uri = record.rec_headers.get_header("WARC-Target-URI") or ""  # type: ignore[attr-defined]
    stream = record.content_stream()  # type: ignore[attr-defined]  # de-chunked, decompressed
    body = stream.read(config.max_file_bytes + 1)
    if len(body) > config.max_file_bytes:
        return Problem(item, f"response larger than {human_size(config.max_file_bytes)}, skipped")
    if not body.strip():
        return Problem(item, "empty response")
    try:
        html = decode_bytes(body, charset, html=True)
    except IngestError as exc:
        return Problem(item, str(exc))
    return RawDocument(
        id=stable_id(uri) if uri else stable_id(origin, str(number)),
        origin=item,
        html=html,
        url=uri or None,
    )


def read_warc_file(path: Path, config: IngestConfig) -> Iterator[Item]:
    """Yield a document per HTML ``response`` record with status 200."""
    origin = display(path)
    try:
        size = check_size(path, config.max_file_bytes)
    except IngestError as exc:
        yield Problem(origin, str(exc))
        return
    if size == 0:
        yield Problem(origin, "empty")
        return
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        yield Problem(origin, os_reason(exc))
        return
    number = 0
    found = 0
    with fh:
        position = 1  # the record being read when something breaks
        try:
            records = iter(ArchiveIterator(fh))
            while (record := next(records, None)) is not None:
                if not str(getattr(record, "format", "warc")).startswith("warc"):
                    # warcio also reads old ARC files, and takes any text line for an ARC header.
                    raise ValueError(f"record is not a WARC record (format {record.format!r})")
                number = position
                item = _record_document(record, number, origin, config)
                if item is not None:
                    found += isinstance(item, RawDocument)
                    yield item
                position = number + 1
        except Exception as exc:  # noqa: BLE001 - warcio raises many kinds on damaged input
            what = "not a WARC file or corrupt" if number == 0 else "truncated or corrupt WARC"
            detail = str(exc).strip() or type(exc).__name__
            yield Problem(f"{origin}#{position}", f"{what}, stopped reading ({detail})")
            return
    if number == 0:
        yield Problem(origin, "not a WARC file (no records)")
    elif not found:
        yield Problem(origin, "no HTML responses with status 200")
