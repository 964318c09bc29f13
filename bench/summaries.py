"""Event summaries on AllSides dev: ROUGE against the editors' summaries, beside three baselines.

    python bench/summaries.py [--data PATH] [--limit N] [--no-speed]

The harness groups articles by ``gold_cluster`` and strips every ``gold_*`` field before the
articles reach storyline. Baselines run on the same events in the same script:
- lead-3: the first three sentences of one article (the event's first article in file order);
- TextRank: PageRank over the TF-IDF cosine graph of all the event's sentences, top sentences up
  to the same word budget as storyline, in reading order;
- centroid: Radev-style TF-IDF centroid, sentences closest to it (redundant ones skipped) up to the
  same word budget.
Citation precision: every (summary sentence, cited article) pair is judged by an automatic judge
that is stricter and different from the system's check (see ``judge``); 30 pairs where the cited
article is not the sentence's own source are written to results/citation_check.md for a hand check.
Speed is measured apart, cold and warm, by bench/synthesis_speed.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rouge_score import rouge_scorer  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402

from storyline.config import EmbedConfig  # noqa: E402
from storyline.enrich.embed import Embedder  # noqa: E402
from storyline.evaluate.events import strip_gold  # noqa: E402
from storyline.records import Article  # noqa: E402
from storyline.synthesize import synthesize_event  # noqa: E402
from storyline.synthesize.sentences import split_sentences, words  # noqa: E402
from storyline.synthesize.support import content_stems, name_tokens, numbers  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "events" / "allsides-dev.jsonl"
RESULTS = ROOT / "bench" / "results"


class CachedEmbedder:
    """Embeds each distinct text once across the run (ROUGE timing is not what is measured here)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.cache = inner, {}

    def encode(self, texts):
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            for t, v in zip(todo, self.inner.encode(todo)):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


