"""How checks become programs: the accepted shapes of LLM output, per language (local sandbox)."""

from __future__ import annotations

import pytest

from sandbox import create_sandbox
from wizardcoder.eliminate import EliminateConfig
from wizardcoder.eliminate.verify import ExecutionCheck, build, verify
from wizardcoder.languages.c_like_syntax import mask_c_like

CFG = EliminateConfig(mutation_check=[])


@pytest.fixture(scope="module")
def local():
    with create_sandbox("local", workers=2) as box:
        yield box


def reasons(sb, checks, cfg=CFG):
    return {v.key: v.reason for v in verify(sb, checks, cfg)}


def match_brace(masked: str, open_idx: int) -> int:
    """Index of the `}` closing the `{` at `open_idx`; -1 when unbalanced."""
    depth = 0
    for k in range(open_idx, len(masked)):
        depth += {"{": 1, "}": -1}.get(masked[k], 0)
        if depth == 0:
            return k
    return -1


def test_mask_blanks_comments_and_strings_but_keeps_length():
    src = 'int f() { // main() {\n  const char* s = "}{ assert(";  /* } */ char c = \'}\'; return 1\'000; }\n'
    masked = mask_c_like(src)
    assert len(masked) == len(src) and masked.count("\n") == src.count("\n")
    assert "assert" not in masked and "main" not in masked
    assert match_brace(masked, masked.index("{")) == len(src) - 2


def test_java_text_blocks_are_masked():
    src = 'class A { String s = """\n  } assert \n"""; }'
    masked = mask_c_like(src, java=True)
    assert "assert" not in masked and match_brace(masked, masked.index("{")) == len(src) - 1


def test_each_check_gets_a_fresh_marker():
    check = ExecutionCheck("k", "python", "def f():\n    return 1\n", "assert f() == 1\n", "f")
    a, b = build(check, CFG), build(check, CFG)
    assert a.marker and b.marker and a.marker != b.marker
    assert a.marker in a.program and a.program.rstrip().endswith(f"b'\\n{a.marker}\\n')")


def test_future_imports_are_hoisted():
    check = ExecutionCheck("k", "python", "from __future__ import annotations\ndef f() -> int:\n    return 1\n",
                           "from __future__ import annotations\nassert f() == 1\n", "f")
    program = build(check, CFG).program
    assert program.startswith("from __future__ import annotations\n")
    assert program.count("from __future__") == 1


def test_unknown_language_is_an_error():
    with pytest.raises(ValueError, match="unknown language"):
        build(ExecutionCheck("k", "rust", "fn f() {}", "assert!(true);"), CFG)


@pytest.mark.parametrize("language, tests", [
    ("python", ""),
    ("python", "   \n"),
    ("cpp", ""),
])
def test_missing_tests_are_no_asserts(language, tests):
    built = build(ExecutionCheck("k", language, "int f() { return 1; }", tests), CFG)
    assert built.static_reason == "no_asserts" and built.program is None


def test_java_static_checks():
    sol = "class Solution { static int f() { return 1; } }"
    assert build(ExecutionCheck("k", "java", sol, 'System.out.println(Solution.f());'), CFG).static_reason \
        == "no_asserts"
    assert build(ExecutionCheck("k", "java", sol, "class T { static void g() { assert Solution.f() == 1; } }"),
                 CFG).static_reason == "no_asserts"  # no main: nothing runs the tests
    assert build(ExecutionCheck("k", "java", sol, "assert Solution.f() == 1;"), CFG).static_reason is None


JAVA_BARE_METHODS = "public static int twice(int x) {\n    return 2 * x;\n}\n"


