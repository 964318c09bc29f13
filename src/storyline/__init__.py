"""storyline: raw news in, events and storylines out.

Public API::

    import storyline
    summary = storyline.run(["examples/"], "out/")      # storyline.db, export.json, report.html
    with storyline.Store("out/storyline.db") as store:
        for event in store.events(): ...

Everything not exported here may change between releases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Article", "Config", "DuplicateLink", "Event", "Problem", "RawDocument", "RunSummary", "Store",
    "Storyline", "run",
]

from storyline.config import Config
from storyline.records import Article, DuplicateLink, Event, Problem, RawDocument, Storyline

if TYPE_CHECKING:
    from storyline.pipeline import RunSummary, run
    from storyline.store import Store


def __getattr__(name: str) -> Any:  # heavy modules load on first use, so `import storyline` stays fast
    if name in ("run", "RunSummary"):
        from storyline import pipeline

        return getattr(pipeline, name)
    if name == "Store":
        from storyline.store import Store

        return Store
    raise AttributeError(name)
