"""Eval's programs: each sample's program (prompt + completion + tests, with a success marker) and
its result record. They run through `wizardcoder.execution` like every stage's programs.

A program is `prompt + completion + tests` (or `solution + tests` for a full program), followed by a
success marker with a fresh nonce per sample, printed only after every test has run: a program that
exits 0 early (`exit(0)`, `os._exit(0)`, `System.exit(0)`) never passes. The model's code shares the
file with the tests, so in C++ its macros are `#undef`ed before the tests (`#define assert(x)` would
void them), a C++ sample that defines a libc/runtime function the harness relies on (`__assert_fail`,
`exit`) and a Java sample that declares a type or field named like a JDK class the tests use (`class
Arrays` inside `Problem`) become programs that fail with the reason on stderr.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from wizardcoder.eval.problems import Problem
from wizardcoder.execution import run_in_chunks
from wizardcoder.languages.cpp import (
    after_includes,
    cpp_isolate_macros,
    cpp_runtime_overrides,
    cpp_save_macros,
)
from wizardcoder.languages.java import java_shadowing

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
    if solution is not None and problem.language == "python":
        return with_marker(solution.rstrip("\n") + "\n" + problem.tests, "python", marker)
    if solution is not None and problem.language != "python":  # C++/Java tests open by closing the function
        from wizardcoder.eval.postprocess import function_body

        body = function_body(solution, problem.entry_point)
        model = body if body is not None else solution
    else:
        model = completion or ""
    if problem.language == "java":
        shadow = java_shadowing(model, problem.tests, imports=problem.prompt)
        if shadow:
            return rejected_java(shadow)
    if problem.language == "cpp":  # no macro of the model's reaches the tests (`#define assert(x)`)
        override = cpp_runtime_overrides(problem.prompt + model)  # the prompt opens the function it completes
        if override:
            return rejected_cpp(override)
        cut = after_includes(problem.prompt)  # the model's macros are saved after the headers, put back after it
        program = (problem.prompt[:cut] + cpp_save_macros(model) + problem.prompt[cut:] + model
                   + cpp_isolate_macros(model) + problem.tests)
        return with_marker(program, "cpp", marker)
    return with_marker(problem.prompt + model + problem.tests, problem.language, marker)


def rejected_java(why: str) -> str:
    """A Java program that fails, saying `why` on stderr: a sample rejected without running it."""
    text = json.dumps("wizardcoder: the sample was not run: " + why)
    return ("public class Main {\n    public static void main(java.lang.String[] args) {\n"
            f"        java.lang.System.err.println({text});\n        java.lang.System.exit(1);\n    }}\n}}\n")


def rejected_cpp(why: str) -> str:
    """A C++ program that fails, saying `why` on stderr: a sample rejected without running it."""
    text = json.dumps("wizardcoder: the sample was not run: " + why, ensure_ascii=True)
    text = re.sub(r"\\u[0-9a-fA-F]{4}", "?", text)  # a C++ string literal: no JSON \u escapes
    return f"#include <cstdio>\nint main() {{\n    std::fputs({text}, stderr);\n    return 1;\n}}\n"


def with_marker(text: str, language: str, marker: str) -> str:
    """Print `marker` after the tests: at the end of a Python script, at the end of `main` in C++/Java
    (MultiPL-E's C++ tests end with main's closing brace; Java's with main's and the class's)."""
    if language == "python":
        return text.rstrip("\n") + f"\n\nimport os as _wc_os\n_wc_os.write(1, b\"\\n{marker}\\n\")\n"
    if language == "cpp":
        end = text.rstrip().rfind("}")
        if end == -1:
            return text
        return text[:end] + f'    std::printf("\\n%s\\n", "{marker}");\n    std::fflush(stdout);\n' + text[end:]
    if language == "java":
        stripped = text.rstrip()
        last = stripped.rfind("}")
        end = stripped.rfind("}", 0, last)
        if last == -1 or end == -1:
            return text
        return (text[:end] + f'    java.lang.System.out.print("\\n{marker}\\n");\n    java.lang.System.out.flush();\n    '
                + text[end:])
    return text


def result_record(program: Program, result, duration: float | None = None) -> dict:
    status = getattr(result.status, "value", str(result.status))
    return {
        "task_id": program.task_id,
        "sample_idx": program.sample_idx,
        "status": status,
        "passed": bool(result.passed),
        "reason": result.reason,
        "exit_code": result.exit_code,
        "stdout_tail": _tail(result.stdout.replace(program.marker, "<success marker>")),
        "stderr_tail": _tail(result.stderr),
        "duration": round(result.duration if duration is None else duration, 4),
    }


def _tail(s: str) -> str:
    return s if len(s) <= TAIL else "..." + s[-TAIL:]


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
    from sandbox import Job

    jobs = (Job(program=p.text, language=p.language, memory_mb=memory_mb,
                timeout=timeout[p.task_id] if isinstance(timeout, Mapping) else timeout,
                success_marker=p.marker) for p in programs)
    for p, r in zip(programs, run_in_chunks(sandbox, jobs, chunk, progress)):
        on_result(p, r)


def by_task(records: Iterable[Mapping]) -> dict[str, list[Mapping]]:
    out: dict[str, list[Mapping]] = {}
    for r in records:
        out.setdefault(r["task_id"], []).append(r)
    return out
