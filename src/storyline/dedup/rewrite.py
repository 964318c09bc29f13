"""Rewrites: an article that paraphrases another sentence by sentence.

Candidate pairs are articles of one event whose document embeddings are close (cosine >=
``rewrite_candidate_cos``) and whose lead sentences mostly share content words with some sentence
of the other (a paraphrase keeps names, numbers and key nouns): only those pay for sentence
embeddings, which are cached in the store. A pair is a rewrite when most lead sentences of the
shorter article have a close paraphrase (cosine >= ``rewrite_sentence_cos``) in the other.

An article's result depends only on its own text and on the earlier members of its event (their
order and texts), so ``check_keys`` names that input: an article whose key is unchanged since it was
last checked keeps its link and is not tested again (``find_rewrites(settled=...)``).
"""

from __future__ import annotations

from typing import Callable, Collection, Sequence

import hashlib
import re

import numpy as np
from scipy import sparse

from storyline.config import DedupConfig
from storyline.records import Article, DuplicateLink
from storyline.synthesize.sentences import split_sentences

MIN_SENTENCE_WORDS = 5  # shorter lines (headings, datelines) say nothing about paraphrase
MAX_SENTENCES = 12  # a rewrite shows in the lead: bounding it bounds the cost (bench/throughput.py)

# Lexical gate, measured on a hand-written paraphrase (tests/data/rewrite_of_000.txt: share 1.0)
# and on ECB+ dev pairs with document cosine >= 0.85 (70 % fall below it): see bench/throughput.py.
LEXICAL_JACCARD = 0.2
LEXICAL_SHARE = 0.5

SentenceVectors = Callable[[Sequence[Article]], list[np.ndarray]]  # per article, in one call
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


def check_keys(members: Sequence[Article], copied: Collection[str], context: str,
               config: DedupConfig) -> dict[str, str]:
    """For each member of one event (in arrival order) not in ``copied``: a key of everything its
    rewrite check reads: its text, the earlier members it is compared with (ids and texts, in order),
    the thresholds and ``context`` (the models whose vectors are compared). Equal keys, equal links."""
    settings = (context, config.rewrite_candidate_cos, config.rewrite_sentence_cos, config.rewrite_share,
                LEXICAL_JACCARD, LEXICAL_SHARE, MIN_SENTENCE_WORDS, MAX_SENTENCES)
    prefix = hashlib.sha1(repr(settings).encode())  # grows member by member: linear in the event's size
    keys: dict[str, str] = {}
    for a in members:
        if a.id in copied:
            continue
        own = prefix.copy()
        own.update(f"\x00{a.id}\x00{a.content_hash}\x01".encode())  # the article itself
        keys[a.id] = own.hexdigest()
        prefix.update(f"\x00{a.id}\x00{a.content_hash}\x02".encode())  # a candidate of later ones
    return keys


