"""What Python code says: the definitions of a solution, the function its tests call, whether a reply holds a
function, the complete part of a test block cut by the token limit (`ast` where the code must be whole; line
patterns where a model's text need not parse). `python.py` provides these as the language's own."""

from __future__ import annotations

import ast
import re

# ============================================================================== the entry point
_PY_DEFINITION = re.compile(r"^(?:(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)|([A-Za-z_]\w*)\s*=\s*lambda\b)",
                            re.MULTILINE)
_WORD = re.compile(r"\w+")


def entry_point(solution: str, tests: str) -> str | None:
    """The top-level function, class or named lambda of the solution that the tests reference first."""
    found = _PY_DEFINITION.findall(solution)
    names = [d or lam for d, lam in found if not (d or lam).startswith("test")]
    # where each name first appears as a whole word in the tests: one scan, no pattern per name (a
    # pattern per function name missed re's cache and was compiled again for nearly every task)
    first: dict[str, int] = {}
    wanted = set(names)
    for m in _WORD.finditer(tests):
        if m.group() in wanted and m.group() not in first:
            first[m.group()] = m.start()
    called = [(first[n], n) for n in names if n in first]
    if called:
        return min(called)[1]
    return names[-1] if names else None


def defined_names(solution: str) -> set[str]:
    """The top-level functions, classes and named lambdas of the solution."""
    return {d or lam for d, lam in _PY_DEFINITION.findall(solution)}


def declares(code: str, name: str) -> bool:
    """Whether `code` defines the function `name` (a reply holding the whole function)."""
    return re.search(rf"^\s*def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None



# ============================================================================== salvage of cut tests
# A reply that hit `max_tokens` often ends mid-statement (`assert f([1, 2, 3]) == [1, 2,`): only the
# unfinished tail is dropped; what is kept is exactly what the model wrote, and it still has to pass the
# sandbox and the "tests must be able to fail" check.
def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def salvage_tests(tests: str) -> str | None:
    """The complete part of a test block cut by the token limit: the longest prefix of whole lines that
    `ast` parses; None when it is already complete or nothing is left."""
    if _parses(tests):
        return None
    lines = tests.splitlines(keepends=True)
    for end in range(len(lines) - 1, 0, -1):
        prefix = "".join(lines[:end])
        if prefix.strip() and _parses(prefix):
            return prefix.rstrip("\n") + "\n"
    return None
