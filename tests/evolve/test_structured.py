"""Structured answers read back: JSON first (whole, fenced, wrapped in prose, cut by the token limit), else
the same text as markdown; solve answers pass the markdown parser's checks either way."""

from __future__ import annotations

import json

import pytest

from wizardcoder.evolve.parsing import ParsedSolution
from wizardcoder.evolve.structured import (
    EVOLVE_SCHEMA,
    SOLVE_SCHEMA,
    parse_evolved_answer,
    parse_solution_answer,
)
from wizardcoder.llm import Request
from wizardcoder.reasons import Reason

SOLUTION = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n"
ANSWER = json.dumps({"solution": SOLUTION, "tests": TESTS})


@pytest.mark.parametrize("text", [
    ANSWER,
    f"```json\n{ANSWER}\n```",
    f"Here is the JSON:\n{ANSWER}\nDone.",
    json.dumps({"solution": f"```python\n{SOLUTION}```", "tests": f"```python\n{TESTS}```"}),
])
def test_a_json_solve_answer_is_read_in_every_shape(text):
    parsed, structured = parse_solution_answer(text, "python")
    assert structured and parsed == ParsedSolution(SOLUTION, TESTS, "add")


def test_a_json_answer_cut_inside_its_tests_is_closed_and_kept():
    cut = ANSWER[: ANSWER.index("assert add(-1")] + "assert add(-1"
    parsed, structured = parse_solution_answer(cut, "python")
    assert structured and isinstance(parsed, ParsedSolution) and parsed.tests.startswith("assert add(1, 2) == 3")


def test_json_that_does_not_parse_falls_back_to_markdown_of_the_same_text():
    markdown = f"### Solution\n```python\n{SOLUTION}```\n\n### Tests\n```python\n{TESTS}```\n"
    parsed, structured = parse_solution_answer(markdown, "python")
    assert not structured and parsed == ParsedSolution(SOLUTION, TESTS, "add")
    parsed, structured = parse_solution_answer('{"answer": 42}', "python")  # JSON, not of the schema
    assert not structured


def test_json_fields_get_the_markdown_parsers_checks():
    parsed, structured = parse_solution_answer(json.dumps({"solution": SOLUTION, "tests": "print(1)"}), "python")
    assert structured and parsed == Reason.NO_TESTS


def test_a_json_evolve_answer_and_its_markdown_fallback():
    assert parse_evolved_answer(json.dumps({"instruction": "New task: Write f(x)."})) == ("Write f(x).", True)
    assert parse_evolved_answer("#Rewritten Prompt#:\nWrite g(x).") == ("Write g(x).", False)


def test_the_schemas_are_requests_json_schemas():
    for schema in (EVOLVE_SCHEMA, SOLVE_SCHEMA):
        assert Request.from_text("x", response_format=schema).response_format == schema
        assert schema["schema"]["additionalProperties"] is False  # OpenAI's strict mode needs it
        assert set(schema["schema"]["required"]) == set(schema["schema"]["properties"])
