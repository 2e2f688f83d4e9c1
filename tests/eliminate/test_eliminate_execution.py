"""Execution verdicts through the real sandbox: the local backend always, Docker where the image exists."""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest

from sandbox import Result, Status, create_sandbox
from wizardcoder.eliminate import EliminateConfig
from wizardcoder.eliminate.verify import FLUSH, ExecutionCheck, Verdict, verify
from wizardcoder.execution.config import SandboxConfig

CFG = EliminateConfig()
LIMITS = SandboxConfig(timeout=5.0)  # each program's time and memory: the sandbox section

ADD = "def add(a, b):\n    return a + b\n"
ADD_TESTS = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n"

CPP_SOLUTION = """#include <vector>
#include <numeric>
using namespace std;

long long sum_even(const vector<int>& xs) {
    long long total = 0;
    for (int x : xs) if (x % 2 == 0) total += x;
    return total;
}

int main() {  // the model's own demo: dropped
    return 3;
}
"""
CPP_TESTS = """#include <cassert>
#include <vector>
int main() {
    assert(sum_even({1, 2, 3, 4}) == 6);
    assert(sum_even({}) == 0);
    assert(sum_even({-2, 5}) == -2);
    return 0;
}
"""
JAVA_SOLUTION = """import java.util.*;

public class Solution {
    public static int sumEven(List<Integer> xs) {
        int total = 0;
        for (int x : xs) if (x % 2 == 0) total += x;
        return total;
    }

    public static void main(String[] args) {
        System.out.println(sumEven(Arrays.asList(1, 2, 3, 4)));
    }
}
"""
JAVA_TESTS = """import java.util.*;

public class SolutionTest {
    public static void main(String[] args) {
        assert Solution.sumEven(Arrays.asList(1, 2, 3, 4)) == 6;
        assert Solution.sumEven(new ArrayList<>()) == 0;
        if (Solution.sumEven(Arrays.asList(-2, 5)) != -2) throw new AssertionError("negative evens");
    }
}
"""

BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]


@pytest.fixture(scope="module", params=BACKENDS)
def sb(request):
    with create_sandbox(request.param, workers=2) as box:
        yield box


def run(sb, *checks: ExecutionCheck, cfg: EliminateConfig = CFG, limits: SandboxConfig = LIMITS) -> list[Verdict]:
    return list(verify(sb, checks, cfg, limits=limits))


def one(sb, language, solution, tests, entry_point=None, cfg=CFG, limits=LIMITS) -> Verdict:
    return run(sb, ExecutionCheck("k", language, solution, tests, entry_point), cfg=cfg, limits=limits)[0]


# ------------------------------------------------------------------------------------------- python
def test_python_pass(sb):
    v = one(sb, "python", ADD, ADD_TESTS, "add")
    assert (v.ok, v.reason, v.status) == (True, "passed", "passed")
    assert "WIZARDCODER" not in v.stdout_tail


def test_a_flush_gives_every_check_before_it_its_verdict_before_the_next_is_read(sb):
    """A streaming caller waiting on verdicts (evolve's repair turns) puts FLUSH among its checks: the passing
    check's mutation run happens at once, instead of with the next batch that may never come."""
    seen: list[str] = []

    def checks():
        yield ExecutionCheck("a", "python", ADD, ADD_TESTS, "add")
        yield ExecutionCheck("b", "python", "def add(a, b):\n    return a - b\n", ADD_TESTS, "add")
        yield FLUSH
        assert seen == ["a", "b"], seen  # both verdicts out, the mutation check of "a" included
        yield FLUSH  # nothing handed over since: nothing to run
        yield ExecutionCheck("c", "python", ADD, ADD_TESTS, "add")

    for verdict in verify(sb, checks(), CFG, limits=LIMITS):
        seen.append(verdict.key)
    assert seen == ["a", "b", "c"]


def test_python_failed_assertion(sb):
    v = one(sb, "python", "def add(a, b):\n    return a - b\n", ADD_TESTS, "add")
    assert (v.ok, v.reason, v.status) == (False, "failed", "failed")
    assert "AssertionError" in v.stderr_tail


def test_python_exception_in_solution_is_failed(sb):
    v = one(sb, "python", "def add(a, b):\n    return a + undefined_name\n", ADD_TESTS, "add")
    assert v.reason == "failed" and "NameError" in v.stderr_tail


def test_python_tests_that_only_print_have_no_asserts(sb):
    v = one(sb, "python", ADD, "print(add(1, 2))\nprint('looks right')\n", "add")
    assert (v.ok, v.reason, v.status) == (False, "no_asserts", "not_run")


