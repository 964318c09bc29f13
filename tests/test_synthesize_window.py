"""Large events: only each article's lead window is embedded (issue 4's speed requirement), with a
lazy, lexically prefiltered support check beyond it; small events embed every sentence as before."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from storyline.records import Article
from storyline.synthesize import support, synthesize_event
from storyline.synthesize.support import EventIndex, _lead_window, _norm_key
from storyline.synthesize.sentences import article_sentences

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _article(aid: str, text: str, **kw) -> Article:
    return Article(id=aid, text=text, content_hash=hashlib.sha256(text.encode()).hexdigest(), **kw)


class CountingEncoder:
    """Deterministic fake vectors (hash-seeded), counting what is embedded."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts):
        self.texts.extend(texts)
        out = []
        for t in texts:
            rng = np.random.default_rng(int(hashlib.sha1(t.encode()).hexdigest()[:8], 16))
            v = rng.normal(size=384).astype(np.float32)
            out.append(v / np.linalg.norm(v))
        return np.array(out, dtype=np.float32).reshape(len(texts), 384)


def _filler(aid: str, n: int) -> str:
    return " ".join(f"Officials in district {aid} reviewed item number {k} of the long local agenda today." for k in range(n))


@pytest.fixture(scope="module")
def embedder():
    from storyline.config import EmbedConfig
    from storyline.enrich.embed import Embedder

    return Embedder(EmbedConfig())


def test_small_event_embeds_every_sentence():
    texts = {f"a{i}": _filler(f"a{i}", 10) for i in range(5)}  # 50 sentences
    enc = CountingEncoder()
    idx = EventIndex.build(texts, enc.encode)
    assert not idx.windowed
    assert len(idx.sentences) == 50 and len(idx.all_sentences) == 50
    assert len(enc.texts) == 50


def test_seeds_are_below_the_budget():
    texts = {p.stem[:3]: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("00[0-3]_*.txt"))}
    idx = EventIndex.build(texts, CountingEncoder().encode)
    assert not idx.windowed  # the February event is synthesised exactly as before the budget


def test_large_event_embeds_lead_windows_round_robin():
    texts = {f"a{i:02d}": _filler(f"a{i:02d}", 30) for i in range(50)}  # 1,500 sentences
    enc = CountingEncoder()
    idx = EventIndex.build(texts, enc.encode)
    assert idx.windowed
    assert len(idx.sentences) == support.MAX_EMBEDDED_SENTENCES
    assert len(idx.all_sentences) == 1500
    depth = {a: max(idx.sentences[r].index for r in rows) for a, rows in idx.by_article.items()}
    assert set(depth.values()) <= {2, 3}  # every article's first 3-4 sentences, none deeper
    # each article's rows are contiguous and in reading order (article_max_matrix relies on it)
    for a, rows in idx.by_article.items():
        assert list(rows) == list(range(rows[0], rows[0] + len(rows)))
    assert len(enc.texts) == support.MAX_EMBEDDED_SENTENCES
    # whole-article features still come from the whole text
    assert idx.article_words["a00"] > 300
    assert "agenda" in {w[:6] for w in idx.article_text_stems["a00"]}


def test_identical_sentences_are_embedded_once():
    lead = "The minister resigned on Friday after the report on the contract was published."
    texts = {f"a{i}": lead + " " + _filler(f"a{i}", 20) for i in range(20)}
    enc = CountingEncoder()
    idx = EventIndex.build(texts, enc.encode, max_sentences=60)
    assert len({_norm_key(t) for t in enc.texts}) == len(enc.texts)
    assert sum(1 for s in idx.sentences if s.text == lead) == 20  # every article keeps its lead row
    np.testing.assert_allclose(idx.vectors[idx.by_article["a0"][0]], idx.vectors[idx.by_article["a7"][0]])


def test_lead_window_skips_fragments_and_stops_at_budget():
    per = {"x": article_sentences("x", "Short one. " + _filler("x", 5)), "y": article_sentences("y", _filler("y", 5))}
    keep = _lead_window(per, 4)
    assert ("x", 0) not in keep  # "Short one." is never a summary sentence or a fact
    assert keep == {("x", 1), ("x", 2), ("y", 0), ("y", 1)}


def test_lazy_support_cites_an_article_that_says_it_further_down(embedder, monkeypatch):
    claim = ("The European Commission fined the chipmaker Intel 1.06 billion euros for abusing its "
             "dominant position in the processor market.")
    other = ("Intel was fined 1.06 billion euros by the European Commission for abusing its dominant "
             "position in the processor market, regulators in Brussels said.")
    arts = [_article("own", claim + " " + _filler("own", 6), source="Outlet A", title="Intel fined by EU"),
            _article("deep", _filler("deep", 8) + " " + other, source="Outlet B", title="EU fines Intel")]
    monkeypatch.setattr(support, "MAX_EMBEDDED_SENTENCES", 6)
    syn = synthesize_event(arts, embedder)
    first = next(s for s in syn.summary if "1.06 billion" in s["text"])
    assert first["article_ids"] == ["own", "deep"]
    # and the comparison does not call the fine a fact only Outlet A reports
    assert not any("1.06 billion" in u["text"] for u in syn.comparison["unique_facts"])


def test_lazy_support_changes_nothing_for_small_events(embedder, monkeypatch):
    arts = [_article("s1", _filler("s1", 4) + " The bridge reopened to traffic on Sunday after repairs.", source="A"),
            _article("s2", "The bridge reopened to traffic on Sunday after repairs. " + _filler("s2", 3), source="B")]
    a = synthesize_event(arts, embedder).to_dict()
    monkeypatch.setattr(support, "MAX_EMBEDDED_SENTENCES", 0)  # 0: no limit
    b = synthesize_event(arts, embedder).to_dict()
    assert a == b
    assert synthesize_event(arts, embedder, max_embedded_sentences=0).to_dict() == a


def test_comparison_prefilters_keep_every_title_and_institution():
    """The cheap regex prefilters of the name and title rules never drop a sentence the rules use."""
    from storyline.synthesize import comparison as c
    from storyline.synthesize.sentences import split_sentences

    sents = [s for p in sorted(EXAMPLES.glob("*.txt")) for s in split_sentences(p.read_text(encoding="utf-8"))]
    sents += ["Vice-President Kamala Harris spoke.", "Special Envoy Steve Witkoff met them.",
              "The Munich Security Forum's chair spoke.", "Gen. Mark Milley said so."]
    used_title = used_inst = 0
    for s in sents:
        if any(c._title_parts(title)[0] for _, title, _ in c._person_mentions(s)):
            used_title += 1
            assert c._HAS_TITLE.search(s), s
        for span in c._name_spans(s):
            if any(c.norm_token(t) in c.INSTITUTION_HEADS for t in span[2:]):
                used_inst += 1
                assert c._HAS_INSTITUTION.search(s), s
    assert used_title >= 5 and used_inst >= 2
