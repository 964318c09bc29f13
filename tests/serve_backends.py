"""The web app's tests on both stores: SQLite files and PostgreSQL schemas (helpers, not tests).

PostgreSQL comes from ``STORYLINE_TEST_PG_URL`` when set, else from ``scripts/pg.sh`` (which as root
installs and starts a throwaway server on loopback, and reuses one already running); without either
the PostgreSQL half skips and says why. STORYLINE_TEST_PG=0 turns it off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
_url: list[str] = []


def pg_url() -> str:
    """The test server's URL, or skip (fail when STORYLINE_TEST_PG_URL is set: it must work)."""
    if _url:
        return _url[0]
    if os.environ.get("STORYLINE_TEST_PG") == "0":
        pytest.skip("PostgreSQL tests turned off (STORYLINE_TEST_PG=0)")
    url = os.environ.get("STORYLINE_TEST_PG_URL")
    if not url:
        root = hasattr(os, "geteuid") and os.geteuid() == 0
        have_server = bool(list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))) or shutil.which("initdb")
        if not root and not have_server:
            pytest.skip("no PostgreSQL: set STORYLINE_TEST_PG_URL=postgresql://... or run as root "
                        "(scripts/pg.sh then installs and starts one)")
        proc = subprocess.run([str(ROOT / "scripts" / "pg.sh")], capture_output=True, text=True, timeout=900)
        if proc.returncode != 0 or not proc.stdout.strip():
            message = f"scripts/pg.sh could not start PostgreSQL: {proc.stderr.strip()[-1500:]}"
            if root:
                pytest.fail(message)
            pytest.skip(message)
        url = proc.stdout.strip().splitlines()[-1]
    _url.append(url)
    return url


def with_schema(url: str, schema: str) -> str:
    return url + ("&" if "?" in url else "?") + f"schema={schema}"


@contextmanager
def pg_copy(sqlite_db: Path) -> Iterator[str]:
    """A fresh schema holding a copy of ``sqlite_db``; yields its URL, drops the schema after."""
    from storyline.serve.demo import copy_store
    from storyline.store import Store
    from storyline.store.postgres import PostgresStore

    schema = f"t_serve_{uuid.uuid4().hex[:12]}"
    url = with_schema(pg_url(), schema)
    target = PostgresStore(url)
    try:
        with Store(sqlite_db) as source:
            copy_store(source, target)
        yield url
    finally:
        with target.engine.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        target.close()


@contextmanager
def store_on(backend: str, sqlite_db: Path, tmp_path: Path) -> Iterator[str | Path]:
    """A private copy of ``sqlite_db`` on ``backend`` ("sqlite": a file under tmp_path; "postgres": a
    schema): its path or URL."""
    if backend == "sqlite":
        target = tmp_path / f"store-{uuid.uuid4().hex[:8]}"
        shutil.copytree(sqlite_db.parent, target)
        yield target / sqlite_db.name
    else:
        with pg_copy(sqlite_db) as url:
            yield url