def test_java_shapes(local):
    checks = [
        # bare methods + bare statements -> one generated class
        ExecutionCheck("bare+stmts", "java", JAVA_BARE_METHODS, "assert twice(2) == 4;\nassert twice(0) == 0;"),
        # bare methods + a test class with main that calls them unqualified
        ExecutionCheck("bare+class", "java", JAVA_BARE_METHODS,
                       "public class Main {\n  public static void main(String[] a) {\n    assert twice(3) == 6;\n  }\n}"),
        # a class + bare main method (MultiPL-E style: main inside the solution's class)
        ExecutionCheck("class+main", "java", "class Problem {\n" + JAVA_BARE_METHODS + "}\n",
                       "public static void main(String[] args) {\n    assert twice(5) == 10;\n}"),
        # the same class name on both sides is merged; the solution's own main is dropped
        ExecutionCheck("same-name", "java",
                       "import java.util.*;\npublic class Solution {\n" + JAVA_BARE_METHODS
                       + "  public static void main(String[] args) { System.exit(3); }\n}\n",
                       "import java.util.List;\npublic class Solution {\n  public static void main(String[] args) {\n"
                       "    List<Integer> xs = new ArrayList<>(List.of(1));\n    assert twice(xs.get(0)) == 2;\n  }\n}"),
        # package lines dropped; a failing one to show the shapes can fail too
        ExecutionCheck("fails", "java", "package com.example;\nclass Problem {\n" + JAVA_BARE_METHODS + "}\n",
                       "assert Problem.twice(2) == 5 : \"twice(2)\";"),
    ]
    assert reasons(local, checks) == {"bare+stmts": "passed", "bare+class": "passed", "class+main": "passed",
                                      "same-name": "passed", "fails": "failed"}


def test_cpp_shapes(local):
    sol = "#include <string>\nstd::string shout(const std::string& s) { return s + \"!\"; }\n"
    checks = [
        # tests as bare statements are wrapped in a main
        ExecutionCheck("stmts", "cpp", sol, '#include <cassert>\nassert(shout("hi") == "hi!");'),
        # main(int argc, char** argv) and no return statement
        ExecutionCheck("argv", "cpp", sol,
                       '#include <cassert>\nint main(int argc, char** argv) {\n  assert(argc >= 1);\n'
                       '  assert(shout("a") == "a!");\n}'),
        # explicit check with a nonzero exit code instead of assert
        ExecutionCheck("return1", "cpp", sol,
                       'int main() {\n  if (shout("a") != "a?") return 1;\n  return 0;\n}'),
        # a brace inside a string and a comment does not confuse the main() surgery
        ExecutionCheck("braces", "cpp", sol + 'int main() { /* } */ return shout("}").size() == 2 ? 0 : 1; }\n',
                       '#include <cassert>\nint main() {\n  // main() { }\n  assert(shout("}") == "}!");\n}'),
    ]
    assert reasons(local, checks) == {"stmts": "passed", "argv": "passed", "return1": "failed", "braces": "passed"}


def test_python_pytest_style_runs_under_real_pytest_in_the_sandbox(local):
    solution = "def safe_div(a, b):\n    if b == 0:\n        raise ZeroDivisionError('b is zero')\n    return a / b\n"
    tests = (
        "import pytest\n\n"
        "@pytest.mark.parametrize('a, b, expected', [(1, 2, 0.5), (3, 3, 1.0), (1, 3, 0.3333333)])\n"
        "def test_values(a, b, expected):\n    assert safe_div(a, b) == pytest.approx(expected)\n\n"
        "def test_zero():\n    with pytest.raises(ZeroDivisionError, match='zero'):\n        safe_div(1, 0)\n"
    )
    wrong = solution.replace("return a / b", "return a // b")
    no_raise = solution.replace("raise ZeroDivisionError('b is zero')", "return 0")
    checks = [ExecutionCheck("ok", "python", solution, tests, "safe_div"),
              ExecutionCheck("wrong", "python", wrong, tests, "safe_div"),
              ExecutionCheck("no_raise", "python", no_raise, tests, "safe_div")]
    built = build(checks[0], CFG)
    # the driver and the marker travel as files (the marker is in no file once the solution runs); the job
    # requires pytest, so a sandbox without it answers an infrastructure error, never a verdict
    assert set(built.files) == {"_wc_pytest.py", ".wc-marker"} and built.requires == ("pytest",)
    assert built.marker not in built.program and built.files[".wc-marker"] == built.marker
    assert reasons(local, checks) == {"ok": "passed", "wrong": "failed", "no_raise": "failed"}


def test_cpp_headers_from_the_tests_reach_the_solution_and_local_headers_are_dropped(local):
    sol = "std::vector<int> evens(const std::vector<int>& xs) {\n  std::vector<int> out;\n" \
          "  for (int x : xs) if (x % 2 == 0) out.push_back(x);\n  return out;\n}\n"
    tests = '#include "solution.h"\n#include <vector>\n#include <cassert>\n' \
            "int main() {\n  assert(evens({1, 2, 4}).size() == 2);\n}\n"
    assert reasons(local, [ExecutionCheck("k", "cpp", sol, tests, "evens")]) == {"k": "passed"}


