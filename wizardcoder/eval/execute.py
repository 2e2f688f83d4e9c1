"""Execution: samples.jsonl -> results.jsonl, each sample's program run in the sandbox under its problem's
time limit.

Appended per record; a re-run runs only the samples without a result under the limits of this run. A sandbox
failure is never a failed sample: it is retried once, then left out, reported, and retried by the next run.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wizardcoder.data.store import JsonlLog, read_jsonl
from wizardcoder.eval.config import EvalConfig
from wizardcoder.eval.plus.stage import PlusLimits, execute_plus
from wizardcoder.eval.problems import Problem
from wizardcoder.eval.programs import Program, build_program, result_record, run_programs
from wizardcoder.eval.repro import sandbox_record
from wizardcoder.eval.timelimits import TimeLimits
from wizardcoder.execution import new_marker, open_sandbox
from wizardcoder.progress import Progress, no_progress

log = logging.getLogger(__name__)


@dataclass
class ExecutionStats:
    """What the execution step did; unset entries (nothing was run) are left out of stats.json."""

    results_resumed: int = 0
    programs_run: int = 0
    sandbox_backend: str | None = None
    sandbox: dict[str, Any] | None = None  # the reproducibility record of the sandbox these programs ran in
    sandbox_errors: int | None = None
    status_counts: dict[str, int] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != "seconds" and getattr(self, f.name) is not None}
        return {**out, "execution_seconds": round(self.seconds, 3)}


def execute(cfg: EvalConfig, problems: list[Problem], run_dir: Path, limits: TimeLimits,
            progress: Progress = no_progress) -> ExecutionStats:
    """Run every sample of `run_dir/samples.jsonl` that has no result under `limits` yet; append the results
    to `run_dir/results.jsonl`."""
    started = time.monotonic()
    by_id = {p.task_id: p for p in problems}
    samples = list(read_jsonl(run_dir / "samples.jsonl"))  # none yet: nothing to run
    results = JsonlLog(run_dir / "results.jsonl")
    try:
        if isinstance(limits, PlusLimits):  # an EvalPlus suite: one harness program per sample
            stats = ExecutionStats()
            execute_plus(cfg, limits, samples, results, stats, progress)
        else:
            stats = _execute(cfg, by_id, samples, results, progress, limits)
    finally:
        results.close()
    stats.seconds = time.monotonic() - started
    return stats


def _execute(cfg: EvalConfig, by_id: dict[str, Problem], sample_records: list[dict], results: JsonlLog,
             progress: Progress, limits: TimeLimits) -> ExecutionStats:
    done = {(r["task_id"], r["sample_idx"]) for r in limits.current(results.records)}
    todo = [s for s in sample_records if s["task_id"] in by_id and (s["task_id"], s["sample_idx"]) not in done]
    stats = ExecutionStats(results_resumed=len(done))
    if todo:
        infra: list[tuple[Program, Any]] = []

        def on_result(program: Program, result) -> None:
            status = getattr(result.status, "value", str(result.status))
            if status == "error":  # the sandbox broke: never a bad sample
                infra.append((program, result))
                return
            results.append({**result_record(program, result), "time_limit": limits[program.task_id]})

        bar = progress("executing in the sandbox", len(todo))
        with open_sandbox(cfg.sandbox) as sandbox:
            stats.sandbox_backend = type(sandbox).__name__
            stats.sandbox = sandbox_record(sandbox, cfg.sandbox)
            run_programs(sandbox, _programs(todo, by_id), limits.per_task, cfg.sandbox.memory_mb, on_result,
                         progress=lambda _r: bar.advance())
            stats.programs_run = len(todo)
            if infra:  # one retry for the sandbox's own failures
                log.warning("%d programs hit sandbox errors; retrying them once", len(infra))
                retry = [p for p, _ in infra]
                infra.clear()
                run_programs(sandbox, [Program(p.task_id, p.sample_idx, p.language,
                                               p.text.replace(p.marker, m), m)
                                       for p in retry for m in [new_marker()]],
                             limits.per_task, cfg.sandbox.memory_mb, on_result)
        bar.close()
        if infra:
            log.error("%d programs could not be run (sandbox errors, e.g. %s); run again to retry them",
                      len(infra), infra[0][1].reason)
        stats.sandbox_errors = len(infra)
    latest = {(r["task_id"], r["sample_idx"]): r["status"] for r in limits.current(results.records)}
    stats.status_counts = dict(Counter(latest.values()))
    return stats


def _programs(records: Iterable[dict], by_id: dict[str, Problem]) -> list[Program]:
    out = []
    for s in records:
        p = by_id[s["task_id"]]
        marker = new_marker()
        text = build_program(p, s.get("completion"), s.get("solution"), marker)
        out.append(Program(p.task_id, s["sample_idx"], p.language, text, marker))
    return out
