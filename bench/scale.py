"""Incremental cost: what adding articles costs as the store grows from 1k to 100k articles.

The stream (texts stay under /tmp, never in the repo; gold_* fields stripped with strip_gold):
articles of about 500 words built from the dev sets' real articles (basil-dev, ecbplus-dev,
allsides-dev) with sentence-level perturbations, as bench/throughput.py builds its synthetic corpus:
each keeps a real article's title and two-sentence lead, is filled up with sentences of other real
articles of the same data set, its later sentences shuffled and ~10 % dropped (no exact copies). Unlike
throughput.py, dates advance with the stream, PER_DAY articles a day (a steady news feed), so that
events go quiet and close as they would on a live feed. The texts read like news but mix stories:
this measures cost, not clustering quality.

Stores of 1k, 10k and 100k articles are the first N articles of the stream, built in chunks of
5,000 through the same pipeline (real ingest, cleaning, MiniLM embeddings, clustering, dedup), except
enrichment: each built article carries the stored spaCy enrichment of the real article it grew from
(enriching 100k articles on 2 shared cores takes about an hour; the enrichment of stored articles is
only read by describe). The probe is the next PROBE articles of the stream, added to a copy of each
store (flushed to disk before the clock since the ninth session) by one `Pipeline.run` in a fresh
process, every stage real, enrichment included, synthesis off (Config.synthesize=False: titles and
summaries are another engineer's stage and cost the same per changed event at any N). The embedding model is loaded before the clock starts (a long-running ingest
process holds it); the enrichment workers start inside the run, as they do in every run.

Naive: the same probe on a copy of the same store with the pipeline as it was before this change
(git commit NAIVE_COMMIT: every run loads every article, fits TF-IDF on the whole store, clusters
against all of them, MinHashes every article again and re-checks every event), imported from a git
worktree.

    .venv/bin/python bench/scale.py build            # the stream and the three stores (~35 min idle)
    nice -n 19 .venv/bin/python bench/scale.py build --resume --no-lock   # go on, yielding to other jobs
    .venv/bin/python bench/scale.py probe            # incremental probe at each size, naive at 1k/10k
    .venv/bin/python bench/scale.py probe --naive-sizes 1000,10000,100000
    .venv/bin/python bench/scale.py report           # bench/results/scale.{json,md}, docs/scale.png
    .venv/bin/python bench/scale.py tokens           # cache the articles' clustering tokens in the stores
    .venv/bin/python bench/scale.py embed            # the stores' article vectors as the current code reads them
    .venv/bin/python bench/scale.py rewrites         # the stores' hot rewrites checked, as a steady state has them
    .venv/bin/python bench/scale.py probe --naive-sizes "" --src /tmp/before/src --label before
    .venv/bin/python bench/scale.py probe --naive-sizes "" --label after
    .venv/bin/python bench/scale.py probe --naive-sizes "" --warm-workers --label "workers kept"

``tokens`` fills a built store's token cache (``article_tokens``: what the cluster stage keeps of
each article it analysed, so that later runs read the hot set's tokens instead of analysing its
texts again): a store built by the current pipeline has it; one built before has not, and its first
run would analyse the whole hot set once. Code that predates the cache ignores the table.
``rewrites`` checks the rewrites of a built store's open events (the build skips them): without it a
probe also embeds the sentences of every old member of the events it changes, once.
``--warm-workers`` starts the enrichment workers before the clock, as a long-running process (the
feed watcher, ``Pipeline(keep_workers=True)``) keeps them between runs, and imports scikit-learn
(since the eighth session), which such a process has imported in its first cycle; without it the
workers start inside the run and the cluster stage imports scikit-learn. ``--src`` runs the probe with another checkout's ``src`` (PYTHONPATH: the code before a change, run
back to back with the current code on the same stores); ``--label`` names the rows it writes
(rows of other labels are kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import os
import random
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import grow_text, load  # noqa: E402  (bench/throughput.py: dev sets, gold fields stripped)

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("STORYLINE_SCALE_DIR", "/tmp/storyline-scale"))
RESULTS = ROOT / "bench" / "results"
SIZES = [1000, 10000, 100000]
PROBE = 500
PER_DAY = 500
CHUNK = 5000
NAIVE_COMMIT = "a138fa8"  # the last commit before the incremental pipeline
POOLS = ("basil-dev", "ecbplus-dev", "allsides-dev")


# -- the stream -------------------------------------------------------------------------------------

def stream(n: int, words: int = 500, seed: int = 11) -> tuple[list[dict], list[str]]:
    """``n`` articles in stream order and, for each, the key of the real article it grew from."""
    rng = random.Random(seed)
    pools = [load(name) for name in POOLS]
    base_day = dt.date(2024, 1, 1)
    out, bases = [], []
    for i in range(n):
        k = i % len(pools)
        pool = pools[k]
        b = rng.randrange(len(pool))
        base = pool[b]
        out.append({"id": f"scl-{i:06d}", "title": base.get("title"), "text": grow_text(base, pool, words, rng),
                    "source": base.get("source"), "date": (base_day + dt.timedelta(days=i // PER_DAY)).isoformat()})
        bases.append(f"{POOLS[k]}:{b}")
    return out, bases


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")


def base_enrichment() -> dict[str, dict]:
    """The real enrichment (spaCy NER, quotes, time expressions) of every dev-set article."""
    from storyline.clean import clean_document
    from storyline.config import CleanConfig
    from storyline.enrich.enrichment import enrich_articles
    from storyline.records import Article, RawDocument

    keys, articles = [], []
    for name in POOLS:
        for b, r in enumerate(load(name)):
            doc = RawDocument(id=f"{name}:{b}", origin=name, text=r.get("text"), title=r.get("title"),
                              published_at=r.get("date"))
            a = clean_document(doc, CleanConfig())
            if isinstance(a, Article):
                keys.append(a.id)
                articles.append(a)
    return {k: r.to_dict() for k, r in zip(keys, enrich_articles(articles))}


@contextmanager
def heavy_lock() -> Iterator[None]:
    """The machine's lock for heavy jobs (as `flock /tmp/storyline-heavy.lock`), taken per chunk so that
    other jobs can run between chunks of a long build."""
    with open("/tmp/storyline-heavy.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build(sizes: list[int], resume: bool = False, lock: bool = True) -> None:
    from storyline.config import Config
    from storyline.pipeline import Pipeline
    from storyline.store import Store

    WORK.mkdir(parents=True, exist_ok=True)
    total = max(SIZES) + PROBE  # one stream for every size: a smaller store is a prefix of a bigger one
    if resume and (WORK / "bases.json").exists():
        rows = [json.loads(line) for line in (WORK / "stream.jsonl").open(encoding="utf-8")]
        bases = json.loads((WORK / "bases.json").read_text())
    else:
        rows, bases = stream(total)
        write_jsonl(WORK / "stream.jsonl", rows)
        (WORK / "bases.json").write_text(json.dumps(bases))
    enrichment_file = WORK / "base_enrichment.json"
    if not enrichment_file.exists():
        t = time.perf_counter()
        enrichment_file.write_text(json.dumps(base_enrichment()))
        print(f"base enrichment {time.perf_counter() - t:.0f}s", flush=True)
    enriched = json.loads(enrichment_file.read_text())
    base_of = dict(zip((r["id"] for r in rows), bases))

    class BuildPipeline(Pipeline):
        """The pipeline, except that enrichment is copied from each article's real source article and
        rewrites are not looked for (copies are): sentence embeddings of 100k articles would double
        the build. The probe then embeds stored sentences a steady-state store has cached: pessimistic."""

        def enrich(self) -> None:
            ids = self.store.missing_enrichment()
            empty = {"mentions": [], "quotes": [], "timexes": [], "happenings": []}
            self.store.put_enrichment({i: {**enriched.get(base_of[i], empty), "article_id": i} for i in ids})

        def dedup(self, features, events) -> None:  # type: ignore[override]
            super().dedup(features, [])

    config = Config()
    config.progress = False
    config.synthesize = False
    db = WORK / "store.db"
    if not resume:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    with Store(db) as store:
        done = store.article_count()  # a killed build goes on where it stopped (the pipeline completes it)
        pipeline = BuildPipeline(store, config)
        for size in sizes:
            while done < size:
                end = min(size, done + CHUNK)
                chunk = WORK / "chunk.jsonl"
                write_jsonl(chunk, rows[done:end])
                with heavy_lock() if lock else nullcontext():
                    t = time.perf_counter()
                    pipeline.summary = type(pipeline.summary)()
                    summary = pipeline.run([str(chunk)])
                print(f"built {end} articles: +{end - done} in {time.perf_counter() - t:.0f}s,"
                      f" loaded {summary.clustered}, {summary.stage_seconds}", flush=True)
                done = end
            if not (WORK / f"store-{size}.db").exists():
                store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                shutil.copyfile(db, WORK / f"store-{size}.db")


# -- the probe --------------------------------------------------------------------------------------

def probe_child(db: str, probe: str, out: str, warm_workers: bool = False) -> None:
    """Runs in a fresh process: one pipeline run adding the probe to the store. ``warm_workers``:
    the enrichment workers are started (spaCy loaded) before the clock, as a long-running process
    (the feed watcher) keeps them between runs."""
    import resource

    import storyline
    from storyline.config import Config
    from storyline.pipeline import Pipeline
    from storyline.store import Store

    config = Config()
    config.progress = False
    config.synthesize = False
    with Store(db) as store:
        before = store.article_count()
        # (code from before the seventh session, run with --src, has no keep_workers)
        pipeline = Pipeline(store, config, keep_workers=True) if warm_workers else Pipeline(store, config)
        pipeline.embedder.encode(["warm up"])  # model loaded before the clock starts
        if warm_workers:
            pipeline.start_enrich_workers()
            # and the libraries a run imports on first use (scikit-learn's TF-IDF: ~1.3 s), as a
            # long-running process has them after its first cycle
            import sklearn.feature_extraction.text  # noqa: F401
        t = time.perf_counter()
        summary = pipeline.run([probe])
        wall = time.perf_counter() - t
        if warm_workers:
            pipeline.close()
    Path(out).write_text(json.dumps({
        "code": str(Path(storyline.__file__).parent), "store_articles": before, "new": summary.new,
        "wall_s": wall, "stage_seconds": summary.stage_seconds,
        "clustered": getattr(summary, "clustered", None),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "workers_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


def fill_tokens(size: int) -> None:
    """Cache the clustering tokens of every article of ``store-{size}.db`` (see the docstring)."""
    from storyline.cluster.features import article_tokens
    from storyline.store import Store

    with Store(WORK / f"store-{size}.db") as store:
        ids = [r[0] for r in store.conn.execute("SELECT id FROM articles ORDER BY seq")]
        t = time.perf_counter()
        for start in range(0, len(ids), CHUNK):
            article_tokens(store.articles(ids[start:start + CHUNK]), store)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"store-{size}: tokens of {len(ids)} articles cached in {time.perf_counter() - t:.0f}s", flush=True)


def fill_rewrites(size: int) -> None:
    """Check the rewrites of the open events of ``store-{size}.db`` (its hot set), as a build that
    looked for them would have left it: links, cached sentence vectors and check keys. The build skips
    them (see BuildPipeline), so that a probe on a store without them pays, on top of its own work,
    for the first check of every old member of each event it changes."""
    from storyline.config import Config
    from storyline.pipeline import Pipeline
    from storyline.store import Store

    config = Config()
    config.progress = False
    with Store(WORK / f"store-{size}.db") as store:
        pipeline = Pipeline(store, config)
        events = [e for e in store.events() if e.open]
        t = time.perf_counter()
        pipeline.dedup(None, events)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"store-{size}: rewrites of {sum(len(e.article_ids) for e in events)} articles in {len(events)} open"
          f" events checked in {time.perf_counter() - t:.0f}s, {pipeline.summary.duplicates}", flush=True)


def embed_again(size: int) -> None:
    """Give ``store-{size}.db`` the article vectors the current code reads (its embed stage: what the
    next run of a store made with another lead budget does first), so that a probe times 500 new
    articles, not the store's re-embedding."""
    from storyline.config import Config
    from storyline.pipeline import Pipeline
    from storyline.store import Store

    config = Config()
    config.progress = False
    with Store(WORK / f"store-{size}.db") as store:
        pipeline = Pipeline(store, config)
        todo = len(store.missing_embeddings(pipeline.article_model))
        t = time.perf_counter()
        pipeline.embed()
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"store-{size}: {todo} articles embedded again in {time.perf_counter() - t:.0f}s", flush=True)


