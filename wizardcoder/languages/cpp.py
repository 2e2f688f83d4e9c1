"""The C++ builder. Every `#include` of both parts first (local `#include "x.h"` lines are dropped), then the
solution (each macro it defines saved before it and put back after it, as the headers left it) and
`#undef NDEBUG` / `#include <cassert>` (`cpp_isolate_macros`: no macro of the solution, `assert` or `__assert_fail` or `exit`
redefined, reaches the tests), then the tests. The tests' `main()` is renamed and called from a
generated `main()` that first prints the "tests started" marker (the solution's static initialisers are
done by then), then the success marker when the tests' `main()` returns 0; tests without `main()` that
are bare statements are wrapped in one; a final unconditional `exit(0)` of the tests' `main()` is dropped
(the tests are done, the marker comes next). A solution's own `main()` is dropped; one that defines a
libc/runtime function the harness relies on (`__assert_fail`, `exit`...) is failed
(`cpp_runtime_overrides`). Static checks: `assert(`, `abort(`, `exit(<nonzero>)`,
`return <nonzero>`, `throw` or `static_assert` in the tests, and a reference to a function or type
the solution defines.
"""

from __future__ import annotations

import json
import re

from wizardcoder.execution import new_marker
from wizardcoder.languages import c_like_syntax
from wizardcoder.languages.base import INTERFACE, Built, ExecutionCheck, TokenBudget
from wizardcoder.languages.c_like import CLike, builder, drop_final_exit, sample_code, static_verdict
from wizardcoder.languages.c_like_syntax import mask_c_like
from wizardcoder.reasons import Reason

DISPLAY_NAME = "C++"
TOKEN_BUDGET = TokenBudget(local=(128, 448), endpoint=(512, 1536))

# the tests' own final `exit(0)`: the marker would never be printed
_CPP_FINAL_EXIT = re.compile(r"(?:(?:::\s*)?std\s*::\s*|::\s*)?(?:exit|_Exit|_exit|quick_exit)\s*\(\s*(?:0|EXIT_SUCCESS)\s*\)\s*;")
_CPP_CHECKS = re.compile(
    r"\bassert\s*\(|\bstatic_assert\s*\(|\babort\s*\(|\bexit\s*\(\s*(?!0\s*\))[^)\s]|\bEXIT_FAILURE\b"
    r"|\breturn\s+(?!0\s*;)[^;\s]|\bthrow\b")


_HOISTED = {"preproc_include", "preproc_def", "preproc_function_def", "preproc_call", "using_declaration",
            "alias_declaration", "namespace_alias_definition"}


def _main(text: str) -> tuple[int, int, int, int, str] | None:
    """(definition start, name start, open brace, close brace, parameters) of the top-level `main`
    definition of `text` (character positions), else None."""
    src = c_like_syntax.parse(text, java=False)
    found = c_like_syntax.find_main(src)
    if found is None:
        return None
    node, name, body = found
    params = next((c for c in name.parent.named_children if c.type == "parameter_list"), None)
    return (src.char(node.start_byte), src.char(name.start_byte), src.char(body.start_byte),
            src.char(body.end_byte) - 1, src.of(params)[1:-1].strip() if params is not None else "")


def _statements_as_main(tests: str) -> str:
    """Tests that are bare statements, as the body of `wizardcoder_tests_main`: their includes, macros and
    using-declarations (a macro's continued lines too) stay outside it."""
    src = c_like_syntax.parse(tests, java=False)
    pre = [src.of(n) for n in src.root.children if n.type in _HOISTED]
    body = "{" + "\n".join(src.of(n) for n in src.root.children if n.type not in _HOISTED) + "}"
    body = drop_final_exit(body, mask_c_like(body), 0, len(body) - 1, _CPP_FINAL_EXIT)[1:-1]
    return "\n".join(p.rstrip("\n") for p in pre) + "\nint wizardcoder_tests_main() {\n" + body + "\n    return 0;\n}\n"


def _includes(text: str) -> tuple[str, list[str]]:
    """`text` without its local `#include "x.h"` lines (no such header exists here), and its other
    `#include` lines (anywhere in the text, as the preprocessor sees them)."""
    src = c_like_syntax.parse(text, java=False)
    found = [n for n in src.find("preproc_include") if n.child_by_field_name("path") is not None]
    local = [n for n in found if n.child_by_field_name("path").type == "string_literal"]
    for node in reversed(local):
        text = text[:src.char(node.start_byte)] + "\n" + text[src.char(node.end_byte):]
    return text, [src.of(n).strip() for n in found if n not in local]


