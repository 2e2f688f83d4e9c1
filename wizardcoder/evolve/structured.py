"""Structured answers: the JSON schemas evolve and solve requests carry (`llm.structured`), and reading the
answers back.

A request with a schema is a request like any other (same prompt); where the server honours the schema the
answer is a JSON object, where it does not (or the model wrapped the JSON in prose or a fence, or it does
not parse) the same text goes to the markdown parser, so a structured answer is never worse than a markdown
one. Solve answers go through the markdown parser's checks either way (tests that look like tests, the
entry point), rebuilt from the JSON fields.
"""

from __future__ import annotations

import json
from typing import Any

from wizardcoder.evolve.parsing import (
    ParsedSolution,
    code_blocks,
    parse_evolved,
    parse_solution,
    solution_with_tests,
)
from wizardcoder.reasons import Reason

EVOLVE_SCHEMA: dict[str, Any] = {
    "name": "rewritten_task",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {"instruction": {"type": "string", "description": "the new task, only the task: no solution"}},
        "required": ["instruction"],
        "additionalProperties": False,
    },
}
SOLVE_SCHEMA: dict[str, Any] = {
    "name": "solution_and_tests",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {
            "solution": {"type": "string", "description": "the complete solution code, without markdown fences"},
            "tests": {"type": "string", "description": "test code with assert statements that call the solution"},
        },
        "required": ["solution", "tests"],
        "additionalProperties": False,
    },
}


def json_object(text: str | None) -> dict[str, Any] | None:
    """The JSON object an answer holds: the whole text, a ```json fence, or the outermost braces in it."""
    text = (text or "").strip()
    if not text:
        return None
    candidates = [text] + [b.code for b in code_blocks(text)]
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first:last + 1])
    if text.startswith("{"):  # cut by the token limit inside a string or after it: closed here, then salvaged
        candidates += [text + '"}', text + "}"]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def structured_evolved(text: str | None) -> str | None:
    """The instruction of a JSON evolve answer (lead-ins removed as in markdown), or None: not such JSON."""
    value = json_object(text)
    instruction = value.get("instruction") if value else None
    if not isinstance(instruction, str) or not instruction.strip():
        return None
    return parse_evolved(instruction)


def structured_solution(text: str | None, language: str) -> ParsedSolution | Reason | None:
    """A JSON solve answer through the markdown parser's checks (a `ParsedSolution` or the `Reason` it has
    none), or None: not such JSON (then parse the text as markdown)."""
    value = json_object(text)
    if not value:
        return None
    solution, tests = value.get("solution"), value.get("tests")
    if not isinstance(solution, str) or not isinstance(tests, str):
        return None
    solution = _unfenced(solution)
    if not solution.strip():
        return Reason.NO_SOLUTION
    return solution_with_tests(solution, _unfenced(tests), language)


def lone_solution(text: str | None) -> str | None:
    """The solution of an answer that gave no tests (a repair told to keep them may send the code alone): a JSON
    answer's "solution", else the first code block, else None."""
    value = json_object(text)
    if value and isinstance(value.get("solution"), str) and value["solution"].strip():
        return _unfenced(value["solution"])
    blocks = [b.code for b in code_blocks(text or "") if b.code.strip()]
    return blocks[0] if blocks else None


def parse_evolved_answer(text: str | None) -> tuple[str, bool]:
    """(the evolved instruction, whether it came from JSON): JSON first, else the markdown reading."""
    structured = structured_evolved(text)
    return (structured, True) if structured is not None else (parse_evolved(text or ""), False)


def parse_solution_answer(text: str | None, language: str) -> tuple[ParsedSolution | Reason, bool]:
    """(a `ParsedSolution` or a reason code, whether it came from JSON): JSON first, else markdown."""
    structured = structured_solution(text, language)
    return (structured, True) if structured is not None else (parse_solution(text or "", language), False)


def _unfenced(code: str) -> str:
    """A field's code without the markdown fence a model may still have put around it."""
    blocks = code_blocks(code)
    if len(blocks) == 1 and not code[:blocks[0].start].strip() and not code[blocks[0].end:].strip():
        return blocks[0].code.rstrip("\n")
    return code.strip("\n")
