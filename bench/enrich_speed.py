"""Per-article time of enrichment (entities, quotes, dates) beside the embedding step, and what
reading only windows around possible names, and int8 context layers, change in the entities.

    .venv/bin/python bench/enrich_speed.py [--n 300] [--sets basil-dev,ecbplus-dev,allsides-dev,synthetic]

For each corpus (the first ``--n`` articles of a dev set, gold fields stripped; ``synthetic``: the
first ``--n`` articles of throughput.py's synthetic corpus), in this one process, back to back:
- embed: the pipeline's embedding step alone (``Embedder`` on ``pipeline.embedding_text``: title
  and lead, EmbedConfig.lead_tokens word pieces; onnxruntime uses its own threads);
- enrich: ``enrich_articles`` in chunks of 64 articles (as one enrichment worker gets them), one
  thread, with its own per-stage split (NER, entities, quotes, dates);
- enrich with full NER: the same with ``nlp.WINDOW_WORDS = None`` (NER reads every sentence of the
  reporter's text, as before windows);
- enrich with float32 NER: the same with the NER's context layers in thinc's float32 instead of
  int8 on onnxruntime (``ner_int8.py``, the default since the seventh session);
each timed twice, the faster kept (the machine is shared), in wall time and in this process's CPU
time (MiniLM's two threads count twice; the cost on a busy machine). Mention agreement: per article, the
multiset of (mention text, type) that ``extract_mentions`` keeps from windowed NER against full NER
(micro precision/recall), and the same over the raw NER spans of the labels entities use; the same
for int8 against float32 (both windowed).
Cache potential: the share of window characters whose exact (whitespace-normalised) window text
already occurred earlier in the same 64-article chunk, and anywhere earlier in the corpus.
Enrichment runs on one thread (OPENBLAS_NUM_THREADS=1 unless set), as in the pipeline's enrichment
workers. Results: bench/results/enrich_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads: one thread, as a worker
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
RESULTS = ROOT / "bench" / "results"
CHUNK = 64


def articles_of(name: str, n: int):
    from throughput import load, synthetic

    from storyline.records import Article

    rows = synthetic(n) if name == "synthetic" else load(name)[:n]
    out = []
    for r in rows:
        d = r.get("date")
        pub = dt.datetime.fromisoformat(d[:10]) if d else None
        out.append(Article(id=r["id"], text=r.get("text") or "", content_hash="", title=r.get("title"),
                           source=r.get("source"), published_at=pub))
    return out


def timed(fn, reps: int = 2):
    """(wall s, CPU s of this process, result): the least of ``reps`` runs each."""
    wall = cpu = None
    result = None
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        w, c = time.perf_counter() - t, time.process_time() - c
        wall = w if wall is None else min(wall, w)
        cpu = c if cpu is None else min(cpu, c)
    return wall, cpu, result


def enrich_all(articles, window):
    from storyline.enrich import nlp
    from storyline.enrich.enrichment import enrich_articles

    saved = nlp.WINDOW_WORDS
    nlp.WINDOW_WORDS = window
    try:
        out = []
        for i in range(0, len(articles), CHUNK):
            out += enrich_articles(articles[i:i + CHUNK])
        return out
    finally:
        nlp.WINDOW_WORDS = saved


@contextmanager
def float32_ner():
    """The NER's context layers in thinc's float32 for the duration (int8 is the default)."""
    from storyline.enrich import nlp

    tok2vec = nlp.load_ner()[1]._tok2vec
    saved, tok2vec._context = tok2vec._context, None
    try:
        yield
    finally:
        tok2vec._context = saved


def agreement(full: list[Counter], test: list[Counter]) -> tuple[float, float]:
    tp = fp = fn = 0
    for a, b in zip(full, test):
        tp += sum((a & b).values())
        fp += sum((b - a).values())
        fn += sum((a - b).values())
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def raw_spans(articles, window):
    from storyline.enrich.enrichment import SKIP_QUOTES_IN_NER
    from storyline.enrich.entities import TYPE_OF_LABEL
    from storyline.enrich.nlp import run_ner
    from storyline.enrich.quotes import find_quote_spans, normalise_marks

    out = []
    for i in range(0, len(articles), CHUNK):
        texts = [a.text for a in articles[i:i + CHUNK]]
        skip = None
        if SKIP_QUOTES_IN_NER:
            skip = [[(s, e) for pieces, _u in find_quote_spans(normalise_marks(t)) for s, e in pieces if e - s > 40]
                    for t in texts]
        for spans in run_ner(texts, skip=skip, window=window):
            out.append(Counter((" ".join(t.split()), lab) for _s, _e, lab, t in spans if lab in TYPE_OF_LABEL))
    return out


def repeats(articles, window) -> tuple[float, float]:
    from storyline.enrich import nlp
    from storyline.enrich.quotes import find_quote_spans, normalise_marks

    seen_all: set[str] = set()
    seen_chunk: set[str] = set()
    total = rep_all = rep_chunk = 0
    for j, a in enumerate(articles):
        if j % CHUNK == 0:
            seen_chunk = set()
        t = a.text
        skip = [(s, e) for pieces, _u in find_quote_spans(normalise_marks(t)) for s, e in pieces if e - s > 40]
        for ra, rb in nlp._runs(t, skip):
            for wa, wb in nlp.windows(t[ra:rb], window):
                w = " ".join(t[ra + wa:ra + wb].split())
                total += len(w)
                rep_all += len(w) if w in seen_all else 0
                rep_chunk += len(w) if w in seen_chunk else 0
                seen_all.add(w)
                seen_chunk.add(w)
    return rep_chunk / max(total, 1), rep_all / max(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--sets", default="basil-dev,ecbplus-dev,allsides-dev,synthetic")
    args = parser.parse_args()

    from storyline.config import EmbedConfig
    from storyline.enrich import nlp
    from storyline.enrich.embed import Embedder
    from storyline.pipeline import embedding_text

    window = nlp.WINDOW_WORDS
    # The pipeline's embedding step: title and lead, lead_tokens word pieces each.
    lead = EmbedConfig().lead_tokens
    embedder = Embedder(EmbedConfig())
    embedder_one = Embedder(EmbedConfig(threads=1))  # the cheapest CPU per article: the ceiling's figure
    nlp.load_nlp()
    rows = []
    for name in [s for s in args.sets.split(",") if s]:
        arts = articles_of(name, args.n)
        n = len(arts)
        words = sum(len(a.text.split()) for a in arts) / n
        texts = [embedding_text(a) for a in arts]
        embedder.encode(texts[:8], lead)
        embedder_one.encode(texts[:8], lead)
        enrich_all(arts[:8], window)
        embed_s, embed_cpu, _ = timed(lambda texts=texts: embedder.encode(texts, lead))
        _, embed1_cpu, _ = timed(lambda texts=texts: embedder_one.encode(texts, lead))
        enrich_s, enrich_cpu, enr = timed(lambda arts=arts: enrich_all(arts, window))
        full_s, _, enr_full = timed(lambda arts=arts: enrich_all(arts, None))
        with float32_ner():
            f32_s, _, enr_f32 = timed(lambda arts=arts: enrich_all(arts, window))
            spans_f32 = raw_spans(arts, window)
        stages = {k: sum(e.timings.get(k, 0.0) for e in enr) / n * 1000 for k in ("ner", "entities", "quotes", "timexes")}
        stages_full = {k: sum(e.timings.get(k, 0.0) for e in enr_full) / n * 1000 for k in ("ner", "entities", "quotes", "timexes")}
        mentions = [Counter((m.name, m.type) for m in e.mentions) for e in enr]
        mentions_full = [Counter((m.name, m.type) for m in e.mentions) for e in enr_full]
        mp, mr = agreement(mentions_full, mentions)
        spans_windowed = raw_spans(arts, window)
        sp, sr = agreement(raw_spans(arts, None), spans_windowed)
        qp, qr = agreement([Counter((m.name, m.type) for m in e.mentions) for e in enr_f32], mentions)
        fp, fr = agreement(spans_f32, spans_windowed)
        rep_chunk, rep_all = repeats(arts, window)
        row = {
            "corpus": name, "articles": n, "mean_words": round(words),
            "embed_ms_per_article": round(embed_s / n * 1000, 2),
            "enrich_ms_per_article": round(enrich_s / n * 1000, 2),
            "enrich_stage_ms_per_article": {k: round(v, 2) for k, v in stages.items()},
            "enrich_to_embed": round(enrich_s / embed_s, 2),
            "embed_cpu_ms_per_article": round(embed_cpu / n * 1000, 2),
            "enrich_cpu_ms_per_article": round(enrich_cpu / n * 1000, 2),
            "enrich_to_embed_cpu": round(enrich_cpu / embed_cpu, 2),
            # Models alone, each on one thread (its cheapest CPU per article), two cores busy all the
            # time: no run can be faster than this, whatever the rest of the pipeline does.
            "embed_one_thread_cpu_ms_per_article": round(embed1_cpu / n * 1000, 2),
            "models_ceiling_articles_per_s": round(2 * n / (embed1_cpu + enrich_cpu), 1),
            "embed_ceiling_articles_per_s": round(2 * n / embed1_cpu, 1),
            "full_ner_enrich_ms_per_article": round(full_s / n * 1000, 2),
            "full_ner_stage_ms_per_article": {k: round(v, 2) for k, v in stages_full.items()},
            "full_ner_enrich_to_embed": round(full_s / embed_s, 2),
            "speedup": round(full_s / enrich_s, 2),
            "mention_agreement": {"precision": round(mp, 4), "recall": round(mr, 4)},
            "ner_span_agreement": {"precision": round(sp, 4), "recall": round(sr, 4)},
            "float32_ner_enrich_ms_per_article": round(f32_s / n * 1000, 2),
            "float32_ner_stage_ms": round(sum(e.timings.get("ner", 0.0) for e in enr_f32) / n * 1000, 2),
            "int8_speedup": round(f32_s / enrich_s, 2),
            "int8_mention_agreement": {"precision": round(qp, 4), "recall": round(qr, 4)},
            "int8_ner_span_agreement": {"precision": round(fp, 4), "recall": round(fr, 4)},
            "repeated_window_chars": {"within_chunk": round(rep_chunk, 3), "whole_corpus": round(rep_all, 3)},
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    meta = {"machine": f"{os.cpu_count()} cores (shared)", "python": sys.version.split()[0],
            "date": dt.date.today().isoformat(), "window_words": window, "chunk": CHUNK,
            "load_average_1min": round(os.getloadavg()[0], 2), "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "enrich_speed.json").write_text(json.dumps(meta, indent=1) + "\n")
    lines = [
        f"# Enrichment vs embedding, ms per article (one process; NER window +-{window} words, int8 context layers)",
        "",
        ("| corpus | articles | words | embed | enrich (NER / ent. / quotes / dates) | enrich / embed "
         "| CPU ms: embed / enrich | CPU enrich / embed | CPU ms embed, one thread "
         "| 2-core ceiling art/s: models / embed only |"),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        st = r["enrich_stage_ms_per_article"]
        lines.append(
            f"| {r['corpus']} | {r['articles']} | {r['mean_words']} | {r['embed_ms_per_article']} | "
            f"{r['enrich_ms_per_article']} ({st['ner']} / {st['entities']} / {st['quotes']} / {st['timexes']}) | "
            f"{r['enrich_to_embed']}x | {r['embed_cpu_ms_per_article']} / {r['enrich_cpu_ms_per_article']} | "
            f"{r['enrich_to_embed_cpu']}x | {r['embed_one_thread_cpu_ms_per_article']} | "
            f"{r['models_ceiling_articles_per_s']} / {r['embed_ceiling_articles_per_s']} |"
        )
    lines += [
        "",
        "## What each approximation costs and changes (enrich ms per article without it; agreement with it against without)",
        "",
        "| corpus | approximation | enrich ms without | speed-up | mentions P / R | NER spans P / R |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['corpus']} | windows (vs every sentence; repeated window chars "
            f"{r['repeated_window_chars']['within_chunk']:.1%} / {r['repeated_window_chars']['whole_corpus']:.1%}) | "
            f"{r['full_ner_enrich_ms_per_article']} | {r['speedup']}x | "
            f"{r['mention_agreement']['precision']:.4f} / {r['mention_agreement']['recall']:.4f} | "
            f"{r['ner_span_agreement']['precision']:.4f} / {r['ner_span_agreement']['recall']:.4f} |"
        )
        lines.append(
            f"| {r['corpus']} | int8 context layers (vs float32) | {r['float32_ner_enrich_ms_per_article']} | "
            f"{r['int8_speedup']}x | {r['int8_mention_agreement']['precision']:.4f} / "
            f"{r['int8_mention_agreement']['recall']:.4f} | {r['int8_ner_span_agreement']['precision']:.4f} / "
            f"{r['int8_ner_span_agreement']['recall']:.4f} |"
        )
    lines += ["", f"Load average at the end: {meta['load_average_1min']} (2 cores shared with other jobs).",
              ("Embed: title and lead, EmbedConfig.lead_tokens word pieces (64; 128 before the sixth session), "
               "on onnxruntime with its own two threads; enrich is one thread (the pipeline runs two "
               "enrichment worker processes from 400 articles on). CPU ms: this process's CPU time per article."),
              ("2-core ceiling: 2 cores / (one-thread embed CPU + enrich CPU) per article, the most articles a "
               "second the two models allow with both cores busy and every other stage free; embed only: "
               "the same without enrichment.")]
    (RESULTS / "enrich_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
