"""Entry points found by scanning the code, and the "tests must be able to fail" check in C++ and Java.

The table below is the class of weak tests an LLM writes (tautologies, dead asserts, catch-alls, calls
to a copy of the function, tests that call nothing) next to right tests of the shapes it must not
break (overloads, templates, static and instance methods, `main` in the solution, void functions,
functions returning vectors / strings / structs, deduced `auto`, lambdas). Every check runs without a
given entry point, so the scan decides; all of them go through the real Docker sandbox in one batch.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from wizardcoder.eliminate import EliminateConfig
from wizardcoder.eliminate.verify import ExecutionCheck, verify
from wizardcoder.execution.config import SandboxConfig
from wizardcoder.languages import find_entry_point, misses_the_task_function
from wizardcoder.languages.c_like_syntax import break_c_like

CPP_ADD = "int helper(int x) { return x; }\nint add(int a, int b) { return helper(a) + b; }\n"
JAVA_ADD = "class Calc {\n    static int helper(int x) { return x; }\n    static int add(int a, int b) { return helper(a) + b; }\n}\n"


def cpp_main(body: str) -> str:
    return "#include <cassert>\n#include <string>\n#include <vector>\nint main() {\n" + body + "\n    return 0;\n}\n"


def java_main(body: str) -> str:
    return "public class Main {\n    public static void main(String[] args) {\n" + body + "\n    }\n}\n"


# key -> (language, solution, tests, expected reason)
CASES = {
    # --- C++: tests that cannot fail
    "cpp-tautology": ("cpp", CPP_ADD, cpp_main("int r = add(2, 3);\nassert(r == r);"), "tests_cannot_fail"),
    "cpp-or-true": ("cpp", "int f(int a, int b, int c) { return a + b + c; }\n",
                    cpp_main("assert(f(1, 2, 3) >= 0 || true);"), "tests_cannot_fail"),
    "cpp-dead-code": ("cpp", CPP_ADD, cpp_main("if (false) { assert(add(2, 3) == 5); }"), "tests_cannot_fail"),
    "cpp-catch-all": ("cpp", CPP_ADD, cpp_main(
        "try { if (add(2, 3) != 5) throw 1; } catch (...) {}"), "tests_cannot_fail"),
    "cpp-no-call": ("cpp", CPP_ADD, cpp_main("int x = 5;\nassert(x == 5);"), "no_asserts"),
    "cpp-own-copy": ("cpp", "int add(int a, int b) { return a + b; }\n",
                     ("#include <cassert>\nint add2(int a, int b) { return a + b; }\n"
                     "int main() { assert(add2(2, 3) == 5); return 0; }\n"), "no_asserts"),
    "cpp-type-only": ("cpp", "struct Acc {\n    int total = 0;\n    int add(int x) { total += x; return total; }\n};\n",
                      cpp_main("Acc a;\nassert(a.total == 0);"), "tests_cannot_fail"),
    # the entry point a seed named is not in the solution: the function the tests call is broken instead
    "cpp-given-entry-missing": ("cpp", CPP_ADD, cpp_main("int r = add(2, 3);\nassert(r == r);"), "tests_cannot_fail"),
    # a reference return right after an `#include`: the mutant must compile, or the check proves nothing
    "cpp-ref-after-include": ("cpp", "#include <vector>\nint& first(std::vector<int>& v) { return v[0]; }\n",
                              cpp_main("std::vector<int> v{4, 5};\nassert(first(v) == 4);"), "passed"),
    "cpp-ref-after-define-and-attribute": (
        "cpp", "#include <vector>\n#define GET(v) \\\n  v[0]\n[[nodiscard]] auto first(std::vector<int>& v) -> int& "
        "{ return GET(v); }\n", cpp_main("std::vector<int> v{4, 5};\nassert(first(v) == 4);"), "passed"),
    # --- C++: wrong solutions fail
    "cpp-wrong": ("cpp", "int add(int a, int b) { return a - b; }\n", cpp_main("assert(add(2, 3) == 5);"), "failed"),
    # --- C++: right tests of every shape pass
    "cpp-helper-first": ("cpp", CPP_ADD, cpp_main("assert(add(2, 3) == 5);"), "passed"),
    "cpp-overload": ("cpp", "int twice(int x) { return 2 * x; }\ndouble twice(double x) { return 2 * x; }\n",
                     cpp_main("assert(twice(2) == 4);\nassert(twice(1.5) == 3.0);"), "passed"),
    "cpp-template": ("cpp", "template <typename T>\nT biggest(T a, T b) { return a > b ? a : b; }\n",
                     cpp_main("assert(biggest(2, 7) == 7);\nassert(biggest(std::string(\"a\"), std::string(\"b\")) == \"b\");"),
                     "passed"),
    "cpp-main-in-solution": ("cpp", ("#include <iostream>\nint sq(int x) { return x * x; }\n"
                                    "int main() { std::cout << sq(3) << std::endl; return 0; }\n"),
                             cpp_main("assert(sq(3) == 9);"), "passed"),
    "cpp-void": ("cpp", ("#include <vector>\n#include <algorithm>\nvoid sort_desc(std::vector<int>& v) {\n"
                        "    std::sort(v.rbegin(), v.rend());\n}\n"),
                 cpp_main("std::vector<int> v{1, 3, 2};\nsort_desc(v);\nassert((v == std::vector<int>{3, 2, 1}));"),
                 "passed"),
    "cpp-string": ("cpp", "#include <string>\nstd::string greet(const std::string& n) { return \"hi \" + n; }\n",
                   cpp_main("assert(greet(\"bo\") == \"hi bo\");"), "passed"),
    "cpp-struct": ("cpp", ("struct Point { int x; int y; };\nPoint mid(Point a, Point b) {\n"
                          "    return Point{(a.x + b.x) / 2, (a.y + b.y) / 2};\n}\n"),
                   cpp_main("Point p = mid({0, 0}, {4, 6});\nassert(p.x == 2 && p.y == 3);"), "passed"),
    "cpp-class-method": ("cpp", ("#include <vector>\nclass Solution {\npublic:\n"
                                "    std::vector<int> evens(const std::vector<int>& xs) {\n"
                                "        std::vector<int> out;\n        for (int x : xs) if (x % 2 == 0) out.push_back(x);\n"
                                "        return out;\n    }\n};\n"),
                         cpp_main("Solution s;\nassert((s.evens({1, 2, 4}) == std::vector<int>{2, 4}));"), "passed"),
    "cpp-auto": ("cpp", "auto cube(int x) { if (x == 0) return 0; return x * x * x; }\n",
                 cpp_main("assert(cube(2) == 8);"), "passed"),
    "cpp-lambda": ("cpp", "auto mul = [](int a, int b) { return a * b; };\n",
                   cpp_main("assert(mul(3, 4) == 12);"), "passed"),
    "cpp-lambda-tautology": ("cpp", "auto mul = [](int a, int b) { return a * b; };\n",
                             cpp_main("int r = mul(3, 4);\nassert(r * 0 == 0);"), "tests_cannot_fail"),
    "cpp-functor": ("cpp", "struct Adder {\n    int operator()(int a, int b) const { return a + b; }\n};\n",
                    cpp_main("Adder add;\nassert(add(2, 3) == 5);"), "passed"),
    "cpp-functor-tautology": ("cpp", "struct Adder {\n    int operator()(int a, int b) const { return a + b; }\n};\n",
                              cpp_main("Adder add;\nint r = add(2, 3);\nassert(r == r);"), "tests_cannot_fail"),
    "cpp-operator": ("cpp", "struct V {\n    int x;\n};\nV operator+(V a, V b) { return V{a.x + b.x}; }\n",
                     cpp_main("V s = V{1} + V{2};\nassert(s.x == 3);"), "passed"),
    # (not right after an #include: see test_a_reference_return_after_an_include_is_broken_cleanly)
    "cpp-reference-return": ("cpp", "#include <vector>\nusing std::vector;\nint& first(vector<int>& v) { return v[0]; }\n",
                             cpp_main("std::vector<int> v{4, 5};\nfirst(v) = 7;\nassert(v[0] == 7 && first(v) == 7);"),
                             "passed"),
    # --- Python: a named lambda is broken too
    "py-lambda": ("python", "mul = lambda a, b: a * b\n", "assert mul(3, 4) == 12\n", "passed"),
    "py-lambda-tautology": ("python", "mul = lambda a, b: a * b\n", "r = mul(3, 4)\nassert r == r\n",
                            "tests_cannot_fail"),
    # --- Java: tests that cannot fail
    "java-tautology": ("java", JAVA_ADD, java_main("int r = Calc.add(2, 3);\nassert r == r;"), "tests_cannot_fail"),
    "java-or-true": ("java", JAVA_ADD, java_main("assert Calc.add(1, 2) >= 0 || true;"), "tests_cannot_fail"),
    "java-catch-all": ("java", JAVA_ADD, java_main("try { assert Calc.add(2, 3) == 5; } catch (Throwable t) { }"),
                       "tests_cannot_fail"),
    "java-dead-code": ("java", JAVA_ADD, java_main("if (args.length > 99) { assert Calc.add(2, 3) == 5; }"),
                       "tests_cannot_fail"),
    "java-no-call": ("java", JAVA_ADD, java_main("int x = 5;\nassert x == 5;"), "no_asserts"),
    "java-own-copy": ("java", JAVA_ADD, ("public class Main {\n    static int add(int a, int b) { return a + b; }\n"
                                        "    public static void main(String[] args) { assert add(2, 3) == 5; }\n}\n"),
                      "no_asserts"),
    # --- Java: wrong solutions fail
    "java-wrong": ("java", "class Calc {\n    static int add(int a, int b) { return a * b; }\n}\n",
                   java_main("assert Calc.add(2, 3) == 5;"), "failed"),
    # --- Java: right tests of every shape pass
    "java-static-helper-first": ("java", JAVA_ADD, java_main("assert Calc.add(2, 3) == 5;"), "passed"),
    "java-instance": ("java", "class Greeter {\n    String greet(String n) { return \"hi \" + n; }\n}\n",
                      java_main("assert new Greeter().greet(\"bo\").equals(\"hi bo\");"), "passed"),
    "java-overload": ("java", ("class Twice {\n    static int of(int x) { return 2 * x; }\n"
                              "    static long of(long x) { return 2L * x; }\n}\n"),
                      java_main("assert Twice.of(2) == 4;\nassert Twice.of(3L) == 6L;"), "passed"),
    "java-generic": ("java", ("import java.util.*;\nclass Lists {\n"
                             "    static <T> List<T> reversed(List<T> xs) {\n"
                             "        List<T> out = new ArrayList<>(xs);\n        Collections.reverse(out);\n"
                             "        return out;\n    }\n}\n"),
                     "import java.util.*;\n" + java_main("assert Lists.reversed(Arrays.asList(1, 2)).equals(Arrays.asList(2, 1));"),
                     "passed"),
    "java-void": ("java", ("import java.util.*;\nclass Sorter {\n    static void sortDesc(int[] a) {\n"
                          "        Arrays.sort(a);\n        for (int i = 0; i < a.length / 2; i++) {\n"
                          "            int t = a[i]; a[i] = a[a.length - 1 - i]; a[a.length - 1 - i] = t;\n        }\n    }\n}\n"),
                  "import java.util.*;\n" + java_main("int[] a = {1, 3, 2};\nSorter.sortDesc(a);\n"
                                                        "assert Arrays.equals(a, new int[]{3, 2, 1});"), "passed"),
    "java-boolean": ("java", "class P {\n    static boolean isEven(int x) { return x % 2 == 0; }\n}\n",
                     java_main("assert P.isEven(4);\nassert !P.isEven(3);"), "passed"),
    "java-main-in-solution": ("java", ("public class Solution {\n    static int sq(int x) { return x * x; }\n"
                                      "    public static void main(String[] a) { System.out.println(sq(3)); }\n}\n"),
                              java_main("assert Solution.sq(3) == 9;"), "passed"),
    "java-lambda": ("java", ("import java.util.function.*;\nclass Ops {\n"
                            "    static IntBinaryOperator mul = (a, b) -> a * b;\n}\n"),
                    java_main("assert Ops.mul.applyAsInt(3, 4) == 12;"), "passed"),
    "java-lambda-tautology": ("java", ("import java.util.function.*;\nclass Ops {\n"
                                      "    static BiFunction<Integer, Integer, Integer> mul = (a, b) -> a * b;\n}\n"),
                              java_main("Integer r = Ops.mul.apply(3, 4);\nassert r == r;"), "tests_cannot_fail"),
}


@pytest.mark.parametrize("language, solution, tests, want", [
    ("cpp", CPP_ADD, cpp_main("assert(add(2, 3) == 5);"), "add"),  # not the first function
    ("cpp", CPP_ADD, cpp_main("int r = helper(1);\nassert(add(r, 3) == 4);"), "add"),  # the asserted one first
    ("cpp", CPP_ADD, cpp_main("// add(1, 2)\nconst char* s = \"add(\";\nassert(helper(2) == 2);"), "helper"),
    ("cpp", "class S {\npublic:\n  int size() const { return 1; }\n};\nint S::other(int a) { return a; }\n",
     cpp_main("S s;\nassert(s.other(2) == 2);"), "other"),
    ("cpp", "int add(int a, int b) { return a + b; }\n", "int add(int a, int b) { return 0; }\nint main() { assert(add(1, 1) == 0); }",
     None),  # the tests' own copy is no entry point
    ("java", JAVA_ADD, java_main("assert Calc.add(2, 3) == 5;"), "add"),
    ("java", "public class Solution {\n  public Solution() { }\n  public int get() { return 1; }\n}\n",
     java_main("assert new Solution().get() == 1;"), "get"),  # a constructor is no entry point
    ("python", "def helper(x):\n    return x\n\ndef add(a, b):\n    return helper(a) + b\n", "assert add(2, 3) == 5\n", "add"),
    ("python", "import math\nmul = lambda a, b: a * b\n\ndef helper(x):\n    return x\n", "assert mul(2, 3) == 6\n", "mul"),
])
def test_the_entry_point_is_the_function_the_tests_call(language, solution, tests, want):
    assert find_entry_point(solution, tests, language) == want


def test_the_mutant_keeps_every_signature():
    cpp = ("template <typename T>\nT biggest(T a, T b) { return a > b ? a : b; }\n"
           "auto cube(int x) { return x * x * x; }\nvoid fill(std::vector<int>& v) { v.push_back(1); }\n"
           "auto mul = [](int a, int b) -> long { return a * b; };\n")
    assert "T biggest(T a, T b) { return {}; }" in break_c_like(cpp, "biggest", java=False)
    assert "{ return std::decay_t<decltype(x * x * x)>{}; }" in break_c_like(cpp, "cube", java=False)
    assert "void fill(std::vector<int>& v) { }" in break_c_like(cpp, "fill", java=False)
    assert "-> long { return {}; }" in break_c_like(cpp, "mul", java=False)
    java = ("class A {\n  static long f(long x) { return x; }\n  static int f(int x) { return x; }\n"
            "  static char c() { return 'a'; }\n  String s() { return \"\"; }\n  A() { }\n}\n")
    broken = break_c_like(java, "f", java=True)
    assert "static long f(long x) { return 0L; }" in broken and "static int f(int x) { return 0; }" in broken
    assert "{ return '\\0'; }" in break_c_like(java, "c", java=True)
    assert "{ return null; }" in break_c_like(java, "s", java=True)
    assert break_c_like(java, "A", java=True) is None  # a constructor is never broken


@pytest.mark.docker
def test_weak_tests_and_wrong_solutions_are_dropped_right_ones_pass_in_docker():
    from sandbox import create_sandbox

    given = {"cpp-given-entry-missing": "solve"}  # every other check: the scan decides
    checks = [ExecutionCheck(key, lang, sol, tests, given.get(key)) for key, (lang, sol, tests, _) in CASES.items()]
    with create_sandbox("docker", image=os.environ.get("WIZARDCODER_SANDBOX_IMAGE", "wizardcoder-sandbox:latest"),
                        workers=4) as sandbox:
        verdicts = {v.key: v for v in verify(sandbox, checks, EliminateConfig(chunk_size=64),
                                                           limits=SandboxConfig(timeout=20.0))}
    got = {key: verdicts[key].reason for key in CASES}
    assert got == {key: want for key, (*_, want) in CASES.items()}, {
        key: verdicts[key].stderr_tail[-400:] for key in CASES if got[key] != CASES[key][3]}


def test_a_reference_return_after_an_include_is_broken_cleanly():
    mutant = break_c_like("#include <vector>\nint& first(std::vector<int>& v) { return v[0]; }\n", "first", java=False)
    assert mutant is not None and "#include <vector> int&" not in mutant


# what comes before a definition (preprocessor lines, comments, attributes, templates, requires-clauses)
# is no part of its return type; trailing and deduced reference returns get a default that outlives the call
REFERENCE_RETURNS = {
    "include": "#include <vector>\nint& first(std::vector<int>& v) { return v[0]; }\n",
    "continued-define": ("#include <map>\n#define TABLE(x) \\\n   (x)\n[[nodiscard]] static const std::map<int, int>& "
                         "first(int) { static std::map<int, int> t{{1, 2}}; return TABLE(t); }\n"),
    "template-and-attribute": ("#include <vector>\ntemplate <typename T, typename A = std::allocator<T>>\n"
                               "__attribute__((always_inline)) inline T& first(std::vector<T, A>& v) { return v[0]; }\n"),
    "requires": ("#include <vector>\n#include <type_traits>\ntemplate <typename T> requires std::is_integral_v<T>\n"
                 "T& first(std::vector<T>& v) { return v[0]; }\n"),
    "comment": "#include <vector>\n/* doc { } */ // x;\nint& first(std::vector<int>& v) { return v[0]; }\n",
    "trailing": "#include <vector>\nauto first(std::vector<int>& v) -> int& { return v[0]; }\n",
    "deduced": "#include <vector>\nauto& first(std::vector<int>& v) { if (v.size() > 3) return v[1]; return v[0]; }\n",
    "method-after-ifdef": ("#include <vector>\nstruct S {\n  std::vector<int> v{1};\n#ifdef X\n#endif\n"
                           "  int& first() { return v[0]; }\n};\n"),
}


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
@pytest.mark.parametrize("solution", REFERENCE_RETURNS.values(), ids=REFERENCE_RETURNS.keys())
def test_reference_returns_are_broken_into_code_that_compiles(solution):
    mutant = break_c_like(solution, "first", java=False)
    assert mutant is not None and "return v[0]" not in mutant and "return TABLE(t)" not in mutant
    compiled = subprocess.run(["g++", "-std=c++20", "-fsyntax-only", "-x", "c++", "-"], input=mutant, text=True,
                              capture_output=True, check=False)
    assert compiled.returncode == 0, (mutant, compiled.stderr)


def test_a_trailing_return_type_keeps_its_override_out():
    src = ("struct B { virtual auto first() -> int { return 1; } };\nstruct D : B { auto first() -> int override "
           "{ return 2; } };\nstruct E { auto first() const -> void final { } };\n")
    broken = break_c_like(src, "first", java=False)
    assert "-> int override { return {}; }" in broken and "-> void final { }" in broken


PY_SOLUTION = "def twice(x):\n    return 2 * x\n\n\ndef add(a, b):\n    return a + twice(b) - b\n"


@pytest.mark.parametrize(("language", "instruction", "solution", "tests", "missed"), [
    # the task names add(); the tests exercise only the helper
    ("python", "Write add(a, b) returning the sum.", PY_SOLUTION, "assert twice(2) == 4\n", True),
    ("python", "Write add(a, b) returning the sum.", PY_SOLUTION, "assert add(2, 3) == 5\n", False),
    # the task names no function: nothing to compare with (the mutation check still runs)
    ("python", "Return the sum of two numbers.", PY_SOLUTION, "assert twice(2) == 4\n", False),
    # tests that call nothing of the solution are no_asserts' business, not this check's
    ("python", "Write add(a, b) returning the sum.", PY_SOLUTION, "assert 1 + 1 == 2\n", False),
    # a name written without a call is a word of the task, not the function to write
    ("python", "Use a twice helper to write add(a, b).", PY_SOLUTION, "assert add(1, 1) == 2\n", False),
    ("cpp", "Implement `int add(int a, int b)`.", "int twice(int a) { return 2 * a; }\nint add(int a, int b) "
     "{ return a + b; }", "int main() { assert(twice(1) == 2); }", True),
    ("cpp", "Implement `int add(int a, int b)`.", "int add(int a, int b) { return a + b; }",
     "int main() { assert(add(1, 2) == 3); }", False),
    ("java", "Write a method Calc.add(a, b).", "class Calc {\n  static int twice(int a) { return 2 * a; }\n"
     "  static int add(int a, int b) { return a + b; }\n}", "class Main { public static void main(String[] a) "
     "{ assert Calc.twice(1) == 2; } }", True),
    ("java", "Write a method Calc.add(a, b).", "class Calc {\n  static int add(int a, int b) { return a + b; }\n}",
     "class Main { public static void main(String[] a) { assert Calc.add(1, 2) == 3; } }", False),
])
def test_tests_must_exercise_a_function_the_task_names(language, instruction, solution, tests, missed):
    assert misses_the_task_function(instruction, solution, tests, language) is missed
