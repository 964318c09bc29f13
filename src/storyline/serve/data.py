"""Read side of the web app: per-thread connections to the store (SQLite or PostgreSQL, see
:mod:`storyline.serve.backend`), a snapshot of the store's overview (rebuilt when the store changes),
and the view models of each page.

Every query is parameterised; identifiers from requests are only ever bound values. The SQL is the
same on both backends except JSON field access and search. Readers never write: the full-text index
and new articles go through the one writer store, under a lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from storyline.store import search as fts
from storyline.synthesize.sentences import split_sentences

from .backend import json_value, open_db
from .charts import parse_when, short, time_axis

log = logging.getLogger(__name__)

ENTITY_KINDS = {"PERSON": "People", "ORG": "Organisations", "PLACE": "Places", "OTHER": "Other"}
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset("""a an the and or but of to in on at by for with from as is are was were be been
has have had it its that this these those he she they his her their we our you not no will would
said says say""".split())


def iso(value: str | None) -> str | None:
    return value or None


class LRU:
    """A small thread-safe LRU map (size 0: caches nothing)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]
        return None

    def put(self, key, value) -> None:
        if self.size <= 0:
            return
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


@dataclass
class EventRow:
    id: str
    storyline_id: str
    title: str
    date: str | None
    n_articles: int = 0
    outlets: list[str] = field(default_factory=list)
    entities: list[dict] = field(default_factory=list)
    quotes: list[dict] = field(default_factory=list)
    lead: str = ""
    first_seen: str | None = None  # earliest publication among its articles
    last_seen: str | None = None

    @property
    def when(self) -> str | None:
        return self.date or (self.first_seen[:10] if self.first_seen else None)

    def sort_key(self):
        return (self.when or "", self.last_seen or "", self.id)


@dataclass
class Snapshot:
    generation: tuple
    events: dict[str, EventRow]
    newest: list[EventRow]
    storylines: list[dict]
    storyline_of: dict[str, dict]
    outlets: Counter
    entities: dict[str, dict]  # folded name -> {name, type, events: [(event_id, role)], quotes: [...]}
    n_articles: int
    n_duplicates: int


def fold(name: str) -> str:
    return " ".join(name.casefold().split())


