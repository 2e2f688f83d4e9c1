"""The C++ builder. Every `#include` of both parts first (local `#include "x.h"` lines are dropped), then the
solution (each macro it defines saved before it and put back after it, as the headers left it) and
`#undef NDEBUG` / `#include <cassert>` (`code_isolation.cpp_isolate_macros`: no macro of the solution, `assert` or `__assert_fail` or `exit`
redefined, reaches the tests), then the tests. The tests' `main()` is renamed and called from a
generated `main()` that first prints the "tests started" marker (the solution's static initialisers are
done by then), then the success marker when the tests' `main()` returns 0; tests without `main()` that
are bare statements are wrapped in one; a final unconditional `exit(0)` of the tests' `main()` is dropped
(the tests are done, the marker comes next). A solution's own `main()` is dropped; one that defines a
libc/runtime function the harness relies on (`__assert_fail`, `exit`...) is failed
(`code_isolation.cpp_runtime_overrides`). Static checks: `assert(`, `abort(`, `exit(<nonzero>)`,
`return <nonzero>`, `throw` or `static_assert` in the tests, and a reference to a function or type
the solution defines.
"""

from __future__ import annotations

import re

from wizardcoder.code_isolation import cpp_isolate_macros, cpp_runtime_overrides, cpp_save_macros
from wizardcoder.execution import new_marker
from wizardcoder.languages import c_like_scan
from wizardcoder.languages.base import Built, ExecutionCheck
from wizardcoder.languages.c_like import (
    C_FUNC_DEF,
    C_KEYWORDS,
    C_TYPE_DEF,
    builder,
    drop_final_exit,
    static_verdict,
)
from wizardcoder.languages.c_like_scan import depth_map, mask_c_like, match_brace

_CPP_MAIN = re.compile(r"\b(?:int|signed|auto|void)\s+main\s*\(")
# the tests' own final `exit(0)`: the marker would never be printed
_CPP_FINAL_EXIT = re.compile(r"(?:(?:::\s*)?std\s*::\s*|::\s*)?(?:exit|_Exit|_exit|quick_exit)\s*\(\s*(?:0|EXIT_SUCCESS)\s*\)\s*;")
_CPP_CHECKS = re.compile(
    r"\bassert\s*\(|\bstatic_assert\s*\(|\babort\s*\(|\bexit\s*\(\s*(?!0\s*\))[^)\s]|\bEXIT_FAILURE\b"
    r"|\breturn\s+(?!0\s*;)[^;\s]|\bthrow\b")


def _find_c_main(src: str, masked: str, regex: re.Pattern) -> tuple[int, int, int, int] | None:
    """(decl start, name start, open brace, close brace) of a depth-0 `main` definition."""
    depths = depth_map(masked)
    for m in regex.finditer(masked):
        if depths[m.start()] != 0:
            continue
        close_paren = masked.find(")", m.end())
        open_brace = masked.find("{", close_paren)
        if close_paren < 0 or open_brace < 0 or ";" in masked[close_paren:open_brace]:
            continue
        end = match_brace(masked, open_brace)
        if end < 0:
            return None
        name = masked.rfind("main", m.start(), m.end())
        return m.start(), name, open_brace, end
    return None


def _has_c_definitions(masked: str) -> bool:
    """Whether depth-0 text defines functions or types (so it is not a block of bare statements)."""
    depths = depth_map(masked)
    for m in C_FUNC_DEF.finditer(masked):
        if depths[m.start()] == 0 and m.group(1) not in C_KEYWORDS:
            return True
    return any(depths[m.start()] == 0 for m in C_TYPE_DEF.finditer(masked))


def _program(check: ExecutionCheck, marker: str | None = None, started: str | None = None) -> Built:
    solution, tests = check.solution, check.tests
    msol, mtests = mask_c_like(solution), mask_c_like(tests)
    verdict = static_verdict(check, msol, mtests, _CPP_CHECKS, "assert/abort/exit/throw")
    if verdict is not None:
        return verdict
    test_main = _find_c_main(tests, mtests, _CPP_MAIN)
    if test_main is None:
        if _has_c_definitions(mtests):
            return Built(static_reason="no_asserts", static_detail="the tests define functions but no main()")
        pre = [ln for ln in tests.splitlines() if ln.lstrip().startswith("#") or ln.strip().startswith("using ")]
        body = "{" + "\n".join(ln for ln in tests.splitlines() if ln not in pre) + "}"
        body = drop_final_exit(body, mask_c_like(body), 0, len(body) - 1, _CPP_FINAL_EXIT)[1:-1]
        tests = "\n".join(pre) + "\nint wizardcoder_tests_main() {\n" + body + "\n    return 0;\n}\n"
        call_args = ""
    else:
        start, name, open_brace, close = test_main
        tests = drop_final_exit(tests, mtests, open_brace, close, _CPP_FINAL_EXIT)
        params = mtests[mtests.find("(", name) + 1:mtests.find(")", name)].strip()
        call_args = "" if params in ("", "void") else "argc, argv"
        tests = (tests[:start] + "int wizardcoder_tests_main" + tests[name + 4:close] + "    return 0;\n"
                 + tests[close:])
    sol_main = _find_c_main(solution, msol, _CPP_MAIN)
    if sol_main is not None:
        solution = solution[:sol_main[0]] + "/* main() of the solution removed */" + solution[sol_main[3] + 1:]
    override = cpp_runtime_overrides(solution)  # after its own main is gone: that one is no override
    if override:
        return Built(static_reason="failed", static_detail=override)
    # every #include goes first, so a header only the tests include is there for the solution too
    # (`#include "solution.h"`-style local headers do not exist here: they are dropped)
    local_include = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"[^"\n]*"[ \t]*$', re.MULTILINE)
    solution, tests = local_include.sub("", solution), local_include.sub("", tests)
    includes = list(dict.fromkeys(ln.strip() for ln in (solution + "\n" + tests).splitlines()
                                  if re.match(r"\s*#\s*include\b", ln)))
    marker = marker or new_marker()
    started = started or new_marker().replace("PASS", "STARTED", 1)
    program = (
        "\n".join(includes) + "\n" + cpp_save_macros(solution) + "\n" + solution + "\n" + cpp_isolate_macros(solution)
        + "\n" + tests
        + "\n\n#include <cstdio>\n#include <iostream>\n"
        "int main(int argc, char** argv) {\n    (void)argc; (void)argv;\n"
        # the solution's static initialisers have run: a mutant that fails before this line never
        # reached the tests, which proves nothing about them
        f'    std::printf("\\n%s\\n", "{started}");\n    std::fflush(stdout);\n'
        f"    int wizardcoder_rc = wizardcoder_tests_main({call_args});\n"
        "    std::cout.flush();\n    std::fflush(stdout);\n"
        f'    if (wizardcoder_rc == 0) {{ std::printf("\\n%s\\n", "{marker}"); std::fflush(stdout); }}\n'
        "    return wizardcoder_rc;\n}\n")
    return Built(program=program, marker=marker, started_marker=started)


# build(check, mutation) -> Built: the program for a C++ check (and its mutant), or the static verdict
build = builder(_program, java=False)


def entry_point(solution: str, tests: str) -> str | None:
    """The function of the solution the tests exercise, or None when they reference none of them."""
    return c_like_scan.find_entry_point(solution, tests, "cpp")


def defined_names(solution: str) -> set[str]:
    """The functions, methods, named lambdas and types the solution defines."""
    return c_like_scan.defined_names(solution, java=False)
