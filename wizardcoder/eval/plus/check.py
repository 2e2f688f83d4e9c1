"""Judging samples on HumanEval+ / MBPP+: one sandbox program per sample runs the candidate on all the
task's base and plus inputs (harness.py), and gives both verdicts and the first failing input.

Time limits (evalplus's scheme): input i may take max(floor, factor x the reference's time on it);
a phase (base, plus) may take min(per_phase_cap, sum of its limits) + 2 s in all, as evalplus's
process join allows. `reference` uses evalplus's own numbers (factor 4, floor 1 s, cap 60 s, its
defaults from 0.2.0 on) on the reference times measured with the expected outputs; `calibrated` the
config's factor and floor on the same times (measured on this machine and sandbox backend: the cache
is per machine); a fixed `--timeout` gives every input that limit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from wizardcoder.eval.plus.data import PlusSuite, PlusTask
from wizardcoder.eval.plus.expected import HASH_SEED, Expected, TaskExpected
from wizardcoder.eval.plus.program import CheckJob, check_job, encode_inputs, read_verdict, shown

log = logging.getLogger(__name__)

EVALPLUS_FACTOR, EVALPLUS_FLOOR, EVALPLUS_PHASE_CAP = 4.0, 1.0, 60.0
PHASE_SLACK = 2.0  # evalplus: join(timeout + 1) on a timeout of min(cap, sum) + 1
STARTUP = 5.0  # seconds a check job may spend outside the phases (start, fork, reading the data)
CHECK_MEMORY_MB = 1024  # as the reference runs (expected.REFERENCE_MEMORY_MB); evalplus: 4 GiB


@dataclass(frozen=True)
class LimitRule:
    profile: str  # reference | calibrated | fixed
    factor: float = EVALPLUS_FACTOR
    floor: float = EVALPLUS_FLOOR
    phase_cap: float = EVALPLUS_PHASE_CAP
    fixed: float | None = None

    def limit(self, ref_seconds: float) -> float:
        if self.fixed is not None:
            return self.fixed
        return max(self.floor, self.factor * ref_seconds)

    @property
    def record(self) -> dict:
        if self.fixed is not None:
            return {"profile": "fixed", "seconds_per_input": self.fixed, "phase_cap": self.phase_cap}
        return {"profile": self.profile, "factor": self.factor, "floor": self.floor, "phase_cap": self.phase_cap,
                "rule": "input i: max(floor, factor x the reference's time on i); a phase: min(phase_cap, sum of "
                        f"its limits) + {PHASE_SLACK:g} s",
                "source": "evalplus's defaults (--gt-time-limit-factor 4, --min-time-limit 1, "
                          "EVALPLUS_TIMEOUT_PER_TASK 60)" if self.profile == "reference"
                          else "time_limit.factor / time_limit.floor"}


def limit_rule(profile: str, factor: float = EVALPLUS_FACTOR, floor: float = EVALPLUS_FLOOR,
               timeout: float | None = None) -> LimitRule:
    if timeout is not None:
        return LimitRule("fixed", fixed=float(timeout))
    if profile == "reference":
        return LimitRule("reference")
    if profile == "calibrated":
        return LimitRule("calibrated", factor=float(factor), floor=float(floor))
    raise ValueError(f"unknown time-limit profile {profile!r}")


@dataclass(frozen=True)
class TaskPlan:
    """What every sample of one task shares: its data files, phases and limits."""

    task: PlusTask
    inputs_json: str
    expected_json: str
    phases: list[dict]
    originals: dict[str, list[int]]  # phase -> index in base_input / plus_input of each kept input
    timeout: float
    hash_seed: int | None
    reference_seconds: float = 0.0  # the canonical's time on all kept inputs: slow tasks go first (makespan)


def plan_task(task: PlusTask, texp: TaskExpected, rule: LimitRule) -> TaskPlan:
    n_base = len(task.base_input)
    everything = task.base_input + task.plus_input
    kept = [i for i in range(len(everything)) if texp.outputs[i] is not None]
    phases, originals, timeout = [], {}, STARTUP
    pos = 0
    for name, lo, hi in (("base", 0, n_base), ("plus", n_base, len(everything))):
        idx = [i for i in kept if lo <= i < hi]
        limits = [round(rule.limit(texp.times[i] or 0.0), 4) for i in idx]
        budget = round(min(rule.phase_cap, sum(limits)) + PHASE_SLACK, 3)
        phases.append({"name": name, "start": pos, "end": pos + len(idx), "limits": limits, "budget": budget})
        originals[name] = [i - lo for i in idx]
        timeout += budget
        pos += len(idx)
    return TaskPlan(task=task, inputs_json=encode_inputs([everything[i] for i in kept]),
                    expected_json=json.dumps([texp.outputs[i] for i in kept]), phases=phases, originals=originals,
                    timeout=round(timeout, 3), hash_seed=HASH_SEED if texp.hash_seed_dependent else None,
                    reference_seconds=sum(texp.times[i] or 0.0 for i in kept))


def plans(suite: PlusSuite, expected: Expected, rule: LimitRule) -> dict[str, TaskPlan]:
    return {t.task_id: plan_task(t, expected.tasks[t.task_id], rule) for t in suite.tasks}


def job_for(plan: TaskPlan, solution: str, suite: PlusSuite, memory_mb: int = CHECK_MEMORY_MB) -> CheckJob:
    return check_job(solution=solution, entry_point=plan.task.entry_point, dataset=suite.dataset,
                     atol=plan.task.atol, rules=suite.rules, inputs_json=plan.inputs_json,
                     expected_json=plan.expected_json, phases=plan.phases, timeout=plan.timeout,
                     memory_mb=memory_mb, hash_seed=plan.hash_seed)


def row_for(plan: TaskPlan, check: CheckJob, result) -> dict[str, Any]:
    """The verdict fields of one sample's results row: passed (base), plus_passed (base and plus, evalplus's
    meaning), base/plus status, and the first failing input (bounded)."""
    verdicts = read_verdict(check, result)
    base, plus = verdicts["base"], verdicts["plus"]
    row: dict[str, Any] = {"passed": base["status"] == "pass",
                           "plus_passed": base["status"] == "pass" and plus["status"] == "pass",
                           "base_status": base["status"], "plus_status": plus["status"]}
    failing = next(((name, v) for name, v in (("base", base), ("plus", plus)) if v["status"] not in ("pass", "not_run")),
                   None)
    if failing is not None:
        name, v = failing
        first: dict[str, Any] = {"phase": name, "reason": v.get("reason")}
        index = v.get("index")
        if isinstance(index, int) and 0 <= index < len(plan.originals[name]):
            original = plan.originals[name][index]
            first["index"] = original
            args = (plan.task.base_input if name == "base" else plan.task.plus_input)[original]
            first["input"] = shown(args)
        if v.get("got") is not None:
            first["got"] = str(v["got"])[:300]
        row["first_failure"] = first
    return row


def check_samples(suite: PlusSuite, expected: Expected, samples: Iterable[tuple[str, str]], sandbox,
                  rule: LimitRule, memory_mb: int = CHECK_MEMORY_MB,
                  progress: Callable[[object], None] | None = None) -> list[dict[str, Any]]:
    """Judge `samples` ((task_id, whole program) pairs) in `sandbox`; one row per sample, in order.
    A sandbox error (never the sample's fault) gives a row with status "error" and no verdict."""
    table = plans(suite, expected, rule)
    samples = list(samples)
    checks = [job_for(table[tid], code, suite, memory_mb) for tid, code in samples]
    order = slow_first([table[tid] for tid, _ in samples])
    ran = sandbox.run_many([checks[i].job for i in order], progress=progress)
    results = [None] * len(ran)
    for i, r in zip(order, ran):
        results[i] = r
    rows = []
    for (tid, _), check, result in zip(samples, checks, results):
        status = getattr(result.status, "value", str(result.status))
        if status == "error":
            rows.append({"task_id": tid, "status": "error", "reason": result.reason})
            continue
        rows.append({"task_id": tid, "status": status, **row_for(table[tid], check, result),
                     "duration": round(result.duration, 4)})
    return rows


def slow_first(task_plans: list[TaskPlan]) -> list[int]:
    """Indices of `task_plans` with the slowest tasks first: the last job to start is then a short one."""
    return sorted(range(len(task_plans)), key=lambda i: -task_plans[i].reference_seconds)
