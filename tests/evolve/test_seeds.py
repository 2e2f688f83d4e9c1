"""The shipped seed tasks (`wizardcoder/evolve/seeds/python.jsonl`) are well-formed and verified.

Every task's reference solution passes its own tests in a fresh interpreter, the tests fail when the
entry point is replaced by a stub that returns None (so they assert something), and no instruction
shares a 10-word sequence with a HumanEval or MBPP prompt (seeds must not leak the evaluation suites).
The docker-marked test runs every seed through the real sandbox, the way `wizardcoder evolve` does.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

REQUIRED_KEYS = {"id", "instruction", "input", "output", "tests", "entry_point", "topic", "difficulty"}
TOPICS = {
    "strings", "lists", "dicts", "math", "recursion", "sorting", "searching", "dp", "graphs", "parsing",
    "dates", "bits", "classes", "generators", "regex", "matrices", "simulation",
}
DIFFICULTIES = {"easy", "medium"}
ID_PATTERN = re.compile(r"^wc-seed-\d{4}$")
NGRAM = 10
TIMEOUT_S = 30
REPORT_MARKER = "__WC_SEED_REPORT__"

# Replaces the entry point after the solution is defined: a function becomes one returning None,
# a class becomes one whose every attribute is a method returning None.
BREAK_ENTRY_POINT = '''
class _WcBrokenClass:
    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _wc_broken_function(*args, **kwargs):
    return None


globals()[{name!r}] = _WcBrokenClass if isinstance(globals()[{name!r}], type) else _wc_broken_function
'''



def _load_tasks() -> list[dict]:
    resource = importlib.resources.files("wizardcoder.evolve") / "seeds" / "python.jsonl"
    tasks = []
    for lineno, line in enumerate(resource.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                tasks.append(json.loads(line))
            except json.JSONDecodeError as exc:
                pytest.fail(f"python.jsonl line {lineno} is not JSON: {exc}")
    return tasks


TASKS = _load_tasks()


def _program(task: dict, broken: bool) -> str:
    parts = [task["output"]]
    if broken:
        parts.append(BREAK_ENTRY_POINT.format(name=task["entry_point"]))
    parts.append(task["tests"])
    return "\n\n".join(parts) + "\n"


# Runs in a fresh, isolated interpreter per task: each variant executes in its own namespace and passes iff
# it raises nothing (SystemExit included, so a test cannot pass by exiting early).
RUNNER = f'''
import json, sys, traceback
report = {{}}
for variant, program in json.loads(sys.stdin.read()).items():
    try:
        exec(compile(program, "<" + variant + ">", "exec"), {{"__name__": "__main__"}})
    except BaseException:
        report[variant] = [False, traceback.format_exc()[-1500:]]
    else:
        report[variant] = [True, ""]
sys.stdout.write("\\n{REPORT_MARKER}" + json.dumps(report) + "\\n")
'''


def _run_task(task: dict) -> dict[str, tuple[bool, str]]:
    """{"reference": (passed, error), "broken": (passed, error)} for one task."""
    programs = {"reference": _program(task, broken=False), "broken": _program(task, broken=True)}
    try:
        proc = subprocess.run([sys.executable, "-I", "-c", RUNNER], check=False, input=json.dumps(programs),
                              capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {variant: (False, f"timed out after {TIMEOUT_S}s") for variant in programs}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(REPORT_MARKER):
            return {k: tuple(v) for k, v in json.loads(line[len(REPORT_MARKER):]).items()}
    problem = f"no report (exit {proc.returncode}): {proc.stderr[-1500:]}"
    return {variant: (False, problem) for variant in programs}


class _Executions(dict):
    """task id -> {"reference" | "broken": (passed, error)}; a short repr keeps pytest failures readable."""

    def __repr__(self) -> str:
        return f"<{len(self)} seed executions>"


@pytest.fixture(scope="module")
def executions() -> _Executions:
    """Both variants (reference solution, broken entry point) of every task, tasks run in parallel."""
    workers = max(2, min(8, os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return _Executions(zip((task["id"] for task in TASKS), pool.map(_run_task, TASKS)))


def test_enough_tasks_with_unique_ids_and_instructions():
    assert len(TASKS) >= 100
    ids = Counter(task.get("id") for task in TASKS)
    assert [i for i, n in ids.items() if n > 1] == []
    normalized = Counter(" ".join(task.get("instruction", "").lower().split()) for task in TASKS)
    assert [i for i, n in normalized.items() if n > 1] == []
    entry_points = Counter(task.get("entry_point") for task in TASKS)
    assert [e for e, n in entry_points.items() if n > 1] == []


@pytest.mark.parametrize("task", TASKS, ids=[t.get("id", "?") for t in TASKS])
def test_task_schema(task):
    assert set(task) == REQUIRED_KEYS
    assert all(isinstance(task[key], str) for key in REQUIRED_KEYS)
    assert ID_PATTERN.match(task["id"])
    assert task["topic"] in TOPICS
    assert task["difficulty"] in DIFFICULTIES
    assert task["instruction"].strip() and task["output"].strip()
    assert task["entry_point"].isidentifier()
    assert f"`{task['entry_point']}" in task["instruction"], "the instruction names the entry point"
    assert re.search(rf"^(def|class) {task['entry_point']}\b", task["output"], re.MULTILINE)
    compile(task["output"], f"{task['id']}.output", "exec")
    compile(task["tests"], f"{task['id']}.tests", "exec")
    assert len(re.findall(r"^\s*assert\b", task["tests"], re.MULTILINE)) >= 3
    assert task["entry_point"] in task["tests"]


def test_topics_are_diverse():
    topics = Counter(task["topic"] for task in TASKS)
    assert set(topics) == TOPICS
    assert max(topics.values()) <= len(TASKS) // 5
    assert Counter(task["difficulty"] for task in TASKS)["easy"] >= len(TASKS) // 4
    # Topics are interleaved, so a prefix (`seeds.limit=N`) is already diverse.
    assert {task["topic"] for task in TASKS[:len(TOPICS)]} == TOPICS


@pytest.mark.parametrize("task", TASKS, ids=[t.get("id", "?") for t in TASKS])
def test_reference_solution_passes(task, executions):
    passed, error = executions[task["id"]]["reference"]
    assert passed, f"{task['id']} ({task['entry_point']}) failed its own tests:\n{error}"


@pytest.mark.parametrize("task", TASKS, ids=[t.get("id", "?") for t in TASKS])
def test_tests_reject_a_broken_solution(task, executions):
    passed, _ = executions[task["id"]]["broken"]
    assert not passed, f"{task['id']}: tests still pass when {task['entry_point']} returns None"


def _ngrams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i:i + NGRAM]) for i in range(len(words) - NGRAM + 1)}


def _eval_prompts() -> dict[str, str]:
    """HumanEval's and MBPP's prompts, as shipped in the package for decontamination."""
    import gzip

    from wizardcoder.data.decontaminate import EVAL_TEXTS

    prompts = {}
    for name in ("humaneval.jsonl.gz", "mbpp.jsonl.gz"):
        with gzip.open(EVAL_TEXTS / name, "rt", encoding="utf-8") as fh:
            for line in fh:
                problem = json.loads(line)
                prompts[problem.get("task_id") or problem["name"]] = problem["prompt"]
    assert len(prompts) > 500
    return prompts


def test_no_ten_gram_overlap_with_humaneval_or_mbpp():
    index: dict[tuple[str, ...], str] = {}
    for name, prompt in _eval_prompts().items():
        for gram in _ngrams(prompt):
            index.setdefault(gram, name)
    overlaps = []
    for task in TASKS:
        for field in ("instruction", "output"):
            for gram in _ngrams(task[field]):
                if gram in index:
                    overlaps.append(f"{task['id']}.{field} ~ {index[gram]}: {' '.join(gram)}")
    assert overlaps == []


def test_ngram_check_detects_a_copied_prompt():
    prompts = _eval_prompts()
    copied = prompts["HumanEval/0"]
    index = set().union(*(_ngrams(p) for p in prompts.values()))
    assert _ngrams(copied) & index
    assert not _ngrams(TASKS[0]["instruction"]) & index


@pytest.mark.docker
def test_reference_solutions_pass_in_the_docker_sandbox():
    """The path `wizardcoder evolve` takes: each seed's solution + tests as one sandbox job."""
    from sandbox import Job, Status, create_sandbox

    marker = "__WC_SEED_OK__"
    jobs = [Job(_program(task, broken=False) + f"\nprint({marker!r})\n", timeout=20, success_marker=marker)
            for task in TASKS]
    with create_sandbox("docker") as sb:
        results = sb.run_many(jobs)
    assert all(r.status is not Status.ERROR for r in results), [r.reason for r in results if r.reason][:3]
    failed = [(task["id"], r.status.value, r.stderr[-300:]) for task, r in zip(TASKS, results) if not r.passed]
    assert failed == []
