"""Plain-text and HTML files: one file, one document.

The id is the file name without its extension(s); HTML stays raw markup because extracting the
main text, title and date is the clean stage's job.
"""

from __future__ import annotations

from pathlib import Path

from ..config import IngestConfig
from ..records import Problem, RawDocument
from .encoding import decode_bytes
from .files import IngestError, display, read_bytes


def file_id(path: Path) -> str:
    """``a/b/story-1.txt`` and ``story-1.html.gz`` -> ``story-1``."""
    name = path.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return stem or name


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text_file(path: Path, config: IngestConfig, *, html: bool) -> RawDocument | Problem:
    """Read one ``.txt`` (``html=False``) or ``.html``/``.htm`` file."""
    origin = display(path)
    try:
        data = read_bytes(path, config.max_file_bytes)
        if not data.strip():
            return Problem(origin, "empty")
        content = decode_bytes(data, html=html)
    except IngestError as exc:
        return Problem(origin, str(exc))
    if not content.strip():  # e.g. only a BOM, or UTF-16 whitespace
        return Problem(origin, "empty")
    if html:  # bounded by max_file_bytes here and by clean's max_html_chars later
        return RawDocument(id=file_id(path), origin=origin, html=content)
    return RawDocument(id=file_id(path), origin=origin, text=normalise_newlines(content).strip()[: config.max_article_chars])
