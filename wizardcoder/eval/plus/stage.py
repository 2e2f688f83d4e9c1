"""HumanEval+ / MBPP+ inside `wizardcoder eval`: their problems, their time limits (with the expected
outputs), and the execution step writing results rows with both verdicts.

- problems: each task as a Python `Problem` (the prompt a model is given; MBPP+ v0.1.0 prompts, a bare
  docstring, get the task's first MBPP assert so that the model knows the function's name and form);
- limits: `plus_limits(cfg, problems)` computes (or reads from the cache) the expected outputs in the
  sandbox and plans every task's per-input limits; it is a `TimeLimits` whose per-task value is the job's
  time limit, so results run under other limits are told apart as for the other suites;
- execution: `execute_plus` runs one program per sample (harness.py) and appends rows that keep `passed`
  (base) and add `plus_passed` (base and plus), `base_status`, `plus_status` and `first_failure`.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from wizardcoder.eval.passk import mean_pass_at_k
from wizardcoder.eval.plus.check import (
    CHECK_MEMORY_MB,
    TaskPlan,
    job_for,
    limit_rule,
    plans,
    row_for,
    slow_first,
)
from wizardcoder.eval.plus.data import PlusSuite, canonical_suite, load_plus_suite
from wizardcoder.eval.plus.expected import expected_outputs
from wizardcoder.eval.problems import HUMANEVAL_STOP, Problem
from wizardcoder.eval.repro import sandbox_record
from wizardcoder.eval.timelimits import TimeLimits
from wizardcoder.execution import open_sandbox

log = logging.getLogger(__name__)

MBPP_STOP = ("\nif __name__", "\ndef main(", "\nprint(", '\n"""', "\nassert")
CHUNK = 64  # samples per sandbox call: results are appended per chunk, so a killed run loses one at most


def is_plus(name: str) -> bool:
    return canonical_suite(name) is not None


@functools.lru_cache(maxsize=4)
def _load(name: str, file: str | None, rules: str) -> PlusSuite:
    return load_plus_suite(name, file, rules=rules)


def suite_for(cfg) -> PlusSuite:
    return _load(cfg.suite.name, cfg.suite.file, cfg.suite.evalplus_rules)


def problems_for(cfg) -> list:
    """The suite's tasks as `Problem`s (what generation, import and the report need)."""
    suite = suite_for(cfg)
    # completion mode's stop sequences, evalplus's codegen's: an MBPP completion writes the whole function
    stop = MBPP_STOP if suite.dataset == "mbpp" else HUMANEVAL_STOP
    out = []
    for t in suite.tasks:
        prompt = t.prompt
        if t.assertion and t.entry_point not in prompt:  # MBPP+ v0.1.0: say which function, as MBPP does
            first = next((line for line in t.assertion.splitlines() if line.strip()), "")
            prompt = prompt.rstrip("\n") + "\n" + first + "\n"
        out.append(Problem(task_id=t.task_id, prompt=prompt, tests="", entry_point=t.entry_point,
                           stop=stop, language="python", canonical=t.canonical_solution))
    return out


@dataclass(frozen=True)
class PlusLimits(TimeLimits):
    """Time limits of an EvalPlus suite: per task, the job's limit (what results rows keep), and the plans."""

    plans: dict[str, TaskPlan] = field(default_factory=dict)
    suite: PlusSuite | None = None


def plus_limits(cfg, problems: list, progress=None) -> PlusLimits:
    suite = suite_for(cfg)
    wanted = {p.task_id for p in problems}
    if len(wanted) < len(suite.tasks):  # suite.limit: expected outputs of these tasks only (cached apart)
        suite = replace(suite, tasks=[t for t in suite.tasks if t.task_id in wanted])
    backend = f"{cfg.sandbox.backend}:{cfg.sandbox.image}"
    expected = expected_outputs(suite, lambda: open_sandbox(cfg.sandbox), backend,
                                cache_dir=cfg.suite.cache_dir, progress=progress)
    tl = cfg.time_limit
    rule = limit_rule(tl.profile, tl.factor, tl.floor, tl.timeout)
    table = plans(suite, expected, rule)
    record = {**rule.record, "expected_outputs": expected.record, "evalplus_rules": suite.rules,
              "evalplus_rules_why": suite.rules_why, "data": {"source": suite.source, "sha256": suite.sha256},
              "per_problem": {tid: p.timeout for tid, p in table.items()}}
    return PlusLimits(per_task={tid: p.timeout for tid, p in table.items()}, record=record, plans=table,
                      suite=suite)


