"""Execution verdicts: run each evolved task's solution against its tests in the sandbox.

    from wizardcoder.eliminate.execution import ExecutionCheck, verify
    for verdict in verify(sandbox, checks, cfg):   # same order as `checks`, streamed in chunks
        ...

Reasons: "passed" | "no_asserts" | "failed" | "timeout" | "compile_error" | "infra_error".
"infra_error" means the sandbox broke (its ERROR status): it says nothing about the sample and must
never be counted as a bad one.

How a program is built (and what is accepted from an LLM):

Python: solution (its `if __name__ == "__main__":` blocks removed) + tests + a runner + a success
  marker, a fresh random nonce per check written to stdout at the very end, so `exit(0)` or
  `os._exit(0)` before the tests never passes. Tests may be plain asserts, a HumanEval-style
  `def check(candidate)` (called with the entry point when nothing calls it), pytest-style `test_*`
  functions / `Test*` classes (called in order when nothing calls them; only ones without required
  arguments or with `pytest.mark.parametrize`), or `unittest.TestCase` classes (run by a runner; their
  `unittest.main()` is neutralised). The tests' top-level imports are moved before the solution.
  Tests that import pytest get a small stand-in (`PYTEST_SHIM`:
  raises, approx, fail, skip, mark.parametrize; no fixtures), the same on every backend.
  `from solution import f` where the solution defines `f` is dropped; `import solution` binds the
  program itself. Static checks (ast): the tests must assert something (assert statements, `assert*`
  calls, `raise`, `pytest.raises`) and reference the entry point or a function/class the solution
  defines (and does not redefine it). Then "tests must be able to fail": when the program passes, it
  runs again with the body of the entry point (or the called solution functions) replaced by
  `return None`; if that still passes, the tests check nothing: "no_asserts" (this also catches
  assertions swallowed by `try/except Exception`).

C++: every `#include` of both parts first (local `#include "x.h"` lines are dropped), then the
  solution, `#undef NDEBUG` / `#include <cassert>` (so `assert` works even if the solution defined
  NDEBUG), then the tests. The tests' `main()` is renamed and called from a generated `main()` that prints the
  marker when it returns 0; tests without `main()` that are bare statements are wrapped in one. A
  solution's own `main()` is dropped. Static checks: `assert(`, `abort(`, `exit(<nonzero>)`,
  `return <nonzero>`, `throw` or `static_assert` in the tests, and a reference to a function or type
  the solution defines.

Java (run with `-ea`): package lines are dropped, imports of both parts are merged at the top, and
  `public` is removed from top-level types (so any class names fit one file). Accepted shapes: the
  solution is one or more top-level types, or bare methods (then placed in the tests' main class, or a
  generated `class Main`); the tests are top-level types (a type with the same name as a solution type
  is merged into it), bare methods including `main` (placed into the solution's first class), or bare
  statements (wrapped into `main` in the solution's first class). When the tests bring a `main`, the
  solution's `main` is dropped. The tests' `main` is renamed and called from a generated `main` that
  prints the marker. Static checks: `assert`, `throw` or `System.exit(<nonzero>)`, and a reference to a
  method or type the solution defines.

C++ and Java can have the "tests must be able to fail" check too (`mutation_check: [python, cpp, java]`;
off by default: it costs a second compile): every definition of the entry point then returns a default
value (`return {};` in C++, 0/false/null in Java, nothing for void), and the tests must fail.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import logging
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sandbox import Job, Result, Status
from wizardcoder.eliminate import EliminateConfig

log = logging.getLogger(__name__)

REASONS = ("passed", "no_asserts", "failed", "timeout", "compile_error", "infra_error")
NOT_RUN = "not_run"  # Verdict.status of a check decided without running it


class UnknownLanguage(ValueError):
    """An ExecutionCheck in a language the sandbox does not run."""


@dataclass(frozen=True)
class ExecutionCheck:
    key: str
    language: str
    solution: str
    tests: str
    entry_point: str | None = None


@dataclass(frozen=True)
class Verdict:
    key: str
    ok: bool
    reason: str
    status: str
    duration: float
    stdout_tail: str
    stderr_tail: str

    def to_dict(self) -> dict:
        return {"key": self.key, "ok": self.ok, "reason": self.reason, "status": self.status,
                "duration": self.duration, "stdout_tail": self.stdout_tail, "stderr_tail": self.stderr_tail}


@dataclass
class _Built:
    """A check turned into a program, or a verdict reached without running anything."""

    program: str | None = None
    marker: str | None = None
    mutant: str | None = None  # the same program with the solution broken (None: no mutation check)
    mutated: tuple[str, ...] = ()
    static_reason: str | None = None
    static_detail: str = ""
    files: dict[str, str] = field(default_factory=dict)  # extra files next to the program (Job.files)


def _marker() -> str:
    return "WIZARDCODER-PASSED-" + secrets.token_hex(12)


# =========================================================================================== python
# The sandbox image has no pytest; tests that `import pytest` get this stand-in (the same everywhere,
# so a verdict does not depend on what the host has installed). Fixtures are not supported: a test
# function that needs arguments runs only through `mark.parametrize`.
PYTEST_SHIM = '''"""Minimal stand-in for pytest inside the wizardcoder sandbox: raises, approx, fail, skip, mark."""
import math as _math
import re as _re


class _Raises:
    def __init__(self, expected, match=None):
        self.expected, self.match, self.value = expected, match, None

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            raise AssertionError(f"DID NOT RAISE {self.expected}")
        if not issubclass(kind, self.expected):
            return False
        if self.match is not None and not _re.search(self.match, str(value)):
            raise AssertionError(f"{value!r} does not match {self.match!r}")
        self.value = value
        return True


def raises(expected, *args, match=None, **kwargs):
    if args:
        with _Raises(expected, match) as ctx:
            args[0](*args[1:], **kwargs)
        return ctx
    return _Raises(expected, match)


class approx:
    def __init__(self, expected, rel=1e-6, abs=1e-12):
        self.expected, self.rel, self.abs = expected, rel, abs

    def _close(self, a, b):
        if isinstance(b, (list, tuple)):
            return isinstance(a, (list, tuple)) and len(a) == len(b) and all(map(self._close, a, b))
        if isinstance(b, dict):
            return isinstance(a, dict) and a.keys() == b.keys() and all(self._close(a[k], b[k]) for k in b)
        try:
            return a == b or _math.isclose(a, b, rel_tol=self.rel, abs_tol=self.abs)
        except TypeError:
            return False

    def __eq__(self, other):
        return self._close(other, self.expected)

    def __repr__(self):
        return f"approx({self.expected!r})"


class _Outcome(Exception):
    pass


def fail(msg=""):
    raise AssertionError(msg)


def skip(msg=""):
    raise _Outcome(msg)


class _Mark:
    def parametrize(self, names, values, ids=None, **_):
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)

        def decorate(fn):
            def run(*args, **kwargs):
                for value in values:
                    value = getattr(value, "values", value)
                    value = tuple(value) if len(names) > 1 else (value,)
                    fn(*args, **kwargs, **dict(zip(names, value)))
            run.__name__ = fn.__name__
            return run
        return decorate

    def __getattr__(self, name):
        def marker(*args, **kwargs):
            if len(args) == 1 and callable(args[0]) and not kwargs:
                return args[0]
            return lambda fn: fn
        return marker


mark = _Mark()


def fixture(*args, **kwargs):
    if len(args) == 1 and callable(args[0]):
        return args[0]
    return lambda fn: fn


def param(*values, **_):
    return values


def main(*args, **kwargs):
    return 0
'''

_ASSERT_CALL = re.compile(r"^(assert|fail)")
_SOLUTION_MODULES = {"solution", "main", "code", "program", "submission", "answer"}


def _src_offsets(src: str) -> list[int]:
    """Character offset of the start of each line (1-based lines -> index lineno-1)."""
    offsets, pos = [], 0
    for line in src.splitlines(keepends=True):
        offsets.append(pos)
        pos += len(line)
    offsets.append(pos)
    return offsets


def _char_pos(src_lines: list[str], offsets: list[int], lineno: int, col_bytes: int) -> int:
    line = src_lines[lineno - 1] if lineno - 1 < len(src_lines) else ""
    col = len(line.encode("utf-8")[:col_bytes].decode("utf-8", errors="ignore"))
    return offsets[lineno - 1] + col


def _replace_nodes(src: str, replacements: list[tuple[ast.AST, str]]) -> str:
    """`src` with each node's exact source span replaced by the given text (non-overlapping nodes)."""
    if not replacements:
        return src
    lines = src.splitlines(keepends=True)
    offsets = _src_offsets(src)
    spans = []
    for node, text in replacements:
        start = _char_pos(lines, offsets, node.lineno, node.col_offset)
        end = _char_pos(lines, offsets, node.end_lineno, node.end_col_offset)
        spans.append((start, end, text))
    out, last = [], 0
    for start, end, text in sorted(spans):
        if start < last:
            continue
        out.append(src[last:start])
        out.append(text)
        last = end
    out.append(src[last:])
    return "".join(out)


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        parts = [test.left, *test.comparators]
        names = [p.id for p in parts if isinstance(p, ast.Name)]
        consts = [p.value for p in parts if isinstance(p, ast.Constant)]
        return names == ["__name__"] and consts == ["__main__"]
    return False


