"""The Python builder: solution (its `if __name__ == "__main__":` blocks removed) + tests + a runner + a success
marker, a fresh random nonce per check written to stdout at the very end, so `exit(0)` or
`os._exit(0)` before the tests never passes. What the failure path needs (`os._exit`, `os.write`, the
streams) is captured at the top, before the solution runs. Tests may be plain asserts, a HumanEval-style
`def check(candidate)` (called with the entry point when nothing calls it), pytest-style `test_*`
functions / `Test*` classes nobody calls (run under real pytest by `pytest_driver.py`, shipped with the
program: the success marker only after a session that passed, by the rules written there), or
`unittest.TestCase` classes (run by a runner; `unittest.main()` / `pytest.main()`, also inside
`sys.exit(...)`, and a final `sys.exit(0)` are neutralised). The tests' top-level imports are moved before the solution; a name they
import that the solution also defines is "failed" (ambiguous: the solution's would replace the tests' oracle).
Tests that import pytest get the real one (the sandbox image has Debian's python3-pytest; the local backend
uses the host's, a dependency of wizardcoder): such a job requires pytest, and a sandbox without it answers
an infrastructure error, never a verdict.
`from solution import f` where the solution defines `f` is dropped; `import solution` binds the
program itself. Static checks (ast): the tests must assert something (assert statements, `assert*`
calls, `raise`, `pytest.raises`, `pytest.warns`) and reference the entry point or a function/class the
solution defines (and does not redefine it). Then "tests must be able to fail": when the program passes,
it runs again with the body of the entry point (or the called solution functions) replaced by
`return None`; if that still passes, the tests check nothing: "tests_cannot_fail" (this also catches
assertions swallowed by `try/except Exception`). A second nonce (`Built.started_marker`) is printed
once the solution's module-level code is done: a mutant that fails without it never reached the tests.
"""

from __future__ import annotations

import ast
import importlib.resources
import re
import sys
from types import SimpleNamespace

from wizardcoder.execution import new_marker
from wizardcoder.languages.base import Built, ExecutionCheck, TokenBudget
from wizardcoder.languages.python_reading import (
    declares,
    defined_names,
    entry_point,
    fit_reply,
    join_tests,
    looks_like_code,
    looks_like_tests,
    prompt_entry_point,
    salvage_tests,
    split_tests,
    strip_comments,
)
from wizardcoder.languages.python_runner import call_name, test_runner
from wizardcoder.reasons import Reason

# Runs pytest-style tests under real pytest inside the sandbox; shipped with each such program as DRIVER_FILE,
# and the marker as MARKER_FILE, which the driver deletes before the solution runs (so no file holds it).
PYTEST_DRIVER = importlib.resources.files(__package__).joinpath("pytest_driver.py").read_text(encoding="utf-8")
DRIVER_FILE, MARKER_FILE = "_wc_pytest.py", ".wc-marker"

DISPLAY_NAME = "Python"
TOKEN_BUDGET = TokenBudget(local=(128, 320), endpoint=(512, 1024))

_ASSERT_CALL = re.compile(r"^(assert|fail)")
_SOLUTION_MODULES = {"solution", "main", "code", "program", "submission", "answer"}


