"""Rewrites: an article that paraphrases another sentence by sentence.

Candidate pairs are articles of one event whose document embeddings are close (cosine >=
``rewrite_candidate_cos``) and whose lead sentences mostly share content words with some sentence
of the other (a paraphrase keeps names, numbers and key nouns): only those pay for sentence
embeddings, which are cached in the store. A pair is a rewrite when most lead sentences of the
shorter article have a close paraphrase (cosine >= ``rewrite_sentence_cos``) in the other.
"""

from __future__ import annotations

from typing import Callable, Sequence

import re

import numpy as np

from storyline.config import DedupConfig
from storyline.records import Article, DuplicateLink
from storyline.synthesize.sentences import split_sentences

MIN_SENTENCE_WORDS = 5  # shorter lines (headings, datelines) say nothing about paraphrase
MAX_SENTENCES = 12  # a rewrite shows in the lead: bounding it bounds the cost (bench/throughput.py)

# Lexical gate, measured on a hand-written paraphrase (tests/data/rewrite_of_000.txt: share 1.0)
# and on ECB+ dev pairs with document cosine >= 0.85 (70 % fall below it): see bench/throughput.py.
LEXICAL_JACCARD = 0.2
LEXICAL_SHARE = 0.5

SentenceVectors = Callable[[Article], np.ndarray]
_WORD = re.compile(r"[^\W_]{3,}")
_STOP = frozenset("the and for with from that this its their his her they she was were been has have had not but"
                  " who which said says will would are also after over into than more".split())


def content_words(sentence: str) -> frozenset[str]:
    return frozenset(w for w in (t.lower() for t in _WORD.findall(sentence)) if w not in _STOP)


def lexical_share(a: list[frozenset[str]], b: list[frozenset[str]]) -> float:
    """Share of the shorter side's sentences whose best word-set Jaccard in the other >= LEXICAL_JACCARD."""
    if not a or not b:
        return 0.0
    short, other = (a, b) if len(a) <= len(b) else (b, a)
    hits = sum(1 for x in short if any(len(x & y) >= LEXICAL_JACCARD * len(x | y) and x for y in other))
    return hits / len(short)


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
        words = [[content_words(s) for s in article_sentences(a)] for a in members]
        for j, later in enumerate(members):
            for i in range(j):
                if sims[i, j] < config.rewrite_candidate_cos or lexical_share(words[j], words[i]) < LEXICAL_SHARE:
                    continue
                share = paraphrase_share(sentence_vectors(later), sentence_vectors(members[i]),
                                         config.rewrite_sentence_cos)
                if share >= config.rewrite_share:
                    links.append(DuplicateLink(later.id, members[i].id, "rewrite", round(share, 3)))
                    break
    return links
