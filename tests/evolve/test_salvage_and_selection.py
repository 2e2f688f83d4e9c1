"""Salvage of test blocks cut by the token limit, and dual-agreement selection (pure functions)."""

from __future__ import annotations

import ast
import shutil
import subprocess

import pytest

from wizardcoder.evolve.selection import choose, failure_reason, size_of_tests
from wizardcoder.languages import salvage_tests


# ------------------------------------------------------------------------------------------- salvage
def test_python_keeps_the_complete_asserts_of_a_cut_block():
    cut = "assert f([3, 1]) == [1, 3]\nassert f([]) == []\nassert f([1, 2, 3]) == [1, 2,"
    assert salvage_tests(cut, "python") == "assert f([3, 1]) == [1, 3]\nassert f([]) == []\n"


def test_python_cut_inside_a_test_function_keeps_its_complete_statements():
    cut = "import math\n\ndef test_f():\n    assert f(1) == 1\n    assert f(2) == 4\n    assert f(3) ==\n"
    kept = salvage_tests(cut, "python")
    assert kept is not None and "assert f(2) == 4" in kept and "f(3)" not in kept
    ast.parse(kept)


@pytest.mark.parametrize("cut", [
    'assert f("a, b") == ["a",\n',  # cut inside a call
    'x = """a docstring\nassert f(1) == 1\n',  # cut inside a string: the assert in it is text, not a statement
    "for x in range(3):\n",  # a block header with no body
])
def test_python_a_cut_with_no_whole_statement_before_it_keeps_nothing(cut):
    assert salvage_tests(cut, "python") is None


@pytest.mark.parametrize("cut", [
    'assert f(0) == []\nassert f("a, b") == ["a",\n',
    'assert f(0) == []\nx = """a docstring\nassert f(1) == 1\n',
    "assert f(0) == []\nfor x in range(3):\n",
])
def test_python_salvage_keeps_the_whole_statements_before_the_cut_and_nothing_after(cut):
    kept = salvage_tests(cut, "python")
    assert kept == "assert f(0) == []\n"
    ast.parse(kept)


def test_complete_blocks_are_left_alone():
    assert salvage_tests("assert f(1) == 1\n", "python") is None
    assert salvage_tests("int main() {\n    assert(f(1) == 1);\n    return 0;\n}\n", "cpp") is None
    assert salvage_tests("class Main { public static void main(String[] a) { assert f(1) == 1; } }", "java") is None


def test_nothing_complete_is_nothing():
    assert salvage_tests("assert f([1, 2,", "python") is None
    assert salvage_tests("int main() {\n    assert(f(1, ", "cpp") is None or "f(1, " not in salvage_tests(
        "int main() {\n    assert(f(1, ", "cpp")


CPP_CUT = ('#include <cassert>\n#include <vector>\nint main() {\n    assert((f({3, 1}) == std::vector<int>{1, 3}));\n'
           '    for (int i = 0; i < 3; i++) {\n        assert(f({i}).size() == 1);\n        assert(f({i, 1}) == std::vec')
JAVA_CUT = ('class Main {\n    public static void main(String[] args) {\n        assert Solution.twice(2) == 4;\n'
            '        String s = "a; b {";\n        assert Solution.twice(3) == 6 : "three";\n        assert Solution.tw')


def test_cpp_drops_the_unfinished_statement_and_closes_the_open_blocks():
    kept = salvage_tests(CPP_CUT, "cpp")
    assert kept.endswith("assert(f({i}).size() == 1);\n    }\n}\n")
    assert "std::vec\n" not in kept and kept.count("{") - kept.count("}") == 0


def test_java_ignores_braces_and_semicolons_in_strings():
    kept = salvage_tests(JAVA_CUT, "java")
    assert 'assert Solution.twice(3) == 6 : "three";' in kept and "Solution.tw\n" not in kept
    assert kept.rstrip().endswith("}\n}") and '"a; b {"' in kept


@pytest.mark.parametrize("lang, cut, body", [
    ("cpp", CPP_CUT, "#include <vector>\nstd::vector<int> f(std::vector<int> v) { std::sort(v.begin(), v.end()); "
                     "return v; }\n"),
    ("java", JAVA_CUT, "class Solution { static int twice(int x) { return 2 * x; } }\n"),
])
def test_salvaged_c_like_tests_compile(lang, cut, body, tmp_path):
    compiler = "g++" if lang == "cpp" else "javac"
    if shutil.which(compiler) is None:
        pytest.skip(f"no {compiler} here")
    kept = salvage_tests(cut, lang)
    if lang == "cpp":
        src = tmp_path / "t.cpp"
        src.write_text("#include <algorithm>\n" + body + kept)
        proc = subprocess.run([compiler, "-fsyntax-only", str(src)], capture_output=True, text=True)
    else:
        src = tmp_path / "Main.java"
        src.write_text(body + kept)
        proc = subprocess.run([compiler, "-d", str(tmp_path), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# ----------------------------------------------------------------------------------------- selection
def test_the_group_most_others_agree_with_wins_over_the_first_answer():
    # samples 0 and 3 agree on a wrong answer only with their own weak tests; 1 and 2 are right
    tests = {0: "assert True\n", 1: "assert f(1) == 1\nassert f(2) == 2\n", 2: "assert f(2) == 2\n",
             3: "assert True\n"}
    passes = {(i, j): (i in (1, 2) or j in (0, 3)) for i in range(4) for j in range(4)}
    choice = choose(4, [0, 1, 2, 3], tests, passes)
    assert choice.group == (1, 2) and choice.solution == 1
    assert choice.tests == 1  # the largest test set the group passes
    assert choice.passed_tests == (0, 1, 2, 3) and choice.pass_rate == 0.5


def test_ties_go_to_the_earlier_sample_and_nothing_passing_is_none():
    tests = {0: "assert f(1) == 1\n", 1: "assert f(1) == 2\n"}
    passes = {(0, 0): True, (1, 1): True}
    assert choose(2, [0, 1], tests, passes).solution == 0
    assert choose(2, [0, 1], tests, {}) is None


def test_pass_rate_counts_unparsed_samples_as_failures():
    choice = choose(4, [2], {2: "assert f(1) == 1\n"}, {(2, 2): True})
    assert (choice.solution, choice.tests, choice.pass_rate) == (2, 2, 0.25)


def test_failure_reason_and_test_size():
    assert failure_reason(["failed", "compile_error", "compile_error"]) == "compile_error"
    assert failure_reason(["timeout", "failed"]) == "timeout"
    assert size_of_tests("# a comment\n\nassert f(1)\n// x\nassert f(2)\n") == 2