def test_test_imports_come_first():
    solution = "def total(xs: List[int]) -> int:\n    return sum(xs)\n"
    tests = "from math import gcd\nfrom typing import (\n    List,\n)\nassert gcd(4, 6) == 2\nassert total([1]) == 1\n"
    program = build(ExecutionCheck("k", "python", solution, tests, "total"), CFG).program
    assert program.index("List,") < program.index("def total")


@pytest.mark.parametrize("solution, tests", [
    # the tests' oracle (math.gcd) and the solution's own gcd share one namespace: the solution's would win
    ("def gcd(a, b):\n    return 1\n\ndef lcm(a, b):\n    return a * b // gcd(a, b)\n",
     "from math import gcd\n\ndef test_lcm():\n    assert lcm(4, 6) == 4 * 6 // gcd(4, 6)\n"),
    ("pi = 3\n\ndef area(r):\n    return pi * r * r\n", "from math import pi as pi\nassert area(1) == pi\n"),
    ("class Counter:\n    pass\n\ndef count(xs):\n    return {}\n",
     "import collections\nfrom collections import Counter\nassert count('aab') == Counter('aab')\n"),
])
def test_a_name_both_the_tests_import_and_the_solution_defines_is_ambiguous(local, solution, tests):
    built = build(ExecutionCheck("k", "python", solution, tests, None), CFG)
    assert built.program is None and built.static_reason == "failed"
    assert "ambiguous" in built.static_detail and "from " in built.static_detail
    assert reasons(local, [ExecutionCheck("k", "python", solution, tests, None)]) == {"k": "failed"}


def test_the_solutions_own_imports_and_locals_are_no_clash(local):
    solution = "from math import gcd\n\ndef lcm(a, b):\n    d = {}\n    d['x'] = 1\n    return a * b // gcd(a, b)\n"
    tests = "from math import gcd\nimport math\nd = {}\nassert lcm(4, 6) == 4 * 6 // gcd(4, 6) == 12\n"
    assert reasons(local, [ExecutionCheck("k", "python", solution, tests, "lcm")]) == {"k": "passed"}


def test_imports_of_the_solution_module_are_resolved(local):
    checks = [
        ExecutionCheck("from", "python", "def f(x):\n    return x + 1\n", "from solution import f\nassert f(1) == 2\n",
                       "f"),
        ExecutionCheck("module", "python", "def f(x):\n    return x + 1\n",
                       "import solution\nassert solution.f(1) == 2\n", "f"),
        ExecutionCheck("star", "python", "def f(x):\n    return x + 1\n", "from solution import *\nassert f(1) == 2\n",
                       "f"),
        ExecutionCheck("gcd", "python", "def gcd(a, b):\n    return 42\n", "from math import gcd\nassert gcd(4, 6) == 2\n",
                       "gcd"),
    ]
    # the last one: the tests import the gcd the solution defines: ambiguous, failed without running
    assert reasons(local, checks) == {"from": "passed", "module": "passed", "star": "passed", "gcd": "failed"}


def test_a_bug_in_the_builder_is_an_infra_error_not_a_bad_sample(monkeypatch, caplog):
    import wizardcoder.languages.cpp as cpp_builder

    def broken(*_args, **_kwargs):
        raise KeyError("builder bug")

    monkeypatch.setattr(cpp_builder, "build", broken)

    class _NoRuns:
        def run_many(self, jobs, progress=None):
            assert not list(jobs)
            return []

    verdicts = list(verify(_NoRuns(), [ExecutionCheck("k", "cpp", "int f();", "int main(){assert(f());}")], CFG))
    assert [(v.reason, v.status) for v in verdicts] == [("infra_error", "not_run")]
    assert "builder bug" in verdicts[0].stderr_tail and "could not build" in caplog.text


def test_unknown_language_in_verify_raises():
    class _NoRuns:
        def run_many(self, jobs, progress=None):
            return []

    with pytest.raises(ValueError, match="unknown language"):
        list(verify(_NoRuns(), [ExecutionCheck("k", "cobol", "x", "y")], CFG))


