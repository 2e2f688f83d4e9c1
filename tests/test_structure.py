"""The code's shape, checked statically: no import cycle, `sandbox/` standing alone, small modules.

The import graph is read with `ast` from every module under wizardcoder/ and sandbox/ (nothing is
imported). An import is an edge of the *module-level* graph when it runs as its module is imported: at
module level, in `if` / `try` / `with` blocks and class bodies too, but not under `if TYPE_CHECKING:`
(never run). `from a.b import c` is an edge to the module `a.b.c` where there is one, else to `a.b`. The
parent package that a submodule's import passes through is no edge: Python registers a package before its
`__init__` runs, so importing a sibling never waits on it; `from wizardcoder.llm import create_client`,
which reads the `__init__`'s names, is one.

Imports inside a function run when the function is called, so they cannot break an import; but one that
closes a cycle hides a tangle. The second check adds them to the graph: a function-level import may close a
cycle only where `CYCLE_BREAKS` names it, with the reason.

A function-level import also hides a dependency, so wizardcoder/ has one only where it pays: its target is a
heavy or optional library (`HEAVY`), or the pair is named in `LAZY_IMPORTS` with the reason (a cycle, a heavy
library behind a wizardcoder module, the CLI's start-up, a program that runs in the sandbox).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("wizardcoder", "sandbox")
MAX_LINES = 550
LONG_ON_PURPOSE = {"sandbox/worker.py"}  # runs alone in the container: one file, copied in, stdlib only

# (importer, imported) pairs whose function-level import closes a cycle on purpose, with the reason.
CYCLE_BREAKS: dict[tuple[str, str], str] = {}

# Libraries a function of wizardcoder/ may import where it needs them: slow to import, or in an optional extra
# (pyproject.toml) and so maybe missing. Anything else is imported at the top of the module.
HEAVY: dict[str, str] = {
    "torch": "[local]/[train] extra; a second or more to import",
    "transformers": "[local]/[train] extra; loads torch",
    "peft": "[local]/[train] extra; loads torch and transformers",
    "accelerate": "[local]/[train] extra; loads torch",
    "safetensors": "[local]/[train] extra (the torch loader)",
    "deepspeed": "not a dependency: only when accelerate is launched with DeepSpeed",
    "flash_attn": "not a dependency: CUDA builds only",
    "wandb": "not a dependency: only with run.wandb=true",
    "xgrammar": "[structured] extra",
    "datasets": "core, but ~1 s (pyarrow, pandas): only reading and writing datasets need it",
    "matplotlib": "core, but ~0.3 s: only the loss and report plots need it",
    "openai": "core, but ~0.3 s: only the OpenAI-compatible provider needs it",
    "rich": "core, but tens of ms: progress bars and tables only, off the CLI's start-up path",
}

# (importer, imported) pairs of function-level imports kept on purpose, with the reason. An importer on the
# CLI's start-up path (`wizardcoder --help` imports every stage's command module and what they import) keeps
# off it what only one command needs.
LAZY_IMPORTS: dict[tuple[str, str], str] = {
    ("wizardcoder.eliminate.leaks", "wizardcoder.evolve.repair"):
        "cycle through a package: wizardcoder.evolve's __init__ loads rounds, whose run loads the engine, which "
        "imports eliminate.rules -> leaks",
    ("wizardcoder.eliminate.leaks", "wizardcoder.evolve.structured"): "cycle: as for wizardcoder.evolve.repair",
    ("wizardcoder.eliminate.leaks", "wizardcoder.evolve.prompts"): "cycle: as for wizardcoder.evolve.repair",
    ("wizardcoder.eval", "wizardcoder.eval.config"):
        "the package's lazy re-export: `import wizardcoder.eval` (pass@k, suites) loads no LLM or sandbox code",
    ("wizardcoder.eval", "wizardcoder.eval.runner"): "the package's lazy re-export, as for EvalConfig",
    ("wizardcoder.eval.command", "wizardcoder.eval.compare"): "CLI start-up: `eval compare` only",
    ("wizardcoder.eval.command", "wizardcoder.eval.report"): "CLI start-up: rich at module level",
    ("wizardcoder.eval.command", "wizardcoder.eval.runner"): "CLI start-up: the sandbox, LLM client and EvalPlus code",
    ("wizardcoder.evolve.command", "wizardcoder.llm.health"): "CLI start-up: asyncio and the endpoint pool",
    ("wizardcoder.evolve.dataset_builder", "wizardcoder.data.dedupe"): "CLI start-up: numpy at module level",
    ("wizardcoder.evolve.dataset_builder", "wizardcoder.data.dataset_writer"): "CLI start-up (~2 ms)",
    ("wizardcoder.evolve.dataset_builder", "wizardcoder.data.decontaminate"):
        "CLI start-up (~5 ms of regexes); only with dataset.decontaminate",
    ("wizardcoder.evolve.config", "wizardcoder.content_id"): "CLI start-up (~1 ms); only when a run starts",
    ("wizardcoder.evolve.rounds", "wizardcoder.runlock"): "CLI start-up (~2 ms with fcntl, shlex)",
    ("wizardcoder.eval.timelimits", "wizardcoder.eval.programs"): "CLI start-up (~2 ms); only when calibrating",
    ("wizardcoder.evolve.rounds", "wizardcoder.evolve.engine"): "CLI start-up: the round engine, only when evolving",
    ("wizardcoder.evolve.rounds", "wizardcoder.evolve.sandbox_stage"): "CLI start-up: the sandbox stage and checks",
    ("wizardcoder.llm.config", "wizardcoder.llm.endpoints"): "CLI start-up: asyncio; the openai provider only",
    ("wizardcoder.llm.config", "wizardcoder.llm.openai_client"): "CLI start-up: the chosen provider's client only",
    ("wizardcoder.llm.config", "wizardcoder.llm.transformers_client"): "CLI start-up: the chosen provider's only",
    ("wizardcoder.llm.config", "wizardcoder.llm.embedded"): "CLI start-up: the chosen provider's client only",
    ("wizardcoder.train", "wizardcoder.train.runner"): "torch at module level",
    ("wizardcoder.train.command", "wizardcoder.train"): "torch behind it (wizardcoder.train.train -> runner)",
    ("wizardcoder.train.probe", "wizardcoder.train.data"): "torch at module level",
    ("wizardcoder.eval.plus.values", "hashlib"):
        "pasted into every EvalPlus sandbox program, whose start-up pays for it; few outputs need a digest",
    ("wizardcoder.eval.plus.harness", "ctypes"): "a sandbox program: loads libffi, and may be missing (guarded)",
    ("wizardcoder.languages.pytest_driver", "asyncio"): "runs in the sandbox per check: only async tests need it",
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # a module of PACKAGES
    where: str  # path:line
    in_function: bool


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: from the module's package, one level up per extra dot
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join(package + ([base] if base else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    resolved = []
    for name in names:
        while name not in known and "." in name:  # `import a.b.func`-like: the innermost module named
            name = name.rsplit(".", 1)[0]
        if name in known:
            resolved.append(name)
    return resolved


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def imports(known: dict[str, Path] | None = None) -> list[Import]:
    known = known or modules()
    found: list[Import] = []
    for module, path in known.items():
        _walk(ast.parse(path.read_text(), str(path)), module, path, known, found, in_function=False)
    return found


def _walk(node: ast.AST, module: str, path: Path, known: dict[str, Path], found: list[Import],
          in_function: bool) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            _walk(child, module, path, known, found, in_function=True)
        elif isinstance(child, ast.If) and _is_type_checking(child):
            for branch in child.orelse:  # the `else:` of TYPE_CHECKING does run
                _walk(ast.Module(body=[branch], type_ignores=[]), module, path, known, found, in_function)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            for target in _targets(child, module, path.name == "__init__.py", known):
                if target != module:
                    where = f"{path.relative_to(ROOT)}:{child.lineno}"
                    found.append(Import(module, target, where, in_function))
        else:
            _walk(child, module, path, known, found, in_function)


def function_level_imports(package: str = "wizardcoder") -> list[Import]:
    """Every import inside a function of `package`; `target` is the module of PACKAGES it reaches (as in
    `imports`), else the imported module's top-level name (`from torch import nn` -> `torch`)."""
    known = modules()
    found = []
    for module, path in known.items():
        if module.split(".")[0] != package:
            continue
        for function in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            for node in ast.walk(function):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                inside = _targets(node, module, path.name == "__init__.py", known)
                outside = ([a.name for a in node.names] if isinstance(node, ast.Import)
                           else [] if node.level else [node.module or ""])
                for target in inside or [name.split(".")[0] for name in outside]:
                    found.append(Import(module, target, where, in_function=True))
    return sorted(set(found), key=lambda e: (e.where, e.target))  # a nested function's import is walked twice


