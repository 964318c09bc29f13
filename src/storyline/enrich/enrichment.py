"""Per-article enrichment (mentions, quotes, time expressions) and per-event merging.

    enr = enrich_articles(articles)              # batched NER, one ArticleEnrichment per article
    ev = merge_event(articles, enr)              # canonical entities, merged quotes, timeline
    ev.to_export()  # {"entities": [...], "quotes": [...], "timeline": [...]} (export schema v1)

``ArticleEnrichment.to_dict()`` / ``from_dict()`` round-trip through JSON for the store.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field

from storyline.enrich import nlp
from storyline.enrich.entities import EntityIndex, Mention, build_entities, extract_mentions, fold
from storyline.enrich.nlp import run_ner
from storyline.enrich.quotes import Quote, extract_quotes, find_quote_spans, normalise_marks
from storyline.enrich.timexes import (
    _FOLLOW_RX,
    TIMEX_RX,
    Timex,
    _article_lines,
    publication_weekday,
    _sentence_around,
    find_timexes,
    happening_text,
    infer_window,
    resolve_all,
)
from storyline.records import Article

VERSION = 1
SKIP_QUOTES_IN_NER = True  # NER reads only the reporter's text (see nlp.run_ner); bench/quotes.py
EVENT_WORDS = re.compile(
    r"\b(?:call|calls|meeting|meetings|talks|speech|speeches|summit|visit|attack|vote|election|"
    r"announcement|conversation|discussion|statement|remarks|conference|invasion|deal|agreement)\b",
    re.I,
)


@dataclass
class ArticleEnrichment:
    article_id: str
    mentions: list[Mention] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    timexes: list[Timex] = field(default_factory=list)
    happenings: list[dict] = field(default_factory=list)  # {text, date, expression, offset, ...}
    published: str | None = None  # the publication date used (ISO), None when unknown
    window: tuple[str, str] | None = None  # inferred publication range (ISO), when undated
    timings: dict = field(default_factory=dict)  # seconds per stage (not part of the identity)
    version: int = VERSION

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "article_id": self.article_id,
            "mentions": [m.to_dict() for m in self.mentions],
            "quotes": [q.to_dict() for q in self.quotes],
            "timexes": [t.to_dict() for t in self.timexes],
            "happenings": self.happenings,
            "published": self.published,
            "window": list(self.window) if self.window else None,
            "timings": self.timings,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ArticleEnrichment":
        return cls(
            article_id=d["article_id"],
            mentions=[Mention.from_dict(x) for x in d.get("mentions", [])],
            quotes=[Quote.from_dict(x) for x in d.get("quotes", [])],
            timexes=[Timex.from_dict(x) for x in d.get("timexes", [])],
            happenings=list(d.get("happenings", [])),
            published=d.get("published"),
            window=tuple(d["window"]) if d.get("window") else None,
            timings=dict(d.get("timings") or {}),
            version=d.get("version", VERSION),
        )


def _enrich_one(article: Article, spans) -> ArticleEnrichment:
    text = article.text or ""
    timings: dict = {}
    t0 = time.perf_counter()
    mentions = extract_mentions(text, spans)
    index = build_entities([(article.id, mentions)])
    t1 = time.perf_counter()
    quotes = extract_quotes(text, mentions, index)
    t2 = time.perf_counter()
    timexes = find_timexes(text)
    base = article.published_at.date() if article.published_at else None
    resolve_all(timexes, base)
    window = None
    if base is None:
        w = infer_window(text, timexes)
        window = (w[0].isoformat(), w[1].isoformat()) if w else None
    happenings = _happenings(text, timexes, quotes)
    t3 = time.perf_counter()
    timings.update(entities=t1 - t0, quotes=t2 - t1, timexes=t3 - t2)
    return ArticleEnrichment(article.id, mentions, quotes, timexes, happenings,
                             base.isoformat() if base else None, window, timings)


def _happenings(text: str, timexes: list[Timex], quotes: list[Quote]) -> list[dict]:
    inside = [(q.start, q.end) for q in quotes]

    def in_quote(p: int) -> bool:
        return any(a <= p < b for a, b in inside)

    body = _article_lines(text)  # truncated teaser lines (related links, captions) are skipped
    out: list[dict] = []
    for t in timexes:
        if in_quote(t.start) or body[t.start : t.end] != t.text:
            continue
        if t.kind == "ago" and not re.search(r"\bago\b", t.text, re.I):
            continue
        if t.value is None and t.offset is None and not t.absolute:
            # undated and unorderable ("in August" with no year): kept, unordered
            pass
        out.append({
            "text": happening_text(text, t),
            "date": t.value,
            "expression": t.text,
            "offset": t.offset,
            "absolute": t.absolute,
            "future": t.future,
            "start": t.start,
        })
    # "Tuesday's talks follow a telephone call between Trump and Putin": an earlier happening
    rel = [h["offset"] for h in out if h["offset"] is not None and not h["absolute"] and abs(h["offset"]) <= 31]
    if rel:
        seen = set()
        for t in timexes:
            sent = _sentence_around(text, t.start)
            if sent in seen:
                continue
            seen.add(sent)
            for m in _FOLLOW_RX.finditer(sent):
                np = m.group("np").strip()
                if not EVENT_WORDS.search(np) or m.group("next").strip() in {"on", "last", "this", "earlier"}:
                    continue  # "speeches by ... last week": dated by its own expression
                tail = sent[m.end() : m.end() + 100]
                if TIMEX_RX.search(tail) and not re.match(r"\s*(?:in which|that|which)", tail):
                    continue
                out.append({
                    "text": np[0].upper() + np[1:],
                    "date": None,
                    "expression": f"before {t.text}",
                    "offset": min(rel) - 0.5,
                    "absolute": False,
                    "future": False,
                    "start": t.start,
                    "relation": "before",
                })
    return out


def enrich_article(article: Article) -> ArticleEnrichment:
    """Mentions, quotes and time expressions of one article."""
    return enrich_articles([article])[0]


def enrich_articles(articles: list[Article], batch_size: int = nlp.NER_BATCH_DOCS) -> list[ArticleEnrichment]:
    """The same as ``enrich_article`` for each, with NER batched through ``nlp.pipe``.

    NER reads the reporter's text (quote contents skipped) within ``nlp.WINDOW_WORDS`` words of
    a possible name (see ``nlp.run_ner``); ``bench/enrich_speed.py`` measures what that changes."""
    if not articles:
        return []
    t0 = time.perf_counter()
    texts = [a.text or "" for a in articles]
    skip = None
    if SKIP_QUOTES_IN_NER:
        skip = [[(s, e) for pieces, _u in find_quote_spans(normalise_marks(t)) for s, e in pieces if e - s > 40]
                for t in texts]
    spans = run_ner(texts, batch_size=batch_size, skip=skip, window=nlp.WINDOW_WORDS)
    ner_each = (time.perf_counter() - t0) / len(articles)
    out = []
    for a, sp in zip(articles, spans):
        e = _enrich_one(a, sp)
        e.timings["ner"] = ner_each
        out.append(e)
    return out


def infer_publication_window(article: Article, enrichment: ArticleEnrichment) -> tuple[dt.date, dt.date] | None:
    """Likely publication range of an undated article from what it says (marked inferred), or None."""
    if article.published_at is not None:
        return None
    if enrichment.window:
        return dt.date.fromisoformat(enrichment.window[0]), dt.date.fromisoformat(enrichment.window[1])
    return infer_window(article.text or "", enrichment.timexes)


# --- event level ---------------------------------------------------------------------------
@dataclass
class EventEnrichment:
    entities: list[dict] = field(default_factory=list)
    quotes: list[dict] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)
    inferred_window: tuple[str, str] | None = None

    def to_export(self) -> dict:
        return {"entities": self.entities, "quotes": self.quotes, "timeline": self.timeline}

    def to_dict(self) -> dict:
        d = self.to_export()
        d["inferred_window"] = list(self.inferred_window) if self.inferred_window else None
        return d


_QWORD = re.compile(r"\w+")


def _qwords(s: str) -> list[str]:
    return [w for w in _QWORD.findall(fold(s))]


def _same_quote(a: list[str], b: list[str]) -> bool:
    if not a or not b:
        return False
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < 3:
        return short == long_
    ls = " ".join(long_)
    if " ".join(short) in ls and (len(short) >= 8 or len(short) >= 0.5 * len(long_)):
        return True  # one outlet quotes a part of what another quotes in full
    sa, sb = set(short), set(long_)
    return len(sa & sb) >= 0.9 * len(sa) and len(short) >= 0.6 * len(long_)


def merge_event(articles: list[Article], enrichments: list[ArticleEnrichment]) -> EventEnrichment:
    """Canonical entities across outlets, one quote with all its article ids, a merged timeline."""
    by_id = {e.article_id: e for e in enrichments}
    arts = [a for a in articles if a.id in by_id]
    index: EntityIndex = build_entities([(a.id, by_id[a.id].mentions) for a in arts])
    entities = [e.to_export() for e in index.entities if e.type in ("PERSON", "ORG", "PLACE", "OTHER")]

    # quotes
    merged: list[dict] = []
    keys: list[list[str]] = []
    for a in arts:
        for q in by_id[a.id].quotes:
            if not q.text.strip():
                continue
            speaker = q.speaker
            if speaker and q.speaker_type != "description":
                ent = index.lookup(speaker, "PERSON") or index.lookup(speaker)
                speaker = ent.name if ent else speaker
            w = _qwords(q.text)
            for i, k in enumerate(keys):
                m = merged[i]
                if a.id in m["article_ids"] and w != k:
                    continue  # two quotes of one article stay two
                if _same_quote(w, k) and (m["speaker"] is None or speaker is None or m["speaker"] == speaker):
                    if a.id not in m["article_ids"]:
                        m["article_ids"].append(a.id)
                    if len(w) > len(k):
                        m["text"], keys[i] = q.text.rstrip(" ,;:"), w
                    if m["speaker"] is None and speaker:
                        m["speaker"], m["speaker_type"] = speaker, q.speaker_type
                    if not q.partial:
                        m["partial"] = False
                    break
            else:
                keys.append(w)
                merged.append({
                    "text": q.text.rstrip(" ,;:"),
                    "speaker": speaker,
                    "article_ids": [a.id],
                    "speaker_type": q.speaker_type,
                    "speaker_mention": q.speaker_mention,
                    "relay": q.relay,
                    "partial": q.partial,
                    "unclosed": q.unclosed,
                })

    # timeline
    windows = [tuple(by_id[a.id].window) for a in arts if by_id[a.id].window]
    anchor: dt.date | None = None
    inferred = None
    if windows:
        lo = max(dt.date.fromisoformat(w[0]) for w in windows)
        hi = min(dt.date.fromisoformat(w[1]) for w in windows)
        if lo <= hi:
            inferred = (lo.isoformat(), hi.isoformat())
            anchor = hi
    # undated articles of one event were published around the same day: one publication weekday
    undated = [a for a in arts if not by_id[a.id].published]
    happenings = {a.id: by_id[a.id].happenings for a in arts}
    if len(undated) > 1:
        pooled = [t for a in undated for t in by_id[a.id].timexes]
        wd = publication_weekday(pooled)
        for a in undated:
            txs = [Timex.from_dict(t.to_dict()) for t in by_id[a.id].timexes]
            resolve_all(txs, None, weekday=wd)
            happenings[a.id] = _happenings(a.text or "", txs, by_id[a.id].quotes)
    items = []
    for a in arts:
        e = by_id[a.id]
        pub = dt.date.fromisoformat(e.published) if e.published else None
        for h in happenings[a.id]:
            key = None
            if h["date"]:
                key = _date_key(h["date"])
            elif h["offset"] is not None:
                base = pub or anchor
                key = (base.toordinal() + h["offset"]) if base else 10_000_000 + h["offset"]
            items.append((key, h, a.id, pub is not None))
    timeline: list[dict] = []
    for key, h, aid, has_pub in sorted(items, key=lambda x: (x[0] is None, x[0] or 0, x[1]["start"])):
        words = set(_qwords(h["text"])) - _STOPWORDS
        for item in timeline:
            if item["_key"] == key and key is not None and _similar(item["_words"], words):
                if aid not in item["article_ids"]:
                    item["article_ids"].append(aid)
                break
        else:
            resolved = bool(h["date"])
            d = {
                "date": h["date"] if resolved else h["expression"],
                "text": h["text"],
                "article_ids": [aid],
                "expression": h["expression"],
                "resolved": resolved,
                "_key": key,
                "_words": words,
            }
            if not resolved and key is not None and not has_pub and anchor is not None:
                d["inferred"] = True
                d["inferred_window"] = list(inferred) if inferred else None
            if h.get("relation"):
                d["relation"] = h["relation"]
            timeline.append(d)
    for i, item in enumerate(timeline):
        item["order"] = i
        del item["_key"], item["_words"]
    return EventEnrichment(entities, merged, timeline, inferred)


_STOPWORDS = {"the", "a", "an", "of", "to", "in", "on", "and", "for", "with", "that", "was", "is",
              "were", "be", "by", "at", "as", "its", "their", "has", "have", "had", "will", "would",
              "said", "from", "it", "this", "his", "her", "they", "he", "she", "u", "s"}


def _similar(a: set[str], b: set[str]) -> bool:
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= 0.3


def _date_key(value: str) -> float:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return float(dt.date.fromisoformat(value).toordinal())
        if re.fullmatch(r"\d{4}-W\d{2}", value):
            y, w = int(value[:4]), int(value[6:])
            return float(dt.date.fromisocalendar(y, w, 1).toordinal())
        if re.fullmatch(r"\d{4}-\d{2}", value):
            return float(dt.date(int(value[:4]), int(value[5:7]), 1).toordinal())
        if re.fullmatch(r"\d{4}", value):
            return float(dt.date(int(value), 1, 1).toordinal())
    except ValueError:
        pass
    return 0.0
