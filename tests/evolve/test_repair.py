"""The repair turn, end to end against the fake OpenAI server (real HTTP) and the local sandbox: a task none of
whose samples passed gets one follow-up in the same conversation with the sandbox's evidence; the fixed answer
is held to the original tests (or, with `evolve.repair_tests`, to every check again); lineage, stats and the
report say what the repair did; an infrastructure error parks the task; a run resumed at any step of a repair
ends as the uninterrupted one, never asking a repair twice."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from sandbox import create_sandbox
from wizardcoder.config import load_config
from wizardcoder.data.store import read_jsonl
from wizardcoder.evolve import EvolveConfig, run_evolve
from wizardcoder.evolve.repair import KEEP_TESTS, MAY_FIX_TESTS, REPAIR_PROMPT, REPAIRABLE
from wizardcoder.evolve.rounds import InfraErrorStop
from wizardcoder.testing.fake_llm import FakeClient
from wizardcoder.testing.fake_server import FakeOpenAIServer
from wizardcoder.testing.faults import Fault
from wizardcoder.testing.scripted_evolve import sampled_teacher
from wizardcoder.testing.teachers import TeacherStyle

pytestmark = pytest.mark.slow  # a few small evolve runs (about 2-4 s each)

OPENING = REPAIR_PROMPT.split("\n", 1)[0]
MIX = ("right", "buggy", "buggy", "wrong_tests", "cannot_fail")  # answers right only sometimes
MARK = "DRAFTMARK"


@pytest.fixture(scope="module")
def sandbox():
    with create_sandbox("local") as sb:
        yield sb


class Recorder:
    """A reply function that keeps every request body it answers."""

    def __init__(self, reply):
        self.reply, self.bodies, self.lock = reply, [], threading.Lock()

    def __call__(self, body: dict) -> str:
        with self.lock:
            self.bodies.append(body)
        return self.reply(body)

    def repairs(self) -> list[dict]:
        return [b for b in self.bodies if _is_repair(b)]


def _is_repair(body: dict) -> bool:
    messages = body.get("messages")
    text = str(messages[-1]["content"]) if messages else str(body.get("prompt", ""))
    return OPENING in text


def cfg_for(out: Path, url: str, *overrides: str, limit: int = 12, samples: int = 2) -> EvolveConfig:
    return load_config(EvolveConfig, None, [
        f"output.dir={out}", f"seeds.limit={limit}", "evolve.rounds=1", f"evolve.solve_samples={samples}",
        "dataset.decontaminate=false", f"llm.base_url={url}", "llm.model=fake-model", "llm.concurrency=4",
        *overrides])


def endpoint_run(out: Path, sandbox, *overrides: str, teacher=None, reply=None, **kwargs):
    recorder = Recorder(reply or sampled_teacher(0.5, MIX))
    with FakeOpenAIServer(reply=recorder, teacher=teacher) as server:
        result = run_evolve(cfg_for(out, server.url, *overrides, **kwargs), sandbox=sandbox)
    return result, recorder


def rows(out: Path, name: str) -> list[dict]:
    path = out / "raw" / "round_001" / f"{name}.jsonl"
    return list(read_jsonl(path)) if path.exists() else []


def dataset(out: Path) -> list[dict]:
    return list(read_jsonl(out / "dataset.jsonl"))


def misleading(body: dict, answer: str) -> str:
    return f"{MARK} first draft:\n### Solution\n```python\ndef {MARK.lower()}(x):\n    return x\n```\n{MARK}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sandbox):
    base = tmp_path_factory.mktemp("repair")
    return {
        "off": endpoint_run(base / "off", sandbox, "evolve.repair_turns=0"),
        "on": endpoint_run(base / "on", sandbox),  # the default behind an endpoint: one turn
        "think": endpoint_run(base / "think", sandbox, "llm.structured=auto",
                              teacher=TeacherStyle("think", draft=misleading)),
        "completions": endpoint_run(base / "completions", sandbox, "llm.api=completions", "llm.structured=off"),
        "two": endpoint_run(base / "two", sandbox, "evolve.repair_turns=2"),
    }


def test_a_repair_turn_keeps_more_tasks_and_only_asks_when_the_code_failed(runs):
    (off, off_requests), (on, on_requests) = runs["off"], runs["on"]
    assert off_requests.repairs() == [] and not rows(off.run_dir, "repair")
    s_off, s_on = off.stats["rounds"][0], on.stats["rounds"][0]
    assert s_on["repairs_asked"] == len(on_requests.repairs()) == len(rows(on.run_dir, "repair")) > 0
    assert 0 < s_on["repairs_succeeded"] < s_on["repairs_asked"]  # some fixed, some not
    assert s_on["passed"] == s_off["passed"] + s_on["repairs_succeeded"]
    assert s_on["kept_without_repair"] == s_off["passed"]
    # one follow-up per task, and only for tasks whose samples failed for a reason of the code
    selected = {row["task_id"]: row for row in rows(on.run_dir, "select")}
    asked = [row["task_id"] for row in rows(on.run_dir, "repair")]
    assert len(asked) == len(set(asked))
    for tid, row in selected.items():
        if tid in asked:
            assert row["repair_turns"] == 1 and row["reason_before_repair"] in REPAIRABLE
        else:
            assert "repair_turns" not in row and (row["verdict"] == "passed" or row["reason"] not in REPAIRABLE)
    assert any(row["reason"] == "tests_cannot_fail" for row in selected.values())  # seen, never repaired
    # the tasks kept without repair are kept alike; the repaired ones are right and say so
    kept_off = {r["id"]: r for r in dataset(off.run_dir)}
    kept_on = {r["id"]: r for r in dataset(on.run_dir)}
    assert set(kept_off) < set(kept_on)
    for rid, row in kept_on.items():
        if rid in kept_off:
            assert row == kept_off[rid]
        else:
            assert (row["repaired"], row["repair_turns"], row["reason_before_repair"]) == (True, 1, "failed")
            assert "return sorted(values)" in row["output"]
    records = {r["id"]: r for r in read_jsonl(on.run_dir / "records.jsonl")}
    assert sum(bool(r["repaired"]) for r in records.values()) == s_on["repairs_succeeded"]
    totals = on.stats["totals"]["yield"]
    assert totals["with_repair"]["kept"] == totals["without_repair"]["kept"] + s_on["repairs_succeeded"]
    assert totals["without_repair"]["tokens_per_kept"] == off.stats["totals"]["cost_per_kept_task"]["llm_tokens"]
    report = (on.run_dir / "report.md").read_text()
    assert "## Repair turns" in report and "kept without / with repair" in report


def test_the_teacher_sees_its_own_conversation_and_the_evidence_never_a_success_marker(runs):
    on, requests = runs["on"]
    solves = {(r["task_id"], r["sample"]): r for r in rows(on.run_dir, "solve")}
    bodies = requests.repairs()
    for row in rows(on.run_dir, "repair"):
        answer = solves[(row["task_id"], row["candidate"])]["text"]
        (body,) = [b for b in bodies if b["messages"][1]["content"] == answer
                   and b["messages"][2]["content"] == row["follow_up"]]
        messages = body["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        solve_bodies = [b for b in requests.bodies if b is not body and b["messages"][0] == messages[0]]
        assert len(solve_bodies) == 2 and all(b["max_tokens"] == body["max_tokens"] for b in solve_bodies)
        follow_up = messages[2]["content"]
        assert KEEP_TESTS in follow_up and MAY_FIX_TESTS not in follow_up
        assert "Failing assertion: assert sort_values_" in follow_up and "AssertionError" in follow_up
        assert "WIZARDCODER-" not in json.dumps(body) and "wizardcoder-sandbox" not in follow_up


def test_a_reasoning_teacher_with_structured_answers_repairs_the_same_tasks(runs):
    (on, _), (think, requests) = runs["on"], runs["think"]
    assert dataset(think.run_dir) == dataset(on.run_dir)
    for body in requests.repairs():
        assert MARK not in json.dumps(body)  # the assistant turn is the answer, never its thinking
        assert json.loads(body["messages"][1]["content"]).keys() == {"solution", "tests"}
        assert body["response_format"]["json_schema"]["name"] == "solution_and_tests"
    assert all(row.get("structured") for row in rows(think.run_dir, "repair"))


def test_the_completions_api_gets_the_conversation_as_one_prompt(runs):
    (on, _), (completions, requests) = runs["on"], runs["completions"]
    assert requests.repairs() and all("messages" not in b for b in requests.repairs())
    for body in requests.repairs():
        prompt = body["prompt"]
        assert prompt.index("### Solution") < prompt.index("```python") < prompt.index(OPENING)
    assert completions.stats["rounds"][0]["repairs_succeeded"] == on.stats["rounds"][0]["repairs_succeeded"]


def test_a_second_turn_goes_on_with_the_first_repairs_answer_and_evidence(runs):
    (on, _), (two, requests) = runs["on"], runs["two"]
    first = {r["task_id"]: r for r in rows(two.run_dir, "repair") if r["turn"] == 0}
    second = [r for r in rows(two.run_dir, "repair") if r["turn"] == 1]
    assert second and all(r["task_id"] in first for r in second)
    for row in second:
        (body,) = [b for b in requests.repairs() if len(b["messages"]) == 5
                   and b["messages"][-1]["content"] == row["follow_up"]
                   and b["messages"][2]["content"] == first[row["task_id"]]["follow_up"]]
        messages = body["messages"]
        assert messages[3]["content"] == first[row["task_id"]]["text"]
    selected = {r["task_id"]: r for r in rows(two.run_dir, "select")}
    assert all(selected[r["task_id"]]["repair_turns"] == 2 for r in second)
    assert two.stats["rounds"][0]["passed"] >= on.stats["rounds"][0]["passed"]


# ------------------------------------------------------------------------------- tests as written, or fixed

ADD = "Write a function add(a, b) that returns the sum of two integers a and b"
REPAIRS = {  # how this teacher answers a repair turn, by the case its task names
    "fix": ("def add(a, b):\n    return a + b", "assert add(2, 3) == 5\nassert add(-1, 1) == 0"),
    "weaken": ("def add(a, b):\n    return a - b", "assert add(2, 3) is not None or True"),
    "helper": ("def helper(x):\n    return x\n\ndef add(a, b):\n    return a + b", "assert helper(1) == 1"),
    "alone": ("def add(a, b):\n    return a + b", None),  # the fixed code alone, told to keep the tests
}


def add_teacher(body: dict) -> str:
    """Right solutions with wrong tests (case "alone": wrong code with good tests); repaired per case: fixed,
    weakened, tests of a helper, or the code alone."""
    messages = body["messages"]
    case = next(c for c in REPAIRS if f"(case {c})" in messages[0]["content"])
    if _is_repair(body):
        solution, tests = REPAIRS[case]
        if tests is None:
            return f"Here is the fixed function:\n```python\n{solution}\n```\n"
    elif "### Tests" in messages[0]["content"] and case == "alone":
        solution, tests = "def add(a, b):\n    return a * b", "assert add(2, 3) == 5"
    elif "### Tests" in messages[0]["content"]:
        solution, tests = "def add(a, b):\n    return a + b", "assert add(2, 3) == 6"
    else:
        return f"{ADD}; both may be negative, and the result must be exact for values up to one million (case {case})."
    return f"### Solution\n```python\n{solution}\n```\n\n### Tests\n```python\n{tests}\n```\n"


@pytest.fixture(scope="module")
def add_seeds(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("seeds") / "seeds.jsonl"
    path.write_text("".join(json.dumps({"id": case, "instruction": f"{ADD} (case {case}).", "output": ""}) + "\n"
                            for case in REPAIRS))
    return path


@pytest.mark.parametrize("fix_tests", [False, True])
def test_a_repair_cannot_pass_by_weakening_the_tests(tmp_path, sandbox, add_seeds, fix_tests):
    result, requests = endpoint_run(tmp_path / "run", sandbox, f"seeds.path={add_seeds}",
                                    f"evolve.repair_tests={str(fix_tests).lower()}", "seeds.limit=null",
                                    "evolve.include_seeds_in_dataset=false", reply=add_teacher, samples=1)
    assert len(requests.repairs()) == len(REPAIRS)
    assert all((MAY_FIX_TESTS if fix_tests else KEEP_TESTS) in b["messages"][2]["content"] for b in requests.repairs())
    outcome = {row["task_id"]: (row["verdict"], row["reason"]) for row in rows(result.run_dir, "select")}
    repair_rows = {row["task_id"]: row for row in rows(result.run_dir, "repair")}
    if not fix_tests:  # held to the tests as written (add(2, 3) == 6): no repair passes them, but the code alone
        assert outcome == {**{c: ("dropped", "failed") for c in REPAIRS}, "alone": ("passed", "passed")}
        assert all(row["tests"] is None for row in repair_rows.values())
        (kept,) = dataset(result.run_dir)
        assert kept["tests"] == "assert add(2, 3) == 5\n" and "a + b" in kept["output"] and kept["repaired"]
        return
    assert outcome == {"fix": ("passed", "passed"), "weaken": ("dropped", "tests_cannot_fail"),
                       "helper": ("dropped", "failed"), "alone": ("dropped", "failed")}
    assert repair_rows["helper"]["drop"] == "tests_miss_the_task_function"
    assert repair_rows["alone"]["drop"] == "no_tests"  # allowed to change the tests, it must give them
    (kept,) = dataset(result.run_dir)
    assert kept["tests"].startswith("assert add(2, 3) == 5") and kept["repaired"] is True
    # the repaired tests ran against the sample's solution too (dual agreement), and the repaired solution
    # against the sample's tests
    pairs = {tuple(row["pair"]) for row in rows(result.run_dir, "exec") if row["task_id"] == "fix"}
    assert pairs == {(0, 0), (0, 1), (1, 0), (1, 1)}


# ------------------------------------------------------------------------------- infrastructure, resume

def test_an_infrastructure_error_on_a_repair_parks_the_task_and_the_rerun_asks_it_once(tmp_path, sandbox):
    reference, _ = endpoint_run(tmp_path / "reference", sandbox)
    broken = {"on": True}

    def faults(body: dict, attempt: int):
        return Fault.server_error(503) if broken["on"] and _is_repair(body) else None

    recorder = Recorder(sampled_teacher(0.5, MIX))
    out = tmp_path / "run"
    with FakeOpenAIServer(reply=recorder, faults=faults) as server:
        cfg = cfg_for(out, server.url, "llm.max_retries=0", "evolve.infra_retries=0")
        with pytest.raises(InfraErrorStop):
            run_evolve(cfg, sandbox=sandbox)
        failed = rows(out, "repair")
        assert failed and all(row["error"] for row in failed)
        parked = {row["task_id"] for row in failed}
        assert parked.isdisjoint(row["task_id"] for row in rows(out, "select"))  # no decision, not a drop
        assert parked.isdisjoint(row["parent_id"] for row in read_jsonl(out / "records.jsonl"))  # nor a record
        broken["on"] = False
        recorder.bodies.clear()
        run_evolve(cfg, sandbox=sandbox)
    assert len(recorder.repairs()) == len(parked)  # asked again once each; nothing else asked again
    assert all(_is_repair(b) for b in recorder.bodies)
    assert dataset(out) == dataset(reference.run_dir)
    done = [row["key"] for row in rows(out, "repair") if not row["error"]]
    assert sorted(done) == sorted(row["key"] for row in rows(reference.run_dir, "repair"))


RESUME_STATES = {  # what a kill left of each repaired task (its rows in later files dropped too)
    "decided": ("select",),
    "repair_answered": ("select", "exec_of_repair"),
    "repair_asked": ("select", "exec_of_repair", "repair"),
}


@pytest.mark.parametrize("state", RESUME_STATES)
def test_a_run_resumed_at_any_step_of_a_repair_ends_as_the_uninterrupted_one(tmp_path, sandbox, runs, state):
    reference = runs["on"][0].run_dir
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    for derived in ("records.jsonl", "pool/round_001.jsonl", "rounds", "dataset", "dataset.jsonl",
                    "dataset.done.json", "stats.json", "report.md"):
        path = out / derived
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    repaired = {row["task_id"] for row in rows(reference, "repair")}
    n = 2
    lost = RESUME_STATES[state]
    for name in ("select", "exec", "repair"):
        path = out / "raw" / "round_001" / f"{name}.jsonl"
        kept = [row for row in read_jsonl(path) if not (
            row["task_id"] in repaired and (name in lost or name == "exec" and "exec_of_repair" in lost
                                            and max(row["pair"]) >= n))]
        path.write_text("".join(json.dumps(row) + "\n" for row in kept))
    _, requests = endpoint_run(out, sandbox)
    assert len(requests.bodies) == (len(repaired) if state == "repair_asked" else 0)
    assert all(_is_repair(b) for b in requests.bodies)
    assert dataset(out) == dataset(reference)
    assert sorted(json.dumps(r, sort_keys=True) for r in read_jsonl(out / "records.jsonl")) == sorted(
        json.dumps(r, sort_keys=True) for r in read_jsonl(reference / "records.jsonl"))
    for name in ("repair", "exec", "select"):
        keys = [row["key"] for row in rows(out, name)]
        assert len(keys) == len(set(keys)) and sorted(keys) == sorted(r["key"] for r in rows(reference, name))


# ------------------------------------------------------------------------------- a local model

def test_a_local_model_repairs_between_its_batches_when_asked_to(tmp_path, sandbox):
    """A local model (one batch at a time; here the fake client in its place) gets no repair turn by default, and
    with `evolve.repair_turns=1` its repairs go out in the batches after the sandbox's verdicts."""
    overrides = [f"output.dir={tmp_path / 'default'}", "seeds.limit=12", "evolve.rounds=1", "evolve.solve_samples=2",
                 "dataset.decontaminate=false", "output.report=false"]
    assert load_config(EvolveConfig, None, overrides).evolve.repair_turns == 0
    client = FakeClient(sampled_teacher(1.0, MIX))  # fixes every wrong answer it is shown
    cfg = load_config(EvolveConfig, None, [*overrides, f"output.dir={tmp_path / 'run'}", "evolve.repair_turns=1"])
    result = run_evolve(cfg, client=client, sandbox=sandbox)
    repairs = [r for r in client.requests if r.messages is not None and OPENING in r.messages[-1]["content"]]
    stats = result.stats["rounds"][0]
    assert stats["repairs_asked"] == len(repairs) > 0 and stats["repairs_succeeded"] > 0
    assert all(r.n == 1 and len(r.messages) == 3 for r in repairs)
