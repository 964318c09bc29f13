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
        lambda arts: [embedder.encode(article_sentences(a)) for a in arts],
        copied=set(), config=DedupConfig(),
    )
    assert [(l.article_id, l.of_id, l.kind) for l in links] == [("rw", "000", "rewrite")]


# -- the persistent LSH index: copies found by indexed look-ups in later runs ------------------------

def _check_in_runs(store, runs: list[list[Article]], config: DedupConfig):
    """Add each run's articles and check them against the store, as the pipeline's dedup stage does."""
    from storyline.dedup import find_new_copies

    found = []
    for run in runs:
        store.add_articles(run)
        result = find_new_copies(store.articles(store.missing_minhashes()), store, config)
        store.put_minhashes(result.signatures, result.bands, result.links)
        found.append(result)
    return found


def test_near_copy_added_in_a_later_run_is_found_in_the_lsh_table(tmp_path: Path) -> None:
    from storyline.store import Store

    texts = {name: seed(name) for name in ("000", "001", "002", "003", "004")}
    wire = texts["000"]
    edited = wire.replace("Paris", "PARIS", 1) + " Updated at noon."
    runs = [
        [article(n, t) for n, t in texts.items()],
        [article("copy", wire), article("outlet", edited)],
        [article("late-outlet", edited + " Corrected.")],
    ]
    config = DedupConfig()
    with Store(tmp_path / "s.db") as store:
        found = _check_in_runs(store, runs, config)
        links = {(l.article_id, l.of_id, l.kind) for l in store.duplicates()}
    everything = [a for run in runs for a in run]
    assert links == {(l.article_id, l.of_id, l.kind) for l in find_copies(everything, config)}
    assert ("copy", "000", "exact") in links and ("outlet", "000", "near") in links
    assert ("late-outlet", "000", "near") in links or ("late-outlet", "outlet", "near") in links
    # Work is bounded by the candidates sharing a band, not by the store: the last run's one article
    # compared its signature with the two copies of its story at most, never with the other seeds.
    assert found[-1].compared <= 2


def test_lsh_work_does_not_grow_with_the_store(tmp_path: Path) -> None:
    from storyline.store import Store

    config = DedupConfig()
    base = seed("001").split()
    store_articles = [article(f"s{i}", " ".join(base[i % 50:] + [f"unique{i}-{j}" for j in range(40)]))
                      for i in range(300)]
    probe = article("probe", seed("004"))
    with Store(tmp_path / "s.db") as store:
        small = _check_in_runs(store, [store_articles[:30], [probe]], config)[-1]
        probe2 = article("probe2", seed("004") + " Again.")
        big = _check_in_runs(store, [store_articles[30:], [probe2]], config)[-1]
    assert small.compared == 0 and big.compared == 1  # only the earlier probe shares its bands


def _find_rewrites_reference(events, doc_vectors, sentence_vectors, copied, config):
    """find_rewrites as it was first written (pair by pair, lexical_share in Python): the faster one
    must give the same links and ask for sentence vectors in the same order."""
    from storyline.dedup.rewrite import LEXICAL_SHARE, paraphrase_share

    links = []
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
                    links.append((later.id, members[i].id, "rewrite", round(share, 3)))
                    break
    return links


def test_lexical_gate_matrix_gives_lexical_share() -> None:
    import random

    from storyline.dedup.rewrite import _LexicalGate

    rng = random.Random(4)
    vocab = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    words = [[frozenset(rng.sample(vocab, rng.randint(0, 5))) for _ in range(rng.randint(0, 7))] for _ in range(80)]
    words += [[content_words(s) for s in article_sentences(article(n, seed(n)))] for n in ("000", "001", "004")]
    gate = _LexicalGate(words)
    for j in range(len(words)):
        others = list(range(j))
        assert gate.shares(j, others).tolist() == [lexical_share(words[j], words[i]) for i in others]


