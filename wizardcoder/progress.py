"""The one progress protocol every stage reports through (evolve, eval, train).

A stage takes `progress: Progress` and calls `bar = progress(description, total)` for each long step
(`total` None when unknown), then `bar.advance(n)` as work completes and `bar.close()` at the end.
The CLI passes `RichProgress` (bars drawn with rich); library callers pass nothing (`no_progress`)
or their own callable (tests record the calls).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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


STATUS_LOGGER = "wizardcoder.status"  # one-line status reports (e.g. the LLM client's): see RichProgress


class RichProgress:
    """`Progress` drawn with rich, as a context manager (on stderr with `stderr=True`, so stdout stays
    for results).

    Only a terminal gets the live display. While it is up, log records go through the display's own console
    (a `RichHandler` in place of the CLI's terminal handler, other terminal stream handlers through rich's file
    proxy), so they print above the bars instead of stranding stale copies of them, and the latest record of
    the `wizardcoder.status` logger is shown as the display's last line. Disabled (`--no-progress`) or where
    the output is not a terminal, nothing is drawn and logging stays as it was: plain lines, status lines
    included."""

    def __init__(self, enabled: bool = True, stderr: bool = False):
        self.enabled = enabled
        self.stderr = stderr
        self._progress: Any = None
        self._restore: list[Callable[[], None]] = []

    @property
    def live(self) -> bool:
        """Whether the live display is up."""
        return self._progress is not None

    def __enter__(self) -> RichProgress:
        if self.enabled:
            from rich.console import Console

            console = Console(stderr=self.stderr)
            if console.is_terminal:
                self._progress = _live_display(console)
                self._progress.start()
                self._restore = _route_logging(console, self._progress)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        while self._restore:
            self._restore.pop()()

    def __call__(self, description: str, total: int | None) -> Bar:
        if self._progress is None:
            return _NullBar()
        return _RichBar(self._progress, description, total)


def _live_display(console: Any) -> Any:
    """A rich `Progress` that shows its `status` text under the bars."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _Display(Progress):
        status = ""

        def get_renderables(self) -> Any:
            yield self.make_tasks_table(self.tasks)
            if self.status:
                yield Text(self.status, style="dim", no_wrap=True, overflow="ellipsis")

    return _Display(SpinnerColumn(), TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)


def _route_logging(console: Any, display: Any) -> list[Callable[[], None]]:
    """Send the log records meant for the terminal through `console` while `display` is live; the undo steps."""
    from rich.file_proxy import FileProxy
    from rich.logging import RichHandler

    undo: list[Callable[[], None]] = []
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler and _is_terminal(handler.stream):
            rich_handler = RichHandler(console=console, level=handler.level, show_time=False, show_path=False,
                                       markup=False, rich_tracebacks=False)
            rich_handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
            root.removeHandler(handler)
            root.addHandler(rich_handler)
            undo.append(lambda old=handler, new=rich_handler: (root.removeHandler(new), root.addHandler(old)))
    for logger in [*logging.Logger.manager.loggerDict.values()]:  # libraries' own terminal handlers
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler) \
                    and _is_terminal(handler.stream):
                old_stream = handler.setStream(FileProxy(console, handler.stream))
                undo.append(lambda h=handler, s=old_stream: h.setStream(s))

    status = logging.getLogger(STATUS_LOGGER)
    shown = _StatusLine(display)
    status.addHandler(shown)
    propagate, status.propagate = status.propagate, False
    undo.append(lambda: (status.removeHandler(shown), setattr(status, "propagate", propagate)))
    return undo


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


class _StatusLine(logging.Handler):
    """Shows the latest status record as the live display's last line instead of printing it."""

    def __init__(self, display: Any):
        super().__init__(logging.INFO)
        self.display = display

    def emit(self, record: logging.LogRecord) -> None:
        self.display.status = record.getMessage()


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
