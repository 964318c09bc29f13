"""JSON and JSON Lines files (optionally gzipped): one record, one document.

Accepted shapes: JSON Lines (one object a line), a JSON array of objects, or one object. Only the
known fields are kept; anything else is ignored, and every ``gold_*`` field (evaluation answers) is
dropped before it can reach a :class:`RawDocument`. JSON Lines files are streamed, so a truncated
gzip still yields every record before the damage.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ..config import IngestConfig
from ..records import Problem, RawDocument
from .encoding import decode_bytes, strip_bom
from .files import IngestError, check_size, display, is_gzip_name, os_reason, read_bytes, stable_id

Item = RawDocument | Problem

_META_FIELDS = ("title", "url", "source", "author")
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def is_gold_field(name: object) -> bool:
    """Evaluation answers (``gold_event``, ``gold_storyline``...) must never leak into the pipeline."""
    return isinstance(name, str) and name.lower().startswith("gold_")


def _scalar(value: Any) -> str | None:
    """A metadata value as a stripped string; lists of strings are joined, anything else dropped."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return ", ".join(v.strip() for v in value if v.strip()) or None
    return None


def _date(value: Any) -> str | None:
    """Dates are passed on as given; a number is read as a Unix timestamp (s, or ms if huge)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    return _scalar(value)


def record_to_document(obj: Any, origin: str, config: IngestConfig) -> Item:
    """Map one JSON record to a :class:`RawDocument`, or a :class:`Problem` saying why not."""
    if not isinstance(obj, dict):
        return Problem(origin, f"record is a JSON {type(obj).__name__}, not an object")
    record = {k: v for k, v in obj.items() if not is_gold_field(k)}

    bodies: dict[str, str] = {}
    for name in ("text", "html"):
        value = record.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            return Problem(origin, f"field '{name}' is a JSON {type(value).__name__}, not a string")
        if value.strip():
            # Only plain text is cut here: markup is mostly not text, clean bounds it separately.
            bodies[name] = value[: config.max_article_chars] if name == "text" else value
    if not bodies:
        # A headline-only record (news aggregators, headline feeds) is an article whose text is its
        # headline: clustering and search still work on it.
        title = _scalar(record.get("title"))
        if not title or not title.strip():
            return Problem(origin, "no text, html or title (or all empty)")
        bodies["text"] = title.strip()
    # Exactly one body: a given plain text is already what cleaning would extract from the html.
    kind, body = ("text", bodies["text"].strip()) if "text" in bodies else ("html", bodies["html"])

    meta = {name: _scalar(record.get(name)) for name in _META_FIELDS}
    published = _date(record.get("published_at"))
    if published is None:
        published = _date(record.get("date"))

    doc_id = _scalar(record.get("id"))
    if doc_id is None:
        # Stable across runs and input order: a hash of what the record says, not where it is.
        doc_id = stable_id(kind, body, *(meta[n] or "" for n in _META_FIELDS), published or "")
    return RawDocument(
        id=doc_id,
        origin=origin,
        text=body if kind == "text" else None,
        html=body if kind == "html" else None,
        published_at=published,
        **meta,
    )


def _from_value(value: Any, origin: str, config: IngestConfig) -> Iterator[Item]:
    """Documents from a whole parsed JSON value: an array of records or one record."""
    if isinstance(value, list):
        if not value:
            yield Problem(origin, "empty JSON array")
        for index, obj in enumerate(value):
            yield record_to_document(obj, f"{origin}[{index}]", config)
    else:
        yield record_to_document(value, origin, config)


def _decode_line(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return decode_bytes(raw)  # a legacy-encoded line among UTF-8 ones (cp1252 exports)


def _from_lines(
    lines: Iterable[tuple[int, bytes | str | None]], origin: str, config: IngestConfig
) -> Iterator[Item]:
    """Documents from JSON Lines; a bad line is a Problem and the next line goes on."""
    for lineno, raw in lines:
        if raw is None:
            yield Problem(f"{origin}:{lineno}", "line longer than max_file_bytes, skipped")
            continue
        try:
            line = _decode_line(raw) if isinstance(raw, bytes) else raw
        except IngestError as exc:
            yield Problem(f"{origin}:{lineno}", str(exc))
            continue
        line = line.rstrip("\r\n")  # else a cut line reports the newline, not the cut
        if lineno == 1:
            line = line.lstrip("\ufeff")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Problem(f"{origin}:{lineno}", f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        yield record_to_document(obj, f"{origin}:{lineno}", config)


def _stream_lines(fh: IO[bytes], max_line: int) -> Iterator[tuple[int, bytes | None]]:
    """Numbered raw lines; ``None`` stands for a line longer than ``max_line`` (a gzip bomb)."""
    lineno = 0
    while True:
        raw = fh.readline(max_line + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > max_line and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest without holding it
                raw = fh.readline(1 << 20)
            yield lineno, None
            continue
        yield lineno, raw


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if is_gzip_name(path) else open(path, "rb")  # noqa: SIM115


def _whole_document(path: Path, origin: str, config: IngestConfig, *, jsonl: bool) -> Iterator[Item]:
    """Read and decode the whole file, then parse it as one JSON value or as JSON Lines."""
    try:
        data = read_bytes(path, config.max_file_bytes)
        if not data.strip():
            yield Problem(origin, "empty")
            return
        text = decode_bytes(data)
    except IngestError as exc:
        yield Problem(origin, str(exc))
        return
    if not text.strip():
        yield Problem(origin, "empty")
        return
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # "Extra data" after a first value, or several one-line objects: really JSON Lines.
        if exc.msg == "Extra data" or jsonl or _one_object_per_line(text):
            yield from _from_lines(enumerate(text.splitlines(), 1), origin, config)
        else:
            yield Problem(f"{origin}:{exc.lineno}", f"invalid JSON: {exc.msg} (column {exc.colno})")
        return
    yield from _from_value(value, origin, config)


def _one_object_per_line(text: str) -> bool:
    """At least two lines that each hold a whole ``{...}`` (pretty-printed JSON has none)."""
    whole = 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            whole += 1
            if whole >= 2:
                return True
    return False


def _needs_whole_document(path: Path) -> bool:
    """A .jsonl file that is really one pretty-printed value, or UTF-16/32, can't be streamed."""
    with _open(path) as fh:
        head = fh.read(4096)
    body, bom = strip_bom(head)
    if bom is not None and bom != "utf-8":
        return True
    first_line = body.lstrip().split(b"\n", 1)[0].strip()
    return first_line.startswith(b"[") or first_line == b"{"


