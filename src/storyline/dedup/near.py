"""Exact and near-exact copies: normalised-text hashes, then MinHash LSH over word shingles, in
one batch (``find_copies``) or against a persistent LSH index in the store (``find_new_copies``)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Iterable, Protocol, Sequence

import numpy as np
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


# -- the persistent LSH index ---------------------------------------------------------------------
#
# ``find_copies`` above hashes every article of a run against the others. ``find_new_copies`` checks
# only articles not yet checked, against the store: each checked article leaves its signature and its
# band keys (one 64-bit key per band of ``num_perm / lsh_bands`` hash values) in indexed tables, so a
# new article's candidates are those sharing a band key (one index look-up per band), whatever the
# store's size. The links are those ``find_copies`` gives over the whole store in insertion order.
# The band keys of a whole batch are looked up at once (the store does not change during the batch).


def signature(text: str, config: DedupConfig) -> np.ndarray:
    """The MinHash signature (``num_perm`` uint32) of a text's word shingles."""
    return np.asarray(minhash(text, config).digest(), dtype=np.uint32)


def band_keys(sig: np.ndarray, config: DedupConfig) -> list[tuple[int, int]]:
    """(band, key) pairs: two signatures that share one are LSH candidates."""
    rows = config.num_perm // config.lsh_bands
    out = []
    for band in range(config.lsh_bands):
        digest = hashlib.blake2b(sig[band * rows:(band + 1) * rows].tobytes(), digest_size=8).digest()
        out.append((band, int.from_bytes(digest, "little", signed=True)))
    return out


class CopyIndex(Protocol):
    """What ``find_new_copies`` needs of a store (both stores have it)."""

    def first_with_hash(self, hashes: Iterable[str]) -> dict[str, str]: ...
    def band_members(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], list[str]]: ...
    def minhash_rows(self, ids: Iterable[str]) -> dict[str, tuple[int, bytes]]: ...
    def article_seqs(self, ids: Iterable[str]) -> dict[str, int]: ...


@dataclass(slots=True)
class NewCopies:
    """What one pass found, ready for ``put_minhashes``: signatures (empty for exact copies, which
    are never candidates), band keys and links."""

    signatures: dict[str, bytes] = field(default_factory=dict)
    bands: list[tuple[str, int, int]] = field(default_factory=list)
    links: list[DuplicateLink] = field(default_factory=list)
    compared: int = 0  # candidate signatures compared: bounded by the candidates, not the store


def find_new_copies(articles: Sequence[Article], index: CopyIndex, config: DedupConfig) -> NewCopies:
    """Exact and near copies among ``articles`` (not yet checked, in insertion order) of earlier
    articles, looked up in the store's content-hash index and LSH band table, and among themselves."""
    out = NewCopies()
    seqs = index.article_seqs([a.id for a in articles])
    stored_first = index.first_with_hash(a.content_hash for a in articles)
    batch_first: dict[str, str] = {}
    originals: dict[str, str] = {}  # exact copies: id -> the earliest with its text
    keys_of: dict[str, tuple[np.ndarray, list[tuple[int, int]]]] = {}
    for article in articles:
        original = stored_first.get(article.content_hash, article.id)
        if original == article.id:
            original = batch_first.setdefault(article.content_hash, article.id)
        if original != article.id:
            originals[article.id] = original
        else:
            sig = signature(article.text, config)
            keys_of[article.id] = (sig, band_keys(sig, config))
    members = index.band_members({k for _, keys in keys_of.values() for k in keys})
    stored = {i: (s, np.frombuffer(b, dtype=np.uint32))
              for i, (s, b) in index.minhash_rows({i for ids in members.values() for i in ids}).items() if b}
    batch_keys: dict[tuple[int, int], list[str]] = {}
    for article in articles:
        if article.id in originals:
            out.links.append(DuplicateLink(article.id, originals[article.id], "exact", 1.0))
            out.signatures[article.id] = b""
            continue
        own_seq = seqs.get(article.id, 0)
        sig, keys = keys_of[article.id]
        candidates = {i: stored[i] for key in keys for i in members.get(key, ()) if i in stored
                      and stored[i][0] < own_seq}
        for key in keys:
            for other in batch_keys.get(key, ()):
                candidates[other] = (seqs.get(other, 0), keys_of[other][0])
        out.compared += len(candidates)
        if candidates:
            # Estimated Jaccard (share of equal hash values) of every candidate at once.
            scores = (np.stack([s for _, s in candidates.values()]) == sig).mean(axis=1)
            best: tuple[float, int, str] | None = None
            for (other, (seq, _)), score in zip(candidates.items(), scores.tolist()):
                if score >= config.near_jaccard and (best is None or (score, -seq) > (best[0], -best[1])):
                    best = (score, seq, other)
            if best is not None:
                out.links.append(DuplicateLink(article.id, best[2], "near", round(best[0], 3)))
        out.signatures[article.id] = sig.tobytes()
        out.bands += [(article.id, band, key) for band, key in keys]
        for key in keys:
            batch_keys.setdefault(key, []).append(article.id)
    return out
