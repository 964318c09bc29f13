"""storyline batch on a real Dask LocalCluster (2 worker processes x 1 thread, no mocks).

The input: the five sample articles plus 60 BASIL dev articles (every gold_* field stripped) as
JSON Lines. Its events, and its whole export, must equal ``storyline run``'s on the same input.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from conftest import EXAMPLES, SHARED, run_cli  # noqa: E402
from storyline.batch import run_batch  # noqa: E402
from storyline.batch.partitions import ParquetUnit, ShardUnit, plan_partitions, read_unit  # noqa: E402
from storyline.batch.tasks import worker_info  # noqa: E402
from storyline.config import Config  # noqa: E402
from storyline.evaluate.events import strip_gold  # noqa: E402
from storyline.export import validate_export  # noqa: E402
from storyline.ingest import read_inputs  # noqa: E402
from storyline.pipeline import run as run_pipeline  # noqa: E402
from storyline.records import Problem  # noqa: E402
from storyline.store import Store  # noqa: E402

BASIL = SHARED / "data" / "events" / "basil-dev.jsonl"
N_BASIL = 60


def _config(synthesize: bool = True) -> Config:
    config = Config()
    config.progress = False
    config.synthesize = synthesize
    return config


def _basil_records() -> list[dict]:
    rows = []
    with open(BASIL, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            rows.append(strip_gold(record))
            if len(rows) == N_BASIL:
                break
    return rows


def _events(db: Path) -> set[frozenset[str]]:
    with Store(db) as store:
        return {frozenset(e.article_ids) for e in store.events()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    if not BASIL.exists():
        pytest.skip(f"{BASIL} not available")
    root = tmp_path_factory.mktemp("corpus") / "in"
    shutil.copytree(EXAMPLES, root)
    with open(root / "basil.jsonl", "w", encoding="utf-8") as fh:
        for record in _basil_records():
            fh.write(json.dumps(record) + "\n")
    return root


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.WARNING)
    dask = distributed.Client(cluster)
    yield dask
    dask.close()
    cluster.close()


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory) -> Path:
    """``storyline run`` on the corpus."""
    out = tmp_path_factory.mktemp("run")
    run_pipeline([str(corpus)], out, _config())
    return out


# -- partitioning and reading (no cluster) --------------------------------------------------------


def _documents(units, config) -> list:
    return [item for unit in units for item in read_unit(unit, config.ingest)]


def test_jsonl_shards_read_exactly_what_run_reads(tmp_path: Path) -> None:
    records = _basil_records()[:25]
    lines = [json.dumps(r) for r in records]
    lines.insert(7, "{broken")
    lines.insert(15, "")
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = _config()
    plan, count = plan_partitions([str(path)], partitions=4, config=config.ingest)
    units = [u for p in plan for u in p.units]
    assert count >= 3 and all(isinstance(u, ShardUnit) for u in units)
    expected = list(read_inputs([str(path)], config.ingest))
    got = _documents(units, config)
    key = lambda d: (d.item, d.reason) if isinstance(d, Problem) else (d.id, d.origin, d.text)  # noqa: E731
    assert [key(d) for d in got] == [key(d) for d in expected]
    assert any(isinstance(d, Problem) and d.item == f"{path}:8" for d in got)


def test_parquet_row_groups_read_like_jsonl(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    records = _basil_records()[:30]
    path = tmp_path / "news.parquet"
    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=10)
    config = _config()
    plan, count = plan_partitions([str(tmp_path)], partitions=3, config=config.ingest)
    units = [u for p in plan for u in p.units]
    assert count == 3 and all(isinstance(u, ParquetUnit) for u in units)
    docs = _documents(units, config)
    assert [d.id for d in docs] == [r["id"] for r in records]
    assert docs[12].origin == f"{path}[12]" and docs[12].text == records[12]["text"].strip()


# -- on the cluster --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_batch_equals_run(corpus: Path, reference: Path, client, tmp_path: Path) -> None:
    out = tmp_path / "batch"
    result = run_batch([str(corpus)], out, _config(), client=client, partitions=4)
    summary = result.summary
    assert (summary.read, summary.new, summary.problems) == (65, 65, [])
    assert result.partitions >= 2 and result.chunks >= 2

    assert _events(out / "storyline.db") == _events(reference / "storyline.db")
    document = json.loads((out / "export.json").read_text(encoding="utf-8"))
    validate_export(document)
    assert document == json.loads((reference / "export.json").read_text(encoding="utf-8"))
    assert (out / "report.html").stat().st_size > 0

    # the work ran on the workers, each of which loaded the models once
    infos = client.run(worker_info)
    pids = {info["pid"] for info in infos.values()}
    assert result.worker_pids <= pids and len(result.worker_pids) == 2
    for info in infos.values():
        assert info["models"] == [info["pid"]]

    # a second batch over the same input changes nothing and embeds nothing
    again = run_batch([str(corpus)], out, _config(), client=client)
    assert (again.summary.new, again.summary.unchanged, again.chunks) == (0, 65, 0)
    assert _events(out / "storyline.db") == _events(reference / "storyline.db")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_broken_files_become_problems_as_in_run(client, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    shutil.copytree(EXAMPLES, inputs)
    (inputs / "broken.jsonl").write_text('{"id": "b1", "text": "fine enough words here to pass"}\n{oops\n',
                                         encoding="utf-8")
    (inputs / "bad.json").write_text("not json {{{", encoding="utf-8")
    (inputs / "dup.jsonl").write_text('{"id": "b1", "text": "the same id again, in another partition"}\n',
                                      encoding="utf-8")
    (inputs / "empty.txt").write_text("", encoding="utf-8")
    (inputs / "corrupt.parquet").write_bytes(b"PAR1 not really parquet")
    config = _config(synthesize=False)
    expected = run_pipeline([str(inputs)], tmp_path / "run", config)
    result = run_batch([str(inputs)], tmp_path / "batch", config, client=client, partitions=8)
    got = result.summary
    # run reads no Parquet (a folder's .parquet is passed over); batch reads it, and says it is corrupt
    parquet = [p for p in got.problems if p.item.endswith("corrupt.parquet")]
    assert len(parquet) == 1 and "Parquet" in parquet[0].reason
    assert sorted(map(str, (p for p in got.problems if p not in parquet))) == sorted(map(str, expected.problems))
    assert {str(p) for p in expected.problems} >= {f"{inputs}/broken.jsonl:2: invalid JSON: Expecting property"
                                                   " name enclosed in double quotes (column 2)"}
    assert f"{inputs}/dup.jsonl:1: duplicate id 'b1' in this run" in {str(p) for p in got.problems}
    assert result.partitions >= 4
    assert _events(tmp_path / "batch" / "storyline.db") == _events(tmp_path / "run" / "storyline.db")
    with Store(tmp_path / "batch" / "storyline.db") as store:
        assert {str(p) for p in store.problems()} == {str(p) for p in got.problems}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_cli_batch_with_scheduler(client, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    shutil.copytree(EXAMPLES, inputs)
    (inputs / "bad.json").write_text("[", encoding="utf-8")
    address = client.scheduler.address
    done = run_cli("batch", str(inputs), "--out", str(tmp_path / "out"), "--engine", "dask", "--scheduler",
                   address, "--quiet", "--no-synthesize", "--summary-json", str(tmp_path / "s.json"))
    assert done.returncode == 3, done.stderr  # finished, one input skipped (as run)
    assert "bad.json" in done.stderr
    figures = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert figures["engine"] == "dask" and figures["scheduler"] == address and figures["articles"] == 5
    validate_export(json.loads((tmp_path / "out" / "export.json").read_text(encoding="utf-8")))
    wrong = run_cli("batch", str(inputs), "--out", str(tmp_path / "o2"), "--engine", "spark")
    assert wrong.returncode == 2 and "dask" in wrong.stderr


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_without_scheduler_a_local_cluster_is_started_and_closed(examples: Path, tmp_path: Path) -> None:
    result = run_batch([str(examples)], tmp_path / "out", _config(synthesize=False))
    assert result.workers == 2 and result.scheduler.startswith("tcp://127.0.0.1:")
    assert (result.summary.new, result.summary.events) == (5, 2)
    assert len(result.worker_pids) >= 1 and all(pid != os.getpid() for pid in result.worker_pids)
    validate_export(json.loads((tmp_path / "out" / "export.json").read_text(encoding="utf-8")))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_batch_into_postgres_writes_what_run_writes(client, examples: Path, tmp_path: Path,
                                                     pg_schema_url: str) -> None:
    """A team's cluster writes into a shared PostgreSQL store: same events and export as run."""
    config = _config(synthesize=False)
    run_pipeline([str(examples)], tmp_path / "run", config)
    done = run_cli("batch", str(examples), "--out", str(tmp_path / "batch"), "--db", pg_schema_url,
                   "--scheduler", client.scheduler.address, "--quiet", "--no-synthesize")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "batch" / "storyline.db").exists()
    assert (tmp_path / "batch" / "export.json").read_bytes() == (tmp_path / "run" / "export.json").read_bytes()
