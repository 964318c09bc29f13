"""Rewrites: an article that paraphrases another sentence by sentence.

Candidate pairs come from the document embeddings (cosine >= ``rewrite_candidate_cos``) within the
same event, so sentence embedding is paid only for likely pairs; each article's sentences are
embedded once and cached in the store. A pair is a rewrite when most sentences of the shorter
article have a close paraphrase (cosine >= ``rewrite_sentence_cos``) in the other.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from storyline.config import DedupConfig
from storyline.records import Article, DuplicateLink
from storyline.synthesize.sentences import split_sentences

MIN_SENTENCE_WORDS = 5  # shorter lines (headings, datelines) say nothing about paraphrase
MAX_SENTENCES = 60  # the lead carries a rewrite; bounding it bounds the cost on huge articles

SentenceVectors = Callable[[Article], np.ndarray]


def article_sentences(article: Article) -> list[str]:
    sentences = [s for s in split_sentences(article.text) if len(s.split()) >= MIN_SENTENCE_WORDS]
    return sentences[:MAX_SENTENCES]


def paraphrase_share(a: np.ndarray, b: np.ndarray, threshold: float) -> float:
    """Share of the sentences of the shorter side that have a match above ``threshold``."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    short, other = (a, b) if len(a) <= len(b) else (b, a)
    best = (short @ other.T).max(axis=1)
    return float((best >= threshold).mean())


def find_rewrites(
    events: Sequence[Sequence[Article]],
    doc_vectors: Callable[[Sequence[Article]], np.ndarray],
    sentence_vectors: SentenceVectors,
    copied: set[str],
    config: DedupConfig,
) -> list[DuplicateLink]:
    """Links from each rewrite to the earliest article of its event (members in arrival order) that
    it paraphrases. Only pairs inside one event are compared. Articles in ``copied`` (already
    exact/near copies) are neither tested nor linked to."""
    links: list[DuplicateLink] = []
    for members in events:
        members = [a for a in members if a.id not in copied]
        if len(members) < 2:
            continue
        vectors = doc_vectors(members)
        sims = vectors @ vectors.T
        for j, later in enumerate(members):
            for i in range(j):
                if sims[i, j] < config.rewrite_candidate_cos:
                    continue
                share = paraphrase_share(sentence_vectors(later), sentence_vectors(members[i]),
                                         config.rewrite_sentence_cos)
                if share >= config.rewrite_share:
                    links.append(DuplicateLink(later.id, members[i].id, "rewrite", round(share, 3)))
                    break
    return links