def cycles(edges: list[Import]) -> list[list[Import]]:
    """One cycle per strongly connected component of the graph (Tarjan), as the imports that make it."""
    graph: dict[str, dict[str, Import]] = {}
    for edge in edges:
        graph.setdefault(edge.source, {}).setdefault(edge.target, edge)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:  # recursion depth is bounded by the number of modules (a few hundred)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_one_cycle(graph, component) for component in components]


def _one_cycle(graph: dict[str, dict[str, Import]], component: set[str]) -> list[Import]:
    start = min(component)
    paths = {start: []}
    frontier = [start]
    while frontier:  # breadth first, inside the component, back to the start
        nxt_frontier = []
        for node in frontier:
            for target, edge in sorted(graph.get(node, {}).items()):
                if target == start:
                    return paths[node] + [edge]
                if target in component and target not in paths:
                    paths[target] = paths[node] + [edge]
                    nxt_frontier.append(target)
        frontier = nxt_frontier
    raise AssertionError(f"no cycle through {start}")  # a strongly connected component always has one


def _describe(found: list[list[Import]]) -> str:
    return "\n".join(
        " -> ".join([cycle[0].source] + [f"{e.target} ({e.where}{', in a function' if e.in_function else ''})"
                                         for e in cycle])
        for cycle in found)


