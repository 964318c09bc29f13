"""The pipeline: ingest -> clean -> store -> embed -> enrich -> cluster -> dedup -> describe -> export.

Each stage is a small function over the store; ``run`` calls them in order, times them and reports
progress. Every stage only does what is missing (articles not yet stored, embedded, clustered or
synthesised), so re-running with the same input changes nothing and a killed run is completed by
the next one.

A run's cost follows the new articles and the hot set (the members of open events), not the store:
clustering loads only those, events that went quiet close and are never loaded again (they keep
their members and join storylines through an events-level centroid index), copies are looked up in
the store's content-hash index and LSH band table, and dedup and describe touch only the events
whose members changed (marked dirty in the store until both are done). Only export reads everything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import os
import time
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from storyline.clean import clean_document
from storyline.cluster.events import cluster_events
from storyline.cluster.features import ArticleFeatures, build_features, day_number
from storyline.cluster.storylines import ClosedEvents, closed_links, event_centroids, link_storylines, top_terms
from storyline.config import Config
from storyline.dedup import article_sentences, check_keys, find_new_copies, find_rewrites
from storyline.enrich.embed import MODEL_NAME as SENTENCE_MODEL, CachedEmbedder, Embedder, article_model
from storyline.ingest import read_inputs
from storyline.progress import Progress
from storyline.records import Article, Event, Problem, RawDocument, Storyline
from storyline.store import Store, open_store

INGEST_BATCH = 200
EMBED_BATCH = 256
DEDUP_BATCH = 2000  # articles checked for copies per transaction, or whose sentences are embedded per call
LEAD_CHARS = 1200  # title + lead: more than lead_tokens word pieces; the rest of the text is not embedded


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
    clustered: int = 0  # articles loaded by the cluster stage: the hot set and the new ones, never the store
    events_written: int = 0  # events whose row or members the cluster stage wrote
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
            "clustered": self.clustered, "events_written": self.events_written,
            "stage_seconds": self.stage_seconds, "seconds": self.seconds,
        }


def enrich_to_dicts(articles: list[Article]) -> list[dict]:
    """Worker-process task: the enrichment of some articles, as the store keeps it."""
    from storyline.enrich.enrichment import enrich_articles

    return [r.to_dict() for r in enrich_articles(articles)]


def warm_enrichment() -> None:
    """Worker-process task: load the enrichment models (spaCy, ~2 s) before the first chunk comes."""
    from storyline.enrich.nlp import load_ner

    load_ner()


def _start_enrich_pool(workers: int) -> tuple[ProcessPoolExecutor, list[Future]]:
    """Spawned workers (never forked from a process that runs onnxruntime and faiss threads), each
    with one BLAS thread, so that two of them share two cores without oversubscribing; each starts
    loading the models at once. The one-thread settings are in the environment only while the
    workers are spawned (each ``submit`` spawns one while none is idle). Returns the pool and the
    futures of the models' loading."""
    saved = {k: os.environ.get(k) for k in _ONE_THREAD}
    os.environ.update(_ONE_THREAD)
    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        loading = [pool.submit(warm_enrichment) for _ in range(workers)]
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return pool, loading


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

    def __init__(self, store: Store, config: Config | None = None, progress: Progress | None = None,
                 keep_workers: bool = False) -> None:
        self.store = store
        self.config = config or Config()
        self.progress = progress or Progress(enabled=False)
        self.embedder = Embedder(self.config.embed)
        self.sentences = CachedEmbedder(self.embedder, store)
        self.article_model = article_model(self.config.embed)  # the store's key of article vectors
        self.summary = RunSummary()
        # A long-lived owner (the feed watcher) keeps the enrichment workers between runs, spaCy
        # loaded, and calls close(); otherwise they live from ingest to the end of enrich.
        self.keep_workers = keep_workers
        self._enrich_workers: ProcessPoolExecutor | None = None

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
            self._warm_enrich_pool(self.summary.new + self.summary.updated)

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
        """Embed every stored article that has no vector yet, or one read with another lead budget
        (``lead_tokens``: a store made before is embedded again, once)."""
        missing = self.store.missing_embeddings(self.article_model)
        task = self.progress.task("embed", total=len(missing))
        for start in range(0, len(missing), EMBED_BATCH):
            ids = missing[start:start + EMBED_BATCH]
            articles = self.store.articles(ids)
            vectors = self.embedder.encode([embedding_text(a) for a in articles], self.config.embed.lead_tokens)
            self.store.put_embeddings(self.article_model, [a.id for a in articles], vectors)
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
        self._warm_enrich_pool(len(ids))
        if self._enrich_workers is not None:
            pool = self._enrich_workers
            done = False
            try:
                # A sliding window of chunks in flight (bounds memory on huge runs): a new chunk
                # goes out as soon as the oldest comes back, before its results are stored, so
                # the workers never wait for the store.
                todo = iter(chunks)
                in_flight: deque = deque()

                def submit() -> None:
                    chunk = next(todo, None)
                    if chunk is not None:
                        articles = self.store.articles(chunk)
                        in_flight.append((articles, pool.submit(enrich_to_dicts, articles)))

                for _ in range(cfg.workers * 3):
                    submit()
                while in_flight:
                    articles, future = in_flight.popleft()
                    dicts = future.result()
                    submit()
                    self.store.put_enrichment({a.id: d for a, d in zip(articles, dicts)})  # in order
                    task.advance(len(articles))
                done = True
            finally:
                if not (done and self.keep_workers):  # a pool that failed is never kept
                    self._close_enrich_pool()
            return
        for chunk in chunks:
            articles = self.store.articles(chunk)
            results = enrich_articles(articles)
            self.store.put_enrichment({a.id: r.to_dict() for a, r in zip(articles, results)})
            task.advance(len(articles))

    def _warm_enrich_pool(self, articles: int) -> None:
        """Start the enrichment workers as soon as a run is sure to need them (``articles`` to
        enrich): from ingest on, so that loading spaCy in each (~2 s) overlaps ingest, which
        leaves one core idle."""
        cfg = self.config.enrich
        if self._enrich_workers is None and cfg.workers > 1 and articles >= cfg.parallel_min_articles:
            self._enrich_workers, _loading = _start_enrich_pool(cfg.workers)

    def start_enrich_workers(self) -> None:
        """Start the enrichment workers now and wait until each has loaded the models (a
        long-lived process that will enrich large batches; see ``keep_workers``)."""
        cfg = self.config.enrich
        if self._enrich_workers is None and cfg.workers > 1:
            self._enrich_workers, loading = _start_enrich_pool(cfg.workers)
            for future in loading:
                future.result()

    def _close_enrich_pool(self) -> None:
        if self._enrich_workers is not None:
            pool, self._enrich_workers = self._enrich_workers, None
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Stop the enrichment workers, if any (the store is the caller's)."""
        self._close_enrich_pool()

    def cluster(self) -> ArticleFeatures | None:
        """Place the articles in no event yet among the open events (the hot set), then link
        storylines, close the events that went quiet and save what changed.

        Only the hot set and the new articles are loaded: their TF-IDF is fitted on them and faiss
        indexes their vectors. Closed events keep their members and are never loaded again; they
        take part in storylines through the events-level index of their centroids. Returns the
        features of the articles clustered (None when there was nothing new)."""
        cfg = self.config.cluster
        new_ids = self.store.unclustered()
        if not new_ids:
            return None
        hot = self.store.hot_assignments()
        seqs = self.store.article_seqs([*hot, *new_ids])
        ids = sorted(seqs, key=seqs.__getitem__)  # insertion order, as one batch over the store sees it
        articles = self.store.articles(ids)
        self.summary.clustered = len(articles)
        features = build_features(articles, self.store.embeddings(self.article_model, ids), cache=self.store)
        keys = cluster_events(features, cfg, hot)
        row_of = {a: r for r, a in enumerate(features.ids)}
        members: dict[str, list[str]] = {}
        for a in features.ids:  # insertion order
            members.setdefault(keys[a], []).append(a)
        before: dict[str, set[str]] = {}
        for a, e in hot.items():
            before.setdefault(e, set()).add(a)

        # Activity and closing: an event goes quiet once the news has moved on past it.
        new_rows = [row_of[a] for a in new_ids if a in row_of]
        newest_day = _nanmax(features.days[new_rows]) if new_rows else None
        stored_max = self.store.meta("max_day")
        days = [d for d in (newest_day, float(stored_max) if stored_max else None) if d is not None]
        max_day = min(max(days), day_number(dt.date.today()) + 1) if days else None
        max_seq = max(seqs.values())
        events = []
        for key, ids_ in members.items():
            event_id = key if key in before else event_id_for(key)
            rows = [row_of[i] for i in ids_]
            dates = sorted(d for d in (articles[r].date for r in rows) if d)
            titles = [articles[r].title for r in rows if articles[r].title]
            last_day = _nanmax(features.days[rows])
            last_seq = max(seqs[i] for i in ids_)
            quiet = (last_day < max_day - cfg.close_after_days if last_day is not None and max_day is not None
                     else last_day is None and last_seq < max_seq - cfg.close_after_articles)
            events.append(Event(id=event_id, article_ids=ids_, date=dates[len(dates) // 2] if dates else None,
                                title=titles[0] if titles else "",  # synthesis writes a better one
                                last_day=last_day, last_seq=last_seq, open=not quiet))
        changed = [e.id for e in events if before.get(e.id) != set(e.article_ids)]
        dropped = set(before) - {e.id for e in events}
        dropped |= {e.id for e in self.store.dirty_events() if not e.article_ids}  # emptied by updates

        # Storylines: hot events link among themselves, and to closed events through their centroids.
        groups = [[row_of[i] for i in e.article_ids] for e in events]
        emb, tfidf = event_centroids(features, groups)
        numbers = link_storylines(features, groups, cfg, (emb, tfidf))
        closed = ClosedEvents(*self.store.closed_centroids(), terms=self.store.centroid_terms)
        hits = closed_links(emb, tfidf, features.vocab or [], closed, cfg)
        moves = self._assign_storylines(events, numbers, [[closed.storyline_ids[j] for j in h] for h in hits])
        centroids = {e.id: (emb[k], top_terms(tfidf, k, features.vocab or []))
                     for k, e in enumerate(events) if not e.open}
        meta = {"max_day": repr(max_day)} if max_day is not None and repr(max_day) != stored_max else {}
        stored = {e.id: e for e in self.store.events(list(before))}

        def same(e: Event, old: Event | None) -> bool:
            return old is not None and (old.storyline_id, old.date, old.open, old.last_day, old.last_seq) == (
                e.storyline_id, e.date, e.open, e.last_day, e.last_seq)

        write = [e for e in events if e.id in changed or not same(e, stored.get(e.id))]
        self.summary.events_written = len(write)
        self.store.update_clustering(write, sorted(dropped), members_changed=changed, centroids=centroids,
                                     storyline_moves=moves, meta=meta)
        return features

    @staticmethod
    def _assign_storylines(events: list[Event], numbers: list[int], closed_sids: list[list[str]]) -> dict[str, str]:
        """Set each hot event's storyline id: that of the closed events its storyline links to (the
        smallest id when it bridges several, which then merge: returned as old id -> new id), else
        the id of the storyline's first event, as in one batch."""
        parent: dict[tuple[str, object], tuple[str, object]] = {}

        def find(x: tuple[str, object]) -> tuple[str, object]:
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for number, sids in zip(numbers, closed_sids):
            for sid in sids:
                parent[find(("s", sid))] = find(("n", number))
        component: dict[tuple[str, object], dict[str, list]] = {}
        for node in list(parent) + [("n", n) for n in numbers]:
            part = component.setdefault(find(node), {"sids": [], "events": []})
            if node[0] == "s" and node[1] not in part["sids"]:
                part["sids"].append(node[1])
        for event, number in zip(events, numbers):
            component[find(("n", number))]["events"].append(event)
        moves: dict[str, str] = {}
        for part in component.values():
            if not part["events"]:
                continue
            sids = sorted(part["sids"])
            sid = sids[0] if sids else storyline_id_for(min(e.id for e in part["events"]))
            moves.update({old: sid for old in sids[1:]})
            for e in part["events"]:
                e.storyline_id = sid
        return moves

    def sentence_vectors(self, articles: Sequence[Article]) -> list[np.ndarray]:
        """The rewrite check's sentence vectors of each article, embedded (or read from the cache)
        in one call per DEDUP_BATCH articles (a big first run would otherwise hold them all)."""
        out: list[np.ndarray] = []
        for start in range(0, len(articles), DEDUP_BATCH):
            sentences = [article_sentences(a) for a in articles[start:start + DEDUP_BATCH]]
            flat = self.sentences.encode([s for group in sentences for s in group])
            out.extend(np.split(flat, np.cumsum([len(group) for group in sentences])[:-1]))
        return out

    def dedup(self, features: ArticleFeatures | None, events: list[Event]) -> None:
        """Copies of the articles not yet checked (content-hash index and the store's LSH table, never
        the whole store), then rewrites inside the events whose members changed (``events``): of their
        members, only those whose check key changed (new, or new earlier members) are tested."""
        todo = self.store.missing_minhashes()
        for start in range(0, len(todo), DEDUP_BATCH):
            found = find_new_copies(self.store.articles(todo[start:start + DEDUP_BATCH]), self.store,
                                    self.config.dedup)
            self.store.put_minhashes(found.signatures, found.bands, found.links)
        ids = [a for e in events for a in e.article_ids]
        by_id = {a.id: a for a in self.store.articles(ids)}
        row_of = {a: r for r, a in enumerate(features.ids)} if features is not None else {}

        def doc_vectors(arts: Sequence[Article]) -> np.ndarray:
            if all(a.id in row_of for a in arts):  # loaded once, by cluster
                return features.embeddings[[row_of[a.id] for a in arts]]  # type: ignore[union-attr]
            return self.store.embeddings(self.article_model, [a.id for a in arts])

        members = [[by_id[i] for i in e.article_ids if i in by_id] for e in events]
        copied = self.store.copy_ids(ids)
        context = f"{self.article_model}|{SENTENCE_MODEL}"
        keys = {a: k for m in members for a, k in check_keys(m, copied, context, self.config.dedup).items()}
        stored = self.store.rewrite_checks(keys)
        settled = {a for a, k in keys.items() if stored.get(a) == k}
        links = find_rewrites(members, doc_vectors, self.sentence_vectors, copied, self.config.dedup, settled)
        self.store.replace_rewrites([i for i in ids if i not in settled], links,
                                    {a: k for a, k in keys.items() if a not in settled})
        self.summary.duplicates = Counter(self.store.duplicate_counts())

    def describe(self, events: list[Event]) -> None:
        """For every event whose articles changed: its entities, quotes and timeline (merged from
        the articles' enrichment) and, when enabled, its title, cited summary and comparison."""
        from storyline.enrich.enrichment import ArticleEnrichment, merge_event
        from storyline.synthesize import synthesize_event

        todo = []
        for e in events:
            digest = hashlib.sha1("\n".join(sorted(e.article_ids)).encode()).hexdigest()
            data = self.store.event_data(e.id)
            if data.get("members_digest") != digest or ("summary" not in data and self.config.synthesize):
                todo.append((e, digest))
        task = self.progress.task("describe", total=len(todo))
        for e, digest in todo:
            members = self.store.articles(e.article_ids)
            cached = self.store.enrichment(e.article_ids)
            enrichment = merge_event(members, [ArticleEnrichment.from_dict(cached[i]) for i in e.article_ids])
            data = {"members_digest": digest, "enrichment": enrichment.to_dict()}
            if self.config.synthesize:
                result = synthesize_event(members, self.sentences)
                data.update(result.to_dict())
                self.store.set_event_title(e.id, result.title)
            self.store.set_event_data(e.id, data)
            task.advance()

    def title_storylines(self, ids: Iterable[str] | None = None) -> None:
        """Title and overview of the storylines ``ids`` (default: all)."""
        from storyline.synthesize import storyline_overview

        storylines = self.store.storylines(ids)
        events = {e.id: e for e in self.store.events([i for s in storylines for i in s.event_ids])}
        for s in storylines:
            members = [events[i] for i in s.event_ids if i in events]
            if not members:
                continue
            overview = storyline_overview(
                [(e.id, e.date, e.title, self.store.event_data(e.id).get("summary", [])) for e in members])
            biggest = max(members, key=lambda e: len(e.article_ids))
            self.store.set_storyline_title(s.id, biggest.title, {"overview": overview})

    # -- the whole run --------------------------------------------------------------------------

    def run(self, inputs: Sequence[str]) -> RunSummary:
        try:
            with self.stage("ingest+clean"):
                self.ingest(inputs)
            with self.stage("embed"):
                self.embed()
            with self.stage("enrich"):
                self.enrich()
        finally:
            if not self.keep_workers:
                self._close_enrich_pool()  # started by ingest, normally closed by enrich
        with self.stage("cluster"):
            features = self.cluster()
        dirty = self.store.dirty_events()  # members changed: this run's, or a killed run's
        with self.stage("dedup"):
            self.dedup(features, dirty)
        with self.stage("describe"):
            self.describe(dirty)
            if self.config.synthesize:
                self.title_storylines({e.storyline_id for e in self.store.events([e.id for e in dirty])})
        self.store.clear_dirty([e.id for e in dirty])
        self.summary.articles = self.store.article_count()
        self.summary.events = self.store.event_count()
        self.summary.storylines = self.store.storyline_count()
        return self.summary


def _nanmax(values: np.ndarray) -> float | None:
    known = values[~np.isnan(values)]
    return float(known.max()) if known.size else None


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
