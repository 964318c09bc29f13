"""Event clustering on made-up articles: each event has its own words, names and a MiniLM-like
vector (a random direction plus noise), so the expected partition is known."""

from __future__ import annotations

import datetime as dt
import random
import string

import numpy as np
import pytest

from storyline.cluster import events as events_mod
from storyline.cluster.events import cluster_events
from storyline.cluster.features import build_features, text_year
from storyline.config import ClusterConfig
from storyline.records import Article

DIM = 384
FILLER = "the officials said on the day that people were told about the report and the news".split()


def _word(rng: random.Random, capital: bool = False) -> str:
    w = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(6, 9)))
    return w.capitalize() if capital else w


class World:
    """Made-up events: ``article(e, n)`` writes the n-th report of event ``e``."""

    def __init__(self, n_events: int, seed: int = 0) -> None:
        rng = random.Random(seed)
        np_rng = np.random.default_rng(seed)
        self.rng = rng
        self.np_rng = np_rng
        self.words = [[_word(rng) for _ in range(10)] for _ in range(n_events)]
        self.names = [[_word(rng, capital=True) for _ in range(3)] for _ in range(n_events)]
        self.vectors = np_rng.normal(size=(n_events, DIM))
        self.vectors /= np.linalg.norm(self.vectors, axis=1, keepdims=True)

    def article(self, e: int, n: int, day: dt.datetime | None = None) -> tuple[Article, np.ndarray]:
        words = self.rng.sample(self.words[e], 7)
        names = self.names[e]
        text = (f"In {names[0]}, {names[1]} met {names[2]}. " + " ".join(words) + ". "
                + " ".join(self.rng.sample(FILLER, 8)) + ".")
        title = f"{names[0]} {words[0]} {words[1]}"
        vec = self.vectors[e] + 0.5 * self.np_rng.normal(size=DIM) / np.sqrt(DIM)
        art = Article(id=f"e{e}-a{n}", text=text, content_hash=f"h{e}-{n}", title=title, published_at=day)
        return art, vec / np.linalg.norm(vec)


def _corpus(world: World, sizes: list[int], start: dt.datetime | None = None):
    arts, vecs, gold = [], [], []
    for e, size in enumerate(sizes):
        for n in range(size):
            day = start + dt.timedelta(days=e % 3) if start else None
            a, v = world.article(e, n, day)
            arts.append(a)
            vecs.append(v)
            gold.append(e)
    return arts, np.array(vecs, dtype=np.float32), gold


