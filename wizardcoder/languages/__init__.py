"""One module per programming language, behind one registry; every stage that builds or reads programs
(evolve's checks, eval's samples) asks it.

    from wizardcoder import languages
    languages.get("c++").build(check, mutation=True)   # -> Built: the program and its mutant

Each module provides what `base.Language` lists: evolve's check program and its mutant (`build`), eval's
sample program (`sample_program`, `with_marker`), the entry point (`entry_point`, `defined_names`,
`declares`) and the salvage of cut tests (`salvage_tests`).

`LANGUAGES` is the list of languages, written once, in `sandbox/types.py` (what the sandbox can compile
and run; each has its module here); a name or an alias (`py`, `c++`, `cxx`) finds its module
(`sandbox.canonical_language`). A module is imported when first asked for.
"""

from __future__ import annotations

import importlib
import re

from sandbox import LANGUAGES, canonical_language
from wizardcoder.languages.base import Language, UnknownLanguage


def get(name: str) -> Language:
    """The module of the language `name` (or one of its aliases); UnknownLanguage when there is none."""
    language = canonical_language(name)
    if language not in LANGUAGES:
        raise UnknownLanguage(f"unknown language {name!r}; valid: {', '.join(LANGUAGES)}")
    return importlib.import_module(f"{__name__}.{language}")


def find_entry_point(solution: str, tests: str, language: str) -> str | None:
    """The name of the function the tests exercise, or None when they reference none of the solution's
    (or the language is unknown)."""
    try:
        module = get(language)
    except UnknownLanguage:
        return None
    return module.entry_point(solution, tests)


_WORD = re.compile(r"\w+")


def misses_the_task_function(instruction: str, solution: str, tests: str, language: str) -> bool:
    """Whether the task names functions the solution defines (written as `name(`, as a task names what to
    write) and the tests reference none of them, while exercising some other function of the solution: the
    mutation check would then break that one, so tests of a helper (or of an unrelated function the model
    wrote) would pass for tests of the task."""
    try:
        defined = get(language).defined_names(solution)
    except UnknownLanguage:
        return False
    named = {n for n in defined if re.search(rf"(?<![\w$]){re.escape(n)}\s*\(", instruction)}
    if not named:
        return False
    referenced = {m.group() for m in _WORD.finditer(tests)}
    return not named & referenced and bool((defined - named) & referenced)


def salvage_tests(tests: str, language: str) -> str | None:
    """The complete part of a test block cut off by the token limit (its complete statements, the unfinished
    tail dropped), or None when it is already complete or nothing is left."""
    return get(language).salvage_tests(tests)


def with_marker(text: str, language: str, marker: str) -> str:
    """The program `text` printing `marker` after its tests (a script's end, the end of `main`)."""
    return get(language).with_marker(text, marker)


__all__ = ["LANGUAGES", "Language", "UnknownLanguage", "find_entry_point", "get", "misses_the_task_function", "salvage_tests",
           "with_marker"]