def paraphrase_share(a: np.ndarray, b: np.ndarray, threshold: float) -> float:
    """Share of the sentences of the shorter side that have a match above ``threshold``."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    short, other = (a, b) if len(a) <= len(b) else (b, a)
    best = (short @ other.T).max(axis=1)
    return float((best >= threshold).mean())


class _LexicalGate:
    """The lead sentences' content words of one event's members as a sparse 0/1 matrix, so that the
    lexical gate of one article against all earlier candidates is one sparse product instead of a
    Python loop over sentence pairs. Gives exactly ``lexical_share`` (integer overlaps and unions,
    the same float comparisons)."""

    def __init__(self, words: list[list[frozenset[str]]]) -> None:
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        sizes: list[int] = []
        self.starts = [0]
        for sentences in words:
            for s in sentences:
                cols.extend(vocab.setdefault(w, len(vocab)) for w in s)
                rows.extend([len(sizes)] * len(s))
                sizes.append(len(s))
            self.starts.append(len(sizes))
        self.sizes = np.array(sizes, dtype=np.int64)
        self.matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)),
                                        shape=(len(sizes), max(len(vocab), 1)))

    def count(self, k: int) -> int:
        return self.starts[k + 1] - self.starts[k]

    def shares(self, j: int, others: Sequence[int]) -> np.ndarray:
        """``lexical_share(words[j], words[i])`` for each ``i`` in ``others``."""
        out = np.zeros(len(others), dtype=np.float64)
        n_j = self.count(j)
        keep = [k for k, i in enumerate(others) if self.count(i)]
        if not n_j or not keep:
            return out
        kept = [others[k] for k in keep]
        rows = np.concatenate([np.arange(self.starts[i], self.starts[i + 1]) for i in kept])
        counts = np.array([self.count(i) for i in kept], dtype=np.int64)
        bounds = np.cumsum(counts) - counts
        a, b = self.sizes[self.starts[j]:self.starts[j + 1]], self.sizes[rows]
        inter = (self.matrix[self.starts[j]:self.starts[j + 1]] @ self.matrix[rows].T).toarray()
        union = a[:, None] + b[None, :] - inter
        # A sentence pair matches when both have words and their Jaccard >= LEXICAL_JACCARD (symmetric).
        match = (inter >= LEXICAL_JACCARD * union) & (a > 0)[:, None] & (b > 0)[None, :]
        hits_j = np.logical_or.reduceat(match, bounds, axis=1).sum(axis=0)  # j's sentences matched in i
        hits_i = np.add.reduceat(match.any(axis=0).astype(np.int64), bounds)  # i's sentences matched in j
        j_short = n_j <= counts
        out[keep] = np.where(j_short, hits_j / np.where(j_short, n_j, 1), hits_i / np.where(j_short, 1, counts))
        return out


def find_rewrites(
    events: Sequence[Sequence[Article]],
    doc_vectors: Callable[[Sequence[Article]], np.ndarray],
    sentence_vectors: SentenceVectors,
    copied: set[str],
    config: DedupConfig,
    settled: Collection[str] = frozenset(),
) -> list[DuplicateLink]:
    """Links from each rewrite to the earliest article of its event (members in arrival order) that
    it paraphrases. Only pairs inside one event are compared. Articles in ``copied`` (already
    exact/near copies) are neither tested nor linked to. Articles in ``settled`` (checked before with
    the same ``check_keys``: their stored link holds) are not tested, only compared with.

    The pairs that pass both gates are found first, so that the sentence vectors of every article
    in one of them are asked for in one call (``sentence_vectors`` may read a cache; MiniLM is
    ~1.6x faster on one big batch than on one small batch per article); then the pairs are tested
    later article by later article, earlier candidates first, stopping at the first rewrite."""
    plans: list[tuple[list[Article], list[tuple[int, list[int]]]]] = []
    needed: dict[str, Article] = {}
    for members in events:
        members = [a for a in members if a.id not in copied]
        todo = [j for j in range(1, len(members)) if members[j].id not in settled]
        if not todo:
            continue
        doc = doc_vectors(members)
        sims = doc @ doc.T
        close_of = {j: np.flatnonzero(~(sims[:j, j] < config.rewrite_candidate_cos)).tolist()  # NaN passes
                    for j in todo}
        # Only the members in a close pair with one to test are split into sentences and gated.
        involved = sorted({k for j, close in close_of.items() if close for k in (j, *close)})
        if not involved:
            continue
        slot = {k: n for n, k in enumerate(involved)}
        gate = _LexicalGate([[content_words(s) for s in article_sentences(members[k])] for k in involved])
        plan = []
        for j, close in close_of.items():
            if not close:
                continue
            passed = [i for i, lexical in zip(close, gate.shares(slot[j], [slot[i] for i in close]))
                      if lexical >= LEXICAL_SHARE]
            if passed:
                plan.append((j, passed))
                for k in (j, *passed):
                    needed.setdefault(members[k].id, members[k])
        if plan:
            plans.append((members, plan))
    vectors_of = dict(zip(needed, sentence_vectors(list(needed.values())))) if needed else {}
    links: list[DuplicateLink] = []
    for members, plan in plans:
        for j, passed in plan:
            later = members[j]
            for i in passed:
                share = paraphrase_share(vectors_of[later.id], vectors_of[members[i].id], config.rewrite_sentence_cos)
                if share >= config.rewrite_share:
                    links.append(DuplicateLink(later.id, members[i].id, "rewrite", round(share, 3)))
                    break
    return links