def _program(check: ExecutionCheck, marker: str | None = None, started: str | None = None) -> Built:
    solution, tests = check.solution, check.tests
    verdict = static_verdict(check, _CPP_CHECKS, "assert/abort/exit/throw", java=False)
    if verdict is not None:
        return verdict
    test_main = _main(tests)
    if test_main is None:
        if c_like_syntax.defines_at_top_level(c_like_syntax.parse(tests, java=False)):
            return Built(static_reason=Reason.NO_ASSERTS, static_detail="the tests define functions but no main()")
        tests = _statements_as_main(tests)
        call_args = ""
    else:
        start, name, open_brace, close, params = test_main
        tests = drop_final_exit(tests, mask_c_like(tests), open_brace, close, _CPP_FINAL_EXIT)
        call_args = "" if params in ("", "void") else "argc, argv"
        tests = (tests[:start] + "int wizardcoder_tests_main" + tests[name + 4:close] + "    return 0;\n"
                 + tests[close:])
    sol_main = _main(solution)
    if sol_main is not None:
        solution = solution[:sol_main[0]] + "/* main() of the solution removed */" + solution[sol_main[3] + 1:]
    override = cpp_runtime_overrides(solution)  # after its own main is gone: that one is no override
    if override:
        return Built(static_reason=Reason.FAILED, static_detail=override)
    # every #include goes first, so a header only the tests include is there for the solution too
    # (`#include "solution.h"`-style local headers do not exist here: they are dropped)
    solution, sol_includes = _includes(solution)
    tests, test_includes = _includes(tests)
    includes = list(dict.fromkeys(sol_includes + test_includes))
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


# the entry point, the definitions, the salvage of cut tests, a reply's blocks and eval's prompts and replies:
# read as C++ and Java read them alike (`c_like.CLike`), with the C++ grammar and what C++ tests look like
(entry_point, defined_names, declares, salvage_tests, strip_comments, looks_like_tests, looks_like_code,
 split_tests, join_tests, prompt_entry_point, fit_reply) = CLike(
    java=False, tests=re.compile(r"\bassert\s*\(|\bint\s+main\s*\(", re.MULTILINE),
    main=re.compile(r"^[ \t]*int\s+main\s*\(", re.MULTILINE)).functions()


# ============================================================================== eval's sample program
def sample_program(prompt: str, tests: str, marker: str, completion: str | None = None,
                   solution: str | None = None, entry_point: str = "") -> str:
    """`prompt + completion + tests` (a full solution: its entry point's body as the completion) with no
    macro of the model's reaching the tests (`#define assert(x)`), then the marker; a program that fails
    with the reason when the model's code defines a runtime function the harness relies on."""
    model = sample_code(completion, solution, entry_point, java=False)
    override = cpp_runtime_overrides(prompt + model)  # the prompt opens the function it completes
    if override:
        return rejected_program(override)
    cut = after_includes(prompt)  # the model's macros are saved after the headers, put back after it
    program = prompt[:cut] + cpp_save_macros(model) + prompt[cut:] + model + cpp_isolate_macros(model) + tests
    return with_marker(program, marker)


def rejected_program(why: str) -> str:
    """A C++ program that fails, saying `why` on stderr: a sample rejected without running it."""
    text = json.dumps("wizardcoder: the sample was not run: " + why, ensure_ascii=True)
    text = re.sub(r"\\u[0-9a-fA-F]{4}", "?", text)  # a C++ string literal: no JSON \u escapes
    return f"#include <cstdio>\nint main() {{\n    std::fputs({text}, stderr);\n    return 1;\n}}\n"


def with_marker(text: str, marker: str) -> str:
    """`marker` printed at the end of `main` (MultiPL-E's C++ tests end with main's closing brace)."""
    end = text.rstrip().rfind("}")
    if end == -1:
        return text
    return text[:end] + f'    std::printf("\\n%s\\n", "{marker}");\n    std::fflush(stdout);\n' + text[end:]


