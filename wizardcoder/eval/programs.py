"""Eval's programs: each sample's program (prompt + completion + tests, with a success marker) and
its result record. They run through `wizardcoder.execution` like every stage's programs.

A program is `prompt + completion + tests` (or `solution + tests` for a full program), followed by a
success marker with a fresh nonce per sample, printed only after every test has run: a program that
exits 0 early (`exit(0)`, `os._exit(0)`, `System.exit(0)`) never passes. Each language's module
(`wizardcoder.languages`) assembles it: the model's code shares the file with the tests, so in C++ its
macros are `#undef`ed before the tests (`#define assert(x)` would void them), a C++ sample that defines a
libc/runtime function the harness relies on (`__assert_fail`, `exit`) and a Java sample that declares a
type or field named like a JDK class the tests use (`class Arrays` inside `Problem`) become programs that
fail with the reason on stderr.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sandbox import Job
from wizardcoder import languages
from wizardcoder.eval.problems import Problem
from wizardcoder.execution import output_tail, run_in_chunks

log = logging.getLogger(__name__)

TAIL = 2000  # characters of stdout/stderr kept per result


@dataclass(frozen=True)
class Program:
    task_id: str
    sample_idx: int
    language: str
    text: str
    marker: str


def build_program(problem: Problem, completion: str | None, solution: str | None, marker: str) -> str:
    """The program of one sample: `completion` appended to the prompt, or a full `solution`, then the tests
    and the marker (each language's `sample_program`)."""
    return languages.get(problem.language).sample_program(problem.prompt, problem.tests, marker, completion=completion,
                                                          solution=solution, entry_point=problem.entry_point)


def result_record(program: Program, result, duration: float | None = None) -> dict:
    status = getattr(result.status, "value", str(result.status))
    return {
        "task_id": program.task_id,
        "sample_idx": program.sample_idx,
        "status": status,
        "passed": bool(result.passed),
        "reason": result.reason,
        "exit_code": result.exit_code,
        "stdout_tail": output_tail(result.stdout, TAIL, {program.marker: "<success marker>"}),
        "stderr_tail": output_tail(result.stderr, TAIL),
        "duration": round(result.duration if duration is None else duration, 4),
    }


def run_programs(
    sandbox,
    programs: list[Program],
    timeout: float | Mapping[str, float],
    memory_mb: int,
    on_result: Callable[[Program, object], None],
    progress: Callable[[object], None] | None = None,
    chunk: int = 64,
) -> None:
    """Run `programs` through `sandbox.run_many` in chunks; `on_result(program, result)` for each, in order,
    as soon as its chunk finishes (so a killed run loses at most one chunk). `timeout`: seconds for every
    program, or per task_id."""
    jobs = (Job(program=p.text, language=p.language, memory_mb=memory_mb,
                timeout=timeout[p.task_id] if isinstance(timeout, Mapping) else timeout,
                success_marker=p.marker) for p in programs)
    for p, r in zip(programs, run_in_chunks(sandbox, jobs, chunk, progress)):
        on_result(p, r)