def _call_name(node: ast.AST) -> str:
    """Dotted name of a call target ("unittest.main", "self.assertEqual", "f")."""
    if isinstance(node, ast.Call):
        node = node.func
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _py_has_checks(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assert, ast.Raise)):
            return True
        if isinstance(node, ast.Call):
            name = _call_name(node)
            last = name.rsplit(".", 1)[-1]
            if _ASSERT_CALL.match(last) or name.endswith("raises"):
                return True
            if last in ("exit", "_exit") and node.args and not (
                    isinstance(node.args[0], ast.Constant) and node.args[0].value in (0, None)):
                return True
    return False


def _top_level_defs(tree: ast.Module) -> dict[str, ast.AST]:
    defs: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs[node.name] = node
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    defs[target.id] = node
    return defs


def _referenced(tree: ast.AST) -> set[str]:
    """Every name the code reads, as a bare name, an attribute or a from-import."""
    names: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.name for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _hoist_future(src: str) -> tuple[list[str], str]:
    """(`from __future__` lines, src without them): they must come first in the merged program."""
    futures, rest = [], []
    for line in src.splitlines():
        if re.match(r"\s*from\s+__future__\s+import\b", line) and not line.startswith((" ", "\t")):
            futures.append(line.strip())
        else:
            rest.append(line)
    return futures, "\n".join(rest)