def test_java_public_is_removed_after_comments_and_annotations(local):
    sol = ("/** Utilities. */\n@SuppressWarnings(\"unused\")\npublic final class MathUtil {\n"
           "    public static int sq(int x) { return x * x; }\n}\n")
    tests = "// tests\npublic class MathUtilTest {\n    public static void main(String[] a) {\n" \
            "        assert MathUtil.sq(3) == 9;\n    }\n}\n"
    program = build(ExecutionCheck("k", "java", sol, tests, "sq"), CFG).program
    assert "public final class" not in program and "public class" not in program
    assert "@SuppressWarnings" in program and "/** Utilities. */" in program
    assert reasons(local, [ExecutionCheck("k", "java", sol, tests, "sq")]) == {"k": "passed"}


REALISTIC = [
    # Python: a class with methods; tests use the class and print a success line
    ExecutionCheck("py-class", "python",
                   "from collections import OrderedDict\n\n\nclass LRUCache:\n"
                   "    def __init__(self, capacity: int):\n        self.capacity = capacity\n"
                   "        self.data = OrderedDict()\n\n    def get(self, key):\n"
                   "        if key not in self.data:\n            return -1\n"
                   "        self.data.move_to_end(key)\n        return self.data[key]\n\n"
                   "    def put(self, key, value):\n        self.data[key] = value\n"
                   "        self.data.move_to_end(key)\n        if len(self.data) > self.capacity:\n"
                   "            self.data.popitem(last=False)\n\n\n"
                   "if __name__ == \"__main__\":\n    c = LRUCache(int(input()))\n",
                   "cache = LRUCache(2)\ncache.put(1, 1)\ncache.put(2, 2)\nassert cache.get(1) == 1\n"
                   "cache.put(3, 3)\nassert cache.get(2) == -1\nprint('All tests passed!')\n", "LRUCache"),
    # C++: a LeetCode-style class, tests with a main that prints
    ExecutionCheck("cpp-class", "cpp",
                   "#include <bits/stdc++.h>\nusing namespace std;\n\nclass Solution {\npublic:\n"
                   "    vector<int> twoSum(vector<int>& nums, int target) {\n"
                   "        unordered_map<int, int> seen;\n"
                   "        for (int i = 0; i < (int)nums.size(); ++i) {\n"
                   "            auto it = seen.find(target - nums[i]);\n"
                   "            if (it != seen.end()) return {it->second, i};\n"
                   "            seen[nums[i]] = i;\n        }\n        return {};\n    }\n};\n",
                   "#include <cassert>\n#include <iostream>\nint main() {\n    Solution s;\n"
                   "    vector<int> v = {2, 7, 11, 15};\n    assert((s.twoSum(v, 9) == vector<int>{0, 1}));\n"
                   "    vector<int> w = {3, 3};\n    assert((s.twoSum(w, 6) == vector<int>{0, 1}));\n"
                   "    std::cout << \"All tests passed\" << std::endl;\n    return 0;\n}\n", "twoSum"),
    # Java: instance methods on Solution, tests in a separate public class
    ExecutionCheck("java-instance", "java",
                   "import java.util.HashMap;\nimport java.util.Map;\n\nclass Solution {\n"
                   "    public int[] twoSum(int[] nums, int target) {\n"
                   "        Map<Integer, Integer> seen = new HashMap<>();\n"
                   "        for (int i = 0; i < nums.length; i++) {\n"
                   "            Integer j = seen.get(target - nums[i]);\n"
                   "            if (j != null) return new int[]{j, i};\n            seen.put(nums[i], i);\n"
                   "        }\n        throw new IllegalArgumentException(\"no solution\");\n    }\n}\n",
                   "import java.util.Arrays;\n\npublic class Main {\n    public static void main(String[] args) {\n"
                   "        Solution s = new Solution();\n"
                   "        assert Arrays.equals(s.twoSum(new int[]{2, 7, 11, 15}, 9), new int[]{0, 1});\n"
                   "        try {\n            s.twoSum(new int[]{1}, 5);\n"
                   "            throw new AssertionError(\"expected an exception\");\n"
                   "        } catch (IllegalArgumentException e) {\n            // expected\n        }\n"
                   "        System.out.println(\"All tests passed\");\n    }\n}\n", "twoSum"),
]


