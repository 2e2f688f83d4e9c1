"""A solution shares one file with its tests: nothing it declares may change what the tests mean.
C++: its macros are #undef'ed before the tests; Java: a solution naming a type or field like a JDK
class the tests use is failed without running (local sandbox always, Docker where the image exists)."""

from __future__ import annotations

import pytest

from sandbox import create_sandbox
from wizardcoder.eliminate import EliminateConfig
from wizardcoder.eliminate.verify import ExecutionCheck, build, verify
from wizardcoder.execution.config import SandboxConfig
from wizardcoder.languages.cpp import cpp_isolate_macros, cpp_runtime_overrides
from wizardcoder.languages.java import java_shadowing

CFG = EliminateConfig()  # the mutation check on: a flag trick must not fool it either
BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]


@pytest.fixture(scope="module", params=BACKENDS)
def sb(request):
    with create_sandbox(request.param, workers=2) as box:
        yield box


def verdict(sb, language, solution, tests, entry_point):
    (v,) = verify(sb, [ExecutionCheck("k", language, solution, tests, entry_point)], CFG,
                  limits=SandboxConfig(timeout=10.0))
    return v


CPP_TESTS = "#include <cassert>\n#include <cstdlib>\n#include <cstdio>\nint main() {\n" \
            "    if (add(2, 3) != 5) { printf(\"bad\\n\"); exit(1); }\n    assert(add(10, 1) == 11);\n    return 0;\n}\n"
CPP_FLAG = "#include <cassert>\n#include <cstdlib>\nstatic bool add_ran = false;\n" \
           "int add(int a, int b) { add_ran = true; return a - b; }\n"


@pytest.mark.parametrize("macro", [
    "#define __assert_fail(...) (add_ran ? (void)0 : std::abort())",
    "#define assert(x) ((void)0)",
    "# /* spaced */ define exit(c) (add_ran ? (void)0 : std::exit(c))",
    "#def\\\nine printf(...) 0\n#define exit(c) (add_ran ? (void)0 : std::exit(c))",
    "%:define return return add_ran ? 0 :",
])
def test_cpp_macros_of_the_solution_never_reach_the_tests(sb, macro):
    v = verdict(sb, "cpp", CPP_FLAG + macro + "\n", CPP_TESTS, "add")
    assert v.reason in ("failed", "compile_error"), (v.reason, v.stderr_tail)


def test_cpp_isolation_undefines_every_macro_and_restores_assert():
    block = cpp_isolate_macros("#define A 1\n#/**/define B(x) x\n#def\\\nine C\n??=define D\nint x;\n")
    lines = block.split()
    for name in "ABCD":
        assert f"{name}" in lines
    assert block.rstrip().endswith("#undef NDEBUG\n#include <cassert>")
    program = build(ExecutionCheck("k", "cpp", "#define MOD 7\nint add(int a, int b) { return a + b; }\n",
                                   CPP_TESTS, "add"), CFG).program
    assert program.index("#undef MOD") < program.index("int wizardcoder_tests_main")


def test_cpp_solution_using_its_own_macros_still_passes(sb):
    sol = "#define SQ(x) ((x) * (x))\nint add(int a, int b) { return SQ(a) - SQ(a) + a + b; }\n"
    assert verdict(sb, "cpp", sol, CPP_TESTS, "add").reason == "passed"


JAVA_TESTS = ("public class SolutionTest {\n    public static void main(String[] args) {\n"
              "        if (Solution.add(2, 3) != 5) { System.out.println(\"FAIL\"); System.exit(1); }\n"
              "        if (Math.abs(Solution.add(-2, -3)) != 5) System.exit(1);\n    }\n}\n")
JAVA_FLAG = "class Solution {\n    static boolean ran = false;\n    static int add(int a, int b) { ran = true; return a - b; }\n"


