"""The web app's tests on both stores: SQLite files and PostgreSQL schemas (helpers, not tests).

The PostgreSQL server's URL comes from the shared ``pg_url`` fixture (tests/conftest.py:
``STORYLINE_TEST_PG_URL``, else ``scripts/pg.sh``; without either the PostgreSQL half skips and says
why).
"""

from __future__ import annotations

import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from conftest import drop_pg_schema, with_schema  # noqa: F401 - with_schema: used by the tests too


@contextmanager
def pg_copy(sqlite_db: Path, pg_url: str) -> Iterator[str]:
    """A fresh schema of the server at ``pg_url`` holding a copy of ``sqlite_db``; yields its URL,
    drops the schema after."""
    from storyline.serve.demo import copy_store
    from storyline.store import Store
    from storyline.store.postgres import PostgresStore

    schema = f"t_serve_{uuid.uuid4().hex[:12]}"
    url = with_schema(pg_url, schema)
    target = PostgresStore(url)
    try:
        with Store(sqlite_db) as source:
            copy_store(source, target)
        yield url
    finally:
        target.close()
        drop_pg_schema(pg_url, schema)


@contextmanager
def store_on(backend: str, sqlite_db: Path, tmp_path: Path, pg_url: str | None = None) -> Iterator[str | Path]:
    """A private copy of ``sqlite_db`` on ``backend`` ("sqlite": a file under tmp_path; "postgres": a
    schema of the server at ``pg_url``): its path or URL."""
    if backend == "sqlite":
        target = tmp_path / f"store-{uuid.uuid4().hex[:8]}"
        shutil.copytree(sqlite_db.parent, target)
        yield target / sqlite_db.name
    else:
        with pg_copy(sqlite_db, pg_url) as url:
            yield url
