"""What the CLI shows: progress bars while it works, a table at the end (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

LABELS = {"generate": "generating samples", "execute": "executing in the sandbox"}


class RichProgress:
    """The runner's progress hook, drawn with rich on stderr."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._progress = Progress(TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                                  disable=not enabled)
        self._tasks: dict[str, Any] = {}

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, stage: str, total: int) -> None:
        self._tasks[stage] = self._progress.add_task(LABELS.get(stage, stage), total=total)

    def advance(self, stage: str, n: int = 1) -> None:
        if stage in self._tasks:
            self._progress.advance(self._tasks[stage], n)


def print_report(metrics: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    stats = metrics.get("stats", {})
    table = Table(title=f"{metrics['suite']}: {metrics['problems']} problems", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics["pass_at_k"].items():
        table.add_row(name, f"{100 * value:.2f}%")
    for k in metrics["k_not_reported"]:
        table.add_row(f"pass@{k}", f"not reported (needs >= {k} samples per problem)")
    spp = metrics["samples_per_problem"]
    table.add_row("samples per problem", str(spp["min"]) if spp["min"] == spp["max"] else f"{spp['min']}-{spp['max']}")
    table.add_row("samples passed", f"{metrics['passed_samples']} / {metrics['total_samples']}")
    for status, count in sorted(stats.get("status_counts", {}).items()):
        table.add_row(f"  status {status}", str(count))
    gen_label = "samples import time" if "samples_imported" in stats else "generation time"
    for key, label in (("generation_seconds", gen_label), ("execution_seconds", "execution time"),
                       ("wall_seconds", "wall time")):
        if key in stats:
            table.add_row(label, f"{stats[key]:.1f} s")
    if stats.get("sandbox_backend"):
        table.add_row("sandbox", stats["sandbox_backend"])
    table.add_row("run directory", stats.get("run_dir", ""))
    console.print(table)
    if metrics["known_broken"]:
        broken = Table(title="known-broken upstream problems (kept in the denominator)")
        broken.add_column("task_id")
        broken.add_column("reason")
        for task_id, reason in metrics["known_broken"].items():
            broken.add_row(task_id, reason)
        console.print(broken)
    if not metrics["complete"]:
        console.print(f"[bold red]incomplete:[/] {metrics['missing_results']} samples have no result "
                      "(LLM or sandbox infrastructure failures); run the same command again to resume.")
