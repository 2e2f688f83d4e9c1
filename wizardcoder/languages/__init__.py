"""One module per programming language, behind one registry; every stage that builds or reads programs
(evolve's checks, eval's samples) asks it.

    from wizardcoder import languages
    languages.get("c++").build(check, mutation=True)   # -> Built: the program and its mutant

`LANGUAGES` is the list of languages, written once; a name or an alias (`py`, `c++`, `cxx`) finds its
module (`sandbox.canonical_language`). A module is imported when first asked for.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from sandbox import canonical_language
from wizardcoder.languages.base import UnknownLanguage

LANGUAGES = ("python", "cpp", "java")


def get(name: str) -> ModuleType:
    """The module of the language `name` (or one of its aliases); UnknownLanguage when there is none."""
    language = canonical_language(name)
    if language not in LANGUAGES:
        raise UnknownLanguage(f"unknown language {name!r}; valid: {', '.join(LANGUAGES)}")
    return importlib.import_module(f"{__name__}.{language}")


__all__ = ["LANGUAGES", "UnknownLanguage", "get"]
