"""Exports: export.json (the contract format) and report.html."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from storyline.export.json_export import FORMAT, build_export, export_schema, validate_export
from storyline.export.report import render_report, write_report
from storyline.store import Store

__all__ = ["FORMAT", "build_export", "export_schema", "render_report", "validate_export", "write_outputs"]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_outputs(store: Store, out_dir: Path) -> dict:
    """Write ``export.json`` (validated against the contract) and ``report.html`` into ``out_dir``."""
    document = build_export(store)
    validate_export(document)
    _write_atomic(out_dir / "export.json", orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    write_report(store, document, out_dir / "report.html")
    return document
