"""The unbiased pass@k estimator (Chen et al. 2021), computed exactly as the reference harness does.

pass@k of one problem with n samples of which c pass is 1 - C(n-c, k) / C(n, k), evaluated in the
numerically stable product form 1 - prod_{i=n-c+1}^{n} (1 - k/i). The suite's pass@k is the plain mean
over problems, and it is reported only for k where EVERY problem has at least k samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct) passes."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if k < 1 or k > n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n (n={n})")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(counts: Sequence[tuple[int, int]], ks: Iterable[int]) -> dict[str, float]:
    """{"pass@k": mean over problems} from per-problem (n, c), for each k every problem has samples for."""
    if not counts:
        return {}
    smallest = min(n for n, _ in counts)
    out = {}
    for k in sorted(set(ks)):
        if 1 <= k <= smallest:
            out[f"pass@{k}"] = float(np.array([pass_at_k(n, c, k) for n, c in counts]).mean())
    return out


def per_problem(results: Iterable[Mapping]) -> dict[str, tuple[int, int]]:
    """task_id -> (n, c) from result records (one per sample)."""
    seen: dict[str, dict[int, bool]] = {}
    for r in results:
        seen.setdefault(r["task_id"], {})[int(r["sample_idx"])] = bool(r["passed"])
    return {t: (len(s), sum(s.values())) for t, s in seen.items()}
