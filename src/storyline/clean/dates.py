"""Parse a published date as given (ISO 8601, RFC 2822, free text) to naive UTC."""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import re

_MIN_YEAR, _MAX_YEAR = 1800, 2200
# Common machine formats tried before dateparser (which is slower and more permissive).
_FORMATS = (
    "%Y-%m-%d %H:%M:%S%z",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y %H:%M",
    "%Y%m%d",
)
_HAS_DIGIT = re.compile(r"\d")
_LABEL = re.compile(r"^\W*(?:(?:last\s+)?updated|published|posted|first published|date)(?:\s+on)?\s*[:|-]?\s*",
                    re.IGNORECASE)
# dateparser tries every language it knows when none is given: seconds per odd string. News
# dates in this project are English or numeric; a few major languages cover month names.
DATEPARSER_LANGUAGES = ["en", "fr", "de", "es", "it", "pt", "nl"]


def to_naive_utc(value: dt.datetime) -> dt.datetime:
    """Aware datetimes are converted to UTC; naive ones are taken to be UTC already."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(dt.timezone.utc)
    return value.replace(tzinfo=None)


def _plausible(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or not (_MIN_YEAR <= value.year <= _MAX_YEAR):
        return None
    return to_naive_utc(value)


def parse_published_at(value: str | dt.datetime | dt.date | None) -> dt.datetime | None:
    """Timezone-naive UTC datetime, or None when the value is missing or unparseable."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return _plausible(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    text = str(value).strip()
    if not text or not _HAS_DIGIT.search(text) or len(text) > 100:
        return None
    # ISO 8601 (Python 3.11 accepts "Z", offsets, date-only, week dates ...)
    iso = text.replace(" UTC", "+00:00").replace(" GMT", "+00:00")
    try:
        return _plausible(dt.datetime.fromisoformat(iso))
    except ValueError:
        pass
    # RFC 2822 (RSS pubDate): "Tue, 18 Feb 2025 10:00:00 +0000"
    try:
        return _plausible(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        pass
    for fmt in _FORMATS:
        try:
            return _plausible(dt.datetime.strptime(text, fmt))
        except ValueError:
            continue
    return _dateparser(_LABEL.sub("", text).strip())


@functools.lru_cache(maxsize=4096)
def _dateparser(text: str) -> dt.datetime | None:
    try:
        import dateparser  # slow to import: only when the fast paths fail
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    try:
        parsed = dateparser.parse(
            text,
            languages=DATEPARSER_LANGUAGES,
            settings={"RETURN_AS_TIMEZONE_AWARE": False, "TO_TIMEZONE": "UTC",
                      "PREFER_DATES_FROM": "past", "STRICT_PARSING": False,
                      # relative dates ("3 days ago") depend on when we read, not on the article
                      "PARSERS": ["timestamp", "custom-formats", "absolute-time"]},
        )
    except Exception:  # dateparser raises assorted errors on odd input
        return None
    return _plausible(parsed)
