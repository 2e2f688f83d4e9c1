"""How a Python check's tests are made to run (`test_runner`): pytest-style `test_*` functions and
`Test*` classes nobody calls (each through a helper that supplies the tests' own fixtures, setup and
teardown, `mark.parametrize` values, and runs coroutines), `unittest.TestCase` classes (a runner that
records failures itself), a HumanEval-style `check(candidate)`, or the tests' own top-level code.
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


# Runs one pytest-style test: its fixtures (the tests' own, by name; generator fixtures are finalised),
# setup/teardown, the test itself (a coroutine runs to the end). Defined before the solution runs.
_TEST_HELPER = '''import inspect as _wc_inspect
def _wc_test(test, names, auto, fixtures, setup=None, teardown=None, _isgen=_wc_inspect.isgenerator,
             _iscoro=_wc_inspect.iscoroutine, _next=next, _run={run}):
    values, finalizers = {{}}, []
    def get(name):
        if name not in values:
            fixture, deps = fixtures[name]
            value = fixture(**{{d: get(d) for d in deps}})
            if _isgen(value):
                finalizers.append(value)
                value = _next(value)
            values[name] = value
        return values[name]
    try:
        for name in auto:
            get(name)
        if setup is not None:
            setup()
        result = test(**{{n: get(n) for n in names}})
        if _iscoro(result):
            _run(result)
    finally:
        if teardown is not None:
            teardown()
        for gen in reversed(finalizers):
            _next(gen, None)
'''

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
    helper: str = ""  # goes before the solution
    problem: str = ""  # why the tests cannot be run as written (a failure, never a silent skip)


def _decorator_names(fn: ast.AST) -> list[str]:
    return [call_name(d) for d in getattr(fn, "decorator_list", ())]


def _parametrize_names(fn: ast.AST) -> set[str] | None:
    """The argument names `mark.parametrize` supplies; None when they cannot be read statically."""
    names: set[str] = set()
    for d in getattr(fn, "decorator_list", ()):
        if isinstance(d, ast.Call) and call_name(d).endswith("parametrize") and d.args:
            first = d.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.update(n.strip() for n in first.value.split(","))
            elif isinstance(first, (ast.List, ast.Tuple)) and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in first.elts):
                names.update(e.value for e in first.elts)
            else:
                return None
    return names


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[str]:
    """The arguments a call must supply (no default), without self/cls."""
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    if method and "staticmethod" not in _decorator_names(fn):
        positional = positional[1:]
    required = positional[:len(positional) - len(args.defaults)] if args.defaults else positional
    return [a.arg for a in required] + [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None]


def _fixtures(body: list[ast.stmt], method: bool) -> dict[str, tuple[ast.AST, list[str], bool]]:
    """name -> (def, the fixtures it takes, autouse) for the `@pytest.fixture` functions in `body`."""
    found = {}
    for node in body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for d in node.decorator_list:
            if not call_name(d).endswith("fixture"):
                continue
            keywords = {k.arg: k.value for k in d.keywords} if isinstance(d, ast.Call) else {}
            name = keywords.get("name")
            name = name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else node.name
            autouse = isinstance(keywords.get("autouse"), ast.Constant) and keywords["autouse"].value is True
            found[name] = (node, _params(node, method), autouse)
    return found


def _optional_arg(callee: str, fn: ast.FunctionDef, arg: str, method: bool) -> str:
    """pytest calls setup_method(method) / setup_module(module) ... with the argument only if it takes one."""
    return f"{callee}({arg})" if _params(fn, method) else f"{callee}()"


def _pytest_runner(test_tree: ast.Module, funcs: list, classes: list) -> Runner:
    """Calls for uncalled pytest-style tests, each through `_wc_test`."""
    module_fx = _fixtures(test_tree.body, method=False)
    top = {n.name: n for n in test_tree.body if isinstance(n, ast.FunctionDef)}
    problems: list[str] = []
    uses_async = False

    def plan(fn, owner: str, fixtures: dict) -> tuple[list[str], list[str]] | None:
        """(fixture names passed, autouse names) for one test, or None (a problem was recorded)."""
        nonlocal uses_async
        uses_async |= isinstance(fn, ast.AsyncFunctionDef)
        given = _parametrize_names(fn)
        wanted = [] if given is None else [p for p in _params(fn, owner != "") if p not in given]
        auto = [name for name, (_, _, autouse) in fixtures.items() if autouse]
        missing, seen, stack = [], set(), [*wanted, *auto]
        while stack:  # every fixture and what it takes must be defined in the tests
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if name not in fixtures or isinstance(fixtures[name][0], ast.AsyncFunctionDef):
                missing.append(name)
            else:
                stack.extend(fixtures[name][1])
        if missing:
            problems.append(f"{owner + '.' if owner else ''}{fn.name} needs {', '.join(sorted(missing))}")
            return None
        return wanted, auto

    def fixture_map(fixtures: dict, bound: str = "") -> str:
        entries = ", ".join(f"{name!r}: ({bound}{node.name}, {tuple(deps)!r})"
                            for name, (node, deps, _) in fixtures.items())
        return "{" + entries + "}"

    lines = [f"_wc_fx = {fixture_map(module_fx)}"]
    if "setup_module" in top:
        lines.append(_optional_arg("setup_module", top["setup_module"], "_wc_sys.modules[__name__]", False))
    for fn in funcs:
        planned = plan(fn, "", module_fx)
        if planned is None:
            continue
        setup = f"lambda: {_optional_arg('setup_function', top['setup_function'], fn.name, False)}" \
            if "setup_function" in top else "None"
        teardown = f"lambda: {_optional_arg('teardown_function', top['teardown_function'], fn.name, False)}" \
            if "teardown_function" in top else "None"
        lines.append(f"_wc_test({fn.name}, {tuple(planned[0])!r}, {tuple(planned[1])!r}, _wc_fx, {setup}, {teardown})")
    for cls in classes:
        methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
        class_fx = {**module_fx, **_fixtures(cls.body, method=True)}
        for hook in ("setup_class", "teardown_class"):
            if hook in methods:  # a classmethod, or a plain function given the class
                methods[hook] = (hook, "classmethod" in _decorator_names(methods[hook]), methods[hook])
        if "setup_class" in methods:
            _, bound, node = methods["setup_class"]
            lines.append(_optional_arg(f"{cls.name}.setup_class", node, cls.name, bound))
        for item in cls.body:
            if not (isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test")):
                continue
            planned = plan(item, cls.name, class_fx)
            if planned is None:
                continue
            hooks = []
            for hook in ("setup_method", "teardown_method"):
                node = methods.get(hook)
                hooks.append(f"lambda: {_optional_arg('_wc_o.' + hook, node, '_wc_o.' + item.name, True)}"
                             if isinstance(node, ast.FunctionDef) else "None")
            own = {n: v for n, v in class_fx.items() if n not in module_fx or v is not module_fx[n]}
            fixtures = f"{{**_wc_fx, **{fixture_map(own, '_wc_o.')}}}" if own else "_wc_fx"
            lines.append(f"_wc_o = {cls.name}()")
            lines.append(f"_wc_test(_wc_o.{item.name}, {tuple(planned[0])!r}, {tuple(planned[1])!r}, {fixtures}, "
                         f"{hooks[0]}, {hooks[1]})")
        if "teardown_class" in methods:
            _, bound, node = methods["teardown_class"]
            lines.append(_optional_arg(f"{cls.name}.teardown_class", node, cls.name, bound))
    if "teardown_module" in top:
        lines.append(_optional_arg("teardown_module", top["teardown_module"], "_wc_sys.modules[__name__]", False))
    if problems:
        return Runner(problem="tests that cannot be run here (the runner supplies `mark.parametrize` values and "
                               "the fixtures the tests define, not pytest's own such as capsys or tmp_path): "
                               + "; ".join(problems))
    calls = sum(1 for line in lines if line.startswith("_wc_test("))
    helper = _TEST_HELPER.format(run="__import__('asyncio').run" if uses_async else "None")
    return Runner("\n".join(lines) + "\n", calls > 0, helper)


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
    runner = Runner()
    if test_funcs and len(uncalled) == len(test_funcs) or test_classes and not any(
            called_anywhere(test_tree, c.name) for c in test_classes):
        classes = [c for c in test_classes if not called_anywhere(test_tree, c.name)]
        runner = _pytest_runner(test_tree, uncalled, classes)
        if runner.problem:
            return runner
    if testcases:
        runner.code += _UNITTEST_RUNNER
        runner.runs = True
    if runner.code:
        return runner
    check = next((n for n in body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    if check is not None and entry_point and not called_anywhere(test_tree, "check"):
        return Runner(f"check({entry_point.split('.')[0]})\n", True)
    # plain script: it runs itself (there is top-level code)
    runs = any(not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import,
                                  ast.ImportFrom)) for n in body)
    return Runner("", runs)
