"""Time expressions resolved against the publication date; timelines; inferred publication windows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from storyline.enrich.enrichment import (
    ArticleEnrichment,
    enrich_article,
    enrich_articles,
    infer_publication_window,
    merge_event,
)
from storyline.enrich.timexes import find_timexes, resolve_all
from storyline.records import Article

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MONDAY = dt.date(2025, 2, 17)  # the Paris summit, a Monday


def resolved(text: str, base: dt.date | None = MONDAY) -> dict[str, str | None]:
    txs = find_timexes(text)
    resolve_all(txs, base)
    return {t.text: t.value for t in txs}


@pytest.mark.parametrize(
    "text, expr, value",
    [
        ("European leaders met on Monday in Paris.", "on Monday", "2025-02-17"),  # base is a Monday
        ("Starmer on Sunday said he was willing.", "on Sunday", "2025-02-16"),
        ("Hegseth said last week that membership was unrealistic.", "last week", "2025-W07"),
        ("Trump hosted the Russian President in August.", "in August", "2024-08"),
        ("over its Feb. 24, 2022, invasion of Ukraine", "Feb. 24, 2022", "2022-02-24"),
        ("on his visit to Washington next week", "next week", "2025-W09"),
        ("since the invasion nearly three years ago", "nearly three years ago", "2022"),
        ("The talks, scheduled for Tuesday in Saudi Arabia, matter.", "Tuesday", "2025-02-18"),
        ("Tuesday’s talks follow a telephone call.", "Tuesday’s", "2025-02-18"),
        ("before heading to Kyiv for talks on Wednesday", "on Wednesday", "2025-02-19"),
        ("Diplomats on Tuesday were due to meet.", "on Tuesday", "2025-02-18"),
        ("He spoke yesterday.", "yesterday", "2025-02-16"),
        ("Macron last year refused.", "last year", "2024"),
        ("Russia invaded Ukraine in February 2022.", "February 2022", "2022-02"),
        ("on 24 February 2022 at dawn", "24 February 2022", "2022-02-24"),
        ("He was born on Feb. 23.", "Feb. 23", "2024-02-23"),  # no year, past tense: the latest before base
    ],
)
def test_resolution_against_publication_date(text, expr, value):
    assert resolved(text)[expr] == value


def test_results_carry_no_time_of_day_and_monday_is_the_same_day():
    a = Article(id="x", text="Leaders met on Monday in Paris.", content_hash="",
                published_at=dt.datetime(2025, 2, 17, 18, 45))
    e = enrich_article(a)
    assert [h["date"] for h in e.happenings] == ["2025-02-17"]


def test_undated_article_keeps_expressions_and_invents_nothing():
    txs = find_timexes("Leaders met on Monday. The talks are scheduled for Tuesday. Hegseth spoke last week.")
    resolve_all(txs, None)
    assert all(t.value is None for t in txs)
    off = {t.text: t.offset for t in txs}
    assert off["last week"] < off["on Monday"] < off["Tuesday"]


def test_absolute_dates_resolve_without_publication_date():
    assert resolved("its Feb. 24, 2022, invasion", None)["Feb. 24, 2022"] == "2022-02-24"


def test_inferred_window_from_nearly_three_years():
    p = sorted(EXAMPLES.glob("001_*.txt"))[0]
    a = Article(id=p.stem, text=p.read_text(encoding="utf-8"), content_hash="")
    e = enrich_article(a)
    lo, hi = infer_publication_window(a, e)
    assert lo <= dt.date(2025, 2, 17) <= hi
    assert (hi - lo).days <= 120
    assert e.window is not None


def test_no_window_when_text_gives_none():
    a = Article(id="x", text="Leaders met on Monday in Paris.", content_hash="")
    assert infer_publication_window(a, enrich_article(a)) is None
    dated = Article(id="y", text="It came nearly three years after its Feb. 24, 2022, invasion.", content_hash="",
                    published_at=dt.datetime(2025, 2, 17))
    assert infer_publication_window(dated, enrich_article(dated)) is None


@pytest.fixture(scope="module")
def february():
    paths = sorted(EXAMPLES.glob("*.txt"))[:4]  # 004 is September's summit
    arts = [Article(id=p.stem, text=p.read_text(encoding="utf-8"), content_hash="") for p in paths]
    return arts, merge_event(arts, enrich_articles(arts))


def test_february_timeline_in_order(february):
    _, ev = february
    texts = [t["text"] for t in ev.timeline]

    def first(pred):
        idx = [i for i, t in enumerate(texts) if pred(t)]
        assert idx, "missing"
        return idx[0]

    call = first(lambda t: "telephone call between Trump and Putin" in t)
    munich = first(lambda t: "speeches by" in t and "Vance" in t)
    paris = first(lambda t: "met on Monday for emergency talks in Paris" in t)
    riyadh = first(lambda t: "scheduled for Tuesday in Saudi Arabia" in t or "on Tuesday were due" in t)
    kyiv = first(lambda t: "heading to Kyiv for talks" in t)
    assert call < munich < paris < riyadh < kyiv


def test_february_timeline_merges_outlets_and_marks_inference(february):
    _, ev = february
    paris = [t for t in ev.timeline if "emergency talks in Paris" in t["text"]]
    assert len(paris) == 1 and len(paris[0]["article_ids"]) == 2
    # undated seeds: expressions kept, never a made-up date
    assert paris[0]["date"] == "on Monday" and paris[0]["resolved"] is False
    assert all(t["resolved"] for t in ev.timeline if t["date"][:1].isdigit())
    assert ev.inferred_window is not None


def test_timeline_with_known_dates_is_resolved():
    a = Article(id="a", text="European leaders met on Monday in Paris. Talks are due on Tuesday.", content_hash="",
                published_at=dt.datetime(2025, 2, 17, 9))
    ev = merge_event([a], enrich_articles([a]))
    assert [t["date"] for t in ev.timeline] == ["2025-02-17", "2025-02-18"]


def test_enrichment_json_round_trip(february):
    arts, _ = february
    e = enrich_articles(arts[:1])[0]
    d = json.loads(json.dumps(e.to_dict()))
    back = ArticleEnrichment.from_dict(d)
    assert back.to_dict() == d
    ev1 = merge_event(arts[:1], [e]).to_export()
    ev2 = merge_event(arts[:1], [back]).to_export()
    assert ev1 == ev2


def test_export_shape_matches_schema(february):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).resolve().parent.parent / "src/storyline/schema/export.schema.json").read_text())
    ev_props = schema["properties"]["events"]["items"]["properties"]
    _, ev = february
    out = ev.to_export()
    assert set(out) == {"entities", "quotes", "timeline"}
    for key in ("entities", "quotes", "timeline"):
        jsonschema.validate(out[key], ev_props[key])


def test_month_without_year_is_ordered_before_this_weeks_happenings_in_undated_articles():
    a = Article(id="x", text="Leaders met in Paris on Thursday. Trump hosted Putin in August, officials said.", content_hash="")
    ev = merge_event([a], enrich_articles([a]))
    assert [t["date"] for t in ev.timeline] == ["in August", "on Thursday"]
    assert not any(t["resolved"] for t in ev.timeline)


EXPRESSIONS = [
    "Talks on 2025-02-17, on February 17, 2025, on 17th Feb. 2025, in Sept 2024 and on Dec. 3rd.",
    "It began nearly three years ago, a few days after, just over 12 months into the war, an hour on.",
    "Last week, this month, earlier this year, later this week, the past weekend, next year.",
    "On Monday, last Friday's talks, next Sunday, early Tuesday, late Thursday, Saturday's vote.",
    "Yesterday, today, tonight and tomorrow; in August, since March, by June, mid-July, through May.",
    "In 2022, since 1999, by 2030, until 2024, of 2019, from 2010; May he go? Janet marched in Marseille.",
    "AN HOUR AGO, A DAY AGO, TWO WEEKS AGO, SEVERAL MONTHS AGO, ON MONDAY, IN JANUARY, 3 Days Ago.",
]


def _texts_with_expressions() -> list[str]:
    from pathlib import Path

    seeds = Path(__file__).resolve().parent.parent / "examples"
    return EXPRESSIONS + [p.read_text(encoding="utf-8") for p in sorted(seeds.glob("*.txt"))]


def test_first_word_look_ahead_changes_no_match():
    """TIMEX_RX's look-ahead on an alternative's first word only turns away positions where no
    alternative can match: the same matches as the pattern without it, on every kind of expression
    and on the seeds."""
    import re

    from storyline.enrich.timexes import _FIRST_WORD, TIMEX_RX

    plain = re.compile(TIMEX_RX.pattern.replace(_FIRST_WORD, "", 1), TIMEX_RX.flags)
    assert plain.pattern != TIMEX_RX.pattern
    for text in _texts_with_expressions():
        assert [m.group(0) for m in TIMEX_RX.finditer(text)] == [m.group(0) for m in plain.finditer(text)], text
        assert [m.span() for m in TIMEX_RX.finditer(text)] == [m.span() for m in plain.finditer(text)]


def test_scanning_around_anchors_changes_no_match():
    """``scan_timexes`` scans only near digits, month names and day/week/month/year words: the same
    matches as scanning the whole text, also where whitespace runs long, where a month name's
    lookahead reads past a region's end, with non-ASCII digits and letters that re.I folds to ASCII."""
    from storyline.enrich.timexes import TIMEX_RX, _anchor_regions, scan_timexes

    odd = [
        "in  \n\n  August   \n 5 and in August\t\t\t2024", "\u017feptember 5, 2020 and on \u0130stanbul day",
        "last   \t week", "just over   a few\n\n\nmonths ago", "Feb.  24 ,  2022", "since \u0661\u0662 days ago",
        "", "no time here at all", "2024", "yesterday", "mid-July 12", "Dec.\n\n\n\n3rd, 2019 — \u212aeek",
        " ".join(["filler"] * 50 + ["more than twelve"] + ["\n"] * 30 + ["weeks ago"] + ["x"] * 9),
    ]
    texts = _texts_with_expressions() + odd
    texts.append(" ".join(texts))
    for text in texts:
        assert [m.span() for m in scan_timexes(text)] == [m.span() for m in TIMEX_RX.finditer(text)], text
    # and it does skip most of a news text
    seeds = _texts_with_expressions()[len(EXPRESSIONS):]
    assert sum(b - a for s in seeds for a, b in _anchor_regions(s)) < 0.6 * sum(len(s) for s in seeds)