def test_rewrites_match_the_pairwise_reference_and_embed_each_article_once() -> None:
    """Made-up sentence vectors (one random direction per distinct sentence, a little noise per
    article), so that paraphrase shares land on both sides of the thresholds without a model."""
    import random

    import numpy as np

    rng = random.Random(7)
    np_rng = np.random.default_rng(7)
    pool = [f"The {w} council said {x} residents would vote on the {y} plan next week."
            for w in ("city", "county", "state", "port") for x in ("many", "few", "all") for y in ("bridge", "tax")]
    direction = {s: v / np.linalg.norm(v) for s, v in zip(pool, np_rng.normal(size=(len(pool), 16)))}
    events = []
    for e in range(4):
        members = []
        for k in range(9):
            text = " ".join(rng.sample(pool[e * 5:e * 5 + 9], rng.randint(2, 6)))
            members.append(article(f"e{e}-{k}", text))
        events.append(members)
    doc = {a.id: v / np.linalg.norm(v) for ev in events for a in ev
           for v in [np.ones(16) + 0.3 * np_rng.normal(size=16)]}

    def doc_vectors(arts):
        return np.array([doc[a.id] for a in arts], dtype=np.float32)

    calls: list[str] = []

    def sentence_vectors(a):
        calls.append(a.id)
        noise = np.random.default_rng(int(hashlib.md5(a.id.encode()).hexdigest()[:8], 16)).normal(scale=0.15, size=16)
        vs = [direction[s] + noise for s in article_sentences(a)]
        return np.array([v / np.linalg.norm(v) for v in vs], dtype=np.float32).reshape(-1, 16)

    config = DedupConfig()
    copied = {"e1-3"}
    expected = _find_rewrites_reference(events, doc_vectors, sentence_vectors, copied, config)
    reference_calls = list(calls)
    calls.clear()
    batches: list[list[str]] = []

    def sentence_vectors_batch(arts):
        batches.append([a.id for a in arts])
        return [sentence_vectors(a) for a in arts]

    links = find_rewrites(events, doc_vectors, sentence_vectors_batch, copied, config)
    assert [(l.article_id, l.of_id, l.kind, l.score) for l in links] == expected
    assert 0 < len(expected) < sum(len(ev) for ev in events) - 4  # some are rewrites, some are not
    # One call for every article of a pair that passes the gates, each once: the articles the pair-by-pair
    # reference embedded (and any it skipped after finding a rewrite), never a copied one.
    assert len(batches) == 1 and len(set(batches[0])) == len(batches[0])
    assert set(reference_calls) <= set(batches[0]) and not copied & set(batches[0])


@pytest.mark.slow
def test_pipeline_sentence_vectors_are_each_articles_in_order(tmp_path, monkeypatch) -> None:
    import numpy as np

    from storyline import pipeline as pipeline_module
    from storyline.config import Config
    from storyline.pipeline import Pipeline
    from storyline.store import Store

    monkeypatch.setattr(pipeline_module, "DEDUP_BATCH", 2)  # several calls, one article without sentences
    arts = [article("000", seed("000")), article("short", "Too short."), article("001", seed("001"))]
    with Store(tmp_path / "s.db") as store:
        pipe = Pipeline(store, Config())
        got = pipe.sentence_vectors(arts)
        alone = [pipe.sentences.encode(article_sentences(a)) for a in arts]
    assert [g.shape for g in got] == [a.shape for a in alone] and got[1].shape == (0, 384)
    for g, a in zip(got, alone):  # read back from the cache: the same vectors
        assert np.array_equal(g, a)


