"""Article representations used by clustering: MiniLM vectors, TF-IDF over words and over names,
and the time cues an article carries: its date, else the latest year and the weekdays its text names."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Protocol, Sequence

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


def _vectorizer(n: int, *, names: bool = False, analyzer=None):
    """The TF-IDF of clustering: over words (English stop words out, lower case) or over names and
    numbers (case kept). With ``analyzer`` it reads tokens already analysed that way (see ``tokens``)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    common = dict(sublinear_tf=True, min_df=1, max_df=0.5 if n > 20 else 1.0, dtype=np.float32)
    if analyzer is not None:
        return TfidfVectorizer(analyzer=analyzer, lowercase=False, **common)
    return TfidfVectorizer(stop_words=None if names else "english", lowercase=not names,
                           token_pattern=r"\S+" if names else r"(?u)\b[^\W\d_][\w'-]+\b", **common)


def tokens(texts: Sequence[str], *, names: bool = False) -> list[str]:
    """Each text's tokens as the TF-IDF of ``tfidf_matrix`` reads them, joined by spaces (no token
    holds a space): what the store caches per article, so that a run does not analyse the hot set
    again (the regular expressions are most of the cluster stage's cost)."""
    analyze = _vectorizer(len(texts), names=names).build_analyzer()
    return [" ".join(analyze(names_text(t) if names else t)) for t in texts]


def tfidf_matrix(texts: Sequence[str], *, names: bool = False,
                 vocab: list[str] | None = None, analysed: Sequence[str] | None = None) -> sparse.csr_matrix:
    """TF-IDF over words (or over names and numbers), fitted on the texts given: the articles a run
    clusters (the hot set and the new ones), so that IDF reflects the current news. The words of the
    columns are appended to ``vocab`` when given. ``analysed``: the texts' ``tokens``, when known
    (the same matrix, without reading the texts again)."""
    if not texts:
        if vocab is not None:
            vocab.append("")
        return sparse.csr_matrix((0, 1), dtype=np.float32)
    if analysed is None:
        analysed = tokens(texts, names=names)
    vectorizer = _vectorizer(len(texts), names=names, analyzer=str.split)
    try:
        matrix = vectorizer.fit_transform(analysed).tocsr()
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
    lead = f"{title}\n{' '.join(text.split(None, LEAD_WORDS)[:LEAD_WORDS])}"
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


class TokenCache(Protocol):
    """Where ``build_features`` keeps each article's analysed tokens (both stores have it), by
    ``token_key``: (word tokens, name tokens, word count)."""

    def article_tokens(self, keys: list[str]) -> dict[str, tuple[str, str, int]]: ...
    def put_article_tokens(self, items: dict[str, tuple[str, str, int]]) -> None: ...


TOKENS_VERSION = "1"  # part of every key: change it when tokens() or word_count() change


def token_key(article: Article) -> str:
    """What the cached tokens of an article depend on: its title and text (and the analysers' version)."""
    data = "\x00".join((TOKENS_VERSION, article.title or "", article.text))
    return hashlib.sha1(data.encode("utf-8", "surrogatepass")).hexdigest()


def article_tokens(articles: Sequence[Article], cache: TokenCache | None = None) -> list[tuple[str, str, int]]:
    """(word tokens, name tokens, word count) of each article: read from ``cache`` when there,
    else analysed (and put in ``cache``)."""
    keys = [token_key(a) for a in articles] if cache is not None else []
    found = cache.article_tokens(list(dict.fromkeys(keys))) if cache is not None else {}
    todo = [k for k, a in enumerate(articles) if cache is None or keys[k] not in found]
    if todo:
        texts = [clustering_text(articles[k]) for k in todo]
        fresh = list(zip(tokens(texts), tokens(texts, names=True), (word_count(articles[k]) for k in todo)))
        if cache is None:
            return fresh
        analysed = {keys[k]: row for k, row in zip(todo, fresh)}
        found.update(analysed)
        cache.put_article_tokens(analysed)
    return [found[k] for k in keys]


def build_features(articles: Sequence[Article], embeddings: np.ndarray,
                   dates: Sequence[dt.date | None] | None = None,
                   cache: TokenCache | None = None) -> ArticleFeatures:
    """The features of ``articles``; ``cache`` (a store) keeps their analysed tokens across runs, so
    that the hot set is not analysed again in every run (the matrices are the same either way)."""
    dates = dates if dates is not None else [a.published_at for a in articles]
    texts = [clustering_text(a) for a in articles]
    analysed = article_tokens(articles, cache)
    vocab: list[str] = []
    return ArticleFeatures(
        ids=[a.id for a in articles],
        embeddings=np.ascontiguousarray(embeddings, dtype=np.float32),
        tfidf=tfidf_matrix(texts, vocab=vocab, analysed=[t[0] for t in analysed]),
        names=tfidf_matrix(texts, names=True, analysed=[t[1] for t in analysed]),
        days=np.array([day_number(d) for d in dates], dtype=np.float64),
        years=np.array([float(d.year) if d is not None else text_year(t) for d, t in zip(dates, texts)],
                       dtype=np.float64),
        weekday_sets=np.array([lead_weekdays(a.title or "", a.text) for a in articles], dtype=np.int64),
        words=np.array([t[2] for t in analysed], dtype=np.float64),
        vocab=vocab,
    )
