"""The story of an event: a cited summary, an editor's title and a source comparison.

``synthesize_event`` embeds the event's sentences once (one batched call; for large events each
article's lead window, see ``support.MAX_EMBEDDED_SENTENCES``), then summary, citations, title and
comparison all work from that one index.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from storyline.records import Article
from storyline.synthesize.comparison import compare, load_outlet_meta
from storyline.synthesize.overview import storyline_overview
from storyline.synthesize.summary import SummaryConfig, summarize
from storyline.synthesize.support import EventIndex, SupportConfig
from storyline.synthesize.titles import event_title

__all__ = [
    "EventSynthesis",
    "synthesize_event",
    "storyline_overview",
    "load_outlet_meta",
    "SummaryConfig",
    "SupportConfig",
]


@dataclass
class EventSynthesis:
    title: str
    summary: list[dict] = field(default_factory=list)  # [{"text", "article_ids"}]
    comparison: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EventSynthesis":
        return cls(
            title=d.get("title", ""),
            summary=[{"text": s["text"], "article_ids": list(s["article_ids"])} for s in d.get("summary", [])],
            comparison=dict(d.get("comparison", {})),
        )


def _article_text(a: Article) -> str:
    return a.text or ""


def synthesize_event(
    articles: list[Article],
    embedder,
    *,
    outlet_meta: dict[str, dict] | None = None,
    summary_config: SummaryConfig | None = None,
    support_config: SupportConfig | None = None,
    max_embedded_sentences: int | None = None,
) -> EventSynthesis:
    """Summary, title and comparison of one event. ``embedder`` needs ``encode(list[str])``.
    ``max_embedded_sentences``: sentences embedded at most (default
    ``support.MAX_EMBEDDED_SENTENCES``; 0: all), larger events use each article's lead window."""
    with _one_blas_thread():
        return _synthesize(articles, embedder, outlet_meta, summary_config, support_config, max_embedded_sentences)


_CONTROLLER = None


def _one_blas_thread():
    """Synthesis multiplies small matrices (a few hundred rows): with two BLAS threads on a busy
    2-core machine each product can wait ~40 ms for a thread instead of taking 0.2 ms. One thread
    while synthesising; ONNX Runtime (the embedder) keeps its own threads."""
    global _CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # a scikit-learn dependency; without it, numpy's default threads
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def _synthesize(articles, embedder, outlet_meta, summary_config, support_config, max_sentences) -> EventSynthesis:
    arts = [a for a in articles if (a.text or "").strip()]
    if not arts:
        return EventSynthesis(title=next((a.title for a in articles if a.title), "") or "")
    # order: by date (unknown last), then id, so results do not depend on input order
    arts.sort(key=lambda a: (a.published_at is None, a.published_at or dt.datetime.min, a.id))
    texts = {a.id: _article_text(a) for a in arts}
    idx = EventIndex.build(texts, embedder.encode, titles=[a.title for a in arts if a.title], max_sentences=max_sentences)
    summary = summarize(idx, summary_config, support_config)
    title = event_title(arts, idx, summary, embedder.encode)
    comparison = compare(arts, idx, outlet_meta=outlet_meta, support_cfg=support_config)
    return EventSynthesis(title=title, summary=summary, comparison=comparison)
