"""Storage: embedded SQLite by default."""

from storyline.store.sqlite import Store

__all__ = ["Store"]
