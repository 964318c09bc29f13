"""The core promise: raw news in, events and storylines out, incrementally and safely."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storyline.config import Config
from storyline.evaluate.events import strip_gold
from storyline.export import validate_export
from storyline.pipeline import run

from conftest import SHARED, run_cli

pytestmark = pytest.mark.slow  # runs the embedding model


def quiet_config() -> Config:
    config = Config()
    config.progress = False
    return config


def load_export(out: Path) -> dict:
    document = json.loads((out / "export.json").read_text(encoding="utf-8"))
    validate_export(document)
    return document


def groups(document: dict) -> set[frozenset[str]]:
    by_event: dict[str, set[str]] = {}
    for a in document["articles"]:
        by_event.setdefault(a["event_id"], set()).add(a["id"][:3])
    return {frozenset(v) for v in by_event.values()}


def test_seeds_make_two_events_in_one_storyline(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = run([str(examples)], out, quiet_config())
    document = load_export(out)
    assert summary.read == 5 and not summary.problems
    assert groups(document) == {frozenset({"000", "001", "002", "003"}), frozenset({"004"})}
    assert len(document["storylines"]) == 1
    assert len(document["storylines"][0]["event_ids"]) == 2
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "storyline report" in report and document["events"][0]["title"] in report


def test_rerun_is_idempotent_and_adds_only_new(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first_input = tmp_path / "first"
    first_input.mkdir()
    for name in sorted(os.listdir(examples))[:3]:
        (first_input / name).write_bytes((examples / name).read_bytes())
    run([str(first_input)], out, quiet_config())
    before = load_export(out)
    again = run([str(first_input)], out, quiet_config())
    assert (again.new, again.unchanged) == (0, 3)
    assert load_export(out) == before

    more = run([str(examples)], out, quiet_config())
    assert (more.new, more.unchanged) == (2, 3)
    after = load_export(out)
    assert len(after["articles"]) == 5
    # the first three keep the event they had: new articles join or start events
    old_event = {a["id"]: a["event_id"] for a in before["articles"]}
    assert all(a["event_id"] == old_event[a["id"]] for a in after["articles"] if a["id"] in old_event)
    with sqlite3.connect(out / "storyline.db") as db:
        assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 5
        assert db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 5


def test_store_with_another_lead_budget_is_embedded_again(examples: Path, tmp_path: Path) -> None:
    """Article vectors are keyed by model and lead budget: a store whose vectors read another budget
    (made before ``lead_tokens``, or with another setting) has them made again, once, and the
    events are those of a fresh run."""
    from storyline.enrich.embed import MODEL_NAME, article_model

    fresh, old = tmp_path / "fresh", tmp_path / "old"
    run([str(examples)], fresh, quiet_config())
    wide = quiet_config()
    wide.embed.lead_tokens = 128
    run([str(examples)], old, wide)
    with sqlite3.connect(old / "storyline.db") as db:
        db.execute("UPDATE embeddings SET model = ?", (MODEL_NAME,))  # the key before lead_tokens
        db.execute("DELETE FROM event_articles")  # cluster again with the vectors made now
        db.execute("DELETE FROM events")
    again = run([str(examples)], old, quiet_config())
    assert again.unchanged == 5
    with sqlite3.connect(old / "storyline.db") as db:
        keys = db.execute("SELECT model, COUNT(*) FROM embeddings GROUP BY model").fetchall()
    assert keys == [(article_model(quiet_config().embed), 5)]
    assert groups(load_export(old)) == groups(load_export(fresh))


def test_seeds_one_at_a_time_give_the_events_of_one_batch(examples: Path, tmp_path: Path) -> None:
    """Incremental runs (each loading only the hot set) end where one batch ends."""
    out = tmp_path / "out"
    config = quiet_config()
    config.synthesize = False
    for name in sorted(os.listdir(examples)):
        one = tmp_path / name.split("_")[0]
        one.mkdir()
        (one / name).write_bytes((examples / name).read_bytes())
        run([str(one)], out, config)
    document = load_export(out)
    assert groups(document) == {frozenset({"000", "001", "002", "003"}), frozenset({"004"})}
    assert len(document["storylines"]) == 1 and len(document["storylines"][0]["event_ids"]) == 2


def test_bad_inputs_are_named_and_the_batch_goes_on(examples: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (bad / "empty.txt").write_text("   \n")
    (bad / "truncated.jsonl.gz").write_bytes(gzip.compress(b'{"id": "t1", "text": "' + b"word " * 400)[:60])
    (bad / "lines.jsonl").write_text(
        '{"id": "j1", "title": "Quake hits coast", "text": "A strong earthquake struck the coast on Monday, '
        'officials said, damaging dozens of buildings."}\n{"id": broken\n')
    (bad / "nothing.html").write_text("<html><body><nav>Home | About</nav></body></html>")
    out = tmp_path / "out"
    result = run_cli("run", str(examples), str(bad), str(tmp_path / "missing-folder"), "--out", str(out), "-q")
    assert result.returncode == 3, result.stderr
    err = result.stderr
    for item in ("binary.txt", "empty.txt", "truncated.jsonl.gz", "lines.jsonl:2", "nothing.html", "missing-folder"):
        assert item in err, f"{item} not named in: {err}"
    document = load_export(out)
    assert {a["id"] for a in document["articles"]} >= {"j1", "000_f3fb5b71e95ff506"}
    assert len(document["articles"]) == 6


def test_killed_run_is_completed_by_the_next(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (SHARED / "data/events/allsides-dev.jsonl").open()][:300]
    data = tmp_path / "in.jsonl"
    data.write_text("\n".join(json.dumps(strip_gold(r))
                              for r in rows) + "\n")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "storyline.cli", "run", str(data), "--out", str(out), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = out / "storyline.db"
    deadline = time.time() + 240
    while time.time() < deadline:  # kill once some but not all work is committed
        time.sleep(0.2)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as conn:
                    if conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] > 0:
                        break
            except sqlite3.OperationalError:
                continue
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "export.json").exists()
    result = run_cli("run", str(data), "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr
    document = load_export(out)
    assert len(document["articles"]) == 300
    assert len({a["id"] for a in document["articles"]}) == 300
    assert all(a["event_id"] for a in document["articles"])


def test_same_titled_input_twice_changes_nothing(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (SHARED / "data/events/basil-dev.jsonl").open()][:24]
    data = tmp_path / "in.jsonl"
    data.write_text("\n".join(json.dumps(strip_gold(r))
                              for r in rows) + "\n")
    out = tmp_path / "out"
    run([str(data)], out, quiet_config())
    first = (out / "export.json").read_text(encoding="utf-8")
    again = run([str(data)], out, quiet_config())
    assert again.new == 0 and again.unchanged == 24
    assert (out / "export.json").read_text(encoding="utf-8") == first


def test_parallel_enrichment_stores_what_sequential_does(examples: Path, tmp_path: Path) -> None:
    from storyline.store import Store

    stored = {}
    for name, workers in (("one", 1), ("two", 2)):
        config = quiet_config()
        config.synthesize = False
        config.enrich.workers, config.enrich.parallel_min_articles, config.enrich.chunk = workers, 1, 2
        run([str(examples)], tmp_path / name, config)
        with Store(tmp_path / name / "storyline.db") as store:
            ids = [a.id for a in store.articles()]
            stored[name] = {k: {**v, "timings": None} for k, v in store.enrichment(ids).items()}
    assert len(stored["one"]) == 5 and stored["one"] == stored["two"]


def test_enrichment_workers_start_during_ingest_and_always_close(examples: Path, tmp_path: Path, monkeypatch) -> None:
    """Once ingest has added enough articles for workers, they start loading spaCy while ingest
    goes on; enrich uses and closes them, and a run that fails before enrich closes them too."""
    from storyline.pipeline import Pipeline
    from storyline.store import Store

    config = quiet_config()
    config.synthesize = False
    config.enrich.workers, config.enrich.parallel_min_articles, config.enrich.chunk = 2, 3, 2
    with Store(tmp_path / "a.db") as store:
        pipeline = Pipeline(store, config)
        pipeline.ingest([str(examples)])
        workers = pipeline._enrich_workers
        assert workers is not None  # 5 new articles >= 3
        pipeline.embed()
        pipeline.enrich()
        assert pipeline._enrich_workers is None and not store.missing_enrichment()
        with pytest.raises(RuntimeError):
            workers.submit(int)  # shut down

    def broken_embed(self) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Pipeline, "embed", broken_embed)
    with Store(tmp_path / "b.db") as store:
        pipeline = Pipeline(store, config)
        with pytest.raises(OSError):
            pipeline.run([str(examples)])
        assert pipeline._enrich_workers is None


def test_kept_enrichment_workers_serve_later_runs_until_closed(examples: Path, tmp_path: Path) -> None:
    """A long-lived pipeline (the watcher's) keeps its workers between runs, even for a run too
    small to start them, until close(); the results are those of a fresh pipeline."""
    import shutil

    from storyline.pipeline import Pipeline
    from storyline.store import Store

    config = quiet_config()
    config.synthesize = False
    config.enrich.workers, config.enrich.parallel_min_articles, config.enrich.chunk = 2, 3, 2
    files = sorted(examples.glob("*.txt"))
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    for f in files[:3]:
        shutil.copy(f, first)
    for f in files[3:]:
        shutil.copy(f, second)
    with Store(tmp_path / "kept.db") as store:
        pipeline = Pipeline(store, config, keep_workers=True)
        pipeline.start_enrich_workers()
        workers = pipeline._enrich_workers
        pipeline.run([str(first)])
        pipeline.run([str(second)])  # 2 new articles: under the threshold, the kept workers still serve
        assert pipeline._enrich_workers is workers
        pipeline.close()
        assert pipeline._enrich_workers is None
        kept = store.enrichment([a.id for a in store.articles()])
    with Store(tmp_path / "fresh.db") as store:
        Pipeline(store, config).run([str(first), str(second)])
        fresh = store.enrichment([a.id for a in store.articles()])
    assert len(kept) == 5
    assert {k: {**v, "timings": None} for k, v in kept.items()} == {k: {**v, "timings": None} for k, v in fresh.items()}


def duplicate_links(document: dict) -> set[tuple]:
    return {(a["id"][:3], (a["rewrite_of"] or a["duplicate_of"])[:3], a["duplicate_kind"], a["duplicate_score"])
            for a in document["articles"] if a["duplicate_kind"]}


def test_rewrites_found_one_run_at_a_time_are_those_of_one_batch(examples: Path, tmp_path: Path) -> None:
    """Later runs re-test only the articles whose earlier event members changed (rewrite check keys):
    the paraphrase of 000, checked in its own run, keeps its link while the event grows, and every
    link is the one batch's."""
    rewrite = (Path(__file__).parent / "data" / "rewrite_of_000.txt").read_bytes()
    config = quiet_config()
    config.synthesize = False
    names = sorted(os.listdir(examples))
    (examples / "rw0_rewrite.txt").write_bytes(rewrite)
    batch = tmp_path / "batch"
    run([str(examples)], batch, config)
    expected = duplicate_links(load_export(batch))
    assert ("rw0", "000", "rewrite") in {link[:3] for link in expected}
    out = tmp_path / "out"
    for name in [names[0], "rw0_rewrite.txt", *names[1:]]:
        one = tmp_path / name.split("_")[0]
        one.mkdir()
        (one / name).write_bytes((examples / name).read_bytes())
        run([str(one)], out, config)
    assert duplicate_links(load_export(out)) == expected
