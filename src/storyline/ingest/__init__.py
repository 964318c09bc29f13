"""Ingest: read files, folders, feeds, web archives and URLs into :class:`RawDocument` records.

The one entry point is :func:`read_inputs`. It never raises for bad input: each thing it cannot
read becomes a :class:`Problem` with a one-line reason and the rest of the batch goes on.

Modules, one job each: ``discover`` (inputs -> sources), ``files`` (size limits, gzip, ids),
``encoding`` (bytes -> text), ``text`` (.txt/.html), ``jsonl`` (JSON/JSON Lines), ``feeds``
(RSS/Atom), ``warc`` (web archives), ``fetch`` (safe HTTP), ``urls`` (URL inputs).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..config import IngestConfig
from ..records import Problem, RawDocument
from .discover import Source, discover
from .feeds import read_feed_file
from .fetch import FetchError
from .files import IngestError
from .jsonl import read_json_file
from .text import read_text_file
from .urls import read_url
from .warc import read_warc_file

__all__ = [
    "FetchError",
    "IngestError",
    "read_inputs",
    "read_source",
]


def read_source(source: Source, config: IngestConfig) -> Iterator[RawDocument | Problem]:
    """Read one discovered source with the reader for its kind."""
    if source.kind == "url":
        yield from read_url(source.location, config)
        return
    assert source.path is not None
    if source.kind in ("text", "html"):
        yield read_text_file(source.path, config, html=source.kind == "html")
    elif source.kind == "json":
        yield from read_json_file(source.path, config)
    elif source.kind == "feed":
        yield from read_feed_file(source.path, config)
    elif source.kind == "warc":
        yield from read_warc_file(source.path, config)


def read_inputs(
    inputs: Sequence[str], config: IngestConfig | None = None
) -> Iterator[RawDocument | Problem]:
    """Yield a :class:`RawDocument` per article found in ``inputs`` and a :class:`Problem` per
    thing skipped.

    ``inputs`` mixes paths (files or folders, read recursively in sorted order) and http(s)
    URLs (feeds or pages). Output order is deterministic: inputs in the order given, files in
    sorted path order, records in file order.
    """
    config = config or IngestConfig()
    if isinstance(inputs, str):  # a lone path would otherwise be read letter by letter
        inputs = [inputs]
    for item in discover(inputs):
        if isinstance(item, Problem):
            yield item
            continue
        try:
            yield from read_source(item, config)
        except Exception as exc:  # noqa: BLE001 - last resort: one bad input never stops the batch
            yield Problem(item.location, f"unexpected error: {type(exc).__name__}: {exc}")
