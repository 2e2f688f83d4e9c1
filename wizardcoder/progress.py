"""The one progress protocol every stage reports through (evolve, eval, train).

A stage takes `progress: Progress` and calls `bar = progress(description, total)` for each long step
(`total` None when unknown), then `bar.advance(n)` as work completes and `bar.close()` at the end.
The CLI passes `RichProgress` (bars drawn with rich); library callers pass nothing (`no_progress`)
or their own callable (tests record the calls).
"""

from __future__ import annotations

from typing import Any, Protocol


class Bar(Protocol):
    def advance(self, n: int = 1) -> None: ...
    def close(self) -> None: ...


class Progress(Protocol):
    def __call__(self, description: str, total: int | None) -> Bar: ...


class _NullBar:
    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def no_progress(description: str, total: int | None) -> Bar:
    """The `Progress` that shows nothing."""
    return _NullBar()


class RichProgress:
    """`Progress` drawn with rich, as a context manager (on stderr with `stderr=True`, so stdout stays
    for results); disabled, it shows nothing."""

    def __init__(self, enabled: bool = True, stderr: bool = False):
        self.enabled = enabled
        self.stderr = stderr
        self._progress: Any = None

    def __enter__(self) -> RichProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description:<26}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                      console=Console(stderr=self.stderr), transient=False)
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __call__(self, description: str, total: int | None) -> Bar:
        if self._progress is None:
            return _NullBar()
        return _RichBar(self._progress, description, total)


class _RichBar:
    def __init__(self, progress: Any, description: str, total: int | None):
        self._progress = progress
        self._task = progress.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)

    def close(self) -> None:
        task = next((t for t in self._progress.tasks if t.id == self._task), None)
        if task is not None and task.total is None:  # an open-ended bar: show it as finished
            self._progress.update(self._task, total=task.completed)
