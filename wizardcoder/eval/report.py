"""What the CLI shows at the end: a table of the metrics (rich). Progress bars: `wizardcoder.progress`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from wizardcoder.eval.repro import summary_lines
from wizardcoder.llm.health import endpoint_state, summary_endpoints


def print_report(metrics: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    stats = metrics.get("stats", {})
    table = Table(title=f"{metrics['suite']}: {metrics['problems']} problems", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    plus = metrics.get("plus_pass_at_k")
    for name, value in metrics["pass_at_k"].items():
        table.add_row(f"{name} (base)" if plus is not None else name, f"{100 * value:.2f}%")
    for name, value in (plus or {}).items():
        table.add_row(f"{name} (base + plus)", f"{100 * value:.2f}%")
    for k in metrics["k_not_reported"]:
        table.add_row(f"pass@{k}", f"not reported (needs >= {k} samples per problem)")
    spp = metrics["samples_per_problem"]
    table.add_row("samples per problem", str(spp["min"]) if spp["min"] == spp["max"] else f"{spp['min']}-{spp['max']}")
    table.add_row("samples passed", f"{metrics['passed_samples']} / {metrics['total_samples']}")
    if plus is not None:
        table.add_row("samples passed base + plus", f"{metrics['plus_passed_samples']} / {metrics['total_samples']}")
    if metrics.get("no_code_samples"):
        table.add_row("replies with no code (failed)", str(metrics["no_code_samples"]))
    for status, count in sorted(stats.get("status_counts", {}).items()):
        table.add_row(f"  status {status}", str(count))
    gen_label = "samples import time" if "samples_imported" in stats else "generation time"
    for key, label in (("generation_seconds", gen_label), ("execution_seconds", "execution time"),
                       ("wall_seconds", "wall time")):
        if key in stats:
            table.add_row(label, f"{stats[key]:.1f} s")
    if stats.get("llm_rejected"):
        table.add_row("requests refused (scored as empty)", str(stats["llm_rejected"]))
    endpoints = (stats.get("llm_usage") or {}).get("endpoints") or {}
    if endpoints:
        for url, c in summary_endpoints(endpoints).items():
            table.add_row(f"endpoint {url}", Text(endpoint_state(c)))
    if stats.get("sandbox_backend"):
        table.add_row("sandbox", stats["sandbox_backend"])
    console.print(table)
    if stats.get("run_dir"):  # whole, on its own line: a table cell cuts a long path at the terminal's width
        console.print(f"run directory: {stats['run_dir']}", soft_wrap=True, markup=False, highlight=False)
    if metrics.get("reproducibility"):
        repro = Table(title="reproducibility (metrics.json: reproducibility)", show_header=False)
        repro.add_column("what")
        repro.add_column("value", overflow="fold")
        for label, value in summary_lines(metrics["reproducibility"]):
            repro.add_row(label, value)
        console.print(repro)
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