def _py_called_anywhere(tree: ast.Module, name: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
            return True
    return False


def _required_args(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool = False) -> int:
    args = fn.args
    positional = len(args.posonlyargs) + len(args.args) - len(args.defaults) - (1 if method else 0)
    kwonly = sum(1 for d in args.kw_defaults if d is None)
    return max(0, positional) + kwonly


def _mutate(solution: str, targets: set[str]) -> tuple[str | None, tuple[str, ...]]:
    """The solution with the bodies of the target functions (or all methods of target classes) replaced
    by `return None`; (None, ()) when nothing could be mutated."""
    tree = ast.parse(solution)
    mutated: list[str] = []

    def broken(name: str) -> list[ast.stmt]:
        return [ast.Return(value=ast.Constant(value=None))]

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in targets:
            node.body = broken(node.name)
            mutated.append(node.name)
        elif isinstance(node, ast.ClassDef) and node.name in targets:
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    item.body = broken(f"{node.name}.{item.name}")
                    mutated.append(f"{node.name}.{item.name}")
    if not mutated:
        return None, ()
    return ast.unparse(ast.fix_missing_locations(tree)), tuple(mutated)


def _parametrized(fn: ast.FunctionDef) -> bool:
    return any(_call_name(d).endswith("parametrize") for d in fn.decorator_list)


def _imports_pytest(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "pytest" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pytest":
            return True
    return False


def _python_runner(test_tree: ast.Module, entry_point: str | None) -> tuple[str, bool]:
    """(code appended after the tests that makes them run, whether anything will run them)."""
    body = test_tree.body
    testcases = [n for n in body if isinstance(n, ast.ClassDef)
                 and any(_call_name(b).endswith("TestCase") for b in n.bases)]
    if testcases:
        return ("import sys as _wc_sys, unittest as _wc_unittest\n"
                "_wc_suite = _wc_unittest.defaultTestLoader.loadTestsFromModule(_wc_sys.modules[__name__])\n"
                "_wc_result = _wc_unittest.TextTestRunner(stream=_wc_sys.stderr, verbosity=1).run(_wc_suite)\n"
                "if not _wc_result.wasSuccessful() or _wc_result.testsRun == 0:\n"
                "    _wc_sys.exit(1)\n"), True
    lines = []
    test_funcs = [n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.name.startswith("test")]
    test_classes = [n for n in body if isinstance(n, ast.ClassDef) and n.name.startswith("Test")]
    uncalled = [f for f in test_funcs if not _py_called_anywhere(test_tree, f.name)]
    if test_funcs and len(uncalled) == len(test_funcs) or test_classes and not any(
            _py_called_anywhere(test_tree, c.name) for c in test_classes):
        for fn in uncalled:
            if isinstance(fn, ast.FunctionDef) and (_required_args(fn) == 0 or _parametrized(fn)):
                lines.append(f"{fn.name}()")
        for cls in test_classes:
            if _py_called_anywhere(test_tree, cls.name):
                continue
            for item in cls.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test") \
                        and (_required_args(item, method=True) == 0 or _parametrized(item)):
                    lines.append(f"{cls.name}().{item.name}()")
        return "\n".join(lines) + ("\n" if lines else ""), bool(lines)
    check = next((n for n in body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    if check is not None and entry_point and not _py_called_anywhere(test_tree, "check"):
        return f"check({entry_point.split('.')[0]})\n", True
    # plain script: it runs itself (there is top-level code)
    runs = any(not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import,
                                  ast.ImportFrom)) for n in body)
    return "", runs


def _build_python(check: ExecutionCheck, mutation: bool) -> _Built:
    try:
        sol_tree = ast.parse(check.solution)
    except SyntaxError as exc:
        return _Built(static_reason="compile_error", static_detail=f"solution: SyntaxError: {exc}")
    try:
        test_tree = ast.parse(check.tests)
    except SyntaxError as exc:
        return _Built(static_reason="compile_error", static_detail=f"tests: SyntaxError: {exc}")
    if not _py_has_checks(test_tree):
        return _Built(static_reason="no_asserts", static_detail="the tests assert nothing")

    defined = _top_level_defs(sol_tree)
    test_defs = _top_level_defs(test_tree)
    anywhere = {n.name for n in ast.walk(sol_tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                     ast.ClassDef))}
    entry_names = set(check.entry_point.split(".")) & anywhere if check.entry_point else set()
    solution_names = (set(defined) | entry_names) - set(test_defs)
    runner, runs = _python_runner(test_tree, check.entry_point)
    used = solution_names & (_referenced(test_tree) | set(_referenced(ast.parse(runner)) if runner else ()))
    if not used:
        shadow = (set(defined) | entry_names) & set(test_defs)
        detail = (f"the tests redefine {sorted(shadow)} instead of calling the solution" if shadow
                  else "the tests never reference the solution's functions")
        return _Built(static_reason="no_asserts", static_detail=detail)

    if not runs:
        return _Built(static_reason="no_asserts",
                      static_detail="nothing in the tests runs (no calls, no runner)")

    # the solution without its __main__ demo; tests without unittest.main()/solution imports
    solution = _replace_nodes(check.solution, [(n, "pass") for n in sol_tree.body if _is_main_guard(n)])
    edits: list[tuple[ast.AST, str]] = []
    for node in ast.walk(test_tree):
        runner_call = isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
            and _call_name(node.value) in ("unittest.main", "main", "pytest.main")
        # a bare main() is unittest's (from unittest import main) unless either side defines a main
        if runner_call and (_call_name(node.value) != "main"
                            or ("main" not in defined and "main" not in test_defs)):
            edits.append((node, "pass"))
    for node in test_tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] not in sys.stdlib_module_names \
                and (all(alias.name in defined for alias in node.names)
                     or node.module.split(".")[0] in _SOLUTION_MODULES):
            edits.append((node, "pass"))
        elif isinstance(node, ast.Import) and all(a.name in _SOLUTION_MODULES for a in node.names):
            binds = "; ".join(f"{a.asname or a.name} = __import__('sys').modules[__name__]" for a in node.names)
            edits.append((node, binds))
    # the tests' top-level imports go before the solution: names the solution forgot to import are
    # there, and an imported name never shadows a function the solution defines
    edited = {id(node) for node, _ in edits}
    hoisted: list[str] = []
    for node in test_tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in edited \
                and not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            segment = ast.get_source_segment(check.tests, node)
            if segment:
                hoisted.append(segment.strip())
                edits.append((node, "pass"))
    tests = _replace_nodes(check.tests, edits)

    marker = _marker()
    fut_s, solution = _hoist_future(solution)
    fut_t, tests = _hoist_future(tests)
    head = "\n".join([*dict.fromkeys(fut_s + fut_t), *dict.fromkeys(hoisted)])
    tail = ("\n\n" + runner +
            "\nimport os as _wc_os, sys as _wc_sys\n"
            "_wc_sys.stdout.flush()\n"
            f"_wc_os.write(1, b'\\n{marker}\\n')\n")

    def assemble(sol: str) -> str:
        return (head + "\n" if head else "") + sol + "\n\n" + tests + tail

    built = _Built(program=assemble(solution), marker=marker,
                   files={"pytest.py": PYTEST_SHIM} if _imports_pytest(test_tree) else {})
    if mutation:
        if check.entry_point:
            targets = {check.entry_point.split(".")[-1]} | ({check.entry_point.split(".")[0]} & set(defined))
        else:
            targets = used
        try:
            mutant_solution, mutated = _mutate(solution, targets)
            if mutant_solution is None and targets != used:
                mutant_solution, mutated = _mutate(solution, used)
        except (SyntaxError, ValueError, RecursionError):  # ast.unparse of odd code
            mutant_solution, mutated = None, ()
        if mutant_solution is not None:
            built.mutant = assemble(mutant_solution)
            built.mutated = mutated
    return built


