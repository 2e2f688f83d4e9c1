"""A reasoning teacher keeps exactly the tasks a plain teacher keeps, with no draft text anywhere in the dataset.

The plain teacher is the scripted sampling model behind the fake OpenAI server (right only for some seeds,
so selection matters); the reasoning teacher gives the same answers wrapped, in each wire style, in thinking
full of misleading drafts: another "Rewritten Instruction:", a wrong solution under "### Solution", tests
under "### Tests", the answer itself with its functions renamed. Every draft line carries a marker that
must never reach the dataset (records, pool, dataset.jsonl, dataset/), while raw/ keeps it for audit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox import create_sandbox
from wizardcoder.config import load_config
from wizardcoder.evolve import EvolveConfig, run_evolve
from wizardcoder.testing.fake_server import FakeOpenAIServer
from wizardcoder.testing.scripted_evolve import sampled_reply
from wizardcoder.testing.teachers import WIRE_STYLES, TeacherStyle

pytestmark = pytest.mark.slow  # one small evolve run per wire style (about 2 s each)

MARK = "DRAFTMARK"


def misleading_draft(body: dict, answer: str) -> str:
    return (f"Let me think. {MARK}\n"
            f"Rewritten Instruction: {MARK} write a function that returns nothing useful.\n"
            f"### Solution\n```python\ndef {MARK.lower()}(x):\n    return x  # {MARK}\n```\n"
            f"### Tests\n```python\nassert {MARK.lower()}(1) == 1  # {MARK}\n```\n"
            f"Maybe instead:\n{answer.replace('def ', f'def {MARK.lower()}_')}\n"
            f"#Rewritten Prompt#: {MARK}\nOkay, final answer now.")


@pytest.fixture(scope="module")
def sandbox():
    with create_sandbox("local") as sb:
        yield sb


def run(out: Path, sandbox, teacher: TeacherStyle | None) -> Path:
    with FakeOpenAIServer(reply=sampled_reply, teacher=teacher) as server:
        cfg = load_config(EvolveConfig, None, [
            f"output.dir={out}", "seeds.limit=6", "evolve.rounds=2", "evolve.solve_samples=2",
            "dataset.decontaminate=false", "output.report=false", f"llm.base_url={server.url}",
            "llm.model=fake-model", "llm.concurrency=4"])
        run_evolve(cfg, sandbox=sandbox)
    return out


def dataset(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "dataset.jsonl").read_text().splitlines()]


def files_holding(root: Path, text: str) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and text.encode() in p.read_bytes())


@pytest.fixture(scope="module")
def plain(tmp_path_factory, sandbox):
    out = run(tmp_path_factory.mktemp("plain") / "run", sandbox, None)
    rows = dataset(out)
    assert any(r["round"] > 0 for r in rows), "the plain teacher keeps evolved tasks"
    return rows


@pytest.mark.parametrize("wire", WIRE_STYLES)
def test_a_reasoning_teacher_keeps_exactly_the_plain_teachers_tasks(tmp_path, sandbox, plain, wire):
    teacher = TeacherStyle(wire, draft=misleading_draft)
    out = run(tmp_path / "run", sandbox, teacher)
    assert dataset(out) == plain
    leaked = [f for f in files_holding(out, MARK) if not f.startswith("raw/")]
    assert leaked == []
    if wire != "plain":
        assert files_holding(out / "raw", MARK)  # the thinking is kept for audit
        stats = json.loads((out / "stats.json").read_text())
        assert stats["llm"]["usage"]["reasoning_tokens"] > 0
        assert stats["totals"]["reasoning_tokens"] > 0  # counted from raw/ rows, as report.md shows them


def test_a_teacher_that_refuses_max_tokens_and_schemas_keeps_them_too(tmp_path, sandbox, plain):
    teacher = TeacherStyle("reasoning", draft=misleading_draft, schemas=False,
                           refuses=frozenset({"max_tokens", "temperature", "json_schema"}))
    out = run(tmp_path / "run", sandbox, teacher)
    assert dataset(out) == plain
    usage = json.loads((out / "stats.json").read_text())["llm"]["usage"]
    assert usage["rejected"] == 0 and usage["resent"] >= 4
