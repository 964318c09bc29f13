"""Speed of event synthesis (summary, citations, title, comparison) on 50-article events.

    python bench/synthesis_speed.py [--reps 5] [--baseline REV] [--only NAME]

Issue 4 asks for "synthesis of a 50-article event in under a second on 2 cores". The honest figure
is *cold*: the event's sentences have never been embedded. Each repetition therefore opens a fresh
temporary SQLite store and synthesises through ``CachedEmbedder(Embedder, store)``, the path
``Pipeline.describe`` uses; *warm* is a second call on the same store (sentence vectors cached).
Models (MiniLM ONNX session, spaCy parser) are loaded before timing; their load time is reported
apart. Times are split into embedding (inside the model's ``encode``), the vector cache (hashing,
store look-ups and writes) and synthesis proper (everything else).

Events, all from dev data with every ``gold_*`` field stripped (``strip_gold``):
- ``leads-50``: AllSides dev, topic "Coronavirus": the first 50 articles of that topic in file
  order (whole AllSides events of ~3 outlets each, ~90-word leads; one broad story, many events);
- ``ecb-50``: ECB+ dev, topic t1 (both of its sub-events, 39 articles, ~280 words) padded with the
  first 11 articles of the next largest topic (t13): ECB+ has no 50-article story;
- ``fulltext-50``: BASIL dev, the first 50 articles in file order (~600 words, 17 stories of
  ~3 outlets): long full texts, the case the issue worries about (same event as the earlier
  figure in bench/summaries.py).
Events of several stories are harder than one story for speed (fewer repeated sentences) and no
easier for synthesis.

``--baseline REV`` extracts ``src/`` of git revision REV (``git archive``) to a temporary folder and
runs the same measurement with it in a subprocess, back to back with the working tree's code, so
before/after figures share the machine's load. Results: bench/results/synthesis_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "events"
RESULTS = ROOT / "bench" / "results"


def _setup_path(src: Path | None) -> None:
    sys.path.insert(0, str(src or ROOT / "src"))


def _article(row: dict):
    from storyline.evaluate.events import strip_gold
    from storyline.records import Article

    r = strip_gold(row)
    text = r.get("text") or ""
    published = None
    if r.get("date"):
        try:
            published = dt.datetime.fromisoformat(r["date"].replace("Z", "+00:00"))
        except ValueError:
            published = None
    return Article(id=r["id"], text=text, content_hash=hashlib.sha256(text.encode()).hexdigest(),
                   title=r.get("title"), source=r.get("source"), url=r.get("url"), published_at=published)


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").open()]


def build_events() -> dict[str, list]:
    events = {}
    rows = _rows("allsides-dev")
    events["leads-50"] = [_article(r) for r in rows if r.get("gold_topic") == "Coronavirus"][:50]
    rows = _rows("ecbplus-dev")
    by_topic = defaultdict(list)
    for r in rows:
        by_topic[r.get("gold_topic")].append(r)
    topics = sorted(by_topic, key=lambda t: -len(by_topic[t]))
    ecb = by_topic[topics[0]] + by_topic[topics[1]]
    events["ecb-50"] = [_article(r) for r in ecb[:50]]
    events["fulltext-50"] = [_article(r) for r in _rows("basil-dev")[:50]]
    return events


class Timed:
    """Wraps an object with ``encode`` and adds up the wall and CPU seconds spent inside it."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.config = getattr(inner, "config", None)
        self.wall = self.cpu = 0.0
        self.texts = 0
        self.calls = 0

    def encode(self, texts):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return self.inner.encode(texts)
        finally:
            self.wall += time.perf_counter() - t0
            self.cpu += time.process_time() - c0
            self.texts += len(texts)
            self.calls += 1

    def __getattr__(self, name):  # encode_options etc. of newer embedders
        return getattr(self.inner, name)


