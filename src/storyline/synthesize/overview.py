"""A storyline's overview: its events in time order, one line each."""

from __future__ import annotations

import datetime as dt

from storyline.synthesize.sentences import words

MAX_LINE_WORDS = 30


def _line(title: str, summary: list[dict]) -> str:
    first = (summary[0]["text"] if summary else "").strip()
    if first and len(words(first)) <= MAX_LINE_WORDS:
        return first
    return (title or first).strip()


def storyline_overview(events: list[tuple[str, dt.date | None, str, list[dict]]]) -> list[dict]:
    """(event_id, date, title, summary) -> [{"event_id", "date", "line"}] in time order.

    The line is the event's first summary sentence when it is short enough to read as one line,
    else its title. Undated events come last, in the given order.
    """
    order = sorted(range(len(events)), key=lambda i: (events[i][1] is None, events[i][1] or dt.date.min, i))
    out = []
    for i in order:
        eid, date, title, summary = events[i]
        out.append({"event_id": eid, "date": date.isoformat() if date else None, "line": _line(title, summary or [])})
    return out
