"""Direct-quote extraction on PolNeAR (dev by default): precision, recall, speaker accuracy, time.

    .venv/bin/python bench/quotes.py [--split dev|train] [--limit N]

Only ``id`` and ``text`` reach the extractor; every annotation field (``attributions``,
``other_annotations``, ``primary_annotator``, ...) is dropped first.

Matching rule (strict), over word tokens (``\\w+``, so quotation marks and punctuation don't count):
- gold quote G: an attribution with ``quote_type == "direct"``; its words are those of all its
  content spans (a quote interrupted by "he said" is one gold quote of two pieces).
- extracted quote E: a quote the extractor marks as not ``partial`` (PolNeAR's "direct" means the
  whole content is inside the marks; quotes embedded in a reporter's sentence are its "mixed"
  type and are reported on a separate row); its words are those inside its marks.
- recall: G is found when one E covers >= 90 % of G's words.
- precision: E is correct when it covers >= 90 % of some G's words AND >= 90 % of E's words lie
  inside that G (no large overrun, no quote merged across two gold quotes).
- speaker accuracy, over found quotes (G with its best E): when the gold source is a name, its
  surname (last capitalised word, possessive dropped; the last word when none is capitalised)
  must appear in the extracted speaker (canonical name) or in the speaker phrase as written;
  the name is the source text before its first comma, parentheses dropped ("Roman Smbatyan, an
  Armenian history ... faculty member at UC Irvine" -> "smbatyan", "Rep. Bobby Scott (D-Va.)" ->
  "scott").
  When the gold source is a pronoun ("he", "she", "they", "it", "I", "we", "who"), PolNeAR has no
  coreference, so the extracted speaker phrase's span must overlap the gold pronoun's span (the
  extractor found the right speaker phrase; its resolution of the pronoun is not scored here).
Baseline: a bare regex for text in double quotation marks, every match a quote.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DATA = Path("/work/shared/data/quotes")
if not DATA.exists():
    DATA = ROOT.parent / "shared" / "data" / "quotes"
OUT = ROOT / "bench" / "results"
WORD = re.compile(r"\w+")
PRONOUNS = {"he", "she", "they", "it", "i", "we", "who", "you"}
BASELINE_RX = re.compile(r"[\"“]([^\"“”\n]{1,2000})[\"”]")


def words_in(text: str, spans) -> set[int]:
    out: set[int] = set()
    for s, e in spans:
        out.update(s + m.start() for m in WORD.finditer(text[s:e]))
    return out


def gold_surname(src: str) -> str:
    src = re.sub(r"\([^)]*\)", " ", src).split(",")[0]  # the name, not its apposition
    toks = [re.sub(r"['’]s$", "", t) for t in re.findall(r"[\w’'.-]+", src)]
    caps = [t for t in toks if t[:1].isupper()]
    w = (caps or toks or [""])[-1]
    return w.strip(".").lower()


def score(docs, extracted) -> dict:
    """extracted: per doc, list of (word set, speaker, speaker_mention, speaker_span)."""
    n_gold = n_found = n_ext = n_correct = spk_ok = spk_n = 0
    spk_name_ok = spk_name_n = spk_pron_ok = spk_pron_n = 0
    for d, exts in zip(docs, extracted):
        text = d["text"]
        golds = []
        for a in d["attributions"]:
            if a["quote_type"] != "direct":
                continue
            g = words_in(text, [(c["start"], c["end"]) for c in a["content"]])
            if g:
                golds.append((g, a))
        n_gold += len(golds)
        n_ext += len(exts)
        for e in exts:
            ew = e[0]
            if not ew:
                continue
            for g, _a in golds:
                inter = len(ew & g)
                if inter >= 0.9 * len(g) and inter >= 0.9 * len(ew):
                    n_correct += 1
                    break
        for g, a in golds:
            best = None
            for e in exts:
                cov = len(e[0] & g) / len(g)
                if cov >= 0.9 and (best is None or cov > best[0]):
                    best = (cov, e)
            if best is None:
                continue
            n_found += 1
            if e is None or best[1][1:] == (None, None, None) and False:
                continue
            _, (ew, spk, mention, span) = best
            src = " ".join(s["text"] for s in a["source"]).strip()
            if not src:
                continue
            spk_n += 1
            if src.lower() in PRONOUNS:
                spk_pron_n += 1
                ok = bool(span) and any(span[0] < s["end"] and s["start"] < span[1] for s in a["source"])
                spk_pron_ok += ok
            else:
                spk_name_n += 1
                sur = gold_surname(src)
                ok = bool(sur) and (sur in (spk or "").lower() or sur in (mention or "").lower())
                spk_name_ok += ok
            spk_ok += ok
    p = n_correct / n_ext if n_ext else 0.0
    r = n_found / n_gold if n_gold else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
        "speaker_accuracy": round(spk_ok / spk_n, 4) if spk_n else None,
        "speaker_accuracy_named": round(spk_name_ok / spk_name_n, 4) if spk_name_n else None,
        "speaker_accuracy_pronoun_span": round(spk_pron_ok / spk_pron_n, 4) if spk_pron_n else None,
        "gold_quotes": n_gold,
        "extracted": n_ext,
        "correct": n_correct,
        "found": n_found,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="dev")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--no-embed", action="store_true", help="skip the MiniLM timing reference")
    args = ap.parse_args()
    rows = [json.loads(x) for x in open(DATA / f"polnear-{args.split}.jsonl", encoding="utf-8")]
    if args.limit:
        rows = rows[: args.limit]
    # the system under test sees id and text only
    inputs = [{"id": r["id"], "text": r["text"]} for r in rows]

    from storyline.enrich.enrichment import enrich_articles
    from storyline.enrich.nlp import load_nlp
    from storyline.records import Article

    load_nlp()
    articles = [Article(id=x["id"], text=x["text"], content_hash="") for x in inputs]
    n_words = sum(len(a.text.split()) for a in articles)
    t0 = time.perf_counter()
    enr = enrich_articles(articles)
    total = time.perf_counter() - t0
    stage = {k: sum(e.timings.get(k, 0.0) for e in enr) for k in ("ner", "entities", "quotes", "timexes")}

    full = [
        [(words_in(a.text, q.spans), q.speaker, q.speaker_mention, q.speaker_span) for q in e.quotes if not q.partial]
        for a, e in zip(articles, enr)
    ]
    attributed = [
        [(words_in(a.text, q.spans), q.speaker, q.speaker_mention, q.speaker_span) for q in e.quotes
         if not q.partial and q.speaker_type]
        for a, e in zip(articles, enr)
    ]
    allq = [
        [(words_in(a.text, q.spans), q.speaker, q.speaker_mention, q.speaker_span) for q in e.quotes]
        for a, e in zip(articles, enr)
    ]
    base = [
        [(words_in(x["text"], [m.span(1)]), None, None, None) for m in BASELINE_RX.finditer(x["text"])]
        for x in inputs
    ]
    res = {
        "storyline (direct quotes with a speaker)": score(rows, attributed),
        "storyline (direct quotes, speaker or not)": score(rows, full),
        "storyline (all quotes, partial included)": score(rows, allq),
        "bare regex baseline": score(rows, base),
    }
    for k in ("speaker_accuracy", "speaker_accuracy_named", "speaker_accuracy_pronoun_span"):
        res["bare regex baseline"][k] = None  # the baseline names no speaker
    per500 = lambda s: s / n_words * 500 * 1000  # noqa: E731 - ms per 500 words
    timing = {
        "articles": len(articles),
        "words_per_article": round(n_words / len(articles), 1),
        "total_ms_per_article": round(total / len(articles) * 1000, 2),
        "total_ms_per_500_words": round(per500(total), 2),
        "stage_ms_per_500_words": {k: round(per500(v), 2) for k, v in stage.items()},
    }
    import os

    timing["load_average_1min"] = round(os.getloadavg()[0], 2)  # other work on the machine inflates every figure
    if not args.no_embed:
        try:
            from storyline.enrich.embed import Embedder

            emb = Embedder()
            emb.encode([a.text for a in articles[:4]])
            t0 = time.perf_counter()
            emb.encode([a.text for a in articles])
            dt = time.perf_counter() - t0
            timing["minilm_embed_ms_per_article"] = round(dt / len(articles) * 1000, 2)
            timing["minilm_backend"] = emb.backend
            timing["enrich_to_embed_ratio"] = round(timing["total_ms_per_article"] / timing["minilm_embed_ms_per_article"], 2)
        except Exception as exc:  # noqa: BLE001 - the reference is optional
            timing["minilm_embed_ms_per_article"] = f"unavailable: {exc.__class__.__name__}"
    out = {"split": args.split, "results": res, "timing": timing, "matching_rule": __doc__.split("Matching rule")[1].strip()}
    OUT.mkdir(parents=True, exist_ok=True)
    name = "quotes" if args.split == "dev" and not args.limit else f"quotes-{args.split}{'-' + str(args.limit) if args.limit else ''}"
    (OUT / f"{name}.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [
        f"# Quote extraction on PolNeAR {args.split} ({len(rows)} articles)",
        "",
        "| system | precision | recall | F1 | speaker acc. | named | pronoun span | gold | extracted |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for k, v in res.items():
        sa = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
        lines.append(
            f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {sa(v['speaker_accuracy'])} | "
            f"{sa(v['speaker_accuracy_named'])} | {sa(v['speaker_accuracy_pronoun_span'])} | {v['gold_quotes']} | {v['extracted']} |"
        )
    lines += ["", "Time (2 cores, shared machine): " + json.dumps(timing), "", "Matching rule: see bench/quotes.py docstring."]
    md = "\n".join(lines) + "\n"
    (OUT / f"{name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