def _clear_caches() -> None:
    """lru caches of token normalisation would carry work over from the previous repetition."""
    import functools

    from storyline.synthesize import comparison, support

    for mod in (comparison, support):
        for v in vars(mod).values():
            if isinstance(v, functools._lru_cache_wrapper):
                v.cache_clear()


def _run_once(arts, embedder, store) -> dict:
    from storyline.enrich.embed import CachedEmbedder
    from storyline.synthesize import synthesize_event

    model = Timed(embedder)
    cached = CachedEmbedder(model, store)
    outer = Timed(cached)
    _clear_caches()
    t0, c0 = time.perf_counter(), time.process_time()
    syn = synthesize_event(arts, outer)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "wall": wall, "cpu": cpu,
        "embed_wall": model.wall, "embed_cpu": model.cpu, "texts_embedded": model.texts,
        "cache_wall": outer.wall - model.wall, "cache_cpu": outer.cpu - model.cpu,
        "texts_requested": outer.texts,
        "synth_wall": wall - outer.wall, "synth_cpu": cpu - outer.cpu,
        "summary_sentences": len(syn.summary), "facts": len(syn.comparison.get("facts", [])),
        "disagreements": len(syn.comparison.get("disagreements", [])),
        "citations": sum(len(s["article_ids"]) for s in syn.summary),
        "title": syn.title[:0],  # titles are publisher text: not written
    }


def _summ(runs: list[dict]) -> dict:
    keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float))]
    out = {}
    for k in keys:
        vals = [r[k] for r in runs]
        out[k] = round(statistics.median(vals), 3) if isinstance(vals[0], float) else vals[0]
    out["wall_min"] = round(min(r["wall"] for r in runs), 3)
    out["wall_max"] = round(max(r["wall"] for r in runs), 3)
    return out


def measure(reps: int, only: str | None) -> dict:
    from storyline.config import EmbedConfig
    from storyline.enrich.embed import Embedder
    from storyline.store import open_store
    from storyline.synthesize.sentences import split_sentences

    t0 = time.perf_counter()
    embedder = Embedder(EmbedConfig())
    embedder.encode(["warm-up sentence for the model."])
    embed_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        from storyline.enrich.nlp import load_parser
    except ImportError:  # older revisions
        from storyline.synthesize.titles import load_parser
    load_parser()
    parser_load = time.perf_counter() - t0
    events = build_events()
    out = {"backend": embedder.backend, "model_load_s": round(embed_load, 2), "parser_load_s": round(parser_load, 2),
           "events": {}}
    for name, arts in events.items():
        if only and name != only:
            continue
        n_sent = sum(len(split_sentences(a.text)) for a in arts)
        words = statistics.mean(len(a.text.split()) for a in arts)
        cold, warm, loads = [], [], []
        for _ in range(reps):
            with tempfile.TemporaryDirectory() as tmp:
                store = open_store(Path(tmp) / "bench.db")
                try:
                    loads.append(os.getloadavg()[0])
                    cold.append(_run_once(arts, embedder, store))
                    warm.append(_run_once(arts, embedder, store))
                finally:
                    store.close()
        out["events"][name] = {"articles": len(arts), "sentences": n_sent, "words_per_article": round(words),
                               "cold": _summ(cold), "warm": _summ(warm),
                               "load_average_1min": round(statistics.mean(loads), 2)}
        print(name, json.dumps(out["events"][name]), flush=True)
    return out


class DictCache:
    """Embeds each distinct text once (the quality comparison is not timed)."""

    def __init__(self, inner) -> None:
        self.inner, self.cache = inner, {}

    def encode(self, texts):
        import numpy as np

        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            self.cache.update(zip(todo, self.inner.encode(todo)))
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


