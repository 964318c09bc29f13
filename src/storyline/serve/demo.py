"""A store to look at: run the pipeline over some inputs, then add entities, quotes and timelines
with ``storyline.enrich`` when that stage is not yet part of the pipeline. Used by the web app's
tests and for the screenshots in docs/."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence


def enrich_store(db: Path) -> bool:
    """Per-article enrichment and per-event merge, stored where the pipeline keeps them
    (``article_enrichment`` and the event's ``data["enrichment"]``). False when unavailable."""
    try:
        from storyline.enrich.enrichment import enrich_articles, merge_event
    except Exception:  # noqa: BLE001 - the enrichment stage lands separately
        return False
    from storyline.store import Store

    with Store(db) as store:
        articles = store.articles()
        have = store.enrichment([a.id for a in articles])
        todo = [a for a in articles if a.id not in have]
        fresh = enrich_articles(todo) if todo else []
        store.put_enrichment({e.article_id: e.to_dict() for e in fresh})
        from storyline.enrich.enrichment import ArticleEnrichment

        all_enr = {**{k: ArticleEnrichment.from_dict(v) for k, v in have.items()},
                   **{e.article_id: e for e in fresh}}
        by_id = {a.id: a for a in articles}
        for event in store.events():
            data = store.event_data(event.id)
            if data.get("enrichment"):
                continue
            merged = merge_event([by_id[i] for i in event.article_ids if i in by_id],
                                 [all_enr[i] for i in event.article_ids if i in all_enr])
            data["enrichment"] = merged.to_export()
            store.set_event_data(event.id, data)
    return True


def build_demo_store(inputs: Sequence[str], out: Path, enrich: bool = True) -> Path:
    from storyline.config import Config
    from storyline.pipeline import run

    config = Config()
    config.progress = False
    run([str(i) for i in inputs], out, config)
    db = Path(out) / "storyline.db"
    if enrich:
        enrich_store(db)
    return db


def copy_store(source, target) -> None:
    """Copy every table a store serves (articles in insertion order, embeddings, events with their
    documents, storylines, duplicate links, enrichment) from one open store into another, empty one,
    through the store interface: e.g. a SQLite store into PostgreSQL, to serve it from there."""
    from storyline.config import EmbedConfig
    from storyline.enrich.embed import article_model

    key = article_model(EmbedConfig())  # vectors under another key would be embedded again anyway
    articles = source.articles()
    target.add_articles(articles)
    missing = set(source.missing_embeddings(key))
    ids = [a.id for a in articles if a.id not in missing]
    if ids:
        target.put_embeddings(key, ids, source.embeddings(key, ids))
    events, storylines = source.events(), source.storylines()
    target.save_clustering(events, storylines)
    target.replace_duplicates(source.duplicates())
    for e in events:
        target.set_event_title(e.id, e.title)
        data = source.event_data(e.id)
        if data:
            target.set_event_data(e.id, data)
    for s in storylines:
        target.set_storyline_title(s.id, s.title, source.storyline_data(s.id))
    enrichment = source.enrichment([a.id for a in articles])
    if enrichment:
        target.put_enrichment(enrichment)
