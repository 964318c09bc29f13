"""Storage: embedded SQLite by default, PostgreSQL for teams and clusters.

``open_store(target)`` picks the backend: a ``postgresql://`` / ``postgres://`` URL opens a
:class:`PostgresStore` (SQLAlchemy + psycopg 3, imported only then), anything else is a SQLite path.
Both have the same methods and semantics.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from storyline.store.sqlite import Store

if TYPE_CHECKING:
    from storyline.store.postgres import PostgresStore

__all__ = ["PostgresStore", "Store", "is_postgres_url", "open_store"]


def is_postgres_url(target: object) -> bool:
    """True for ``postgresql://``, ``postgres://`` and ``postgresql+psycopg://`` URLs."""
    return isinstance(target, str) and target.split("://", 1)[0].lower() in (
        "postgresql", "postgres", "postgresql+psycopg")


def open_store(target: str | Path) -> "Store | PostgresStore":
    """A store for ``target``: a PostgreSQL URL (``postgresql://user:pw@host:5432/db``, optionally
    ``?schema=NAME``) or a path to a SQLite file (created with its folder when missing)."""
    if is_postgres_url(target):
        from storyline.store.postgres import PostgresStore

        return PostgresStore(str(target))
    return Store(target)


def __getattr__(name: str) -> Any:  # PostgresStore loads SQLAlchemy only on first use
    if name == "PostgresStore":
        from storyline.store.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(name)
