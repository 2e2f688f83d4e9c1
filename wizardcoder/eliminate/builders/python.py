"""The Python builder: solution (its `if __name__ == "__main__":` blocks removed) + tests + a runner + a success
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
`return None`; if that still passes, the tests check nothing: "tests_cannot_fail" (this also catches
assertions swallowed by `try/except Exception`).
"""

from __future__ import annotations

import ast
import importlib.resources
import re
import sys

from wizardcoder.eliminate.checks import Built, ExecutionCheck
from wizardcoder.execution import new_marker

# The sandbox image has no pytest; tests that `import pytest` get the stand-in in pytest_shim.py (the same everywhere,
# so a verdict does not depend on what the host has installed). Fixtures are not supported: a test
# function that needs arguments runs only through `mark.parametrize`.
PYTEST_SHIM = importlib.resources.files(__package__).joinpath("pytest_shim.py").read_text(encoding="utf-8")

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
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda) and any(
                isinstance(t, ast.Name) and t.id in targets for t in node.targets):  # add = lambda a, b: a + b
            node.value.body = ast.Constant(value=None)
            mutated.append(next(t.id for t in node.targets if isinstance(t, ast.Name) and t.id in targets))
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


def build(check: ExecutionCheck, mutation: bool) -> Built:
    """The program for a Python check (with its mutant when `mutation`), or the static verdict."""
    try:
        sol_tree = ast.parse(check.solution)
    except SyntaxError as exc:
        return Built(static_reason="compile_error", static_detail=f"solution: SyntaxError: {exc}")
    try:
        test_tree = ast.parse(check.tests)
    except SyntaxError as exc:
        return Built(static_reason="compile_error", static_detail=f"tests: SyntaxError: {exc}")
    if not _py_has_checks(test_tree):
        return Built(static_reason="no_asserts", static_detail="the tests assert nothing")

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
        return Built(static_reason="no_asserts", static_detail=detail)

    if not runs:
        return Built(static_reason="no_asserts",
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

    marker = new_marker()
    fut_s, solution = _hoist_future(solution)
    fut_t, tests = _hoist_future(tests)
    head = "\n".join([*dict.fromkeys(fut_s + fut_t), *dict.fromkeys(hoisted)])
    tail = ("\n\n" + runner +
            "\nimport os as _wc_os, sys as _wc_sys\n"
            "_wc_sys.stdout.flush()\n"
            f"_wc_os.write(1, b'\\n{marker}\\n')\n")

    def assemble(sol: str) -> str:
        return (head + "\n" if head else "") + sol + "\n\n" + tests + tail

    built = Built(program=assemble(solution), marker=marker,
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