def _lines(src: str) -> list[str]:
    """The lines as ast numbers them (str.splitlines also splits on form feeds and other separators)."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", src)


def _src_offsets(src: str) -> list[int]:
    """Character offset of the start of each line (1-based lines -> index lineno-1)."""
    offsets, pos = [], 0
    for line in _lines(src):
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
    lines = _lines(src)
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


def _py_has_checks(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assert, ast.Raise)):
            return True
        if isinstance(node, ast.Call):
            name = call_name(node)
            last = name.rsplit(".", 1)[-1]
            if _ASSERT_CALL.match(last) or name.endswith(("raises", "warns", "deprecated_call")):
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
    for line in _lines(src):  # not str.splitlines: a form feed inside a string literal is no line end
        if re.match(r"\s*from\s+__future__\s+import\b", line) and not line.startswith((" ", "\t")):
            futures.append(line.strip())
        else:
            rest.append(line)
    return futures, "".join(rest)


def _body_span(body: list[ast.stmt], lines: list[str]) -> SimpleNamespace:
    """The source span of a body; a decorated first statement begins at its first decorator's line
    (a decorator always starts its line, after the indentation)."""
    first = body[0]
    line, col = first.lineno, first.col_offset
    decorators = getattr(first, "decorator_list", [])
    if decorators:
        line = min(d.lineno for d in decorators)
        text = lines[line - 1] if line - 1 < len(lines) else ""
        col = len(text.encode("utf-8")) - len(text.lstrip().encode("utf-8"))
    return SimpleNamespace(lineno=line, col_offset=col, end_lineno=body[-1].end_lineno,
                           end_col_offset=body[-1].end_col_offset)


def _mutate(solution: str, targets: set[str]) -> tuple[str | None, tuple[str, ...]]:
    """The solution with the bodies of the target functions (or all methods of target classes) replaced
    by `return None`, edited in place in the source text (`ast.unparse` recurses too deep on some valid
    code); (None, ()) when nothing could be mutated."""
    tree = ast.parse(solution)
    lines = _lines(solution)
    edits: list[tuple[object, str]] = []
    mutated: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in targets:
            edits.append((_body_span(node.body, lines), "return None"))
            mutated.append(node.name)
        elif isinstance(node, ast.ClassDef) and node.name in targets:
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    edits.append((_body_span(item.body, lines), "return None"))
                    mutated.append(f"{node.name}.{item.name}")
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda) and any(
                isinstance(t, ast.Name) and t.id in targets for t in node.targets):  # add = lambda a, b: a + b
            edits.append((node.value.body, "None"))
            mutated.append(next(t.id for t in node.targets if isinstance(t, ast.Name) and t.id in targets))
    if not mutated:
        return None, ()
    mutant = _replace_nodes(solution, edits)  # nested targets: the outer body's edit wins
    ast.parse(mutant)  # a SyntaxError here is ours: the caller reports that no mutant could be built
    return mutant, tuple(mutated)


_RUNNERS = ("unittest.main", "main", "pytest.main")
_EXITS = ("sys.exit", "exit", "quit", "os._exit", "SystemExit")


def _is_runner_call(node: ast.Expr | ast.Raise, defined: dict, test_defs: dict) -> bool:
    """`unittest.main()` / `pytest.main([...])`, bare or as the status of `sys.exit(...)` /
    `raise SystemExit(...)`: it would end the program before the marker (the builder runs the tests)."""
    call = node.value if isinstance(node, ast.Expr) else node.exc
    if isinstance(call, ast.Call) and call_name(call) in _EXITS and len(call.args) == 1:
        call = call.args[0]
    if not isinstance(call, ast.Call) or call_name(call) not in _RUNNERS:
        return False
    # a bare main() is unittest's (from unittest import main) unless either side defines a main
    return call_name(call) != "main" or ("main" not in defined and "main" not in test_defs)


def _final_exit(tree: ast.Module) -> ast.stmt | None:
    """The tests' last statement (at top level or ending a top-level `__main__` block) when it is an
    unconditional successful exit: `sys.exit(0)`, `exit()`, `raise SystemExit`."""
    body = tree.body
    if body and _is_main_guard(body[-1]) and not body[-1].orelse:
        body = body[-1].body
    last = body[-1] if body else None
    if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and call_name(last.value) in _EXITS:
        call = last.value
    elif isinstance(last, ast.Raise) and last.exc is not None and call_name(last.exc) == "SystemExit":
        call = last.exc
    else:
        return None
    if not isinstance(call, ast.Call):
        return last  # raise SystemExit
    ok = not call.args or isinstance(call.args[0], ast.Constant) and call.args[0].value in (0, None)
    return last if ok and len(call.args) <= 1 and not call.keywords else None


def _import_bindings(node: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """name an import binds -> where it comes from."""
    if isinstance(node, ast.ImportFrom):
        return {a.asname or a.name: f"from {node.module}" for a in node.names if a.name != "*"}
    return {a.asname or a.name.split(".")[0]: f"import {a.name}" for a in node.names}


def _solution_bindings(tree: ast.Module) -> set[str]:
    """Names the solution's top-level code defines or assigns (its imports excluded)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            stack = list(targets)
            while stack:  # a, (b, *c) = ...; not d[k] = ... (a use of d, not a binding)
                target = stack.pop()
                if isinstance(target, ast.Name):
                    names.add(target.id)
                elif isinstance(target, (ast.Tuple, ast.List)):
                    stack.extend(target.elts)
                elif isinstance(target, ast.Starred):
                    stack.append(target.value)
    return names


