"""What Python code says: the definitions of a solution, the function its tests call, whether a reply holds a
function, the complete part of a test block cut by the token limit (`ast` where the code must be whole; line
patterns where a model's text need not parse). `python.py` provides these as the language's own."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

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


# ============================================================================== a model's reply (evolve)
_TESTS = re.compile(r"^\s*(assert\b|def test_|class Test|unittest\.|self\.assert)", re.MULTILINE)
_TESTS_START = re.compile(r"(assert\b|def test_|class Test)")
_DEFINES = re.compile(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", re.MULTILINE)
_MAIN_GUARD = re.compile(r"^if\s+__name__\s*==.*$", re.MULTILINE)


def strip_comments(code: str) -> str:
    """`code` without its comment lines."""
    return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("#"))


def looks_like_tests(code: str) -> bool:
    """An assert, a pytest-style test, a `unittest` case, comments aside."""
    return bool(_TESTS.search(strip_comments(code)))


def looks_like_code(text: str) -> bool:
    """A top-level `def` or `class`."""
    return bool(_DEFINES.search(text))


def split_tests(code: str) -> tuple[str, str] | None:
    """One block holding the solution and its tests: split at the first line that starts the tests (an assert, a
    test function or class); a trailing `if __name__ == "__main__":` guard goes with the tests."""
    lines = code.splitlines()
    first = next((i for i, line in enumerate(lines) if _TESTS_START.match(line)), None)
    if first is None or first == 0:
        return None
    solution = "\n".join(lines[:first])
    guard = _MAIN_GUARD.search(solution)
    if guard and not solution[guard.end():].strip():
        solution = solution[:guard.start()]
    if not _DEFINES.search(solution):
        return None
    return solution, "\n".join(lines[first:])


def join_tests(blocks: Sequence[str]) -> str:
    """Joined in order."""
    return "\n\n".join(code.strip("\n") for code in blocks)


# ============================================================================== eval's prompts and replies
_PROMPT_DEF = re.compile(r"^def\s+(\w+)\s*\(", re.MULTILINE)
_IMPORT_LINE = re.compile(r"(import|from)\s+\w")


def prompt_entry_point(prompt: str) -> str:
    """The last function the prompt defines, or ""."""
    names = _PROMPT_DEF.findall(prompt)
    return names[-1] if names else ""


def prompt_imports(prompt: str) -> str:
    """The prompt's import lines, to go in front of a reply that is a whole program."""
    return "".join(line + "\n" for line in prompt.splitlines() if _IMPORT_LINE.match(line))


def fit_reply(prompt: str, code: str, entry_point: str) -> tuple[str | None, str | None]:
    """A reply holding the whole function: a program of the prompt's imports and the reply's definitions; else
    a body, appended to the prompt."""
    if declares(code, entry_point):
        return None, _whole_program(prompt, code)
    return indented_body(code), None


def indented_body(code: str) -> str:
    """A body given without indentation gets the function's 4 spaces."""
    lines = code.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if first and not first[0].isspace():
        code = "\n".join(("    " + ln) if ln.strip() else ln for ln in lines)
    return code if code.endswith("\n") else code + "\n"


def _whole_program(prompt: str, code: str) -> str:
    """The prompt's imports + the reply's definitions, without top-level demo code (calls, prints, asserts,
    `if __name__ == "__main__":`), which would otherwise run before the tests."""
    header = prompt_imports(prompt)
    lines = code.splitlines()
    tree = None
    for end in range(len(lines), 0, -1):  # a reply cut at max_tokens: keep the longest prefix that parses
        try:
            tree = ast.parse("\n".join(lines[:end]))
            break
        except SyntaxError:
            continue
    if tree is None:
        return header + code
    keep = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                             ast.Assign, ast.AnnAssign)):
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            keep.append("\n".join(lines[start - 1: node.end_lineno]))
    return header + "\n".join(keep) + "\n"
