from wizardcoder.eval.postprocess import align, extract_code, postprocess, truncate
from wizardcoder.eval.problems import HUMANEVAL_STOP, Problem
from wizardcoder.languages.c_like import function_body

PY = Problem(task_id="t/0", prompt='from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    """Add."""\n',
             tests="\ndef check(candidate):\n    assert candidate(1, 2) == 3\n\ncheck(add)\n", entry_point="add",
             stop=HUMANEVAL_STOP, language="python")
CPP = Problem(task_id="c", prompt="#include<bits/stdc++.h>\nlong add(long x, long y) {\n", tests="}\nint main() {}\n",
              entry_point="add", stop=("\n}",), language="cpp")


def test_truncate_at_the_earliest_stop_sequence():
    text = "    return a + b\n\n\ndef other():\n    pass\nif x:\n"
    assert truncate(text, HUMANEVAL_STOP) == "    return a + b\n\n"
    assert truncate("    return 1\n# comment\nprint(1)", HUMANEVAL_STOP) == "    return 1"
    assert truncate("no stop here", HUMANEVAL_STOP) == "no stop here"
    assert postprocess(PY, "    return a + b\nprint(add(1, 2))\n", "completion").completion == "    return a + b"


def test_extract_code_prefers_the_block_defining_the_entry_point():
    reply = ("Here is an example:\n```python\nprint(add(1, 2))\n```\nAnd the solution:\n"
             "```python\ndef add(a, b):\n    return a + b\n```\n")
    assert extract_code(reply, "python", "add") == "def add(a, b):\n    return a + b\n"
    assert extract_code("```\nx = 1\n```", "python", "add") == "x = 1\n"
    assert extract_code("```python\ndef add(a, b):\n    return a +", "python", "add").startswith("def add")  # unclosed
    assert extract_code("    return a + b\n", "python", "add") == "    return a + b\n"  # no fence: all code


def test_full_function_becomes_a_program_with_the_prompts_imports_and_no_demo_code():
    reply = ("```python\nimport math\n\ndef add(a: int, b: int) -> int:\n    return a + b\n\n"
             "print(add(1, 2))\nassert add(1, 1) == 3\nif __name__ == '__main__':\n    add(0, 0)\n```")
    aligned = postprocess(PY, reply, "instruct")
    assert aligned.completion is None
    assert aligned.solution == ("from typing import List\nimport math\ndef add(a: int, b: int) -> int:\n"
                                "    return a + b\n")


def test_body_only_reply_is_appended_to_the_prompt_and_indented_when_needed():
    assert align(PY, "    return a + b\n").completion == "    return a + b\n"
    assert align(PY, "return a + b").completion == "    return a + b\n"


def test_cpp_full_function_reply_is_cut_to_its_body():
    reply = ("```cpp\n#include <string>\nlong add(long x, long y) {\n    // a } in a comment\n"
             "    std::string s = \"}\";\n    return x + y;\n}\nint main() { return 0; }\n```")
    aligned = postprocess(CPP, reply, "instruct")
    assert aligned.solution is None
    assert aligned.completion == '    // a } in a comment\n    std::string s = "}";\n    return x + y;\n'
    assert postprocess(CPP, "    return x + y;\n}\n\nint main", "completion").completion == "    return x + y;"


def test_function_body_of_java_method():
    code = "class P {\n    public static long add(long x, long y) throws Exception {\n        return x + y;\n    }\n}\n"
    assert function_body(code, "add") == "        return x + y;\n"
    assert function_body("long add(long x, long y);", "add") is None


def test_a_lone_closing_fence_after_the_code_still_yields_the_code():
    reply = "def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n```\n\nIn this example, `add` adds.\n"
    aligned = postprocess(PY, reply, "instruct")
    assert aligned.solution == "from typing import List\ndef add(a, b):\n    return a + b\n"


def test_a_reply_cut_at_max_tokens_keeps_the_longest_prefix_that_parses():
    reply = "```python\ndef add(a, b):\n    return a + b\n\n\nprint(f\"Test: {add('x"
    aligned = postprocess(PY, reply, "instruct")
    assert aligned.solution == "from typing import List\ndef add(a, b):\n    return a + b\n"