# ====================================================================================== C-like text
def mask_c_like(src: str, java: bool = False) -> str:
    """`src` with comments and string/char literal contents blanked (same length, newlines kept), so
    regexes and brace matching on it never look inside them."""
    out = list(src)
    n = len(src)
    i = 0

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = src[i]
        if c == "/" and src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif c == "/" and src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            blank(i, j)
            i = j
        elif c == '"':
            if java and src.startswith('"""', i):
                j = src.find('"""', i + 3)
                j = n if j < 0 else j + 3
                blank(i + 1, j - 1)
                i = j
                continue
            if not java and i > 0 and src[i - 1] == "R":
                paren = src.find("(", i)
                delim = src[i + 1:paren] if paren > 0 else ""
                if paren > 0 and len(delim) <= 16 and "\n" not in delim:
                    j = src.find(")" + delim + '"', paren)
                    j = n if j < 0 else j + len(delim) + 2
                    blank(i + 1, j - 1)
                    i = j
                    continue
            j = i + 1
            while j < n and src[j] != '"' and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif c == "'":
            if not java and i > 0 and src[i - 1].isalnum() and src[i - 1] not in "uUL":  # 1'000'000
                i += 1
                continue
            j = i + 1
            while j < n and src[j] != "'" and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        else:
            i += 1
    return "".join(out)


def match_brace(masked: str, open_idx: int) -> int:
    """Index of the `}` closing the `{` at `open_idx` in masked text; -1 when unbalanced."""
    depth = 0
    for k in range(open_idx, len(masked)):
        ch = masked[k]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return k
    return -1


def _depth_map(masked: str) -> list[int]:
    depths, depth = [], 0
    for ch in masked:
        if ch == "}":
            depth -= 1
        depths.append(depth)
        if ch == "{":
            depth += 1
    return depths


_C_KEYWORDS = {"if", "for", "while", "switch", "catch", "return", "sizeof", "else", "do", "new", "delete",
               "synchronized", "try", "main", "operator", "decltype", "alignof", "static_assert", "assert"}
_C_FUNC_DEF = re.compile(r"\b([A-Za-z_]\w*)\s*\([^;{}()]*(?:\([^;{}()]*\)[^;{}()]*)*\)\s*"
                         r"(?:const\s*|noexcept\s*|override\s*|final\s*|throws\s+[\w.,\s]+|->\s*[\w:<>,\s*&]+)*\{")
_C_TYPE_DEF = re.compile(r"\b(?:class|struct|interface|enum|record|union)\s+([A-Za-z_]\w*)")


def _c_defined_names(masked: str) -> set[str]:
    names = {m.group(1) for m in _C_FUNC_DEF.finditer(masked)}
    names |= {m.group(1) for m in _C_TYPE_DEF.finditer(masked)}
    return {n for n in names if n not in _C_KEYWORDS}


def _mentions(masked: str, names: Iterable[str]) -> set[str]:
    return {n for n in names if re.search(rf"(?<![\w.]){re.escape(n)}\b|(?<=\.){re.escape(n)}\b", masked)}