def test_realistic_llm_outputs_pass(local):
    with_mutation = EliminateConfig()  # python tests must also fail on a broken solution
    assert reasons(local, REALISTIC, with_mutation) == {"py-class": "passed", "cpp-class": "passed", "java-instance": "passed"}


def test_mutation_check_for_cpp_and_java(local):
    cfg = EliminateConfig()  # on by default in every language
    cpp_sol = "#include <vector>\nlong long total(const std::vector<int>& xs) {\n  long long t = 0;\n" \
              "  for (int x : xs) { t += x; }\n  return t;\n}\n"
    java_sol = "class Util {\n  static boolean isEven(int x) { return x % 2 == 0; }\n}\n"
    checks = [
        ExecutionCheck("cpp-strong", "cpp", cpp_sol, "#include <cassert>\nint main() { assert(total({1, 2}) == 3); }",
                       "total"),
        ExecutionCheck("cpp-weak", "cpp", cpp_sol, "#include <cassert>\nint main() { total({1, 2}); assert(true); }",
                       "total"),
        ExecutionCheck("java-strong", "java", java_sol, "assert Util.isEven(4);\nassert !Util.isEven(3);", "isEven"),
        ExecutionCheck("java-weak", "java", java_sol, "boolean b = Util.isEven(4);\nassert b || !b;", "isEven"),
    ]
    assert reasons(local, checks, cfg) == {"cpp-strong": "passed", "cpp-weak": "tests_cannot_fail",
                                           "java-strong": "passed", "java-weak": "tests_cannot_fail"}
    # switched off, the weak tests pass
    assert reasons(local, checks[1:2], EliminateConfig(mutation_check=["python"])) == {"cpp-weak": "passed"}


# -------------------------------------------------------------------- pytest-style tests: nothing dropped
WRONG_AT_7 = "def add(a, b):\n    return a - b if b == 7 else a + b\n"


@pytest.mark.parametrize("tests", [
    ("import pytest\ndef test_small():\n    assert add(1, 2) == 3\n"
     "def test_seven(capsys):\n    print(add(1, 7))\n    assert capsys.readouterr().out == '8\\n'\n"),
    ("class TestAdd:\n    def test_seven(self, tmp_path, x=1):\n        (tmp_path / 'n').write_text(str(add(1, 7)))\n"
     "        assert (tmp_path / 'n').read_text() == '8'\n"),
    # a fixture of the tests' own that needs one of pytest's
    ("import pytest\n@pytest.fixture(params=[7])\ndef seven(request):\n    return request.param\n"
     "def test_seven(seven):\n    assert add(1, seven) == 8\n"),
])
def test_pytests_own_fixtures_are_supplied(local, tests):
    built = build(ExecutionCheck("k", "python", ADD, tests, "add"), CFG)
    assert built.program is not None and built.static_reason is None
    checks = [ExecutionCheck("right", "python", ADD, tests, "add"),
              ExecutionCheck("wrong", "python", WRONG_AT_7, tests, "add")]
    assert reasons(local, checks) == {"right": "passed", "wrong": "failed"}


def test_a_test_needing_a_fixture_nobody_defines_fails_never_skipped(local):
    tests = "def test_small():\n    assert add(1, 2) == 3\ndef test_seven(database):\n    assert add(1, 7) == 8\n"
    assert reasons(local, [ExecutionCheck("k", "python", ADD, tests, "add")]) == {"k": "failed"}


ADD = "def add(a, b):\n    return a + b\n"
OWN_FIXTURES = """import pytest
log = []

@pytest.fixture
def base():
    log.append("base")
    yield 1
    log.append("base done")

@pytest.fixture(name="seven")
def make_seven(base):
    return base + 6

@pytest.fixture(autouse=True)
def clean():
    log.append("clean")

def test_seven(seven):
    assert add(1, seven) == 8

@pytest.mark.parametrize("b", [1, 2])
def test_param_and_fixture(base, b):
    assert add(base, b) == 1 + b

def test_teardown_ran():  # each parametrized case is a test of its own, with its own fixtures
    assert log == ["clean", "base", "base done"] * 3 + ["clean"], log
"""