def quality() -> dict:
    """What the sentence budget changes: every event over the budget (the three 50-article events
    above and the ECB+ dev events of more than MAX_EMBEDDED_SENTENCES sentences) synthesised with
    the budget and without it (every sentence embedded), same code otherwise. Summary agreement
    (ROUGE F of the budgeted summary against the unbudgeted one, and identical sentences), citations
    per sentence and the lexical citation judge of bench/summaries.py, facts, facts only one outlet
    reports and disagreements."""
    from rouge_score import rouge_scorer

    from storyline.config import EmbedConfig
    from storyline.enrich.embed import Embedder
    from storyline.synthesize import support, synthesize_event
    from storyline.synthesize.sentences import split_sentences

    sys.path.insert(0, str(ROOT / "bench"))
    from summaries import judge  # noqa: E402

    emb = DictCache(Embedder(EmbedConfig()))
    events = build_events()
    by_cluster = defaultdict(list)
    for r in _rows("ecbplus-dev"):
        by_cluster[r["gold_cluster"]].append(r)
    for cid, rows in by_cluster.items():
        arts = [_article(r) for r in rows]
        if sum(len(split_sentences(a.text)) for a in arts) > support.MAX_EMBEDDED_SENTENCES:
            events[cid] = arts
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    budget = support.MAX_EMBEDDED_SENTENCES
    rows_out = {}
    for name, arts in events.items():
        by_id = {a.id: a for a in arts}
        res = {}
        for mode, limit in (("budget", budget), ("all", 0)):
            support.MAX_EMBEDDED_SENTENCES = limit
            try:
                syn = synthesize_event(arts, emb)
            finally:
                support.MAX_EMBEDDED_SENTENCES = budget
            pairs = [(s["text"], aid) for s in syn.summary for aid in s["article_ids"]]
            cross = [(t, aid) for s in syn.summary for aid in s["article_ids"][1:] for t in [s["text"]]]
            res[mode] = {
                "summary": [s["text"] for s in syn.summary],
                "sentences": len(syn.summary), "citations": len(pairs),
                "judge_ok": sum(judge(t, by_id[a]) for t, a in pairs),
                "cross_citations": len(cross), "cross_judge_ok": sum(judge(t, by_id[a]) for t, a in cross),
                "facts": len(syn.comparison.get("facts", [])),
                "multi_outlet_facts": sum(1 for f in syn.comparison.get("facts", []) if len(f["outlets"]) > 1),
                "unique_facts": len(syn.comparison.get("unique_facts", [])),
                "disagreements": sorted(f"{d['kind']}:{d['subject']}" for d in syn.comparison.get("disagreements", [])),
            }
        sc = scorer.score(" ".join(res["all"]["summary"]), " ".join(res["budget"]["summary"]))
        same = len(set(res["budget"]["summary"]) & set(res["all"]["summary"]))
        for r in res.values():
            r.pop("summary")
        rows_out[name] = {"articles": len(arts), "sentences": sum(len(split_sentences(a.text)) for a in arts),
                          "rouge_vs_all": {k: round(v.fmeasure, 3) for k, v in sc.items()},
                          "same_sentences": same, **res}
        print(name, json.dumps(rows_out[name]), flush=True)
    return rows_out