def _c_calls_solution(check: ExecutionCheck, msol: str, mtests: str) -> str | None:
    """None when the tests reference the solution; else why not."""
    defined = _c_defined_names(msol)
    own = _c_defined_names(mtests)
    wanted = set(defined) - own
    if check.entry_point:
        wanted.add(check.entry_point.split(".")[-1].split("::")[-1])
    if not wanted:
        if defined:
            return f"the tests redefine {sorted(defined)} instead of calling the solution"
        return None  # nothing recognisable in the solution: do not guess
    if _mentions(mtests, wanted):
        return None
    return "the tests never reference the solution's functions or types"


# ============================================================================================== C++
_JAVA_DEFAULTS = {"int": "0", "long": "0L", "short": "(short) 0", "byte": "(byte) 0", "char": "'\\0'",
                  "double": "0.0", "float": "0.0f", "boolean": "false"}
_C_QUALIFIERS = re.compile(r"\s*(?:const\s*|noexcept\s*|override\s*|final\s*|throws\s+[\w.,\s]+?"
                           r"|->\s*[\w:<>,\s*&]+?)*\{")


def _match_paren(masked: str, open_idx: int) -> int:
    depth = 0
    for k in range(open_idx, len(masked)):
        if masked[k] == "(":
            depth += 1
        elif masked[k] == ")":
            depth -= 1
            if depth == 0:
                return k
    return -1


def _mutate_c_like(solution: str, name: str, java: bool) -> str | None:
    """The solution with every definition of function `name` reduced to returning a default value
    (`return {};` in C++, 0/false/null in Java; nothing for void); None when no definition is found."""
    masked = mask_c_like(solution, java=java)
    edits = []
    for m in re.finditer(rf"(?<![\w.]){re.escape(name)}\s*\(", masked):
        close = _match_paren(masked, m.end() - 1)
        if close < 0:
            continue
        q = _C_QUALIFIERS.match(masked, close + 1)
        if not q:
            continue
        open_brace = q.end() - 1
        end = match_brace(masked, open_brace)
        if end < 0:
            continue
        start = max(masked.rfind(";", 0, m.start()), masked.rfind("}", 0, m.start()),
                    masked.rfind("{", 0, m.start()))
        head = masked[start + 1:m.start()].split()
        head = [w for w in head if w not in ("public", "private", "protected", "static", "final", "inline",
                                             "constexpr", "virtual", "synchronized", "abstract")]
        if not head or head[-1] in ("void", "new", "return", "=") or head[-1].endswith("="):
            body = "{ }" if head and head[-1] == "void" else None
            if body is None:
                continue  # a call, not a definition (or a constructor): leave it
        elif java:
            body = "{ return " + _JAVA_DEFAULTS.get(head[-1], "null") + "; }"
        else:
            body = "{ return {}; }"
        edits.append((open_brace, end + 1, body))
    if not edits:
        return None
    out = solution
    for a, b, body in sorted(edits, reverse=True):
        out = out[:a] + body + out[b:]
    return out


_CPP_MAIN = re.compile(r"\b(?:int|signed|auto|void)\s+main\s*\(")
_CPP_CHECKS = re.compile(
    r"\bassert\s*\(|\bstatic_assert\s*\(|\babort\s*\(|\bexit\s*\(\s*(?!0\s*\))[^)\s]|\bEXIT_FAILURE\b"
    r"|\breturn\s+(?!0\s*;)[^;\s]|\bthrow\b")


def _find_c_main(src: str, masked: str, regex: re.Pattern) -> tuple[int, int, int, int] | None:
    """(decl start, name start, open brace, close brace) of a depth-0 `main` definition."""
    depths = _depth_map(masked)
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
    depths = _depth_map(masked)
    for m in _C_FUNC_DEF.finditer(masked):
        if depths[m.start()] == 0 and m.group(1) not in _C_KEYWORDS:
            return True
    return any(depths[m.start()] == 0 for m in _C_TYPE_DEF.finditer(masked))


def _build_cpp(check: ExecutionCheck, marker: str | None = None) -> _Built:
    solution, tests = check.solution, check.tests
    msol, mtests = mask_c_like(solution), mask_c_like(tests)
    if not _CPP_CHECKS.search(mtests):
        return _Built(static_reason="no_asserts",
                      static_detail="the tests check nothing (no assert/abort/exit/throw)")
    why = _c_calls_solution(check, msol, mtests)
    if why:
        return _Built(static_reason="no_asserts", static_detail=why)
    test_main = _find_c_main(tests, mtests, _CPP_MAIN)
    if test_main is None:
        if _has_c_definitions(mtests):
            return _Built(static_reason="no_asserts", static_detail="the tests define functions but no main()")
        pre = [ln for ln in tests.splitlines() if ln.lstrip().startswith("#") or ln.strip().startswith("using ")]
        body = [ln for ln in tests.splitlines() if ln not in pre]
        tests = "\n".join(pre) + "\nint wizardcoder_tests_main() {\n" + "\n".join(body) + "\n    return 0;\n}\n"
        call_args = ""
    else:
        start, name, _, close = test_main
        params = mtests[mtests.find("(", name) + 1:mtests.find(")", name)].strip()
        call_args = "" if params in ("", "void") else "argc, argv"
        tests = (tests[:start] + "int wizardcoder_tests_main" + tests[name + 4:close] + "    return 0;\n"
                 + tests[close:])
    sol_main = _find_c_main(solution, msol, _CPP_MAIN)
    if sol_main is not None:
        solution = solution[:sol_main[0]] + "/* main() of the solution removed */" + solution[sol_main[3] + 1:]
    # every #include goes first, so a header only the tests include is there for the solution too
    # (`#include "solution.h"`-style local headers do not exist here: they are dropped)
    local_include = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"[^"\n]*"[ \t]*$', re.MULTILINE)
    solution, tests = local_include.sub("", solution), local_include.sub("", tests)
    includes = list(dict.fromkeys(ln.strip() for ln in (solution + "\n" + tests).splitlines()
                                  if re.match(r"\s*#\s*include\b", ln)))
    marker = marker or _marker()
    program = (
        "\n".join(includes) + "\n\n" + solution + "\n\n#undef NDEBUG\n#include <cassert>\n\n" + tests
        + "\n\n#include <cstdio>\n#include <iostream>\n"
        "int main(int argc, char** argv) {\n    (void)argc; (void)argv;\n"
        f"    int wizardcoder_rc = wizardcoder_tests_main({call_args});\n"
        "    std::cout.flush();\n    std::fflush(stdout);\n"
        f'    if (wizardcoder_rc == 0) {{ std::printf("\\n%s\\n", "{marker}"); std::fflush(stdout); }}\n'
        "    return wizardcoder_rc;\n}\n")
    return _Built(program=program, marker=marker)


