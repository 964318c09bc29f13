"""Article representations used by clustering: MiniLM vectors, TF-IDF over words and over names,
and the time cues an article carries: its date, else the latest year and the weekdays its text names."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import sparse

from storyline.records import Article


@dataclass(slots=True)
class ArticleFeatures:
    """Row i of every array describes ``ids[i]``."""

    ids: list[str]
    embeddings: np.ndarray  # (n, 384) float32, L2-normalised
    tfidf: sparse.csr_matrix  # (n, vocab), L2-normalised rows
    names: sparse.csr_matrix  # (n, names), TF-IDF over proper names and numbers, L2-normalised
    days: np.ndarray  # (n,) float days since 1970-01-01, NaN when the date is unknown
    years: np.ndarray  # (n,) float year written: from the date, else the text (text_year); NaN if unknown
    weekday_sets: np.ndarray  # (n,) int 7-bit set of the weekdays the title and lead name (0: none)
    words: np.ndarray  # (n,) float words of title and text: how far sparse (word, name) cosines hold
    vocab: list[str] | None = None  # the word of each ``tfidf`` column (for event centroids kept by word)

    def __len__(self) -> int:
        return len(self.ids)


def headline_only(article: Article) -> bool:
    """An item whose text is its headline (aggregators, headline feeds: ingest copies the title)."""
    return bool(article.title) and article.text.strip() == (article.title or "").strip()


def clustering_text(article: Article) -> str:
    """Title and body: what TF-IDF sees (titles weigh twice: they name the event)."""
    title = article.title or ""
    if headline_only(article) or not article.text.strip():
        return title
    return f"{title}\n{title}\n{article.text}" if title else article.text


def word_count(article: Article) -> int:
    """Words of title and body, a headline copied into the body counted once."""
    title = len((article.title or "").split())
    return title if headline_only(article) else title + len(article.text.split())


# A capitalised word not opening a sentence, or a number: cheap named-entity and figure features
# that tell apart two events of one type (two earthquakes, two office shootings).
_NAME = re.compile(r"(?<![.!?\n\"“]\s)(?<!^)\b([A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?|[A-Z]{2,}|\d[\d.,]*\d|\d)\b")
_WEEKDAYS = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}


def names_text(text: str) -> str:
    return " ".join(m for m in _NAME.findall(text) if m not in _WEEKDAYS)


def tfidf_matrix(texts: Sequence[str], *, names: bool = False,
                 vocab: list[str] | None = None) -> sparse.csr_matrix:
    """TF-IDF over words (or over names and numbers), fitted on the texts given: the articles a run
    clusters (the hot set and the new ones), so that IDF reflects the current news. The words of the
    columns are appended to ``vocab`` when given."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not texts:
        if vocab is not None:
            vocab.append("")
        return sparse.csr_matrix((0, 1), dtype=np.float32)
    vectorizer = TfidfVectorizer(
        sublinear_tf=True, stop_words=None if names else "english", lowercase=not names,
        min_df=1, max_df=0.5 if len(texts) > 20 else 1.0,
        token_pattern=r"\S+" if names else r"(?u)\b[^\W\d_][\w'-]+\b", dtype=np.float32,
    )
    if names:
        texts = [names_text(t) for t in texts]
    try:
        matrix = vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # every word filtered out (e.g. a store of one tiny article)
        if vocab is not None:
            vocab.append("")
        return sparse.csr_matrix((len(texts), 1), dtype=np.float32)
    if vocab is not None:
        vocab.extend(vectorizer.get_feature_names_out().tolist())
    return matrix


# A plausible year written in the text ("in 2008", "December 15, 2013"), not part of a bigger number,
# an amount ("$2012") or a decimal.
_YEAR = re.compile(r"(?<![\d$£€.,/-])(19[5-9]\d|20[0-4]\d)(?![\d%])")


def text_year(text: str) -> float:
    """The latest year the text mentions: a rough lower bound of when it was written. Articles mention
    past years far more than future ones, so two reports of one event rarely differ by 2+ years here,
    while two events of one type (two elections, two fights) often do."""
    years = [int(y) for y in _YEAR.findall(text)]
    return float(max(years)) if years else float("nan")


_WEEKDAY = re.compile(r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
_DAY_INDEX = {d: k for k, d in enumerate(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                                           "Sunday"))}
LEAD_WORDS = 60  # the lead says when the event happened ("met on Monday"); later weekdays are background


def lead_weekdays(title: str, text: str) -> int:
    """Weekdays the title and lead name, as bits (Monday = 1): when the event happened ("met on
    Monday"). Reports of one event name the same day or the next; a summit on Thursday is not the
    emergency talks of Monday."""
    lead = f"{title}\n{' '.join(text.split()[:LEAD_WORDS])}"
    bits = 0
    for d in _WEEKDAY.findall(lead):
        bits |= 1 << _DAY_INDEX[d]
    return bits


def day_number(value: dt.datetime | dt.date | None) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, dt.datetime):
        value = value.date()
    return float(value.toordinal() - 719163)  # 719163 = date(1970, 1, 1).toordinal()


def build_features(articles: Sequence[Article], embeddings: np.ndarray,
                   dates: Sequence[dt.date | None] | None = None) -> ArticleFeatures:
    dates = dates if dates is not None else [a.published_at for a in articles]
    texts = [clustering_text(a) for a in articles]
    vocab: list[str] = []
    return ArticleFeatures(
        ids=[a.id for a in articles],
        embeddings=np.ascontiguousarray(embeddings, dtype=np.float32),
        tfidf=tfidf_matrix(texts, vocab=vocab),
        names=tfidf_matrix(texts, names=True),
        days=np.array([day_number(d) for d in dates], dtype=np.float64),
        years=np.array([float(d.year) if d is not None else text_year(t) for d, t in zip(dates, texts)],
                       dtype=np.float64),
        weekday_sets=np.array([lead_weekdays(a.title or "", a.text) for a in articles], dtype=np.int64),
        words=np.array([word_count(a) for a in articles], dtype=np.float64),
        vocab=vocab,
    )