def load_events(path: Path) -> tuple[list[list[Article]], list[str], list[str]]:
    """Articles per gold cluster with every gold_* field stripped; the gold summaries apart."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for line in path.open():
        row = json.loads(line)
        groups[row["gold_cluster"]].append(row)
    events, golds, ids = [], [], []
    for cid, rows in groups.items():
        gold = rows[0].get("gold_summary") or ""
        if not gold:
            continue
        arts = []
        for r in rows:
            clean = strip_gold(r)
            published = None
            if clean.get("date"):
                published = dt.datetime.fromisoformat(clean["date"].replace("Z", "+00:00"))
            text = clean.get("text") or ""
            arts.append(Article(id=clean["id"], text=text, content_hash=hashlib.sha256(text.encode()).hexdigest(),
                                title=clean.get("title"), source=clean.get("source"), url=clean.get("url"),
                                published_at=published))
        events.append(arts)
        golds.append(gold)
        ids.append(cid)
    return events, golds, ids


# ------------------------------------------------------------------------------- baselines
def _budget_pick(sents: list[str], order: list[int], budget: int, skip=None) -> list[str]:
    chosen, used = [], 0
    for k in order:
        if skip and skip(k, chosen):
            continue
        if chosen and used + len(words(sents[k])) > budget * 1.15:
            continue  # the same overflow rule as storyline's selection
        chosen.append(k)
        used += len(words(sents[k]))
        if used >= budget:
            break
    return [sents[k] for k in sorted(chosen)]


def lead3(arts: list[Article]) -> str:
    return " ".join(split_sentences(arts[0].text)[:3])


def _event_sentences(arts: list[Article]) -> list[str]:
    return [s for a in arts for s in split_sentences(a.text) if len(words(s)) >= 4]


def textrank(arts: list[Article], budget: int) -> str:
    import networkx as nx

    sents = _event_sentences(arts)
    if not sents:
        return ""
    X = TfidfVectorizer(stop_words="english").fit_transform(sents)
    S = (X @ X.T).toarray()
    np.fill_diagonal(S, 0)
    g = nx.from_numpy_array(S)
    pr = nx.pagerank(g, weight="weight") if S.sum() > 0 else {i: 1.0 for i in range(len(sents))}
    order = sorted(range(len(sents)), key=lambda i: -pr[i])
    return " ".join(_budget_pick(sents, order, budget))


def centroid(arts: list[Article], budget: int) -> str:
    sents = _event_sentences(arts)
    if not sents:
        return ""
    vec = TfidfVectorizer(stop_words="english")
    X = vec.fit_transform(sents)
    c = np.asarray(X.mean(axis=0)).ravel()
    scores = X @ c / (np.linalg.norm(c) + 1e-9)
    order = list(np.argsort(-scores))
    Xd = X.toarray()

    def redundant(k, chosen):
        return any(float(Xd[k] @ Xd[j]) > 0.7 for j in chosen)

    return " ".join(_budget_pick(sents, order, budget, redundant))


# ---------------------------------------------------------------------------------- judge
def judge(sentence: str, article: Article) -> bool:
    """Automatic support judge, independent of the system's cosine test: the cited article must
    contain every number of the sentence, all but at most one of its names, and at least 60 % of
    its content words (stemmed) within one window of three consecutive sentences."""
    text = article.text
    if not numbers(sentence) <= numbers(text):
        return False
    art_names = {n for s in split_sentences(text) for n in name_tokens("X " + s)}
    names = name_tokens(sentence)
    if len(names - art_names) > (1 if len(names) >= 5 else 0):
        return False
    stems = content_stems(sentence)
    if not stems:
        return True
    sents = split_sentences(text)
    best = 0.0
    for i in range(len(sents)):
        window = content_stems(" ".join(sents[i : i + 3]))
        best = max(best, len(stems & window) / len(stems))
    return best >= 0.6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--no-speed", action="store_true", help="accepted for old command lines: speed is bench/synthesis_speed.py")
    ap.add_argument("--show-check", action="store_true", help="print the 30 check pairs with their texts")
    ap.add_argument("--write-check", action="store_true", help="(re)write results/citation_check.md, verdicts blank")
    args = ap.parse_args()

    events, golds, ids = load_events(args.data)
    if args.limit:
        events, golds, ids = events[: args.limit], golds[: args.limit], ids[: args.limit]
    emb = CachedEmbedder(Embedder(EmbedConfig()))
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    systems = ["storyline", "lead-3", "textrank", "centroid"]
    scores = {s: {"rouge1": [], "rouge2": [], "rougeL": []} for s in systems}
    lengths = {s: [] for s in systems}
    pairs, n_sent, per_event_s = [], [], []
    t_all = time.perf_counter()
    for arts, gold, cid in zip(events, golds, ids):
        t0 = time.perf_counter()
        syn = synthesize_event(arts, emb)
        per_event_s.append(time.perf_counter() - t0)
        ours = " ".join(s["text"] for s in syn.summary)
        budget = max(len(words(ours)), 40)
        outs = {"storyline": ours, "lead-3": lead3(arts), "textrank": textrank(arts, budget),
                "centroid": centroid(arts, budget)}
        for name, text in outs.items():
            sc = scorer.score(gold, text)
            for m in scores[name]:
                scores[name][m].append(sc[m].fmeasure)
            lengths[name].append(len(words(text)))
        by_id = {a.id: a for a in arts}
        n_sent.append(len(syn.summary))
        for k, s in enumerate(syn.summary):
            for aid in s["article_ids"]:
                src = s["article_ids"][0]
                src_sents = split_sentences(by_id[src].text)
                pos = next((i for i, x in enumerate(src_sents) if x.endswith(s["text"][1:])), -1)
                pairs.append({"event": cid, "k": k, "sentence": s["text"], "article_id": aid, "source": src,
                              "source_sentence": pos, "own": aid == src, "ok": judge(s["text"], by_id[aid]),
                              "article_text": by_id[aid].text})
    total_s = time.perf_counter() - t_all

    table = {name: {m: round(statistics.mean(v), 4) for m, v in ms.items()} for name, ms in scores.items()}
    for name in systems:
        table[name]["words"] = round(statistics.mean(lengths[name]), 1)
    cross = [p for p in pairs if not p["own"]]
    cit = {
        "pairs": len(pairs),
        "precision_all_pairs": round(sum(p["ok"] for p in pairs) / max(len(pairs), 1), 4),
        "cross_pairs": len(cross),
        "precision_cross_pairs": round(sum(p["ok"] for p in cross) / max(len(cross), 1), 4),
        "mean_citations_per_sentence": round(len(pairs) / max(sum(n_sent), 1), 3),
    }
    # 30 cross-article pairs for a hand check (fixed seed)
    rng = random.Random(4)
    sample = rng.sample(cross, min(30, len(cross)))
    if args.show_check:  # texts to the terminal only: the data's texts never go into the project
        for i, p in enumerate(sample, 1):
            print(f"## {i}. {p['event']} cited={p['article_id']} judge={p['ok']}\nS: {p['sentence']}\n"
                  f"A: {' '.join(p['article_text'].split())}\n")
    if args.write_check:
        write_check(sample)

    result = {
        "data": str(args.data.name),
        "events": len(events),
        "rouge_f": table,
        "citation": cit,
        "summary_sentences_mean": round(statistics.mean(n_sent), 2),
        "seconds_per_event_dev_cached": round(statistics.mean(per_event_s), 4),
        "total_seconds": round(total_s, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summaries.json").write_text(json.dumps(result, indent=2) + "\n")
    md = render_md(result)
    (RESULTS / "summaries.md").write_text(md)
    print(md)


def write_check(sample: list[dict]) -> None:
    """The 30 pairs by reference only (ids and sentence positions, no text: the texts belong to their
    publishers). ``--show-check`` prints them with their texts for the reader."""
    lines = ["# Citation check: 30 (summary sentence, cited article) pairs", "",
             "Pairs where the cited article is NOT the sentence's own source (the hard case), drawn with a",
             "fixed seed by bench/summaries.py; `python bench/summaries.py --no-speed --show-check` prints",
             "them with their texts. `judge` is the automatic judge's verdict; `hand` a reader's.", "",
             "| # | event | summary sentence | taken from (sentence no.) | cited article | judge | hand | note |",
             "|---|---|---|---|---|---|---|---|"]
    for i, p in enumerate(sample, 1):
        lines.append(f"| {i} | {p['event']} | {p['k'] + 1} | {p['source']} ({p['source_sentence'] + 1}) | "
                     f"{p['article_id']} | {'yes' if p['ok'] else 'no'} | ? | |")
    (RESULTS / "citation_check.md").write_text("\n".join(lines) + "\n")


def render_md(r: dict) -> str:
    t = r["rouge_f"]
    lines = [f"# Event summaries on {r['data']} ({r['events']} events)", "",
             "| system | ROUGE-1 F | ROUGE-2 F | ROUGE-L F | words |", "|---|---|---|---|---|"]
    for name, v in t.items():
        lines.append(f"| {name} | {v['rouge1']:.4f} | {v['rouge2']:.4f} | {v['rougeL']:.4f} | {v['words']} |")
    c = r["citation"]
    lines += ["", f"Citation precision (automatic judge): {c['precision_all_pairs']:.3f} over {c['pairs']} pairs; "
              f"{c['precision_cross_pairs']:.3f} over the {c['cross_pairs']} pairs citing an article other than the "
              f"sentence's source. Citations per sentence: {c['mean_citations_per_sentence']}.",
              f"Summary sentences per event: {r['summary_sentences_mean']}."]
    lines.append("Speed: bench/synthesis_speed.py (results/synthesis_speed.md).")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
