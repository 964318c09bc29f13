"""Extractive, cited event summary: 3-7 sentences drawn from all outlets, each citing every article
that supports it.

Sentences are scored by centrality (cosine to the event centroid, outlets weighted equally),
breadth (how many articles say something close), and lead position (news puts the facts first),
then picked greedily under a word budget with redundancy removed (MMR) and put in reading order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from storyline.synthesize.sentences import is_good_sentence, words
from storyline.synthesize.support import EventIndex, SupportConfig, supporting_articles


@dataclass(slots=True)
class SummaryConfig:
    # weights and budget chosen on allsides-dev with bench/summaries.py (the only dev set)
    min_sentences: int = 3
    max_sentences: int = 7
    word_budget: int = 110
    w_central: float = 1.0
    w_breadth: float = 0.5
    w_lead: float = 0.35
    breadth_cos: float = 0.60
    redundancy_cos: float = 0.72  # a candidate this close to a chosen sentence is skipped
    mmr_lambda: float = 0.7


_CONNECTIVE = re.compile(
    r"^(?:But|And|Yet|However|Meanwhile|Still|Also|Nonetheless|Nevertheless|Moreover|So)\s*,?\s+"
)


def tidy(sentence: str) -> str:
    """Light compression that never changes a fact: drop a leading connective."""
    s = _CONNECTIVE.sub("", sentence.strip())
    return s[:1].upper() + s[1:] if s else s


def centroid(idx: EventIndex, rows: np.ndarray) -> np.ndarray:
    """Mean of per-article means: every outlet weighs the same, whatever its length."""
    means = []
    for aid in idx.article_ids:
        r = np.intersect1d(idx.by_article[aid], rows)
        if len(r):
            m = idx.vectors[r].mean(axis=0)
            means.append(m / (np.linalg.norm(m) + 1e-9))
    if not means:
        return np.zeros(idx.vectors.shape[1], np.float32)
    c = np.mean(means, axis=0)
    return c / (np.linalg.norm(c) + 1e-9)


def breadth(idx: EventIndex, rows: np.ndarray, threshold: float) -> np.ndarray:
    """For each candidate row, the share of OTHER articles holding a sentence above threshold."""
    n_art = len(idx.article_ids)
    if n_art <= 1 or len(rows) == 0:
        return np.zeros(len(rows))
    sims = idx.vectors[rows] @ idx.vectors.T  # (cands, all)
    counts = np.zeros(len(rows))
    for aid in idx.article_ids:
        r = idx.by_article[aid]
        if len(r) == 0:
            continue
        hit = sims[:, r].max(axis=1) >= threshold
        own = np.array([idx.sentences[i].article_id == aid for i in rows])
        counts += hit & ~own
    return counts / (n_art - 1)


def select(idx: EventIndex, cfg: SummaryConfig | None = None) -> list[int]:
    """Rows of the index chosen for the summary, in reading order."""
    cfg = cfg or SummaryConfig()
    rows = np.array([i for i, s in enumerate(idx.sentences) if is_good_sentence(s.text)], dtype=int)
    if len(rows) < cfg.min_sentences:  # short inputs: accept what is complete enough
        rows = np.array(
            [i for i, s in enumerate(idx.sentences) if is_good_sentence(s.text, min_words=4)]
            or list(range(len(idx.sentences))),
            dtype=int,
        )
    if len(rows) == 0:
        return []
    c = centroid(idx, rows)
    cen = idx.vectors[rows] @ c
    br = breadth(idx, rows, cfg.breadth_cos)
    lead = np.array([1.0 / (1.0 + idx.sentences[i].index) for i in rows])
    score = cfg.w_central * cen + cfg.w_breadth * br + cfg.w_lead * lead
    chosen: list[int] = []
    used_words = 0
    remaining = list(range(len(rows)))
    while remaining and len(chosen) < cfg.max_sentences:
        if chosen:
            red = (idx.vectors[rows[remaining]] @ idx.vectors[rows[chosen]].T).max(axis=1)
        else:
            red = np.zeros(len(remaining))
        mmr = cfg.mmr_lambda * score[remaining] - (1 - cfg.mmr_lambda) * red
        for k in np.argsort(-mmr):
            j = remaining[k]
            if red[k] >= cfg.redundancy_cos:
                continue
            n = len(words(idx.sentences[rows[j]].text))
            if len(chosen) >= cfg.min_sentences and used_words + n > cfg.word_budget * 1.15:
                continue
            break
        else:
            break
        chosen.append(j)
        remaining.remove(j)
        used_words += len(words(idx.sentences[rows[j]].text))
        if len(chosen) >= cfg.min_sentences and used_words >= cfg.word_budget:
            break
    picked = [int(rows[j]) for j in chosen]
    # reading order: relative position in the source article, then selection rank
    rank = {r: k for k, r in enumerate(picked)}
    return sorted(picked, key=lambda r: (round(idx.sentences[r].position, 1), rank[r]))


def summarize(
    idx: EventIndex, cfg: SummaryConfig | None = None, support_cfg: SupportConfig | None = None
) -> list[dict]:
    out = []
    for r in select(idx, cfg):
        out.append({"text": tidy(idx.sentences[r].text), "article_ids": supporting_articles(idx, r, support_cfg)})
    return out
