"""Storylines: events of one developing story, linked across weeks and months.

Events are compared by centroid (mean MiniLM vector and mean TF-IDF vector of their articles),
with no time penalty: a storyline spans time by definition. Each event retrieves its nearest
events from a faiss index over centroids and links to those above ``storyline_threshold``;
storylines are the connected components (a story develops as a chain of events).

A run clusters only the hot set (open events and new articles). Closed events stay in a small
events-level index (:class:`ClosedEvents`: each one's MiniLM centroid and its TF-IDF centroid kept
as its top words, since a run's TF-IDF columns are its own); ``closed_links`` finds the closed
events each hot event links to with the same combined similarity, its TF-IDF part taken over the
closed event's top words.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Callable

import faiss
import numpy as np
from scipy import sparse

from storyline.cluster.events import _RowDots
from storyline.cluster.features import ArticleFeatures
from storyline.config import ClusterConfig

TOP_TERMS = 64  # words kept of a closed event's TF-IDF centroid (most of its weight)


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.maximum(norms, 1e-12)


def event_centroids(features: ArticleFeatures, groups: list[list[int]]) -> tuple[np.ndarray, sparse.csr_matrix]:
    """MiniLM centroids (dense) and TF-IDF centroids (sparse: a dense one per event would hold the
    whole vocabulary), both L2-normalised."""
    emb = _normalise(np.vstack([features.embeddings[g].mean(axis=0) for g in groups]))
    rows = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    cols = np.fromiter((r for g in groups for r in g), dtype=np.int64)
    weights = np.concatenate([np.full(len(g), 1.0 / len(g), dtype=np.float32) for g in groups])
    mean = sparse.csr_matrix((weights, (rows, cols)), shape=(len(groups), features.tfidf.shape[0])) @ features.tfidf
    mean = sparse.csr_matrix(mean, dtype=np.float32)
    norms = np.sqrt(np.asarray(mean.multiply(mean).sum(axis=1)).ravel())
    tfidf = sparse.diags(1.0 / np.maximum(norms, 1e-12)).astype(np.float32) @ mean
    return emb.astype(np.float32), sparse.csr_matrix(tfidf, dtype=np.float32)


def link_storylines(features: ArticleFeatures, groups: list[list[int]], config: ClusterConfig,
                    centroids: tuple[np.ndarray, np.ndarray] | None = None) -> list[int]:
    """For event groups (lists of article rows), the storyline number of each event."""
    n = len(groups)
    if n == 0:
        return []
    emb, tfidf = centroids if centroids is not None else event_centroids(features, groups)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    index = faiss.IndexFlatIP(emb.shape[1])
    index.add(emb)
    k = min(config.candidates, n)
    _, hits = index.search(emb, k)
    w = config.storyline_embed_weight
    dots = _RowDots(tfidf)
    for i in range(n):
        later = np.array([j for j in hits[i] if j > i], dtype=np.int64)
        words = dots(i, later)
        for j, word_sim in zip(later, words):
            sim = w * float(emb[i] @ emb[j]) + (1 - w) * float(word_sim)
            if sim >= config.storyline_threshold:
                parent[find(int(j))] = find(i)
    roots: dict[int, int] = {}
    return [roots.setdefault(find(i), len(roots)) for i in range(n)]


def top_terms(tfidf: sparse.csr_matrix, i: int, vocab: list[str], n: int = TOP_TERMS) -> dict[str, float]:
    """The ``n`` heaviest words of row ``i`` of TF-IDF centroids, re-normalised: how a closed event is kept."""
    lo, hi = tfidf.indptr[i], tfidf.indptr[i + 1]
    values, columns = tfidf.data[lo:hi], tfidf.indices[lo:hi]
    if not len(values) or not vocab:
        return {}
    top = np.argsort(-values, kind="stable")[:n]
    norm = float(np.linalg.norm(values[top])) or 1.0
    return {vocab[int(columns[j])]: round(float(values[j]) / norm, 5) for j in top if values[j] > 0}


@dataclass(slots=True)
class ClosedEvents:
    """The events-level index: closed events' ids, storylines and MiniLM centroids; their top words
    are read only for the candidates (``terms``: event ids -> id -> words)."""

    ids: list[str]
    storyline_ids: list[str]
    vectors: np.ndarray
    terms: Callable[[list[str]], dict[str, dict[str, float]]]


def term_rows(rows: list[dict[str, float]], column: dict[str, int], width: int) -> sparse.csr_matrix:
    """Words and weights (one dict a row) as a CSR matrix over ``column``'s columns, words not in
    ``column`` dropped, each row's entries in its dict's order (so the dot products add up in the same
    order, bit for bit). Vectorised: a 100k store links to ~13k closed events, ~840k words a run, and
    one Python tuple a word cost ~0.5 s."""
    words = [t for r in rows for t in r]
    cols = np.fromiter(map(column.get, words, repeat(-1)), dtype=np.int64, count=len(words))
    values = np.fromiter((v for r in rows for v in r.values()), dtype=np.float64, count=len(words))
    row_ids = np.repeat(np.arange(len(rows), dtype=np.int64), [len(r) for r in rows])
    known = cols >= 0
    return sparse.csr_matrix((values[known].astype(np.float32), (row_ids[known], cols[known])),
                             shape=(len(rows), width), dtype=np.float32)


def closed_links(emb: np.ndarray, tfidf: sparse.csr_matrix, vocab: list[str], closed: ClosedEvents,
                 config: ClusterConfig) -> list[list[int]]:
    """For each hot event (rows of its centroids), the closed events (positions in ``closed``) it
    links to: the nearest ``candidates`` by MiniLM centroid (faiss), kept above ``storyline_threshold``."""
    if not len(closed.ids) or not len(emb):
        return [[] for _ in range(len(emb))]
    index = faiss.IndexFlatIP(closed.vectors.shape[1])
    index.add(np.ascontiguousarray(closed.vectors, dtype=np.float32))
    sims, hits = index.search(np.ascontiguousarray(emb, dtype=np.float32), min(config.candidates, len(closed.ids)))
    w = config.storyline_embed_weight
    # Only a candidate whose MiniLM part could reach the threshold (the TF-IDF part is at most 1) is read.
    reachable = w * sims + (1 - w) >= config.storyline_threshold
    wanted = sorted({closed.ids[j] for j in hits[(hits >= 0) & reachable]})
    terms = closed.terms(wanted) if wanted else {}
    # The candidates' top words as rows over this run's TF-IDF columns (words it has not seen count 0).
    position = {e: k for k, e in enumerate(wanted)}
    kept = term_rows([terms.get(e, {}) for e in wanted], {t: j for j, t in enumerate(vocab)},
                     max(len(vocab), tfidf.shape[1]))
    dots = _RowDots(kept)
    hot = sparse.csr_matrix(tfidf)
    out: list[list[int]] = []
    for i in range(len(emb)):
        ok = [(float(sim), int(j)) for sim, j, r in zip(sims[i], hits[i], reachable[i]) if j >= 0 and r
              and closed.ids[j] in position]
        words = dots.against(hot, i, np.array([position[closed.ids[j]] for _, j in ok], dtype=np.int64))
        out.append([j for (sim, j), word in zip(ok, words)
                    if w * sim + (1 - w) * float(word) >= config.storyline_threshold])
    return out