@pytest.mark.parametrize("tests", [
    # async tests run to the end (asyncio.run), with or without pytest's marks
    "async def test_small():\n    assert add(1, 2) == 3\n\nasync def test_seven():\n    assert add(1, 7) == 8\n",
    "import pytest\n@pytest.mark.asyncio\n@pytest.mark.parametrize('b', [2, 7])\nasync def test_b(b):\n"
    "    assert add(1, b) == 1 + b\n",
    "class TestAdd:\n    async def test_seven(self):\n        assert add(1, 7) == 8\n",
    # the tests' own fixtures (by name, dependent, yield, autouse) are supplied
    OWN_FIXTURES,
])
def test_async_tests_and_the_tests_own_fixtures_run(local, tests):
    checks = [ExecutionCheck("right", "python", ADD, tests, "add"),
              ExecutionCheck("wrong", "python", WRONG_AT_7, tests, "add")]
    assert reasons(local, checks, EliminateConfig()) == {"right": "passed", "wrong": "failed"}


def test_pytest_style_tests_run_next_to_unittest_classes(local):
    tests = ("import unittest\nclass T(unittest.TestCase):\n    def test_small(self):\n"
             "        self.assertEqual(add(1, 2), 3)\n\ndef test_seven():\n    assert add(1, 7) == 8\n")
    checks = [ExecutionCheck("right", "python", ADD, tests, "add"),
              ExecutionCheck("wrong", "python", WRONG_AT_7, tests, "add")]
    assert reasons(local, checks) == {"right": "passed", "wrong": "failed"}


# ------------------------------------------------------- right solutions with common pytest/unittest shapes
@pytest.mark.parametrize("tests", [
    # setup_method / teardown_method (with or without the method argument), setup_class, a fresh instance each
    "class TestCalc:\n    def setup_class(cls):\n        cls.made = 0\n    def setup_method(self, method):\n"
    "        self.calc = Calc()\n        self.seen = []\n    def teardown_method(self):\n"
    "        self.calc = None\n    def test_add(self):\n        self.seen.append(1)\n"
    "        assert self.calc.add(2, 3) == 5 and self.seen == [1]\n    def test_again(self):\n"
    "        self.seen.append(1)\n        assert self.calc.add(1, 1) == 2 and self.seen == [1]\n",
    "import pytest\nlog = []\ndef setup_module(module):\n    log.append('module')\n"
    "def setup_function():\n    log.append('function')\ndef test_add():\n    assert Calc().add(1, 2) == 3\n"
    "def test_log():\n    assert log == ['module', 'function', 'function']\n",
    # sys.exit(...) around the test runners, at top level or under __main__
    "import sys, pytest\ndef test_add():\n    assert Calc().add(1, 2) == 3\nif __name__ == '__main__':\n"
    "    sys.exit(pytest.main([__file__]))\n",
    "import sys, unittest\nclass T(unittest.TestCase):\n    def test_add(self):\n"
    "        self.assertEqual(Calc().add(1, 2), 3)\nif __name__ == '__main__':\n    sys.exit(unittest.main())\n",
    "import pytest\ndef test_add():\n    assert Calc().add(1, 2) == 3\nraise SystemExit(pytest.main())\n",
    # a plain script that ends by exiting 0 after its last check
    "import sys\nassert Calc().add(1, 2) == 3\nprint('all tests passed')\nsys.exit(0)\n",
    "if __name__ == '__main__':\n    assert Calc().add(1, 2) == 3\n    exit()\n",
])
def test_common_test_shapes_pass_for_a_right_solution_and_fail_for_a_wrong_one(local, tests):
    right = "class Calc:\n    def add(self, a, b):\n        return a + b\n"
    checks = [ExecutionCheck("right", "python", right, tests, "Calc"),
              ExecutionCheck("wrong", "python", right.replace("a + b", "a * b"), tests, "Calc")]
    assert reasons(local, checks, EliminateConfig()) == {"right": "passed", "wrong": "failed"}


def test_only_a_final_exit_0_is_dropped(local):
    tests = "import sys\nif add(1, 2) == 3:\n    sys.exit(0)\nassert add(1, 2) == 4\n"  # exits before a check
    assert reasons(local, [ExecutionCheck("k", "python", ADD, tests, "add")]) == {"k": "failed"}
    tests = "import sys\nassert add(1, 2) == 3\nsys.exit(1)\n"
    assert reasons(local, [ExecutionCheck("k", "python", ADD, tests, "add")]) == {"k": "failed"}


