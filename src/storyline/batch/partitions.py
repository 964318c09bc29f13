"""Splitting the inputs of a batch into partitions, and reading one partition on a worker.

A partition is a list of *units*, read in order:

* ``SourceUnit``: one whole source as ``storyline run`` discovers it (a file of any supported kind,
  or a URL), read with the same reader (``storyline.ingest.read_source``);
* ``ShardUnit``: a byte range of a plain (not gzipped) JSON Lines file, cut at line ends. The driver
  counts the lines before each cut, so origins (``file.jsonl:LINE``) are the same as ``run``'s;
* ``ParquetUnit``: some row groups of a Parquet file (``storyline run`` reads no Parquet; a row
  becomes a document exactly as a JSON Lines record does, origin ``file.parquet[ROW]``).

Planning keeps the input order: inputs in the order given, folders walked in sorted order, files in
order, so that the driver stores articles in the same order as ``run`` and clustering (which
depends on that order) gives the same events. Small files are grouped into one partition, big
JSON Lines and Parquet files are cut into several, towards partitions of about equal bytes.

Unlike ``run``, which refuses any single file over ``IngestConfig.max_file_bytes`` (200 MB), a plain
JSON Lines file that is sharded is accepted at any size: it is streamed line by line and each line
is still held to that limit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from storyline.config import IngestConfig
from storyline.ingest import read_source
from storyline.ingest.discover import Source, _walk, discover, kind_of
from storyline.ingest.files import display, is_gzip_name, os_reason
from storyline.ingest.jsonl import (
    _GZIP_ERRORS,
    _from_lines,
    _needs_whole_document,
    _stream_lines,
    record_to_document,
)
from storyline.records import Problem, RawDocument

URL_BYTES = 64 * 1024  # what a URL counts for when balancing partitions
PARTITION_BYTES = 32 * 1024 * 1024  # default: at least one partition per this much input
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")


@dataclass(slots=True, frozen=True)
class SourceUnit:
    source: Source


@dataclass(slots=True, frozen=True)
class ShardUnit:
    path: str
    origin: str
    start: int  # byte offset of the first line (a line start)
    end: int  # byte offset after the last line (a line start, or the file size)
    first_line: int  # 1-based number of the line at ``start``
    index: int  # shard number within the file
    count: int  # shards of this file


@dataclass(slots=True, frozen=True)
class ParquetUnit:
    path: str
    origin: str
    row_groups: tuple[int, ...]
    first_row: int  # 0-based index of the first row of the first row group


Unit = SourceUnit | ShardUnit | ParquetUnit


@dataclass(slots=True)
class Partition:
    """What one Dask task reads and cleans."""

    number: int
    units: list[Unit] = field(default_factory=list)
    size: int = 0

    def describe(self) -> str:
        names = []
        for u in self.units:
            if isinstance(u, SourceUnit):
                names.append(u.source.location)
            elif isinstance(u, ShardUnit):
                names.append(f"{u.origin} (shard {u.index + 1}/{u.count})")
            else:
                names.append(f"{u.origin} (row groups {u.row_groups[0]}-{u.row_groups[-1]})")
        return ", ".join(names)


def is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(PARQUET_SUFFIXES)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def expand_inputs(inputs: Sequence[str]) -> Iterator[Source | Problem]:
    """``discover`` plus Parquet files (named, or found in folders), in the same order as ``run``
    reads its inputs; a file reached twice is read once."""
    seen: set[str] = set()

    def first_time(key: str) -> bool:
        if key in seen:
            return False
        seen.add(key)
        return True

    def resolved(path: Path) -> str:
        try:
            return str(path.resolve())
        except OSError:
            return str(path.absolute())

    for raw in inputs:
        name = str(raw)
        path = Path(name)
        try:
            is_dir = bool(name.strip()) and path.is_dir()
            is_file = bool(name.strip()) and not is_dir and path.is_file()
        except OSError:
            is_dir = is_file = False
        if is_file and is_parquet(path):
            if first_time(resolved(path)):
                yield Source("parquet", display(path), path)  # type: ignore[arg-type]
            continue
        if not is_dir:
            for item in discover([name]):  # URLs, single files and their problems
                if isinstance(item, Problem):
                    yield item
                elif first_time(item.location if item.path is None else resolved(item.path)):
                    yield item
            continue
        for found in _walk(path):
            if isinstance(found, Problem):
                yield found
                continue
            kind = "parquet" if is_parquet(found) else kind_of(found)
            if kind is not None and first_time(resolved(found)):
                yield Source(kind, display(found), found)  # type: ignore[arg-type]


def _line_starts(path: Path, cuts: list[int]) -> list[tuple[int, int]]:
    """For each byte offset in ``cuts`` (sorted): the start of the first line at or after it and
    that line's 1-based number, found in one pass over the file."""
    out: list[tuple[int, int]] = []
    lines_before = 0  # newlines seen before ``pos``
    pos = 0
    todo = list(cuts)
    with open(path, "rb") as fh:
        while todo:
            target = todo[0]
            if pos < target:
                chunk = fh.read(min(target - pos, 1 << 24))
                if not chunk:
                    break
                lines_before += chunk.count(b"\n")
                pos += len(chunk)
                continue
            # at ``target``: unless the previous byte ends a line, skip to after the next newline
            if target > 0:
                fh.seek(target - 1)
                prev = fh.read(1)
                if prev != b"\n":
                    rest = fh.readline()
                    lines_before += rest.endswith(b"\n")
                    pos = target + len(rest)
                else:
                    pos = target
                fh.seek(pos)
            out.append((pos, lines_before + 1))
            todo.pop(0)
            while todo and todo[0] <= pos:  # cuts that fell inside the same line
                out.append((pos, lines_before + 1))
                todo.pop(0)
    while todo:
        out.append((pos, lines_before + 1))
        todo.pop()
    return out


