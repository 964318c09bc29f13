"""Shared fixtures: the bundled samples and a way to run the CLI in-process or as a subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A private copy of the five sample articles."""
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    return target


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storyline.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A PostgreSQL server for the tests that run on both backends: ``STORYLINE_TEST_PG_URL`` when set
    (``.ci/run`` sets it), else ``scripts/pg.sh`` (a throwaway server on loopback; as root it
    installs Debian's postgresql). Without either the test skips and says why; STORYLINE_TEST_PG=0
    turns PostgreSQL tests off."""
    import os

    if os.environ.get("STORYLINE_TEST_PG") == "0":
        pytest.skip("PostgreSQL tests turned off (STORYLINE_TEST_PG=0)")
    url = os.environ.get("STORYLINE_TEST_PG_URL")
    if url:
        return url  # given: it must work, so a dead server fails the tests rather than skipping them
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
    return proc.stdout.strip().splitlines()[-1]


def with_schema(url: str, schema: str) -> str:
    """``url`` naming one schema of its database (``?schema=``, as ``open_store`` reads it)."""
    return url + ("&" if "?" in url else "?") + f"schema={schema}"


def drop_pg_schema(url: str, schema: str) -> None:
    """Drop a test schema. A connection something left open on it must not hang the suite: past
    the lock timeout the schema is left behind (in a throwaway server) with a warning."""
    import warnings

    import sqlalchemy as sa

    from storyline.store.postgres import _split_url

    engine = sa.create_engine(_split_url(url)[0])
    try:
        with engine.begin() as c:
            c.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
            c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except sa.exc.DBAPIError as exc:
        warnings.warn(f"test schema {schema} left behind: {str(exc).splitlines()[0]}", stacklevel=2)
    finally:
        engine.dispose()


@pytest.fixture
def pg_schema_url(pg_url: str):
    """The URL of a fresh, empty schema in the test server, dropped afterwards."""
    import uuid

    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield with_schema(pg_url, schema)
    drop_pg_schema(pg_url, schema)