def _partition(labels: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for a, k in labels.items():
        groups.setdefault(k, set()).add(a)
    return {frozenset(g) for g in groups.values()}


def _gold_partition(arts: list[Article], gold: list[int]) -> set[frozenset[str]]:
    return _partition({a.id: str(g) for a, g in zip(arts, gold)})


def test_separates_events():
    world = World(6)
    arts, vecs, gold = _corpus(world, [4, 3, 5, 2, 4, 1], start=dt.datetime(2024, 3, 1))
    labels = cluster_events(build_features(arts, vecs), ClusterConfig())
    assert _partition(labels) == _gold_partition(arts, gold)


def test_incremental_equals_one_run_and_keeps_existing():
    world = World(8, seed=1)
    arts, vecs, gold = _corpus(world, [3, 4, 2, 5, 3, 3, 2, 4])
    order = list(range(len(arts)))
    random.Random(3).shuffle(order)
    arts = [arts[i] for i in order]
    vecs = vecs[order]
    gold = [gold[i] for i in order]
    config = ClusterConfig()
    whole = cluster_events(build_features(arts, vecs), config)

    half = len(arts) // 2
    first = cluster_events(build_features(arts[:half], vecs[:half]), config)
    # The store gives existing events their own keys: they must come back unchanged.
    renamed = {a: f"stored-{k}" for a, k in first.items()}
    second = cluster_events(build_features(arts, vecs), config, existing=renamed)

    assert _partition(second) == _partition(whole) == _gold_partition(arts, gold)
    for a, k in renamed.items():
        assert second[a] == k


def test_bridge_article_merges_two_events():
    world = World(1, seed=2)
    arts, vecs, _ = _corpus(world, [6])
    # An earlier run (say, before a late report made the link clear) left one event as two.
    existing = {a.id: ("left" if n < 3 else "right") for n, a in enumerate(arts)}
    bridge, vec = world.article(0, 99)
    labels = cluster_events(build_features(arts + [bridge], np.vstack([vecs, vec[None]])),
                            ClusterConfig(), existing=existing)
    assert len(set(labels.values())) == 1
    assert labels[bridge.id] in {"left", "right"}


def test_time_window_separates_same_text_60_days_apart():
    world = World(1, seed=4)
    day = dt.datetime(2024, 1, 10)
    arts, vecs = [], []
    for n, when in enumerate([day, day, day + dt.timedelta(days=60), day + dt.timedelta(days=60)]):
        a, v = world.article(0, n, when)
        arts.append(a)
        vecs.append(v)
    labels = cluster_events(build_features(arts, np.array(vecs, dtype=np.float32)), ClusterConfig())
    assert labels["e0-a0"] == labels["e0-a1"]
    assert labels["e0-a2"] == labels["e0-a3"]
    assert labels["e0-a0"] != labels["e0-a2"]


def test_year_read_from_text():
    assert text_year("Founded in 1998, the club won the 2008 - 09 title in May 2009.") == 2009
    assert np.isnan(text_year("No year here, only 2,000 people and $2012."))
    world = World(1, seed=5)
    # No publication dates: the year each report was written is read from its text.
    a, va = world.article(0, 0)
    b, vb = world.article(0, 1)
    a.text += " It was the first time since 2008."
    b.text += " It was the first time since 2013."
    features = build_features([a, b], np.array([va, vb], dtype=np.float32))
    assert list(features.years) == [2008.0, 2013.0]


def test_candidates_bounded_not_all_pairs(monkeypatch: pytest.MonkeyPatch):
    world = World(500, seed=6)
    arts, vecs, gold = _corpus(world, [2] * 500, start=dt.datetime(2024, 5, 1))
    compared = 0
    original = events_mod.EventClusterer.similarity

    def counting(self, i, rows):  # type: ignore[no-untyped-def]
        nonlocal compared
        compared += len(rows)
        return original(self, i, rows)

    monkeypatch.setattr(events_mod.EventClusterer, "similarity", counting)
    config = ClusterConfig()
    labels = cluster_events(build_features(arts, vecs), config)
    n = len(arts)
    # Each look at an article (arrival, then each refinement round) scores at most `candidates`
    # events; here every event holds 2 articles.
    assert compared <= n * (1 + config.refine_rounds) * config.candidates * 2
    assert compared < n * (n - 1) / 2 / 4
    assert _partition(labels) == _gold_partition(arts, gold)


def test_headline_only_items_count_their_headline_once():
    title = "Quake of magnitude 6.1 hits island off south Iran"
    item = Article(id="h1", text=title, content_hash="h", title=title)
    full = Article(id="f1", text="Five people were hurt, state media said.", content_hash="f", title=title)
    features = build_features([item, full], np.zeros((2, DIM), dtype=np.float32))
    assert list(features.words) == [9.0, 16.0]


def test_hnsw_candidates_give_the_events_of_exact_search():
    """Above exact_search_max articles, candidates come from an HNSW graph: same events here."""
    world = World(12, seed=4)
    arts, vecs, gold = _corpus(world, [4, 3, 5, 2, 4, 3, 3, 4, 2, 5, 3, 4])
    exact = cluster_events(build_features(arts, vecs), ClusterConfig())
    approximate = cluster_events(build_features(arts, vecs), ClusterConfig(exact_search_max=0))
    assert _partition(approximate) == _partition(exact) == _gold_partition(arts, gold)


# -- the token cache: the hot set's texts are analysed once, not in every run -----------------------

class _DictCache:
    """A token cache in memory, as the stores keep it (``article_tokens``)."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str, int]] = {}
        self.reads = 0

    def article_tokens(self, keys: list[str]) -> dict[str, tuple[str, str, int]]:
        self.reads += 1
        return {k: self.rows[k] for k in keys if k in self.rows}

    def put_article_tokens(self, items: dict[str, tuple[str, str, int]]) -> None:
        self.rows.update(items)


def _same_features(a, b) -> bool:
    for name in ("tfidf", "names"):
        x, y = getattr(a, name), getattr(b, name)
        if not (x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x.indptr, y.indptr)
                and np.array_equal(x.indices, y.indices) and x.data.tobytes() == y.data.tobytes()):
            return False
    return (a.vocab == b.vocab and a.words.tobytes() == b.words.tobytes()
            and a.years.tobytes() == b.years.tobytes() and a.weekday_sets.tobytes() == b.weekday_sets.tobytes())


def test_cached_tokens_give_the_same_features_and_are_not_analysed_again(monkeypatch: pytest.MonkeyPatch):
    from storyline.cluster import features as features_mod

    world = World(4, seed=9)
    arts, vecs, _ = _corpus(world, [5, 4, 3, 6])
    arts.append(Article(id="headline", text="Markets rally on Friday", content_hash="h", title="Markets rally on Friday"))
    arts.append(Article(id="tiny", text="ok", content_hash="t"))
    vecs = np.vstack([vecs, np.zeros((2, DIM), dtype=np.float32)])
    plain = build_features(arts, vecs)

    analysed: list[int] = []
    real = features_mod.tokens
    monkeypatch.setattr(features_mod, "tokens", lambda texts, **kw: analysed.append(len(texts)) or real(texts, **kw))
    cache = _DictCache()
    cold = build_features(arts, vecs, cache=cache)
    warm = build_features(arts, vecs, cache=cache)
    assert _same_features(plain, cold) and _same_features(plain, warm)
    assert analysed == [len(arts), len(arts)]  # words and names, once: the second call read the cache
    # An article whose text changed is analysed again (the key follows title and text), not served stale.
    edited = Article(id=arts[0].id, text=arts[0].text + " Zanzibar agreed.", content_hash="x", title=arts[0].title)
    again = build_features([edited, *arts[1:]], vecs, cache=cache)
    assert analysed[2:] == [1, 1] and "zanzibar" in (again.vocab or [])
    assert _same_features(again, build_features([edited, *arts[1:]], vecs))


def _term_rows_as_before(rows: list[dict[str, float]], column: dict[str, int], width: int):
    """How closed_links built the closed events' word rows before term_rows (one tuple a word)."""
    from scipy import sparse

    pairs = [(k, column[t], v) for k, r in enumerate(rows) for t, v in r.items() if t in column]
    return sparse.csr_matrix(([p[2] for p in pairs], ([p[0] for p in pairs], [p[1] for p in pairs])),
                             shape=(len(rows), width), dtype=np.float32)


@pytest.mark.parametrize("n_rows", [0, 1, 40])
def test_term_rows_give_the_matrix_of_one_tuple_a_word_bit_for_bit(n_rows: int):
    from storyline.cluster.storylines import term_rows

    rng = random.Random(n_rows)
    vocab = sorted({_word(rng) for _ in range(300)})
    column = {t: j for j, t in enumerate(vocab)}
    unseen = [_word(rng, capital=True) for _ in range(50)]  # words this run's TF-IDF does not have
    rows = [{rng.choice(vocab + unseen): round(rng.random(), 5) for _ in range(rng.randint(0, 64))}
            for _ in range(n_rows)]
    rows += [{}, {w: 0.5 for w in unseen[:3]}] if n_rows else []  # no words, only unseen words
    got, want = term_rows(rows, column, len(vocab) + 2), _term_rows_as_before(rows, column, len(vocab) + 2)
    assert got.shape == want.shape and got.dtype == want.dtype == np.float32
    for name in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
