"""Clustering scores: B-cubed precision/recall/F1 over items, and adjusted mutual information."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Hashable, Sequence


@dataclass(slots=True)
class ClusterScores:
    precision: float
    recall: float
    f1: float
    ami: float
    items: int
    gold_clusters: int
    predicted_clusters: int


def bcubed(gold: Sequence[Hashable], predicted: Sequence[Hashable]) -> tuple[float, float, float]:
    """B-cubed (Bagga & Baldwin 1998): per item, the share of its predicted cluster that shares its
    gold cluster (precision) and of its gold cluster that shares its predicted one (recall)."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted labels differ in length")
    if not gold:
        return 0.0, 0.0, 0.0
    pair = Counter(zip(gold, predicted))
    gold_size = Counter(gold)
    pred_size = Counter(predicted)
    precision = sum(n * n / pred_size[p] for (g, p), n in pair.items()) / len(gold)
    recall = sum(n * n / gold_size[g] for (g, p), n in pair.items()) / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score_clustering(gold: Sequence[Hashable], predicted: Sequence[Hashable]) -> ClusterScores:
    from sklearn.metrics import adjusted_mutual_info_score

    p, r, f = bcubed(gold, predicted)
    ami = float(adjusted_mutual_info_score([str(g) for g in gold], [str(x) for x in predicted]))
    return ClusterScores(p, r, f, ami, len(gold), len(set(gold)), len(set(predicted)))
