"""report.html: one self-contained page a person can read (no external resources, text escaped)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from storyline.store import Store


def safe_link(url: str | None) -> str | None:
    """An article URL fit for an href: http(s) only (a feed may carry ``javascript:`` URLs)."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def _axis(events: list[dict]) -> list[dict]:
    """Positions (0-100 %) of dated events on a time axis, for the storyline's chart."""
    dated = [e for e in events if e["date"]]
    if not dated:
        return []
    days = [dt.date.fromisoformat(e["date"][:10]).toordinal() for e in dated]
    lo, hi = min(days), max(days)
    span = max(hi - lo, 1)
    points, last_label_x = [], -100.0
    for d, e in sorted(zip(days, dated), key=lambda p: p[0]):
        x = 2 + 90 * (d - lo) / span
        show = x - last_label_x >= 9  # a date label needs ~9 % of the width: skip ones that would overlap
        points.append({"x": x, "label": e["date"][:10] if show else "", "title": f'{e["date"][:10]}: {e["title"]}'})
        last_label_x = x if show else last_label_x
    return points


def render_report(document: dict, problems: list[dict]) -> str:
    env = Environment(loader=PackageLoader("storyline", "templates"), autoescape=select_autoescape(["html"]))
    articles = {a["id"]: a for a in document["articles"]}
    events = {e["id"]: e for e in document["events"]}
    storylines = []
    for s in document["storylines"]:
        members = []
        for eid in s["event_ids"]:
            e = dict(events[eid])
            e["articles"] = [{**articles[a], "link": safe_link(articles[a].get("url"))}
                             for a in e["article_ids"] if a in articles]
            e["outlets"] = sorted({a["source"] or a["id"] for a in e["articles"]})
            e["numbers"] = {a["id"]: n for n, a in enumerate(e["articles"], 1)}  # citations show [n]
            e["labels"] = {a["id"]: " · ".join(x for x in (a["source"], a["title"], a["id"]) if x)
                           for a in e["articles"]}
            members.append(e)
        storylines.append({"id": s["id"], "title": s["title"], "events": members, "axis": _axis(members),
                           "n_articles": sum(len(e["article_ids"]) for e in members)})
    storylines.sort(key=lambda s: -s["n_articles"])
    duplicates = [a for a in document["articles"] if a.get("duplicate_of") or a.get("rewrite_of")]
    return env.get_template("report.html").render(
        storylines=storylines, duplicates=duplicates, problems=problems,
        n_articles=len(document["articles"]), n_events=len(document["events"]),
        n_storylines=len(document["storylines"]), n_duplicates=len(duplicates),
    )


def write_report(store: Store, document: dict, path: Path) -> None:
    problems = [{"item": p.item, "reason": p.reason} for p in store.problems()]
    path.write_text(render_report(document, problems), encoding="utf-8")
