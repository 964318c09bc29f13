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

from storyline.synthesize.sentences import is_good_sentence, is_standalone, words
from storyline.synthesize.support import (
    EventIndex,
    SupportConfig,
    article_max_matrix,
    prepare_lazy_support,
    supporting_articles,
)


@dataclass(slots=True)
class SummaryConfig:
    # weights and budget chosen on allsides-dev with bench/summaries.py (the only dev set)
    min_sentences: int = 3
    max_sentences: int = 7
    word_budget: int = 105  # AllSides editors write ~100 words; chosen on allsides-dev
    long_word_budget: int = 200  # full-length articles (median > long_article_words): room for 5-7
    long_article_words: int = 300
    w_central: float = 1.0
    w_breadth: float = 0.5
    w_lead: float = 0.35
    breadth_cos: float = 0.60
    redundancy_cos: float = 0.80  # a candidate this close to a chosen sentence is skipped
    mmr_lambda: float = 0.85
    w_lexical: float = 0.0
    w_title: float = 0.5
    w_tfidf: float = 1.0
    w_long: float = 0.0  # penalty per 30 words over 30


_CONNECTIVE = re.compile(
    r"^(?:But|And|Yet|However|Meanwhile|Still|Also|Nonetheless|Nevertheless|Moreover|So)\s*,?\s+"
)


_CONFLICT = re.compile(
    r"\b(too soon|premature|controvers\w*|reluctan\w*|opposed|divided|divisions?|split|rifts?|"
    r"disagree\w*|refused|rejected|ruled out|at odds)\b",
    re.I,
)


_SAID = re.compile(r"\b(said|says|told|warned|insisted|argued|stated)\b")


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
    best = article_max_matrix(idx, rows) >= threshold
    pos = {a: k for k, a in enumerate(idx.article_ids)}
    for k, i in enumerate(rows):
        best[k, pos[idx.sentences[i].article_id]] = False
    return best.sum(axis=1) / (n_art - 1)


def tfidf_centrality(idx: EventIndex, rows: np.ndarray) -> np.ndarray:
    """Cosine of each sentence's TF-IDF vector (binary tf over content stems, idf over the event's
    sentences) to the centroid of all of them: Radev's centroid score, in numpy."""
    vocab: dict[str, int] = {}
    for i in rows:
        for w in idx.stems[i]:
            vocab.setdefault(w, len(vocab))
    if not vocab:
        return np.zeros(len(rows))
    X = np.zeros((len(rows), len(vocab)), dtype=np.float32)
    for k, i in enumerate(rows):
        for w in idx.stems[i]:
            X[k, vocab[w]] = 1.0
    df = X.sum(axis=0)
    X *= np.log((1 + len(rows)) / (1 + df)) + 1.0
    X /= np.linalg.norm(X, axis=1, keepdims=True) + 1e-9
    c = X.mean(axis=0)
    return X @ c / (np.linalg.norm(c) + 1e-9)


def lexical_centrality(idx: EventIndex, rows: np.ndarray) -> np.ndarray:
    """Mean share of the OTHER articles that use each content word of the sentence."""
    n_art = len(idx.article_ids)
    if n_art <= 1:
        return np.zeros(len(rows))
    df: dict[str, int] = {}
    for a in idx.article_ids:
        for w in idx.article_text_stems[a]:
            df[w] = df.get(w, 0) + 1
    out = np.zeros(len(rows))
    for k, i in enumerate(rows):
        st = idx.stems[i]
        if st:
            out[k] = sum(df.get(w, 1) - 1 for w in st) / (len(st) * (n_art - 1))
    return out


