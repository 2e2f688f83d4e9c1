"""Metrics: results -> pass@k (only k every problem has samples for) and per-problem pass rates."""

from __future__ import annotations

from typing import Any

from wizardcoder.eval.config import EvalConfig
from wizardcoder.eval.passk import mean_pass_at_k
from wizardcoder.eval.problems import KNOWN_BROKEN, Problem


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
