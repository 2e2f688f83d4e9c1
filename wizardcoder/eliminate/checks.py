"""What the eliminator's execution check takes and gives: an `ExecutionCheck` (a task's solution and
tests) in, a `Verdict` out; a builder turns a check into a `Built` program (or a static verdict).

Reasons: "passed" | "no_asserts" | "tests_cannot_fail" | "failed" | "timeout" | "compile_error" | "infra_error".
"infra_error" means the sandbox broke (its ERROR status): it says nothing about the sample and must
never be counted as a bad one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CANNOT_FAIL = "tests_cannot_fail"  # the tests still pass with the entry point returning a default value
REASONS = ("passed", "no_asserts", CANNOT_FAIL, "failed", "timeout", "compile_error", "infra_error")
NOT_RUN = "not_run"  # Verdict.status of a check decided without running it


class UnknownLanguage(ValueError):
    """An ExecutionCheck in a language the sandbox does not run."""


@dataclass(frozen=True)
class ExecutionCheck:
    key: str
    language: str
    solution: str
    tests: str
    entry_point: str | None = None


@dataclass(frozen=True)
class Verdict:
    key: str
    ok: bool
    reason: str
    status: str
    duration: float
    stdout_tail: str
    stderr_tail: str

    def to_dict(self) -> dict:
        return {"key": self.key, "ok": self.ok, "reason": self.reason, "status": self.status,
                "duration": self.duration, "stdout_tail": self.stdout_tail, "stderr_tail": self.stderr_tail}


@dataclass
class Built:
    """A check turned into a program, or a verdict reached without running anything."""

    program: str | None = None
    marker: str | None = None
    mutant: str | None = None  # the same program with the solution broken (None: no mutation check)
    mutated: tuple[str, ...] = ()
    no_mutant: str = ""  # why no mutant was built although one was asked for (the check is then inconclusive)
    # a second nonce, printed just before the tests' code runs: a mutant that fails without printing it
    # failed in the solution's own module-level code, before any test (None: the builder prints none)
    started_marker: str | None = None
    static_reason: str | None = None
    static_detail: str = ""
    files: dict[str, str] = field(default_factory=dict)  # extra files next to the program (Job.files)