def execute_plus(cfg, limits: PlusLimits, samples: list[dict], results, stats, progress) -> None:
    """Run the samples that have no result under `limits` and append their rows to `results` (a JsonlLog)."""
    done = {(r["task_id"], r["sample_idx"]) for r in limits.current(results.records)}
    todo = [s for s in samples if s["task_id"] in limits.plans and (s["task_id"], s["sample_idx"]) not in done]
    stats.results_resumed = len(done)
    if todo:
        todo = [todo[i] for i in slow_first([limits.plans[s["task_id"]] for s in todo])]
        suite = limits.suite
        memory = max(cfg.sandbox.memory_mb, CHECK_MEMORY_MB)  # what the expected outputs were computed with
        bar = progress("executing in the sandbox (base + plus inputs)", len(todo))
        failed_infra: list[tuple[dict, str]] = []
        with open_sandbox(cfg.sandbox) as sandbox:
            stats.sandbox_backend = type(sandbox).__name__
            stats.sandbox = sandbox_record(sandbox, cfg.sandbox)
            stats.programs_run = len(todo)
            for attempt in (1, 2):  # one retry for the sandbox's own failures, never the sample's
                failed_infra = []
                for start in range(0, len(todo), CHUNK):
                    chunk = todo[start:start + CHUNK]
                    checks = [job_for(limits.plans[s["task_id"]], program_of(s, limits.plans[s["task_id"]]),
                                      suite, memory) for s in chunk]
                    results_ = sandbox.run_many([c.job for c in checks],
                                                progress=(lambda _r: bar.advance()) if attempt == 1 else None)
                    for s, check, result in zip(chunk, checks, results_):
                        status = getattr(result.status, "value", str(result.status))
                        if status == "error":
                            failed_infra.append((s, result.reason))
                            continue
                        plan = limits.plans[s["task_id"]]
                        results.append({"task_id": s["task_id"], "sample_idx": s["sample_idx"], "status": status,
                                        **row_for(plan, check, result), "reason": result.reason,
                                        "duration": round(result.duration, 4), "time_limit": plan.timeout})
                if not failed_infra or attempt == 2:
                    break
                log.warning("%d programs hit sandbox errors; retrying them once", len(failed_infra))
                todo = [s for s, _ in failed_infra]
        bar.close()
        if failed_infra:
            log.error("%d programs could not be run (sandbox errors, e.g. %s); run again to retry them",
                      len(failed_infra), failed_infra[0][1])
        stats.sandbox_errors = len(failed_infra)
    latest = {(r["task_id"], r["sample_idx"]): r["status"] for r in limits.current(results.records)}
    stats.status_counts = dict(Counter(latest.values()))


def program_of(sample: dict, plan: TaskPlan) -> str:
    """The whole program of a sample: its `solution`, or the task's prompt followed by its `completion`
    (evalplus's meaning of the two fields)."""
    if sample.get("solution") is not None:
        return sample["solution"]
    return plan.task.prompt + (sample.get("completion") or "")


def plus_metrics(problems: list, result_records: list[dict], ks: list[int]) -> dict[str, Any]:
    """plus_pass_at_k (a sample counts when it passes base and plus inputs, evalplus's meaning) and per-problem
    plus counts, from the rows run under this run's limits."""
    per: dict[str, dict[int, bool]] = {p.task_id: {} for p in problems}
    for r in result_records:
        if r["task_id"] in per and "plus_passed" in r:
            per[r["task_id"]][int(r["sample_idx"])] = bool(r["plus_passed"])
    counts = [(len(per[p.task_id]), sum(per[p.task_id].values())) for p in problems]
    n_min = min((n for n, _ in counts), default=0)
    return {"plus_pass_at_k": mean_pass_at_k(counts, sorted(set(ks))) if n_min >= 1 else {},
            "plus_passed_samples": sum(c for _, c in counts),
            "plus_per_problem": {p.task_id: {"n": n, "c": c} for p, (n, c) in zip(problems, counts)}}
