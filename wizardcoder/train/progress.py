"""The training bar: the one place the trainer shows progress, through the stages' shared protocol
(wizardcoder.progress)."""

from __future__ import annotations

from wizardcoder.progress import Bar, RichProgress, no_progress


def open_progress(enabled: bool, total: int, start: int) -> Bar:
    """A bar over optimizer steps, already at `start` (a resumed run), when `enabled` (the CLI, main
    process); else one that shows nothing. Closing it ends the display."""
    if not enabled:
        return no_progress("train", total)
    display = RichProgress().__enter__()
    bar = display("train", total)
    bar.advance(start)
    return _ClosingBar(bar, display)


class _ClosingBar:
    def __init__(self, bar: Bar, display: RichProgress):
        self.bar, self.display = bar, display

    def advance(self, n: int = 1) -> None:
        self.bar.advance(n)

    def close(self) -> None:
        self.bar.close()
        self.display.__exit__(None, None, None)
