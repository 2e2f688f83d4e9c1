"""Turn raw model text into fields: the evolved instruction, and a solution + tests.

Written for weak models as much as strong ones: a reply is accepted in the asked-for format
(`### Solution` and `### Tests` headings over fenced blocks) and in the common ways models drift
from it (other heading styles, unlabelled fences, one block that holds both the code and its
asserts, an unclosed last fence). What cannot be read yields a reason code, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from wizardcoder import languages
from wizardcoder.languages import find_entry_point
from wizardcoder.reasons import Reason

_FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)(.*)$")

# A heading line such as "### Solution", "**Tests:**", "Solution:", "## Unit tests", "### Test the function".
_HEADING = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*|\*\*|__)?[ \t]*(?P<name>solution|code|implementation|answer|tests?|unit[ \t]+tests?"
    r"|test[ \t]+cases?)[ \t]*(?:\*\*|__)?[ \t]*:?[ \t]*(?:\*\*|__)?[ \t]*$"
    r"|^[ \t]*#{1,6}[ \t]+(?P<loose>[^\n]*?\b(?:tests?|testing|solution|implementation)\b[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)

# Lines a model adds before the evolved task: "#Rewritten Prompt#:", "New task:", "Sure! Here is ...:".
_LEAD_IN = re.compile(
    r"^\s*(?:#+\s*)?(?:\*\*)?\s*(?:#?\s*(?:rewritten|new|created|evolved|harder|modified|updated|given)"
    r"[ \t]+(?:prompt|task|question|instruction|version|programming[ \t]+task)\s*#?"
    r"|task|instruction|question|prompt)\s*(?:\*\*)?\s*:?\s*(?:\*\*)?[ \t]*(?:\n|$)",
    re.IGNORECASE,
)
_CHATTY_OPENER = re.compile(
    r"^\s*(?:(?:sure|certainly|okay|ok|of course|here(?:'s| is| are)|below is)\b[^\n]*"
    r"|[^\n]*\b(?:here(?:'s| is)|rewritten|harder version)\b[^\n]*):\s*\n",
    re.IGNORECASE,
)
# A line where the model starts answering the task it should only have written.
_SOLUTION_INTRO = re.compile(
    r"^[ \t]*(?:here(?:'s| is)|below is)\s+(?:a|an|the|my|one)?\s*(?:possible|simple|sample|example|python|"
    r"c\+\+|java|complete|basic)?\s*(?:solution|implementation|answer)\b[^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
# Where an evolved task stops: the model started solving it or echoed the prompt's next part.
_TASK_END = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*|\*\*)?[ \t]*(?:solution|answer|response|explanation|tests?|"
    r"#?(?:given|original)[ \t]+(?:prompt|task)#?)[ \t]*(?:\*\*)?[ \t]*:?[ \t]*(?:\*\*)?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)

@dataclass(frozen=True)
class Block:
    start: int  # offset of the opening fence line
    end: int  # offset just past the closing fence line (or the end of the text)
    code: str


def code_blocks(text: str) -> list[Block]:
    """Fenced code blocks, read line by line as weak models write them: an unclosed last block runs to
    the end, and a fence with a language tag inside a block ("```python" twice) closes it and opens
    another."""
    blocks: list[Block] = []
    start = None
    fence = ""
    body: list[str] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        match = _FENCE_LINE.match(line.rstrip("\n"))
        if start is None:
            if match:
                start, fence, body = offset, match.group(1)[0], []
        elif match and match.group(1)[0] == fence and not match.group(3).strip():
            blocks.append(Block(start, offset + len(line), "".join(body)))
            start = None
            if match.group(2):  # "```python" inside a block: the model reopened one
                start, body = offset, []
        else:
            body.append(line)
        offset += len(line)
    if start is not None:
        blocks.append(Block(start, len(text), "".join(body)))
    return blocks


def _meaningful(code: str, language: str) -> bool:
    """Not empty and not only comments (a copied "# your solution code" placeholder)."""
    return bool(languages.get(language).strip_comments(code).strip())


@dataclass(frozen=True)
class ParsedSolution:
    solution: str
    tests: str
    entry_point: str | None = None


def parse_evolved(text: str) -> str:
    """The evolved instruction in a reply: lead-in lines and a leaked solution part removed."""
    text = (text or "").replace("\r\n", "\n").strip()
    for _ in range(3):  # "Sure! Here is the new task:\n\n#Rewritten Prompt#:\n..."
        before = text
        text = _CHATTY_OPENER.sub("", text, count=1).strip()
        text = _LEAD_IN.sub("", text, count=1).strip()
        if text == before:
            break
    # a lead-in on the same line as the task: "New task: Write a function ..."
    text = re.sub(r"^(?:#+\s*)?(?:\*\*)?#?(?:rewritten|new|created|evolved|harder)\s+(?:prompt|task|question)#?"
                  r"(?:\*\*)?\s*:\s*", "", text, count=1, flags=re.IGNORECASE).strip()
    for pattern in (_TASK_END, _SOLUTION_INTRO):
        end = _first_outside_fences(pattern, text)
        if end is not None and end > 0:
            text = text[:end].strip()
    return text


def reaches_the_end(text: str, instruction: str) -> bool:
    """Whether the instruction `parse_evolved` took from `text` runs to the text's end: in a reply cut by the
    token limit, the cut is then inside the task (a cut inside a leaked solution part was removed with it)."""
    return bool(instruction) and (text or "").replace("\r\n", "\n").strip().endswith(instruction)


def _first_outside_fences(pattern: re.Pattern[str], text: str) -> int | None:
    spans = [(b.start, b.end) for b in code_blocks(text)]
    for match in pattern.finditer(text):
        if not any(a <= match.start() < b for a, b in spans):
            return match.start()
    return None


def parse_solution(text: str, language: str = "python") -> ParsedSolution | Reason:
    """A `ParsedSolution`, or why the reply has no usable parts (`Reason.NO_SOLUTION`, `Reason.NO_TESTS`)."""
    text = (text or "").replace("\r\n", "\n")
    sections = _sections(text)
    solution = _code_in(next(iter(sections.get("solution", ())), None), language, _looks_like_code)
    tests = _tests_in(sections.get("tests", ()), language)
    if solution is None or tests is None:
        blocks = [b.code for b in code_blocks(text) if _meaningful(b.code, language)]
        if solution is None and tests is not None:
            solution = next((b for b in blocks if b != tests and _looks_like_code(b, language)), None)
        elif solution is not None and tests is None:
            tests = next((b for b in blocks if b != solution and _looks_like_tests(b, language)), None)
        elif len(blocks) >= 2:
            test_blocks = [b for b in blocks[1:] if _looks_like_tests(b, language)]
            if test_blocks:
                solution, tests = blocks[0], test_blocks[0]
        if solution is None and blocks:
            solution = blocks[0]
        if solution is None and not sections and _looks_like_code(text, language):
            solution = text  # an unfenced reply that is all code
    if solution is None or not solution.strip():
        return Reason.NO_SOLUTION
    if tests is None or not tests.strip():
        split = _split_tests(solution, language)
        if split is None:
            return Reason.NO_TESTS
        solution, tests = split
    return solution_with_tests(solution, tests, language)


def solution_with_tests(solution: str, tests: str, language: str) -> ParsedSolution | Reason:
    """A solution and tests taken from a reply as a `ParsedSolution` (each ending in one newline, the entry
    point found), or `Reason.NO_TESTS` when `tests` holds nothing recognisable as tests."""
    if not _looks_like_tests(tests, language):
        return Reason.NO_TESTS
    solution, tests = solution.strip("\n") + "\n", tests.strip("\n") + "\n"
    return ParsedSolution(solution, tests, find_entry_point(solution, tests, language))


def _sections(text: str) -> dict[str, list[str]]:
    """Text under each recognised heading, by kind ("solution", "tests") in reply order, outside code fences."""
    spans = [(b.start, b.end) for b in code_blocks(text)]
    heads = [m for m in _HEADING.finditer(text) if not any(a <= m.start() < b for a, b in spans)]
    out: dict[str, list[str]] = {}
    for i, head in enumerate(heads):
        name = (head.group("name") or head.group("loose")).lower()
        kind = "tests" if "test" in name else "solution"
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        out.setdefault(kind, []).append(text[head.end():end])
    return out


def _tests_in(sections: Sequence[str], language: str) -> str | None:
    """The tests under every tests heading: the blocks that check something (a "### Test" block that only
    prints is passed over for the "### Test with assertions" one after it), as their language joins them
    (`join_tests`: C++ / Java, where each program has one `main`, may keep only one)."""
    found: list[str] = []
    for section in sections:
        fenced = code_blocks(section)
        blocks = [b.code for b in fenced if _meaningful(b.code, language)] if fenced else [section.strip()]
        found += [code for code in blocks if code not in found and _looks_like_tests(code, language)]
    if len(found) <= 1:
        return found[0] if found else None
    return languages.get(language).join_tests(found)


def _code_in(section: str | None, language: str, looks_right) -> str | None:
    """The code under a heading: its first meaningful fenced block, else its text if it looks right."""
    if section is None:
        return None
    blocks = code_blocks(section)
    if blocks:
        return next((b.code for b in blocks if _meaningful(b.code, language)), None)
    stripped = section.strip()
    return stripped if stripped and looks_right(stripped, language) else None


def _looks_like_tests(code: str, language: str) -> bool:
    return languages.get(language).looks_like_tests(code)


def _looks_like_code(text: str, language: str) -> bool:
    return languages.get(language).looks_like_code(text)


def _split_tests(code: str, language: str) -> tuple[str, str] | None:
    """One block holding code and its tests: split it where the tests start."""
    return languages.get(language).split_tests(code)