# ============================================================================================= Java
_JAVA_TYPE = re.compile(r"\b(class|interface|enum|record)\s+([A-Za-z_]\w*)")
_JAVA_IMPORT = re.compile(r"^\s*import\s+(?:static\s+)?[\w.]+(?:\.\*)?\s*;\s*$")
_JAVA_PACKAGE = re.compile(r"^\s*package\s+[\w.]+\s*;\s*$")
_JAVA_MAIN = re.compile(r"\bvoid\s+main\s*\(")
_JAVA_METHOD = re.compile(r"(?<![\w<>\[\]?,.])[\w<>\[\]?,.]+\s+([A-Za-z_]\w*)\s*\([^()]*\)\s*(?:throws\s+[\w.,\s]+)?\{")
_JAVA_CHECKS = re.compile(r"\bassert\b|\bthrow\b|\bSystem\s*\.\s*exit\s*\(\s*(?!0\s*\))[^)\s]|\bfail\s*\(")


@dataclass
class _JavaItem:
    text: str
    kind: str  # "import" | "package" | "type" | "member" | "blank"
    name: str = ""


def _java_items(src: str) -> list[_JavaItem]:
    """Split Java source into its depth-0 items: imports, package, types, other (members/statements)."""
    masked = mask_c_like(src, java=True)
    items: list[_JavaItem] = []
    depth, start = 0, 0
    for k, ch in enumerate(masked):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                items.append(_classify(src[start:k + 1], masked[start:k + 1]))
                start = k + 1
        elif ch == ";" and depth == 0:
            items.append(_classify(src[start:k + 1], masked[start:k + 1]))
            start = k + 1
    if src[start:].strip():
        items.append(_classify(src[start:], masked[start:]))
    return [it for it in items if it.kind != "blank"]


def _classify(text: str, masked: str) -> _JavaItem:
    stripped = masked.strip()
    if not stripped:
        return _JavaItem(text, "blank")
    if _JAVA_IMPORT.match(stripped):
        return _JavaItem(text, "import")
    if _JAVA_PACKAGE.match(stripped):
        return _JavaItem(text, "package")
    brace = masked.find("{")
    header = masked[:brace] if brace >= 0 else masked
    m = _JAVA_TYPE.search(header)
    before = re.sub(r"@[\w.]+\s*(?:\([^()]*\))?", " ", header[:m.start()]) if m else ""
    if m and "(" not in before and "=" not in before:
        return _JavaItem(text, "type", m.group(2))
    return _JavaItem(text, "member")


def _java_unpublic(type_text: str) -> str:
    """A top-level type declaration without its `public` modifier (comments and annotations kept)."""
    masked = mask_c_like(type_text, java=True)
    m = _JAVA_TYPE.search(masked)
    if not m:
        return type_text
    publics = list(re.finditer(r"\bpublic\b\s*", masked[:m.start()]))
    if not publics:
        return type_text
    public = publics[-1]
    return type_text[:public.start()] + type_text[public.end():]


def _java_body_insert(type_text: str, members: str) -> str:
    """`members` inserted before the closing brace of a type declaration."""
    close = type_text.rfind("}")
    return type_text[:close] + "\n" + members + "\n" + type_text[close:]


def _java_remove_main(text: str) -> str:
    """`text` (a type or members) without its `static void main(...)` methods."""
    while True:
        masked = mask_c_like(text, java=True)
        m = _JAVA_MAIN.search(masked)
        if not m:
            return text
        start = max(masked.rfind(";", 0, m.start()), masked.rfind("}", 0, m.start()),
                    masked.rfind("{", 0, m.start())) + 1
        open_brace = masked.find("{", m.end())
        close = match_brace(masked, open_brace) if open_brace >= 0 else -1
        if close < 0:
            return text
        text = text[:start] + "\n" + text[close + 1:]


def _java_has_method(masked: str) -> bool:
    return any(m.group(1) not in _C_KEYWORDS or m.group(1) == "main" for m in _JAVA_METHOD.finditer(masked))


