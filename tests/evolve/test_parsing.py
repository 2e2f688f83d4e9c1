"""Model text -> fields: the asked-for format, the usual drifts from it, and junk."""

from __future__ import annotations

import pytest

from wizardcoder.evolve.parsing import (
    ParsedSolution,
    parse_evolved,
    parse_solution,
    reaches_the_end,
    solution_with_tests,
)
from wizardcoder.reasons import Reason

GOOD = """### Solution
```python
def add(a, b):
    return a + b
```

### Tests
```python
assert add(1, 2) == 3
assert add(-1, 1) == 0
```
"""


def test_the_asked_for_format():
    parsed = parse_solution(GOOD)
    assert parsed == ParsedSolution("def add(a, b):\n    return a + b\n",
                                    "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n", "add")


@pytest.mark.parametrize("reply", [
    # bold headings with colons, unlabelled fences
    "Here you go.\n\n**Solution:**\n```\ndef add(a, b):\n    return a + b\n```\n**Tests:**\n```\nassert add(1, 2) == 3\n```",
    # tilde fences and "## Unit tests"
    "## Solution\n~~~py\ndef add(a, b):\n    return a + b\n~~~\n## Unit tests\n~~~py\nassert add(1, 2) == 3\n~~~",
    # no headings: two fenced blocks, the second holds asserts
    "```python\ndef add(a, b):\n    return a + b\n```\nAnd the tests:\n```python\nassert add(1, 2) == 3\n```",
    # one block with the code and its asserts
    "```python\ndef add(a, b):\n    return a + b\n\nassert add(1, 2) == 3\n```",
    # the last fence never closed (max_tokens hit right after the asserts)
    "### Solution\n```python\ndef add(a, b):\n    return a + b\n```\n### Tests\n```python\nassert add(1, 2) == 3\n",
    # unfenced code under the headings
    "### Solution\ndef add(a, b):\n    return a + b\n\n### Tests\nassert add(1, 2) == 3\n",
    # a main guard before the asserts
    "```python\ndef add(a, b):\n    return a + b\n\nif __name__ == '__main__':\nassert add(1, 2) == 3\n```",
])
def test_fenced_and_heading_variants(reply):
    parsed = parse_solution(reply)
    assert isinstance(parsed, ParsedSolution), parsed
    assert parsed.solution.strip() == "def add(a, b):\n    return a + b"
    assert parsed.tests.strip().startswith("assert add(1, 2) == 3")
    assert parsed.entry_point == "add"


def test_the_entry_point_is_the_function_the_tests_call():
    reply = ("### Solution\n```python\ndef helper(x):\n    return x\n\ndef main_fn(x):\n    return helper(x)\n\n"
             "def unused():\n    pass\n```\n### Tests\n```python\nassert main_fn(2) == 2\n```")
    parsed = parse_solution(reply)
    assert isinstance(parsed, ParsedSolution) and parsed.entry_point == "main_fn"


@pytest.mark.parametrize("reply", [
    "### Solution\n```python\ndef add(a, b):\n    return a + b\n```\n",
    "### Solution\n```python\ndef add(a, b):\n    return a + b\n```\n### Tests\n```python\n# assert statements that call your solution\n```",
    "```python\ndef add(a, b):\n    return a + b\n\nprint(add(1, 2))\n```",
])
def test_missing_tests(reply):
    assert parse_solution(reply) == Reason.NO_TESTS


@pytest.mark.parametrize("reply", [
    "",
    "I think this task is about adding numbers. You should use the plus operator.",
    "### Solution\n\n### Tests\n",
    "```\n\n```",
])
def test_junk(reply):
    assert parse_solution(reply) == Reason.NO_SOLUTION


def test_the_copied_template_placeholder_is_not_a_solution():
    reply = ("### Solution\n```python\n# your solution code\n```\n\n### Tests\n```python\n"
             "# assert statements that call your solution\n```")
    assert parse_solution(reply) == Reason.NO_SOLUTION


