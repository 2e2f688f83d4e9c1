"""The language registry: one module per language, each providing the whole `Language` interface."""

from __future__ import annotations

import pytest

import sandbox
from wizardcoder import languages
from wizardcoder.languages import base
from wizardcoder.languages.base import Language, TokenBudget, UnknownLanguage

INTERFACE = [name for name in vars(Language) if not name.startswith("_")]


CONSTANTS = list(Language.__annotations__)


def test_the_interface_is_what_the_registry_doc_promises():  # and INTERFACE is not read empty
    assert sorted(INTERFACE) == ["build", "declares", "defined_names", "entry_point", "fit_reply", "join_tests",
                                 "looks_like_code", "looks_like_tests", "prompt_entry_point", "salvage_tests",
                                 "sample_program", "split_tests", "strip_comments", "with_marker"]
    assert CONSTANTS == ["DISPLAY_NAME", "TOKEN_BUDGET"]


@pytest.mark.parametrize("name", languages.LANGUAGES)
def test_every_language_module_provides_the_interface(name):
    module = languages.get(name)
    assert isinstance(module, Language)
    assert all(callable(getattr(module, member)) for member in INTERFACE)
    # each name is the function of that name (the C-like modules take theirs from one tuple: none swapped)
    assert all(getattr(module, member).__name__ == member for member in INTERFACE)
    assert isinstance(module.DISPLAY_NAME, str) and isinstance(module.TOKEN_BUDGET, TokenBudget)
    assert set(INTERFACE + CONSTANTS) <= set(module.__all__) and list(base.INTERFACE) == CONSTANTS + INTERFACE


def test_the_list_of_languages_is_the_sandboxs():
    assert languages.LANGUAGES == sandbox.LANGUAGES == ("python", "cpp", "java")


@pytest.mark.parametrize("alias, name", [("py", "python"), ("Python3", "python"), ("c++", "cpp"), ("cxx", "cpp"),
                                         ("JAVA", "java")])
def test_aliases_find_their_language(alias, name):
    assert languages.get(alias) is languages.get(name)


def test_an_unknown_language_names_the_valid_ones():
    with pytest.raises(UnknownLanguage, match="'rust'; valid: python, cpp, java"):
        languages.get("rust")
    assert languages.find_entry_point("fn f() {}", "f()", "rust") is None
    assert languages.misses_the_task_function("Write f(x).", "fn f() {}", "f()", "rust") is False