def _build_java(check: ExecutionCheck, marker: str | None = None) -> _Built:
    msol, mtests = mask_c_like(check.solution, java=True), mask_c_like(check.tests, java=True)
    if not _JAVA_CHECKS.search(mtests):
        return _Built(static_reason="no_asserts",
                      static_detail="the tests check nothing (no assert/throw/System.exit(nonzero))")
    why = _c_calls_solution(check, msol, mtests)
    if why:
        return _Built(static_reason="no_asserts", static_detail=why)

    sol_items, test_items = _java_items(check.solution), _java_items(check.tests)
    imports = list(dict.fromkeys(it.text.strip() for it in sol_items + test_items if it.kind == "import"))
    sol_types = [it for it in sol_items if it.kind == "type"]
    sol_members = "\n".join(it.text for it in sol_items if it.kind == "member").strip()
    test_types = [it for it in test_items if it.kind == "type"]
    test_rest = "\n".join(it.text for it in test_items if it.kind == "member").strip()
    test_members = ""
    if test_rest:
        if _java_has_method(mask_c_like(test_rest, java=True)):
            test_members = test_rest
        else:  # bare statements: the body of main
            test_members = "public static void main(String[] args) throws Throwable {\n" + test_rest + "\n}"

    def has_main(text: str) -> bool:
        return bool(_JAVA_MAIN.search(mask_c_like(text, java=True)))

    if not (has_main(test_members) or any(has_main(t.text) for t in test_types)):
        return _Built(static_reason="no_asserts",
                      static_detail="the tests have no main method: nothing runs them")

    # the solution's own main goes; the tests' main is renamed and wrapped to print the marker
    sol_types = [_JavaItem(_java_remove_main(t.text), "type", t.name) for t in sol_types]
    sol_members = _java_remove_main(sol_members) if sol_members else ""
    marker = marker or _marker()
    wrapper = ("\npublic static void main(String[] args) throws Throwable {\n"
               "    wizardcoderTestsMain(args);\n    System.out.flush();\n    System.out.println();\n"
               f'    System.out.println("{marker}");\n    System.out.flush();\n}}\n')

    def rename_main(text: str) -> str:
        masked = mask_c_like(text, java=True)
        m = _JAVA_MAIN.search(masked)
        if not m:
            return text
        name = masked.rfind("main", m.start(), m.end())
        return text[:name] + "wizardcoderTestsMain" + text[name + 4:]

    if test_members and has_main(test_members):
        test_members = rename_main(test_members) + wrapper
    test_types = [_JavaItem(_java_body_insert(rename_main(t.text), wrapper) if has_main(t.text) else t.text,
                            "type", t.name) for t in test_types]

    sol_by_name = {t.name: i for i, t in enumerate(sol_types)}
    extra_types: list[str] = []
    for t in test_types:  # a test type named like a solution type is merged into it
        if t.name in sol_by_name:
            i = sol_by_name[t.name]
            body = t.text[t.text.find("{", _JAVA_TYPE.search(mask_c_like(t.text, java=True)).end()) + 1:
                          t.text.rfind("}")]
            sol_types[i] = _JavaItem(_java_body_insert(sol_types[i].text, body), "type", t.name)
        else:
            extra_types.append(t.text)
    host_index = next((i for i, t in enumerate(sol_types)
                       if re.search(r"\bclass\b", mask_c_like(t.text, java=True).split("{", 1)[0])), None)
    generated_main_class = ""
    if sol_members:
        main_test = next((i for i, t in enumerate(extra_types) if has_main(t)), None)
        if main_test is not None and not test_members:
            extra_types[main_test] = _java_body_insert(extra_types[main_test], sol_members)
            sol_members = ""
    if test_members or sol_members:
        members = "\n".join(x for x in (sol_members, test_members) if x)
        if host_index is not None and not sol_members:
            sol_types[host_index] = _JavaItem(_java_body_insert(sol_types[host_index].text, members), "type",
                                              sol_types[host_index].name)
        else:
            name = "Main" if "Main" not in sol_by_name and all(t.name != "Main" for t in test_types) \
                else "WizardcoderMain"
            generated_main_class = f"class {name} {{\n{members}\n}}"
    parts = [*(t.text for t in sol_types), generated_main_class, *extra_types]
    parts = [_java_unpublic(p.strip()) for p in parts if p.strip()]
    program = "\n".join(imports) + "\n\n" + "\n\n".join(parts) + "\n"
    return _Built(program=program, marker=marker)


# ============================================================================================ verify
def build(check: ExecutionCheck, cfg: EliminateConfig) -> _Built:
    """The program (and mutant) for one check, or the static verdict."""
    language = check.language.lower()
    language = {"py": "python", "python3": "python", "c++": "cpp", "cxx": "cpp"}.get(language, language)
    if not check.solution.strip():
        return _Built(static_reason="failed", static_detail="empty solution")
    if not check.tests.strip():
        return _Built(static_reason="no_asserts", static_detail="no tests")
    if language == "python":
        return _build_python(check, "python" in cfg.mutation_check)
    if language in ("cpp", "java"):
        builder = _build_cpp if language == "cpp" else _build_java
        built = builder(check)
        if built.program is not None and language in cfg.mutation_check and check.entry_point:
            name = check.entry_point.split(".")[-1].split("::")[-1]
            mutated = _mutate_c_like(check.solution, name, java=language == "java")
            if mutated is not None:
                mutant = builder(dataclasses.replace(check, solution=mutated), marker=built.marker)
                built.mutant, built.mutated = mutant.program, (name,)
        return built
    raise UnknownLanguage(f"check {check.key}: unknown language {check.language!r} (python, cpp, java)")


