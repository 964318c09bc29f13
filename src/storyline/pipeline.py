"""The pipeline: ingest -> clean -> store -> embed -> enrich -> cluster -> dedup -> describe -> export.

Each stage is a small function over the store; ``run`` calls them in order, times them and reports
progress. Every stage only does what is missing (articles not yet stored, embedded, clustered or
synthesised), so re-running with the same input changes nothing and a killed run is completed by
the next one.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from storyline.clean import clean_document
from storyline.cluster.events import cluster_events
from storyline.cluster.features import ArticleFeatures, build_features
from storyline.cluster.storylines import link_storylines
from storyline.config import Config
from storyline.dedup import article_sentences, find_copies, find_rewrites
from storyline.enrich.embed import MODEL_NAME, CachedEmbedder, Embedder
from storyline.ingest import read_inputs
from storyline.progress import Progress
from storyline.records import Article, Event, Problem, RawDocument, Storyline
from storyline.store import Store, open_store

INGEST_BATCH = 200
EMBED_BATCH = 256
LEAD_CHARS = 1200  # title + lead: about max_tokens words; the rest of the text is not embedded


@dataclass(slots=True)
class RunSummary:
    """What a run did, for the end-of-run screen and the exit status."""

    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    articles: int = 0
    duplicates: Counter = field(default_factory=Counter)
    events: int = 0
    storylines: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    out_dir: Path | None = None

    @property
    def skipped(self) -> int:
        return len(self.problems)

    @property
    def seconds(self) -> float:
        return sum(self.stage_seconds.values())

    def to_dict(self) -> dict:
        return {
            "read": self.read, "new": self.new, "updated": self.updated, "unchanged": self.unchanged,
            "skipped": [str(p) for p in self.problems], "articles": self.articles,
            "duplicates": dict(self.duplicates), "events": self.events, "storylines": self.storylines,
            "stage_seconds": self.stage_seconds, "seconds": self.seconds,
        }


def enrich_to_dicts(articles: list[Article]) -> list[dict]:
    """Worker-process task: the enrichment of some articles, as the store keeps it."""
    from storyline.enrich.enrichment import enrich_articles

    return [r.to_dict() for r in enrich_articles(articles)]


@contextmanager
def _enrich_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """Spawned workers (never forked from a process that runs onnxruntime and faiss threads), each
    with one BLAS thread, so that two of them share two cores without oversubscribing."""
    saved = {k: os.environ.get(k) for k in _ONE_THREAD}
    os.environ.update(_ONE_THREAD)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            pool.submit(int).result()  # start the workers while the one-thread settings are in force
            yield pool
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def event_id_for(first_article_id: str) -> str:
    return "ev-" + hashlib.sha1(first_article_id.encode()).hexdigest()[:12]


def storyline_id_for(first_event_id: str) -> str:
    return "sl-" + hashlib.sha1(first_event_id.encode()).hexdigest()[:12]


def embedding_text(article: Article) -> str:
    """What MiniLM sees of an article: its title and lead (news puts the event up front)."""
    lead = article.text[:LEAD_CHARS]
    if not article.title or lead.startswith(article.title):  # headline-only items: say it once
        return lead
    return f"{article.title}. {lead}"


class Pipeline:
    """Runs the stages over one store. Holds the models so a long-lived process loads them once."""

    def __init__(self, store: Store, config: Config | None = None, progress: Progress | None = None) -> None:
        self.store = store
        self.config = config or Config()
        self.progress = progress or Progress(enabled=False)
        self.embedder = Embedder(self.config.embed)
        self.sentences = CachedEmbedder(self.embedder, store)
        self.summary = RunSummary()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.summary.stage_seconds[name] = self.summary.stage_seconds.get(name, 0.0) + (
                time.perf_counter() - start)

    # -- stages ---------------------------------------------------------------------------------

    def ingest(self, inputs: Sequence[str]) -> None:
        """Read, clean and store the articles of ``inputs`` (paths and URLs)."""
        self.ingest_documents(read_inputs(inputs, self.config.ingest))

    def ingest_documents(self, items: Iterable[RawDocument | Problem]) -> None:
        """Clean and store documents already read (by ingest, a feed watcher or the HTTP API),
        committing every INGEST_BATCH; problems are kept for the summary and the store's log."""
        batch: list[Article] = []
        task = self.progress.task("ingest", total=None)

        def flush() -> None:
            for result in self.store.add_articles(batch):
                setattr(self.summary, result, getattr(self.summary, result) + 1)
            batch.clear()

        seen: set[str] = set()
        for item in items:
            if isinstance(item, Problem):
                self.summary.problems.append(item)
                continue
            self.summary.read += 1
            article = clean_document(item, self.config.clean)
            if isinstance(article, Problem):
                self.summary.problems.append(article)
            elif article.id in seen:
                self.summary.problems.append(Problem(item.origin, f"duplicate id {article.id!r} in this run"))
            else:
                seen.add(article.id)
                batch.append(article)
                if len(batch) >= INGEST_BATCH:
                    flush()
            task.advance()
        flush()
        self.store.log_problems(self.summary.problems)

    def embed(self) -> None:
        """Embed every stored article that has no embedding yet (never one twice)."""
        missing = self.store.missing_embeddings(MODEL_NAME)
        task = self.progress.task("embed", total=len(missing))
        for start in range(0, len(missing), EMBED_BATCH):
            ids = missing[start:start + EMBED_BATCH]
            articles = self.store.articles(ids)
            vectors = self.embedder.encode([embedding_text(a) for a in articles])
            self.store.put_embeddings(MODEL_NAME, [a.id for a in articles], vectors)
            task.advance(len(ids))

    def enrich(self) -> None:
        """People, organisations, places, quotes and time expressions of every article not yet
        enriched (cached in the store as JSON, so no article is read twice). Large batches go to
        worker processes; results are stored chunk by chunk, in order, so a killed run keeps them."""
        from storyline.enrich.enrichment import enrich_articles

        cfg = self.config.enrich
        ids = self.store.missing_enrichment()
        task = self.progress.task("enrich", total=len(ids))
        chunks = [ids[i:i + cfg.chunk] for i in range(0, len(ids), cfg.chunk)]
        if cfg.workers > 1 and len(ids) >= cfg.parallel_min_articles:
            with _enrich_pool(cfg.workers) as pool:
                window = cfg.workers * 3  # chunks in flight: bounds memory on huge runs
                for start in range(0, len(chunks), window):
                    batch = [self.store.articles(c) for c in chunks[start:start + window]]
                    for articles, dicts in zip(batch, pool.map(enrich_to_dicts, batch)):
                        self.store.put_enrichment({a.id: d for a, d in zip(articles, dicts)})
                        task.advance(len(articles))
            return
        for chunk in chunks:
            articles = self.store.articles(chunk)
            results = enrich_articles(articles)
            self.store.put_enrichment({a.id: r.to_dict() for a, r in zip(articles, results)})
            task.advance(len(articles))

    def cluster(self, articles: list[Article]) -> tuple[ArticleFeatures, list[Event], list[Storyline]]:
        """Place new articles into events (existing memberships stay), then link storylines."""
        embeddings = self.store.embeddings(MODEL_NAME, [a.id for a in articles])
        features = build_features(articles, embeddings)
        existing = self.store.assignments()
        keys = cluster_events(features, self.config.cluster, existing)
        row_of = {a: r for r, a in enumerate(features.ids)}
        members: dict[str, list[str]] = {}
        for a in features.ids:  # insertion order
            members.setdefault(keys[a], []).append(a)
        known_ids = set(existing.values())
        events = []
        for key, ids in members.items():
            event_id = key if key in known_ids else event_id_for(key)
            dates = sorted(d for d in (articles[row_of[i]].date for i in ids) if d)
            titles = [articles[row_of[i]].title for i in ids if articles[row_of[i]].title]
            events.append(Event(id=event_id, article_ids=ids, date=dates[len(dates) // 2] if dates else None,
                                title=titles[0] if titles else ""))  # synthesis writes a better one
        groups = [[row_of[i] for i in e.article_ids] for e in events]
        numbers = link_storylines(features, groups, self.config.cluster)
        by_number: dict[int, list[Event]] = {}
        for event, number in zip(events, numbers):
            by_number.setdefault(number, []).append(event)
        storylines = []
        for group in by_number.values():
            group.sort(key=lambda e: (e.date is None, e.date or 0, e.id))
            sid = storyline_id_for(min(e.id for e in group))
            for e in group:
                e.storyline_id = sid
            storylines.append(Storyline(id=sid, event_ids=[e.id for e in group]))
        return features, events, storylines

    def sentence_vectors(self, article: Article) -> np.ndarray:
        return self.sentences.encode(article_sentences(article))

    def dedup(self, articles: list[Article], events: list[Event], features: ArticleFeatures) -> None:
        by_id = {a.id: a for a in articles}
        row_of = {a: r for r, a in enumerate(features.ids)}
        links = find_copies(articles, self.config.dedup)
        copied = {link.article_id for link in links}
        members = [[by_id[i] for i in e.article_ids] for e in events]
        links += find_rewrites(
            members,
            lambda arts: features.embeddings[[row_of[a.id] for a in arts]],  # loaded once, by cluster
            self.sentence_vectors, copied, self.config.dedup,
        )
        self.store.replace_duplicates(links)
        self.summary.duplicates = Counter(link.kind for link in links)

    def describe(self, articles: list[Article], events: list[Event]) -> None:
        """For every event whose articles changed: its entities, quotes and timeline (merged from
        the articles' enrichment) and, when enabled, its title, cited summary and comparison."""
        from storyline.enrich.enrichment import ArticleEnrichment, merge_event
        from storyline.synthesize import synthesize_event

        by_id = {a.id: a for a in articles}
        todo = []
        for e in events:
            digest = hashlib.sha1("\n".join(sorted(e.article_ids)).encode()).hexdigest()
            data = self.store.event_data(e.id)
            if data.get("members_digest") != digest or ("summary" not in data and self.config.synthesize):
                todo.append((e, digest))
        task = self.progress.task("describe", total=len(todo))
        for e, digest in todo:
            members = [by_id[i] for i in e.article_ids]
            cached = self.store.enrichment(e.article_ids)
            enrichment = merge_event(members, [ArticleEnrichment.from_dict(cached[i]) for i in e.article_ids])
            data = {"members_digest": digest, "enrichment": enrichment.to_dict()}
            if self.config.synthesize:
                result = synthesize_event(members, self.sentences)
                data.update(result.to_dict())
                self.store.set_event_title(e.id, result.title)
            self.store.set_event_data(e.id, data)
            task.advance()

    def title_storylines(self) -> None:
        from storyline.synthesize import storyline_overview

        events = {e.id: e for e in self.store.events()}
        for s in self.store.storylines():
            members = [events[i] for i in s.event_ids if i in events]
            overview = storyline_overview(
                [(e.id, e.date, e.title, self.store.event_data(e.id).get("summary", [])) for e in members])
            biggest = max(members, key=lambda e: len(e.article_ids))
            self.store.set_storyline_title(s.id, biggest.title, {"overview": overview})

    # -- the whole run --------------------------------------------------------------------------

    def run(self, inputs: Sequence[str]) -> RunSummary:
        with self.stage("ingest+clean"):
            self.ingest(inputs)
        with self.stage("embed"):
            self.embed()
        with self.stage("enrich"):
            self.enrich()
        articles = self.store.articles()
        self.summary.articles = len(articles)
        with self.stage("cluster"):
            features, events, storylines = self.cluster(articles)
            self.store.save_clustering(events, storylines)
        with self.stage("dedup"):
            self.dedup(articles, events, features)
        with self.stage("describe"):
            self.describe(articles, events)
            if self.config.synthesize:
                self.title_storylines()
        self.summary.events = len(events)
        self.summary.storylines = len(storylines)
        return self.summary


def run(inputs: Sequence[str], out_dir: str | Path, config: Config | None = None,
        db: str | Path | None = None) -> RunSummary:
    """Process ``inputs`` into ``out_dir``: ``export.json`` and ``report.html``, with the store in
    ``db`` (a SQLite path or a PostgreSQL URL; default ``out_dir/storyline.db``)."""
    from storyline.export import write_outputs

    config = config or Config()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open_store(db or out / "storyline.db") as store, Progress(enabled=config.progress) as progress:
        pipeline = Pipeline(store, config, progress)
        summary = pipeline.run(inputs)
        with pipeline.stage("export"):
            write_outputs(store, out)
    summary.out_dir = out
    return summary
