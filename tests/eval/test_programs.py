import pytest

from wizardcoder.eval.postprocess import postprocess
from wizardcoder.eval.problems import load_suite
from wizardcoder.eval.programs import build_program
from wizardcoder.execution import new_marker
from wizardcoder.languages import with_marker


def test_markers_are_fresh_per_sample():
    assert len({new_marker() for _ in range(100)}) == 100


@pytest.mark.multipl_e
def test_marker_is_printed_after_the_tests_in_every_language():
    marker = "WIZARDCODER-PASS-abc"
    py = with_marker("def f():\n    pass\n\ncheck(f)\n", "python", marker)
    assert py.index("check(f)") < py.index(marker) and py.rstrip().endswith('\\n")')
    cpp = load_suite("humaneval-cpp")[0]
    text = build_program(cpp, "    return true;\n", None, marker)
    main = text[text.index("int main()"):]
    assert main.index("assert(") < main.index(marker) < main.rindex("}")
    java = load_suite("humaneval-java")[0]
    text = build_program(java, "        return true;\n", None, marker)
    main = text[text.index("public static void main"):]
    assert main.rindex("assert(") < main.index(marker)
    assert main[main.index(marker):].count("}") == 2  # inside main, inside the class


@pytest.mark.multipl_e
def test_full_solutions_get_the_tests_appended():
    he = load_suite("humaneval")[0]
    text = build_program(he, None, he.prompt + he.canonical, "M")
    assert text.startswith(he.prompt + he.canonical) and "check(has_close_elements)" in text
    cpp = load_suite("humaneval-cpp")[0]
    full = "bool correct_bracketing(std::string brackets) {\n    return false;\n}\n"
    text = build_program(cpp, None, full, "M")
    assert text.startswith(cpp.prompt + "    return false;\n")
    assert "#undef NDEBUG\n#include <cassert>\n}\nint main()" in text


def _run(programs):
    from sandbox import create_sandbox
    from wizardcoder.eval.programs import Program, run_programs

    out = {}
    with create_sandbox("local", workers=2) as sb:
        run_programs(sb, [Program(name, 0, lang, text, m) for name, lang, text, m in programs], timeout=20,
                     memory_mb=512, on_result=lambda p, r: out.__setitem__(p.task_id, r))
    return out


@pytest.mark.multipl_e
def test_a_cpp_completion_cannot_define_the_tests_away():
    problem = next(p for p in load_suite("humaneval-cpp") if p.task_id.startswith("HumanEval_53_"))
    programs = []
    for name, completion in {"wrong": "#define assert(x) ((void)0)\n    return x - y;\n}\n",
                             "wrong_assert_fail": "#define __assert_fail(...) ((void)0)\n    return x - y;\n}\n",
                             "right": "#define PLUS +\n    return x PLUS y;\n}\n"}.items():
        m = new_marker()
        answer = postprocess(problem, completion, "completion")
        programs.append((name, "cpp", build_program(problem, answer.completion, answer.solution, m), m))
    out = _run(programs)
    assert not out["wrong"].passed and not out["wrong_assert_fail"].passed
    assert out["right"].passed, out["right"].stderr


@pytest.mark.multipl_e
def test_a_java_completion_shadowing_a_jdk_class_fails_with_the_reason():
    problem = next(p for p in load_suite("humaneval-java") if "Arrays" in p.tests)
    m = new_marker()
    completion = "        return null;\n    }\n    static class Arrays { static Object asList(Object... a) { return null; } }\n"
    text = build_program(problem, completion, None, m)
    assert m not in text and "Arrays" in text and "hide" in text
    out = _run([("shadow", "java", text, m)])
    assert not out["shadow"].passed and "Arrays" in out["shadow"].stderr


@pytest.mark.multipl_e
def test_a_cpp_completion_defining_a_runtime_function_fails_with_the_reason():
    problem = next(p for p in load_suite("humaneval-cpp") if p.task_id.startswith("HumanEval_53_"))
    programs = []
    for name, completion in {
        # the function closed mid-line (no stop sequence), the tests' opening `}` closing another one
        "assert_fail": ('    return x - y; }\nextern "C" void __assert_fail(const char*, const char*, unsigned int, '
                        "const char*) noexcept { }\nvoid unused() {\n"),
        "exit": "    return x - y; }\nvoid exit(int c) noexcept { }\nvoid unused() {\n",
        # calls and a method named like one are fine
        "right": "    if (x > 100000) exit(0);\n    struct W { void write() { } } w; w.write();\n    return x + y;\n}\n",
    }.items():
        m = new_marker()
        answer = postprocess(problem, completion, "completion")
        text = build_program(problem, answer.completion, answer.solution, m)
        assert (m in text) == (name == "right")
        programs.append((name, "cpp", text, m))
    out = _run(programs)
    for name in ("assert_fail", "exit"):
        assert not out[name].passed and "harness relies on" in out[name].stderr, out[name].stderr
    assert out["right"].passed, out["right"].stderr
    # every prompt of the suite, completed plainly, is no override
    assert not [p.task_id for p in load_suite("humaneval-cpp")
                if "not run" in build_program(p, "    return {};\n}\n", None, "M")]
