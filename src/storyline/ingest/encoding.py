"""Turning bytes into text: BOMs, declared charsets, UTF-8, cp1252/latin-1, then detection.

Order matters. A BOM is unambiguous; a charset declared by HTTP or the WARC record comes next;
valid UTF-8 is next (random legacy bytes are almost never valid UTF-8); then an HTML ``<meta
charset>``; then cp1252, the superset of latin-1 that Western legacy text really uses; then
charset-normalizer for anything else. Bytes that look binary are refused rather than decoded
into mojibake.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from .files import IngestError

# Longest BOM first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Control bytes that never occur in text (everything below 0x20 except \t \n \v \f \r, and ESC
# which some terminals' logs contain).
_BINARY_BYTES = bytes(b for b in range(0x20) if b not in b"\t\n\x0b\x0c\r\x1b")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)

# Labels for which WHATWG (and every browser) really decodes cp1252.
_WESTERN_LABELS = {"iso-8859-1", "latin-1", "latin1", "iso8859-1", "l1", "ascii", "us-ascii", "cp1252"}

UNDECODABLE = "binary or undecodable"


def strip_bom(data: bytes) -> tuple[bytes, str | None]:
    """Remove a leading byte-order mark; return the rest and the encoding it names."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :], name
    return data, None


def looks_binary(data: bytes, sample: int = 8192) -> bool:
    """NUL bytes, or more than 2% other control bytes, in the first ``sample`` bytes."""
    head = data[:sample]
    if not head:
        return False
    if b"\x00" in head:
        return True
    controls = sum(head.count(bytes([b])) for b in _BINARY_BYTES)
    return controls > max(2, len(head) // 50)


def _codec(label: str | None) -> str | None:
    """Normalise a charset label to a Python codec name (None if unknown)."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _WESTERN_LABELS:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _try(data: bytes, codec: str | None) -> str | None:
    if codec is None:
        return None
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def meta_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in its first 4 KB (``<meta charset>`` or http-equiv)."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii", "replace") if match else None


def decode_bytes(data: bytes, declared: str | None = None, *, html: bool = False) -> str:
    """Decode ``data`` to text or raise :class:`IngestError` ("binary or undecodable").

    ``declared`` is a charset from outside the bytes (HTTP ``Content-Type``); ``html`` makes the
    ``<meta charset>`` of the page count as a hint.
    """
    body, bom_codec = strip_bom(data)
    if bom_codec is not None:
        text = _try(body, bom_codec)
        if text is None:
            raise IngestError(f"{UNDECODABLE} (invalid {bom_codec} after its byte-order mark)")
        return text
    if looks_binary(body):
        raise IngestError(UNDECODABLE)

    declared_codec = _codec(declared)
    if declared_codec is not None:
        # A page served as latin-1 that is valid non-ASCII UTF-8 is a mislabelled UTF-8 page.
        if declared_codec == "cp1252" and not body.isascii():
            text = _try(body, "utf-8")
            if text is not None:
                return text
        text = _try(body, declared_codec)
        if text is not None:
            return text

    text = _try(body, "utf-8")
    if text is not None:
        return text
    if html:
        text = _try(body, _codec(meta_charset(body)))
        if text is not None:
            return text
    text = _try(body, "cp1252")  # fails only on 0x81 0x8D 0x8F 0x90 0x9D
    if text is not None:
        return text

    best = from_bytes(body).best()
    if best is not None and best.encoding:
        text = _try(body, best.encoding)
        if text is not None:
            return text
    # Latin-1 decodes anything; accept it only when the odd bytes are few.
    odd = sum(body.count(bytes([b])) for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
    if odd * 100 <= len(body):
        return body.decode("latin-1")
    raise IngestError(UNDECODABLE)
