"""Shared fixtures: the bundled samples and a way to run the CLI in-process or as a subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
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


def _pgserver_home() -> Path | None:
    """The installed ``pgserver`` package's folder (its bundled PostgreSQL is ``pginstall/``), found
    without importing it (the import sets up pgserver's own server management, unused here)."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")
    return Path(spec.origin).parent if spec is not None and spec.origin else None


def _start_pgvector_server(home: Path, directory: Path) -> tuple[str, subprocess.Popen]:
    """initdb and start pgserver's bundled PostgreSQL 16 (pgvector included) in ``directory``, on
    127.0.0.1 and a free port: (URL of its ``storyline`` database, the postmaster). As root the
    server runs as ``postgres`` (the server refuses root), created when missing as scripts/pg.sh does."""
    import os
    import secrets
    import socket
    import time

    owner: dict = {}
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"],
                           check=True, capture_output=True)
            pw = pwd.getpwnam("postgres")
        owner = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        os.chown(directory, pw.pw_uid, pw.pw_gid)
    bin_dir = home / "pginstall" / "bin"
    try:
        usable = not owner or subprocess.run([bin_dir / "postgres", "--version"], capture_output=True, check=False,
                                             **owner).returncode == 0
    except PermissionError:
        usable = False
    if not usable:
        # the venv is not readable by `postgres` (e.g. under /root): run a copy, keeping the layout
        # that initdb's RPATH to pgserver.libs expects
        site = directory / "site"
        shutil.copytree(home, site / home.name, ignore=shutil.ignore_patterns("__pycache__"))
        if (home.parent / "pgserver.libs").is_dir():
            shutil.copytree(home.parent / "pgserver.libs", site / "pgserver.libs")
        subprocess.run(["chmod", "-R", "a+rX", str(site)], check=True)
        bin_dir = site / home.name / "pginstall" / "bin"
    data, log = directory / "data", directory / "server.log"
    password = secrets.token_hex(16)
    (directory / "pw").write_text(password + "\n")
    if owner:
        os.chown(directory / "pw", owner["user"], owner["group"])
    with open(directory / "initdb.log", "wb") as out:
        for locale in (["--locale=C.UTF-8"], ["--no-locale"]):  # C.UTF-8 as Debian's server; plain C where missing
            shutil.rmtree(data, ignore_errors=True)
            done = subprocess.run([bin_dir / "initdb", "-D", data, "-U", "postgres", f"--pwfile={directory / 'pw'}",
                                   "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", *locale,
                                   "--no-sync", "--no-instructions"], stdout=out, stderr=out, check=False, **owner)
            if done.returncode == 0:
                break
        else:
            raise RuntimeError(f"initdb failed: {(directory / 'initdb.log').read_text()[-1500:]}")
    for _ in range(3):  # a port taken between picking and binding it: pick another
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [bin_dir / "postgres", "-D", data, "-c", "listen_addresses=127.0.0.1", "-p", str(port),
                 "-k", directory, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=200"], stdin=subprocess.DEVNULL, stdout=out, stderr=out, **owner)
        deadline, ready = time.monotonic() + 60, False
        while not ready and proc.poll() is None and time.monotonic() < deadline:
            pid_file = data / "postmaster.pid"  # its 8th line says "ready" once connections are accepted
            lines = pid_file.read_text().splitlines() if pid_file.exists() else []
            ready = len(lines) >= 8 and lines[7].strip() == "ready"
            time.sleep(0 if ready else 0.02)
        if proc.poll() is None:
            break
    if not ready or proc.poll() is not None:
        _stop_postgres(proc)
        raise RuntimeError(f"pgserver's postgres did not start: {log.read_text()[-1500:]}")
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres password={password} dbname=postgres",
                         autocommit=True) as c:
        c.execute('CREATE DATABASE "storyline"')
    return f"postgresql://postgres:{password}@127.0.0.1:{port}/storyline", proc


def _stop_postgres(proc: subprocess.Popen) -> None:
    """Fast shutdown (SIGINT: clients disconnected, no checkpoint wait beyond a few ms), else kill."""
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """A PostgreSQL server with pgvector, for the pgvector half of the store and serve tests (Debian 12
    has no pgvector package for the ``pg_url`` server): PostgreSQL 16 and pgvector as bundled by the
    ``pgserver`` wheel (dev extra), a fresh cluster in a temporary folder on 127.0.0.1, started once
    per session (about a second) and stopped and deleted at its end. The extension is available but
    not created: stores create it, as they would on a team's server. STORYLINE_TEST_PGVECTOR_URL names
    a server of one's own instead; skipped, saying why, only when pgserver is not installed (or
    STORYLINE_TEST_PG=0)."""
    import os
    import tempfile

    if os.environ.get("STORYLINE_TEST_PG") == "0":
        pytest.skip("PostgreSQL tests turned off (STORYLINE_TEST_PG=0)")
    url = os.environ.get("STORYLINE_TEST_PGVECTOR_URL")
    if url:
        yield url
        return
    home = _pgserver_home()
    if home is None:
        pytest.skip("no PostgreSQL with pgvector: pip install pgserver (in the dev extra), "
                    "or set STORYLINE_TEST_PGVECTOR_URL=postgresql://...")
    directory = Path(tempfile.mkdtemp(prefix="storyline-pgvector-"))
    proc = None
    try:
        url, proc = _start_pgvector_server(home, directory)
        yield url
    finally:
        if proc is not None:
            _stop_postgres(proc)
        shutil.rmtree(directory, ignore_errors=True)