def naive_tree() -> Path:
    tree = WORK / "naive-src"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), NAIVE_COMMIT], check=True)
    return tree


def probe(size: int, naive: bool, src: str | None = None, label: str = "", warm_workers: bool = False) -> dict:
    rows = [json.loads(line) for line in (WORK / "stream.jsonl").open(encoding="utf-8")]
    probe_file = WORK / f"probe-{size}.jsonl"
    write_jsonl(probe_file, rows[size:size + PROBE])
    copy = WORK / "probe.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(WORK / f"store-{size}.db", copy)
    # Flush the copy's ~2 GB of dirty pages now: left to the kernel, the run's first commit waited
    # for them (0.9 s of the 100k probe's ingest stage; a live store is not a file just written).
    os.sync()
    env = dict(os.environ)
    if naive:
        env["PYTHONPATH"] = str(naive_tree() / "src")
    elif src:
        env["PYTHONPATH"] = str(Path(src).resolve())
    out = WORK / "probe-result.json"
    out.unlink(missing_ok=True)
    subprocess.run([sys.executable, __file__, "_probe", str(copy), str(probe_file), str(out)]
                   + (["warm"] if warm_workers else []), env=env, check=True)
    result = json.loads(out.read_text())
    if naive != ("naive-src" in result["code"]) or (src and not result["code"].startswith(str(Path(src).resolve()))):
        raise RuntimeError(f"ran the wrong code: {result['code']}")
    stages = result["stage_seconds"]
    core = sum(v for k, v in stages.items() if k != "enrich")
    row = {"store_articles": size, "way": "naive" if naive else "incremental", "label": label, "probe": result["new"],
           "seconds": round(result["wall_s"], 2),
           "ms_per_article": round(1000 * result["wall_s"] / result["new"], 2),
           "ms_per_article_without_enrich": round(1000 * core / result["new"], 2),
           "articles_per_s": round(result["new"] / result["wall_s"], 1),
           "articles_per_s_without_enrich": round(result["new"] / core, 1),
           "peak_rss_mib": round(result["peak_rss_mib"]),
           "enrich_workers_peak_rss_mib": round(result["workers_peak_rss_mib"]),
           "clustered": result["clustered"],
           "stage_seconds": {k: round(v, 2) for k, v in stages.items()}}
    print(json.dumps(row), flush=True)
    return row