def _imports_pytest(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "pytest" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pytest":
            return True
    return False


# Captured before the solution runs, so that a solution patching `sys.exit`, `os._exit`, `os.write` or
# `sys.stdout` cannot turn a failed run into a passing one (an in-process guard, not a security boundary).
_CAPTURE = ("import os as _wc_os, sys as _wc_sys\n"
            "_wc_exit, _wc_write = _wc_os._exit, _wc_os.write\n"
            "_wc_stdout, _wc_stderr = _wc_sys.stdout, _wc_sys.stderr\n")

def build(check: ExecutionCheck, mutation: bool) -> Built:
    """The program for a Python check (with its mutant when `mutation`), or the static verdict."""
    try:
        sol_tree = ast.parse(check.solution)
    except SyntaxError as exc:
        return Built(static_reason=Reason.COMPILE_ERROR, static_detail=f"solution: SyntaxError: {exc}")
    try:
        test_tree = ast.parse(check.tests)
    except SyntaxError as exc:
        return Built(static_reason=Reason.COMPILE_ERROR, static_detail=f"tests: SyntaxError: {exc}")
    if not _py_has_checks(test_tree):
        return Built(static_reason=Reason.NO_ASSERTS, static_detail="the tests assert nothing")

    defined = _top_level_defs(sol_tree)
    test_defs = _top_level_defs(test_tree)
    anywhere = {n.name for n in ast.walk(sol_tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                     ast.ClassDef))}
    entry_names = set(check.entry_point.split(".")) & anywhere if check.entry_point else set()
    solution_names = (set(defined) | entry_names) - set(test_defs)
    runner = test_runner(test_tree, check.entry_point)
    used = solution_names & (_referenced(test_tree) | set(_referenced(ast.parse(runner.code)) if runner.code else ()))
    if not used:
        shadow = (set(defined) | entry_names) & set(test_defs)
        detail = (f"the tests redefine {sorted(shadow)} instead of calling the solution" if shadow
                  else "the tests never reference the solution's functions")
        return Built(static_reason=Reason.NO_ASSERTS, static_detail=detail)
    if runner.problem:
        return Built(static_reason=Reason.FAILED, static_detail=runner.problem)
    if not runner.runs:
        return Built(static_reason=Reason.NO_ASSERTS,
                      static_detail="nothing in the tests runs (no calls, no runner)")

    # the solution without its __main__ demo; tests without unittest.main()/solution imports
    solution = _replace_nodes(check.solution, [(n, "pass") for n in sol_tree.body if _is_main_guard(n)])
    edits: list[tuple[ast.AST, str]] = []
    for node in ast.walk(test_tree):
        if isinstance(node, (ast.Expr, ast.Raise)) and _is_runner_call(node, defined, test_defs):
            edits.append((node, "pass"))
    exit_at_end = _final_exit(test_tree)
    if exit_at_end is not None:  # `sys.exit(0)` after the last test: the tests are done, the marker comes next
        edits.append((exit_at_end, "pass"))
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
    imported: dict[str, str] = {}  # name the hoisted imports bind -> the import
    for node in test_tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in edited \
                and not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            segment = ast.get_source_segment(check.tests, node)
            if segment:
                hoisted.append(segment.strip())
                edits.append((node, "pass"))
                imported.update(_import_bindings(node))
    # one namespace for both: the solution's own `gcd` would replace the `gcd` the tests import as their
    # oracle, and the tests would then check the solution against itself
    clash = sorted(set(imported) & _solution_bindings(sol_tree))
    if clash:
        return Built(static_reason=Reason.FAILED, static_detail=(
            f"the tests import {', '.join(f'{n} ({imported[n]})' for n in clash)} and the solution defines "
            f"{'that name' if len(clash) == 1 else 'those names'} too: which one the tests mean is ambiguous "
            "(in one program the solution's would silently replace the tests' own)"))
    tests = _replace_nodes(check.tests, edits)

    marker, started = new_marker(), new_marker().replace("PASS", "STARTED", 1)
    fut_s, solution = _hoist_future(solution)
    fut_t, tests = _hoist_future(tests)
    futures = list(dict.fromkeys(fut_s + fut_t))
    # printed once the solution's module-level code is done: a mutant that fails without it never reached
    # the tests, which proves nothing about them
    start = f"_wc_write(1, b'\\n{started}\\n')\n"
    files: dict[str, str] = {}
    if runner.pytest_names:  # the program is the driver (as __main__) and the module pytest imports (as main)
        driver = ("if __name__ == \"__main__\":  # pytest runs the tests, importing this file as `main`\n"
                  "    import pytest  # (the sandbox's worker warms pytest up for the programs that import it)\n"
                  f"    import {DRIVER_FILE[:-3]}\n"
                  f"    {DRIVER_FILE[:-3]}.run(__file__, {runner.pytest_names!r}, {runner.pytest_required!r}, "
                  f"{MARKER_FILE!r})\n")
        head = "\n".join([*futures, driver, _CAPTURE, *dict.fromkeys(hoisted)])
        tail = "\n"
        files = {DRIVER_FILE: PYTEST_DRIVER, MARKER_FILE: marker}
    else:
        head = "\n".join([*futures, _CAPTURE, *dict.fromkeys(hoisted)])
        tail = ("\n\n" + runner.code +
                "\n_wc_stdout.flush()\n"
                f"_wc_write(1, b'\\n{marker}\\n')\n")

    def assemble(sol: str) -> str:
        return head + "\n" + sol + "\n\n" + start + tests + tail

    requires = ("pytest",) if runner.pytest_names or _imports_pytest(test_tree) else ()
    built = Built(program=assemble(solution), marker=marker, started_marker=started, files=files,
                  requires=requires)
    if mutation:
        if check.entry_point:
            targets = {check.entry_point.split(".")[-1]} | ({check.entry_point.split(".")[0]} & set(defined))
        else:
            targets = used
        try:
            mutant_solution, mutated = _mutate(solution, targets)
            if mutant_solution is None and targets != used:
                mutant_solution, mutated = _mutate(solution, used)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            mutant_solution, mutated = None, ()
            built.no_mutant = f"breaking {', '.join(sorted(targets))} failed ({type(exc).__name__})"
        if mutant_solution is not None:
            built.mutant = assemble(mutant_solution)
            built.mutated = mutated
        elif not built.no_mutant:
            built.no_mutant = f"{', '.join(sorted(used))} has no function body to break"
    return built


# ============================================================================== eval's sample program
def sample_program(prompt: str, tests: str, marker: str, completion: str | None = None,
                   solution: str | None = None, entry_point: str = "") -> str:
    """`prompt + completion + tests`, or `solution + tests` for a full program, then the marker."""
    if solution is not None:
        return with_marker(solution.rstrip("\n") + "\n" + tests, marker)
    return with_marker(prompt + (completion or "") + tests, marker)


def with_marker(text: str, marker: str) -> str:
    """`marker` printed at the end of the script."""
    return text.rstrip("\n") + f"\n\nimport os as _wc_os\n_wc_os.write(1, b\"\\n{marker}\\n\")\n"


# the language interface (`base.INTERFACE`, most of it from python_reading.py) and the names other modules
# import: written out, so that linters see the imports above as exported
__all__ = [
    "DISPLAY_NAME",
    "PYTEST_DRIVER",
    "TOKEN_BUDGET",
    "build",
    "declares",
    "defined_names",
    "entry_point",
    "fit_reply",
    "join_tests",
    "looks_like_code",
    "looks_like_tests",
    "prompt_entry_point",
    "salvage_tests",
    "sample_program",
    "split_tests",
    "strip_comments",
    "with_marker",
]