def test_python_tests_that_never_call_the_solution_have_no_asserts(sb):
    v = one(sb, "python", ADD, "assert 1 + 2 == 3\n", "add")
    assert v.reason == "no_asserts"


def test_python_tests_that_redefine_the_solution_have_no_asserts(sb):
    v = one(sb, "python", "def add(a, b):\n    return 0\n", "def add(a, b):\n    return a + b\n\n" + ADD_TESTS, "add")
    assert v.reason == "no_asserts" and "redefine" in v.stderr_tail


@pytest.mark.parametrize("exit_call", ["import sys\nsys.exit(0)", "import os\nos._exit(0)", "exit(0)",
                                       "raise SystemExit"])
def test_python_exit_before_the_tests_never_passes(sb, exit_call):
    v = one(sb, "python", ADD + exit_call + "\n", "assert add(1, 2) == 4\n", "add")
    assert not v.ok and v.reason == "failed"


def test_python_exit_inside_the_tests_never_passes(sb):
    v = one(sb, "python", ADD, "import os\nif add(1, 2) != 4:\n    os._exit(0)\nassert add(1, 2) == 4\n", "add")
    assert not v.ok and v.reason == "failed"


def test_python_tests_that_cannot_fail_are_caught_by_the_mutation_check(sb):
    swallowed = "try:\n    assert add(1, 2) == 3\nexcept Exception:\n    pass\n"
    v = one(sb, "python", ADD, swallowed, "add")
    assert (v.ok, v.reason, v.status) == (False, "tests_cannot_fail", "passed")
    assert "return None" in v.stderr_tail
    # the same tests with the mutation check switched off pass
    off = EliminateConfig(mutation_check=[])
    assert one(sb, "python", ADD, swallowed, "add", cfg=off).reason == "passed"


# a wrong solution installs its trick on its first call, so its mutant (body -> return None) does not
PATCHES = [
    "import sys\n    sys.exit = lambda *a: None",
    "import os, sys\n    os._exit = sys.exit = lambda *a: None",
    "import builtins\n    builtins.print = lambda *a, **k: None",
    "import io, os, sys\n    sys.stdout = sys.__stdout__ = io.StringIO()\n    os.write = lambda fd, data: len(data)",
    "import unittest\n    unittest.TestResult.wasSuccessful = lambda self: True\n"
    "    unittest.TestResult.addFailure = unittest.TestResult.addError = lambda *a: None",
]
UNITTEST_TESTS = ("import unittest\nclass TestAdd(unittest.TestCase):\n    def test_add(self):\n"
                  "        self.assertEqual(add(2, 3), 5)\n    def test_more(self):\n"
                  "        self.assertEqual(add(10, 1), 11)\nif __name__ == '__main__':\n    unittest.main()\n")
PYTEST_TESTS = "def test_add():\n    assert add(2, 3) == 5\n\ndef test_more():\n    assert add(10, 1) == 11\n"


@pytest.mark.parametrize("patch", PATCHES)
@pytest.mark.parametrize("tests", [UNITTEST_TESTS, PYTEST_TESTS, ADD_TESTS])
def test_python_a_solution_cannot_neutralise_the_runners_failure_path(sb, patch, tests):
    wrong = f"def add(a, b):\n    {patch}\n    return a - b\n"
    right = wrong.replace("a - b", "a + b")
    verdicts = run(sb, ExecutionCheck("wrong", "python", wrong, tests, "add"),
                   ExecutionCheck("right", "python", right, tests, "add"))
    # the sandbox's forked child itself ends with os._exit: a solution that replaces it cannot pass anyway,
    # except under pytest, whose driver ends the process with the os._exit it took before the solution ran
    right_fails = "os._exit" in patch and tests is not PYTEST_TESTS
    assert [v.reason for v in verdicts] == ["failed", "failed" if right_fails else "passed"], verdicts


PRIMES = ("def primes_up_to(n):\n    return [p for p in range(2, n + 1) if all(p % d for d in range(2, p))]\n\n"
          "SMALL = set(primes_up_to(100))  # the mutant (return None) fails here, before any test\n")


