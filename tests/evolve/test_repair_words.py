"""The repair turn's words and decisions: the failing assertion found in what the sandbox printed, the bounded
evidence, the follow-up in the same conversation, which sample's conversation goes on and when a turn is due."""

from __future__ import annotations

import pytest

from wizardcoder.config import SettingError, load_config
from wizardcoder.evolve.config import EvolveConfig, run_fingerprint
from wizardcoder.evolve.repair import (
    EVIDENCE_CHARS,
    KEEP_TESTS,
    MAY_FIX_TESTS,
    as_prompt,
    candidate_to_repair,
    conversation,
    evidence,
    failing_assertion,
    follow_up,
    next_repair,
)
from wizardcoder.evolve.steps import Task
from wizardcoder.evolve.structured import lone_solution

PY_TRACEBACK = """Traceback (most recent call last):
  File "/tmp/job/main.py", line 9, in <module>
    assert add(1, 2) == 3
AssertionError
"""


def test_the_failing_assertion_is_found_in_each_languages_output():
    assert failing_assertion(PY_TRACEBACK) == "assert add(1, 2) == 3  ->  AssertionError"
    assert failing_assertion("main: main.cpp:12: int main(): Assertion `f(2) == 4' failed.\n") == \
        "main: main.cpp:12: int main(): Assertion `f(2) == 4' failed."
    assert failing_assertion('Exception in thread "main" java.lang.AssertionError\n\tat Main.main(Main.java:7)') == \
        'Exception in thread "main" java.lang.AssertionError'
    assert failing_assertion("Segmentation fault") is None


def test_evidence_is_bounded_and_says_what_happened():
    long = "x" * 10_000 + PY_TRACEBACK
    text = evidence({"reason": "failed", "stderr_tail": long})
    assert text.startswith("The tests failed.") and "assert add(1, 2) == 3" in text
    assert len(text) < EVIDENCE_CHARS + 300
    assert evidence({"reason": "timeout", "stderr_tail": ""}) == "The program did not finish within the time limit."
    assert "did not compile" in evidence({"reason": "compile_error", "stderr_tail": "error: expected ';'"})


def test_the_follow_up_is_a_third_turn_of_the_same_conversation():
    asked = follow_up({"reason": "failed", "stderr_tail": PY_TRACEBACK})
    messages = conversation("Solve this.", "### Solution ...", (), asked)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "### Solution ..." and messages[2]["content"] == asked
    assert KEEP_TESTS in asked and "assert add(1, 2) == 3" in asked and MAY_FIX_TESTS not in asked
    assert MAY_FIX_TESTS in follow_up({"reason": "failed"}, fix_tests=True)


def test_the_evidence_shortens_the_sandboxs_paths_and_never_shows_a_success_marker():
    output = PY_TRACEBACK.replace("/tmp/job/main.py", "/tmp/wizardcoder-sandbox-x1y2/job/main.py")
    text = evidence({"reason": "failed", "stderr_tail": output + "WIZARDCODER-PASS-0123abcd\n"})
    assert 'File "main.py", line 9' in text and "wizardcoder-sandbox" not in text and "WIZARDCODER" not in text
    assert "1 + 1" in evidence({"reason": "failed", "stderr_tail": "", "stdout_tail": "1 + 1\n"})


PYTEST_REPORT = """F
=================================== FAILURES ===================================
____________________________________ test_a ____________________________________
main.py:16: in test_a
    assert f([2,1]) == [1,2]
E   assert [2, 1] == [1, 2]
E     At index 0 diff: 2 != 1
=========================== short test summary info ============================
FAILED main.py::test_a - assert [2, 1] == [1, 2]
1 failed in 0.06s
"""


def test_a_failed_pytest_style_test_shows_pytests_report_from_stdout():
    text = evidence({"reason": "failed", "stdout_tail": PYTEST_REPORT, "stderr_tail": "[sandbox: exit code 1]"})
    assert "Failing assertion: assert f([2,1]) == [1,2]  ->  assert [2, 1] == [1, 2]" in text
    assert "At index 0 diff: 2 != 1" in text and text.rstrip("`\n").endswith("[sandbox: exit code 1]")


