"""Progress bars for long work (rich), silent when disabled or when output is not a terminal."""

from __future__ import annotations

import sys


class _Task:
    def __init__(self, bar: "Progress", task_id: object | None) -> None:
        self.bar = bar
        self.task_id = task_id

    def advance(self, n: int = 1) -> None:
        if self.task_id is not None:
            self.bar._rich.advance(self.task_id, n)


class Progress:
    """``with Progress(enabled=True) as p: t = p.task("embed", total=n); t.advance()``."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._rich = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       SpinnerColumn, TextColumn, TimeElapsedColumn)

            self._rich = RichProgress(SpinnerColumn(), TextColumn("{task.description:<12}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(), transient=False)
            self._rich.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.__exit__(*exc)
            self._rich = None

    def task(self, name: str, total: int | None) -> _Task:
        if self._rich is None:
            return _Task(self, None)
        return _Task(self, self._rich.add_task(name, total=total))