def _tail(text: str, limit: int, marker: str | None = None) -> str:
    if marker:
        text = text.replace(marker, "")
    return text[-limit:] if limit else ""


def _reason_of(result: Result) -> str:
    if result.status is Status.ERROR:
        return "infra_error"
    if result.status is Status.TIMEOUT:
        return "timeout"
    if result.status is Status.PASSED:
        return "passed"
    if result.reason == "compile_error":
        return "compile_error"
    return "failed"


def _verdict(check: ExecutionCheck, built: _Built, result: Result | None, mutant: Result | None,
             cfg: EliminateConfig) -> Verdict:
    limit = cfg.tail_chars
    if result is None:
        return Verdict(check.key, False, built.static_reason or "failed", NOT_RUN, 0.0, "",
                       _tail(built.static_detail, limit))
    reason = _reason_of(result)
    duration = result.duration
    stderr = result.stderr if reason != "compile_error" or result.stderr else result.reason
    if reason == "passed" and mutant is not None:
        duration += mutant.duration
        if mutant.status is Status.ERROR:
            reason = "infra_error"
            stderr = f"mutation check: sandbox error: {mutant.reason}"
        elif mutant.status is Status.PASSED:
            reason = "no_asserts"
            stderr = (f"the tests still pass with {', '.join(built.mutated)} replaced by `return None`: "
                      "they cannot fail\n"
                      + stderr)
    if reason not in ("passed", "compile_error") and result.reason and result.reason not in stderr:
        stderr = (stderr + "\n" if stderr else "") + f"[sandbox: {result.reason}]"
    return Verdict(check.key, reason == "passed", reason, result.status.value, duration,
                   _tail(result.stdout, limit, built.marker), _tail(stderr, limit))


@dataclass
class _Chunk:
    checks: list[ExecutionCheck]
    built: list[_Built]
    results: list[Result | None]
    mutants: list[Result | None]
    to_mutate: list[int]


def _job(built: _Built, language: str, cfg: EliminateConfig, mutant: bool = False) -> Job:
    return Job(built.mutant if mutant else built.program, language=language, timeout=cfg.timeout,
               memory_mb=cfg.memory_mb, files=built.files, success_marker=built.marker)


def _build_safely(check: ExecutionCheck, cfg: EliminateConfig) -> _Built:
    try:
        return build(check, cfg)
    except RecursionError:
        return _Built(static_reason="compile_error", static_detail="program too deeply nested to parse")
    except UnknownLanguage:
        raise  # the caller's mistake, not the sample's
    except Exception as exc:  # a bug of ours must not end a long run nor blame the sample
        log.exception("could not build the program for check %s", check.key)
        return _Built(static_reason="infra_error",
                      static_detail=f"wizardcoder could not build the program: {exc!r}")


def verify(sandbox, checks: Iterable[ExecutionCheck], cfg: EliminateConfig | None = None,
           progress: Callable[[Verdict], None] | None = None) -> Iterator[Verdict]:
    """Verdicts for `checks`, in input order, computed `cfg.chunk_size` at a time (flat memory).

    Each `sandbox.run_many` call holds the programs of one chunk plus the mutation-check programs of the
    previous chunk (those that passed), so the mutation runs never get a round trip of their own; a
    chunk's verdicts are yielded as soon as they are complete. `progress(verdict)` is called for each
    verdict as it is yielded. A sandbox that raises (e.g. closed) propagates; ERROR results become
    "infra_error" verdicts.
    """
    cfg = cfg or EliminateConfig()
    iterator = iter(checks)
    pending: _Chunk | None = None  # ran, waiting for its mutation runs
    while True:
        checks_now = list(itertools.islice(iterator, cfg.chunk_size))
        built = [_build_safely(c, cfg) for c in checks_now]
        runnable = [i for i, b in enumerate(built) if b.program is not None]
        jobs = [_job(built[i], checks_now[i].language, cfg) for i in runnable]
        mutant_jobs = [_job(pending.built[i], pending.checks[i].language, cfg, mutant=True)
                       for i in pending.to_mutate] if pending else []
        if not jobs and not mutant_jobs and not checks_now:
            return
        answers = sandbox.run_many(mutant_jobs + jobs) if (jobs or mutant_jobs) else []
        if pending is not None:
            for i, res in zip(pending.to_mutate, answers[:len(mutant_jobs)]):
                pending.mutants[i] = res
            yield from _finish(pending, cfg, progress)
            pending = None
        if not checks_now:
            return
        current = _Chunk(checks_now, built, [None] * len(checks_now), [None] * len(checks_now), [])
        for i, res in zip(runnable, answers[len(mutant_jobs):]):
            current.results[i] = res
        current.to_mutate = [i for i in runnable
                             if built[i].mutant is not None and current.results[i].status is Status.PASSED]
        if current.to_mutate:
            pending = current
        else:
            yield from _finish(current, cfg, progress)


def _finish(chunk: _Chunk, cfg: EliminateConfig, progress) -> Iterator[Verdict]:
    for i, check in enumerate(chunk.checks):
        verdict = _verdict(check, chunk.built[i], chunk.results[i], chunk.mutants[i], cfg)
        if progress is not None:
            progress(verdict)
        yield verdict


__all__ = ["REASONS", "ExecutionCheck", "Verdict", "build", "mask_c_like", "match_brace", "verify"]