def _made_up_world(seed_: int = 7):
    """Articles of four made-up events whose sentences are drawn from each event's pool, with
    made-up document and sentence vectors (as in the test above): rewrites without a model."""
    import random

    import numpy as np

    rng = random.Random(seed_)
    np_rng = np.random.default_rng(seed_)
    pool = [f"The {w} council said {x} residents would vote on the {y} plan next week."
            for w in ("city", "county", "state", "port") for x in ("many", "few", "all") for y in ("bridge", "tax")]
    direction = {s: v / np.linalg.norm(v) for s, v in zip(pool, np_rng.normal(size=(len(pool), 16)))}
    # Each ends in a unique sign-off of short lines (below MIN_SENTENCE_WORDS: unseen by the rewrite
    # check) so that few are near copies of one another.
    events = [[article(f"e{e}-{k}", " ".join(rng.sample(pool[e * 5:e * 5 + 9], rng.randint(2, 6)))
                       + "".join(f" Desk {e}{k} line {n}." for n in range(8)))
               for k in range(9)] for e in range(4)]

    def doc_vector(a: Article) -> np.ndarray:
        v = np.ones(16) + 0.3 * np.random.default_rng(int(a.content_hash[:8], 16)).normal(size=16)
        return v / np.linalg.norm(v)

    def sentence_vectors(arts):
        out = []
        for a in arts:
            noise = np.random.default_rng(int(a.content_hash[:8], 16)).normal(scale=0.15, size=16)
            vs = [direction[s] + noise for s in article_sentences(a)]
            out.append(np.array([v / np.linalg.norm(v) for v in vs], dtype=np.float32).reshape(-1, 16))
        return out

    return events, doc_vector, sentence_vectors


def test_incremental_rewrite_checks_give_the_links_of_a_check_from_scratch(tmp_path: Path, monkeypatch) -> None:
    """Runs in which events grow, lose members to others and have a member's text changed: after each,
    the pipeline's links (re-testing only articles whose check key changed) are those of a check of
    every member of every event from scratch, and later runs do skip articles."""
    import numpy as np

    from storyline import pipeline as pipeline_module
    from storyline.config import Config
    from storyline.pipeline import Pipeline
    from storyline.records import Event
    from storyline.store import Store

    world, doc_vector, sentence_vectors = _made_up_world()
    moved, left = world[0][6], world[0][7]  # to event 1, ahead of its later members; to an event of its own
    changed = article("e2-2", world[2][4].text + " Updated.")  # in the last run: e2-5 rewrites it now
    runs = [  # each run lists every event, as the pipeline's clustering assigns every article to one
        [ev[:5] for ev in world],
        [[a for a in world[0] if a not in (moved, left)], world[1][:5] + [moved] + world[1][5:], world[2][:7],
         world[3] + [article("e3-copy", world[3][2].text)], [left]],
        [world[0][:6], world[1][:5] + [moved] + world[1][5:], world[2][:2] + [changed] + world[2][3:],
         world[3] + [article("e3-copy", world[3][2].text)], [left, world[0][8]]],
    ]
    settled_sizes: list[int] = []
    real_find = pipeline_module.find_rewrites

    def spy(*args, **kwargs):
        settled_sizes.append(len(args[5] if len(args) > 5 else kwargs.get("settled", ())))
        return real_find(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "find_rewrites", spy)
    config = Config()
    config.progress = False
    with Store(tmp_path / "s.db") as store:
        pipe = Pipeline(store, config)
        monkeypatch.setattr(pipe, "sentence_vectors", sentence_vectors)
        for n, events in enumerate(runs):
            arts = [a for ev in events for a in ev]
            store.add_articles(arts)
            store.put_embeddings(pipe.article_model, [a.id for a in arts],
                                 np.array([doc_vector(a) for a in arts], dtype=np.float32))
            # Members in arrival order, as the store lists them.
            seq = {a.id: k for k, a in enumerate(store.articles([a.id for a in arts]))}
            events = [sorted(ev, key=lambda a: seq[a.id]) for ev in events]
            pipe.dedup(None, [Event(id=f"r{n}-{k}", article_ids=[a.id for a in ev]) for k, ev in enumerate(events)])
            got = sorted((d.article_id, d.of_id, d.score) for d in store.duplicates() if d.kind == "rewrite")
            everything = [a.id for ev in events for a in ev]
            stored = {a.id: a for a in store.articles(everything)}

            def docs(members):
                return np.array([doc_vector(a) for a in members], dtype=np.float32)

            scratch = real_find([[stored[a.id] for a in ev] for ev in events], docs, sentence_vectors,
                                store.copy_ids(everything), config.dedup)
            assert got == sorted((d.article_id, d.of_id, d.score) for d in scratch), f"run {n}"
            assert got and (n == 0 or "e3-copy" in store.copy_ids(everything))
    assert settled_sizes[0] == 0 and all(settled_sizes[1:])  # later runs skipped some articles
