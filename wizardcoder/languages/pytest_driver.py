"""Runs a Python check's pytest-style tests under real pytest, inside the sandbox, and prints the success
marker only when the session passed. Shipped with the program as `_wc_pytest.py` (standard library and
pytest >= 7.2 only: it runs on the sandbox's python, never imports wizardcoder).

The program (`main.py`) is at once the driver and the test module: under `if __name__ == "__main__":` it
calls `run(__file__, names, required, ".wc-marker")` before any of the model's code has run; pytest then
imports `main.py` as the module `main` (assertion rewriting on) and runs the tests' own tests.

What a session must show to pass (decided here from what this plugin saw; pytest's exit status must be 0
too, but it decides nothing alone):
- no collection error; only the tests' own top-level tests are collected (a function of the solution named
  `test_*` is not a test), each of them gives at least one item, and each test function's code comes from
  main.py (a module swapped in `sys.modules` during its import gives none);
- every item passed: its function, called by this plugin (which also runs `async def` tests to the end,
  and ignores what a test returns), returned; setup and teardown passed. A test skipped by a `skip` /
  `skipif` mark and one that failed under an `xfail` mark (or passed under a non-strict one) do not fail
  the session; a skip or xfail that happens while a test runs (`pytest.skip()`, `pytest.xfail()`,
  `importorskip`: the model's code could call them) fails it, and a strict xfail that passes fails it;
- at least one item passed (a session of skips proves nothing);
- pytest, pluggy, builtins (but `print`, `input` and `open`, which tests replace for I/O), this driver,
  and `unittest` where unittest tests were collected are unchanged after collection and at the end of the
  session (each attribute of their modules and classes, each function's code and defaults: a check costs
  a few ms, so it is not repeated after each test; the `monkeypatch` fixture's changes are undone by then),
  no plugin was registered, and no hook implementation was added or removed;
- pytest returned (`pytest.exit`, KeyboardInterrupt and SystemExit never reach the marker).

No configuration from the job directory is read (`-c /dev/null`, `--noconftest`, no plugin autoload, no
PYTEST_* variables), so a `pytest.ini` or `conftest.py` the model's code writes changes nothing. The marker
is read from a file deleted before the model's code runs, and kept masked: it is in no file, argument,
variable or module the program can read by name. An in-process guard against programs that cheat, not a
security boundary (the sandbox is that): code written to find and edit this driver's own objects in memory
is out of its reach.
"""

import os as _os
import sys as _sys
from itertools import repeat as _repeat
from operator import attrgetter as _attrgetter
from operator import is_ as _is
from types import FunctionType as _FunctionType

import pytest

_MISSING = object()
_all, _map = all, map  # the program may replace the builtins; the checks use these
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class defined in Python
_FUNCTION_PARTS = ("__code__", "__defaults__", "__kwdefaults__")
_METHOD_WRAPPERS = (staticmethod, classmethod)
_GENERATOR = 0x20 | 0x200  # CO_GENERATOR | CO_ASYNC_GENERATOR
_TOLERATED_BUILTINS = ("print", "input", "open")
# set by pytest's assertion plugin around each test (used only to explain a failed assertion)
_TOLERATED = {"_pytest.assertion.util": ("_reprcompare", "_assertion_pass", "_config")}
_TOLERATED_IN_CLASSES = ("_pytest_diamond_inheritance_warning_shown",)  # pytest marks its item classes so
_FRAMEWORK = ("pytest", "_pytest", "pluggy", "builtins", __name__)
# No configuration file, conftest.py or installed plugin is read; pytest's plugins that a check has no use
# for, or that behave differently across pytest versions (the image has Debian's 7.2, a host may have 9),
# are off.
# What pytest prints is the evidence a failed check shows: short tracebacks with assertion introspection, and
# a one-line summary per failure at the end.
_OFF = ("cacheprovider", "nose", "pastebin", "junitxml", "stepwise", "doctest", "setuponly", "setupplan",
        "freeze_support", "python_path", "unraisableexception", "threadexception", "subtests")