def test_the_import_graph_is_read():
    edges = imports()
    assert len(edges) > 200  # the walk sees the real code, not an empty tree
    by_pair = {(e.source, e.target) for e in edges if not e.in_function}
    assert ("wizardcoder.cli", "wizardcoder.errors") in by_pair
    assert ("wizardcoder.llm.openai_client", "wizardcoder.llm.base") in by_pair


def test_the_cycle_finder_finds_a_cycle():
    edges = [Import("a", "b", "a.py:1", False), Import("b", "c", "b.py:3", False),
             Import("c", "a", "c.py:2", True), Import("c", "d", "c.py:4", False)]
    assert _describe(cycles(edges)) == "a -> b (a.py:1) -> c (b.py:3) -> a (c.py:2, in a function)"
    assert cycles(edges[:2] + edges[3:]) == []


def test_no_import_cycle_at_module_level():
    found = cycles([e for e in imports() if not e.in_function])
    assert not found, f"import cycles (break one edge: move the shared piece down a level):\n{_describe(found)}"


def test_no_cycle_hidden_in_a_function_level_import():
    edges = [e for e in imports() if (e.source, e.target) not in CYCLE_BREAKS]
    found = cycles(edges)
    assert not found, ("a function-level import closes an import cycle (untangle it, or name it in CYCLE_BREAKS "
                       f"with the reason):\n{_describe(found)}")


def test_cycle_breaks_are_still_needed():
    pairs = {(e.source, e.target) for e in imports() if e.in_function}
    assert not set(CYCLE_BREAKS) - pairs, "CYCLE_BREAKS names an import that is gone"


def _hidden(edges: list[Import]) -> list[Import]:
    return [e for e in edges if e.target not in HEAVY and (e.source, e.target) not in LAZY_IMPORTS]


def test_function_level_imports_are_only_the_named_ones():
    hidden = _hidden(function_level_imports())
    assert not hidden, ("imports inside functions hide a dependency; move these to the top of their module, or "
                        "name the library in HEAVY or the pair in LAZY_IMPORTS with the reason (a cycle, a heavy "
                        "import, the CLI's start-up):\n" + "\n".join(f"{e.where}: {e.target}" for e in hidden))


def test_the_lazy_import_check_sees_a_plain_one():
    found = function_level_imports()
    assert any(e.target == "torch" for e in found) and not _hidden([e for e in found if e.target == "torch"])
    assert ("wizardcoder.eval.command", "wizardcoder.eval.runner") in {(e.source, e.target) for e in found}
    plain = [Import("wizardcoder.cli", "json", "cli.py:1", True), Import("wizardcoder.cli", "wizardcoder.records",
                                                                        "cli.py:2", True)]
    assert _hidden(plain) == plain


def test_lazy_imports_are_still_there():
    pairs = {(e.source, e.target) for e in function_level_imports()}
    assert not set(LAZY_IMPORTS) - pairs, f"LAZY_IMPORTS names imports that are gone: {set(LAZY_IMPORTS) - pairs}"


def test_sandbox_imports_nothing_from_wizardcoder():
    for path in sorted((ROOT / "sandbox").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            for name in names:
                assert name.split(".")[0] != "wizardcoder", (
                    f"{path.relative_to(ROOT)}:{node.lineno} imports {name}: sandbox/ stands alone (the Ray "
                    "workers and the image carry it without wizardcoder)")


def test_no_module_is_too_long():
    long = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = str(path.relative_to(ROOT))
            lines = len(path.read_text().splitlines())
            if lines > MAX_LINES and name not in LONG_ON_PURPOSE:
                long[name] = lines
    assert not long, (f"modules over {MAX_LINES} lines: {long}; split each along a real seam (one job per "
                      "module), moving code in a commit of its own")
