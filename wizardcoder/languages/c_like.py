"""What the C++ and Java builders share: what a solution defines, the static verdicts, and the mutant a
C++ / Java build gets (`with_mutant`; the scan and the rewrite live in `c_like_syntax.py`).

C++ and Java get the "tests must be able to fail" check too (`mutation_check`, on for all three by
default; it costs a second compile): every definition of the entry point (given, else the function the
tests call: `c_like_syntax.find_entry_point`) returns a default value (`c_like_syntax.break_c_like`:
`return {};` in C++, 0/false/null in Java, nothing for void), and the tests must then fail, else
"tests_cannot_fail". Tests that call no function of the solution cannot fail either.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from wizardcoder.languages import c_like_syntax
from wizardcoder.languages.base import Built, ExecutionCheck
from wizardcoder.languages.c_like_syntax import mask_c_like
from wizardcoder.reasons import Reason


def calls_solution(check: ExecutionCheck, java: bool) -> str | None:
    """None when the tests reference the solution (a function, method, named lambda or type it defines);
    else why not."""
    defined = c_like_syntax.defined_names(check.solution, java)
    tests = c_like_syntax.parse(check.tests, java)
    own = c_like_syntax.defined_functions(tests) | c_like_syntax.type_names(tests)
    wanted = defined - own
    if check.entry_point:
        wanted.add(check.entry_point.split(".")[-1].split("::")[-1])
    if not wanted:
        if defined:
            return f"the tests redefine {sorted(defined)} instead of calling the solution"
        return None  # nothing recognisable in the solution: do not guess
    if wanted & {name for _, name in c_like_syntax.references(tests)}:
        return None
    return "the tests never reference the solution's functions or types"


def with_mutant(built: Built, check: ExecutionCheck, build_program: Callable[..., Built], java: bool) -> Built:
    """`built` plus its mutant: the program rebuilt (same marker) with every definition of the entry point
    (the given one, else the function the tests call) returning a default value; tests that call no
    function of the solution cannot fail at all."""
    if built.program is None:
        return built
    language = "java" if java else "cpp"
    scanned = c_like_syntax.find_entry_point(check.solution, check.tests, language)
    names = [n.split(".")[-1].split("::")[-1] for n in dict.fromkeys((check.entry_point, scanned)) if n]
    mutated, what = None, ()
    for name in names:  # a given entry point the solution does not define: the one the tests call
        mutated, what = c_like_syntax.break_c_like(check.solution, name, java=java), (name,)
        if mutated is not None:
            break
    if mutated is None and scanned is None:  # no named function called: the types' methods and operators
        types = c_like_syntax.referenced_types(check.solution, check.tests, language)
        mutated = c_like_syntax.break_types(check.solution, types, java=java) if types else None
        what = tuple(f"{t}'s methods" for t in types)
        if mutated is None:
            return Built(static_reason=Reason.TESTS_CANNOT_FAIL,
                         static_detail="the tests call no function of the solution: nothing they check can fail")
    if mutated is not None:
        mutant = build_program(dataclasses.replace(check, solution=mutated), marker=built.marker,
                               started=built.started_marker)
        built.mutant, built.mutated = mutant.program, what
    return built


def builder(build_program: Callable[..., Built], java: bool) -> Callable[[ExecutionCheck, bool], Built]:
    """A C-like language's `build(check, mutation)`: `build_program(check)`, plus its mutant when asked."""
    def build(check: ExecutionCheck, mutation: bool) -> Built:
        built = build_program(check)
        return with_mutant(built, check, build_program, java) if mutation else built
    return build


def drop_final_exit(text: str, masked: str, open_brace: int, close_brace: int, final_exit: re.Pattern) -> str:
    """`text` with the last statement of the block `open_brace`..`close_brace` (masked positions) blanked
    when it is an unconditional `final_exit` (`std::exit(0);`, `System.exit(0);`): the tests are done by
    then, and the program must go on to print the success marker. Same length: positions stay valid."""
    body = masked[open_brace + 1:close_brace].rstrip()
    if not body.endswith(";"):
        return text
    start = open_brace + 1 + max(body.rfind(";", 0, len(body) - 1), body.rfind("{"), body.rfind("}")) + 1
    end = open_brace + 1 + len(body)
    if not final_exit.fullmatch(masked[start:end].strip()):
        return text  # an `if (...) exit(0);`, `else exit(0);` or a loop's body is no final exit
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def static_verdict(check: ExecutionCheck, checks: re.Pattern, what: str, java: bool) -> Built | None:
    """The "no_asserts" verdict reached without running: the tests contain none of `checks` (`what`
    names them; searched outside comments and literals, macro bodies included), or never reference the
    solution. None: run it."""
    if not checks.search(mask_c_like(check.tests, java)):
        return Built(static_reason=Reason.NO_ASSERTS, static_detail=f"the tests check nothing (no {what})")
    why = calls_solution(check, java)
    return Built(static_reason=Reason.NO_ASSERTS, static_detail=why) if why else None


# ============================================================================== eval's samples
def _definition(code: str, name: str, java: bool | None) -> tuple[c_like_syntax.Source, c_like_syntax.Definition] | None:
    """The first definition of the function `name` in `code` (`java` None: in either language)."""
    for grammar in ((False, True) if java is None else (java,)):
        src = c_like_syntax.parse(code, grammar)
        found = next((d for d in c_like_syntax.definitions(src) if d.name == name and not d.is_lambda), None)
        if found is not None:
            return src, found
    return None


def declares(code: str, name: str, java: bool | None = None) -> bool:
    """Whether `code` defines the function `name` (a reply holding the whole function)."""
    return _definition(code, name, java) is not None