@pytest.mark.parametrize("shadow", [
    # top-level: hides java.lang.System from the whole file
    ("}\nclass System {\n    static final java.io.PrintStream out = java.lang.System.out;\n"
     "    static void exit(int c) { if (!Solution.ran) java.lang.System.exit(c); }\n}\n"),
    # nested, unicode-escaped name
    "    static class \\u004Dath { static int abs(int x) { return 5; } }\n}\n",
    # a field obscures the type
    "    static Object System;\n}\n",
    # `java` hides fully qualified names
    "    static class java {}\n}\n",
])
def test_java_solution_shadowing_jdk_classes_is_failed_statically(sb, shadow):
    v = verdict(sb, "java", JAVA_FLAG + shadow, JAVA_TESTS, "add")
    assert v.reason == "failed" and "hide" in v.stderr_tail, v


def test_java_ordinary_solutions_are_not_taken_for_shadowing(sb):
    sol = ("import java.util.*;\nclass Solution {\n    // plain java\n    static int add(int a, int b) {\n"
           "        String s = \"System\"; Object o = s;\n        if (o instanceof String) { List<Integer> l = new ArrayList<>(); }\n"
           "        return Math.addExact(a, b);\n    }\n}\nclass Stack { }\n")
    assert java_shadowing(sol, JAVA_TESTS) is None
    assert verdict(sb, "java", sol, JAVA_TESTS, "add").reason == "passed"


def test_java_own_class_named_like_java_util_is_fine_unless_imported():
    tests = "class T { public static void main(String[] a) { Stack s = new Stack(); assert s.size() == 0; } }"
    assert java_shadowing("class Stack { int size() { return 0; } }", tests) is None
    assert "Stack" in java_shadowing("import java.util.*;\nclass Stack { int size() { return 0; } }", tests)


def test_java_harness_names_the_jdk_fully():
    built = build(ExecutionCheck("k", "java", JAVA_FLAG + "}\n", JAVA_TESTS, "add"), CFG)
    wrapper = built.program[built.program.index("static void wizardcoderInit"):]
    assert "java.lang.System.out.println" in wrapper and "(java.lang.String[] args)" in wrapper


# a table built at start-up with the entry point: the mutant (`return {};` / null) crashes there, before
# any test runs, which says nothing about whether the tests can fail
CPP_PRIMES = ("#include <vector>\nstd::vector<int> primes_up_to(int n) {\n    std::vector<int> out;\n"
              "    for (int p = 2; p <= n; ++p) { bool ok = true;\n"
              "        for (int d = 2; d * d <= p; ++d) if (p % d == 0) ok = false;\n"
              "        if (ok) out.push_back(p); }\n    return out;\n}\n")
CPP_TABLE = "static const int SMALLEST = primes_up_to(100).at(0);\n"
JAVA_PRIMES = ("class Primes {\n    static int[] upTo(int n) {\n        return java.util.stream.IntStream.rangeClosed(2, n)"
               ".filter(p -> java.util.stream.IntStream.range(2, p).noneMatch(d -> p % d == 0)).toArray();\n    }\n")
JAVA_TABLE = "    static class Table { static final int SMALLEST = upTo(100)[0]; }\n"  # nested: initialised too
TAUTOLOGY = {"cpp": "#include <cassert>\nint main() { auto r = primes_up_to(30); assert(r == r); return 0; }\n",
             "java": "public class Main { public static void main(String[] a) {\n"
                     "    int[] r = Primes.upTo(30); if (r != r) System.exit(1); } }\n"}
REAL = {"cpp": "#include <cassert>\nint main() { assert(primes_up_to(10).size() == 4); return 0; }\n",
        "java": "public class Main { public static void main(String[] a) {\n"
                "    if (Primes.upTo(10).length != 4) System.exit(1); } }\n"}