class Repo:
    """The store as the web app sees it."""

    def __init__(self, target: str | Path, embedder=None) -> None:
        """``target``: a SQLite file (which must exist) or a PostgreSQL URL."""
        self.db = open_db(target)
        self.writer = self.db.writer
        self.write_lock = threading.Lock()
        try:
            with self.write_lock:
                self.db.refresh_search()
        except BaseException:
            self.db.close()
            raise
        self._gen: tuple | None = None
        self._gen_checked = 0.0
        self._snap: Snapshot | None = None
        self._snap_lock = threading.Lock()
        self._vectors: tuple | None = None
        self._vec_lock = threading.Lock()
        self.cache = LRU(512)
        self.embedder = embedder
        self._embed_lock = threading.Lock()
        self._qvec = LRU(2048)

    # -- connections and change detection -------------------------------------------------------

    def rows(self, sql: str, params=()) -> list:
        """Rows of a parameterised query (``?`` placeholders), indexable by position and name."""
        return self.db.rows(sql, params)

    def close(self) -> None:
        self.db.close()

    def generation(self, force: bool = False) -> tuple:
        """Changes whenever the store changes (checked at most every second): the SQLite file's and
        WAL's mtime and size, or PostgreSQL's write counter (see :mod:`storyline.serve.backend`)."""
        now = time.monotonic()
        if force or self._gen is None or now - self._gen_checked > 1.0:
            gen = self.db.stamp()
            if self._gen is not None and gen != self._gen:
                with self.write_lock:  # a run from the command line may have added articles
                    try:
                        self.db.refresh_search()
                    except self.db.busy_errors as e:  # that run holds the write lock: next time
                        log.debug("search index not refreshed yet: %s", e)
                gen = self.db.stamp()
            self._gen, self._gen_checked = gen, now
        return self._gen

    def changed(self) -> None:
        self.generation(force=True)

    # -- overview snapshot ------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        gen = self.generation()
        snap = self._snap
        if snap is not None and snap.generation == gen:
            return snap
        with self._snap_lock:
            if self._snap is not None and self._snap.generation == gen:
                return self._snap
            self._snap = self._build_snapshot(gen)
            return self._snap

    def _build_snapshot(self, gen: tuple) -> Snapshot:
        rows = self.db.rows
        events: dict[str, EventRow] = {}
        for r in rows(f"SELECT id, storyline_id, title, date, {self.db.EVENT_FIELDS} FROM events"):
            events[r[0]] = EventRow(id=r[0], storyline_id=r[1] or "", title=r[2] or "", date=r[3],
                                    entities=_json_list(r[4]), quotes=_json_list(r[5]), lead=r[6] or "")
        outlets_of: dict[str, set] = defaultdict(set)
        outlets: Counter = Counter()
        n_articles = 0
        for eid, source, published in rows(
                "SELECT ea.event_id, a.source, a.published_at FROM event_articles ea"
                " JOIN articles a ON a.id = ea.article_id"):
            e = events.get(eid)
            if e is None:
                continue
            e.n_articles += 1
            if source:
                outlets_of[eid].add(source)
            if published:
                if e.first_seen is None or published < e.first_seen:
                    e.first_seen = published
                if e.last_seen is None or published > e.last_seen:
                    e.last_seen = published
        for source, n in rows("SELECT source, COUNT(*) FROM articles WHERE source IS NOT NULL GROUP BY source"):
            outlets[source] = n
        n_articles = rows("SELECT COUNT(*) FROM articles")[0][0]
        n_dups = rows("SELECT COUNT(*) FROM duplicates")[0][0]
        for eid, s in outlets_of.items():
            events[eid].outlets = sorted(s)
        newest = sorted(events.values(), key=EventRow.sort_key, reverse=True)
        storylines = []
        storyline_of = {}
        for sid, title, data in rows("SELECT id, title, data FROM storylines"):
            d = json_value(data, {})
            members = [events[i] for i in d.get("event_ids", []) if i in events]
            whens = sorted(w for w in (e.when for e in members) if w)
            s = {"id": sid, "title": title or (members[0].title if members else ""),
                 "event_ids": [e.id for e in members], "overview": d.get("overview", []),
                 "n_events": len(members), "n_articles": sum(e.n_articles for e in members),
                 "outlets": sorted({o for e in members for o in e.outlets}),
                 "first": whens[0] if whens else None, "last": whens[-1] if whens else None,
                 "last_seen": max((e.last_seen or "" for e in members), default="")}
            storylines.append(s)
            storyline_of[sid] = s
        storylines.sort(key=lambda s: (s["last"] or "", s["last_seen"], s["n_articles"], s["id"]), reverse=True)
        entities: dict[str, dict] = {}
        for e in events.values():
            for en in e.entities:
                name = en.get("name") if isinstance(en, dict) else None
                if not name:
                    continue
                item = entities.setdefault(fold(name), {"name": name, "type": en.get("type") or "OTHER",
                                                        "aliases": set(), "events": [], "quotes": []})
                item["aliases"].update(a for a in en.get("aliases") or [] if isinstance(a, str))
                item["events"].append((e.id, role_of(en)))
            for q in e.quotes:
                speaker = q.get("speaker") if isinstance(q, dict) else None
                if speaker:
                    item = entities.setdefault(fold(speaker), {"name": speaker, "type": "PERSON",
                                                               "aliases": set(), "events": [], "quotes": []})
                    item["quotes"].append((e.id, q))
        return Snapshot(gen, events, newest, storylines, storyline_of, outlets, entities, n_articles, n_dups)

    # -- filters ------------------------------------------------------------------------------------

    def filter_events(self, snap: Snapshot, date_from: dt.date | None = None, date_to: dt.date | None = None,
                      outlet: str | None = None, entity: str | None = None,
                      storyline: str | None = None) -> list[EventRow]:
        out = snap.newest
        if date_from:
            lo = date_from.isoformat()
            out = [e for e in out if e.when and e.when[:10] >= lo]
        if date_to:
            hi = date_to.isoformat()
            out = [e for e in out if e.when and e.when[:10] <= hi]
        if outlet:
            out = [e for e in out if outlet in e.outlets]
        if entity:
            key = fold(entity)
            ent = snap.entities.get(key)
            ids = {eid for eid, _ in ent["events"]} | {eid for eid, _ in ent["quotes"]} if ent else set()
            out = [e for e in out if e.id in ids]
        if storyline:
            out = [e for e in out if e.storyline_id == storyline]
        return out

    # -- single records -----------------------------------------------------------------------------

    def event_articles(self, event_id: str) -> list[dict]:
        rows = self.db.rows(
            "SELECT a.id, a.title, a.source, a.url, a.published_at, a.author, a.text, ea.event_id,"
            " d.of_id, d.kind, d.score FROM event_articles ea JOIN articles a ON a.id = ea.article_id"
            " LEFT JOIN duplicates d ON d.article_id = a.id WHERE ea.event_id = ?"
            " ORDER BY a.published_at IS NULL, a.published_at, a.seq", (event_id,))
        return [_article_dict(r) for r in rows]

    def event(self, event_id: str) -> dict | None:
        """The event in the export contract's shape (plus ``updated_at``)."""
        key = ("event", event_id, self.generation())
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        found = self.db.rows("SELECT id, storyline_id, title, date, data, updated_at FROM events WHERE id = ?",
                             (event_id,))
        if not found:
            return None
        r = found[0]
        data = json_value(r["data"], {})
        if not isinstance(data, dict):
            data = {}
        enrichment = data.get("enrichment") or {}
        ids = [a[0] for a in self.db.rows(
            "SELECT ea.article_id FROM event_articles ea JOIN articles a ON a.id = ea.article_id"
            " WHERE ea.event_id = ? ORDER BY a.seq", (event_id,))]
        out = {"id": r["id"], "storyline_id": r["storyline_id"] or "", "title": r["title"] or "",
               "date": r["date"], "article_ids": ids, "summary": data.get("summary") or [],
               "timeline": enrichment.get("timeline") or [], "entities": enrichment.get("entities") or [],
               "quotes": enrichment.get("quotes") or [], "comparison": data.get("comparison") or {},
               "updated_at": r["updated_at"]}
        self.cache.put(key, out)
        return out

    def article(self, article_id: str) -> dict | None:
        found = self.db.rows(
            "SELECT a.*, ea.event_id, d.of_id, d.kind, d.score FROM articles a"
            " LEFT JOIN event_articles ea ON ea.article_id = a.id"
            " LEFT JOIN duplicates d ON d.article_id = a.id WHERE a.id = ?", (article_id,))
        if not found:
            return None
        r = found[0]
        a = _article_dict(r)
        a["removed"] = json_value(r["removed"], [])
        a["origin"] = display_origin(r["origin"])
        a["content_hash"] = r["content_hash"]
        a["copied_by"] = [{"id": x[0], "kind": x[1], "score": x[2], "title": x[3], "source": x[4]}
                          for x in self.db.rows(
                              "SELECT d.article_id, d.kind, d.score, a.title, a.source FROM duplicates d"
                              " JOIN articles a ON a.id = d.article_id WHERE d.of_id = ? ORDER BY d.score DESC",
                              (article_id,))]
        of = a.get("duplicate_of") or a.get("rewrite_of")
        if of:
            found = self.db.rows("SELECT title, source FROM articles WHERE id = ?", (of,))
            row = found[0] if found else None
            a["copy_of"] = {"id": of, "title": row[0] if row else None, "source": row[1] if row else None}
        enr = self.db.rows("SELECT data FROM article_enrichment WHERE article_id = ?", (article_id,))
        a["enrichment"] = json_value(enr[0][0]) if enr else None
        return a

    def articles_page(self, offset: int, limit: int, event: str | None = None,
                      outlet: str | None = None) -> tuple[int, list[dict]]:
        where, args = [], []
        if event:
            where.append("ea.event_id = ?")
            args.append(event)
        if outlet:
            where.append("a.source = ?")
            args.append(outlet)
        cond = (" WHERE " + " AND ".join(where)) if where else ""
        base = (" FROM articles a LEFT JOIN event_articles ea ON ea.article_id = a.id"
                " LEFT JOIN duplicates d ON d.article_id = a.id" + cond)
        total = self.db.rows("SELECT COUNT(*)" + base, args)[0][0]
        rows = self.db.rows(
            "SELECT a.id, a.title, a.source, a.url, a.published_at, a.author, ea.event_id, d.of_id, d.kind,"
            " d.score" + base + " ORDER BY a.seq DESC LIMIT ? OFFSET ?", (*args, limit, offset))
        return total, [_article_dict(r) for r in rows]

    # -- search ---------------------------------------------------------------------------------------

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        from storyline.config import EmbedConfig
        from storyline.enrich.embed import MODEL_NAME, article_model

        gen = self.generation()
        v = self._vectors
        if v is not None and v[0] == gen:
            return v[1], v[2]
        with self._vec_lock:
            if self._vectors is not None and self._vectors[0] == gen:
                return self._vectors[1], self._vectors[2]
            matrix, seqs = self.db.vectors(article_model(EmbedConfig()))
            if not len(seqs):  # a store not run since lead_tokens: its vectors read 128 pieces, still searchable
                matrix, seqs = self.db.vectors(MODEL_NAME)
            self._vectors = (gen, matrix, seqs)
            return matrix, seqs

    def query_vector(self, query: str) -> np.ndarray | None:
        if self.embedder is None:
            return None
        key = " ".join(query.split())[:fts.MAX_QUERY_CHARS]
        hit = self._qvec.get(key)
        if hit is not None:
            return hit
        with self._embed_lock:
            vec = self.embedder.encode([key])[0]
        self._qvec.put(key, vec)
        return vec

    def search(self, query: str, mode: str, offset: int, limit: int) -> fts.SearchResult:
        matrix = seqs = qv = None
        if mode in ("hybrid", "meaning") and self.embedder is not None:
            matrix, seqs = self.vectors()
            qv = self.query_vector(query)
        return fts.search(None, query, mode=mode, matrix=matrix, seqs=seqs, query_vector=qv,
                          offset=offset, limit=limit, words_backend=self.db.words_backend())

    def article_rows(self, ids: list[str]) -> dict[str, dict]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.rows(
            "SELECT a.id, a.title, a.source, a.url, a.published_at, a.author, ea.event_id, d.of_id, d.kind,"
            f" d.score, substr(a.text, 1, 400) AS lead FROM articles a LEFT JOIN event_articles ea ON ea.article_id = a.id"
            f" LEFT JOIN duplicates d ON d.article_id = a.id WHERE a.id IN ({marks})", ids)
        return {r["id"]: _article_dict(r) for r in rows}

    def events_of(self, article_ids: list[str]) -> dict[str, str]:
        """article id -> event id, for the given articles."""
        if not article_ids:
            return {}
        marks = ",".join("?" * len(article_ids))
        return {r[0]: r[1] for r in self.db.rows(
            f"SELECT article_id, event_id FROM event_articles WHERE article_id IN ({marks})", article_ids)}

    # -- event page view model ---------------------------------------------------------------------

    def event_view(self, event_id: str) -> dict | None:
        key = ("event_view", event_id, self.generation())
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        ev = self.event(event_id)
        if ev is None:
            return None
        articles = self.event_articles(event_id)
        for a in articles:
            a["display_title"] = a.get("title") or short(" ".join((a.get("text") or "").split()), 90) or a["id"]
        by_id = {a["id"]: a for a in articles}
        sentences = {a["id"]: split_sentences(a.get("text") or "") for a in articles}
        summary = []
        for i, item in enumerate(ev["summary"]):
            cites = []
            for aid in item.get("article_ids") or []:
                a = by_id.get(aid)
                cites.append({"article_id": aid, "n": len(cites) + 1, "label": outlet_label(a, aid),
                              "title": (a or {}).get("title"),
                              "sentence": supporting_sentence(item, aid, sentences.get(aid, []))})
            summary.append({"text": item.get("text", ""), "cites": cites, "i": i})
        pubs = [{"when": a["published_at"], "label": a.get("source") or a["id"],
                 "title": f"{a.get('source') or a['id']}: {a.get('title') or ''}", "href": f"/article/{a['id']}"}
                for a in articles if a.get("published_at")]
        same_day: dict[str, list[dict]] = {}
        for t in ev["timeline"]:
            if isinstance(t, dict) and parse_when(t.get("date")):
                same_day.setdefault(str(t["date"]), []).append(t)
        points = []
        for date, items in same_day.items():
            label = short(items[0].get("text"), 40) + (f"  +{len(items) - 1}" if len(items) > 1 else "")
            points.append({"when": date, "label": label, "size": len(items),
                           "title": "\n".join(f"{date}: {t.get('text')}" for t in items)})
        chart = time_axis(points, pubs, width=720)
        entities = defaultdict(list)
        for en in ev["entities"]:
            if isinstance(en, dict) and en.get("name"):
                entities[ENTITY_KINDS.get(en.get("type") or "OTHER", "Other")].append(
                    {"name": en["name"], "role": role_of(en), "aliases": [x for x in en.get("aliases") or [] if x != en["name"]],
                     "n_articles": len(en.get("article_ids") or [])})
        for group in entities.values():
            group.sort(key=lambda x: -x["n_articles"])
        quotes = defaultdict(list)
        for q in ev["quotes"]:
            if isinstance(q, dict) and q.get("text"):
                quotes[q.get("speaker") or ""].append(
                    {"text": q["text"], "articles": [{"id": x, "label": outlet_label(by_id.get(x), x)}
                                                     for x in q.get("article_ids") or []]})
        quote_groups = sorted(quotes.items(), key=lambda kv: (kv[0] == "", -len(kv[1]), kv[0]))
        outlets = sorted({a["source"] for a in articles if a.get("source")})
        view = {"event": ev, "articles": articles, "summary": summary, "chart": chart,
                "entities": [(k, entities[k]) for k in ENTITY_KINDS.values() if entities.get(k)],
                "quote_groups": quote_groups, "comparison": comparison_view(ev["comparison"], by_id),
                "outlets": outlets, "n_copies": sum(1 for a in articles if a.get("duplicate_kind")),
                "timeline": sorted((t for t in ev["timeline"] if isinstance(t, dict)),
                                   key=lambda t: (parse_when(t.get("date")) is None, str(t.get("date") or "")))}
        self.cache.put(key, view)
        return view


