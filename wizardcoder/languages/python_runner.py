"""How a Python check's tests are made to run (`test_runner`): pytest-style `test_*` functions and
`Test*` classes nobody calls (under real pytest, with any `unittest.TestCase` classes beside them: see
pytest_driver.py), `unittest.TestCase` classes alone (a runner that records failures itself), a
HumanEval-style `check(candidate)`, or the tests' own top-level code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


def call_name(node: ast.AST) -> str:
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


def called_anywhere(tree: ast.Module, name: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
            return True
    return False


# unittest's own bookkeeping (wasSuccessful, sys.exit) can be patched by the solution while the tests run:
# failures are also recorded here first, and the marker is unreachable after one.
_UNITTEST_RUNNER = """import unittest as _wc_unittest
_wc_ran, _wc_bad = [], []
class _WcResult(_wc_unittest.TextTestResult):
    def startTest(self, test):
        _wc_ran.append(test)
        super().startTest(test)
    def addError(self, test, err):
        _wc_bad.append(test)
        super().addError(test, err)
    def addFailure(self, test, err):
        _wc_bad.append(test)
        super().addFailure(test, err)
    def addUnexpectedSuccess(self, test):
        _wc_bad.append(test)
        super().addUnexpectedSuccess(test)
    def addSubTest(self, test, subtest, err):
        if err is not None:
            _wc_bad.append(subtest)
        super().addSubTest(test, subtest, err)
_wc_suite = _wc_unittest.defaultTestLoader.loadTestsFromModule(_wc_sys.modules[__name__])
_wc_unittest.TextTestRunner(stream=_wc_stderr, verbosity=1, resultclass=_WcResult).run(_wc_suite)
if _wc_bad or not _wc_ran:
    for _wc_stream in (_wc_stdout, _wc_stderr):
        try:
            _wc_stream.flush()
        except BaseException:
            pass
    _wc_exit(1)
    raise SystemExit(1)
"""


@dataclass
class Runner:
    code: str = ""  # appended after the tests: makes them run
    runs: bool = False  # whether anything will run the tests
    problem: str = ""  # why the tests cannot be run as written (a failure, never a silent skip)
    # pytest-style tests: the tests' top-level test functions and classes pytest is to collect (then the
    # program runs under real pytest, see pytest_driver.py), and those that must give a test (the functions)
    pytest_names: tuple[str, ...] = ()
    pytest_required: tuple[str, ...] = ()


def _is_fixture(fn: ast.AST) -> bool:
    return any(call_name(d).endswith("fixture") for d in getattr(fn, "decorator_list", ()))


def _pytest_runner(body: list[ast.stmt], funcs: list, classes: list, testcases: list) -> Runner:
    """Pytest-style tests (nobody calls them) run under real pytest, unittest classes beside them included."""
    async_fixtures = [n.name for n in ast.walk(ast.Module(body=body, type_ignores=[]))
                      if isinstance(n, ast.AsyncFunctionDef) and _is_fixture(n)]
    if async_fixtures:
        return Runner(problem="tests that cannot be run here: async fixtures need a plugin (pytest-asyncio) "
                              f"the sandbox does not have: {', '.join(sorted(async_fixtures))}")
    tests_in_classes = any(isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                           and item.name.startswith("test") for cls in classes + testcases for item in cls.body)
    names = tuple(dict.fromkeys(n.name for n in funcs + classes + testcases))
    return Runner(runs=bool(funcs) or tests_in_classes, pytest_names=names,
                  pytest_required=tuple(dict.fromkeys(f.name for f in funcs)))


def test_runner(test_tree: ast.Module, entry_point: str | None) -> Runner:
    """How the tests are made to run: pytest-style tests nobody calls, unittest classes, `check`, or the
    tests' own top-level code."""
    body = test_tree.body
    testcases = [n for n in body if isinstance(n, ast.ClassDef)
                 and any(call_name(b).endswith("TestCase") for b in n.bases)]
    test_funcs = [n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.name.startswith("test")]
    test_classes = [n for n in body if isinstance(n, ast.ClassDef) and n.name.startswith("Test")
                    and n not in testcases]
    uncalled = [f for f in test_funcs if not called_anywhere(test_tree, f.name)]
    if test_funcs and len(uncalled) == len(test_funcs) or test_classes and not any(
            called_anywhere(test_tree, c.name) for c in test_classes):
        classes = [c for c in test_classes if not called_anywhere(test_tree, c.name)]
        return _pytest_runner(body, uncalled, classes, testcases)
    if testcases:
        return Runner(_UNITTEST_RUNNER, True)
    check = next((n for n in body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    if check is not None and entry_point and not called_anywhere(test_tree, "check"):
        return Runner(f"check({entry_point.split('.')[0]})\n", True)
    # plain script: it runs itself (there is top-level code)
    runs = any(not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import,
                                  ast.ImportFrom)) for n in body)
    return Runner("", runs)