@pytest.mark.parametrize("language", ["cpp", "java"])
def test_a_mutant_that_fails_before_the_tests_start_proves_nothing(sb, language):
    table = CPP_PRIMES + CPP_TABLE if language == "cpp" else JAVA_PRIMES + JAVA_TABLE + "}\n"
    plain = CPP_PRIMES if language == "cpp" else JAVA_PRIMES + "}\n"
    entry = "primes_up_to" if language == "cpp" else "upTo"
    v = verdict(sb, language, table, TAUTOLOGY[language], entry)
    assert v.reason == "tests_cannot_fail" and "before the tests started" in v.stderr_tail, v
    # the same tests without the start-up table: the mutant runs them, and they still pass
    assert verdict(sb, language, plain, TAUTOLOGY[language], entry).reason == "tests_cannot_fail"
    # tests that check something: the mutant reaches them and fails there
    assert verdict(sb, language, plain, REAL[language], entry).reason == "passed"


@pytest.mark.parametrize("language", ["cpp", "java"])
def test_the_started_marker_comes_before_the_tests_and_is_shared_with_the_mutant(language):
    plain = CPP_PRIMES if language == "cpp" else JAVA_PRIMES + "}\n"
    built = build(ExecutionCheck("k", language, plain, REAL[language], None), CFG)
    assert built.started_marker and built.started_marker != built.marker
    call = "wizardcoder_tests_main(" if language == "cpp" else "wizardcoderTestsMain("
    for program in (built.program, built.mutant):
        assert program.count(built.started_marker) == 1
        assert program.index(built.started_marker) < program.rindex(call)  # the generated main's call


# a definition of a libc / C++ runtime function the harness relies on replaces it at link time (or wins
# overload resolution in the same file): a failing assert or exit(1) would no longer fail
CPP_OVERRIDES = {
    "extern-c-assert-fail": ('extern "C" void __assert_fail(const char*, const char*, unsigned int, const char*) '
                             "noexcept { }\n"),
    "plain-exit": "void exit(int c) noexcept { if (!add_ran) std::_Exit(c); }\n",
    "global-qualified": "void ::abort() noexcept { }\n",
    "namespace-std": "namespace std { void terminate() noexcept { } }\n",
    "qualified-std": "void std::terminate() noexcept { }\n",
    "cxa-in-block": 'extern "C" { int __cxa_atexit(void (*f)(void*), void* a, void* d) { return 0; } }\n',
    "c-linkage-in-namespace": 'namespace mine { extern "C" int puts(const char*) { return 0; } }\n',
    "digraphs": 'extern "C" void abort() noexcept <% %>\n',
    "spliced-name": 'extern "C" void ab\\\nort() noexcept { }\n',
    "returns-a-function-pointer": "void (*signal(int s, void (*h)(int)))(int) { return h; }\n",
    "template": "template <class... A> int printf(const char*, A...) { return 0; }\n",
    "attribute-and-try": '[[noreturn]] void _Exit(int) try { for (;;) { } } catch (...) { }\n',
    "asm-label": 'void my_abort() asm("abort");\nvoid my_abort() { }\n',
    "alias": 'extern "C" void abort() noexcept __attribute__((alias("my_abort")));\n',
    "pasted-by-a-macro": "#define EX ex ## it\nvoid EX(int) noexcept { }\n",
    "spelled-by-a-macro": "#define DEF(n) void n(int) noexcept { }\nDEF(exit)\n",
    "another-main": "namespace demo { int main() { return 0; } }\n",
}
CPP_ORDINARY = {
    "calls": "int twice(int a) { if (a < -100) std::exit(0); if (a > 1000) std::abort(); return 2 * a; }\n",
    "methods": ("struct Logger {\n    void write(const char* s) { (void)s; }\n    static void exit(int) { }\n};\n"
                "class Out { void write(int); };\nvoid Out::write(int x) { (void)x; }\n"),
    "declarations": 'extern "C" void abort() noexcept;\nint puts(const char*);\n',
    "static-initialiser-calls": '#include <cstdio>\n#include <csignal>\nstatic int greeted = (std::printf(""), 0);\n'
                                "static auto old = std::signal(SIGUSR1, SIG_IGN);\n",
    "lambda-and-member-call": ("#include <cstdlib>\nauto bail = [](int c) { std::exit(c); };\n"
                               "struct S { int write(int x) { return x; } } s;\nint y = s.write(3);\n"),
    "strings-and-comments": 'const char* msg = "void exit(int) {}"; // void abort() { }\n',
    "macro-calling-exit": ('#include <cstdio>\n#define DIE(m) do { std::puts(m); std::exit(1); } while (0)\n'
                           'int check(int x) { if (x < -1000) DIE("no"); return x; }\n'),
    "enumerators-and-locals": "enum class Op { write, exit };\nint local() { int write = 3; return write; }\n",
}


