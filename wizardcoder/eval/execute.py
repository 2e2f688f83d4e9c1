"""Execution: samples -> results.jsonl, each sample's program run in the sandbox under its problem's time limit.

A sandbox failure is never a failed sample: it is retried once, then left out and reported.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from wizardcoder.data.store import JsonlLog
from wizardcoder.eval.config import EvalConfig
from wizardcoder.eval.problems import Problem
from wizardcoder.eval.programs import Program, build_program, result_record, run_programs
from wizardcoder.eval.timelimits import TimeLimits
from wizardcoder.execution import new_marker
from wizardcoder.progress import Progress

log = logging.getLogger(__name__)


def results_under(limits: TimeLimits, records: list[dict], by_id: dict[str, Problem]) -> list[dict]:
    """The results run under the time limit this run gives their problem: results.jsonl also keeps those of
    runs with other limits (asked again if the limit comes back), which must not count here."""
    return [r for r in records if r["task_id"] in by_id and r.get("time_limit") == limits[r["task_id"]]]


def execute_samples(cfg: EvalConfig, by_id: dict[str, Problem], sample_records: list[dict], results: JsonlLog,
                    progress: Progress, stats: dict, limits: TimeLimits) -> None:
    done = {(r["task_id"], r["sample_idx"]) for r in results_under(limits, results.records, by_id)}
    todo = [s for s in sample_records if s["task_id"] in by_id and (s["task_id"], s["sample_idx"]) not in done]
    stats["results_resumed"] = len(done)
    stats["programs_run"] = 0
    if todo:
        from wizardcoder.execution import open_sandbox

        infra: list[tuple[Program, Any]] = []

        def on_result(program: Program, result) -> None:
            status = getattr(result.status, "value", str(result.status))
            if status == "error":  # the sandbox broke: never a bad sample
                infra.append((program, result))
                return
            results.append({**result_record(program, result), "time_limit": limits[program.task_id]})

        def programs_for(records: Iterable[dict]) -> list[Program]:
            out = []
            for s in records:
                p = by_id[s["task_id"]]
                marker = new_marker()
                text = build_program(p, s.get("completion"), s.get("solution"), marker)
                out.append(Program(p.task_id, s["sample_idx"], p.language, text, marker))
            return out

        bar = progress("executing in the sandbox", len(todo))
        with open_sandbox(cfg.sandbox) as sandbox:
            from wizardcoder.eval.repro import sandbox_record

            stats["sandbox_backend"] = type(sandbox).__name__
            stats["sandbox"] = sandbox_record(sandbox, cfg.sandbox)
            run_programs(sandbox, programs_for(todo), limits.per_task, cfg.sandbox.memory_mb, on_result,
                         progress=lambda _r: bar.advance())
            stats["programs_run"] = len(todo)
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
        stats["sandbox_errors"] = len(infra)
    latest = {(r["task_id"], r["sample_idx"]): r["status"] for r in results_under(limits, results.records, by_id)}
    stats["status_counts"] = dict(Counter(latest.values()))
