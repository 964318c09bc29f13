"""The driver of ``storyline batch``: Dask tasks for the per-article work, the store and the rest of
the pipeline here.

1. plan partitions (``partitions.py``) and submit one *clean* task per partition;
2. take the results in partition order and store the articles in batches, exactly as
   ``Pipeline.ingest`` does (same order, same duplicate-id rule, same problems);
3. submit *embed* tasks (the texts ``Pipeline.embed`` would embed) and *enrich* tasks (articles as
   dicts) over the articles the store still lacks; embedding chunks are
   ``EMBED_BATCH`` in store order, the chunks ``Pipeline.embed`` would make.
   This matters: the int8 MiniLM quantises activations per batch, so a vector depends on which
   texts share its batch (cosine 0.993 between two batchings of the same texts, measured); cutting
   at the same places gives ``run``'s vectors bit for bit, hence ``run``'s events;
4. write embeddings and enrichment as they arrive, then run the remaining stages (cluster -> dedup ->
   describe) with the normal :class:`~storyline.pipeline.Pipeline` and write the same export.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from storyline.batch.partitions import Partition, plan_partitions
from storyline.batch.tasks import ModelsPlugin, article_to_dict, clean_partition, embed_chunk, enrich_chunk
from storyline.config import Config
from storyline.enrich.embed import article_model
from storyline.pipeline import EMBED_BATCH, INGEST_BATCH, Pipeline, RunSummary, embedding_text
from storyline.progress import Progress
from storyline.records import Article, Problem
from storyline.store import Store, open_store

DEFAULT_WORKERS = 2
DEFAULT_THREADS = 1
WAIT_FOR_WORKERS_S = 300  # a scheduler without workers: give up after this
ENRICH_MIN = 16  # smallest enrichment chunk (spaCy's batch)


@dataclass(slots=True)
class BatchResult:
    summary: RunSummary
    partitions: int = 0
    chunks: int = 0
    workers: int = 0
    scheduler: str = ""
    dashboard: str = ""  # the Dask dashboard's address, when it has one
    worker_pids: set[int] = field(default_factory=set)  # processes that ran tasks
    task_seconds: dict[str, float] = field(default_factory=dict)  # summed over tasks, per kind

    def to_dict(self) -> dict:
        return {**self.summary.to_dict(), "engine": "dask", "partitions": self.partitions,
                "chunks": self.chunks, "workers": self.workers, "scheduler": self.scheduler,
                "dashboard": self.dashboard,
                "task_seconds": self.task_seconds}


@contextmanager
def dask_client(scheduler: str | None = None, workers: int = DEFAULT_WORKERS,
                threads_per_worker: int = DEFAULT_THREADS) -> Iterator[object]:
    """A ``distributed.Client``: connected to ``scheduler``, or to a new ``LocalCluster`` of
    ``workers`` processes x ``threads_per_worker`` threads, closed on exit."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - optional extra
        raise RuntimeError("storyline batch needs Dask: pip install 'storyline[dask]'") from exc
    if scheduler:
        client = Client(scheduler)
        try:
            client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)  # a clear error, not a silent hang
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker, processes=True,
                           dashboard_address=":0", silence_logs=logging.WARNING)  # any free port
    client = Client(cluster)
    try:
        yield client
    finally:
        nanny = logging.getLogger("distributed.nanny")
        level = nanny.level
        nanny.setLevel(logging.ERROR)  # "still alive after 4 s, killing" on a busy machine: harmless
        try:
            client.close()
            cluster.close()
        finally:
            nanny.setLevel(level)


class _Windowed:
    """Submit tasks with at most ``limit`` in flight; yield results as they complete."""

    def __init__(self, client, limit: int) -> None:
        from distributed import as_completed

        self.client = client
        self.limit = max(1, limit)
        self.pending: deque = deque()
        self.running = as_completed()

    def run(self, jobs) -> Iterator[dict]:
        jobs = iter(jobs)
        exhausted = False
        in_flight = 0
        while True:
            while not exhausted and in_flight < self.limit:
                job = next(jobs, None)
                if job is None:
                    exhausted = True
                    break
                self.running.add(self.client.submit(*job, pure=False))
                in_flight += 1
            if in_flight == 0:
                return
            future = next(self.running)
            in_flight -= 1
            result = future.result()
            future.release()
            yield result


