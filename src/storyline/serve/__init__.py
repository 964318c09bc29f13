"""The web app and HTTP API: ``storyline serve --db DIR/storyline.db`` (or ``--db postgresql://...``)."""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(*args, **kwargs):
    from storyline.serve.app import create_app as _create

    return _create(*args, **kwargs)
