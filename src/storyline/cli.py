"""The ``storyline`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from storyline.config import Config

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Turn news articles into events and storylines.")
eval_app = typer.Typer(no_args_is_help=True, help="Measure storyline against labelled data.")
app.add_typer(eval_app, name="eval")

EXIT_SKIPPED = 3  # the run finished but some inputs were skipped (each named on stderr)

# Options shared by run, batch and watch: one definition each.
Inputs = Annotated[list[str], typer.Argument(help="Files, folders, feed or page URLs, in any mix.")]
OutDir = Annotated[Path, typer.Option("--out", "-o", help="Output folder: storyline.db, export.json, report.html.")]
AllowPrivate = Annotated[bool, typer.Option(help="Let fetches reach private/loopback addresses.")]
NoFetch = Annotated[bool, typer.Option("--no-fetch", help="Never fetch pages linked from feeds.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
NoSynthesize = Annotated[bool, typer.Option("--no-synthesize", help="Skip summaries and comparisons.")]
Db = Annotated[Optional[str], typer.Option(help="Store: a SQLite path or a postgresql:// URL (default OUT/storyline.db).")]
SummaryJson = Annotated[Optional[Path], typer.Option(help="Also write the run's figures as JSON here.")]


def make_config(*, allow_private_urls: bool = False, no_fetch: bool = False, quiet: bool = False,
                no_synthesize: bool = False) -> Config:
    config = Config()
    config.ingest.allow_private_urls = allow_private_urls
    config.ingest.fetch_linked_pages = not no_fetch
    config.progress = not quiet
    config.synthesize = not no_synthesize
    return config


def finish(summary, figures: dict, summary_json: Path | None, extra: str = "") -> None:
    """The end of run and batch: skipped items, the one-screen summary, the figures as JSON when
    asked, and exit status 3 when something was skipped."""
    err = Console(stderr=True)
    for problem in summary.problems:
        err.print(f"[yellow]skipped[/] {problem.item}: {problem.reason}", highlight=False, soft_wrap=True)
    print_summary(summary, err)
    if extra:
        err.print(extra, highlight=False)
    if summary_json:
        summary_json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    if summary.problems:
        raise typer.Exit(EXIT_SKIPPED)


def print_summary(summary, console: Console) -> None:
    table = Table(title="storyline run", show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("articles read", f"{summary.read} ({summary.new} new, {summary.updated} updated,"
                                   f" {summary.unchanged} unchanged)")
    table.add_row("skipped", str(summary.skipped))
    dups = ", ".join(f"{n} {k}" for k, n in sorted(summary.duplicates.items())) or "none"
    table.add_row("duplicates", dups)
    table.add_row("in store", f"{summary.articles} articles, {summary.events} events,"
                              f" {summary.storylines} storylines")
    table.add_row("time", "  ".join(f"{k} {v:.1f}s" for k, v in summary.stage_seconds.items()))
    if summary.out_dir:
        table.add_row("wrote", f"{summary.out_dir}/export.json, {summary.out_dir}/report.html")
    console.print(table)


@app.command()
def run(
    inputs: Inputs,
    out: OutDir,
    db: Db = None,
    allow_private_urls: AllowPrivate = False,
    no_fetch: NoFetch = False,
    quiet: Quiet = False,
    no_synthesize: NoSynthesize = False,
    summary_json: SummaryJson = None,
) -> None:
    """Read INPUTS, store them in OUT/storyline.db, group them into events and storylines, and
    write OUT/export.json and OUT/report.html. Running again adds only what is new."""
    from storyline.pipeline import run as run_pipeline

    config = make_config(allow_private_urls=allow_private_urls, no_fetch=no_fetch, quiet=quiet,
                         no_synthesize=no_synthesize)
    summary = run_pipeline(inputs, out, config, db=db)
    finish(summary, summary.to_dict(), summary_json)


@eval_app.command("events")
def eval_events(
    files: Annotated[list[Path], typer.Argument(help="Labelled JSONL files (gold_cluster per article).")],
    results: Annotated[Optional[Path], typer.Option(help="Write the scores as JSON here.")] = None,
    synthesize: Annotated[bool, typer.Option(help="Also write summaries (they do not change the events).")] = False,
) -> None:
    """Strip every gold_* field, run the same pipeline a user runs, print B-cubed P/R/F1 and AMI."""
    from storyline.evaluate.events import evaluate_event_files

    config = Config()
    config.synthesize = synthesize
    rows = evaluate_event_files(files, results, config)
    table = Table(title="event clustering")
    for col in ("data set", "articles", "gold", "predicted", "B3 P", "B3 R", "B3 F1", "AMI", "seconds"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["dataset"], str(r["items"]), str(r["gold_clusters"]), str(r["predicted_clusters"]),
                      f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}", f"{r['ami']:.3f}",
                      f"{r['seconds']:.1f}")
    Console().print(table)


@app.command()
def watch(
    feeds: Annotated[Path, typer.Argument(help="Text file of RSS/Atom URLs (one a line, # comments) or OPML.")],
    out: OutDir,
    interval: Annotated[float, typer.Option(min=1.0, help="Seconds between two polls of one feed.")] = 300.0,
    once: Annotated[bool, typer.Option("--once", help="Poll every feed once now, process, exit.")] = False,
    max_cycles: Annotated[Optional[int], typer.Option(min=1, help="Stop after this many cycles.")] = None,
    db: Db = None,
    allow_private_urls: AllowPrivate = False,
    no_synthesize: NoSynthesize = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every poll, not only failures.")] = False,
) -> None:
    """Poll FEEDS (conditional GET, polite per host, back-off on failures), fetch new articles and
    process them into the store (OUT/storyline.db, or --db) like `storyline run`, rewriting
    OUT/export.json and OUT/report.html. Stop with Ctrl-C; a restart resumes where it stopped."""
    import logging

    from storyline.watch import FeedListError
    from storyline.watch import watch as run_watch

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    if not verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    config = make_config(allow_private_urls=allow_private_urls, quiet=True, no_synthesize=no_synthesize)
    config.watch.interval_s = interval
    try:
        watcher = run_watch(feeds, out, config, once=once, max_cycles=max_cycles, db=db)
    except FeedListError as exc:
        Console(stderr=True).print(f"[red]error[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if once and watcher.last_report and watcher.last_report.failed:
        raise typer.Exit(EXIT_SKIPPED)  # for cron: some feed failed (each logged above)


@app.command()
def batch(
    inputs: Annotated[list[str], typer.Argument(help="Files (JSONL, Parquet, any kind run reads), folders, URLs.")],
    out: OutDir,
    engine: Annotated[str, typer.Option(help="Distributed engine (only 'dask').")] = "dask",
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address (tcp://host:8786); "
                                                          "default: a LocalCluster.")] = None,
    partitions: Annotated[Optional[int], typer.Option(min=1, help="Input partitions (default: by size).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="LocalCluster worker processes.")] = 2,
    threads: Annotated[int, typer.Option(min=1, help="LocalCluster threads per worker.")] = 1,
    db: Db = None,
    allow_private_urls: AllowPrivate = False,
    no_fetch: NoFetch = False,
    quiet: Quiet = False,
    no_synthesize: NoSynthesize = False,
    summary_json: SummaryJson = None,
) -> None:
    """Like run, with reading, cleaning, embedding and enrichment as Dask tasks over partitions
    (models loaded once per worker); the store and export are the same as run's. See the README, "storyline batch"."""
    from storyline.batch import run_batch

    if engine != "dask":
        raise typer.BadParameter(f"unknown engine {engine!r}; only 'dask' is supported", param_hint="--engine")
    config = make_config(allow_private_urls=allow_private_urls, no_fetch=no_fetch, quiet=quiet,
                         no_synthesize=no_synthesize)
    result = run_batch(inputs, out, config, scheduler=scheduler, partitions=partitions, workers=workers,
                       threads_per_worker=threads, db=db)
    finish(result.summary, result.to_dict(), summary_json,
           extra=f"dask: {result.workers} workers at {result.scheduler}, {result.partitions} partitions,"
                 f" {result.chunks} embed/enrich chunks")


def _register_serve() -> None:
    from storyline.serve.cli import register

    register(app)


_register_serve()


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
