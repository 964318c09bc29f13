"""The web app and the JSON API of ``storyline serve`` (FastAPI on uvicorn).

Pages are rendered on the server by Jinja2 with autoescaping; the only script is a static file
(sortable tables, citation pop-ups). Every response carries a strict Content-Security-Policy.
Reads need no token; ``POST /api/articles`` needs the token given at start-up.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import math
import os
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from storyline.store import search as fts

from .charts import short
from .data import LRU, Repo, fold, highlight

HERE = Path(__file__).resolve().parent
MAX_BODY = 5 * 1024 * 1024
MAX_BATCH = 1000
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
       " font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
PER_PAGE = 25
PageNo = Annotated[int, Query(ge=1, le=100000, description="1-based page number")]
PerPage = Annotated[int, Query(ge=1, le=200, description="items per page (max 200)")]


class _BodyTooLarge(Exception):
    pass


class GuardMiddleware:
    """Security headers on every response; request bodies over ``max_body`` bytes get 413 (by
    Content-Length before reading, and while streaming for chunked bodies)."""

    def __init__(self, app, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_secure(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [h for h in message.get("headers", []) if h[0].lower() not in dict(SECURITY_HEADERS)]
                message = {**message, "headers": headers + SECURITY_HEADERS}
            await send(message)

        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                return await _plain_json(send_secure, 400, "bad Content-Length header")
            if too_big:
                return await _plain_json(send_secure, 413, f"request body over {self.max_body} bytes")
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send_secure)
        except _BodyTooLarge:
            if not started:
                await _plain_json(send_secure, 413, f"request body over {self.max_body} bytes")


async def _plain_json(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are ever rendered as links (no javascript:, data:, file:)."""
    if not url or not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def fmt_when(value: str | None, with_time: bool = False) -> str:
    if not value:
        return ""
    try:
        d = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value[:16]
    if len(value) <= 10 or not with_time:
        return d.strftime("%d %b %Y").lstrip("0")
    return d.strftime("%d %b %Y, %H:%M").lstrip("0")


def mark_snippet(snippet: str | None) -> Markup:
    """FTS5 snippet with its private-use markers -> escaped text with <mark> around matches."""
    if not snippet:
        return Markup("")
    text = str(escape(snippet))
    return Markup(text.replace(fts.HIT_OPEN, "<mark>").replace(fts.HIT_CLOSE, "</mark>"))


