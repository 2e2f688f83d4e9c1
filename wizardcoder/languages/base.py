"""What a language module provides (`Language`), and what it takes and gives: an `ExecutionCheck` (a
task's solution and its tests) in, a `Built` program (or a verdict reached without running anything) out."""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True)
class TokenBudget:
    """Evolve's token limits (evolve request, solve request) where `evolve.*_max_tokens` are unset: short for a
    local model on a CPU (the embedded SmolLM2 writes ~10 tokens/s there); room for a whole task and a whole
    answer from a real teacher behind an endpoint."""

    local: tuple[int, int]
    endpoint: tuple[int, int]


@runtime_checkable
class Language(Protocol):
    """What every language module provides, as module-level functions (`languages/python.py` ...). The
    model's code is isolated from the tests (its macros, its shadowing names) inside `build` and
    `sample_program`: each language knows what its code could change in the program."""

    DISPLAY_NAME: str  # as prompts write it ("C++")
    TOKEN_BUDGET: TokenBudget

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

    # reading a model's reply (evolve/parsing.py): what a code block holds, written loosely by weak models
    def strip_comments(self, code: str) -> str:
        """`code` without its comment lines (a block of comments only is a placeholder, not code)."""

    def looks_like_tests(self, code: str) -> bool:
        """Whether a block holds tests (an assertion, a test function, a `main`), comments aside."""

    def looks_like_code(self, text: str) -> bool:
        """Whether unfenced text reads as code of this language (a definition)."""

    def split_tests(self, code: str) -> tuple[str, str] | None:
        """One block holding the solution and then its tests, split where the tests start; None: no split."""

    def join_tests(self, blocks: Sequence[str]) -> str:
        """Several blocks of tests from one reply, as one block."""

    # eval
    def prompt_entry_point(self, prompt: str) -> str:
        """The function an eval prompt asks for (the last one it declares), or ""."""

    def fit_reply(self, prompt: str, code: str, entry_point: str) -> tuple[str | None, str | None] | None:
        """A chat reply's code fitted to its problem: (completion appended to the prompt, None), or (None, a
        whole program the tests are appended to); None: not recognised (it is cut at the stop sequences)."""


# every name a language module provides: the constants, then the functions
INTERFACE = (*Language.__annotations__, *(name for name in vars(Language) if not name.startswith("_")))
