"""``python -m storyline.serve --db DIR/storyline.db|postgresql://...`` (the same as ``storyline serve``)."""

import typer

from storyline.serve.cli import serve

if __name__ == "__main__":
    typer.run(serve)