def test_a_reopened_fence_after_the_placeholder():
    """Seen from SmolLM2: the template's placeholder block, reopened, then the real code."""
    reply = ("```python\n# your solution code\n```python\ndef add(a, b):\n    return a + b\n```\n\n"
             "### Test the function\n```python\n# check it\nassert add(1, 2) == 3\n```\n")
    parsed = parse_solution(reply)
    assert isinstance(parsed, ParsedSolution)
    assert parsed.solution == "def add(a, b):\n    return a + b\n"
    assert parsed.tests == "# check it\nassert add(1, 2) == 3\n"


def test_cpp_one_block_is_split_at_main():
    reply = ("```cpp\n#include <cassert>\nint twice(int x) { return 2 * x; }\n"
             "int main() {\n    assert(twice(2) == 4);\n    return 0;\n}\n```")
    parsed = parse_solution(reply, "cpp")
    assert isinstance(parsed, ParsedSolution)
    assert "int twice" in parsed.solution and "main" not in parsed.solution
    assert parsed.tests.startswith("int main()")


def test_java_headings():
    reply = ("### Solution\n```java\nclass Solution {\n    static int twice(int x) { return 2 * x; }\n}\n```\n"
             "### Tests\n```java\nclass Main {\n    public static void main(String[] args) {\n"
             "        assert Solution.twice(2) == 4;\n    }\n}\n```")
    parsed = parse_solution(reply, "java")
    assert isinstance(parsed, ParsedSolution)
    assert parsed.solution.startswith("class Solution") and "assert Solution.twice(2) == 4;" in parsed.tests


def test_java_tests_without_a_check_are_missing():
    reply = "### Solution\n```java\nclass Solution { static int one() { return 1; } }\n```\n"
    assert parse_solution(reply, "java") == Reason.NO_TESTS


@pytest.mark.parametrize("reply", [
    "#Rewritten Prompt#:\nWrite a function that sorts a list of tuples by their second element.",
    "New task: Write a function that sorts a list of tuples by their second element.",
    "Sure! Here is the new task:\n\nWrite a function that sorts a list of tuples by their second element.",
    "**New Task:**\nWrite a function that sorts a list of tuples by their second element.",
    "Task:\nWrite a function that sorts a list of tuples by their second element.\n\n### Solution\n```python\n"
    "def f(x): return sorted(x, key=lambda t: t[1])\n```",
    "Write a function that sorts a list of tuples by their second element.\n\nSolution:\nUse sorted().",
    # seen from SmolLM2: a chatty opener, and a solution after the task
    "What a challenging task! Here's a rewritten version with more words:\n"
    "Write a function that sorts a list of tuples by their second element.",
    "Write a function that sorts a list of tuples by their second element.\n\n"
    "Here is a possible solution using sorted:\n\n```python\ndef f(x):\n    return sorted(x)\n```",
])
def test_evolved_instruction_loses_leaked_headings_and_solutions(reply):
    assert parse_evolved(reply) == "Write a function that sorts a list of tuples by their second element."


def test_evolved_instruction_keeps_its_code():
    reply = ("Write `safe_div(a, b)` returning None when b is 0. This attempt is wrong:\n"
             "```python\n# Solution\ndef safe_div(a, b):\n    return a / b\n```\nFix the bug.")
    assert parse_evolved(reply) == reply


@pytest.mark.parametrize(("text", "cut_inside_the_task"), [
    ("Write a function that sorts a list of intervals by their start and", True),
    ("Sure! Here is the new task:\nWrite a function that merges overlapping intervals and", True),
    ("Write a function that merges overlapping intervals.\n\nHere is a possible solution:\n```python\ndef f(", False),
    ("Write a function that merges intervals.\n\n```python\ndef merge(intervals):\n    return [", True),
])
def test_a_cut_counts_only_inside_the_task(text, cut_inside_the_task):
    """A reply cut by the token limit loses its task only where the cut is inside what parse_evolved keeps."""
    assert reaches_the_end(text, parse_evolved(text)) is cut_inside_the_task


