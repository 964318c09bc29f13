"""Incremental event clustering.

Articles arrive in time order (known dates first by date, then input order). Each new article
retrieves its nearest stored articles from a faiss index (never every article against every
other) and keeps those inside the time window. Each candidate event is scored by average linkage
of a combined pair similarity (MiniLM cosine, TF-IDF cosine over words and over names, the sparse
parts handed to MiniLM for headline-length texts, minus a penalty when the two articles' years are
2+ apart), minus a penalty for the days between the article and the event's nearest dated member
(for an undated article: when its lead names other weekdays than the event's leads). The article
joins the best event above ``join_threshold`` or starts a new one. When it fits two events and
those events fit each other (``merge_threshold``), it bridges them and they merge. A refinement
pass then gives each article of the batch a second look, once the whole batch is placed; only the
batch's articles move.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import faiss
import numpy as np
from scipy import sparse

from storyline.cluster.features import ArticleFeatures
from storyline.config import ClusterConfig

MAX_LINKAGE_MEMBERS = 40  # average linkage over at most this many members of a big event


class _RowDots:
    """Dot products of one row of a CSR matrix with a few other rows, in plain numpy: scipy's
    fancy indexing and sparse products cost ~1 ms a call, this ~20 us (clustering does this for
    every candidate event of every article)."""

    def __init__(self, matrix: sparse.spmatrix) -> None:
        m = sparse.csr_matrix(matrix)
        self.indptr, self.indices, self.data = m.indptr, m.indices, m.data.astype(np.float32)
        self.dense = np.zeros(m.shape[1], dtype=np.float32)  # row i scattered, zero between calls

    def __call__(self, i: int, rows: np.ndarray) -> np.ndarray:
        return self._dots(self.indices[self.indptr[i]:self.indptr[i + 1]],
                          self.data[self.indptr[i]:self.indptr[i + 1]], rows)

    def against(self, other: sparse.csr_matrix, i: int, rows: np.ndarray) -> np.ndarray:
        """Dot products of row ``i`` of ``other`` (same columns) with ``rows`` of this matrix."""
        lo, hi = other.indptr[i], other.indptr[i + 1]
        return self._dots(other.indices[lo:hi], other.data[lo:hi].astype(np.float32), rows)

    def _dots(self, own: np.ndarray, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        if not len(own) or not len(rows):
            return np.zeros(len(rows), dtype=np.float32)
        self.dense[own] = values
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        out = np.zeros(len(rows), dtype=np.float32)
        if total:
            offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
            products = self.data[offsets] * self.dense[self.indices[offsets]]
            bounds = np.cumsum(lengths) - lengths
            nonempty = lengths > 0
            out[nonempty] = np.add.reduceat(products, bounds[nonempty])
        self.dense[own] = 0.0
        return out


@dataclass(slots=True)
class _Event:
    key: str
    members: list[int] = field(default_factory=list)


def candidate_index(dim: int, size: int, config: ClusterConfig) -> faiss.Index:
    """Where new articles find their nearest articles: exact search (faiss IndexFlatIP) for up to
    ``exact_search_max`` articles (every dev set, small stores), an HNSW graph above (about 0.1 ms
    a query instead of 1-3 ms over 10k+ articles on 2 cores; approximate, high recall at efSearch 128)."""
    if size <= config.exact_search_max:
        return faiss.IndexFlatIP(dim)
    index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 64
    index.hnsw.efSearch = 128
    return index


class EventClusterer:
    """Assigns articles to events, keeping assignments that already exist."""

    def __init__(self, features: ArticleFeatures, config: ClusterConfig) -> None:
        self.f = features
        self.config = config
        self.index = candidate_index(features.embeddings.shape[1], len(features), config)
        self.indexed: list[int] = []  # faiss row -> article row
        self.event_of: dict[int, str] = {}
        self.events: dict[str, _Event] = {}
        self._tfidf_dots = _RowDots(features.tfidf)
        self._names_dots = _RowDots(features.names)

    # -- similarity -----------------------------------------------------------------------------

    def similarity(self, i: int, rows: np.ndarray) -> np.ndarray:
        """Pair similarity of article ``i`` to each article in ``rows``, without the day penalty
        and weekday penalties (taken per event, see ``scores``); -1 outside the time window."""
        c = self.config
        emb = self.f.embeddings[rows] @ self.f.embeddings[i]
        tfidf = self._tfidf_dots(i, rows)
        names = self._names_dots(i, rows)
        # Word and name overlaps of two headlines are a few tokens, mostly luck: below
        # ``rich_words`` words their share of the score goes to the MiniLM cosine.
        rich = np.minimum(np.minimum(self.f.words[rows], self.f.words[i]) / c.rich_words, 1.0)
        names_w = c.names_weight * rich
        tfidf_w = (1.0 - c.embed_weight - c.names_weight) * rich
        sim = (1.0 - names_w - tfidf_w) * emb + names_w * names + tfidf_w * tfidf
        year_gap = np.abs(self.f.years[rows] - self.f.years[i])
        sim[year_gap >= 2] -= c.year_penalty  # NaN compares False: unknown years cost nothing
        gap = np.abs(self.f.days[rows] - self.f.days[i])
        sim[gap > c.window_days] = -1.0
        return sim

    def _sample(self, members: list[int], i: int) -> list[int]:
        members = [m for m in members if m != i]
        if len(members) > MAX_LINKAGE_MEMBERS:  # evenly spread sample keeps the cost bounded
            step = len(members) / MAX_LINKAGE_MEMBERS
            members = [members[int(k * step)] for k in range(MAX_LINKAGE_MEMBERS)]
        return members

    def scores(self, i: int, keys: list[str]) -> list[float]:
        """Average linkage of article ``i`` to each event in ``keys`` (one similarity call for all),
        minus the day penalty to the event's nearest dated member: an event grows day by day, but
        an article a few days after its last report is more likely a new event of the same story."""
        c = self.config
        samples = [self._sample(self.events[k].members, i) for k in keys]
        rows = np.fromiter((m for s in samples for m in s), dtype=np.int64)
        sims = self.similarity(i, rows) if len(rows) else np.zeros(0)
        out: list[float] = []
        start = 0
        for key, sample in zip(keys, samples):
            if not sample:
                out.append(-1.0)
                continue
            score = float(sims[start:start + len(sample)].mean())
            start += len(sample)
            score -= self._weekday_penalty(i, key)
            gap = np.abs(self.f.days[self.events[key].members] - self.f.days[i])
            gap = gap[~np.isnan(gap)]
            if gap.size:
                score -= min(float(gap.min()) / c.time_decay_days, 1.0) * c.time_penalty
            out.append(score)
        return out

    def _weekday_penalty(self, i: int, key: str) -> float:
        """For an undated article whose lead names no weekday within a day of those the event's
        leads name. Weekdays stand in for dates only where the date is missing, and a big
        event names many days, so the check loosens as events grow."""
        mine = int(self.f.weekday_sets[i])
        if not mine or not math.isnan(self.f.days[i]):
            return 0.0
        others = [m for m in self.events[key].members if m != i]
        theirs = int(np.bitwise_or.reduce(self.f.weekday_sets[others])) if others else 0
        near = mine | ((mine << 1) | (mine >> 6)) & 127 | ((mine >> 1) | (mine << 6)) & 127
        return self.config.weekday_penalty if theirs and not near & theirs else 0.0

    def event_linkage(self, a: _Event, b: _Event) -> float:
        small, big = (a, b) if len(a.members) <= len(b.members) else (b, a)
        return float(np.mean([self.scores(i, [big.key])[0] for i in small.members[:MAX_LINKAGE_MEMBERS]]))

    # -- assignment -----------------------------------------------------------------------------

    def _index(self, i: int) -> None:
        self.index.add(self.f.embeddings[i:i + 1])
        self.indexed.append(i)

    def seed(self, assignments: dict[int, str]) -> None:
        """Load existing events (article row -> event key)."""
        for i in sorted(assignments):
            key = assignments[i]
            self.events.setdefault(key, _Event(key)).members.append(i)
            self.event_of[i] = key
            self._index(i)

    def candidate_events(self, i: int) -> list[str]:
        """Events of the nearest stored articles by MiniLM cosine (faiss), inside the time window."""
        if not self.indexed:
            return []
        k = min(self.config.candidates, len(self.indexed))
        _, hits = self.index.search(self.f.embeddings[i:i + 1], k)
        keys: list[str] = []
        for h in hits[0]:
            if h < 0:
                continue
            j = self.indexed[h]
            gap = abs(self.f.days[j] - self.f.days[i])
            if j == i or (not math.isnan(gap) and gap > self.config.window_days):
                continue
            key = self.event_of[j]
            if key not in keys:
                keys.append(key)
        return keys

    def add(self, i: int, new_key: str) -> str:
        """Place article row ``i``; returns its event key (``new_key`` if it starts an event)."""
        c = self.config
        keys = self.candidate_events(i)
        scored = sorted(zip(self.scores(i, keys), keys), reverse=True)
        if scored and scored[0][0] >= c.join_threshold:
            key = scored[0][1]
            event = self.events[key]
            for score, other in scored[1:]:
                if score < c.join_threshold:
                    break
                if self.event_linkage(event, self.events[other]) >= c.merge_threshold:
                    self._merge(key, other)
        else:
            key = new_key
            self.events[key] = _Event(key)
        self.events[key].members.append(i)
        self.event_of[i] = key
        self._index(i)
        return key

    def refine(self, rows: list[int], rounds: int) -> None:
        """Second look at this batch's articles, now that the whole batch is placed: early arrivals
        chose among fewer events. An article moves to a candidate event that fits it better than
        its own (and above ``join_threshold``). Existing assignments never move."""
        c = self.config
        for _ in range(rounds):
            moved = 0
            for i in rows:
                own = self.event_of[i]
                keys = [own] + [k for k in self.candidate_events(i) if k != own]
                scores = self.scores(i, keys)
                best = int(np.argmax(scores))
                if best == 0 or scores[best] < c.join_threshold:
                    continue
                self.events[own].members.remove(i)
                if not self.events[own].members:
                    del self.events[own]
                self.events[keys[best]].members.append(i)
                self.event_of[i] = keys[best]
                moved += 1
            if not moved:
                break

    def _merge(self, keep: str, gone: str) -> None:
        for m in self.events[gone].members:
            self.event_of[m] = keep
        self.events[keep].members.extend(self.events.pop(gone).members)

    def groups(self) -> dict[str, list[int]]:
        return {k: sorted(e.members) for k, e in self.events.items()}


def arrival_order(features: ArticleFeatures, rows: list[int]) -> list[int]:
    """Dated articles by date, then undated ones, each in input order: the order a stream sees."""
    days = features.days
    return sorted(rows, key=lambda r: (math.isnan(days[r]), 0.0 if math.isnan(days[r]) else days[r], r))


def cluster_events(features: ArticleFeatures, config: ClusterConfig,
                   existing: dict[str, str] | None = None) -> dict[str, str]:
    """Article id -> event key. ``existing`` (article id -> event key) is kept and extended;
    new events get the key of their first article."""
    existing = existing or {}
    row_of = {a: r for r, a in enumerate(features.ids)}
    threads = faiss.omp_get_max_threads()
    # One query at a time: faiss's OpenMP threads cost more than they give (15 ms instead of 1 ms a
    # search over 12k vectors on 2 busy cores, measured by bench/scale.py).
    faiss.omp_set_num_threads(1)
    try:
        clusterer = EventClusterer(features, config)
        clusterer.seed({row_of[a]: k for a, k in existing.items() if a in row_of})
        pending = arrival_order(features, [r for r, a in enumerate(features.ids) if a not in existing])
        for r in pending:
            clusterer.add(r, new_key=features.ids[r])
        clusterer.refine(pending, config.refine_rounds)
    finally:
        faiss.omp_set_num_threads(threads)
    return {features.ids[r]: k for k, rows in clusterer.groups().items() for r in rows}