def _json_list(value) -> list:
    if not value:
        return []
    v = json_value(value, [])
    return v if isinstance(v, list) else []


def role_of(entity: dict) -> str | None:
    role = entity.get("role")
    if not role and entity.get("roles"):
        roles = entity["roles"]
        role = ", ".join(roles[:3]) if isinstance(roles, list) else str(roles)
    return role or None


def _article_dict(r) -> dict:
    keys = r.keys()
    kind = r["kind"] if "kind" in keys else None
    of = r["of_id"] if "of_id" in keys else None
    out = {
        "id": r["id"], "title": r["title"], "source": r["source"], "url": r["url"],
        "published_at": r["published_at"], "author": r["author"] if "author" in keys else None,
        "event_id": r["event_id"] if "event_id" in keys else None,
        "duplicate_of": of if kind in ("exact", "near") else None,
        "rewrite_of": of if kind == "rewrite" else None,
        "duplicate_kind": kind, "duplicate_score": r["score"] if "score" in keys else None,
    }
    if "text" in keys:
        out["text"] = r["text"]
    if "lead" in keys:
        out["lead"] = " ".join((r["lead"] or "").split())
    return out


def display_origin(origin: str | None) -> str | None:
    """Where an article was read from, without the server's folders: a URL as is, a file by name."""
    if not origin:
        return None
    if origin.startswith(("http://", "https://")):
        return origin
    return origin.replace("\\", "/").rsplit("/", 1)[-1]


