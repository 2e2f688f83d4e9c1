"""Turn a model's raw output into something to run: a completion (appended to the prompt) or a full program.

- completion APIs / base models: truncate at the suite's stop sequences, as the literature does
  (HumanEval: "\\nclass", "\\ndef", "\\n#", "\\nif", "\\nprint").
- chat / instruction-tuned models: take the code from the reply's fenced block, then align it to the
  problem: a reply holding the whole function (`def entry_point`) is used as a full program (with the
  prompt's imports in front, top-level demo code dropped); a reply holding only a body is appended to
  the prompt. For C++/Java a reply holding the whole function is cut down to its body, since the
  MultiPL-E tests start by closing the function.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from sandbox import canonical_language
from wizardcoder import languages
from wizardcoder.eval.problems import Problem
from wizardcoder.languages.c_like import function_body

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
    """Fit extracted code to the problem (see the module doc)."""
    if problem.language == "python":
        if languages.get("python").declares(code, problem.entry_point):
            return Aligned(completion=None, solution=_python_program(problem.prompt, code))
        return Aligned(completion=_as_body(code), solution=None)
    if problem.entry_point and languages.get(problem.language).declares(code, problem.entry_point):
        body = function_body(code, problem.entry_point, java=problem.language == "java")
        if body is not None:
            return Aligned(completion=body, solution=None)
    return Aligned(completion=truncate(code, problem.stop), solution=None)


def _as_body(code: str) -> str:
    """A body given without indentation gets the function's 4 spaces."""
    lines = code.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if first and not first[0].isspace():
        code = "\n".join(("    " + ln) if ln.strip() else ln for ln in lines)
    return code if code.endswith("\n") else code + "\n"


def _python_program(prompt: str, code: str) -> str:
    """The prompt's imports + the reply's definitions, without top-level demo code (calls, prints,
    asserts, `if __name__ == "__main__":`), which would otherwise run before the tests."""
    header = "".join(ln + "\n" for ln in prompt.splitlines() if re.match(r"(import|from)\s+\w", ln))
    lines = code.splitlines()
    tree = None
    for end in range(len(lines), 0, -1):  # a reply cut at max_tokens: keep the longest prefix that parses
        try:
            tree = ast.parse("\n".join(lines[:end]))
            break
        except SyntaxError:
            continue
    if tree is None:
        return header + code
    keep = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                             ast.Assign, ast.AnnAssign)):
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            keep.append("\n".join(lines[start - 1: node.end_lineno]))
    return header + "\n".join(keep) + "\n"


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
    from wizardcoder.eval.sanitize import extract_program

    program = extract_program(reply, problem.entry_point)
    if program is not None and languages.get("python").declares(program, problem.entry_point):
        header = "".join(ln + "\n" for ln in problem.prompt.splitlines() if re.match(r"(import|from)\s+\w", ln))
        return Aligned(completion=None, solution=header + program)
    code = extract_code(reply, "python", problem.entry_point)
    if not code.strip():
        return Aligned(completion="", solution=None, no_code=True)
    if program is None and "```" not in reply and not _looks_like_body(code):
        return Aligned(completion="", solution=None, no_code=True)
    return align(problem, code)


def _looks_like_body(code: str) -> bool:
    """Indented Python that parses as a function body (a reply that continues the prompt's signature)."""
    try:
        ast.parse("def _f():\n" + _as_body(code))
    except (SyntaxError, ValueError):
        return False
    return True
