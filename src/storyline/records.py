"""Typed records that flow between the pipeline's stages.

ingest -> RawDocument -> clean -> Article -> dedup/enrich/cluster -> Event, Storyline.
Everything here is plain data: stages are functions over these records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal


@dataclass(slots=True)
class RawDocument:
    """One item as read from an input, before cleaning.

    Exactly one of ``text`` / ``html`` is set. ``origin`` names where it came from
    (a path, ``path:line`` for JSONL, a URL, ``file.warc.gz#record``) for messages.
    """

    id: str
    origin: str
    text: str | None = None
    html: str | None = None
    title: str | None = None
    url: str | None = None
    source: str | None = None
    published_at: str | None = None  # as given (ISO 8601 or free text); parsed by clean
    author: str | None = None


@dataclass(slots=True)
class Problem:
    """An input item that was skipped, with a one-line reason."""

    item: str
    reason: str

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"


@dataclass(slots=True)
class Article:
    """A cleaned article: main text, metadata and the junk that cleaning removed."""

    id: str
    text: str
    content_hash: str  # sha256 of the normalised text: the identity of what was read
    origin: str = ""
    title: str | None = None
    url: str | None = None
    source: str | None = None
    published_at: dt.datetime | None = None
    author: str | None = None
    removed: list[str] = field(default_factory=list)  # junk lines cleaning dropped

    @property
    def date(self) -> dt.date | None:
        return self.published_at.date() if self.published_at else None


DuplicateKind = Literal["exact", "near", "rewrite"]


@dataclass(slots=True)
class DuplicateLink:
    """``article_id`` copies (exact/near) or paraphrases (rewrite) ``of_id``."""

    article_id: str
    of_id: str
    kind: DuplicateKind
    score: float


@dataclass(slots=True)
class Event:
    id: str
    article_ids: list[str]
    title: str = ""
    date: dt.date | None = None
    storyline_id: str = ""
    # Activity, for closing quiet events (see ClusterConfig.close_after_days): the day number of
    # the newest dated member (None when none is dated), the store position (seq) of the newest
    # member, and whether the event is still open to new articles (in the hot set).
    last_day: float | None = None
    last_seq: int | None = None
    open: bool = True


@dataclass(slots=True)
class Storyline:
    id: str
    event_ids: list[str]
    title: str = ""