def outlet_label(article: dict | None, fallback: str) -> str:
    if article:
        return article.get("source") or short(article.get("title"), 28) or fallback
    return fallback


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.casefold()) if w not in _STOP]


def supporting_sentence(item: dict, article_id: str, sentences: list[str]) -> str | None:
    """The sentence of ``article_id`` that supports a summary sentence: the one the synthesis stored
    when it did, else the article's sentence sharing most content words with it."""
    for key in ("support", "evidence", "sentences"):
        given = item.get(key)
        if isinstance(given, dict) and isinstance(given.get(article_id), str):
            return given[article_id]
        if isinstance(given, list):
            for g in given:
                if isinstance(g, dict) and g.get("article_id") == article_id and isinstance(g.get("text"), str):
                    return g["text"]
    target = item.get("text") or ""
    if not sentences or not target:
        return None
    norm = " ".join(target.split())
    for s in sentences:
        if norm in s or s in norm and len(s) > 0.6 * len(norm):
            return s
    want = set(content_words(target))
    if not want:
        return None
    best, best_score = None, 0.0
    for s in sentences:
        have = set(content_words(s))
        if not have:
            continue
        inter = len(want & have)
        score = inter / len(want) * 0.7 + inter / len(have) * 0.3
        if score > best_score:
            best, best_score = s, score
    return best if best_score >= 0.2 else None


