"""Turn a model's raw output into something to run: a completion (appended to the prompt) or a full program.

- completion APIs / base models: truncate at the suite's stop sequences, as the literature does
  (HumanEval: "\\nclass", "\\ndef", "\\n#", "\\nif", "\\nprint").
- chat / instruction-tuned models, Python: the entry point's definition and what it needs, found with
  ast (`wizardcoder.eval.sanitize`), after the prompt's imports (top-level demo code dropped); a reply
  holding only a function body is appended to the prompt; a reply with no code is `no_code`.
- chat / instruction-tuned models, C++/Java: take the code from the reply's fenced block, then align it
  to the problem as its language does (`fit_reply` of `wizardcoder.languages`): a reply holding the
  whole function is cut down to its body, since the MultiPL-E tests start by closing the function.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from sandbox import canonical_language
from wizardcoder import languages
from wizardcoder.eval.problems import Problem
from wizardcoder.eval.sanitize import extract_program
from wizardcoder.languages.python_reading import indented_body, prompt_imports

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_FENCE_LINE = re.compile(r"^[ \t]*```[^\n]*$", re.MULTILINE)


@dataclass(frozen=True)
class Aligned:
    completion: str | None  # appended to the prompt
    solution: str | None  # a full program (the tests are appended to it)
    no_code: bool = False  # the reply held no code at all (scored as a failure, counted in metrics.json)


def truncate(text: str, stop: tuple[str, ...] | list[str]) -> str:
    """Cut `text` at the first occurrence of any stop sequence."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


def extract_code(reply: str, language: str = "python", entry_point: str = "") -> str:
    """The code in a chat reply: the fenced block that defines `entry_point` (else the first one in
    the expected language, else the first one); a reply without fences is taken as code. A reply with
    unbalanced fences (code, then a lone closing fence, then prose) is split at the fence lines and the
    piece that defines `entry_point` wins."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(reply)]
    if not blocks:
        return reply
    if entry_point:
        pieces = [code for _, code in blocks] + _FENCE_LINE.split(reply)
        for code in pieces:
            if languages.get(language).declares(code, entry_point):
                return code
    for tag, code in blocks:
        if canonical_language(tag) == canonical_language(language):
            return code
    return blocks[0][1]


def align(problem: Problem, code: str) -> Aligned:
    """Fit extracted code to the problem as its language does (`fit_reply`; see the module doc), else cut it at
    the stop sequences."""
    fitted = languages.get(problem.language).fit_reply(problem.prompt, code, problem.entry_point)
    if fitted is not None:
        return Aligned(completion=fitted[0], solution=fitted[1])
    return Aligned(completion=truncate(code, problem.stop), solution=None)


def postprocess(problem: Problem, raw: str, mode: str) -> Aligned:
    """`mode` "completion": raw continuation of the prompt; "instruct": a chat reply."""
    if mode == "completion":
        return Aligned(completion=truncate(raw, problem.stop), solution=None)
    if problem.language == "python":
        return python_reply(problem, raw)
    code = extract_code(raw, problem.language, problem.entry_point)
    return align(problem, code)


def python_reply(problem: Problem, reply: str) -> Aligned:
    """A Python chat reply (or an imported `solution` that is not plain code): the entry point's definition
    and what it needs, found with ast (`wizardcoder.eval.sanitize`), after the prompt's imports; a reply
    holding only a function body is appended to the prompt."""
    program = extract_program(reply, problem.entry_point)
    if program is not None and languages.get("python").declares(program, problem.entry_point):
        return Aligned(completion=None, solution=prompt_imports(problem.prompt) + program)
    code = extract_code(reply, "python", problem.entry_point)
    if not code.strip():
        return Aligned(completion="", solution=None, no_code=True)
    if program is None and "```" not in reply and not _looks_like_body(code):
        return Aligned(completion="", solution=None, no_code=True)
    return align(problem, code)


def _looks_like_body(code: str) -> bool:
    """Indented Python that parses as a function body (a reply that continues the prompt's signature)."""
    try:
        ast.parse("def _f():\n" + indented_body(code))
    except (SyntaxError, ValueError):
        return False
    return True