def test_later_turns_continue_the_same_conversation_and_completions_get_one_prompt():
    messages = conversation("Solve this.", "answer 0", [("fix 1", "answer 1")], "fix 2")
    assert [m["content"] for m in messages] == ["Solve this.", "answer 0", "fix 1", "answer 1", "fix 2"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2 + ["user"]
    assert as_prompt(messages) == "Solve this.\n\nanswer 0\n\nfix 1\n\nanswer 1\n\nfix 2\n\n"


def _verdict(reason: str) -> dict:
    return {"reason": reason, "stderr_tail": "", "stdout_tail": ""}


def _task(drops: dict[int, str | None], tests: dict[int, str]) -> Task:
    task = Task("t", "m", "parent")
    task.solves = {i: {"drop": d} if d else {"solution": f"def f{i}(): pass\n", "tests": tests[i]}
                   for i, d in drops.items()}
    return task


def test_the_first_repair_continues_the_sample_with_the_most_telling_evidence():
    tests = {0: "assert f()\n", 1: "assert f()\nassert f()\n", 2: "assert f()\n"}
    verdicts = {(0, 0): _verdict("compile_error"), (1, 1): _verdict("failed"), (2, 2): _verdict("failed")}
    assert candidate_to_repair([0, 1, 2], verdicts, tests) == 1  # a failing assertion, then the larger test set
    verdicts[(1, 1)] = _verdict("no_asserts")
    assert candidate_to_repair([0, 1, 2], verdicts, tests) == 2
    assert candidate_to_repair([0], {(0, 0): _verdict("tests_cannot_fail")}, tests) is None


def test_a_repair_is_due_only_for_code_that_failed_and_while_turns_are_left():
    task = _task({0: None, 1: "no_tests"}, {0: "assert f()\n"})
    verdicts = {(0, 0): _verdict("failed")}
    due = next_repair(task, 2, verdicts, "failed", turns=2, fix_tests=False)
    assert (due.turn, due.candidate, due.verdict["reason"]) == (0, 0, "failed")
    for reason in ("tests_cannot_fail", "no_asserts", "no_tests", "request_rejected", "infra_error"):
        assert next_repair(task, 2, verdicts, reason, turns=2, fix_tests=False) is None
    assert next_repair(task, 2, verdicts, "failed", turns=0, fix_tests=False) is None
    # turn 1 shows the repaired solution (candidate 2) against the sample's tests; a dropped repair ends it
    task.repairs[0] = {"candidate": 0, "solution": "def f(): pass\n", "tests": None}
    verdicts[(2, 0)] = _verdict("timeout")
    due = next_repair(task, 2, verdicts, "failed", turns=2, fix_tests=False)
    assert (due.turn, due.candidate, due.verdict["reason"]) == (1, 0, "timeout")
    assert next_repair(task, 2, verdicts, "failed", turns=1, fix_tests=False) is None
    task.repairs[0] = {"candidate": 0, "drop": "no_solution"}
    assert next_repair(task, 2, verdicts, "failed", turns=2, fix_tests=False) is None
    # with its own tests (repair_tests), its own pair's evidence
    task.repairs[0] = {"candidate": 0, "solution": "def f(): pass\n", "tests": "assert f()\n"}
    verdicts[(2, 2)] = _verdict("compile_error")
    assert next_repair(task, 2, verdicts, "failed", turns=2, fix_tests=True).verdict["reason"] == "compile_error"


def test_repair_turns_default_to_one_behind_an_endpoint_and_none_on_a_local_model():
    endpoint = load_config(EvolveConfig, None, ["llm.base_url=http://localhost:8000/v1", "llm.model=m"])
    assert endpoint.evolve.repair_turns == 1 and endpoint.evolve.repair_tests is False
    assert load_config(EvolveConfig, None, []).evolve.repair_turns == 0  # the embedded model
    assert run_fingerprint(endpoint) == run_fingerprint(
        load_config(EvolveConfig, None, ["llm.base_url=http://localhost:8000/v1", "llm.model=m", "evolve.repair_turns=1"]))
    with pytest.raises(SettingError, match="evolve.repair_turns"):
        load_config(EvolveConfig, None, ["evolve.repair_turns=-1"])


def test_a_repair_may_send_the_code_alone():
    assert lone_solution('{"solution": "```python\\ndef f():\\n    return 1\\n```", "tests": ""}') == \
        "def f():\n    return 1"
    assert lone_solution("Fixed:\n```python\ndef f():\n    return 1\n```\n") == "def f():\n    return 1\n"
    assert lone_solution("I cannot fix it.") is None


def test_the_test_runners_own_frames_are_left_out_of_the_evidence():
    traceback = """Traceback (most recent call last):
  File "/tmp/wizardcoder-sandbox-ab/job/main.py", line 46, in <module>
    _wc_test(test_pairs, (), (), _wc_fx, None, None)
  File "/tmp/wizardcoder-sandbox-ab/job/main.py", line 22, in _wc_test
    result = test(**{n: get(n) for n in names})
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/tmp/wizardcoder-sandbox-ab/job/main.py", line 41, in test_pairs
    assert pairs([1]) == []
           ^^^^^^^^^^^^^^^^
AssertionError
"""
    text = evidence({"reason": "failed", "stderr_tail": traceback})
    assert "_wc_" not in text and "^^^" not in text
    assert 'File "main.py", line 41, in test_pairs\n    assert pairs([1]) == []\nAssertionError' in text
    assert "Failing assertion: assert pairs([1]) == []  ->  AssertionError" in text