def comparison_view(comparison: dict, by_id: dict[str, dict]) -> dict:
    """Outlet x fact matrix (facts more than one outlet reports), unique facts per outlet,
    disagreements; outlets named by the articles' source when the comparison keys them by id."""
    if not isinstance(comparison, dict) or not comparison:
        return {}

    def name(o: str) -> str:
        return outlet_label(by_id.get(o), o) if o in by_id else o

    outlets = [o for o in comparison.get("outlets") or [] if isinstance(o, dict)]
    cols = [{"key": o.get("outlet"), "name": name(o.get("outlet") or ""), "n_facts": len(o.get("facts") or []),
             "unique": o.get("unique_facts") if isinstance(o.get("unique_facts"), int) else None,
             "article_ids": o.get("article_ids") or []} for o in outlets]
    facts = [f for f in comparison.get("facts") or [] if isinstance(f, dict)]
    shared = sorted([f for f in facts if len(f.get("outlets") or []) >= 2],
                    key=lambda f: (-len(f.get("outlets") or []), f.get("id", "")))
    rows = [{"id": f.get("id"), "text": f.get("text", ""), "n": len(f.get("outlets") or []),
             "has": [c["key"] in (f.get("outlets") or []) for c in cols]} for f in shared]
    unique: dict[str, list[str]] = defaultdict(list)
    for u in comparison.get("unique_facts") or []:
        if isinstance(u, dict) and u.get("text"):
            unique[name(u.get("outlet") or u.get("article_id") or "")].append(u["text"])
    disagreements = []
    for d in comparison.get("disagreements") or []:
        if not isinstance(d, dict):
            continue
        disagreements.append({
            "kind": d.get("kind") or d.get("type") or "", "subject": d.get("subject") or "",
            "versions": [{"value": v.get("value") or v.get("text") or "", "sentence": v.get("sentence"),
                          "outlets": [name(o) for o in (v.get("outlets") or v.get("article_ids") or [])]}
                         for v in d.get("versions") or [] if isinstance(v, dict)]})
    return {"cols": cols, "rows": rows, "n_shared": len(rows), "unique": sorted(unique.items()),
            "disagreements": disagreements, "n_facts": len(facts)}