def test_the_mutant_is_edited_in_the_source_text():
    # ast.unparse recurses too deep on a long expression that ast.parse accepts
    solution = ("import functools\n\ndef add(a, b):\n    \"\"\"Sum.\"\"\"\n    @functools.lru_cache\n"
                "    def inner(x):\n        return x\n    return inner(a) + b  # comment\n\nZERO = "
                + " + ".join(["0"] * 600) + "\n")
    built = build(ExecutionCheck("k", "python", solution, "assert add(2, 3) == 5\n", "add"), EliminateConfig())
    assert built.mutated == ("add",) and not built.no_mutant
    assert "def add(a, b):\n    return None  # comment\n\nZERO = 0 + 0" in built.mutant


CPP_ADD = "int add(int a, int b) { return a + b; }\n"
JAVA_ADD = "class Solution { static int add(int a, int b) { return a + b; } }\n"
CPP_HEAD = "#include <cassert>\n#include <cstdio>\n#include <cstdlib>\n"


@pytest.mark.parametrize("language, tests, right", [
    # the tests' own final exit(0): they are done, a right solution passes
    ("cpp", CPP_HEAD + "int main() {\n    assert(add(1, 2) == 3);\n    std::puts(\"ok\");\n    std::exit(0);\n}\n", True),
    ("cpp", CPP_HEAD + "int main() { assert(add(1, 2) == 3); if (add(0, 0) == 0) { } exit ( EXIT_SUCCESS ) ; }\n", True),
    ("cpp", CPP_HEAD + "assert(add(1, 2) == 3);\nstd::exit(0);\n", True),  # bare statements
    ("java", "public class T {\n    public static void main(String[] a) {\n        assert Solution.add(1, 2) == 3;\n"
             "        System.out.println(\"ok\");\n        System.exit(0);\n    }\n}\n", True),
    # an exit before a check, a conditional one, a non-zero one: not the end of the tests
    ("cpp", CPP_HEAD + "int main() {\n    if (add(1, 2) == 3) exit(0);\n    assert(add(1, 2) == 4);\n}\n", False),
    ("cpp", CPP_HEAD + "int main() {\n    assert(add(1, 2) == 3);\n    if (add(1, 2) == 3) exit(0);\n}\n", False),
    ("cpp", CPP_HEAD + "int main() {\n    assert(add(1, 2) == 3);\n    exit(3);\n}\n", False),
    ("java", "public class T {\n    public static void main(String[] a) {\n        if (Solution.add(1, 2) == 3) "
             "System.exit(0);\n        assert Solution.add(1, 2) == 4;\n    }\n}\n", False),
    ("java", "public class T {\n    public static void main(String[] a) {\n        assert Solution.add(1, 2) == 3;\n"
             "        if (a.length == 0) System.exit(0);\n    }\n}\n", False),
    ("java", "public class T {\n    public static void main(String[] a) {\n        assert Solution.add(1, 2) == 3;\n"
             "        System.exit(2);\n    }\n}\n", False),
])
def test_only_a_final_unconditional_exit_0_of_cpp_and_java_tests_is_dropped(local, language, tests, right):
    solution = CPP_ADD if language == "cpp" else JAVA_ADD
    got = reasons(local, [ExecutionCheck("right", language, solution, tests, "add"),
                          ExecutionCheck("wrong", language, solution.replace("a + b", "a * b"), tests, "add")])
    assert got == ({"right": "passed", "wrong": "failed"} if right else {"right": "failed", "wrong": "failed"})


@pytest.mark.parametrize("separator", ["\x0c", "\u2028", "\x1c", "\x85"])
def test_line_separators_inside_string_literals_survive_the_future_import_hoist(separator):
    """str.splitlines also splits on form feeds and other separators: a literal holding one was cut in two."""
    solution = f"from __future__ import annotations\n\ndef sep() -> str:\n    return '{separator}'\n"
    tests = f"assert sep() == {separator!r}\n"
    built = build(ExecutionCheck("k", "python", solution, tests, "sep"), EliminateConfig())
    compile(built.program, "program.py", "exec")
    compile(built.mutant, "mutant.py", "exec")
