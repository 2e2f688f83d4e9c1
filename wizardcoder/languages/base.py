"""What a language module provides (`Language`), and what it takes and gives: an `ExecutionCheck` (a
task's solution and its tests) in, a `Built` program (or a verdict reached without running anything) out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from wizardcoder.reasons import Reason


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
    static_reason: Reason | None = None
    static_detail: str = ""
    files: dict[str, str] = field(default_factory=dict)  # extra files next to the program (Job.files)
    requires: tuple[str, ...] = ()  # Python modules the program needs from the sandbox (Job.requires)



@runtime_checkable
class Language(Protocol):
    """What every language module provides, as module-level functions (`languages/python.py` ...). The
    model's code is isolated from the tests (its macros, its shadowing names) inside `build` and
    `sample_program`: each language knows what its code could change in the program."""

    def build(self, check: ExecutionCheck, mutation: bool) -> Built:
        """Evolve's program for a check: solution + tests + success marker (+ the mutant when `mutation`:
        the solution with the function the tests call broken), or a verdict reached without running."""

    def entry_point(self, solution: str, tests: str) -> str | None:
        """The function of the solution the tests exercise, or None when they reference none."""

    def defined_names(self, solution: str) -> set[str]:
        """The functions, methods, named lambdas and types the solution defines."""

    def salvage_tests(self, tests: str) -> str | None:
        """The complete part of a test block cut by the token limit; None when complete or nothing is left."""

    def declares(self, code: str, name: str) -> bool:
        """Whether `code` defines the function `name` (eval: a reply holding the whole function)."""

    def sample_program(self, prompt: str, tests: str, marker: str, completion: str | None = None,
                       solution: str | None = None, entry_point: str = "") -> str:
        """Eval's program for a sample: prompt + completion (or a full solution) + tests + success marker."""

    def with_marker(self, text: str, marker: str) -> str:
        """The program `text` printing `marker` after its tests."""