@pytest.mark.parametrize("tests", [
    "r = primes_up_to(30)\nassert r == r\n",  # a tautology the crash would have hidden
    "assert primes_up_to(10) == [2, 3, 5, 7]\n",  # strong tests, but not shown able to fail
])
def test_python_a_mutant_failing_before_the_tests_start_proves_nothing(sb, tests):
    v = one(sb, "python", PRIMES, tests, "primes_up_to")
    assert (v.ok, v.reason) == (False, "tests_cannot_fail")
    assert "could not be done" in v.stderr_tail and "before the tests started" in v.stderr_tail
    assert "STARTED" not in v.stdout_tail


def test_python_a_mutant_failing_in_the_tests_top_level_code_is_conclusive(sb):
    solution = "def f(x):\n    return x + 1\n\nTABLE = [f(i) for i in range(3)]  # fine with f returning None\n"
    assert one(sb, "python", solution, "EXPECTED = f(1) + 1\nassert EXPECTED == 3\n", "f").reason == "passed"


def test_python_no_mutant_means_the_tests_were_not_shown_able_to_fail(sb, monkeypatch):
    from wizardcoder.languages import python as builder

    # a class without methods: nothing to break
    v = one(sb, "python", "class Point:\n    x = 1\n", "assert Point.x == 1\n", "Point")
    assert v.reason == "tests_cannot_fail" and "no function body to break" in v.stderr_tail

    def unbuildable(*_args):
        raise RecursionError("too deep")

    monkeypatch.setattr(builder, "_mutate", unbuildable)
    v = one(sb, "python", ADD, ADD_TESTS, "add")
    assert v.reason == "tests_cannot_fail" and "RecursionError" in v.stderr_tail
    assert one(sb, "python", ADD, ADD_TESTS, "add", cfg=EliminateConfig(mutation_check=[])).reason == "passed"


def test_python_timeout(sb):
    v = one(sb, "python", "def spin(n):\n    while True:\n        n += 1\n", "assert spin(1) == 2\n", "spin",
            limits=SandboxConfig(timeout=1.0))
    assert (v.ok, v.reason, v.status) == (False, "timeout", "timeout")


def test_python_syntax_error_is_a_compile_error_without_running(sb):
    v = one(sb, "python", "def add(a, b)\n    return a + b\n", ADD_TESTS, "add")
    assert (v.reason, v.status) == ("compile_error", "not_run")


@pytest.mark.parametrize("tests", [
    # HumanEval style: check(candidate) is called with the entry point
    "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(0, 0) == 0\n",
    # pytest style: uncalled test_* functions are called
    "def test_small():\n    assert add(2, 3) == 5\n\ndef test_zero():\n    assert add(0, 0) == 0\n",
    # pytest class style
    "class TestAdd:\n    def test_small(self):\n        assert add(2, 3) == 5\n",
    # unittest style, with its unittest.main() (which would exit before the marker)
    "import unittest\n\nclass T(unittest.TestCase):\n    def test_small(self):\n        self.assertEqual(add(2, 3), 5)\n"
    "\nif __name__ == '__main__':\n    unittest.main()\n",
    # importing the solution as a module
    "from solution import add\n\nassert add(2, 3) == 5\n",
])
def test_python_test_styles_pass_and_fail(sb, tests):
    good, bad = run(sb, ExecutionCheck("good", "python", ADD, tests, "add"),
                    ExecutionCheck("bad", "python", "def add(a, b):\n    return a * b + 1\n", tests, "add"))
    assert (good.reason, bad.reason) == ("passed", "failed"), (good, bad)


def test_python_solution_main_block_is_not_run(sb):
    solution = ADD + "\nif __name__ == '__main__':\n    print(add(int(input()), 2))\n"
    assert one(sb, "python", solution, ADD_TESTS, "add").reason == "passed"


# ---------------------------------------------------------------------------------------------- C++
def test_cpp_pass_with_the_solutions_main_dropped(sb):
    v = one(sb, "cpp", CPP_SOLUTION, CPP_TESTS, "sum_even")
    assert (v.ok, v.reason) == (True, "passed"), v


def test_cpp_failed_assertion(sb):
    v = one(sb, "cpp", CPP_SOLUTION.replace("x % 2 == 0", "x % 2 == 1"), CPP_TESTS, "sum_even")
    assert (v.ok, v.reason, v.status) == (False, "failed", "failed")


def test_cpp_compile_error(sb):
    v = one(sb, "cpp", CPP_SOLUTION.replace("return total;", "return total"), CPP_TESTS, "sum_even")
    assert (v.ok, v.reason) == (False, "compile_error")
    assert "error" in v.stderr_tail


