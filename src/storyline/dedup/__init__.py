"""Duplicates: exact copies, near-copies (MinHash LSH) and sentence-by-sentence rewrites."""

from storyline.dedup.near import find_copies, find_new_copies
from storyline.dedup.rewrite import article_sentences, check_keys, find_rewrites

__all__ = ["article_sentences", "check_keys", "find_copies", "find_new_copies", "find_rewrites"]
