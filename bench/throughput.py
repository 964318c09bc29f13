"""Whole-run throughput and peak memory of `storyline run`, beside model inference alone.

Corpora (gold_* fields stripped; texts stay in a temp folder, never in the repo):
- each dev set of ../shared/data/events as it is;
- `synthetic-10k`: 10,000 articles of about 500 words built from the dev sets' texts. Each article
  starts from a real article and is filled up to ~500 words with sentences from other real
  articles of the same data set, then perturbed (sentence order after the lead shuffled, ~10 % of
  sentences dropped, a random date within 60 days), so that there are no exact copies. The result
  reads like news but mixes stories: it measures speed, not clustering quality.

For each corpus: a fresh `storyline run` in a subprocess (wall time, peak RSS of the process, its
own per-stage seconds), and the baseline "model inference alone": the same Embedder embedding the
same per-article texts in-process, nothing else. Results: bench/results/throughput.{json,md}.

    .venv/bin/python bench/throughput.py [--sizes 10000] [--sets basil-dev,...] [--no-synthesize]
        [--label after] [--keep-previous] [--src /path/to/other/src]

Each row also gives the embed and enrich stages' seconds, per article, and their ratio (issue 3:
entities, quotes and dates should cost no more than the embedding step). ``--label`` names the
rows ("synthetic-10k (after)"); ``--keep-previous`` keeps the rows already in the results file
(those without a label are labelled "before"), replacing only rows of the same corpus and label;
``--src`` runs `storyline run` on another checkout's ``src`` (PYTHONPATH), e.g. the code before a
change, so that before and after are measured back to back on the same machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from storyline.evaluate.events import strip_gold

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "events"
RESULTS = ROOT / "bench" / "results"
SETS = ["basil-dev", "ecbplus-dev", "allsides-dev", "uci-headlines"]


def load(name: str) -> list[dict]:
    with (DATA / f"{name}.jsonl").open(encoding="utf-8") as f:
        return [strip_gold(json.loads(line)) for line in f]


def grow_text(base: dict, pool: list[dict], words: int, rng: random.Random) -> str:
    """~``words`` words grown from ``base``: its lead (first two sentences), then its
    other sentences and those of random articles of the same ``pool``, shuffled, ~10 % dropped."""
    sentences = [s for s in _SENTENCE_END.split(base["text"]) if s.strip()]
    while sum(len(s.split()) for s in sentences) < words:
        sentences += [s for s in _SENTENCE_END.split(rng.choice(pool)["text"]) if s.strip()]
    lead, rest = sentences[:2], sentences[2:]
    rng.shuffle(rest)
    rest = [s for s in rest if rng.random() > 0.1]
    text, count = [], 0
    for s in lead + rest:
        text.append(s)
        count += len(s.split())
        if count >= words:
            break
    return " ".join(text)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def synthetic(n: int, words: int = 500, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    pools = [load(s) for s in ("basil-dev", "ecbplus-dev", "allsides-dev")]
    base_day = dt.date(2024, 1, 1)
    out = []
    for i in range(n):
        pool = pools[i % len(pools)]
        base = rng.choice(pool)
        out.append({"id": f"syn-{i:06d}", "title": base.get("title"), "text": grow_text(base, pool, words, rng),
                    "source": base.get("source"),
                    "date": (base_day + dt.timedelta(days=rng.randrange(60))).isoformat()})
    return out


def run_storyline(path: Path, out: Path, extra: list[str], src: str | None = None) -> dict:
    summary = out.parent / (out.name + "-summary.json")
    log = out.parent / (out.name + "-stderr.txt")
    start = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.Popen([str(ROOT / ".venv/bin/storyline"), "run", str(path), "--out", str(out), "-q",
                                 "--summary-json", str(summary), *extra], stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, "PYTHONPATH": src} if src else None)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise RuntimeError(log.read_text()[-2000:])
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024, **json.loads(summary.read_text())}


def inference_alone(rows: list[dict], src: str | None = None) -> float:
    """Seconds for the embedding model alone on the same per-article texts the pipeline embeds, read
    as far as it reads them (``lead_tokens`` word pieces; code before it read ``max_tokens``)."""
    code = (
        "import json,sys,time\n"
        "from storyline.config import EmbedConfig\n"
        "from storyline.enrich.embed import Embedder\n"
        "from storyline.pipeline import LEAD_CHARS\n"
        "rows=[json.loads(l) for l in open(sys.argv[1])]\n"
        "texts=[((r.get('title')+'. ') if r.get('title') else '')+(r.get('text') or r.get('title') or '')[:LEAD_CHARS] for r in rows]\n"
        "c=EmbedConfig(); e=Embedder(c); n=getattr(c, 'lead_tokens', None)\n"
        "enc=(lambda t: e.encode(t, n)) if n else e.encode; enc(texts[:8])\n"
        "t=time.perf_counter(); enc(texts); print(time.perf_counter()-t)\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("\n".join(json.dumps(r) for r in rows))
    out = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", code, f.name], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": src} if src else None)
    os.unlink(f.name)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--sizes", default="10000", help="synthetic corpus sizes, comma-separated ('' for none)")
    parser.add_argument("--no-synthesize", action="store_true", help="pass --no-synthesize to storyline run")
    parser.add_argument("--label", default="", help="appended to the corpus name of each new row")
    parser.add_argument("--keep-previous", action="store_true", help="keep the rows already in the results file")
    parser.add_argument("--src", default=None, help="run storyline from this src folder (PYTHONPATH)")
    args = parser.parse_args()
    extra = ["--no-synthesize"] if args.no_synthesize else []
    corpora = [(name, load(name)) for name in args.sets.split(",") if name]
    corpora += [(f"synthetic-{n // 1000}k", synthetic(n)) for n in (int(s) for s in args.sizes.split(",") if s)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, records in corpora:
            path = Path(tmp) / f"{name}.jsonl"
            path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
            words = sum(len((r.get("text") or "").split()) for r in records) / len(records)
            result = run_storyline(path, Path(tmp) / f"out-{name}", extra, args.src)
            model_s = inference_alone(records, args.src)
            stages = result["stage_seconds"]
            total = sum(stages.values())
            n = max(result["articles"], 1)
            row = {
                "corpus": f"{name} ({args.label})" if args.label else name,
                "articles": result["articles"], "mean_words": round(words),
                "wall_s": round(result["wall_s"], 1),
                "articles_per_s": round(result["articles"] / result["wall_s"], 1),
                "peak_rss_mib": round(result["peak_rss_mib"]),
                "stage_share": {k: round(v / total, 3) for k, v in stages.items()},
                "stage_seconds": {k: round(v, 2) for k, v in stages.items()},
                "model_alone_s": round(model_s, 1),
                "ratio_to_model_alone": round(result["wall_s"] / model_s, 2) if model_s else None,
                "embed_ms_per_article": round(stages.get("embed", 0.0) / n * 1000, 2),
                "enrich_ms_per_article": round(stages.get("enrich", 0.0) / n * 1000, 2),
                "enrich_to_embed": round(stages["enrich"] / stages["embed"], 2) if stages.get("embed") else None,
                "events": result["events"], "synthesize": not args.no_synthesize,
                "date": dt.date.today().isoformat(),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "-core" if args.no_synthesize else ""
    path = RESULTS / f"throughput{suffix}.json"
    if args.keep_previous and path.exists():
        old = json.loads(path.read_text())
        kept = []
        for r in old.get("rows", []):
            if not r["corpus"].endswith(")") or r["corpus"].endswith("enrich)"):
                r = {**r, "corpus": f"{r['corpus']} (before)", "date": r.get("date", old.get("date"))}
            if r["corpus"] not in {x["corpus"] for x in rows}:
                kept.append(r)
        rows = kept + rows
    meta = {"machine": f"{os.cpu_count()} cores", "python": sys.version.split()[0],
            "date": dt.date.today().isoformat(), "rows": rows}
    path.write_text(json.dumps(meta, indent=1))
    lines = [("| corpus | articles | words/article | wall s | articles/s | peak RSS MiB | model alone s | run / model "
              "| embed s | enrich s | enrich / embed | top stages |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        top = ", ".join(f"{k} {v:.0%}" for k, v in sorted(r["stage_share"].items(), key=lambda kv: -kv[1])[:3])
        st = r["stage_seconds"]
        ratio = round(st["enrich"] / st["embed"], 2) if st.get("embed") and "enrich" in st else "-"
        lines.append(f"| {r['corpus']} | {r['articles']} | {r['mean_words']} | {r['wall_s']} | {r['articles_per_s']} |"
                     f" {r['peak_rss_mib']} | {r['model_alone_s']} | {r['ratio_to_model_alone']} |"
                     f" {st.get('embed', '-')} | {st.get('enrich', '-')} | {ratio} | {top} |")
    (RESULTS / f"throughput{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
