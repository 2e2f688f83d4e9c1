"""Pytest-style tests run under real pytest in the sandbox (languages/pytest_driver.py): what a right solution
passes and a wrong one fails, the verdict rules, and the hostile programs that must never pass. Every check
runs on the local backend and in the Docker image (Debian's pytest 7.2 there, the host's pytest here): the
verdicts must agree."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sandbox import create_sandbox
from wizardcoder.eliminate import EliminateConfig
from wizardcoder.eliminate.verify import ExecutionCheck, build, verify

NO_MUTATION = EliminateConfig(mutation_check=[])
BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]

SOLUTION = """import warnings

def add(a, b):
    return a + b

def safe_div(a, b):
    if b == 0:
        raise ZeroDivisionError("b is zero")
    return a / b

def stats(xs):
    if len(xs) > 100:
        warnings.warn("a long list", UserWarning)
    return {"mean": sum(xs) / len(xs), "parts": [x / 10 for x in xs]}

def greet():
    print(f"hello {input()}")

class Counter:
    def __init__(self):
        self.n = 0

    def bump(self):
        self.n += 1
        return self.n
"""
# every function subtly wrong: each case below fails with it
WRONG = (SOLUTION.replace("return a + b", "return a - b if b == 7 else a + b")
         .replace("return a / b", "return a // b").replace('raise ZeroDivisionError("b is zero")', "return 0")
         .replace("x / 10", "x / 9").replace("UserWarning", "DeprecationWarning")
         .replace('print(f"hello {input()}")', 'print(f"hi {input()}")').replace("self.n += 1", "self.n += 2"))


@pytest.fixture(scope="module", params=BACKENDS)
def sb(request):
    with create_sandbox(request.param, workers=2) as box:
        yield box


def verdicts(sb, cases: dict[str, str], solution: str = SOLUTION, cfg: EliminateConfig = NO_MUTATION) -> dict:
    checks = [ExecutionCheck(name, "python", solution, tests, None) for name, tests in cases.items()]
    return {v.key: v.reason for v in verify(sb, checks, cfg)}


def right_and_wrong(sb, cases: dict[str, str]) -> None:
    assert verdicts(sb, cases) == dict.fromkeys(cases, "passed")
    assert verdicts(sb, cases, WRONG) == dict.fromkeys(cases, "failed")


# -------------------------------------------------------------------------- what the shim supported keeps working
SHIM_FEATURES = {
    "raises": "import pytest\n\ndef test_zero():\n    with pytest.raises(ZeroDivisionError, match='zero') as info:\n"
              "        safe_div(1, 0)\n    assert info.type is ZeroDivisionError and info.typename == 'ZeroDivisionError'\n"
              "    assert info.match('is zero') and info.errisinstance(ArithmeticError)\n"
              "    assert isinstance(pytest.raises(ZeroDivisionError, safe_div, 2, 0).value, ZeroDivisionError)\n",
    "approx": "import pytest\n\ndef test_mean():\n    assert stats([0.1, 0.2])['mean'] == pytest.approx(0.15)\n"
              "    assert stats([1, 2])['parts'] == pytest.approx([0.1, 0.2])\n"
              "    assert stats([3])['mean'] != pytest.approx(3.1) and '3.0' != pytest.approx(3.0)\n",
    "parametrize": "import pytest\n\n@pytest.mark.parametrize('a, b', [(1, 2), pytest.param(7, 8, id='seven')])\n"
                   "def test_pairs(a, b):\n    assert add(a, b) == a + b\n\n"
                   "@pytest.mark.parametrize('b', [pytest.param(1), 7, pytest.param(2, marks=pytest.mark.slow)])\n"
                   "def test_single(b):\n    assert add(0, b) == b\n",
    "fail_and_marks": "import pytest\n\n@pytest.mark.slow\ndef test_add():\n    if add(1, 7) != 8:\n"
                      "        pytest.fail('add is wrong')\n\n@pytest.mark.skip(reason='later')\n"
                      "def test_later():\n    raise AssertionError('ran')\n\n"
                      "@pytest.mark.skipif(False, reason='runs')\ndef test_runs():\n    assert safe_div(4, 2) == 2.0\n",
    "xfail": "import pytest\n\n@pytest.mark.xfail(reason='known')\ndef test_known_bug():\n    assert 0.1 + 0.2 == 0.3\n\n"
             "@pytest.mark.xfail\ndef test_passes_anyway():\n    pass\n\n"
             "@pytest.mark.xfail(False, reason='a normal test')\ndef test_not_expected():\n    assert add(1, 7) == 8\n\n"
             "@pytest.mark.xfail(\"sys.platform == 'no-such-platform'\")\ndef test_string_condition():\n"
             "    assert safe_div(1, 2) == 0.5\n\n"
             "@pytest.mark.parametrize('a, b', [(1, 1), pytest.param(1, 2, marks=pytest.mark.xfail)])\n"
             "def test_param_xfail(a, b):\n    assert add(a, 0) == b\n",
    "async": "import pytest\n\n@pytest.mark.asyncio\n@pytest.mark.parametrize('b', [2, 7])\nasync def test_b(b):\n"
             "    assert add(1, b) == 1 + b\n\nclass TestAsync:\n    async def test_seven(self):\n"
             "        assert add(1, 7) == 8\n",
    "setup_teardown": "log = []\ndef setup_module(module):\n    log.append('module')\n"
                      "def setup_function(function):\n    log.append(function.__name__)\n"
                      "def test_add():\n    assert add(1, 7) == 8\ndef test_log():\n"
                      "    assert log == ['module', 'test_add', 'test_log']\n\n"
                      "class TestCounter:\n    def setup_class(cls):\n        cls.made = 0\n"
                      "    def setup_method(self, method):\n        self.counter = Counter()\n"
                      "    def teardown_method(self):\n        self.counter = None\n"
                      "    def test_bump(self):\n        assert self.counter.bump() == 1\n"
                      "    def test_fresh(self):\n        assert self.counter.bump() == 1\n",
}


def test_what_the_shim_supported_keeps_working(sb):
    right_and_wrong(sb, SHIM_FEATURES)


def test_a_strict_xfail_that_passes_or_the_wrong_exception_fails_the_session(sb):
    cases = {
        "strict": "import pytest\n\ndef test_add():\n    assert add(1, 2) == 3\n\n"
                  "@pytest.mark.xfail(strict=True)\ndef test_passes():\n    assert add(1, 1) == 2\n",
        "other_error": "import pytest\n\ndef test_add():\n    assert add(1, 2) == 3\n\n"
                       "@pytest.mark.xfail(raises=KeyError)\ndef test_other():\n    safe_div(1, 0)\n",
        "async_strict": "import pytest\n\ndef test_add():\n    assert add(1, 2) == 3\n\n"
                        "@pytest.mark.xfail(strict=True)\nasync def test_passes():\n    assert add(1, 1) == 2\n",
    }
    assert verdicts(sb, cases) == dict.fromkeys(cases, "failed")


# -------------------------------------------------------------------------- what real pytest adds
REAL_PYTEST = {
    "capsys": "def test_greet(capsys, monkeypatch):\n    monkeypatch.setattr('builtins.input', lambda: 'Ann')\n"
              "    greet()\n    assert capsys.readouterr().out == 'hello Ann\\n'\n",
    "capfd": "def test_greet(capfd, monkeypatch):\n    monkeypatch.setattr('builtins.input', lambda: 'Bo')\n"
             "    greet()\n    assert capfd.readouterr().out == 'hello Bo\\n'\n",
    "tmp_path": "import json\n\ndef test_roundtrip(tmp_path, tmpdir):\n    path = tmp_path / 'r.json'\n"
                "    path.write_text(json.dumps(stats([1, 2])))\n"
                "    assert json.loads(path.read_text())['parts'] == [0.1, 0.2]\n    assert tmpdir.isdir()\n",
    "monkeypatch_env": "import os\n\ndef test_env(monkeypatch):\n    monkeypatch.setenv('N', '7')\n"
                       "    assert add(1, int(os.environ['N'])) == 8\n",
    "ids": "import pytest\n\n@pytest.mark.parametrize('b', [1, 7], ids=['one', 'seven'])\ndef test_list(b):\n"
           "    assert add(1, b) == 1 + b\n\n@pytest.mark.parametrize('b', [2, 7], ids=lambda b: f'b{b}')\n"
           "def test_callable(b):\n    assert add(b, b) == 2 * b\n",
    "fixture_scopes": "import pytest\nmade = []\n\n@pytest.fixture(scope='module')\ndef counter():\n"
                      "    made.append(1)\n    return Counter()\n\n@pytest.fixture(scope='session')\ndef seven():\n"
                      "    return 7\n\ndef test_one(counter, seven):\n    assert counter.bump() == 1 and add(1, seven) == 8\n\n"
                      "def test_two(counter):\n    assert counter.bump() == 2 and made == [1]\n\n"
                      "class TestShared:\n    @pytest.fixture(scope='class')\n    def c(self):\n        return Counter()\n"
                      "    def test_a(self, c):\n        assert c.bump() == 1\n    def test_b(self, c):\n"
                      "        assert c.bump() == 2\n",
    "approx_nested": "import pytest\n\ndef test_nested():\n"
                     "    assert stats([1, 2, 3]) == pytest.approx({'mean': 2.0, 'parts': [0.1, 0.2, 0.3]})\n",
    "raises_match": "import pytest\n\ndef test_zero():\n    with pytest.raises(ZeroDivisionError, match=r'^b is \\w+$'):\n"
                    "        safe_div(3, 0)\n",
    "warns": "import pytest\n\ndef test_long():\n    with pytest.warns(UserWarning, match='long list'):\n"
             "        stats(list(range(101)))\n",
    "indirect": "import pytest\n\n@pytest.fixture\ndef counter(request):\n    c = Counter()\n"
                "    for _ in range(request.param):\n        c.bump()\n    return c\n\n"
                "@pytest.mark.parametrize('counter, expected', [(0, 1), (2, 3)], indirect=['counter'])\n"
                "def test_bump(counter, expected):\n    assert counter.bump() == expected\n",
    "fixture_params": "import pytest\n\n@pytest.fixture(params=[1, 7], ids=['one', 'seven'])\ndef b(request):\n"
                      "    return request.param\n\ndef test_add(b):\n    assert add(1, b) == 1 + b\n",
    "class_setup_method": "import pytest\n\nclass TestCounter:\n    def setup_method(self):\n"
                          "        self.c = Counter()\n\n    @pytest.fixture(autouse=True)\n    def bumped(self):\n"
                          "        self.c.bump()\n\n    def test_second(self):\n        assert self.c.bump() == 2\n\n"
                          "    def test_third(self):\n        self.c.bump()\n        assert self.c.bump() == 3\n",
    "caplog_usefixtures": "import logging\nimport pytest\n\n@pytest.fixture\ndef quiet(monkeypatch):\n"
                          "    monkeypatch.setattr('builtins.input', lambda: 'Cy')\n\n"
                          "@pytest.mark.usefixtures('quiet')\ndef test_greet(capsys, caplog):\n"
                          "    logging.getLogger('t').warning('greeting')\n    greet()\n"
                          "    assert 'greeting' in caplog.text and capsys.readouterr().out == 'hello Cy\\n'\n",
    "unittest_beside": "import unittest\n\nclass T(unittest.TestCase):\n    def test_add(self):\n"
                       "        self.assertEqual(add(1, 7), 8)\n\ndef test_div():\n    assert safe_div(1, 4) == 0.25\n",
}


def test_what_real_pytest_adds_passes_a_right_solution_and_fails_a_wrong_one(sb):
    right_and_wrong(sb, REAL_PYTEST)


# -------------------------------------------------------------------------- the verdict rules
PASSING_SESSIONS = {
    "skip_beside_a_pass": "import pytest\n\n@pytest.mark.skip\ndef test_later():\n    assert add(1, 2) == 4\n\n"
                          "def test_add():\n    assert add(1, 2) == 3\n",
    "returns_a_value": "def test_add():\n    assert add(1, 2) == 3\n    return True\n",
    "a_class_with_no_tests": "class TestData:\n    VALUES = [1, 2]\n\ndef test_add():\n"
                             "    assert add(*TestData.VALUES) == 3\n",
}
FAILING_SESSIONS = {
    "all_skipped": "import pytest\n\n@pytest.mark.skip\ndef test_add():\n    assert add(1, 2) == 3\n",
    "skip_at_run_time": "import pytest\n\ndef test_add():\n    assert add(1, 2) == 3\n\n"
                        "def test_more():\n    pytest.skip('not today')\n",
    "importorskip": "import pytest\n\ndef test_add():\n    pytest.importorskip('no_such_module')\n"
                    "    assert add(1, 2) == 3\n",
    "xfail_at_run_time": "import pytest\n\ndef test_add():\n    assert add(1, 2) == 3\n\n"
                         "def test_more():\n    pytest.xfail('meh')\n",
    "only_xfails": "import pytest\n\n@pytest.mark.xfail\ndef test_add():\n    assert add(1, 2) == 4\n",
    "a_yield_test": "def test_add():\n    assert add(1, 2) == 3\n\ndef test_gen():\n    yield add(1, 2)\n",
    "error_in_the_tests": "def test_add():\n    assert add(1, 2) == 3\n\nBROKEN = undefined_name\n",
    "fixture_error": "import pytest\n\n@pytest.fixture\ndef data():\n    return 1 / 0\n\n"
                     "def test_add(data):\n    assert add(1, 2) == 3\n",
    "teardown_error": "import pytest\n\n@pytest.fixture\ndef data():\n    yield 2\n    raise RuntimeError('x')\n\n"
                      "def test_add(data):\n    assert add(1, data) == 3\n",
}


def test_skips_xfails_and_what_is_collected(sb):
    got = verdicts(sb, {**PASSING_SESSIONS, **FAILING_SESSIONS})
    assert got == {**dict.fromkeys(PASSING_SESSIONS, "passed"), **dict.fromkeys(FAILING_SESSIONS, "failed")}


def test_only_the_tests_own_tests_are_collected(sb):
    # a helper of the solution named like a test takes arguments pytest has no fixtures for: not a test
    solution = SOLUTION + "\ndef test_bit(mask, i):\n    return mask >> i & 1\n\nclass TestCaseBuilder:\n" \
                          "    def test_it(self, x):\n        return x\n"
    tests = "def test_add():\n    assert add(1, 7) == 8 and test_bit(4, 2) == 1\n"
    assert verdicts(sb, {"k": tests}, solution) == {"k": "passed"}


def test_tests_that_check_nothing_are_still_caught(sb):
    never_called = "def test_add():\n    assert 1 + 1 == 2\n"
    built = build(ExecutionCheck("k", "python", SOLUTION, never_called, None), NO_MUTATION)
    assert built.static_reason == "no_asserts"
    swallowed = "def test_add():\n    try:\n        assert add(1, 2) == 3\n    except AssertionError:\n        pass\n"
    assert verdicts(sb, {"k": swallowed}, cfg=EliminateConfig()) == {"k": "tests_cannot_fail"}


# -------------------------------------------------------------------------- hostile programs never pass
TESTS = "import pytest\n\ndef test_add():\n    assert add(2, 3) == 5\n\ndef test_more():\n    assert add(10, 1) == 11\n"
AT_IMPORT = {  # the wrong solution's module-level code
    "sys_exit": "import sys\nsys.exit(0)",
    "os_exit": "import os\nos._exit(0)",
    "pytest_exit": "import pytest\npytest.exit('bye', returncode=0)",
    "keyboard_interrupt": "raise KeyboardInterrupt",
    "system_exit": "raise SystemExit(0)",
    "skip_the_module": "import pytest\npytest.skip('nope', allow_module_level=True)",
    "read_the_marker": "import os, re\nfor name in os.listdir('.'):\n    try:\n        text = open(name).read()\n"
                       "    except OSError:\n        continue\n    m = re.search(r'WIZARDCODER-PASS-\\w+', text)\n"
                       "    if m:\n        os.write(1, ('\\n' + m.group() + '\\n').encode())\n        os._exit(0)",
    "scan_memory_for_the_marker": "import gc, os\nfor o in gc.get_objects():\n    for r in gc.get_referents(o):\n"
                                  "        if isinstance(r, str) and r.startswith('WIZARDCODER-PASS-') and len(r) > 30:\n"
                                  "            os.write(1, ('\\n' + r + '\\n').encode())\n            os._exit(0)",
    "patch_runtest": "import _pytest.python\n_pytest.python.Function.runtest = lambda self: None",
    "patch_runtest_code": "import _pytest.python\n_pytest.python.Function.runtest.__code__ = (lambda self: None).__code__",
    "patch_call_info": "import _pytest.runner\n_orig = _pytest.runner.CallInfo.from_call.__func__\n"
                       "def _from_call(cls, func, when, reraise=None):\n    info = _orig(cls, func, when, reraise)\n"
                       "    info.excinfo = None\n    return info\n"
                       "_pytest.runner.CallInfo.from_call = classmethod(_from_call)",
    "patch_reports": "import _pytest.reports\n_orig = _pytest.reports.TestReport.from_item_and_call.__func__\n"
                     "def _report(cls, item, call):\n    r = _orig(cls, item, call)\n    r.outcome = 'passed'\n    return r\n"
                     "_pytest.reports.TestReport.from_item_and_call = classmethod(_report)",
    "patch_pluggy": "import pluggy._callers as c\n_orig = c._multicall\n"
                    "def _multicall(name, impls, kwargs, firstresult):\n"
                    "    return True if name == 'pytest_pyfunc_call' else _orig(name, impls, kwargs, firstresult)\n"
                    "c._multicall = _multicall",
    "patch_builtins": "import builtins\nbuiltins.AssertionError = type('Quiet', (BaseException,), {})",
    "register_itself": "pytest_plugins = [__name__]\n\ndef pytest_runtest_makereport(item, call):\n    call.excinfo = None\n\n"
                       "def pytest_collection_modifyitems(items):\n    items[:] = []",
    "register_a_plugin": "import gc\nfrom _pytest.config import Config\nclass _P:\n"
                         "    def pytest_runtest_makereport(self, item, call):\n        call.excinfo = None\n"
                         "for o in gc.get_objects():\n    if isinstance(o, Config):\n        o.pluginmanager.register(_P())",
    "swap_the_hook_caller": "import gc\nfrom _pytest.config import Config\nfor o in gc.get_objects():\n"
                            "    if isinstance(o, Config):\n        pm = o.pluginmanager\n"
                            "        def _exec(name, impls, kwargs, first, _orig=pm._inner_hookexec):\n"
                            "            return True if name == 'pytest_pyfunc_call' else _orig(name, impls, kwargs, first)\n"
                            "        pm._inner_hookexec = _exec",
    "write_config_files": "open('conftest.py', 'w').write('def pytest_runtest_makereport(item, call):\\n'\n"
                          "                               '    call.excinfo = None\\n')\n"
                          "open('pytest.ini', 'w').write('[pytest]\\naddopts = -p no:python\\n')\n"
                          "import os\nos.environ['PYTEST_ADDOPTS'] = '--deselect main.py::test_add'",
    "swap_the_module": "import sys, types\n_m = types.ModuleType(__name__)\n_m.__file__ = __file__\n"
                       "exec('def test_add():\\n    pass\\ndef test_more():\\n    pass\\n', _m.__dict__)\n"
                       "sys.modules[__name__] = _m",
}
AT_RUN_TIME = {  # done by the wrong solution's function, while a test runs
    "skip": "import pytest\npytest.skip('x')",
    "xfail": "import pytest\npytest.xfail('x')",
    "sys_exit": "import sys\nsys.exit(0)",
    "os_exit": "import os\nos._exit(0)",
    "pytest_exit": "import pytest\npytest.exit('x', returncode=0)",
    "keyboard_interrupt": "raise KeyboardInterrupt",
    "patch_approx_and_runtest": "import pytest, _pytest.python\npytest.approx = lambda *a, **k: None\n"
                                "_pytest.python.Function.runtest = lambda self: None",
}


def _wrong(trick: str, at_import: bool) -> str:
    if at_import:
        return f"{trick}\n\ndef add(a, b):\n    return a - b\n"
    body = "".join(f"    {line}\n" for line in trick.splitlines())
    return f"def add(a, b):\n{body}    return a - b\n"


def test_a_wrong_solution_cannot_end_the_session_early_forge_the_marker_or_neutralise_pytest(sb):
    checks = [ExecutionCheck(f"import:{name}", "python", _wrong(trick, True), TESTS, "add")
              for name, trick in AT_IMPORT.items()]
    checks += [ExecutionCheck(f"run:{name}", "python", _wrong(trick, False), TESTS, "add")
               for name, trick in AT_RUN_TIME.items()]
    got = {v.key: v.reason for v in verify(sb, checks, NO_MUTATION)}
    assert got == dict.fromkeys(got, "failed") and len(got) == len(checks), got


def test_tampering_is_named_in_the_evidence(sb):
    checks = [ExecutionCheck(name, "python", _wrong(AT_IMPORT[name], True), TESTS, "add")
              for name in ("patch_runtest", "register_a_plugin", "swap_the_module")]
    tails = {v.key: v.stdout_tail for v in verify(sb, checks, NO_MUTATION)}
    assert "the program changed _pytest.python.Function.runtest" in tails["patch_runtest"]
    assert "registered or removed a pytest plugin" in tails["register_a_plugin"]
    assert "does not come from the tests" in tails["swap_the_module"]


def test_a_right_solution_with_harmless_side_effects_passes(sb):
    right = {
        "silences_print": SOLUTION + "\nimport builtins\nbuiltins.print = lambda *a, **k: None\n",
        "writes_config_files": SOLUTION + "\nopen('conftest.py', 'w').write('raise SystemExit(3)\\n')\n"
                                          "open('pytest.ini', 'w').write('[pytest]\\naddopts = -x --collect-only\\n')\n",
    }
    checks = [ExecutionCheck(name, "python", solution, TESTS, "add") for name, solution in right.items()]
    assert {v.key: v.reason for v in verify(sb, checks, EliminateConfig())} == dict.fromkeys(right, "passed")


# -------------------------------------------------------------------------- evidence and infrastructure
def test_a_failure_shows_pytests_assertion_introspection(sb):
    tests = "def test_parts():\n    assert stats([1, 2, 3])['parts'] == [0.1, 0.2, 0.3]\n"
    v = next(iter(verify(sb, [ExecutionCheck("k", "python", WRONG, tests, "stats")], NO_MUTATION)))
    assert v.reason == "failed"
    assert "assert [0.111" in v.stdout_tail and "FAILED main.py::test_parts" in v.stdout_tail
    assert "[wizardcoder] main.py::test_parts: failed (call)" in v.stdout_tail


def test_a_sandbox_without_pytest_is_an_infrastructure_error(tmp_path):
    """A python without pytest (a venv that cannot see this one's packages): the job is not run."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    if subprocess.run([python, "-c", "import pytest"], capture_output=True, check=False).returncode == 0:
        pytest.skip("this venv sees a pytest (system site packages?)")
    with create_sandbox("local", workers=1, python=str(python)) as box:
        v = next(iter(verify(box, [ExecutionCheck("k", "python", SOLUTION, TESTS, "add")], NO_MUTATION)))
    assert (v.reason, v.status) == ("infra_error", "error") and "pytest is not installed" in v.stderr_tail