def function_body(code: str, name: str, java: bool | None = None) -> str | None:
    """The text between the braces of the C-like function `name` in `code` (exclusive), plus a newline."""
    found = _definition(code, name, java)
    if found is None:
        return None
    src, definition = found
    body = code[src.char(definition.body.start_byte) + 1:src.char(definition.body.end_byte) - 1].rstrip()
    return body.lstrip("\n") + "\n" if body.strip() else "\n"


def sample_code(completion: str | None, solution: str | None, entry_point: str, java: bool) -> str:
    """The model's code in an eval sample: its completion, or the body of a full solution's entry point
    (MultiPL-E's C++ / Java tests start by closing the function)."""
    if solution is not None:
        body = function_body(solution, entry_point, java)
        return body if body is not None else solution
    return completion or ""


# ============================================================================== salvage of cut tests
def salvage_tests(tests: str, java: bool) -> str | None:
    """The complete part of a C++ / Java test block cut by the token limit: cut after the last `;` or `}`
    outside parentheses (comments and literals masked), then the braces left open (`main`, a class)
    closed; None when it is already complete or nothing is left."""
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


# ============================================================================== one C-like language's reading
_COMMENT_BLOCK = re.compile(r"/\*.*?\*/", re.DOTALL)
# a function an eval prompt opens: its signature, then `{` ending the line (MultiPL-E's C++ and Java prompts)
_PROMPT_SIGNATURE = re.compile(r"(\w+)\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*(?:throws\s+[\w., ]+)?\s*\{\s*$",
                               re.MULTILINE)


class CLikeFunctions(NamedTuple):
    """The `base.Language` functions a C-like module takes from `CLike.functions()`, in this order."""

    entry_point: Callable[[str, str], str | None]
    defined_names: Callable[[str], set[str]]
    declares: Callable[[str, str], bool]
    salvage_tests: Callable[[str], str | None]
    strip_comments: Callable[[str], str]
    looks_like_tests: Callable[[str], bool]
    looks_like_code: Callable[[str], bool]
    split_tests: Callable[[str], tuple[str, str] | None]
    join_tests: Callable[[Sequence[str]], str]
    prompt_entry_point: Callable[[str], str]
    fit_reply: Callable[[str, str, str], tuple[str | None, str | None] | None]


class CLike:
    """What C++ and Java read alike, for one of them: its grammar (`java`), what its tests look like (`tests`:
    an assertion or a `main`) and where a block's tests start (`main`). `cpp.py` and `java.py` take its methods
    as their own functions (`functions()`)."""

    def __init__(self, java: bool, tests: re.Pattern[str], main: re.Pattern[str]):
        self.java = java
        self.language = "java" if java else "cpp"
        self.tests = tests
        self.main = main

    def functions(self) -> CLikeFunctions:
        return CLikeFunctions(self.entry_point, self.defined_names, self.declares, self.salvage_tests,
                              self.strip_comments, self.looks_like_tests, self.looks_like_code, self.split_tests,
                              self.join_tests, self.prompt_entry_point, self.fit_reply)

    def entry_point(self, solution: str, tests: str) -> str | None:
        """The function of the solution the tests exercise, or None when they reference none of them."""
        return c_like_syntax.find_entry_point(solution, tests, self.language)

    def defined_names(self, solution: str) -> set[str]:
        """The functions, methods, named lambdas and types the solution defines."""
        return c_like_syntax.defined_names(solution, java=self.java)

    def declares(self, code: str, name: str) -> bool:
        """Whether `code` defines the function `name` (a reply holding the whole function)."""
        return declares(code, name, java=self.java)

    def salvage_tests(self, tests: str) -> str | None:
        """The complete part of a test block cut by the token limit (`c_like.salvage_tests`), or None."""
        return salvage_tests(tests, java=self.java)

    def strip_comments(self, code: str) -> str:
        """`code` without its block comments and `//` comment lines."""
        code = _COMMENT_BLOCK.sub("", code)
        return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("//"))

    def looks_like_tests(self, code: str) -> bool:
        """An assertion or a `main`, comments aside."""
        return bool(self.tests.search(self.strip_comments(code)))

    def looks_like_code(self, text: str) -> bool:
        """Braces and statements."""
        return "{" in text and ";" in text

    def split_tests(self, code: str) -> tuple[str, str] | None:
        """One block holding the solution and its tests: split where the tests' `main` starts."""
        match = self.main.search(code)
        if match is None or match.start() == 0:
            return None
        solution, tests = code[:match.start()], code[match.start():]
        if not solution.strip():
            return None
        return solution, tests

    def join_tests(self, blocks: Sequence[str]) -> str:
        """Joined in order when at most one has a `main` (a program has one); else the block with the most
        checks."""
        if sum(1 for code in blocks if self.main.search(code)) > 1:
            return max(blocks, key=lambda code: len(self.tests.findall(self.strip_comments(code))))
        return "\n\n".join(code.strip("\n") for code in blocks)

    def prompt_entry_point(self, prompt: str) -> str:
        """The last function the prompt opens (its signature, then `{` ending the line), or ""."""
        names = _PROMPT_SIGNATURE.findall(prompt)
        return names[-1] if names else ""

    def fit_reply(self, prompt: str, code: str, entry_point: str) -> tuple[str | None, str | None] | None:
        """A reply holding the whole function: its body, as the completion (MultiPL-E's tests start by closing
        the function); else None."""
        if entry_point and self.declares(code, entry_point):
            body = function_body(code, entry_point, java=self.java)
            if body is not None:
                return body, None
        return None
