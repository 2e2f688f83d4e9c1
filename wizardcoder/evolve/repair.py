"""The repair turn: when none of a task's candidates passes, one follow-up in the same conversation shows the
teacher what the sandbox said and asks for a fixed solution (`evolve.repair_turns` of them at most).

Only a task whose own samples failed for a reason of the code (`REPAIRABLE`: failed, timeout, compile_error)
gets one; tests that cannot fail, a rule drop, an answer without code, a refusal or a cut answer never do (no
program ran, or the evidence is not against the solution). Which sample's conversation goes on
(`candidate_to_repair`): the one with the most specific evidence (a failing assertion over a timeout over a
compile error), then the largest test set (the repaired solution is held to it), then the earliest: one
follow-up per task costs about one more sample, where repairing each would cost n.

The evidence is bounded (`EVIDENCE_CHARS`): the failing assertion where the output names one and the tail of
the program's output (stdout, then stderr), with the sandbox's paths shortened and never a success marker. Each
later turn continues the same conversation with the last repaired answer's evidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from wizardcoder.evolve.selection import size_of_tests
from wizardcoder.evolve.steps import RepairDue, Task
from wizardcoder.reasons import Reason

REPAIRABLE = (Reason.FAILED, Reason.TIMEOUT, Reason.COMPILE_ERROR)  # in order of how telling their evidence is
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
_WHAT = {Reason.FAILED: "The tests failed.", Reason.TIMEOUT: "The program did not finish within the time limit.",
         Reason.COMPILE_ERROR: "The program did not compile."}
_SANDBOX_PATH = re.compile(r'File "(?:[^"\n]*/)?([^"/\n]+)"')  # a traceback's temporary directory: noise
_FRAME = re.compile(r'^\s*File "[^"\n]*", line \d+')
_HARNESS = "_wc_"  # the prefix of the names the Python test runner adds (languages/python_runner.py)
_MARKER = re.compile(r"WIZARDCODER-(?:PASS|STARTED)-[0-9a-f]+")  # verify.py removes them; never shown anyway


def failing_assertion(output: str) -> str | None:
    """The assertion the output names last (a Python traceback's `assert ...` line and its AssertionError, or
    pytest's explanation of it; a C `Assertion ... failed.`, a Java AssertionError), or None."""
    lines = [m.group().strip() for m in _ASSERTION.finditer(output or "")]
    if not lines:
        return None
    if len(lines) >= 2 and lines[-2].startswith("assert") and "AssertionError" in lines[-1]:
        return f"{lines[-2]}  ->  {lines[-1]}"
    if lines[-1].startswith("assert"):  # pytest: `E   assert [2, 1] == [1, 2]` under the line, the values compared
        explained = re.search(rf"^\s*{re.escape(lines[-1])}\s*\nE\s+(\S.*)$", output, re.MULTILINE)
        if explained:
            return f"{lines[-1]}  ->  {explained.group(1).strip()}"
    return lines[-1]


def evidence(verdict: Mapping[str, Any], chars: int = EVIDENCE_CHARS) -> str:
    """What the sandbox said about one (solution, tests) program, for the teacher: the outcome, the failing
    assertion and the bounded tail of its output."""
    reason = str(verdict.get("reason") or Reason.FAILED)
    # both streams: a traceback is on stderr, pytest's report of a failed test on stdout
    output = "\n".join(part for part in ((verdict.get("stdout_tail") or "").strip(),
                                         (verdict.get("stderr_tail") or "").strip()) if part)
    output = _without_harness(_MARKER.sub("", _SANDBOX_PATH.sub(r'File "\1"', output)))
    parts = [_WHAT.get(reason, f"The tests did not pass ({reason}).")]
    assertion = failing_assertion(output)
    if assertion:
        parts.append(f"Failing assertion: {assertion}")
    if output:
        tail = output[-chars:]
        parts.append(f"Output (last {len(tail)} characters):\n```\n{tail}\n```")
    return "\n".join(parts)


def _without_harness(output: str) -> str:
    """A Python traceback without the test runner's own frames (in one of its functions, or a line calling one)
    and without the `^^^` lines under expressions: what is left points at the solution and the tests."""
    lines = output.splitlines()
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FRAME.match(line):
            body = i + 1
            while body < len(lines) and lines[body].startswith("    ") and not _FRAME.match(lines[body]):
                body += 1
            code = lines[i + 1].strip() if i + 1 < body else ""
            if f", in {_HARNESS}" in line or code.startswith(_HARNESS):
                i = body
                continue
        if not (line.strip() and set(line.strip()) <= set("^~")):
            kept.append(line)
        i += 1
    return "\n".join(kept)


def follow_up(verdict: Mapping[str, Any], fix_tests: bool = False) -> str:
    """The user turn of a repair: the evidence and what to do about it."""
    return REPAIR_PROMPT.format(evidence=evidence(verdict), tests_rule=MAY_FIX_TESTS if fix_tests else KEEP_TESTS)


def conversation(solve_prompt: str, answer: str, turns: Sequence[tuple[str, str]], last: str
                 ) -> tuple[dict[str, str], ...]:
    """The messages of a repair turn: the solve request, the teacher's answer (its answer only, never its
    thinking), each earlier (follow-up, repaired answer), and the new follow-up `last`."""
    messages = [{"role": "user", "content": solve_prompt}, {"role": "assistant", "content": answer}]
    for asked, answered in turns:
        messages += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
    messages.append({"role": "user", "content": last})
    return tuple(messages)


def as_prompt(messages: Sequence[Mapping[str, str]]) -> str:
    """The conversation as one raw prompt, for `llm.api: completions`: the turns one after another."""
    return "\n\n".join(m["content"].strip() for m in messages) + "\n\n"


def candidate_to_repair(parsed: Sequence[int], verdicts: Mapping[tuple[int, int], Mapping[str, Any]],
                        tests: Mapping[int, str]) -> int | None:
    """The sample whose conversation a first repair continues (see the module's docstring), or None when no
    sample's own program failed for a repairable reason."""
    ranked = [(REPAIRABLE.index(verdicts[(i, i)]["reason"]), -size_of_tests(tests[i]), i) for i in parsed
              if (i, i) in verdicts and verdicts[(i, i)]["reason"] in REPAIRABLE]
    return min(ranked)[2] if ranked else None


def next_repair(task: Task, n: int, verdicts: Mapping[tuple[int, int], Mapping[str, Any]], failure: str,
                turns: int, fix_tests: bool) -> RepairDue | None:
    """The follow-up a task none of whose candidates passed gets next, or None: its samples failed for a reason
    that is not the code's (`failure`, their commonest), its `turns` are used, or the last repaired answer did not
    parse or failed for such a reason."""
    if failure not in REPAIRABLE:
        return None
    turn = len(task.repairs)
    if turn >= turns:
        return None
    if turn == 0:
        parsed = sorted(i for i, s in task.solves.items() if not s.get("drop"))
        candidate = candidate_to_repair(parsed, verdicts, task.test_sets(n))
        return None if candidate is None else RepairDue(0, candidate, dict(verdicts[(candidate, candidate)]))
    last = task.repairs[turn - 1]
    if last.get("drop"):
        return None
    index = n + turn - 1
    verdict = verdicts.get((index, index if last.get("tests") is not None else last["candidate"]))
    if verdict is None or verdict["reason"] not in REPAIRABLE:
        return None
    return RepairDue(turn, last["candidate"], dict(verdict))
