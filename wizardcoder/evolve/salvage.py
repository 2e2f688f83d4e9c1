"""Salvage a test block cut off by the token limit: keep its complete statements, drop the unfinished tail.

A reply that hit `max_tokens` often ends mid-statement (`assert f([1, 2, 3]) == [1, 2,`); without this
the whole answer would be a syntax error. Only the tail is dropped; what is kept is exactly what the
model wrote, and it still has to pass the sandbox and the "tests must be able to fail" check.

Python: the longest prefix of whole lines that `ast` parses. C++ / Java: cut after the last `;` or `}`
outside parentheses (comments and literals masked), then close the braces left open (`main`, a class).
"""

from __future__ import annotations

import ast

from wizardcoder.languages.c_like_scan import mask_c_like


def salvage_tests(tests: str, language: str) -> str | None:
    """The complete part of a cut test block, or None when it is already complete or nothing is left."""
    if language == "python":
        return _salvage_python(tests)
    return _salvage_c_like(tests, java=language == "java")


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _salvage_python(tests: str) -> str | None:
    if _parses(tests):
        return None
    lines = tests.splitlines(keepends=True)
    for end in range(len(lines) - 1, 0, -1):
        prefix = "".join(lines[:end])
        if prefix.strip() and _parses(prefix):
            return prefix.rstrip("\n") + "\n"
    return None


def _salvage_c_like(tests: str, java: bool) -> str | None:
    masked = mask_c_like(tests, java=java)
    cut, parens, braces, depth_at_cut = -1, 0, 0, 0
    for i, ch in enumerate(masked):
        if ch in "([":
            parens += 1
        elif ch in ")]":
            parens = max(0, parens - 1)
        elif ch == "{":
            braces += 1
        elif ch == "}":
            braces -= 1
        if parens == 0 and ch in ";}":
            cut, depth_at_cut = i, braces
    complete = parens == 0 and braces == 0 and not masked[cut + 1:].strip()
    if complete or cut < 0 or depth_at_cut < 0:
        return None
    kept = tests[:cut + 1].rstrip()
    return kept + "".join("\n" + "    " * (depth_at_cut - 1 - k) + "}" for k in range(depth_at_cut)) + "\n"