def test_cpp_exit_zero_in_the_solution_never_passes(sb):
    solution = CPP_SOLUTION.replace("long long total = 0;", "long long total = 0; std::exit(0);")
    solution = "#include <cstdlib>\n" + solution
    v = one(sb, "cpp", solution, CPP_TESTS.replace("== 6", "== 7"), "sum_even")
    assert not v.ok and v.reason == "failed"


def test_cpp_ndebug_in_the_solution_does_not_disable_the_tests(sb):
    v = one(sb, "cpp", "#define NDEBUG\n" + CPP_SOLUTION, CPP_TESTS.replace("== 6", "== 7"), "sum_even")
    assert v.reason == "failed"


def test_cpp_tests_without_checks_have_no_asserts(sb):
    tests = '#include <iostream>\nint main() {\n    std::cout << sum_even({1, 2}) << "\\n";\n    return 0;\n}\n'
    assert one(sb, "cpp", CPP_SOLUTION, tests, "sum_even").reason == "no_asserts"


# --------------------------------------------------------------------------------------------- Java
def test_java_pass_with_separate_test_class(sb):
    v = one(sb, "java", JAVA_SOLUTION, JAVA_TESTS, "sumEven")
    assert (v.ok, v.reason) == (True, "passed"), v


def test_java_failed_assertion_counts_because_of_ea(sb):
    v = one(sb, "java", JAVA_SOLUTION.replace("x % 2 == 0", "x % 2 != 0"),
            "assert Solution.sumEven(Arrays.asList(1, 2, 3, 4)) == 6;", "sumEven")
    assert (v.ok, v.reason) == (False, "failed"), v
    assert "AssertionError" in v.stderr_tail


def test_java_compile_error(sb):
    v = one(sb, "java", JAVA_SOLUTION.replace("return total;", "return total"), JAVA_TESTS, "sumEven")
    assert (v.ok, v.reason) == (False, "compile_error")


def test_java_system_exit_zero_never_passes(sb):
    solution = JAVA_SOLUTION.replace("int total = 0;", "int total = 0; if (xs.size() > 3) System.exit(0);")
    v = one(sb, "java", solution, JAVA_TESTS.replace("== 6", "== 7"), "sumEven")
    assert not v.ok and v.reason == "failed"


# ------------------------------------------------------------------------------------------- stream
def test_verdicts_keep_input_order_across_chunks(sb):
    cfg = EliminateConfig(chunk_size=2)
    checks = [ExecutionCheck(f"k{i}", "python", ADD if i % 2 == 0 else "def add(a, b):\n    return 0\n",
                             ADD_TESTS, "add") for i in range(5)]
    seen: list[str] = []
    verdicts = list(verify(sb, iter(checks), cfg, progress=lambda v: seen.append(v.key)))
    assert [v.key for v in verdicts] == [c.key for c in checks] == seen
    assert [v.ok for v in verdicts] == [True, False, True, False, True]


