"""Duplicates: exact copies, near-copies and sentence-by-sentence rewrites."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from storyline.config import DedupConfig, EmbedConfig
from storyline.dedup import article_sentences, find_copies, find_rewrites
from storyline.dedup.rewrite import content_words, lexical_share
from storyline.records import Article

from conftest import EXAMPLES

DATA = Path(__file__).parent / "data"


def article(aid: str, text: str) -> Article:
    norm = " ".join(text.lower().split())
    return Article(id=aid, text=text, content_hash=hashlib.sha256(norm.encode()).hexdigest())


def seed(name: str) -> str:
    return next(EXAMPLES.glob(f"{name}_*.txt")).read_text(encoding="utf-8")


def test_exact_copy_links_to_the_first() -> None:
    text = seed("000")
    links = find_copies([article("a", text), article("b", "  " + text.replace("\n\n", "\n")), article("c", seed("004"))],
                        DedupConfig())
    assert [(l.article_id, l.of_id, l.kind) for l in links] == [("b", "a", "exact")]


def test_wire_copy_with_small_edits_is_near() -> None:
    text = seed("001")
    edited = text.replace("European leaders", "EU leaders", 1) + "\nReporting by a wire service; editing by a desk."
    links = find_copies([article("wire", text), article("outlet", edited), article("other", seed("000"))],
                        DedupConfig())
    assert [(l.article_id, l.of_id, l.kind) for l in links] == [("outlet", "wire", "near")]
    assert links[0].score >= 0.8


def test_different_articles_on_one_event_are_not_copies() -> None:
    arts = [article(n, seed(n)) for n in ("000", "001", "002", "003", "004")]
    assert find_copies(arts, DedupConfig()) == []


def test_lexical_gate_passes_a_paraphrase_and_stops_another_story() -> None:
    original = [content_words(s) for s in article_sentences(article("o", seed("000")))]
    rewrite = [content_words(s) for s in article_sentences(article("r", (DATA / "rewrite_of_000.txt").read_text()))]
    other = [content_words(s) for s in article_sentences(article("x", seed("004")))]
    assert lexical_share(rewrite, original) >= 0.8
    assert lexical_share(other, original) < 0.5


@pytest.mark.slow
def test_paraphrase_is_a_rewrite_but_other_coverage_is_not() -> None:
    from storyline.enrich.embed import Embedder
    from storyline.pipeline import embedding_text

    embedder = Embedder(EmbedConfig())
    members = [article("000", seed("000")), article("001", seed("001")),
               article("rw", (DATA / "rewrite_of_000.txt").read_text()), article("003", seed("003"))]
    links = find_rewrites(
        [members],
        lambda arts: embedder.encode([embedding_text(a) for a in arts]),
        lambda a: embedder.encode(article_sentences(a)),
        copied=set(), config=DedupConfig(),
    )
    assert [(l.article_id, l.of_id, l.kind) for l in links] == [("rw", "000", "rewrite")]
