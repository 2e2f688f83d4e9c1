"""benchmarks/bench_train.py's fairness rules (the benchmark itself runs on a GPU, outside CI)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_train.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_train", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAIRS = [("ours", "trl-packed"), ("ours-padded", "trl")]


def test_the_packed_pair_runs_only_on_a_kernel_that_takes_flattened_rows(bench):
    """TRL 1.16 flattens a packed batch into one row: sdpa would attend it with a dense (rows x length)^2 mask."""
    kept, notes = bench.plan_pairs(PAIRS, "sdpa", None)
    assert kept == [("ours", None), ("ours-padded", "trl")]
    assert "skipped under attn=sdpa" in notes[0] and "flex_attention" in notes[0]
    for attn in ("flash_attention_2", "kernels-community/flash-attn3", "flex_attention"):
        assert bench.plan_pairs(PAIRS, attn, None) == (PAIRS, [])


def test_without_trl_ours_runs_alone_and_says_why(bench):
    kept, notes = bench.plan_pairs(PAIRS, "flex_attention", "trl, datasets")
    assert kept == [("ours", None), ("ours-padded", None)]
    assert notes == [("TRL side skipped: trl, datasets not importable here (pip install 'trl==1.16.*' datasets); "
                      "ours still runs")]


def test_both_sides_get_one_resolved_kernel(bench):
    """auto is resolved once, as the trainer resolves it, and the same name goes to both workers (TRL got sdpa
    for auto while ours got flash when flash-attn was installed)."""
    assert bench.resolve_attn("auto", "cpu") == "sdpa"
    assert bench.resolve_attn("flex_attention", "cuda") == "flex_attention"
    source = PATH.read_text()
    assert 'attn_implementation="sdpa" if args.attn == "auto"' not in source
    assert "attn_implementation=args.attn)" in source