class _CountingSandbox:
    """The real sandbox, recording the size of each run_many call."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: list[int] = []

    def run_many(self, jobs, progress=None):
        jobs = list(jobs)
        self.calls.append(len(jobs))
        return self.inner.run_many(jobs, progress)


def test_verify_streams_in_chunks_and_is_lazy(sb):
    counting = _CountingSandbox(sb)
    cfg = EliminateConfig(chunk_size=3, mutation_check=[])
    endless = (ExecutionCheck(f"k{i}", "python", ADD, ADD_TESTS, "add") for i in itertools.count())
    first_four = list(itertools.islice(verify(counting, endless, cfg), 4))
    assert [v.reason for v in first_four] == ["passed"] * 4
    assert counting.calls == [3, 3]  # two chunks were needed for four verdicts, not the whole (endless) input


def test_mutation_runs_ride_along_with_the_next_chunk(sb):
    counting = _CountingSandbox(sb)
    cfg = EliminateConfig(chunk_size=2)
    checks = [ExecutionCheck(f"k{i}", "python", ADD, ADD_TESTS if i != 1 else "try:\n    add(1, 2)\nexcept Exception:"
                             "\n    pass\nassert True\n", "add") for i in range(5)]
    verdicts = list(verify(counting, checks, cfg))
    assert [v.reason for v in verdicts] == ["passed", "tests_cannot_fail", "passed", "passed", "passed"]
    # chunk 1 (2 programs); chunk 2 (2) + chunk 1's mutants (2); chunk 3 (1) + 2 mutants; the last mutant
    assert counting.calls == [2, 4, 3, 1]


# ------------------------------------------------------------------------- inconclusive mutation check
class _Scripted:
    """Passes every program; the mutants come back as given (no sandbox involved)."""

    def __init__(self, mutant: Result) -> None:
        self.mutant, self.n = mutant, 0

    def run_many(self, jobs, progress=None):
        jobs = list(jobs)
        self.n += 1
        if self.n == 1:
            return [Result(Status.PASSED, 0, "ok\n", "", 0.1, "") for _ in jobs]
        if self.mutant.stdout != "<started>":
            return [self.mutant for _ in jobs]
        # the mutant printed the program's own "tests started" marker, then failed
        return [dataclasses.replace(self.mutant, stdout=re.search(r"WIZARDCODER-STARTED-\w+", job.program).group())
                for job in jobs]


@pytest.mark.parametrize("mutant, reason, why", [
    (Result(Status.FAILED, 1, "", "error: no viable conversion", 0.1, "compile_error"), "tests_cannot_fail",
     "did not compile"),
    (Result(Status.FAILED, 1, "<started>", "Assertion failed", 0.1, "exit code 1"), "passed", ""),
    # failed before the tests started (a static initialiser calling the broken function): proves nothing
    (Result(Status.FAILED, 1, "", "Assertion failed", 0.1, "exit code 1"), "tests_cannot_fail",
     "before the tests started"),
    (Result(Status.PASSED, 0, "", "", 0.1, ""), "tests_cannot_fail", "they cannot fail"),
])
def test_cpp_and_java_mutants_must_show_the_tests_can_fail(mutant, reason, why):
    checks = [ExecutionCheck("cpp", "cpp", CPP_SOLUTION, CPP_TESTS, "sum_even"),
              ExecutionCheck("java", "java", JAVA_SOLUTION, JAVA_TESTS, "sumEven")]
    verdicts = list(verify(_Scripted(mutant), checks, CFG))
    assert [v.reason for v in verdicts] == [reason, reason]
    assert all(why in v.stderr_tail for v in verdicts)


def test_a_c_like_build_without_a_mutant_is_inconclusive(monkeypatch):
    from wizardcoder.languages import cpp

    real = cpp.build

    def build_without_mutant(check, mutation):
        built = real(check, mutation)
        built.mutant = None
        return built

    monkeypatch.setattr(cpp, "build", build_without_mutant)
    sandbox = _Scripted(Result(Status.PASSED, 0, "", "", 0.1, ""))
    v = list(verify(sandbox, [ExecutionCheck("k", "cpp", CPP_SOLUTION, CPP_TESTS, "sum_even")], CFG))[0]
    assert v.reason == "tests_cannot_fail" and "could not be done" in v.stderr_tail
    off = EliminateConfig(mutation_check=["python"])
    assert list(verify(_Scripted(None), [ExecutionCheck("k", "cpp", CPP_SOLUTION, CPP_TESTS, "sum_even")],
                       off))[0].reason == "passed"


# -------------------------------------------------------------------------------------- infra error
class _BrokenSandbox:
    """A sandbox whose infrastructure fails: every job comes back as Status.ERROR."""

    def run_many(self, jobs, progress=None):
        return [Result.error("the sandbox worker died while the job ran") for _ in jobs]


def test_sandbox_errors_are_infra_errors_never_bad_samples():
    checks = [ExecutionCheck("py", "python", ADD, ADD_TESTS, "add"),
              ExecutionCheck("cpp", "cpp", CPP_SOLUTION, CPP_TESTS, "sum_even"),
              ExecutionCheck("static", "python", ADD, "print(add(1, 2))\n", "add")]
    verdicts = list(verify(_BrokenSandbox(), checks, CFG))
    assert [(v.reason, v.status, v.ok) for v in verdicts] == [
        ("infra_error", "error", False), ("infra_error", "error", False), ("no_asserts", "not_run", False)]
    assert "worker died" in verdicts[0].stderr_tail


class _MutantBreaks:
    """Real results for programs; ERROR for the second (mutation) run."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.n = 0

    def run_many(self, jobs, progress=None):
        self.n += 1
        if self.n == 1:
            return self.inner.run_many(jobs, progress)
        return [Result(Status.ERROR, None, "", "", 0.0, "container vanished") for _ in jobs]


def test_a_sandbox_error_in_the_mutation_run_is_an_infra_error(sb):
    v = list(verify(_MutantBreaks(sb), [ExecutionCheck("k", "python", ADD, ADD_TESTS, "add")], CFG))[0]
    assert (v.reason, v.ok) == ("infra_error", False)
