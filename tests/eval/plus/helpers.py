"""Small EvalPlus-format suites built in the test, and judging samples on them in a real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from wizardcoder.eval.plus.check import LimitRule, check_samples, limit_rule
from wizardcoder.eval.plus.data import load_plus_suite
from wizardcoder.eval.plus.expected import expected_outputs


def task(task_id, reference, entry_point, base, plus, atol=0, prompt=""):
    return {"task_id": task_id, "prompt": prompt, "entry_point": entry_point, "canonical_solution": reference,
            "base_input": base, "plus_input": plus, "atol": atol, "contract": ""}


def make_suite(tmp_path: Path, rows, name="humaneval+", rules="auto"):
    path = tmp_path / f"{name.rstrip('+')}-plus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return load_plus_suite(name, path, rules=rules)


class Judge:
    """Expected outputs (cached under tmp_path) and verdicts for one suite in one sandbox."""

    def __init__(self, suite, sandbox, tmp_path: Path, backend="local"):
        self.suite, self.sandbox = suite, sandbox
        self.expected = expected_outputs(suite, lambda: Borrowed(sandbox), backend, cache_dir=tmp_path / "cache")

    def rows(self, samples, rule: LimitRule | None = None):
        return check_samples(self.suite, self.expected, samples, self.sandbox, rule or limit_rule("reference"))

    def one(self, task_id, code, rule=None):
        (row,) = self.rows([(task_id, code)], rule)
        return row


class Borrowed:
    """The test's sandbox as a context manager that does not close it."""

    def __init__(self, sandbox):
        self.sandbox = sandbox

    def __enter__(self):
        return self.sandbox

    def __exit__(self, *exc):
        return False
