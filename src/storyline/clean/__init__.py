"""clean: RawDocument -> Article (main text, metadata, junk removed) or Problem.

* HTML: main text and metadata with trafilatura, the date with htmldate (``extract.py``);
  the document's own metadata wins over what is extracted.
* page junk removed line by line (``junk.py``), whitespace/unicode normalised and the content
  hash taken (``normalize.py``), ``published_at`` parsed to naive UTC (``dates.py``).
"""

from __future__ import annotations

from storyline.clean.dates import parse_published_at
from storyline.clean.extract import Extracted, extract_html
from storyline.clean.junk import find_junk, remove_junk
from storyline.clean.normalize import content_hash, normalize_for_hash, normalize_text, word_count
from storyline.config import CleanConfig
from storyline.records import Article, Problem, RawDocument

__all__ = [
    "clean_document",
    "content_hash",
    "extract_html",
    "normalize_for_hash",
    "normalize_text",
    "parse_published_at",
    "remove_junk",
]


def _meta(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def _cut(text: str, limit: int) -> str:
    """Cut over-long text at a paragraph (or word) boundary before ``limit`` characters."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = text[:limit]
    for sep in ("\n", " "):
        pos = head.rfind(sep)
        if pos > limit // 2:
            return head[:pos]
    return head


def clean_document(doc: RawDocument, config: CleanConfig) -> Article | Problem:
    """Clean one document: an :class:`Article`, or a :class:`Problem` saying why it was skipped."""
    item = doc.origin or doc.id
    title, author, source = _meta(doc.title), _meta(doc.author), _meta(doc.source)
    published = doc.published_at
    if doc.html is not None and doc.html.strip():
        if len(doc.html) > config.max_html_chars:
            doc_html = doc.html[: config.max_html_chars]
        else:
            doc_html = doc.html
        found: Extracted = extract_html(doc_html, doc.url)
        if word_count(found.text) < config.min_article_words:
            return Problem(item, "no article text found in the HTML")
        text = found.text
        # the document's own metadata wins over what the page says
        title = title or found.title
        author = author or found.author
        source = source or found.sitename
        if not (published and published.strip()):
            published = found.date
    else:
        text = doc.text or ""
        if not text.strip() and title:
            text = title  # a headline-only item (feeds, headline sets): the headline is the text

    text = normalize_text(_cut(text, config.max_text_chars))
    text, removed, headline = find_junk(text, title)
    if title is None and headline:
        title = headline  # the page's headline, found repeated in the body
    n_words = word_count(text)
    headline_only = title is not None and text.strip() == title.strip()
    needed = config.min_headline_words if headline_only else config.min_article_words
    if n_words < needed:
        return Problem(item, f"empty article ({n_words} words after cleaning, need {needed})")
    return Article(
        id=doc.id,
        text=text,
        content_hash=content_hash(text),
        origin=doc.origin,
        title=title,
        url=doc.url,
        source=source,
        published_at=parse_published_at(published),
        author=author,
        removed=removed,
    )
