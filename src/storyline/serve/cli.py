"""``storyline serve``: the web app and HTTP API over one store (SQLite file or PostgreSQL URL), on uvicorn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional
from urllib.parse import urlsplit, urlunsplit

import typer


def serve(
    db: Annotated[str, typer.Option("--db", help="The store: DIR/storyline.db as written by `storyline run`, or a "
                                    "PostgreSQL URL (postgresql://user:pw@host:5432/db[?schema=NAME]).")],
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    token: Annotated[Optional[str], typer.Option(
        help="Token that POST /api/articles requires (default: $STORYLINE_TOKEN; none: writes disabled).",
        show_default=False)] = None,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body accepted, in MB.")] = 5.0,
) -> None:
    """Browse and query a store in a web browser, and over a JSON API (OpenAPI at /openapi.json)."""
    import uvicorn

    from storyline.serve.app import create_app

    from storyline.store import is_postgres_url

    if is_postgres_url(db):
        shown = _without_password(db)
    else:
        shown = db
        if not Path(db).is_file():
            raise typer.BadParameter(f"no storyline database at {db}", param_hint="--db")
    token = token or os.environ.get("STORYLINE_TOKEN") or None
    try:
        app = create_app(db, token=token, max_body=int(max_body_mb * 1024 * 1024))
    except Exception as e:  # noqa: BLE001 - an unreachable server, a wrong password: say so, no traceback
        if not is_postgres_url(db):
            raise
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()
        raise typer.BadParameter(f"cannot open {shown}: {reason[0] if reason else type(e).__name__}",
                                 param_hint="--db")
    typer.echo(f"storyline: serving {shown} on http://{host}:{port}/"
               f" (writes {'enabled with a token' if token else 'disabled: no token'})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                server_header=False, timeout_graceful_shutdown=5)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``storyline`` command line."""
    app.command("serve")(serve)
