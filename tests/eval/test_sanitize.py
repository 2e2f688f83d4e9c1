"""Code out of raw chat replies, with ast: the entry point and what it needs, nothing else."""

from __future__ import annotations

import ast

from wizardcoder.eval.sanitize import extract_program, is_plain_code

REPLY = '''Sure! Here is a solution.

```python
import math
from collections import Counter

LIMIT = 10
UNUSED = 3

def helper(x):
    return math.sqrt(x) + LIMIT

class Box:
    def area(self):
        return helper(4)

@staticmethod
def unrelated():
    return UNUSED

def solve(values):
    counts = Counter(values)
    return Box().area() + len(counts)

print(solve([1, 2, 2]))
assert solve([]) == 12
if __name__ == "__main__":
    solve([3])
```

This uses a helper and a class. Example output:

```
12.0
```
'''


def names(program: str) -> list[str]:
    tree = ast.parse(program)
    return [getattr(n, "name", None) or ast.unparse(n).split(" =")[0].split("\n")[0] for n in tree.body]


def test_the_entry_point_keeps_its_helpers_classes_constants_and_imports_only():
    program = extract_program(REPLY, "solve")
    assert names(program) == ["import math", "from collections import Counter", "LIMIT", "helper", "Box", "solve"]
    assert "print(" not in program and "assert" not in program and "__main__" not in program
    scope: dict = {}
    exec(program, scope)  # noqa: S102 - the extracted program runs as it stands
    assert scope["solve"]([1, 2, 2]) == 14.0


def test_without_an_entry_point_every_definition_stays():
    assert names(extract_program(REPLY)) == ["import math", "from collections import Counter", "LIMIT", "UNUSED",
                                             "helper", "Box", "unrelated", "solve"]


def test_the_block_that_defines_the_entry_point_wins_over_longer_ones():
    reply = ("First a long demo:\n```python\n" + "".join(f"x{i} = {i}\n" for i in range(30)) + "```\n"
             "And the answer:\n```py\ndef f(a):\n    return a + 1\n```\n")
    assert extract_program(reply, "f") == "def f(a):\n    return a + 1\n"


def test_prose_without_fences_and_a_reply_cut_mid_statement():
    reply = "The function is:\n\ndef f(a):\n    return a * 2\n\nIt doubles.\ndef g(b):\n    return f(b) +"
    assert extract_program(reply, "f") == "def f(a):\n    return a * 2\n"


def test_an_unclosed_fence_and_other_languages():
    reply = "```cpp\nint f() { return 1; }\n```\n```python\ndef f():\n    return 1\n"
    assert extract_program(reply, "f") == "def f():\n    return 1\n"


def test_no_code_at_all_is_none():
    assert extract_program("I cannot help with that.", "f") is None
    assert extract_program("```\njust words here\n```", "f") is None
    assert extract_program("", "f") is None


def test_plain_code_is_recognised_and_markdown_is_not():
    assert is_plain_code("import os\ndef f():\n    return 1\n")
    assert not is_plain_code("```python\ndef f():\n    pass\n```")
    assert not is_plain_code("Here you go: def f(): pass")
    assert not is_plain_code("x = 1\n")  # no definition or import: not a program for a task


def test_a_long_reply_stays_fast():
    import time

    reply = "words\n" * 2000 + "```python\ndef f():\n    return 1\n```\n" + "more words (\n" * 2000
    t0 = time.perf_counter()
    assert extract_program(reply, "f") == "def f():\n    return 1\n"
    assert time.perf_counter() - t0 < 5


# ------------------------------------------------------------------ chat replies in eval's instruct mode


def _problem():
    from wizardcoder.eval.problems import HUMANEVAL_STOP, Problem

    return Problem(task_id="T/0", prompt="from typing import List\n\n\ndef solve(values: List[int]) -> float:\n"
                                         '    """Sum, plus a helper."""\n',
                   tests="", entry_point="solve", stop=HUMANEVAL_STOP, language="python")


def test_instruct_replies_keep_the_helpers_after_the_prompts_imports():
    from wizardcoder.eval.postprocess import postprocess

    aligned = postprocess(_problem(), REPLY, "instruct")
    assert aligned.completion is None and not aligned.no_code
    assert aligned.solution.startswith("from typing import List\n") and "def helper" in aligned.solution
    assert "print(" not in aligned.solution


def test_instruct_replies_without_code_are_marked_and_bodies_still_continue_the_prompt():
    from wizardcoder.eval.postprocess import postprocess

    none = postprocess(_problem(), "I am not able to write this function, sorry.", "instruct")
    assert none.no_code and none.solution is None and none.completion == ""
    body = postprocess(_problem(), "```python\n    return float(sum(values))\n```", "instruct")
    assert not body.no_code and body.completion == "    return float(sum(values))\n"