# ================================================= what the model's code may not change in the program
# The solution (evolve) or completion (eval) shares one file with the tests, so nothing it declares may
# change what the tests' names mean: no macro (`cpp_isolate_macros`), no definition of a libc/runtime
# function the harness relies on (`cpp_runtime_overrides`).
# `#define NAME` however spelled: `%:` / `??=` for `#`, comments or blanks around `define`. Searched
# everywhere (inside strings and comments too): a spare #undef costs nothing, a missed one is a bypass.
_GAP = r"(?:[ \t\f\v]|/\*.*?\*/)"
_CPP_DEFINE = re.compile(rf"(?:#|%:|\?\?=){_GAP}*define{_GAP}+([A-Za-z_]\w*)", re.DOTALL)


def _defined_macros(model_code: str) -> list[str]:
    spliced = re.sub(r"\\\r?\n", "", model_code)  # `#def\<newline>ine` is `#define`
    return [n for n in dict.fromkeys(m.group(1) for m in _CPP_DEFINE.finditer(spliced)) if n != "defined"]


def cpp_save_macros(model_code: str) -> str:
    """Preprocessor lines to put before the model's C++ code (after the headers): each macro it defines, as
    the headers left it, saved (`#pragma push_macro`) for `cpp_isolate_macros` to put back."""
    names = _defined_macros(model_code)
    return "\n" + "".join(f'#pragma push_macro("{n}")\n' for n in names) if names else ""


def cpp_isolate_macros(model_code: str) -> str:
    """Preprocessor lines to put between the model's C++ code and the tests: every macro the code defines
    (`#define assert(x)`, `__assert_fail`, `exit`, `return`, `main`, `cout`...) undefined and put back as the
    headers had it (`#pragma pop_macro`: a solution guarding `M_PI` leaves the tests `<cmath>`'s), then assert
    restored (`#undef NDEBUG`, `#include <cassert>`), so the tests see none of its macros. The model code may
    not use push_macro/pop_macro/_Pragma itself (`cpp_runtime_overrides` refuses it)."""
    lines = [line for n in _defined_macros(model_code)
             for line in (f"#undef {n}", f'#pragma pop_macro("{n}")')]
    return "\n" + "\n".join([*lines, "#undef NDEBUG", "#include <cassert>"]) + "\n"


def after_includes(prompt: str) -> int:
    """Where the header lines that open a C++ prompt end (the place for `cpp_save_macros`)."""
    end = 0
    for m in re.finditer(r"^[ \t]*#[ \t]*(?:include|import)\b[^\n]*(?:\n|$)", prompt, re.MULTILINE):
        end = m.end()
    return end


# What the test harness relies on from libc and the C++ runtime (asserts, exits, signals, exceptions,
# the marker's print): a definition of one of these in the model's code replaces it at link time (or, in
# the same file, wins overload resolution), so a failing `assert` would no longer fail.
_CPP_RUNTIME = frozenset({
    "__assert_fail", "__assert_perror_fail", "__assert", "abort", "exit", "_exit", "_Exit", "quick_exit",
    "atexit", "at_quick_exit", "raise", "signal", "sigaction", "kill", "terminate", "set_terminate",
    "__gxx_personality_v0", "printf", "puts", "write", "fflush", "fputs", "fwrite", "putchar", "vprintf",
    "fprintf", "main",
})
_CPP_RUNTIME_PREFIXES = ("__cxa_", "__gxx_", "__libc_", "_Unwind_", "__assert", "__stack_chk_")
_CPP_ALTERNATIVE = {"<%": "{ ", "%>": "} ", "??<": "{  ", "??>": "}  "}  # same length: positions keep
_CPP_SYMBOL_TRICK = re.compile(r"\b(?:asm|__asm__|__asm|alias|weakref|ifunc|symver|redefine_extname)\b")
_CPP_DEFINE_TEXT = re.compile(r"^[ \t]*(?:#|%:)[ \t]*define[ \t]+([A-Za-z_]\w*)(.*)$", re.MULTILINE)


def _is_runtime_name(name: str) -> bool:
    return name in _CPP_RUNTIME or name.startswith(_CPP_RUNTIME_PREFIXES)


def _runtime_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z_]\w*", text) if _is_runtime_name(w)]


# blocks whose names are still at namespace scope: a definition in them is a free function
_NAMESPACE_BLOCKS = {"translation_unit", "namespace_definition", "linkage_specification", "declaration_list",
                     "template_declaration", "preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif",
                     "preproc_elifdef", "ERROR"}


