"""Choose one (solution, tests) pair from n sampled answers by dual agreement (as CodeT ranks solutions).

Every parsed solution ran against every parsed test set. Solutions that pass exactly the same test sets
form a group; a group's score is (solutions in it) x (test sets it passes): many solutions agreeing with
many independent test sets are likely right, and the tests likely meaningful. The best group's first
solution and the largest test set it passes become the task's answer; `pass_rate` is the share of the n
samples whose solution passes those tests (a difficulty signal: 1.0 = every sample solved it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Choice:
    solution: int  # index of the chosen solution (its sample index)
    tests: int  # index of the chosen test set
    group: tuple[int, ...]  # the solutions that agree with it
    passed_tests: tuple[int, ...]  # the test sets the group passes
    pass_rate: float  # solutions passing the chosen tests / samples


def size_of_tests(tests: str) -> int:
    """How big a test set is: its non-blank, non-comment lines."""
    return sum(1 for line in tests.splitlines()
               if line.strip() and not line.lstrip().startswith(("#", "//")))


def choose(samples: int, solutions: Sequence[int], tests: Mapping[int, str],
           passes: Mapping[tuple[int, int], bool]) -> Choice | None:
    """The dual-agreement choice, or None when no solution passes any test set.

    `solutions`: sample indices with a parsed solution; `tests`: sample index -> its test set;
    `passes[(i, j)]`: solution i's program with test set j passed. Ties go to the earlier sample, so
    the choice depends only on the answers, never on completion order.
    """
    by_passed: dict[tuple[int, ...], list[int]] = {}
    for i in sorted(solutions):
        passed = tuple(j for j in sorted(tests) if passes.get((i, j)))
        if passed:
            by_passed.setdefault(passed, []).append(i)
    if not by_passed:
        return None
    passed, group = max(by_passed.items(), key=lambda kv: (len(kv[1]) * len(kv[0]), -kv[1][0]))
    chosen_tests = max(passed, key=lambda j: (size_of_tests(tests[j]), -j))
    passing = sum(1 for i in solutions if passes.get((i, chosen_tests)))
    return Choice(group[0], chosen_tests, tuple(group), passed, passing / samples)


def failure_reason(reasons: Sequence[str]) -> str:
    """One drop reason for a task none of whose solutions passed: the commonest among its own pairs
    (solution i with tests i), the earliest on ties."""
    counts = Counter(reasons)
    return max(counts, key=lambda r: (counts[r], -reasons.index(r)))
