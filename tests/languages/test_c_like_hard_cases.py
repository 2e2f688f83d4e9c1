"""C++ / Java shapes the regex scan got wrong (each failed before tree-sitter: a trailing `decltype`
return type read as "calls no function", `noexcept(noexcept(...))`, a `throw()` specification and a
function returning a function pointer read as "the tests reference nothing", a lambda whose capture
holds brackets without a mutant), next to shapes it must keep right (templates, operators, nested
classes, generics, annotations with braces, text blocks, raw strings, comments with braces, macros
spanning lines). Every case is a right solution with right tests: with the mutation check on, it
passes only if the mutant was built, compiled and failed the tests (local sandbox: g++, javac)."""

from __future__ import annotations

import pytest

from sandbox import create_sandbox
from wizardcoder.eliminate import EliminateConfig
from wizardcoder.eliminate.verify import ExecutionCheck, verify

CPP_MAIN = "#include <cassert>\n#include <vector>\n#include <string>\n#include <functional>\nint main() {\n%s\n    return 0;\n}\n"
JAVA_MAIN = "public class Main {\n    public static void main(String[] args) {\n%s\n    }\n}\n"
HARD_CASES = {
    "cpp-trailing-decltype": ("cpp", "auto inc(int a) -> decltype(a + 1) { return a + 1; }\n",
                              CPP_MAIN % "    assert(inc(1) == 2);"),
    "cpp-noexcept-nested": ("cpp", "int g(int a) { return a; }\nint inc(int a) noexcept(noexcept(g(a))) { return g(a) + 1; }\n",
                            CPP_MAIN % "    assert(inc(1) == 2);"),
    "cpp-throw-spec": ("cpp", "int inc(int a) throw() { return a + 1; }\n",
                       CPP_MAIN % "    assert(inc(1) == 2);"),
    "cpp-lambda-capture-brackets": ("cpp", "#include <vector>\nint base[2] = {1, 2};\nauto add = [b = base[1]](int x) { return x + b; };\n",
                                    CPP_MAIN % "    assert(add(1) == 3);"),
    "cpp-template-default-args": ("cpp", "#include <utility>\ntemplate <typename T, typename U = std::pair<int, int>>\nT pick(T a, U u = U()) { return a + u.first; }\n",
                                  CPP_MAIN % "    assert(pick(3) == 3);"),
    "cpp-function-pointer-return": ("cpp", "int inc(int x) { return x + 1; }\nint dec(int x) { return x - 1; }\nint (*pick(int k))(int) { return k ? inc : dec; }\n",
                                    CPP_MAIN % "    assert(pick(1)(1) == 2);"),
    "cpp-operator-free": ("cpp", "struct Vec { int x; };\nVec operator+(const Vec& a, const Vec& b) { return Vec{a.x + b.x}; }\n",
                          CPP_MAIN % "    Vec a{1}, b{2};\n    assert((a + b).x == 3);"),
    "cpp-nested-class": ("cpp", "struct Outer {\n    struct Inner { int get() const { return 1; } };\n    int run() const { return Inner{}.get() + 1; }\n};\n",
                         CPP_MAIN % "    assert(Outer{}.run() == 2);"),
    "cpp-raw-string-braces": ("cpp", "#include <string>\nstd::string wrap(const std::string& s) {\n    const char* open = R\"x({ \"} return; )x\";\n    return std::string(open).substr(0, 1) + s + \"}\";\n}\n",
                              CPP_MAIN % "    assert(wrap(\"a\") == \"{a}\");"),
    "cpp-comment-braces": ("cpp", "// helper { not a block\nint add(int a, int b) { /* } return 0; { */ return a + b; }\n",
                           CPP_MAIN % "    assert(add(2, 3) == 5);"),
    "cpp-macro-spanning-lines": ("cpp", "#define SQ(x) \\\n    ((x) * \\\n     (x))\nint area(int s) { return SQ(s); }\n",
                                 CPP_MAIN % "    assert(area(3) == 9);"),
    "cpp-macro-check-in-tests": ("cpp", "int add(int a, int b) { return a + b; }\n",
                                 "#include <cstdlib>\n#define CHECK_EQ(a, b) \\\n    if ((a) != (b)) std::abort()\nint main() {\n    CHECK_EQ(add(2, 3), 5);\n    return 0;\n}\n"),
    "cpp-deduced-auto": ("cpp", "#include <vector>\nauto evens(int n) { std::vector<int> v; for (int i = 0; i < n; i += 2) v.push_back(i); return v; }\n",
                         CPP_MAIN % "    assert(evens(5).size() == 3);"),
    "cpp-ref-qualified-method": ("cpp", "struct Box {\n    int v = 4;\n    const int& get() const& { return v; }\n};\n",
                                 CPP_MAIN % "    Box b;\n    assert(b.get() == 4);"),
    "java-generic-method": ("java", "import java.util.*;\nclass Util {\n    static <T extends Comparable<T>> T maxOf(List<T> xs) {\n        T best = xs.get(0);\n        for (T x : xs) if (x.compareTo(best) > 0) best = x;\n        return best;\n    }\n}\n",
                            "import java.util.*;\n" + JAVA_MAIN % "        if (Util.maxOf(Arrays.asList(1, 5, 3)) != 5) throw new AssertionError();"),
    "java-annotation-with-braces": ("java", "class Calc {\n    @SuppressWarnings(value = {\"unchecked\", \"rawtypes\"})\n    static int add(int a, int b) { return a + b; }\n}\n",
                                    JAVA_MAIN % "        if (Calc.add(2, 3) != 5) throw new AssertionError();"),
    "java-text-block": ("java", "class Fmt {\n    static String wrap(String s) {\n        String t = \"\"\"\n            } return null; {\n            \"\"\";\n        return \"[\" + s + \"]\";\n    }\n}\n",
                        JAVA_MAIN % "        if (!Fmt.wrap(\"a\").equals(\"[a]\")) throw new AssertionError();"),
    "java-lambda-field": ("java", "import java.util.function.*;\nclass Ops {\n    static final IntBinaryOperator ADD = (a, b) -> a + b;\n}\n",
                          JAVA_MAIN % "        if (Ops.ADD.applyAsInt(2, 3) != 5) throw new AssertionError();"),
    "java-enum-constant-bodies": ("java", "enum Op {\n    ADD { int apply(int a, int b) { return a + b; } };\n    abstract int apply(int a, int b);\n}\n",
                                  JAVA_MAIN % "        if (Op.ADD.apply(2, 3) != 5) throw new AssertionError();"),
    "java-nested-generic-return": ("java", "import java.util.*;\nclass G {\n    static Map<String, List<Integer>> group(int n) {\n        Map<String, List<Integer>> m = new HashMap<>();\n        m.put(\"a\", new ArrayList<>(List.of(n)));\n        return m;\n    }\n}\n",
                                   "import java.util.*;\n" + JAVA_MAIN % "        if (G.group(3).get(\"a\").get(0) != 3) throw new AssertionError();"),
    "java-record-method": ("java", "record Point(int x, int y) {\n    int sum() { return x + y; }\n}\n",
                           JAVA_MAIN % "        if (new Point(1, 2).sum() != 3) throw new AssertionError();"),
}


@pytest.fixture(scope="module")
def local():
    with create_sandbox("local", workers=2) as box:
        yield box


def test_right_tests_of_hard_shapes_pass_with_the_mutation_check(local):
    checks = [ExecutionCheck(key, lang, solution, tests) for key, (lang, solution, tests) in HARD_CASES.items()]
    verdicts = {v.key: v for v in verify(local, checks, EliminateConfig())}
    wrong = {key: (v.reason, v.stderr_tail[-300:]) for key, v in verdicts.items() if v.reason != "passed"}
    assert sorted(verdicts) == sorted(HARD_CASES) and wrong == {}
