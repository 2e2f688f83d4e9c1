"""Metrics: results.jsonl -> metrics.json: pass@k (only k every problem has samples for), per-problem pass
rates, the time limits and the reproducibility record. Runs alone on a run directory's files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wizardcoder.data.store import read_json, read_jsonl, write_json_atomic
from wizardcoder.eval.config import EvalConfig, resolve_mode
from wizardcoder.eval.generate import expected_samples, samples_digest
from wizardcoder.eval.passk import mean_pass_at_k
from wizardcoder.eval.plus.stage import PlusLimits, plus_metrics
from wizardcoder.eval.problems import KNOWN_BROKEN, Problem
from wizardcoder.eval.repro import build_record
from wizardcoder.eval.timelimits import TimeLimits


def score(cfg: EvalConfig, problems: list[Problem], run_dir: Path, limits: TimeLimits,
          expected: dict[str, int] | None = None, sandbox: dict | None = None) -> dict[str, Any]:
    """Write `run_dir/metrics.json` from the results run under `limits`, and return it. `expected`: samples
    per problem (default: from the config, or counted in the imported samples file); `sandbox`: the record of
    the sandbox that ran programs now (default: the record of the run that made the results)."""
    samples_file = cfg.generation.samples_file
    if expected is None:
        expected = expected_samples(cfg, problems)
    current = limits.current(read_jsonl(run_dir / "results.jsonl"))
    metrics = compute_metrics(cfg, problems, current, expected)
    if isinstance(limits, PlusLimits):  # an EvalPlus suite: base+plus pass@k beside the base one
        metrics.update(plus_metrics(problems, current, cfg.k))
    # replies with no code in them (scored as failures)
    metrics["no_code_samples"] = sum(1 for s in read_jsonl(run_dir / "samples.jsonl") if s.get("no_code"))
    metrics["time_limits"] = limits.record
    metrics["reproducibility"] = build_record(
        cfg, problems, None if samples_file else resolve_mode(cfg), limits.record,
        sandbox or _previous_sandbox(run_dir), samples_digest(samples_file) if samples_file else None)
    write_json_atomic(run_dir / "metrics.json", metrics)
    return metrics


def _previous_sandbox(run_dir: Path) -> dict | None:
    """A resumed run that ran nothing now keeps the sandbox record of the run that made its results."""
    try:
        return read_json(run_dir / "metrics.json")["reproducibility"]["sandbox"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def compute_metrics(cfg: EvalConfig, problems: list[Problem], result_records: list[dict],
                    n_target: dict[str, int]) -> dict[str, Any]:
    per: dict[str, dict[int, bool]] = {p.task_id: {} for p in problems}
    for r in result_records:
        if r["task_id"] in per:
            per[r["task_id"]][int(r["sample_idx"])] = bool(r["passed"])
    counts = [(len(per[p.task_id]), sum(per[p.task_id].values())) for p in problems]
    missing = sum(max(0, n_target.get(p.task_id, 0) - len(per[p.task_id])) for p in problems)
    n_min = min(n for n, _ in counts) if counts else 0
    ks = sorted(set(cfg.k))
    metrics = mean_pass_at_k(counts, ks) if n_min >= 1 else {}
    broken = KNOWN_BROKEN.get(cfg.suite.name, {})
    return {
        "suite": cfg.suite.name,
        "problems": len(problems),
        "samples_per_problem": {"min": n_min, "max": max((n for n, _ in counts), default=0)},
        "pass_at_k": metrics,
        "k_not_reported": [k for k in ks if f"pass@{k}" not in metrics],
        "complete": missing == 0 and n_min >= 1,
        "missing_results": missing,
        "passed_samples": sum(c for _, c in counts),
        "total_samples": sum(n for n, _ in counts),
        "per_problem": {p.task_id: {"n": n, "c": c, "pass_rate": (c / n if n else None)}
                        for p, (n, c) in zip(problems, counts)},
        "known_broken": {t: r for t, r in broken.items() if t in per},
    }