def read_json_file(path: Path, config: IngestConfig) -> Iterator[Item]:
    """Yield a document (or a Problem) per record of a ``.json``/``.jsonl`` file, gzipped or not."""
    origin = display(path)
    name = path.name.lower().removesuffix(".gz")
    jsonl = name.endswith((".jsonl", ".ndjson"))
    try:
        check_size(path, config.max_file_bytes)
        if not jsonl or _needs_whole_document(path):
            yield from _whole_document(path, origin, config, jsonl=jsonl)
            return
    except IngestError as exc:
        yield Problem(origin, str(exc))
        return
    except _GZIP_ERRORS as exc:
        yield Problem(origin, f"truncated or corrupt gzip ({exc})")
        return
    except OSError as exc:
        yield Problem(origin, os_reason(exc))
        return

    found = False
    try:
        with _open(path) as fh:
            for item in _from_lines(_stream_lines(fh, config.max_file_bytes), origin, config):
                found = True
                yield item
    except _GZIP_ERRORS as exc:
        # Everything before the damage has been yielded already.
        yield Problem(origin, f"truncated or corrupt gzip, stopped reading ({exc})")
        return
    except OSError as exc:
        yield Problem(origin, os_reason(exc))
        return
    if not found:
        yield Problem(origin, "empty")
