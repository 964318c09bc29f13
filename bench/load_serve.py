"""Load benchmark of `storyline serve`: p50/p95 latency of the event page and the search endpoint
under 20 concurrent clients for 30 s, against a store of 10,000 articles.

    .venv/bin/python bench/load_serve.py            # builds /tmp/storyline-load-10k once, then measures
    .venv/bin/python bench/load_serve.py --build-only
    .venv/bin/python bench/load_serve.py --pg "$(scripts/pg.sh)"   # the same store copied into PostgreSQL

The store: every record of the four dev sets under /work/shared/data/events (7,907 records, every
`gold_*` field and the `dataset` label stripped before the pipeline sees them; the ~240 headline-only
records of under 5 words, which the pipeline would skip as empty, left out), expanded to 10,000 with
"syndicated copies": full-text articles re-published under a new id by a fictional wire outlet, with
the last paragraph dropped and a dateline added (what syndication does to news). They are labelled
as such (source "... via Syndicate Wire", id suffix "-syn"), so the store holds the real articles
plus 2,326 derived ones (20 more than 10,000 records in all, because clean rejects 20 short
headline records as empty): the store ends with 10,000 articles. The pipeline's dedup sees the
copies as copies, as it should.

The server runs in its own process (uvicorn, one worker, as `storyline serve` starts it); clients are
asyncio + httpx over real TCP. Results: bench/results/load_serve.json and .md.

With ``--pg URL`` the same SQLite store is copied once into the schema ``load10k`` of that PostgreSQL
database (``storyline.serve.demo.copy_store``; kept for later runs) and the server runs with
``--db URL?schema=load10k``; the database server shares the machine's cores with the web app and the
load generator. Results: bench/results/load_serve_pg.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(os.environ.get("STORYLINE_DATA", "/work/shared/data/events"))
SETS = ["allsides-dev.jsonl", "basil-dev.jsonl", "ecbplus-dev.jsonl", "uci-headlines.jsonl"]
TARGET = 10_000
CLEANER_REJECTS = 20  # records of 5+ words that clean still finds empty (counted on the first build)
MIN_WORDS = 5  # what clean requires (CleanConfig.min_article_words)
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CACHE = Path(os.environ.get("STORYLINE_LOAD_DIR", "/tmp/storyline-load-10k"))


def records() -> list[dict]:
    """The dev sets' records with every gold field stripped, expanded to TARGET (see module doc)."""
    real: list[dict] = []
    for name in SETS:
        with open(DATA / name, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                obj = json.loads(line)
                rec = {k: v for k, v in obj.items() if not k.lower().startswith("gold_") and k != "dataset"}
                if len((rec.get("text") or rec.get("title") or "").split()) < MIN_WORDS:
                    continue  # the pipeline skips these as empty (headline-only records of 2-4 words)
                real.append(rec)
    full = [r for r in real if len((r.get("text") or "").split()) >= 80]
    extra: list[dict] = []
    k = 0
    while len(real) + len(extra) < TARGET + CLEANER_REJECTS:
        r = full[k % len(full)]
        paras = [p for p in r["text"].split("\n") if p.strip()]
        body = "\n\n".join(paras[:-1] if len(paras) > 2 else paras)
        round_ = k // len(full) + 1
        extra.append({
            "id": f"{r['id']}-syn{round_}",
            "title": r.get("title"),
            "text": f"(Syndicate Wire) - {body}",
            "date": r.get("date"),
            "source": f"{r.get('source') or 'unknown'} via Syndicate Wire",
            "url": None,
        })
        k += 1
    return real + extra


def build(out: Path) -> Path:
    db = out / "storyline.db"
    if db.exists() and (out / "DONE").exists() and (out / "DONE").read_text().startswith(f"{TARGET} "):
        return db
    out.mkdir(parents=True, exist_ok=True)
    src = out / "input.jsonl"
    with open(src, "w", encoding="utf-8") as fh:
        for r in records():
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    t0 = time.time()
    subprocess.run([str(ROOT / ".venv/bin/storyline"), "run", str(src), "--out", str(out), "-q"],
                   check=False)
    (out / "DONE").write_text(f"{TARGET} records, built (or completed) in {time.time() - t0:.0f}s\n")
    return db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    i = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[i]


async def measure(base: str, targets: dict[str, list[str]], clients: int, seconds: float) -> dict:
    """Closed-loop load: each client keeps one HTTP/1.1 keep-alive connection and sends its next GET
    when the last answer is read. A minimal client (asyncio streams, Content-Length bodies), so that
    the load generator, which shares the CPU with the server, costs as little as possible."""
    host, port = base.split("//", 1)[1].split(":")
    lat: dict[str, list[float]] = {k: [] for k in targets}
    errors: dict[str, int] = {k: 0 for k in targets}
    stop = time.perf_counter() + seconds

    async def connect():
        return await asyncio.open_connection(host, int(port))

    async def get(reader, writer, url: str) -> int:
        writer.write(f"GET {url} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next((int(h.split(":", 1)[1]) for h in lines[1:] if h.lower().startswith("content-length:")), None)
        if length is None:
            raise ValueError("no Content-Length")
        await reader.readexactly(length)
        return status

    async def client(n: int) -> None:
        rng = random.Random(n)
        kinds = list(targets)
        reader, writer = await connect()
        i = n
        while time.perf_counter() < stop:
            kind = kinds[i % len(kinds)]
            url = rng.choice(targets[kind])
            t = time.perf_counter()
            try:
                ok = await get(reader, writer, url) == 200
            except (OSError, ValueError, asyncio.IncompleteReadError):
                ok = False
                writer.close()
                reader, writer = await connect()
            dt = (time.perf_counter() - t) * 1000
            if ok:
                lat[kind].append(dt)
            else:
                errors[kind] += 1
            i += 1
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    wall = time.perf_counter() - t0
    return {
        kind: {"requests": len(v), "errors": errors[kind], "p50_ms": round(percentile(v, 50), 1),
               "p95_ms": round(percentile(v, 95), 1), "p99_ms": round(percentile(v, 99), 1),
               "mean_ms": round(statistics.fmean(v), 1) if v else None,
               "rps": round(len(v) / wall, 1)}
        for kind, v in lat.items()
    }


def serve_and_measure(db: Path, targets: dict, clients: int, seconds: float, extra_env: dict,
                      target: str | None = None) -> dict:
    import httpx

    port = free_port()
    env = {**os.environ, **extra_env, "PYTHONPATH": str(ROOT / "src")}
    env.pop("STORYLINE_TOKEN", None)
    log = open(db.parent / "server.log", "ab")
    server = subprocess.Popen([sys.executable, "-m", "storyline.serve", "--db", target or str(db), "--port", str(port)],
                              env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            try:
                if httpx.get(base + "/api/health", timeout=5).json().get("ready"):
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit(f"server did not start: see {log.name}")
            time.sleep(0.5)
        with httpx.Client(base_url=base, timeout=120) as c:  # warm-up pass, not measured
            for urls in targets.values():
                for u in urls:
                    c.get(u)
        return asyncio.run(measure(base, targets, clients, seconds))
    finally:
        server.terminate()
        server.wait(10)
        log.close()


QUERIES = [
    "climate summit", "\"border wall\"", "supreme court ruling", "election results", "vaccine mandate",
    "federal reserve interest rates", "ukraine", "gun control legislation", "immigration policy",
    "tax cuts", "oil prices", "health care reform", "police shooting protest", "trade war china",
    "impeachment inquiry", "stock market", "hurricane", "minimum wage", "north korea missile",
    "apple iphone", "ncaa violations", "earthquake", "\"white house\"", "student loans", "budget deal",
    "refugees europe", "cyber attack", "wildfire california", "brexit vote", "space launch",
    "people angry about prices at the pump", "a storm destroyed homes", "leaders met to discuss peace",
    "court blocks the president's order", "company reports record profit", "voters go to the polls",
]


PG_SCHEMA = "load10k"


def copy_to_postgres(db: Path, url: str) -> str:
    """The URL of a PostgreSQL copy of ``db`` (schema load10k, made once; a half-made one is redone)."""
    from storyline.serve.demo import copy_store
    from storyline.store import Store
    from storyline.store.postgres import PostgresStore

    target_url = url + ("&" if "?" in url else "?") + f"schema={PG_SCHEMA}"
    with Store(db) as source:
        n = source.article_count()
        with PostgresStore(target_url) as target:
            with target.engine.connect() as c:
                done = c.exec_driver_sql("SELECT value FROM meta WHERE key = 'load_serve_copy'").scalar()
            if done == str(n):
                return target_url
        with PostgresStore(url) as admin, admin.engine.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')
        t0 = time.time()
        with PostgresStore(target_url) as target:
            copy_store(source, target)
            with target.transaction() as c:
                c.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('load_serve_copy', %s)", (str(n),))
        print(f"copied {n} articles into PostgreSQL in {time.time() - t0:.0f}s", file=sys.stderr)
    return target_url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=CACHE)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--pg", metavar="URL", help="measure the same store copied into this PostgreSQL database")
    args = ap.parse_args()
    t0 = time.time()
    db = build(args.dir)
    print(f"store ready: {db} ({time.time() - t0:.0f}s)", file=sys.stderr)
    if args.build_only:
        return
    target = copy_to_postgres(db, args.pg) if args.pg else None
    name = "load_serve_pg" if args.pg else "load_serve"

    import sqlite3


    conn = sqlite3.connect(db)
    n_articles = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    n_events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    # event pages: a fixed uniform random sample of events
    event_ids = [r[0] for r in conn.execute("SELECT id FROM events ORDER BY id")]
    conn.close()
    rng = random.Random(7)
    sample = rng.sample(event_ids, min(300, len(event_ids)))
    from urllib.parse import quote

    targets = {
        "event_page": [f"/event/{e}" for e in sample],
        "search_api": [f"/api/search?q={quote(q)}" for q in QUERIES],
    }
    runs = {}
    for label, extra_env in (("response cache on (default)", {}),
                             ("response cache off", {"STORYLINE_RESPONSE_CACHE": "0"})):
        load_before = os.getloadavg()[0]
        runs[label] = serve_and_measure(db, targets, args.clients, args.seconds, extra_env, target)
        runs[label]["load_average_1min"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
        print(label, json.dumps(runs[label]), file=sys.stderr)
    doc = {
        "store": {"articles": n_articles, "events": n_events, "path": str(db),
                  "backend": "postgresql (a copy of the SQLite store)" if args.pg else "sqlite",
                  "built_from": "4 dev sets, gold fields stripped, + syndicated copies (see bench/load_serve.py)"},
        "clients": args.clients, "seconds": args.seconds,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "event_pages_sampled": len(sample), "distinct_queries": len(QUERIES),
        "results": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# storyline serve under load" + (" (PostgreSQL store)" if args.pg else ""),
        "",
        f"{args.clients} concurrent clients (closed loop: each sends its next request when the last one is"
        f" answered) for {args.seconds:.0f} s against a store of {n_articles:,} articles ({n_events:,} events),"
        f" one uvicorn worker; {os.cpu_count()} CPU cores shared by the server and the load generator"
        " (one asyncio process, a minimal keep-alive HTTP/1.1 client). Every URL was requested once before"
        " measuring.",
        "",
        "| configuration | target | requests | errors | p50 ms | p95 ms | p99 ms | req/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, result in runs.items():
        for kind, r in result.items():
            if kind == "load_average_1min":
                continue
            lines.append(f"| {label} | {kind} | {r['requests']} | {r['errors']} | {r['p50_ms']} | {r['p95_ms']} |"
                         f" {r['p99_ms']} | {r['rps']} |")
    lines += ["", f"event pages: {len(sample)} random events (`/event/ID`, full HTML page); search: {len(QUERIES)}"
              " queries (words, phrases and plain-language questions) on `/api/search`, hybrid ranking (FTS5 +"
              " embeddings, reciprocal rank fusion; on PostgreSQL a tsvector + GIN index with ts_rank_cd instead"
              " of FTS5). The response cache keeps rendered event pages and search"
              " answers per store generation (any write to the store starts a new one); with it off, every"
              " request renders the page (from the cached view model: supporting sentences, chart layout) or runs"
              " the search (FTS5 + cosine over all vectors; the query embedding stays cached).", "",
              "The machine is shared with other work: its 1-minute load average around each run was "
              + "; ".join(f"{k}: {v['load_average_1min']['before']} before, {v['load_average_1min']['after']} after"
                          for k, v in runs.items())
              + " (2 cores: anything above 2 means the server waited for CPU).", ""]
    if args.pg:
        lines += ["The store is the SQLite one copied into a PostgreSQL schema (same articles, events, embeddings);"
                  " the PostgreSQL server (Debian's, on loopback, fsync off: a test server) runs on the same cores"
                  " as the web app and the load generator.", ""]
    (RESULTS / f"{name}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