def _env() -> Environment:
    env = Environment(loader=PackageLoader("storyline.serve", "templates"),
                      autoescape=select_autoescape(["html", "svg"], default=True),
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters["when"] = fmt_when
    env.filters["safe_url"] = safe_url
    env.filters["short"] = short
    env.filters["snippet"] = mark_snippet
    env.globals["ENTITY_CLASS"] = {"PERSON": "person", "ORG": "org", "PLACE": "place"}
    return env


def _date_param(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name} must be a date like 2024-05-31, not {short(value, 40)!r}")


def _page(items: list, page: int, per_page: int) -> dict:
    total = len(items)
    start = (page - 1) * per_page
    return {"items": items[start:start + per_page], "page": page, "per_page": per_page, "total": total,
            "pages": max(1, math.ceil(total / per_page))}


def create_app(db_path: str | Path, token: str | None = None, *, max_body: int = MAX_BODY,
               max_batch: int = MAX_BATCH, embedder: Any = "auto", warm: bool = True) -> FastAPI:
    """The app over one store: ``db_path`` is a SQLite file or a PostgreSQL URL. ``embedder``: "auto"
    loads MiniLM (in the background when ``warm``), None disables meaning search, or pass an object
    with ``encode(list[str])``."""
    if embedder == "auto":
        from storyline.config import Config
        from storyline.enrich.embed import Embedder

        embedder = Embedder(Config().embed)
    repo = Repo(db_path, embedder=embedder)
    env = _env()
    state = {"ready": embedder is None, "pipeline": None}

    def warm_up() -> None:
        try:
            if embedder is not None:
                repo.query_vector("warm up")
            repo.snapshot()
            repo.vectors()
        finally:
            state["ready"] = True

    try:  # one BLAS thread per request thread: 20 concurrent searches must not spawn 40 BLAS threads
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # noqa: BLE001 - optional
        pass
    if warm:
        threading.Thread(target=warm_up, daemon=True, name="storyline-warm").start()
    else:
        state["ready"] = True

    responses = LRU(int(os.environ.get("STORYLINE_RESPONSE_CACHE", "2048")))

    @asynccontextmanager
    async def lifespan(_app):
        # fewer worker threads than anyio's default 40: requests are CPU-bound under one GIL
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = int(os.environ.get("STORYLINE_THREADS", "8"))
        try:
            yield
        finally:
            if state["pipeline"] is not None:
                state["pipeline"].close()
            repo.close()

    app = FastAPI(
        lifespan=lifespan,
        title="storyline", version="1",
        description="Events and storylines built from news articles. Reads need no token; "
                    "POST /api/articles needs `Authorization: Bearer TOKEN` (the token given at start-up).",
        docs_url=None, redoc_url=None, openapi_url="/openapi.json",
    )
    app.state.repo = repo

    app.add_middleware(GuardMiddleware, max_body=max_body)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def render(name: str, status: int = 200, **ctx) -> HTMLResponse:
        snap = repo.snapshot()
        ctx.setdefault("totals", {"articles": snap.n_articles, "events": len(snap.events),
                                  "storylines": len(snap.storylines), "outlets": len(snap.outlets),
                                  "duplicates": snap.n_duplicates})
        return HTMLResponse(env.get_template(name).render(**ctx), status_code=status)

    # -- errors ------------------------------------------------------------------------------------

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/") or request.url.path in ("/articles", "/openapi.json")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))
        return render("error.html", status=exc.status_code, code=exc.status_code, message=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = [{"where": ".".join(str(x) for x in e.get("loc", [])), "problem": e.get("msg", "")}
                    for e in exc.errors()]
        if wants_json(request):
            return JSONResponse({"detail": "invalid request", "problems": problems}, status_code=422)
        msg = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
        return render("error.html", status=400, code=400, message=f"Bad request: {msg}")

    # -- pages -------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def front(date_from: str | None = None, date_to: str | None = None, outlet: str | None = None,
              entity: str | None = None, ep: Annotated[int, Query(ge=1, le=100000)] = 1,
              sp: Annotated[int, Query(ge=1, le=100000)] = 1):
        snap = repo.snapshot()
        d_from, d_to = _date_param(date_from, "date_from"), _date_param(date_to, "date_to")
        events = repo.filter_events(snap, d_from, d_to, outlet or None, entity or None)
        filtered = bool(d_from or d_to or outlet or entity)
        if filtered:
            keep = {e.storyline_id for e in events}
            storylines = [s for s in snap.storylines if s["id"] in keep]
        else:
            storylines = snap.storylines
        top_outlets = [o for o, _ in snap.outlets.most_common(300)]
        top_entities = sorted(snap.entities.values(), key=lambda x: -len(x["events"]))[:300]
        return render("front.html", events=_page(events, ep, PER_PAGE), storylines=_page(storylines, sp, 15),
                      filters={"date_from": date_from or "", "date_to": date_to or "", "outlet": outlet or "",
                               "entity": entity or ""}, filtered=filtered, outlets=sorted(top_outlets),
                      entity_names=[x["name"] for x in top_entities], storyline_of=snap.storyline_of)

    def event_html(event_id: str) -> HTMLResponse:
        view = repo.event_view(event_id)
        if view is None:
            raise HTTPException(404, "No such event.")
        snap = repo.snapshot()
        return render("event.html", v=view, e=view["event"], storyline=snap.storyline_of.get(view["event"]["storyline_id"]))

    @app.get("/event/{event_id:path}", response_class=HTMLResponse, include_in_schema=False)
    async def event_page(event_id: str):
        # rendered pages are kept per store generation: a change to the store makes new ones
        key = ("event", event_id, repo.generation())
        body = responses.get(key)
        if body is None:
            body = (await run_in_threadpool(event_html, event_id)).body
            responses.put(key, body)
        return HTMLResponse(body)

    @app.get("/storyline/{storyline_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def storyline_page(storyline_id: str):
        from .charts import time_axis

        snap = repo.snapshot()
        s = snap.storyline_of.get(storyline_id)
        if s is None:
            raise HTTPException(404, "No such storyline.")
        members = [snap.events[i] for i in s["event_ids"]]
        lines = {o.get("event_id"): o.get("line") for o in s["overview"] if isinstance(o, dict)}
        chart = time_axis([{"when": e.when, "label": e.title or e.id, "title": f"{e.when}: {e.title}",
                            "href": f"/event/{e.id}", "size": e.n_articles} for e in members], width=1160)
        members.sort(key=lambda e: (e.when is None, e.when or "", e.id))
        return render("storyline.html", s=s, members=members, lines=lines, chart=chart)

    @app.get("/entity", response_class=HTMLResponse, include_in_schema=False)
    def entity_page(name: Annotated[str, Query(min_length=1, max_length=300)]):
        from .charts import time_axis

        snap = repo.snapshot()
        ent = snap.entities.get(fold(name))
        if ent is None:
            raise HTTPException(404, "No person or organisation of that name in this store.")
        rows = []
        for eid, role in ent["events"]:
            e = snap.events.get(eid)
            if e:
                rows.append({"e": e, "role": role})
        rows.sort(key=lambda r: (r["e"].when or "", r["e"].id))
        quotes = sorted(((snap.events[eid], q) for eid, q in ent["quotes"] if eid in snap.events),
                        key=lambda x: (x[0].when or "", x[0].id))
        chart = time_axis([{"when": r["e"].when, "label": r["e"].title or r["e"].id, "href": f"/event/{r['e'].id}",
                            "title": f"{r['e'].when}: {r['e'].title}", "size": r["e"].n_articles} for r in rows], width=1160)
        return render("entity.html", ent=ent, rows=rows, quotes=quotes, chart=chart,
                      roles=sorted({r["role"] for r in rows if r["role"]}))

    @app.get("/article/{article_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def article_page(article_id: str):
        a = repo.article(article_id)
        if a is None:
            raise HTTPException(404, "No such article.")
        event = repo.event(a["event_id"]) if a.get("event_id") else None
        paragraphs = highlight(a["text"], a.get("enrichment"), event if not a.get("enrichment") else None)
        return render("article.html", a=a, event=event, paragraphs=paragraphs,
                      n_quotes=sum(1 for p in paragraphs for x in p if "quote" in x["cls"]),
                      n_entities=sum(1 for p in paragraphs for x in p if "ent" in x["cls"]))

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(q: Annotated[str, Query(max_length=fts.MAX_QUERY_CHARS)] = "",
                    mode: Literal["hybrid", "words", "meaning"] = "hybrid",
                    page: Annotated[int, Query(ge=1, le=1000)] = 1):
        hits, events, result = [], [], None
        if q.strip():
            result = repo.search(q, mode, (page - 1) * 20, 20)
            rows = repo.article_rows([h.article_id for h in result.hits])
            snap = repo.snapshot()
            seen: dict[str, int] = {}
            for h in result.hits:
                a = rows.get(h.article_id)
                if not a:
                    continue
                ev = snap.events.get(a.get("event_id") or "")
                hits.append({"h": h, "a": a, "event": ev})
                if ev:
                    seen[ev.id] = seen.get(ev.id, 0) + 1
            events = [(snap.events[i], n) for i, n in sorted(seen.items(), key=lambda kv: -kv[1])]
        pages = max(1, math.ceil(result.total / 20)) if result else 1
        return render("search.html", q=q, mode=mode, hits=hits, result=result, events=events, page=page,
                      pages=pages, semantic=repo.embedder is not None,
                      backend=repo.db.kind)

    @app.get("/api", response_class=HTMLResponse, include_in_schema=False)
    def api_page():
        spec = app.openapi()
        routes = []
        for path, ops in spec.get("paths", {}).items():
            for method, op in ops.items():
                params = [p.get("name") for p in op.get("parameters", [])]
                routes.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                               "doc": (op.get("description") or "").split("\n\n")[0], "params": params})
        return render("api.html", routes=routes)

    # -- API: reads --------------------------------------------------------------------------------

    def event_json(e) -> dict:
        return {"id": e.id, "storyline_id": e.storyline_id, "title": e.title, "date": e.date,
                "when": e.when, "n_articles": e.n_articles, "outlets": e.outlets, "lead": e.lead}

    @app.get("/api/health", tags=["meta"], summary="Liveness and readiness")
    def health():
        snap = repo.snapshot()
        return {"ok": True, "ready": state["ready"], "articles": snap.n_articles, "events": len(snap.events),
                "semantic_search": repo.embedder is not None, "writes": token is not None}

    @app.get("/api/storylines", tags=["read"], summary="Storylines, newest first")
    def api_storylines(page: PageNo = 1, per_page: PerPage = 50):
        snap = repo.snapshot()
        items = [{k: s[k] for k in ("id", "title", "event_ids", "overview", "n_events", "n_articles", "outlets",
                                    "first", "last")} for s in snap.storylines]
        return _page(items, page, per_page)

    @app.get("/api/storylines/{storyline_id:path}", tags=["read"], summary="One storyline with its events")
    def api_storyline(storyline_id: str):
        snap = repo.snapshot()
        s = snap.storyline_of.get(storyline_id)
        if s is None:
            raise HTTPException(404, f"no storyline {short(storyline_id, 80)!r}")
        out = {k: s[k] for k in ("id", "title", "event_ids", "overview", "n_events", "n_articles", "outlets",
                                 "first", "last")}
        out["events"] = [event_json(snap.events[i]) for i in s["event_ids"]]
        return out

    @app.get("/api/events", tags=["read"], summary="Events, newest first, with filters",
             description="Filter by date range (ISO dates), outlet (exact source name), entity (name, any case) "
                         "and storyline id. Items are summaries; GET /api/events/{id} gives the export shape.")
    def api_events(page: PageNo = 1, per_page: PerPage = 50, date_from: dt.date | None = None,
                   date_to: dt.date | None = None, outlet: str | None = None, entity: str | None = None,
                   storyline: str | None = None):
        snap = repo.snapshot()
        events = repo.filter_events(snap, date_from, date_to, outlet, entity, storyline)
        return _page([event_json(e) for e in events], page, per_page)

    @app.get("/api/events/{event_id:path}", tags=["read"], summary="One event in the export format",
             description="The event as in export.json (storyline-export-v1): summary with citations, timeline, "
                         "entities, quotes, comparison.")
    def api_event(event_id: str):
        ev = repo.event(event_id)
        if ev is None:
            raise HTTPException(404, f"no event {short(event_id, 80)!r}")
        return ev

    @app.get("/api/articles", tags=["read"], summary="Articles, newest added first")
    def api_articles(page: PageNo = 1, per_page: PerPage = 50, event: str | None = None, outlet: str | None = None):
        total, items = repo.articles_page((page - 1) * per_page, per_page, event, outlet)
        return {"items": items, "page": page, "per_page": per_page, "total": total,
                "pages": max(1, math.ceil(total / per_page))}

    @app.get("/api/articles/{article_id:path}", tags=["read"], summary="One article: metadata, cleaned text, "
             "removed junk, duplicate links, enrichment")
    def api_article(article_id: str):
        a = repo.article(article_id)
        if a is None:
            raise HTTPException(404, f"no article {short(article_id, 80)!r}")
        return a

    def entity_json(x: dict, snap) -> dict:
        return {"name": x["name"], "type": x["type"], "aliases": sorted(x["aliases"]),
                "n_events": len({e for e, _ in x["events"]}), "n_quotes": len(x["quotes"]),
                "roles": sorted({r for _, r in x["events"] if r})}

    @app.get("/api/entities", tags=["read"], summary="People, organisations and places, most events first")
    def api_entities(page: PageNo = 1, per_page: PerPage = 50, q: str | None = None,
                     type: Literal["PERSON", "ORG", "PLACE", "OTHER"] | None = None):
        snap = repo.snapshot()
        items = list(snap.entities.values())
        if q:
            items = [x for x in items if fold(q) in fold(x["name"])]
        if type:
            items = [x for x in items if x["type"] == type]
        items.sort(key=lambda x: (-len(x["events"]), -len(x["quotes"]), x["name"]))
        return _page([entity_json(x, snap) for x in items], page, per_page)

    @app.get("/api/entities/{name:path}", tags=["read"], summary="One entity: its events and quotes over time")
    def api_entity(name: str):
        snap = repo.snapshot()
        x = snap.entities.get(fold(name))
        if x is None:
            raise HTTPException(404, f"no entity {short(name, 80)!r}")
        out = entity_json(x, snap)
        out["events"] = [{**event_json(snap.events[e]), "role": r} for e, r in x["events"] if e in snap.events]
        out["quotes"] = [{"event_id": e, **q} for e, q in x["quotes"]]
        return out

    @app.get("/api/quotes", tags=["read"], summary="Quotes, by speaker and/or event")
    def api_quotes(page: PageNo = 1, per_page: PerPage = 50, speaker: str | None = None, event: str | None = None):
        snap = repo.snapshot()
        items = []
        for e in snap.newest:
            if event and e.id != event:
                continue
            for q in e.quotes:
                if not isinstance(q, dict):
                    continue
                if speaker and fold(q.get("speaker") or "") != fold(speaker):
                    continue
                items.append({"event_id": e.id, "date": e.when, "text": q.get("text"), "speaker": q.get("speaker"),
                              "article_ids": q.get("article_ids") or []})
        return _page(items, page, per_page)

    @app.get("/api/search", tags=["read"], summary="Search articles by words and meaning",
             description='mode=hybrid (default) fuses full-text word ranking (SQLite FTS5 BM25, or PostgreSQL '
                         'tsvector ts_rank_cd; "quoted phrases" kept) and embedding similarity by reciprocal rank '
                         "fusion; words or meaning use one of them.")
    async def api_search(q: Annotated[str, Query(min_length=1, max_length=fts.MAX_QUERY_CHARS)],
                         mode: Literal["hybrid", "words", "meaning"] = "hybrid", page: PageNo = 1,
                         per_page: Annotated[int, Query(ge=1, le=100)] = 20):
        if not q.strip():
            raise HTTPException(422, "q is empty")
        key = ("search", " ".join(q.split()), mode, page, per_page, repo.generation())
        body = responses.get(key)
        if body is None:
            body = json.dumps(await run_in_threadpool(search_json, q, mode, page, per_page)).encode()
            responses.put(key, body)
        return Response(body, media_type="application/json")

    def search_json(q: str, mode: str, page: int, per_page: int) -> dict:
        result = repo.search(q, mode, (page - 1) * per_page, per_page)
        rows = repo.article_rows([h.article_id for h in result.hits])
        items = []
        for h in result.hits:
            a = rows.get(h.article_id, {})
            items.append({"article_id": h.article_id, "title": a.get("title"), "source": a.get("source"),
                          "url": a.get("url"), "published_at": a.get("published_at"), "event_id": a.get("event_id"),
                          "score": round(h.score, 6), "matched": h.matched, "word_rank": h.word_rank,
                          "meaning_rank": h.meaning_rank, "cosine": None if h.cosine is None else round(h.cosine, 4),
                          "snippet": (h.snippet or "").replace(fts.HIT_OPEN, "").replace(fts.HIT_CLOSE, "") or None})
        return {"query": q, "mode": mode, "any_term": result.any_term, "items": items, "page": page,
                "per_page": per_page, "total": result.total, "pages": max(1, math.ceil(result.total / per_page))}

    # -- API: write --------------------------------------------------------------------------------

    body_schema = {
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"oneOf": [
                {"$ref": "#/components/schemas/ArticleIn"},
                {"type": "array", "items": {"$ref": "#/components/schemas/ArticleIn"}, "maxItems": max_batch}]}},
            "application/x-ndjson": {"schema": {"type": "string", "description": "JSON Lines, one article a line"}}}},
    }

    def check_token(request: Request) -> None:
        if token is None:
            raise HTTPException(403, "writes are disabled: start the server with --token or STORYLINE_TOKEN")
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-storyline-token")
        if not given:
            raise HTTPException(401, "a token is required: send Authorization: Bearer TOKEN",
                                headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(403, "wrong token")

    def parse_body(raw: bytes, content_type: str) -> list:
        if not raw.strip():
            raise HTTPException(400, "empty body: send one article as a JSON object, or a JSON array of them")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise HTTPException(400, "body is not UTF-8")
        if "ndjson" in content_type or "jsonl" in content_type:
            records = []
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise HTTPException(400, f"line {n} is not valid JSON: {e.msg} (column {e.colno})")
            return records
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise HTTPException(400, f"body is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})")
        if isinstance(value, dict):
            return [value]
        if isinstance(value, list):
            return value
        raise HTTPException(422, f"expected a JSON object or an array of objects, got a JSON {type(value).__name__}")

    write_lock = threading.Lock()

    def add_articles(request_records: list) -> tuple[int, dict]:
        from storyline.config import Config
        from storyline.enrich.embed import CachedEmbedder
        from storyline.ingest.jsonl import record_to_document
        from storyline.records import Problem

        from .ingest import DocumentPipeline

        if not request_records:
            raise HTTPException(422, "no articles in the body")
        if len(request_records) > max_batch:
            raise HTTPException(413, f"at most {max_batch} articles a request, got {len(request_records)}")
        config = Config()
        config.progress = False
        docs, problems, seen = [], [], set()
        for i, obj in enumerate(request_records):
            item = record_to_document(obj, f"[{i}]", config.ingest)
            if isinstance(item, Problem):
                problems.append({"item": i, "problem": item.reason})
            elif item.id in seen:
                problems.append({"item": i, "problem": f"duplicate id {item.id!r} in this batch"})
            else:
                seen.add(item.id)
                docs.append(item)
        if problems:
            raise HTTPException(422, {"message": "nothing was added: fix these records", "problems": problems})
        with write_lock, repo.write_lock:
            if state["pipeline"] is None:
                # one pipeline for the app's life: models loaded once, and the enrichment workers
                # kept from the first batch large enough to start them (closed at shutdown)
                p = DocumentPipeline(repo.writer, config, keep_workers=True)
                if embedder is not None:
                    p.embedder = embedder
                    p.sentences = CachedEmbedder(embedder, repo.writer)
                state["pipeline"] = p
            summary = state["pipeline"].add_documents(docs)
            repo.db.refresh_search()
        repo.changed()
        if summary.problems and not (summary.new or summary.updated or summary.unchanged):
            raise HTTPException(422, {"message": "nothing was added",
                                      "problems": [{"item": p.item, "problem": p.reason} for p in summary.problems]})
        event_of = repo.events_of([d.id for d in docs])
        out = {"received": len(docs), "new": summary.new, "updated": summary.updated,
               "unchanged": summary.unchanged,
               "skipped": [{"item": p.item, "problem": p.reason} for p in summary.problems],
               "articles": [{"id": d.id, "event_id": event_of.get(d.id), "page": f"/article/{d.id}"} for d in docs],
               "events": summary.events, "storylines": summary.storylines}
        return (201 if summary.new else 200), out

    async def post_articles(request: Request):
        check_token(request)
        raw = await request.body()
        records = parse_body(raw, request.headers.get("content-type", ""))
        from starlette.concurrency import run_in_threadpool

        status, out = await run_in_threadpool(add_articles, records)
        return JSONResponse(out, status_code=status)

    app.add_api_route("/api/articles", post_articles, methods=["POST"], tags=["write"],
                      summary="Add articles (one or a batch) and update events",
                      description="Same fields as a JSONL input record: id, title, text or html, url, source, "
                                  "published_at (or date), author. Needs `Authorization: Bearer TOKEN`. "
                                  "401 without a token, 403 with a wrong one (or when writes are disabled), "
                                  "400 for a body that is not JSON, 413 over the size limit, 422 for bad records "
                                  "(then nothing is added).",
                      openapi_extra=body_schema, status_code=201)
    app.add_api_route("/articles", post_articles, methods=["POST"], include_in_schema=False)

    original_openapi = app.openapi

    def openapi():
        if app.openapi_schema:
            return app.openapi_schema
        spec = original_openapi()
        spec.setdefault("components", {}).setdefault("schemas", {})["ArticleIn"] = {
            "type": "object", "properties": {
                "id": {"type": "string"}, "title": {"type": "string"}, "text": {"type": "string"},
                "html": {"type": "string"}, "url": {"type": "string"}, "source": {"type": "string"},
                "published_at": {"type": "string", "description": "ISO 8601, or Unix seconds"},
                "date": {"type": "string"}, "author": {"type": "string"}},
            "description": "One article; text, html or at least a title is required. gold_* fields are ignored."}
        return spec

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return RedirectResponse("/static/favicon.svg", status_code=301)

    @app.get("/api/", include_in_schema=False)
    def api_root():
        return RedirectResponse("/api")

    return app
