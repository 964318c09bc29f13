"""Article extraction benchmark: plain trafilatura vs storyline's HTML path.

Data: the ScrapingHub article-extraction-benchmark dev split (91 news pages with hand-checked
article bodies) in ``/work/shared/data/extraction/aeb-dev`` (see ``/work/shared/data/README.md``).
This is the only extraction dev set: storyline's settings were tuned on it, so its figures are
optimistic for unseen pages.

Metric (the benchmark's own ``evaluate.py``, re-implemented): tokens = ``\\w+`` runs (case kept,
as there; ``f1_lowercased`` in the JSON is the same on lower-cased text), word 4-gram
shingles counted as multisets; per page TP/FP/FN normalised by their sum, precision and recall per
page averaged over pages (precision over pages where something was predicted, recall over pages
where something was expected), F1 of the two averages.

Run: ``.venv/bin/python bench/extraction.py [--data DIR]``. Writes ``bench/results/extraction.json``
and ``bench/results/extraction.md`` (figures only: no page text is stored).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from trafilatura.utils import decode_file  # noqa: E402

from storyline.clean import clean_document, extract_html  # noqa: E402
from storyline.config import CleanConfig  # noqa: E402
from storyline.records import Article, RawDocument  # noqa: E402

DEFAULT_DATA = Path("/work/shared/data/extraction/aeb-dev")
RESULTS = ROOT / "bench" / "results"
_TOKEN = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int = 4) -> Counter:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1))
                   if tokens[i:i + n])


def tp_fp_fn(true: str, pred: str, lower: bool = False) -> tuple[float, float, float]:
    if lower:
        true, pred = true.lower(), pred.lower()
    t, p = shingles(true), shingles(pred)
    tp = float(sum((t & p).values()))
    fp = float(sum(p.values()) - tp)
    fn = float(sum(t.values()) - tp)
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s > 0 else (tp, fp, fn)


def precision_score(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fp == 0:
        return 0.0
    return tp / (tp + fp)


def recall_score(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fn == 0:
        return 0.0
    return tp / (tp + fn)


def metrics(counts: list[tuple[float, float, float]]) -> dict[str, float]:
    p = statistics.mean(precision_score(*c) for c in counts if c[0] + c[1] > 0)
    r = statistics.mean(recall_score(*c) for c in counts if c[0] + c[2] > 0)
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def load(data: Path) -> tuple[dict[str, dict], dict[str, str]]:
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {}
    for key in truth:
        raw = gzip.decompress((data / "html" / f"{key}.html.gz").read_bytes())
        pages[key] = decode_file(raw)  # charset detection, as ingest does for fetched pages
    return truth, pages


def run_trafilatura(html: str, url: str | None) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url) or ""


def run_storyline(html: str, url: str | None) -> str:
    # no url and no metadata: the page alone, like the other method
    result = clean_document(RawDocument(id="page", origin="bench", html=html), CleanConfig())
    return result.text if isinstance(result, Article) else ""


def run_storyline_extract_only(html: str, url: str | None) -> str:
    # storyline's trafilatura settings without junk removal: what cleaning adds on top
    return extract_html(html, url).text


METHODS = {
    "trafilatura (defaults)": run_trafilatura,
    "storyline extract_html only": run_storyline_extract_only,
    "storyline clean_document": run_storyline,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    truth, pages = load(args.data)
    rows = []
    for name, fn in METHODS.items():
        start = time.perf_counter()
        preds = {key: fn(page, None) for key, page in pages.items()}
        seconds = time.perf_counter() - start
        m = metrics([tp_fp_fn(truth[k].get("articleBody", ""), preds[k]) for k in pages])
        low = metrics([tp_fp_fn(truth[k].get("articleBody", ""), preds[k], lower=True) for k in pages])
        rows.append({"method": name, **{k: round(v, 4) for k, v in m.items()},
                     "f1_lowercased": round(low["f1"], 4),
                     "pages": len(pages), "seconds": round(seconds, 2)})

    header = "| method | P | R | F1 | pages | seconds |\n|---|---|---|---|---|---|\n"
    table = header + "".join(
        f"| {r['method']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} "
        f"| {r['pages']} | {r['seconds']:.1f} |\n" for r in rows)
    print(table)
    if args.no_write:
        return
    import trafilatura

    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "data": "ScrapingHub article-extraction-benchmark, dev split (aeb-dev)",
        "metric": "word 4-gram shingles (\\w+ tokens, case kept as in the benchmark's evaluate.py; "
                  "f1_lowercased: the same on lower-cased text); P and R per page, averaged; F1 of the averages",
        "note": "the only extraction dev set: storyline's extraction settings were tuned on it",
        "trafilatura_version": trafilatura.__version__,
    }
    (RESULTS / "extraction.json").write_text(json.dumps({**meta, "results": rows}, indent=2) + "\n")
    (RESULTS / "extraction.md").write_text(
        "# Article extraction (ScrapingHub benchmark, dev split)\n\n" + table
        + "\nMetric: the benchmark's own (word 4-gram shingle P/R per page, averaged; F1 of the "
        "averages). This is the only extraction dev set: storyline's settings were tuned on it, "
        "so its figure is optimistic for unseen pages. Run: `.venv/bin/python bench/extraction.py`.\n")


if __name__ == "__main__":
    main()
