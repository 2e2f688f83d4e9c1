"""Shared helpers for the eval tests: write sample files, run the stage as a plain function."""

from __future__ import annotations

import json
from pathlib import Path

from wizardcoder.config import load_config
from wizardcoder.eval.config import EvalConfig
from wizardcoder.eval.runner import run_eval


def write_samples(path: Path, rows) -> Path:
    with open(path, "w") as fh:
        fh.writelines(json.dumps(row) + "\n" for row in rows)
    return path


def score(tmp_path: Path, suite: str, rows, backend: str = "local", *overrides: str) -> dict:
    samples = write_samples(tmp_path / f"samples-{suite}.jsonl", rows)
    cfg = load_config(EvalConfig, None, [f"suite.name={suite}", f"generation.samples_file={samples}",
                                         f"sandbox.backend={backend}", f"output_dir={tmp_path / 'runs'}",
                                         "k=[1,2,5,10,100]", *overrides])
    return run_eval(cfg)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