def _at_namespace_scope(node) -> bool:
    """Whether `node` sits outside any function body, class body or initialiser (only namespaces,
    `extern "C"` blocks, templates and preprocessor conditionals around it)."""
    parent = node.parent
    while parent is not None:
        if parent.type in ("compound_statement", "field_declaration_list", "initializer_list", "lambda_expression",
                           "enumerator_list", "argument_list", "parameter_list"):
            return False
        parent = parent.parent
    return True


def cpp_runtime_overrides(model_code: str) -> str | None:
    """Why the model's C++ code would replace a libc / C++ runtime function the tests' harness relies on
    (`__assert_fail`, `abort`, `exit`, `signal`, `__cxa_*`, `std::terminate`, `printf`, `main`...), else
    None: it defines a free function with such a name at namespace scope (any namespace, any linkage;
    `Cls::write` of its own class and methods inside a class are fine, calls and declarations too), names
    one in an `asm` label, a symbol alias or `redefine_extname`, or builds one with a macro used at
    namespace scope. Over-reports rather than misses."""
    code = re.sub(r"\\\r?\n", "", model_code)  # `ex\<newline>it` is `exit`
    if re.search(r"\b(?:push_macro|pop_macro|_Pragma|__pragma)\b", code):  # would unbalance cpp_isolate_macros
        return "the solution uses #pragma push_macro/pop_macro or _Pragma, which could bring its macros back"
    for alt, plain in _CPP_ALTERNATIVE.items():
        code = code.replace(alt, plain)
    # the keyword outside comments and strings (directives stay: `#pragma redefine_extname`); the names in the
    # raw text of the whole declaration, `asm` labels being string literals: `void abort() asm("exit")`
    for m in _CPP_SYMBOL_TRICK.finditer(mask_c_like(code)):
        start = max(code.rfind(";", 0, m.start()), code.rfind("}", 0, m.start()), code.rfind("{", 0, m.start()))
        end = code.find(";", m.end())
        named = _runtime_words(code[max(start + 1, m.start() - 2000):len(code) if end < 0 else end][:4000])
        if named:
            return (f"the solution gives a symbol the name `{named[0]}` (`{m.group()}`), a function the test "
                    "harness relies on: it would replace it at link time")
    # macros that could spell such a definition: their text names one, pastes tokens, or uses another
    macros = {name: body for name, body in _CPP_DEFINE_TEXT.findall(code)}
    suspect = {n for n, body in macros.items() if _runtime_words(body) or "##" in body}
    grown = True
    while grown:
        more = {n for n, body in macros.items() if n not in suspect and set(re.findall(r"\w+", body)) & suspect}
        suspect |= more
        grown = bool(more)
    src = c_like_syntax.parse(code, java=False)
    own_types = c_like_syntax.type_names(src)
    for node in src.find("identifier", "type_identifier"):
        name = src.of(node)
        if name not in macros or node.parent.type.startswith("preproc") or not _at_namespace_scope(node):
            continue  # not a use of one of its macros outside functions (`#define NAME`, `#ifdef NAME`: no use)
        after = code[src.char(node.end_byte):src.char(node.end_byte) + 2000]
        args = re.match(r"\s*\(([^;{}]*)", after)
        if name in suspect or args and _runtime_words(args.group()):
            return (f"the solution uses its macro `{name}` outside any function, with the name of a libc/C++ runtime "
                    "function or pasted tokens: it could define a function the test harness relies on")
    for d in c_like_syntax.definitions(src):
        if d.is_lambda or not _is_runtime_name(d.name) or not _at_namespace_scope(d.node):
            continue
        if d.owner in own_types:
            continue  # `void Logger::write(...) {` defines a method of the solution's own class
        return (f"the solution defines a function named `{d.name}` outside any class, which would replace the "
                "libc / C++ runtime function of that name the test harness relies on (a failing assert or "
                "exit would no longer fail)")
    for node in src.find("ERROR"):  # what the parser could not read may hide a definition: over-report
        named = _runtime_words(mask_c_like(src.of(node)))
        if named and "{" in src.of(node):
            return (f"the solution has code that does not parse around `{named[0]}`, the name of a function the "
                    "test harness relies on: it could define it")
    return None


# the language interface (`base.Language`) and the names other modules import
__all__ = list(INTERFACE) + ["after_includes", "cpp_isolate_macros", "cpp_runtime_overrides", "cpp_save_macros"]