ARGS = ["-q", *(arg for name in _OFF for arg in ("-p", f"no:{name}")), "--noconftest", "-c", _os.devnull,
        "--capture=sys", "--tb=short", "-rfE", "--color=no", "--disable-warnings", "-o", "xfail_strict=false",
        "-o", "console_output_style=classic"]


# ------------------------------------------------------------------------------------------- framework state
def _in(name, roots):
    for root in roots:
        if name == root or name.startswith(root + "."):
            return True
    return False


def _snapshot(roots):
    """For the modules under `roots` and the classes they define in Python: each namespace as (label, the
    dict, its names and their values, the names it may change, its size), and the functions found in them
    with their code, defaults and keyword defaults (comprehensions and C calls: ~7 ms for pytest)."""
    spaces, functions, classes = [], {}, set()
    prefixes = tuple(root + "." for root in roots)
    for name, module in list(_sys.modules.items()):
        if module is None or not (name in roots or name.startswith(prefixes)):
            continue
        found = [(name, vars(module), _TOLERATED_BUILTINS if name == "builtins" else _TOLERATED.get(name, ()))]
        for value in [v for v in vars(module).values() if isinstance(v, type)]:
            if value.__flags__ & _HEAPTYPE and value.__module__ == name and value not in classes:
                classes.add(value)  # (a class written in C cannot be changed)
                found.append((f"{name}.{value.__qualname__}", vars(value), _TOLERATED_IN_CLASSES))
        for label, space, tolerated in found:
            names = tuple(space) if not tolerated else tuple(key for key in space if key not in tolerated)
            values = tuple(_map(space.get, names))
            spaces.append((label, space, names, values, tolerated, _size(space, tolerated)))
            functions.update(dict.fromkeys(v for v in values if type(v) is _FunctionType))
            functions.update(dict.fromkeys(v.__func__ for v in values if type(v) in _METHOD_WRAPPERS
                                           and type(v.__func__) is _FunctionType))
            functions.update(dict.fromkeys(v.fget for v in values if type(v) is property
                                           and type(v.fget) is _FunctionType))
    functions = tuple(functions)
    return spaces, (functions, *(tuple(_map(_attrgetter(part), functions)) for part in _FUNCTION_PARTS))


def _size(space, tolerated):
    return len(space) - (sum(1 for name in tolerated if name in space) if tolerated else 0)


def _changed(state):
    """What differs from the snapshot `state` (a description), or "" when nothing does. The comparisons run
    in C (map over the saved values): a check of ~7000 attributes and ~2400 functions takes a few ms."""
    spaces, (functions, *parts) = state
    for label, space, names, values, tolerated, size in spaces:
        if not _all(_map(_is, _map(space.get, names, _repeat(_MISSING, len(names))), values)):
            return f"{label}.{next(n for n, v in zip(names, values) if space.get(n, _MISSING) is not v)}"
        if _size(space, tolerated) != size:
            return f"{label} (an attribute was added or removed)"
    for attribute, saved in zip(_FUNCTION_PARTS, parts):
        if not _all(_map(_is, _map(_attrgetter(attribute), functions), saved)):
            fn = next(fn for fn, value in zip(functions, saved) if getattr(fn, attribute) is not value)
            return f"{fn.__module__}.{fn.__qualname__} (its {attribute})"
    return ""


def _without(state, roots):
    """`state` without what belongs to the modules under `roots`."""
    spaces, (functions, *parts) = state
    keep = [i for i, fn in enumerate(functions) if not _in(getattr(fn, "__module__", None) or "", roots)]
    return ([space for space in spaces if not _in(space[0], roots)],
            tuple(tuple(column[i] for i in keep) for column in (functions, *parts)))


def _hooks(config):
    """The registered plugins and each hook's implementations, to compare before and after."""
    pm = config.pluginmanager
    plugins = tuple(pm.get_plugins())
    impls = []
    relay = pm.hook  # pluggy's own relay (config.hook may be a proxy that fills itself lazily)
    for name in sorted(vars(relay)):
        caller = getattr(relay, name)
        get = getattr(caller, "get_hookimpls", None)
        if get is not None:
            impls.append((name, tuple(impl.function for impl in get())))
    return plugins, tuple(impls)


