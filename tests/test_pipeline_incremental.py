"""The pipeline's cost follows the hot set, not the store: closed events are never loaded again,
yet keep their members and their storylines. Made-up articles with MiniLM-like vectors (see
test_cluster.World) go straight into a store, so no model runs: fast."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from storyline.config import Config, EmbedConfig
from storyline.enrich.embed import article_model
from storyline.enrich.enrichment import ArticleEnrichment
from storyline.pipeline import Pipeline
from storyline.records import Article
from storyline.store import Store

from test_cluster import World

DAY0 = dt.datetime(2024, 3, 1, 9, 0)

ARTICLE_VECTORS = article_model(EmbedConfig())  # the pipeline's key of article vectors


def quiet_config() -> Config:
    config = Config()
    config.progress = False
    config.synthesize = False
    return config


class Feed:
    """Writes made-up reports of made-up events into a store, as ingest, embed and enrich would."""

    def __init__(self, store: Store, n_events: int = 12) -> None:
        self.store = store
        self.world = World(n_events, seed=5)
        self.count: dict[int, int] = {}

    def add(self, event: int, n: int, day: dt.datetime | None) -> list[Article]:
        arts, vecs = [], []
        for _ in range(n):
            k = self.count[event] = self.count.get(event, 0) + 1
            a, v = self.world.article(event, k, day)
            a.id = f"{a.id}-{day.date() if day else 'undated'}"
            arts.append(a)
            vecs.append(v)
        self.store.add_articles(arts)
        self.store.put_embeddings(ARTICLE_VECTORS, [a.id for a in arts], np.array(vecs, dtype=np.float32))
        self.store.put_enrichment({a.id: ArticleEnrichment(a.id).to_dict() for a in arts})
        return arts


def run(store: Store) -> Pipeline:
    pipeline = Pipeline(store, quiet_config())
    pipeline.run([])
    return pipeline


def partition(store: Store) -> set[frozenset[str]]:
    return {frozenset(e.article_ids) for e in store.events()}


def test_closed_events_are_not_loaded_and_keep_their_members(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        feed = Feed(store)
        old = [a.id for e in range(3) for a in feed.add(e, 4, DAY0)]
        assert run(store).summary.clustered == 12
        # A month later: the old events are still open when this run starts, then close.
        feed.add(3, 4, DAY0 + dt.timedelta(days=30))
        assert run(store).summary.clustered == 16
        assert all(not e.open for e in store.events() if set(e.article_ids) <= set(old))
        before = {frozenset(e.article_ids) for e in store.events() if not e.open}
        # The next run loads the open event and the new articles only, never the closed events.
        feed.add(4, 3, DAY0 + dt.timedelta(days=31))
        summary = run(store).summary
        assert summary.clustered == 4 + 3
        assert summary.articles == 19 and summary.events == 5
        assert before <= partition(store)
        # Nothing new: nothing is loaded, nothing changes.
        events = store.events()
        assert run(store).summary.clustered == 0 and store.events() == events


def test_work_per_run_is_bounded_as_the_store_grows(tmp_path: Path) -> None:
    """Each run adds a day of news; the articles loaded stay near a constant (the hot set: about
    close_after_days of news) while the store grows without bound."""
    config = quiet_config()
    with Store(tmp_path / "s.db") as store:
        feed = Feed(store, n_events=40)
        loaded, written = [], []
        for day in range(40):
            feed.add(day % 40, 3, DAY0 + dt.timedelta(days=day))
            pipeline = Pipeline(store, config)
            pipeline.run([])
            loaded.append(pipeline.summary.clustered)
            written.append(pipeline.summary.events_written)
        hot_days = config.cluster.close_after_days + 1
        assert max(loaded[20:]) <= 3 * (hot_days + 1)  # never the 120 articles of the store
        assert loaded[-1] == loaded[25]
        assert max(written[20:]) <= 2  # the day's new event and the one that closes: not the hot set
        assert store.article_count() == 120 and len(partition(store)) == 40


def test_a_story_that_returns_after_its_event_closed_joins_the_same_storyline(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        feed = Feed(store)
        feed.add(0, 4, DAY0)
        feed.add(1, 4, DAY0)
        run(store)
        feed.add(2, 3, DAY0 + dt.timedelta(days=40))  # the news moves on: events 0 and 1 close
        run(store)
        feed.add(0, 3, DAY0 + dt.timedelta(days=60))  # story 0 again: a new event (outside the window)
        assert run(store).summary.clustered == 3 + 3  # event 2 is still open
        events = {e.article_ids[0].split("-a")[0] + ("-late" if "2024-04-30" in e.article_ids[0] else ""): e
                  for e in store.events()}
        assert set(events) == {"e0", "e1", "e2", "e0-late"}
        assert events["e0-late"].storyline_id == events["e0"].storyline_id != events["e1"].storyline_id
        line = next(s for s in store.storylines() if s.id == events["e0"].storyline_id)
        assert line.event_ids == [events["e0"].id, events["e0-late"].id]


def test_undated_events_close_after_enough_other_articles(tmp_path: Path) -> None:
    config = quiet_config()
    config.cluster.close_after_articles = 6
    with Store(tmp_path / "s.db") as store:
        feed = Feed(store)
        feed.add(0, 3, None)
        Pipeline(store, config).run([])
        feed.add(1, 4, None)
        feed.add(2, 4, None)
        Pipeline(store, config).run([])
        assert [len(e.article_ids) for e in store.events() if not e.open] == [3]
        pipeline = Pipeline(store, config)
        feed.add(3, 2, None)
        pipeline.run([])
        assert pipeline.summary.clustered == 8 + 2


def test_one_at_a_time_gives_the_events_of_one_batch(tmp_path: Path) -> None:
    arts = []
    with Store(tmp_path / "batch.db") as store:
        feed = Feed(store)
        for e in range(5):
            arts += feed.add(e, 3, DAY0 + dt.timedelta(days=e % 2))
        run(store)
        batch = partition(store)
    with Store(tmp_path / "batch.db") as source, Store(tmp_path / "one.db") as store:
        vectors = source.embeddings(ARTICLE_VECTORS, [a.id for a in arts])
        for a, v in zip(arts, vectors):
            store.add_articles([a])
            store.put_embeddings(ARTICLE_VECTORS, [a.id], v[None])
            store.put_enrichment({a.id: ArticleEnrichment(a.id).to_dict()})
            run(store)
        assert partition(store) == batch and len(batch) == 5


def test_a_run_killed_after_clustering_is_completed_by_the_next(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        feed = Feed(store)
        feed.add(0, 3, DAY0)
        feed.add(1, 2, DAY0)
        Pipeline(store, quiet_config()).cluster()  # then killed: dedup and describe never ran
        assert len(store.dirty_events()) == 2
        summary = run(store).summary
        assert summary.clustered == 0 and store.dirty_events() == []
        assert all(store.event_data(e.id).get("members_digest") for e in store.events())
        assert store.missing_minhashes() == []


def test_a_run_analyses_only_the_texts_it_has_not_seen(tmp_path: Path, monkeypatch) -> None:
    """The cluster stage keeps each article's tokens in the store (``article_tokens``): a later run
    reads the hot set's tokens and analyses only the new articles, with the events of a run that
    analysed everything again."""
    from storyline.cluster import features as features_mod

    analysed: list[int] = []
    real = features_mod.tokens

    def counting(texts, **kw):
        if not kw.get("names"):
            analysed.append(len(texts))
        return real(texts, **kw)

    monkeypatch.setattr(features_mod, "tokens", counting)
    with Store(tmp_path / "cached.db") as store:
        feed = Feed(store)
        arts = [a for e in range(3) for a in feed.add(e, 4, DAY0)]
        run(store)
        arts += feed.add(1, 2, DAY0 + dt.timedelta(days=1)) + feed.add(3, 3, DAY0 + dt.timedelta(days=1))
        assert run(store).summary.clustered == 17
        assert analysed == [12, 5]  # never the 12 articles of the first run again
        cached = partition(store)
        vectors = store.embeddings(ARTICLE_VECTORS, [a.id for a in arts])
    monkeypatch.setattr(features_mod, "article_tokens", lambda articles, cache=None: [
        (real([features_mod.clustering_text(a)])[0], real([features_mod.clustering_text(a)], names=True)[0],
         features_mod.word_count(a)) for a in articles])  # no cache: every run analyses every text
    with Store(tmp_path / "plain.db") as store:
        for batch in (arts[:12], arts[12:]):
            store.add_articles(batch)
            store.put_embeddings(ARTICLE_VECTORS, [a.id for a in batch], vectors[[arts.index(a) for a in batch]])
            store.put_enrichment({a.id: ArticleEnrichment(a.id).to_dict() for a in batch})
            run(store)
        assert partition(store) == cached