def select(idx: EventIndex, cfg: SummaryConfig | None = None) -> list[int]:
    """Rows of the index chosen for the summary, in reading order."""
    cfg = cfg or SummaryConfig()
    rows = np.array(
        [i for i, s in enumerate(idx.sentences) if is_good_sentence(s.text) and is_standalone(s.text)], dtype=int
    )
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
    lex = lexical_centrality(idx, rows)
    if idx.title_vectors is not None and len(idx.title_vectors):
        tv = idx.title_vectors.mean(axis=0)
        tsim = idx.vectors[rows] @ (tv / (np.linalg.norm(tv) + 1e-9))
    else:
        tsim = cen
    tf = tfidf_centrality(idx, rows) if cfg.w_tfidf else 0.0
    nw = np.array([len(words(idx.sentences[i].text)) for i in rows])
    score = -cfg.w_long * np.maximum(nw - 30, 0) / 30 + cfg.w_tfidf * tf + cfg.w_title * tsim + cfg.w_central * cen + cfg.w_breadth * br + cfg.w_lead * lead + cfg.w_lexical * lex
    lengths = sorted(idx.article_words.get(a, 0) for a in idx.article_ids)  # whole articles, not the window
    budget = cfg.long_word_budget if lengths[len(lengths) // 2] > cfg.long_article_words else cfg.word_budget
    if budget == cfg.long_word_budget and len(rows) > 2 * cfg.max_sentences:
        picked = _by_topic(idx, rows, score, budget, cfg)
        rank = {r: k for k, r in enumerate(picked)}
        return sorted(picked, key=lambda r: (round(idx.sentences[r].position, 1), rank[r]))
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
            if len(chosen) >= cfg.min_sentences and used_words + n > budget * 1.15:
                continue
            break
        else:
            break
        chosen.append(j)
        remaining.remove(j)
        used_words += len(words(idx.sentences[rows[j]].text))
        if len(chosen) >= cfg.min_sentences and used_words >= budget:
            break
    picked = [int(rows[j]) for j in chosen]
    # reading order: relative position in the source article, then selection rank
    rank = {r: k for k, r in enumerate(picked)}
    return sorted(picked, key=lambda r: (round(idx.sentences[r].position, 1), rank[r]))


def _kmeans(X: np.ndarray, k: int, seed_row: int, iters: int = 10) -> np.ndarray:
    """Spherical k-means with farthest-point initialisation from seed_row (deterministic)."""
    centers = [X[seed_row]]
    for _ in range(1, k):
        d = (X @ np.array(centers).T).max(axis=1)
        centers.append(X[int(np.argmin(d))])
    C = np.array(centers)
    for _ in range(iters):
        lab = np.argmax(X @ C.T, axis=1)
        for j in range(k):
            m = X[lab == j]
            if len(m):
                c = m.mean(axis=0)
                C[j] = c / (np.linalg.norm(c) + 1e-9)
    return np.argmax(X @ C.T, axis=1)


def _by_topic(idx: EventIndex, rows: np.ndarray, score: np.ndarray, budget: int, cfg: SummaryConfig) -> list[int]:
    """Long articles tell several threads (the meeting, the talks it answers, the quarrel over
    troops): cluster the candidates into topics, rank topics by how many articles tell them, and
    take each topic's best sentence until the budget is spent."""
    X = idx.vectors[rows]
    lab = _kmeans(X, cfg.max_sentences, int(np.argmax(score)))
    topics = []
    for j in set(lab.tolist()):
        members = np.where(lab == j)[0]
        n_art = len({idx.sentences[rows[m]].article_id for m in members})
        best = members[int(np.argmax(score[members]))]
        topics.append((n_art, float(score[members].max()), best))
    topics.sort(key=lambda t: (-t[0], -t[1]))
    chosen: list[int] = []
    used = 0

    def take(j: int) -> bool:
        nonlocal used
        if chosen and float((X[chosen] @ X[j]).max()) >= cfg.redundancy_cos:
            return False
        n = len(words(idx.sentences[rows[j]].text))
        if len(chosen) >= cfg.min_sentences and used + n > budget * 1.15:
            return False
        chosen.append(int(j))
        used += n
        return True

    for n_art, _, best in topics:  # one sentence per thread told by 2+ articles
        if len(chosen) >= cfg.max_sentences:
            break
        if n_art < 2 and len(chosen) >= cfg.min_sentences:
            continue  # a thread only one article tells is no part of the event's story
        take(best)
    # then the larger threads' next best sentences while the budget lasts
    sizes = {j: int((lab == j).sum()) for j in set(lab.tolist())}
    for j in sorted(sizes, key=lambda j: -sizes[j]):
        members = np.where(lab == j)[0]
        if len({idx.sentences[rows[m]].article_id for m in members}) < 2:
            continue
        for m in members[np.argsort(-score[members])]:
            if len(chosen) >= cfg.max_sentences or used >= budget:
                break
            if int(m) not in chosen and take(int(m)):
                break
    # where the sources report a quarrel (a refusal, "too soon", a controversy), say so in one sentence
    if chosen and len(chosen) < cfg.max_sentences and not any(_CONFLICT.search(idx.sentences[rows[j]].text) for j in chosen):
        cands = [j for j in range(len(rows)) if j not in chosen and _CONFLICT.search(idx.sentences[rows[j]].text)]
        # an actor's stated objection first ("X said it was too soon"), then the quarrel closest to
        # what the summary already tells
        def key(j: int) -> float:
            text = idx.sentences[rows[j]].text
            return -(float(bool(_SAID.search(text))) + float((X[chosen] @ X[j]).max()) + 0.5 * score[j])

        for j in sorted(cands, key=key):
            if float((X[chosen] @ X[j]).max()) < cfg.redundancy_cos and len(words(idx.sentences[rows[j]].text)) <= 30:
                chosen.append(int(j))
                break
    return [int(rows[j]) for j in chosen]


def summarize(
    idx: EventIndex, cfg: SummaryConfig | None = None, support_cfg: SupportConfig | None = None
) -> list[dict]:
    out = []
    rows = select(idx, cfg)
    prepare_lazy_support(idx, rows, support_cfg)
    for r in rows:
        out.append({"text": tidy(idx.sentences[r].text), "article_ids": supporting_articles(idx, r, support_cfg)})
    return out
