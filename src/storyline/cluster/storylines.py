"""Storylines: events of one developing story, linked across weeks and months.

Events are compared by centroid (mean MiniLM vector and mean TF-IDF vector of their articles),
with no time penalty: a storyline spans time by definition. Each event retrieves its nearest
events from a faiss index over centroids and links to those above ``storyline_threshold``;
storylines are the connected components (a story develops as a chain of events).
"""

from __future__ import annotations

import faiss
import numpy as np

from storyline.cluster.features import ArticleFeatures
from storyline.config import ClusterConfig


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.maximum(norms, 1e-12)


def event_centroids(features: ArticleFeatures, groups: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    emb = _normalise(np.vstack([features.embeddings[g].mean(axis=0) for g in groups]))
    tfidf = _normalise(np.vstack([np.asarray(features.tfidf[g].mean(axis=0)) for g in groups]))
    return emb.astype(np.float32), tfidf.astype(np.float32)


def link_storylines(features: ArticleFeatures, groups: list[list[int]], config: ClusterConfig) -> list[int]:
    """For event groups (lists of article rows), the storyline number of each event."""
    n = len(groups)
    if n == 0:
        return []
    emb, tfidf = event_centroids(features, groups)
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
    for i in range(n):
        for j in hits[i]:
            if j <= i:
                continue
            sim = w * float(emb[i] @ emb[j]) + (1 - w) * float(tfidf[i] @ tfidf[j])
            if sim >= config.storyline_threshold:
                parent[find(j)] = find(i)
    roots: dict[int, int] = {}
    return [roots.setdefault(find(i), len(roots)) for i in range(n)]
