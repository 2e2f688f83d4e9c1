"""The repair turn's words: what the sandbox said about a failing candidate, and the follow-up that asks the
teacher for a fixed solution in the same conversation.

Only a task none of whose candidates passed for a reason of the code (`REPAIRABLE`: failed, timeout,
compile_error) gets one; a rule drop or `tests_cannot_fail` (tests that cannot fail are no evidence against
the solution) never does. The evidence is bounded: the failing assertion where the output names one, and
the tail of stderr (stdout where stderr is empty).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REPAIRABLE = ("failed", "timeout", "compile_error")
EVIDENCE_CHARS = 1500  # the tail of the program's output shown to the teacher

KEEP_TESTS = "Keep the tests exactly as they are: the fixed solution must pass them unchanged."
MAY_FIX_TESTS = ("If a test itself is wrong, fix it too; the tests must still check what the task asks, and "
                 "fail on a wrong solution.")
REPAIR_PROMPT = """Your solution did not pass its tests when they were run.

{evidence}

Fix the solution. {tests_rule} Reply in the same format as before, with the whole solution and the tests."""

_ASSERTION = re.compile(
    r"^\s*(?:assert\b.*|.*\bAssertion\b.*failed.*|.*\bAssertionError\b.*|.*\bassert(?:Equals|True|False)\b.*)$",
    re.MULTILINE)
_WHAT = {"failed": "The tests failed.", "timeout": "The program did not finish within the time limit.",
         "compile_error": "The program did not compile."}


def failing_assertion(output: str) -> str | None:
    """The assertion the output names last (a Python traceback's `assert ...` line and its AssertionError, a C
    `Assertion ... failed.`, a Java AssertionError), or None."""
    lines = [m.group().strip() for m in _ASSERTION.finditer(output or "")]
    if not lines:
        return None
    if len(lines) >= 2 and lines[-2].startswith("assert") and "AssertionError" in lines[-1]:
        return f"{lines[-2]}  ->  {lines[-1]}"
    return lines[-1]


def evidence(verdict: Mapping[str, Any], chars: int = EVIDENCE_CHARS) -> str:
    """What the sandbox said about one (solution, tests) program, for the teacher: the outcome, the failing
    assertion and the bounded tail of its output."""
    reason = str(verdict.get("reason") or "failed")
    output = (verdict.get("stderr_tail") or "").strip() or (verdict.get("stdout_tail") or "").strip()
    parts = [_WHAT.get(reason, f"The tests did not pass ({reason}).")]
    assertion = failing_assertion(output)
    if assertion:
        parts.append(f"Failing assertion: {assertion}")
    if output:
        tail = output[-chars:]
        parts.append(f"Output (last {len(tail)} characters):\n```\n{tail}\n```")
    return "\n".join(parts)


def repair_messages(solve_prompt: str, answer: str, verdict: Mapping[str, Any],
                    fix_tests: bool = False) -> tuple[dict[str, str], ...]:
    """The conversation of a repair turn: the solve request, the teacher's answer (its answer only, never its
    thinking), and the follow-up with the sandbox's evidence."""
    follow_up = REPAIR_PROMPT.format(evidence=evidence(verdict), tests_rule=MAY_FIX_TESTS if fix_tests else KEEP_TESTS)
    return ({"role": "user", "content": solve_prompt}, {"role": "assistant", "content": answer},
            {"role": "user", "content": follow_up})