def _chunks(ids: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def run_batch(
    inputs: Sequence[str],
    out_dir: str | Path,
    config: Config | None = None,
    *,
    scheduler: str | None = None,
    partitions: int | None = None,
    workers: int = DEFAULT_WORKERS,
    threads_per_worker: int = DEFAULT_THREADS,
    client=None,
    db: str | Path | None = None,
) -> BatchResult:
    """Process ``inputs`` into ``out_dir`` (``storyline.db``, ``export.json``, ``report.html``) as
    ``storyline.pipeline.run`` does, with reading, cleaning, embedding and enrichment as Dask tasks.

    ``client``: an existing ``distributed.Client`` (else one is made from ``scheduler``, or a new
    ``LocalCluster`` of ``workers`` x ``threads_per_worker``). ``db``: the store, a SQLite path or a
    PostgreSQL URL (default ``out_dir/storyline.db``); only the client writes to it."""
    from storyline.export import write_outputs

    config = copy.deepcopy(config or Config())
    if client is None and not scheduler:
        # onnxruntime threads per worker: share the machine's cores (vectors do not depend on it)
        config.embed.threads = max(1, (os.cpu_count() or 1) // max(1, workers * threads_per_worker))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = RunSummary()
    result = BatchResult(summary)

    def timed(name: str, start: float) -> None:
        summary.stage_seconds[name] = summary.stage_seconds.get(name, 0.0) + time.perf_counter() - start

    t0 = time.perf_counter()
    with open_store(db or out / "storyline.db") as store, Progress(enabled=config.progress) as progress:
        if client is None:
            ctx = dask_client(scheduler, workers, threads_per_worker)
        else:
            ctx = _given(client)
        with ctx as dask:
            timed("dask start", t0)
            t = time.perf_counter()
            dask.register_plugin(ModelsPlugin(config.embed), name=ModelsPlugin.name)
            timed("load models", t)
            threads = sum(dask.nthreads().values()) or 1
            result.workers = len(dask.nthreads())
            result.scheduler = dask.scheduler.address if dask.scheduler else ""
            try:
                result.dashboard = dask.dashboard_link or ""
            except Exception:  # noqa: BLE001 - no dashboard (bokeh missing, or turned off)
                result.dashboard = ""

            t = time.perf_counter()
            plan, result.partitions = plan_partitions(inputs, partitions, min_partitions=2 * threads,
                                                      config=config.ingest)
            _ingest(dask, plan, store, config, summary, result, progress, window=4 * threads + 2)
            timed("ingest+clean", t)

            t = time.perf_counter()
            _embed_and_enrich(dask, store, config, result, progress, threads)
            timed("embed+enrich", t)

        problems = summary.problems
        pipeline = Pipeline(store, config, progress)
        summary.problems = []
        pipeline.summary = summary
        pipeline.run([])  # nothing left to read, embed or enrich: cluster -> dedup -> describe
        summary.problems = problems
        for key in ("embed", "enrich"):  # the empty passes of run([]): done above as "embed+enrich"
            summary.stage_seconds.pop(key, None)
        with pipeline.stage("export"):
            write_outputs(store, out)
    summary.out_dir = out
    return result


@contextmanager
def _given(client) -> Iterator[object]:
    yield client


def _ingest(dask, plan: list[Partition | Problem], store: Store, config: Config, summary: RunSummary,
            result: BatchResult, progress: Progress, window: int) -> None:
    """Clean tasks for every partition; results stored in partition order (as Pipeline.ingest)."""
    parts = [p for p in plan if isinstance(p, Partition)]
    futures: dict[int, object] = {}
    ahead = iter(parts)  # submitted at most ``window`` ahead of the one being stored: bounded memory

    def submit_more() -> None:
        while len(futures) < window:
            p = next(ahead, None)
            if p is None:
                return
            futures[p.number] = dask.submit(clean_partition, p, config, pure=False)

    task = progress.task("ingest", total=len(parts))
    batch: list[Article] = []
    seen: set[str] = set()
    shard_items: dict[str, int] = {}
    from storyline.batch.tasks import article_from_dict

    def flush() -> None:
        for added in store.add_articles(batch):
            setattr(summary, added, getattr(summary, added) + 1)
        batch.clear()

    for entry in plan:
        if isinstance(entry, Problem):
            summary.problems.append(entry)
            continue
        submit_more()
        future = futures.pop(entry.number)
        out = future.result()
        future.release()
        result.worker_pids.add(out["worker"])
        result.task_seconds["clean"] = result.task_seconds.get("clean", 0.0) + out["seconds"]
        for kind, *rest in out["entries"]:
            if kind == "problem":
                summary.problems.append(Problem(rest[0], rest[1]))
                continue
            summary.read += 1
            if kind == "rejected":
                summary.problems.append(Problem(rest[0], rest[1]))
                continue
            article = article_from_dict(rest[0])
            if article.id in seen:
                summary.problems.append(Problem(article.origin, f"duplicate id {article.id!r} in this run"))
                continue
            seen.add(article.id)
            batch.append(article)
            if len(batch) >= INGEST_BATCH:
                flush()
        for name, n in out["shards"].items():
            shard_items[name] = shard_items.get(name, 0) + n
        for unit in entry.units:  # a sharded file that held nothing at all, as read_json_file says
            if getattr(unit, "count", 0) and unit.index == unit.count - 1 and not shard_items.get(unit.origin):
                summary.problems.append(Problem(unit.origin, "empty"))
        task.advance()
    flush()
    store.log_problems(summary.problems)


def _embed_and_enrich(dask, store: Store, config: Config, result: BatchResult, progress: Progress,
                      threads: int) -> None:
    """Embed and enrich what the store lacks, in Pipeline's chunks, as tasks; write as they come."""
    key = article_model(config.embed)
    need_vectors = store.missing_embeddings(key)
    need_enrichment = store.missing_enrichment()
    # Enrichment does not depend on how articles are batched (checked: same dicts for any cut), so
    # its chunks are cut smaller, enough to keep every worker thread busy.
    enrich_size = max(ENRICH_MIN, min(EMBED_BATCH, -(-len(need_enrichment) // (2 * threads))))

    def jobs() -> Iterator[tuple]:
        for ids in _chunks(need_vectors, EMBED_BATCH):
            articles = store.articles(ids)
            yield embed_chunk, [a.id for a in articles], [embedding_text(a) for a in articles], config.embed
        for ids in _chunks(need_enrichment, enrich_size):
            yield enrich_chunk, [article_to_dict(a) for a in store.articles(ids)], config.embed

    total = -(-len(need_vectors) // EMBED_BATCH) + -(-len(need_enrichment) // enrich_size)
    result.chunks = total
    task = progress.task("embed+enrich", total=total)
    for out in _Windowed(dask, 2 * threads + 2).run(jobs()):
        result.worker_pids.add(out["worker"])
        if "vectors" in out:
            store.put_embeddings(key, out["ids"], np.asarray(out["vectors"], dtype=np.float32))
            kind = "embed"
        else:
            store.put_enrichment(out["enrichment"])
            kind = "enrich"
        result.task_seconds[kind] = result.task_seconds.get(kind, 0.0) + out["seconds"]
        task.advance()
