"""What a language module takes and gives: an `ExecutionCheck` (a task's solution and its tests) in, a
`Built` program (or a verdict reached without running anything) out."""

from __future__ import annotations

from dataclasses import dataclass, field


class UnknownLanguage(ValueError):
    """A check or a sample in a language no module of `wizardcoder.languages` handles."""


@dataclass(frozen=True)
class ExecutionCheck:
    key: str
    language: str
    solution: str
    tests: str
    entry_point: str | None = None


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