# ------------------------------------------------------------------------------------------- the referee
class Referee:
    """The pytest plugin that watches the session and decides whether it passed (see the module docstring)."""

    def __init__(self, module_path, names, required):
        self.path = _os.path.abspath(module_path)
        self.names = set(names)  # the tests' top-level test functions and classes
        self.required = set(required)  # those that must give at least one item (the test functions)
        self.problems = []       # why the session failed, in the order seen
        self.items = []
        self.ran = set()         # ids of the items whose function this plugin called and that returned
        self.reports = {}        # nodeid -> {phase: report}
        self.state = self.hooks = self.config = None
        self.finished = False

    def fail(self, why):
        if why not in self.problems:
            self.problems.append(why)

    # ---- the framework must stay as it was
    @pytest.hookimpl(trylast=True)  # after the fixture manager registered itself
    def pytest_sessionstart(self, session):
        self.config = session.config
        self.state = _snapshot(_FRAMEWORK + ("unittest",))
        self.hooks = _hooks(session.config)

    def check(self, when):
        if self.state is None:
            self.fail(f"the session did not start as expected ({when})")
            return
        changed = _changed(self.state)
        if changed:
            self.fail(f"the program changed {changed} ({when}): pytest's verdict cannot be trusted")
        if _hooks(self.config) != self.hooks:
            self.fail(f"the program registered or removed a pytest plugin or hook ({when})")

    # ---- collection
    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makeitem(self, collector, name, obj):
        """Only the tests' own top-level tests are collected (a solution's `test_*` function is not one)."""
        if isinstance(collector, pytest.Module) and name not in self.names:
            return []
        return None

    def pytest_collectreport(self, report):
        if report.failed:
            self.fail(f"collecting the tests failed ({report.nodeid or 'main.py'})")

    def pytest_collection_finish(self, session):
        self.items = list(session.items)
        unittest_items = False
        found = set()
        for item in self.items:
            top = item.nodeid.split("::")[1] if "::" in item.nodeid else ""
            found.add(top.split("[")[0])
            function = getattr(item, "function", None)
            code = getattr(function, "__code__", None)
            if type(item).__name__ == "TestCaseFunction":
                unittest_items = True
            elif code is None or _os.path.abspath(code.co_filename) != self.path:
                self.fail(f"{item.nodeid}: its function does not come from the tests")
            elif code.co_flags & _GENERATOR:  # pytest 7 marks it xfail, pytest 9 fails it: failed here
                self.fail(f"{item.nodeid}: a test that yields is not a test pytest runs")
        missing = sorted(self.required - found)
        if missing:
            self.fail("tests that gave no test to run: " + ", ".join(missing))
        if not unittest_items:  # unittest is the program's to change when no unittest test runs
            self.state = _without(self.state, ("unittest",))
        self.check("while the tests were collected")

    # ---- running
    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem):
        """Calls the test itself: a coroutine runs to the end, what a test returns is ignored (pytest 7 and 9
        differ there; the shim ignored it too); `ran` records the tests that returned."""
        function = pyfuncitem.obj
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        result = function(**args)
        if hasattr(result, "__await__"):
            import asyncio  # only async tests need it
            asyncio.run(_awaited(result))
        self.ran.add(id(pyfuncitem))
        return True

    def pytest_runtest_logreport(self, report):
        self.reports.setdefault(report.nodeid, {})[report.when] = report

    def pytest_internalerror(self, excrepr):
        self.fail("pytest stopped on an internal error")

    def pytest_sessionfinish(self, session):
        self.finished = True
        self.check("at the end of the session")

    # ---- the verdict
    def verdict(self):
        """(passed, the lines that say why not)."""
        if not self.finished:
            self.fail("the session did not finish (pytest.exit, KeyboardInterrupt or SystemExit)")
        if not self.items and not self.problems:
            self.fail("no test was collected")
        passed = 0
        for item in self.items:
            outcome = self.outcome(item)
            if outcome == "passed":
                passed += 1
            elif outcome not in ("skipped", "xfailed", "xpassed"):
                self.fail(f"{item.nodeid}: {outcome}")
        if self.items and not passed:
            self.fail("no test passed (skipped or expected to fail: the session proves nothing)")
        return not self.problems, list(self.problems)

    def outcome(self, item):
        phases = self.reports.get(item.nodeid, {})
        setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
        if setup is None or teardown is None:
            return "did not run to the end"
        for report in (setup, call, teardown):
            if report is not None and report.failed:
                return f"failed ({report.when})"
        if not teardown.passed:
            return "skipped during teardown"
        marked_skip = _marked(item, "skip") or _marked(item, "skipif")
        marked_xfail = _marked(item, "xfail")
        if setup.skipped:
            if hasattr(setup, "wasxfail") and marked_xfail:  # xfail(run=False)
                return "xfailed"
            if marked_skip and not hasattr(setup, "wasxfail"):
                return "skipped"
            return "skipped while being set up (only a skip/skipif mark may skip a test)"
        if call is None:
            return "did not run"
        if call.skipped:
            if hasattr(call, "wasxfail") and marked_xfail:
                return "xfailed"
            if type(item).__name__ == "TestCaseFunction" and _unittest_skip(item):
                return "skipped"
            return "skipped or xfailed while it ran (pytest.skip/xfail at run time counts as failed)"
        if type(item).__name__ != "TestCaseFunction" and id(item) not in self.ran:
            return "its test function was not run by the session"
        return "xpassed" if hasattr(call, "wasxfail") else "passed"