def highlight(text: str, enrichment: dict | None, event: dict | None) -> list[list[dict]]:
    """Paragraphs of pieces {t, cls, title} of the article text with quotes and entity mentions
    marked. Offsets come from the article's enrichment; without it, the event's quotes and entity
    names are found in the text."""
    spans: list[tuple[int, int, str, str]] = []  # start, end, kind, title
    if enrichment:
        for q in enrichment.get("quotes") or []:
            if not isinstance(q, dict):
                continue
            pieces = q.get("spans") or ([[q.get("start"), q.get("end")]] if q.get("start") is not None else [])
            for p in pieces:
                if isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], int) and isinstance(p[1], int):
                    spans.append((p[0], p[1], "quote", f"quote — {q.get('speaker') or 'unknown speaker'}"))
        for m in enrichment.get("mentions") or []:
            if isinstance(m, dict) and isinstance(m.get("start"), int) and isinstance(m.get("end"), int):
                kind = (m.get("type") or "OTHER").lower()
                title = m.get("name") or m.get("text") or ""
                if m.get("role"):
                    title += f" ({m['role']})"
                spans.append((m["start"], m["end"], f"ent ent-{kind}", f"{kind}: {title}"))
    elif event:
        for q in event.get("quotes") or []:
            if isinstance(q, dict) and q.get("text"):
                for part in q["text"].split(" … "):
                    i = text.find(part) if len(part) > 12 else -1
                    if i >= 0:
                        spans.append((i, i + len(part), "quote", f"quote — {q.get('speaker') or 'unknown speaker'}"))
        for en in event.get("entities") or []:
            if not isinstance(en, dict) or not en.get("name"):
                continue
            kind = (en.get("type") or "OTHER").lower()
            for alias in {en["name"], *[a for a in en.get("aliases") or [] if isinstance(a, str)]}:
                if len(alias) < 3:
                    continue
                for m in re.finditer(r"\b" + re.escape(alias) + r"\b", text):
                    spans.append((m.start(), m.end(), f"ent ent-{kind}", f"{kind}: {en['name']}"))
    n = len(text)
    # boundaries -> pieces; a piece carries the quote (if any) and the entity (if any) covering it
    cuts = {0, n}
    for s, e, _, _ in spans:
        if 0 <= s < e <= n:
            cuts.update((s, e))
    cuts_sorted = sorted(cuts)
    quotes = sorted((s, e, t) for s, e, k, t in spans if k == "quote" and 0 <= s < e <= n)
    ents = sorted((s, e, k, t) for s, e, k, t in spans if k != "quote" and 0 <= s < e <= n)
    # entities: keep the first of overlapping ones
    kept, last_end = [], -1
    for s, e, k, t in ents:
        if s >= last_end:
            kept.append((s, e, k, t))
            last_end = e
    paragraphs: list[list[dict]] = [[]]
    qi = ei = 0
    for a, b in zip(cuts_sorted, cuts_sorted[1:]):
        piece = text[a:b]
        while qi < len(quotes) and quotes[qi][1] <= a:
            qi += 1
        while ei < len(kept) and kept[ei][1] <= a:
            ei += 1
        q = quotes[qi] if qi < len(quotes) and quotes[qi][0] <= a else None
        en = kept[ei] if ei < len(kept) and kept[ei][0] <= a else None
        cls = " ".join(x for x in ("quote" if q else "", en[2] if en else "") if x)
        title = " · ".join(x for x in (en[3] if en else "", q[2] if q else "") if x)
        chunks = re.split(r"(\n\s*\n)", piece)
        for j, chunk in enumerate(chunks):
            if j % 2 == 1:
                paragraphs.append([])
                continue
            if chunk:
                paragraphs[-1].append({"t": chunk, "cls": cls, "title": title})
    return [p for p in paragraphs if p]
