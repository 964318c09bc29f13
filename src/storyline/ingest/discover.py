"""Turning the user's inputs (paths, folders, URLs) into a deterministic list of sources.

Folders are walked recursively in sorted order so two runs over the same tree read the same
documents in the same order. Inside a folder, files of unknown type (and hidden files) are passed
over silently; a file named explicitly is always either read or reported.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..records import Problem
from .fetch import is_http_url
from .files import display, os_reason

Kind = Literal["text", "html", "json", "feed", "warc", "url"]

# Extension (lower case, after removing ".gz") -> reader.
EXTENSIONS: dict[str, Kind] = {
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
    ".warc": "warc",
}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(slots=True, frozen=True)
class Source:
    """One thing to read: a local file of a known kind, or a URL (``kind == "url"``)."""

    kind: Kind
    location: str  # the path as the user will see it, or the URL
    path: Path | None = None


def kind_of(path: Path) -> Kind | None:
    """The reader for ``path`` by its extension; ``x.jsonl.gz`` is JSON, ``x.warc.gz`` is WARC."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = os.path.splitext(name)[1]
    return EXTENSIONS.get(suffix)


def _walk(root: Path) -> Iterator[Path | Problem]:
    """Every visible file under ``root``, sorted by relative path; unreadable folders reported."""
    errors: list[Problem] = []

    def on_error(exc: OSError) -> None:
        errors.append(Problem(display(exc.filename or root), os_reason(exc)))

    found: list[tuple[tuple[str, ...], Path]] = []
    # followlinks=False: a symlinked folder could loop back on itself.
    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        base = Path(dirpath)
        for name in filenames:
            if not name.startswith("."):
                path = base / name
                found.append((path.relative_to(root).parts, path))
    yield from errors
    for _parts, path in sorted(found, key=lambda item: item[0]):
        yield path


def discover(inputs: Sequence[str]) -> Iterator[Source | Problem]:
    """Expand ``inputs`` into sources, in order; a file reached twice is read once."""
    seen: set[str] = set()

    def first_time(path: Path) -> bool:
        try:
            key = str(path.resolve())
        except OSError:
            key = str(path.absolute())
        if key in seen:
            return False
        seen.add(key)
        return True

    for raw in inputs:
        name = str(raw)
        if not name.strip():
            yield Problem(repr(name), "empty input name")
            continue
        if is_http_url(name):
            if name not in seen:
                seen.add(name)
                yield Source("url", name)
            continue
        if _SCHEME.match(name) and not os.path.exists(name):
            yield Problem(name, f"unsupported URL scheme {name.split('://', 1)[0]!r}")
            continue
        path = Path(name)
        try:
            is_dir = path.is_dir()
            exists = is_dir or path.exists()
        except OSError as exc:
            yield Problem(name, os_reason(exc))
            continue
        if not exists:
            yield Problem(name, "no such file or directory")
        elif is_dir:
            for found in _walk(path):
                if isinstance(found, Problem):
                    yield found
                    continue
                kind = kind_of(found)
                if kind is not None and first_time(found):
                    yield Source(kind, display(found), found)
        else:
            kind = kind_of(path)
            if kind is None:
                suffix = "".join(path.suffixes[-2:]) or "(no extension)"
                yield Problem(name, f"unsupported file type {suffix}; expected .txt, .html, "
                                    ".json/.jsonl, .xml/.rss/.atom feed or .warc(.gz)")
            elif first_time(path):
                yield Source(kind, display(path), path)