def _marked(item, name):
    return next(item.iter_markers(name), None) is not None


def _unittest_skip(item):
    """A unittest test skipped by its own `unittest.skip...` decorator (on the method or its class)."""
    return any(getattr(owner, "__unittest_skip__", False) for owner in (item.obj, item.cls))


async def _awaited(awaitable):
    return await awaitable


# ------------------------------------------------------------------------------------------- the entry point
def run(module_path, names, required, marker_path):
    """Run the tests in `module_path` under pytest (`names`: the tests' own top-level test functions and
    classes; `required`: those that must give a test); print the marker read from `marker_path` and exit 0
    only when the session passed, else exit 1. Never returns."""
    write, exit_, stdout, stderr = _os.write, _os._exit, _sys.stdout, _sys.stderr
    with open(marker_path, "rb") as f:
        marker = f.read().strip()
    _os.unlink(marker_path)
    key = int.from_bytes(_os.urandom(len(marker)), "big")
    masked, size = int.from_bytes(marker, "big") ^ key, len(marker)
    del marker
    for name in [n for n in _os.environ if n.startswith("PYTEST_")]:
        del _os.environ[name]
    _os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    _sys.dont_write_bytecode = True
    ok, lines = False, []
    try:
        referee = Referee(module_path, names, required)
        here = _os.path.dirname(_os.path.abspath(module_path))  # pytest looks at nothing above it
        status = pytest.main([*ARGS, "--rootdir", here, "--confcutdir", here, module_path], plugins=[referee])
        ok, lines = referee.verdict()
        if ok and status != 0:  # pytest's own accounting must agree (a second thing to defeat)
            ok, lines = False, [f"pytest's exit status is {int(status)}, not 0"]
    except BaseException as exc:  # noqa: BLE001 - pytest itself broke (or was broken): never a pass
        lines = [f"pytest did not complete: {type(exc).__name__}: {exc}"]
    try:
        for stream in (stdout, stderr):
            stream.flush()
        text = "".join(f"[wizardcoder] {line}\n" for line in lines)
        if text:
            write(1, ("\n" + text).encode("utf-8", "backslashreplace"))
        if ok:
            write(1, b"\n" + ((masked ^ key).to_bytes(size, "big")) + b"\n")
    finally:
        exit_(0 if ok else 1)