def test_a_solution_with_salvaged_tests_is_checked_without_markdown():
    """What the engine does with a cut test block (no reply text rebuilt and parsed again)."""
    parsed = solution_with_tests("def f(x):\n    return x\n\n", "\nassert f(1) == 1", "python")
    assert parsed == ParsedSolution("def f(x):\n    return x\n", "assert f(1) == 1\n", "f")
    assert solution_with_tests("def f(x):\n    return x\n", "import math\n", "python") == Reason.NO_TESTS


# A reply seen from a real server: a "### Test" block that only prints, then the asserts under another heading.
PRINTS_THEN_ASSERTS = """### Solution
```python
def add(a, b):
    return a + b
```

### Test
```python
print(add(1, 2))
```

### Test with assertions
```python
assert add(1, 2) == 3
assert add(-1, 1) == 0
```
"""


def test_the_tests_section_with_checks_is_taken_not_the_first():
    parsed = parse_solution(PRINTS_THEN_ASSERTS)
    assert isinstance(parsed, ParsedSolution), parsed
    assert parsed.tests == "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n"


def test_python_tests_under_several_headings_are_merged_in_order():
    reply = ("### Solution\n```python\ndef add(a, b):\n    return a + b\n```\n"
             "### Tests\n```python\nassert add(1, 2) == 3\n```\n"
             "### More tests (edge cases)\n```python\nassert add(0, 0) == 0\n```\n")
    parsed = parse_solution(reply)
    assert isinstance(parsed, ParsedSolution)
    assert parsed.tests == "assert add(1, 2) == 3\n\nassert add(0, 0) == 0\n"


def test_cpp_a_printing_test_section_is_passed_over():
    reply = ("### Solution\n```cpp\nint twice(int x) { return 2 * x; }\n```\n"
             "### Test\n```cpp\n#include <iostream>\nvoid show() { std::cout << twice(2); }\n```\n"
             "### Test with assertions\n```cpp\n#include <cassert>\nint main() {\n    assert(twice(2) == 4);\n"
             "    return 0;\n}\n```\n")
    parsed = parse_solution(reply, "cpp")
    assert isinstance(parsed, ParsedSolution), parsed
    assert parsed.tests.startswith("#include <cassert>") and "std::cout" not in parsed.tests


def test_cpp_two_mains_keep_the_one_with_more_checks():
    one = "int main() {\n    assert(twice(2) == 4);\n    return 0;\n}"
    three = "int main() {\n    assert(twice(1) == 2);\n    assert(twice(2) == 4);\n    assert(twice(0) == 0);\n}"
    reply = (f"### Solution\n```cpp\nint twice(int x) {{ return 2 * x; }}\n```\n### Test\n```cpp\n{one}\n```\n"
             f"### Test with assertions\n```cpp\n{three}\n```\n")
    parsed = parse_solution(reply, "cpp")
    assert isinstance(parsed, ParsedSolution)
    assert parsed.tests == three + "\n"


def test_java_helpers_and_main_under_two_headings_are_joined():
    helper = "class Check {\n    static void eq(int a, int b) { assert a == b; }\n}"
    main = ("class Main {\n    public static void main(String[] args) {\n        Check.eq(Solution.twice(2), 4);\n"
            "        assert Solution.twice(0) == 0;\n    }\n}")
    reply = ("### Solution\n```java\nclass Solution {\n    static int twice(int x) { return 2 * x; }\n}\n```\n"
             f"### Test helpers\n```java\n{helper}\n```\n### Tests\n```java\n{main}\n```\n")
    parsed = parse_solution(reply, "java")
    assert isinstance(parsed, ParsedSolution)
    assert parsed.tests == f"{helper}\n\n{main}\n"
