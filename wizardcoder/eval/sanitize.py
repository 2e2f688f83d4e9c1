"""Python code out of a raw chat reply (markdown, prose around the code), as evalplus's sanitizer does it,
with Python's own parser (`ast`) rather than line patterns.

1. Find the code: each fenced block (closed or not), else the reply itself; in each, the longest run of
   lines that parses, starting at a line that opens a statement at column 0 (prose before the code,
   a reply cut at max_tokens after it). The piece that defines the entry point wins, else the longest.
2. Keep what the entry point needs: every top-level import, and the top-level functions, classes and
   module constants it reaches through the names it uses (transitively); demo code (calls, prints,
   asserts, `if __name__ == "__main__":`) is dropped. Without an entry point, every definition stays.

`extract_program(reply, entry_point)` gives the program, or None when the reply holds no Python code
(no parsable definition at all): callers count those (`no_code`) and score them as failures.
"""

from __future__ import annotations

import ast
import re

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.MULTILINE)
_STATEMENT_START = re.compile(r"^(?:def |async def |class |import |from |@|[A-Za-z_]\w*\s*(?::[^=]*)?=)")
MAX_LINES = 3000  # a longer reply is looked at up to here (parsing is quadratic in the worst case)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_NON_PYTHON = {"cpp", "c++", "c", "java", "javascript", "js", "typescript", "ts", "go", "rust", "bash", "sh",
               "shell", "console", "text", "json", "yaml", "output", "plaintext"}


def is_plain_code(text: str) -> bool:
    """Text that is a Python program as it stands (it parses and is not a markdown reply)."""
    if "```" in text:
        return False
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(isinstance(node, (*_DEFINITIONS, ast.Import, ast.ImportFrom)) for node in tree.body)


def extract_program(reply: str, entry_point: str | None = None) -> str | None:
    """The program in `reply` reduced to what `entry_point` needs (see the module doc); None if no code."""
    pieces = find_code(reply)
    if not pieces:
        return None
    defining = [p for p in pieces if entry_point and entry_point in _top_level_names(p[1])]
    _, tree, text = max(defining or pieces, key=lambda p: len(p[2]))
    return keep_needed(text, tree, entry_point)


def find_code(reply: str) -> list[tuple[int, ast.Module, str]]:
    """Every parsable piece of Python in `reply`: (position, tree, source)."""
    blocks = [(m.start(2), m.group(2)) for m in _FENCE.finditer(reply)
              if m.group(1).lower() not in _NON_PYTHON]
    sources = blocks or [(0, reply)]
    pieces = []
    for pos, text in sources:
        piece = _longest_parsable(text)
        if piece is not None:
            pieces.append((pos, *piece))
    return pieces


def _longest_parsable(text: str) -> tuple[ast.Module, str] | None:
    lines = text.splitlines()[:MAX_LINES]
    best: tuple[ast.Module, str] | None = None
    starts = [i for i, line in enumerate(lines) if _STATEMENT_START.match(line)]
    for start in starts:
        if best is not None and len(lines) - start <= best[1].count("\n"):
            break  # no longer piece can start here
        for end in range(len(lines), start, -1):
            source = "\n".join(lines[start:end]) + "\n"
            try:
                tree = ast.parse(source)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            if any(isinstance(n, (*_DEFINITIONS, ast.Import, ast.ImportFrom, ast.Assign)) for n in tree.body) \
                    and (best is None or len(source) > len(best[1])):
                best = (tree, source)
            break
    return best


def _top_level_names(tree: ast.Module) -> set[str]:
    return {name for node in tree.body for name in _binds(node)}


def _binds(node: ast.stmt) -> list[str]:
    if isinstance(node, _DEFINITIONS):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _uses(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def keep_needed(source: str, tree: ast.Module, entry_point: str | None) -> str:
    """The imports of `tree` plus the definitions reachable from `entry_point`, in their original order."""
    lines = source.splitlines()
    definitions: dict[str, list[ast.stmt]] = {}
    for node in tree.body:
        for name in _binds(node):
            definitions.setdefault(name, []).append(node)
    if entry_point and entry_point in definitions:
        wanted, todo = set(), [entry_point]
        while todo:
            name = todo.pop()
            if name in wanted or name not in definitions:
                continue
            wanted.add(name)
            for node in definitions[name]:
                todo.extend(_uses(node) - wanted)
        chosen = {id(node) for name in wanted for node in definitions[name]}
    else:
        chosen = {id(node) for nodes in definitions.values() for node in nodes}
    kept = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in chosen:
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            kept.append("\n".join(lines[first - 1: node.end_lineno]))
    return "\n".join(kept) + "\n"
