"""Reading local files safely: size limits, gzip, stable ids.

Every helper here raises :class:`IngestError` with a one-line reason; the readers turn that into a
:class:`~storyline.records.Problem`, so a bad file never stops the batch.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path


class IngestError(Exception):
    """An input could not be read; ``str(exc)`` is the one-line reason shown to the user."""


def stable_id(*parts: str) -> str:
    """A short id that depends only on ``parts`` (sha1, first 16 hex chars)."""
    digest = hashlib.sha1()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")  # separator: ("ab", "c") and ("a", "bc") differ
    return digest.hexdigest()[:16]


def is_gzip_name(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def human_size(n: int) -> str:
    """``1536`` -> ``1.5 KB``."""
    size = float(n)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def os_reason(exc: OSError) -> str:
    """Turn an OSError into a short reason ("no such file or directory", ...)."""
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    return (exc.strerror or str(exc)).lower()


def check_size(path: Path, limit: int) -> int:
    """Stat ``path`` and refuse it before reading when it is larger than ``limit`` bytes."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(os_reason(exc)) from exc
    if size > limit:
        raise IngestError(
            f"file too large ({human_size(size)} > max_file_bytes {human_size(limit)})"
        )
    return size


def read_bytes(path: Path, limit: int) -> bytes:
    """Read a whole file (gunzipping ``*.gz``), refusing more than ``limit`` bytes.

    The limit also applies to the decompressed size, so a small gzip bomb cannot fill memory.
    """
    check_size(path, limit)
    try:
        if not is_gzip_name(path):
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)  # the file may have grown since stat
        else:
            with gzip.open(path, "rb") as gz:
                data = gz.read(limit + 1)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IngestError(f"truncated or corrupt gzip ({exc})") from exc
    except OSError as exc:
        raise IngestError(os_reason(exc)) from exc
    if len(data) > limit:
        raise IngestError(f"file too large (more than max_file_bytes {human_size(limit)})")
    return data


def display(path: Path | str) -> str:
    """How a path is named in origins and problems: as the user gave it, with ``/`` separators."""
    return os.fspath(path).replace(os.sep, "/") if os.sep != "/" else os.fspath(path)