def render_quality(q: dict) -> list[str]:
    lines = ["## What the sentence budget changes (quality)", "",
             "Each event over the budget synthesised twice with the current code: with the budget (lead windows) "
             "and with every sentence embedded. Summary agreement = ROUGE F of the budgeted summary against the "
             "unbudgeted one; judge = the lexical citation judge of bench/summaries.py (ok / pairs); cross = "
             "citations of an article other than the sentence's source.", "",
             "| event | articles | sentences | R-1 / R-2 / R-L vs all | same sentences | citations budget / all | judge ok budget / all | cross ok budget / all | facts (multi-outlet) budget / all | unique facts budget / all | disagreements budget / all |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    tot = defaultdict(int)
    for name, e in q.items():
        b, a, r = e["budget"], e["all"], e["rouge_vs_all"]
        lines.append(
            f"| {name} | {e['articles']} | {e['sentences']} | {r['rouge1']:.2f} / {r['rouge2']:.2f} / {r['rougeL']:.2f} | "
            f"{e['same_sentences']} of {a['sentences']} | {b['citations']} / {a['citations']} | {b['judge_ok']}/{b['citations']} / "
            f"{a['judge_ok']}/{a['citations']} | {b['cross_judge_ok']}/{b['cross_citations']} / {a['cross_judge_ok']}/{a['cross_citations']} | "
            f"{b['facts']} ({b['multi_outlet_facts']}) / {a['facts']} ({a['multi_outlet_facts']}) | {b['unique_facts']} / {a['unique_facts']} | "
            f"{len(b['disagreements'])} / {len(a['disagreements'])} |")
        for mode in ("budget", "all"):
            for k in ("sentences", "citations", "judge_ok", "cross_citations", "cross_judge_ok", "unique_facts"):
                tot[f"{mode}_{k}"] += e[mode][k]
        tot["same"] += e["same_sentences"]
        for k in ("rouge1", "rouge2", "rougeL"):
            tot[k] += r[k]
    n = max(len(q), 1)
    lines += ["", f"Over {len(q)} events: summary agreement R-1/R-2/R-L {tot['rouge1'] / n:.3f} / {tot['rouge2'] / n:.3f} / "
              f"{tot['rougeL'] / n:.3f}, {tot['same']} of {tot['all_sentences']} summary sentences identical; citations per "
              f"sentence {tot['budget_citations'] / max(tot['budget_sentences'], 1):.2f} (budget) vs "
              f"{tot['all_citations'] / max(tot['all_sentences'], 1):.2f} (all); judge precision "
              f"{tot['budget_judge_ok'] / max(tot['budget_citations'], 1):.3f} vs {tot['all_judge_ok'] / max(tot['all_citations'], 1):.3f} "
              f"(cross-article {tot['budget_cross_judge_ok']}/{tot['budget_cross_citations']} vs "
              f"{tot['all_cross_judge_ok']}/{tot['all_cross_citations']}); facts only one outlet reports "
              f"{tot['budget_unique_facts']} vs {tot['all_unique_facts']}.", ""]
    return lines


def render_md(result: dict) -> str:
    lines = ["# Synthesis speed: one 50-article event, 2 cores", "",
             f"Measured {result['when']} on {result['machine']} by `bench/synthesis_speed.py` "
             f"({result['reps']} repetitions, medians; cold = fresh store, no sentence embedded yet; warm = "
             "same store again). Embedding = inside the model's encode; cache = hashing and store "
             "look-ups/writes; synthesis = the rest. Models are loaded before timing.", "",
             "Events (dev data, gold fields stripped): leads-50 = the first 50 AllSides dev articles of topic "
             "\"Coronavirus\" (whole AllSides events of ~3 outlets, ~90 words); ecb-50 = ECB+ dev topic t1 (39 "
             "articles) padded with the first 11 of topic t13 (ECB+ has no 50-article story); fulltext-50 = the "
             "first 50 BASIL dev articles (~600 words, 17 stories). Baseline = `src/` of the named revision "
             "(`git archive`), run in a subprocess just before the current tree.", ""]
    for label, r in result["runs"].items():
        lines += [f"## {label}", "",
                  f"Backend {r['backend']}; model load {r['model_load_s']} s, spaCy parser load {r['parser_load_s']} s "
                  "(once per process, not counted below).", "",
                  "| event | articles | sentences | words/art | run | wall s (min-max) | CPU s | embed wall / CPU | texts embedded | cache wall | synthesis wall / CPU | load |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, e in r["events"].items():
            for run in ("cold", "warm"):
                m = e[run]
                lines.append(
                    f"| {name} | {e['articles']} | {e['sentences']} | {e['words_per_article']} | {run} | "
                    f"{m['wall']:.3f} ({m['wall_min']:.3f}-{m['wall_max']:.3f}) | {m['cpu']:.3f} | "
                    f"{m['embed_wall']:.3f} / {m['embed_cpu']:.3f} | {m['texts_embedded']} | {m['cache_wall']:.3f} | "
                    f"{m['synth_wall']:.3f} / {m['synth_cpu']:.3f} | {e['load_average_1min']} |")
        lines.append("")
    if result.get("quality"):
        lines += render_quality(result["quality"])
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default=None, help="one event name")
    ap.add_argument("--baseline", default=None, help="git revision to measure side by side")
    ap.add_argument("--src", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json-out", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--budget", type=int, default=None, help="override support.MAX_EMBEDDED_SENTENCES (child runs)")
    ap.add_argument("--no-quality", action="store_true", help="skip the budget vs no-budget quality comparison")
    ap.add_argument("--quality-only", action="store_true", help="only the quality comparison, into the existing results")
    ap.add_argument("--render", action="store_true", help="rewrite the .md from the existing .json")
    ap.add_argument("--append", action="store_true", help="add these runs to the existing results (another load)")
    args = ap.parse_args()

    if args.src or args.json_out:  # a child run: measure one source tree and hand back JSON
        _setup_path(args.src)
        if args.budget is not None:
            from storyline.synthesize import support

            support.MAX_EMBEDDED_SENTENCES = args.budget
        res = measure(args.reps, args.only)
        args.json_out.write_text(json.dumps(res))
        return

    if args.render:
        result = json.loads((RESULTS / "synthesis_speed.json").read_text())
        (RESULTS / "synthesis_speed.md").write_text(render_md(result))
        return
    if args.quality_only:
        _setup_path(None)
        q = quality()
        result = json.loads((RESULTS / "synthesis_speed.json").read_text()) if (RESULTS / "synthesis_speed.json").exists() else {"runs": {}}
        result["quality"] = q
        md = render_md({"when": "", "machine": "", "reps": 0, **result}) if not result.get("runs") else render_md(result)
        print(md)
        if not args.no_write:
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / "synthesis_speed.json").write_text(json.dumps(result, indent=2) + "\n")
            (RESULTS / "synthesis_speed.md").write_text(md)
        return

    runs = {}
    order = []
    if args.baseline:
        rev = subprocess.run(["git", "rev-parse", "--short", args.baseline], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        order.append((f"baseline {rev}", rev))
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "src/storyline/synthesize", "src/storyline/enrich"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    order.append((f"current {head}{'+changes' if dirty else ''}", None))
    with tempfile.TemporaryDirectory() as tmp:
        for label, rev in order:
            src = ROOT / "src"
            if rev:
                src = Path(tmp) / rev
                src.mkdir()
                archive = subprocess.run(["git", "archive", rev, "src"], cwd=ROOT, capture_output=True, check=True).stdout
                subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
                src = src / "src"
            js = Path(tmp) / f"{len(runs)}.json"
            cmd = [sys.executable, __file__, "--reps", str(args.reps), "--src", str(src), "--json-out", str(js)]
            if args.only:
                cmd += ["--only", args.only]
            print(f"== {label}", flush=True)
            subprocess.run(cmd, check=True)
            runs[label] = json.loads(js.read_text())
    result = {"when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": f"{os.cpu_count()} cores", "reps": args.reps, "runs": runs}
    if args.append and (RESULTS / "synthesis_speed.json").exists():
        old = json.loads((RESULTS / "synthesis_speed.json").read_text())
        stamp = result["when"]
        result = {**old, "runs": {**old["runs"], **{f"{k}, {stamp}": v for k, v in runs.items()}}}
    if not args.no_quality:
        _setup_path(None)
        result["quality"] = quality()
    md = render_md(result)
    print(md)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "synthesis_speed.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / "synthesis_speed.md").write_text(md)


if __name__ == "__main__":
    main()
