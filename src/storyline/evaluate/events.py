"""``storyline eval events``: score event clustering on labelled JSONL the way a user runs it.

Every ``gold_*`` field is stripped into a temporary JSONL file before the pipeline sees it; the
pipeline is the one ``storyline run`` uses; the predicted event of each article is read back from
``export.json`` and compared with ``gold_cluster``.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from storyline.config import Config
from storyline.evaluate.metrics import score_clustering

GOLD_PREFIX = "gold_"


def strip_gold(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith(GOLD_PREFIX)}


def evaluate_event_file(path: Path, config: Config | None = None, work_dir: Path | None = None) -> dict:
    from storyline.pipeline import run

    config = config or Config()
    config.progress = False
    gold: dict[str, str] = {}
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        stripped = Path(tmp) / "input.jsonl"
        with path.open(encoding="utf-8") as src, stripped.open("w", encoding="utf-8") as dst:
            for line in src:
                if not line.strip():
                    continue
                record = json.loads(line)
                gold[str(record["id"])] = str(record["gold_cluster"])
                dst.write(json.dumps(strip_gold(record), ensure_ascii=False) + "\n")
        start = time.perf_counter()
        summary = run([str(stripped)], Path(tmp) / "out", config)
        seconds = time.perf_counter() - start
        export = json.loads((Path(tmp) / "out" / "export.json").read_text(encoding="utf-8"))
    predicted = {a["id"]: a["event_id"] for a in export["articles"]}
    ids = [i for i in gold if i in predicted]
    scores = score_clustering([gold[i] for i in ids], [predicted[i] for i in ids])
    return {
        "dataset": path.stem, **asdict(scores), "skipped": len(gold) - len(ids),
        "storylines": len(export["storylines"]), "seconds": seconds,
        "articles_per_second": len(ids) / seconds if seconds else 0.0,
        "stage_seconds": summary.stage_seconds,
    }


def evaluate_event_files(paths: Sequence[Path], results: Path | None = None,
                         config: Config | None = None) -> list[dict]:
    rows = [evaluate_event_file(Path(p), copy.deepcopy(config) if config else None) for p in paths]
    if results:
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return rows
