"""Whitespace / unicode normalisation of article text, and the content hash."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Invisible characters that only get in the way: zero-width space/joiners, BOM, soft hyphen,
# word joiner, bidi marks.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f]")
# Unicode spaces (no-break, thin, figure, ideographic ...) become a plain space.
_SPACES = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\u0085]")
_BLANK_RUNS = re.compile(r"\n{3,}")
_WS = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFC, unified line breaks, spaces collapsed inside lines, lines stripped.

    Paragraph structure is kept: line breaks stay, runs of blank lines become one blank line.
    Characters are otherwise left alone (curly quotes and dashes are part of the text).
    """
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    text = _LINE_BREAKS.sub("\n", text)
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip()


def normalize_for_hash(text: str) -> str:
    """Canonical form for identity: NFKC, case-folded, all whitespace collapsed to one space."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold()
    return _WS.sub(" ", text).strip()


def content_hash(text: str) -> str:
    """sha256 hex of :func:`normalize_for_hash` of ``text``."""
    return hashlib.sha256(normalize_for_hash(text).encode("utf-8")).hexdigest()


def word_count(text: str) -> int:
    return len(text.split())
