"""Exact and near-exact copies: normalised-text hashes, then MinHash LSH over word shingles."""

from __future__ import annotations

import re
from typing import Sequence

from rensa import RMinHash, RMinHashLSH

from storyline.config import DedupConfig
from storyline.records import Article, DuplicateLink

_WORD = re.compile(r"\w+")
SEED = 1729  # any fixed seed: signatures must be comparable across runs


def shingles(text: str, size: int) -> list[str]:
    words = _WORD.findall(text.lower())
    if len(words) <= size:
        return [" ".join(words)] if words else []
    return [" ".join(words[i:i + size]) for i in range(len(words) - size + 1)]


def minhash(text: str, config: DedupConfig) -> RMinHash:
    m = RMinHash(num_perm=config.num_perm, seed=SEED)
    m.update(shingles(text, config.shingle_words))
    return m


def find_copies(articles: Sequence[Article], config: DedupConfig) -> list[DuplicateLink]:
    """Each article that copies an earlier one (in the given order) gets one link to the earliest
    article it copies: ``exact`` for the same normalised text, ``near`` for an estimated Jaccard
    similarity of word shingles >= ``config.near_jaccard``."""
    links: list[DuplicateLink] = []
    first_with_hash: dict[str, str] = {}
    lsh = RMinHashLSH(threshold=config.near_jaccard, num_perm=config.num_perm, num_bands=config.lsh_bands)
    signatures: list[RMinHash] = []
    for idx, article in enumerate(articles):
        original = first_with_hash.setdefault(article.content_hash, article.id)
        if original != article.id:
            links.append(DuplicateLink(article.id, original, "exact", 1.0))
            signatures.append(None)  # type: ignore[arg-type]  # never queried: same as original
            continue
        sig = minhash(article.text, config)
        signatures.append(sig)
        best: tuple[float, int] | None = None
        for other in lsh.query(sig):
            score = sig.jaccard(signatures[other])
            if score >= config.near_jaccard and (best is None or (score, -other) > (best[0], -best[1])):
                best = (score, other)
        if best is not None:
            links.append(DuplicateLink(article.id, articles[best[1]].id, "near", round(best[0], 3)))
        lsh.insert(idx, sig)
    return links
