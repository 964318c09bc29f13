"""HTML page -> main text and metadata (trafilatura for text/metadata, htmldate for the date).

Settings were chosen on the ScrapingHub article-extraction benchmark dev split
(``bench/extraction.py``; the only extraction dev set we have): ``include_comments=False`` and
``favor_precision=True`` lift F1 over trafilatura's defaults, mostly through precision (reader
comments and link lists stay out), at almost no cost in recall.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import htmldate
import trafilatura

# trafilatura and htmldate log every odd page at WARNING/ERROR: not our user's concern.
for _name in ("trafilatura", "htmldate"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

EXTRACT_OPTIONS = dict(
    include_comments=False,  # reader comments are not the article
    favor_precision=True,
    include_tables=True,  # tables in news pages are mostly data the article is about
    include_images=False,
    include_links=False,
    deduplicate=False,
)


@dataclass(slots=True)
class Extracted:
    text: str = ""
    title: str | None = None
    author: str | None = None
    sitename: str | None = None
    date: str | None = None  # ISO 8601 as found in the page (htmldate), parsed later


def _clean_meta(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _find_date(page: str | bytes, url: str | None) -> str | None:
    """Publication date (the original one, not the last update) via htmldate."""
    try:
        return htmldate.find_date(
            page, extensive_search=True, original_date=True, url=url,
            outputformat="%Y-%m-%dT%H:%M:%S%z",
        )
    except Exception:  # htmldate fails on malformed pages in assorted ways
        return None


def extract_html(html: str | bytes, url: str | None = None) -> Extracted:
    """Main text (paragraphs separated by newlines) and metadata; empty text when none found."""
    if not html or not (html.strip() if isinstance(html, str) else html.strip()):
        return Extracted()
    try:
        tree = trafilatura.load_html(html)
    except Exception:
        tree = None
    if tree is None:
        return Extracted()
    found_date = _find_date(html, url)  # before extraction, which prunes the tree
    try:
        doc = trafilatura.bare_extraction(tree, url=url, with_metadata=True, **EXTRACT_OPTIONS)
    except Exception:
        doc = None
    text = (getattr(doc, "text", None) or "") if doc is not None else ""
    if doc is not None and not text.strip():
        # precision mode can be too strict on unusual layouts: retry favouring recall
        try:
            opts = {**EXTRACT_OPTIONS, "favor_precision": False, "favor_recall": True}
            retry = trafilatura.bare_extraction(tree, url=url, with_metadata=True, **opts)
            text = (getattr(retry, "text", None) or "") if retry is not None else ""
        except Exception:
            pass
    meta_date = getattr(doc, "date", None) if doc is not None else None
    # trafilatura's own metadata date is day-only; htmldate with a time format keeps the time
    date = found_date or _clean_meta(meta_date)
    return Extracted(
        text=text,
        title=_clean_meta(getattr(doc, "title", None)),
        author=_clean_meta(getattr(doc, "author", None)),
        sitename=_clean_meta(getattr(doc, "sitename", None)),
        date=date,
    )
