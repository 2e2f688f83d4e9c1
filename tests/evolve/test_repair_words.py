"""The repair turn's words: the failing assertion found in what the sandbox printed, the bounded evidence, and
the follow-up in the same conversation."""

from __future__ import annotations

from wizardcoder.evolve.repair import (
    EVIDENCE_CHARS,
    KEEP_TESTS,
    MAY_FIX_TESTS,
    evidence,
    failing_assertion,
    repair_messages,
)

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
    messages = repair_messages("Solve this.", "### Solution ...", {"reason": "failed", "stderr_tail": PY_TRACEBACK})
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "### Solution ..." and KEEP_TESTS in messages[2]["content"]
    assert MAY_FIX_TESTS in repair_messages("s", "a", {"reason": "failed"}, fix_tests=True)[2]["content"]
