from wizardcoder.eval.problems import load_suite
from wizardcoder.eval.programs import build_program, with_marker
from wizardcoder.execution import new_marker


def test_markers_are_fresh_per_sample():
    assert len({new_marker() for _ in range(100)}) == 100


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


def test_full_solutions_get_the_tests_appended():
    he = load_suite("humaneval")[0]
    text = build_program(he, None, he.prompt + he.canonical, "M")
    assert text.startswith(he.prompt + he.canonical) and "check(has_close_elements)" in text
    cpp = load_suite("humaneval-cpp")[0]
    full = "bool correct_bracketing(std::string brackets) {\n    return false;\n}\n"
    text = build_program(cpp, None, full, "M")
    assert text.startswith(cpp.prompt + "    return false;\n}\nint main()")
