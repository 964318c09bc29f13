"""Incremental event clustering.

Articles arrive in time order (known dates first by date, then input order). Each new article
retrieves its nearest stored articles from a faiss index (never every article against every
other), keeps those inside the time window, scores each candidate event by average linkage of a
combined similarity (MiniLM cosine and TF-IDF cosine, minus a penalty for distance in time), and
joins the best event above ``join_threshold`` or starts a new one. When an article fits two events
and those events fit each other (``merge_threshold``), it bridges them and they merge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import faiss
import numpy as np

from storyline.cluster.features import ArticleFeatures
from storyline.config import ClusterConfig

MAX_LINKAGE_MEMBERS = 40  # average linkage over at most this many members of a big event


@dataclass(slots=True)
class _Event:
    key: str
    members: list[int] = field(default_factory=list)


class EventClusterer:
    """Assigns articles to events, keeping assignments that already exist."""

    def __init__(self, features: ArticleFeatures, config: ClusterConfig) -> None:
        self.f = features
        self.config = config
        self.index = faiss.IndexFlatIP(features.embeddings.shape[1])
        self.indexed: list[int] = []  # faiss row -> article row
        self.event_of: dict[int, str] = {}
        self.events: dict[str, _Event] = {}

    # -- similarity -----------------------------------------------------------------------------

    def similarity(self, i: int, rows: np.ndarray) -> np.ndarray:
        """Combined similarity of article ``i`` to each article in ``rows``."""
        c = self.config
        emb = self.f.embeddings[rows] @ self.f.embeddings[i]
        tfidf = (self.f.tfidf[rows] @ self.f.tfidf[i].T).toarray().ravel()
        names = (self.f.names[rows] @ self.f.names[i].T).toarray().ravel()
        sim = c.embed_weight * emb + c.names_weight * names + (1.0 - c.embed_weight - c.names_weight) * tfidf
        year_gap = np.abs(self.f.years[rows] - self.f.years[i])
        sim[year_gap >= 2] -= c.year_penalty  # NaN compares False: unknown years cost nothing
        gap = np.abs(self.f.days[rows] - self.f.days[i])
        known = ~np.isnan(gap)
        if known.any():
            penalty = np.minimum(gap[known] / c.time_decay_days, 1.0) * c.time_penalty
            sim[known] -= penalty
            too_far = np.zeros_like(known)
            too_far[known] = gap[known] > c.window_days
            sim[too_far] = -1.0
        return sim

    def linkage(self, i: int, event: _Event) -> float:
        members = event.members
        if len(members) > MAX_LINKAGE_MEMBERS:  # evenly spread sample keeps the cost bounded
            step = len(members) / MAX_LINKAGE_MEMBERS
            members = [members[int(k * step)] for k in range(MAX_LINKAGE_MEMBERS)]
        return float(self.similarity(i, np.asarray(members)).mean())

    def event_linkage(self, a: _Event, b: _Event) -> float:
        small, big = (a, b) if len(a.members) <= len(b.members) else (b, a)
        return float(np.mean([self.linkage(i, big) for i in small.members[:MAX_LINKAGE_MEMBERS]]))

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
            if not math.isnan(gap) and gap > self.config.window_days:
                continue
            key = self.event_of[j]
            if key not in keys:
                keys.append(key)
        return keys

    def add(self, i: int, new_key: str) -> str:
        """Place article row ``i``; returns its event key (``new_key`` if it starts an event)."""
        c = self.config
        scored = sorted(((self.linkage(i, self.events[k]), k) for k in self.candidate_events(i)),
                        reverse=True)
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
    clusterer = EventClusterer(features, config)
    clusterer.seed({row_of[a]: k for a, k in existing.items() if a in row_of})
    pending = [r for r, a in enumerate(features.ids) if a not in existing]
    for r in arrival_order(features, pending):
        clusterer.add(r, new_key=features.ids[r])
    return {features.ids[r]: k for k, rows in clusterer.groups().items() for r in rows}