def _shards(path: Path, origin: str, size: int, pieces: int) -> list[ShardUnit]:
    cuts = [size * k // pieces for k in range(1, pieces)]
    starts = [(0, 1), *_line_starts(path, cuts)]
    bounds = []
    for (start, line), nxt in zip(starts, [*starts[1:], (size, 0)]):
        if nxt[0] > start:
            bounds.append((start, nxt[0], line))
    return [ShardUnit(str(path), origin, s, e, line, i, len(bounds)) for i, (s, e, line) in enumerate(bounds)]


def _parquet_pieces(path: Path, origin: str, pieces: int) -> list[ParquetUnit] | None:
    try:
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).metadata
    except Exception:  # noqa: BLE001 - the worker reports it when it reads the file
        return None
    groups = meta.num_row_groups
    if groups <= 1:
        return None
    rows = [meta.row_group(i).num_rows for i in range(groups)]
    pieces = max(1, min(pieces, groups))
    bounds = [groups * k // pieces for k in range(pieces + 1)]  # contiguous, sizes differ by <= 1
    return [ParquetUnit(str(path), origin, tuple(range(a, b)), sum(rows[:a]))
            for a, b in zip(bounds, bounds[1:])]


def plan_partitions(
    inputs: Sequence[str], partitions: int | None = None, min_partitions: int = 1,
    config: IngestConfig | None = None,
) -> tuple[list[Partition | Problem], int]:
    """The partitions of ``inputs`` in reading order, with discovery problems in their place.

    ``partitions``: the number wanted (about; a file is cut only at lines or row groups). By default
    ``max(min_partitions, input bytes / 32 MiB)``. Returns the plan and the number of partitions."""
    config = config or IngestConfig()
    items: list[tuple[Unit, int] | Problem] = []
    for item in expand_inputs(inputs):
        if isinstance(item, Problem):
            items.append(item)
        elif item.kind == "url":
            items.append((SourceUnit(item), URL_BYTES))
        else:
            items.append((SourceUnit(item), _size(item.path)))  # type: ignore[arg-type]
    total = sum(u[1] for u in items if not isinstance(u, Problem))
    wanted = partitions or max(min_partitions, math.ceil(total / PARTITION_BYTES))
    wanted = max(1, wanted)
    target = max(1, math.ceil(total / wanted))

    units: list[tuple[Unit, int] | Problem] = []
    for entry in items:
        if isinstance(entry, Problem):
            units.append(entry)
            continue
        unit, size = entry
        source = unit.source  # type: ignore[union-attr]
        pieces = min(wanted, math.ceil(size / target)) if size > target else 1
        if pieces > 1 and source.kind == "json" and source.path is not None and not is_gzip_name(source.path):
            name = source.path.name.lower()
            try:
                splittable = name.endswith((".jsonl", ".ndjson")) and not _needs_whole_document(source.path)
            except OSError:
                splittable = False
            if splittable:
                for shard in _shards(source.path, source.location, size, pieces):
                    units.append((shard, shard.end - shard.start))
                continue
        if source.kind == "parquet" and source.path is not None:
            parts = _parquet_pieces(source.path, source.location, pieces) if pieces > 1 else None
            if parts is None:
                parts = [ParquetUnit(str(source.path), source.location, (), 0)]  # the whole file
            for p in parts:
                units.append((p, size // len(parts)))
            continue
        units.append((unit, size))

    plan: list[Partition | Problem] = []
    current: Partition | None = None
    count = 0
    for entry in units:
        if isinstance(entry, Problem):
            plan.append(entry)
            continue
        unit, size = entry
        if current is None or current.size >= target or (current.size and current.size + size > target * 1.5):
            current = Partition(count)
            count += 1
            plan.append(current)
        current.units.append(unit)
        current.size += size
    return plan, count


# -- reading (on a worker) ------------------------------------------------------------------------


def _read_shard(unit: ShardUnit, config: IngestConfig) -> Iterator[RawDocument | Problem]:
    def lines() -> Iterator[tuple[int, bytes | None]]:
        with open(unit.path, "rb") as fh:
            fh.seek(unit.start)
            remaining = unit.end - unit.start

            class _Bounded:  # readline that never reads past the shard's end
                @staticmethod
                def readline(limit: int = -1) -> bytes:
                    nonlocal remaining
                    if remaining <= 0:
                        return b""
                    n = remaining if limit is None or limit < 0 else min(limit, remaining)
                    raw = fh.readline(n)
                    remaining -= len(raw)
                    return raw

            for lineno, raw in _stream_lines(_Bounded, config.max_file_bytes):  # type: ignore[arg-type]
                yield lineno + unit.first_line - 1, raw

    try:
        yield from _from_lines(lines(), unit.origin, config)
    except _GZIP_ERRORS as exc:  # pragma: no cover - plain files only
        yield Problem(unit.origin, f"corrupt file, stopped reading ({exc})")
    except OSError as exc:
        yield Problem(unit.origin, os_reason(exc))


def _jsonable(value: object) -> object:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def _read_parquet(unit: ParquetUnit, config: IngestConfig) -> Iterator[RawDocument | Problem]:
    try:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(unit.path)
        groups = list(unit.row_groups) or list(range(pf.metadata.num_row_groups))
        row = unit.first_row
        found = False
        for batch in pf.iter_batches(row_groups=groups, batch_size=1024):
            for record in batch.to_pylist():
                found = True
                record = {k: _jsonable(v) for k, v in record.items()}
                yield record_to_document(record, f"{unit.origin}[{row}]", config)
                row += 1
        if not found and not unit.row_groups:
            yield Problem(unit.origin, "empty")
    except OSError as exc:
        yield Problem(unit.origin, os_reason(exc))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises its own types for a corrupt file
        yield Problem(unit.origin, f"unreadable Parquet file: {type(exc).__name__}: {exc}")


def read_unit(unit: Unit, config: IngestConfig) -> Iterator[RawDocument | Problem]:
    """The documents (and problems) of one unit, as ``read_inputs`` would yield them."""
    try:
        if isinstance(unit, ShardUnit):
            yield from _read_shard(unit, config)
        elif isinstance(unit, ParquetUnit):
            yield from _read_parquet(unit, config)
        else:
            yield from read_source(unit.source, config)
    except Exception as exc:  # noqa: BLE001 - as read_inputs: one bad input never stops the batch
        location = unit.source.location if isinstance(unit, SourceUnit) else unit.origin
        yield Problem(location, f"unexpected error: {type(exc).__name__}: {exc}")


def shard_origin(unit: Unit) -> tuple[str, int, int] | None:
    """(file, shard index, shard count) for a shard, else None."""
    if isinstance(unit, ShardUnit):
        return unit.origin, unit.index, unit.count
    return None


__all__ = [
    "Partition", "ParquetUnit", "ShardUnit", "SourceUnit", "expand_inputs", "plan_partitions",
    "read_unit", "shard_origin",
]