@pytest.mark.parametrize("override", CPP_OVERRIDES.values(), ids=CPP_OVERRIDES.keys())
def test_cpp_solution_defining_a_runtime_function_is_failed_statically(override):
    assert cpp_runtime_overrides(CPP_FLAG + override)
    built = build(ExecutionCheck("k", "cpp", CPP_FLAG + override, CPP_TESTS, "add"), CFG)
    assert built.static_reason == "failed" and "test harness relies on" in built.static_detail


@pytest.mark.parametrize("code", CPP_ORDINARY.values(), ids=CPP_ORDINARY.keys())
def test_cpp_calls_declarations_and_methods_named_like_runtime_functions_are_fine(code):
    assert cpp_runtime_overrides(code) is None


def test_cpp_runtime_override_verdicts_when_run(sb):
    v = verdict(sb, "cpp", CPP_FLAG + CPP_OVERRIDES["extern-c-assert-fail"], CPP_TESTS, "add")
    assert v.reason == "failed" and v.status == "not_run" and "__assert_fail" in v.stderr_tail, v
    right = CPP_FLAG.replace("a - b", "a + b") + "".join(CPP_ORDINARY[k] for k in ("calls", "methods", "declarations"))
    right += "int main() { return add(1, 2) == 3 ? 0 : 1; }\n"  # its own main is dropped, not taken for an override
    assert verdict(sb, "cpp", right, CPP_TESTS, "add").reason == "passed"


# ---------------------------------------------------------------- no false positives on ordinary code


def test_words_in_java_comments_and_strings_declare_nothing():
    tests = 'public class Main { public static void main(String[] a) { String s = "x"; System.exit(0); } }'
    sol = ('class Sol {\n  /** @return a String, or null (a String) */\n  static int f(String s) {\n'
           '    if (s == null) throw new IllegalArgumentException("expected a String, got null");\n'
           '    return 1;\n  }\n}\n')
    assert java_shadowing(sol, tests) is None
    assert java_shadowing("class System { static void exit(int c) {} }", tests) is not None


def test_words_in_cpp_comments_and_strings_name_no_symbol():
    assert cpp_runtime_overrides('// Read the alias table, then print\n#include <cstdio>\n'
                                 'void show() { std::puts("asm alias"); }\n') is None
    assert cpp_runtime_overrides('extern "C" void abort() __attribute__((alias("show")));\n') is not None
    assert cpp_runtime_overrides("#pragma redefine_extname exit myexit\n") is not None
    assert cpp_runtime_overrides('#pragma pop_macro("assert")\n') is not None  # would undo the isolation


def test_a_solution_guarding_a_header_macro_leaves_the_tests_the_headers(sb):
    """`#ifndef M_PI / #define M_PI` is common; undefining M_PI after the solution left the tests without it."""
    sol = ("#include <cmath>\n#ifndef M_PI\n#define M_PI 3.14159265358979323846\n#endif\n"
           "double circle_area(double r) { return M_PI * r * r; }\n")
    tests = ("#include <cassert>\n#include <cmath>\nint main() {\n"
             "  assert(std::fabs(circle_area(1.0) - M_PI) < 1e-9);\n  assert(circle_area(2.0) > 12.0);\n}\n")
    v = verdict(sb, "cpp", sol, tests, "circle_area")
    assert v.reason == "passed", v.stderr_tail