def report(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = {"machine": f"{os.cpu_count()} cores", "python": sys.version.split()[0], "date": dt.date.today().isoformat(),
            "probe": PROBE, "per_day": PER_DAY, "synthesize": False, "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(meta, indent=1))
    lines = ["| store | way | ms/article | ms/article without enrich | articles/s | articles/s without enrich |"
             " peak RSS MiB | articles loaded by cluster | cluster s | dedup s | describe s | enrich s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["way"], r.get("label", ""), r["store_articles"])):
        s = r["stage_seconds"]
        lines.append(f"| {r['store_articles']:,} | {_series(r)} | {r['ms_per_article']} |"
                     f" {r['ms_per_article_without_enrich']} | {r['articles_per_s']} |"
                     f" {r['articles_per_s_without_enrich']} | {r['peak_rss_mib']} |"
                     f" {r['clustered'] if r['clustered'] is not None else 'all'} | {s.get('cluster', 0)} |"
                     f" {s.get('dedup', 0)} | {s.get('describe', 0)} | {s.get('enrich', 0)} |")
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.4))
    # The plot shows the first series, the latest labelled one and the naive way; the table keeps
    # every row (earlier sessions' series, before/after pairs, repeated runs "..., run 2").
    labelled = [_series(r) for r in rows if r.get("label") and ", run " not in r["label"] and r["way"] != "naive"]
    shown = {"incremental", "naive", *labelled[-1:]}
    series = sorted({_series(r) for r in rows} & shown, key=lambda name: (name.startswith("naive"), name))
    styles = {"naive": ("s--", "C3")}
    for k, name in enumerate(series):
        style, color = styles.get(name, ("o-", f"C{[0, 2, 1, 4, 5, 6, 8, 9][k % 8]}"))
        mine = sorted((r for r in rows if _series(r) == name), key=lambda r: r["store_articles"])
        n = [r["store_articles"] for r in mine]
        ax_t.plot(n, [r["ms_per_article"] for r in mine], style, color=color, label=f"{name}, whole pipeline")
        ax_t.plot(n, [r["ms_per_article_without_enrich"] for r in mine], style, color=color, alpha=0.4,
                  label=f"{name}, without enrichment")
        ax_m.plot(n, [r["peak_rss_mib"] for r in mine], style, color=color, label=name)
    for ax, title, unit in ((ax_t, f"time per added article ({PROBE} added)", "ms per article"),
                            (ax_m, "peak memory of the run", "MiB")):
        ax.set_xscale("log")
        ax.set_xlabel("articles already in the store")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper left" if ax is ax_t else "lower right")  # the memory lines sit high
    ax_m.set_ylim(bottom=0)
    # Naive at 100k is ~20x the incremental cost: a log scale keeps the incremental lines readable.
    ax_t.set_yscale("log")
    ax_t.set_ylim(top=ax_t.get_ylim()[1] * 20)  # headroom for the legend above the lines
    fig.tight_layout()
    (ROOT / "docs").mkdir(exist_ok=True)
    fig.savefig(ROOT / "docs" / "scale.png", dpi=110)


def _series(row: dict) -> str:
    return f"{row['way']} ({row['label']})" if row.get("label") else row["way"]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_probe":
        probe_child(*sys.argv[2:5], warm_workers=sys.argv[5:6] == ["warm"])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["build", "probe", "report", "tokens", "embed", "rewrites"])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--naive-sizes", default="1000,10000")
    parser.add_argument("--resume", action="store_true", help="build: go on from the store built so far")
    parser.add_argument("--no-lock", action="store_true",
                        help="build: do not take the heavy-jobs lock per chunk (run it under `nice -n 19` instead)")
    parser.add_argument("--src", default=None, help="probe: run this src folder (PYTHONPATH), e.g. the code before a change")
    parser.add_argument("--label", default="", help="probe: the label of the rows written (others are kept)")
    parser.add_argument("--warm-workers", action="store_true",
                        help="probe: start the enrichment workers before the clock, as the feed watcher keeps them")
    args = parser.parse_args()
    rows_file = WORK / "rows.json"
    if args.command == "build":
        build([int(s) for s in args.sizes.split(",") if s], resume=args.resume, lock=not args.no_lock)
    elif args.command == "probe":
        rows = json.loads(rows_file.read_text()) if rows_file.exists() else []
        for size in (int(s) for s in args.sizes.split(",") if s):
            rows = [r for r in rows if not (r["store_articles"] == size and r["way"] == "incremental"
                                            and r.get("label", "") == args.label)]
            rows.append(probe(size, naive=False, src=args.src, label=args.label, warm_workers=args.warm_workers))
            rows_file.write_text(json.dumps(rows))
        for size in (int(s) for s in args.naive_sizes.split(",") if s):
            rows = [r for r in rows if not (r["store_articles"] == size and r["way"] == "naive")]
            rows.append(probe(size, naive=True))
            rows_file.write_text(json.dumps(rows))
    elif args.command == "embed":
        for size in (int(s) for s in args.sizes.split(",") if s):
            embed_again(size)
    elif args.command == "tokens":
        for size in (int(s) for s in args.sizes.split(",") if s):
            fill_tokens(size)
    elif args.command == "rewrites":
        for size in (int(s) for s in args.sizes.split(",") if s):
            fill_rewrites(size)
    else:
        report(json.loads(rows_file.read_text()))


if __name__ == "__main__":
    main()
