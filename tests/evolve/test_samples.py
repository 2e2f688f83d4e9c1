"""Several solve samples per task against a fake OpenAI server (real HTTP) whose answers are right only
for some sampling seeds: more samples keep more tasks, only right ones, with tests that can fail; a run
killed mid-sampling resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox import create_sandbox
from wizardcoder.config import load_config
from wizardcoder.data.store import read_jsonl
from wizardcoder.eliminate import EliminateConfig
from wizardcoder.eliminate.verify import ExecutionCheck, verify
from wizardcoder.errors import ConfigError
from wizardcoder.evolve import EvolveConfig, run_evolve
from wizardcoder.evolve.methods import request_seed
from wizardcoder.llm.base import Completion
from wizardcoder.testing.fake_llm import FakeClient
from wizardcoder.testing.fake_server import FakeOpenAIServer
from wizardcoder.testing.scripted_evolve import sampled_kind, sampled_reply

LIMIT = 12


@pytest.fixture(scope="module")
def sandbox():
    with create_sandbox("local") as sb:
        yield sb


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer(reply=sampled_reply) as srv:
        yield srv


def make_cfg(out: Path, *overrides: str) -> EvolveConfig:
    return load_config(EvolveConfig, None, [
        f"output.dir={out}", f"seeds.limit={LIMIT}", "evolve.rounds=1", "dataset.decontaminate=false",
        "output.report=false", *overrides])


def endpoint_run(out: Path, server, sandbox, samples: int, *overrides: str):
    cfg = make_cfg(out, f"llm.base_url={server.url}", "llm.model=fake-model", "llm.concurrency=8",
                   f"evolve.solve_samples={samples}", *overrides)
    return run_evolve(cfg, sandbox=sandbox)


def evolved_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "dataset.jsonl").read_text().splitlines()
            if json.loads(line)["round"] > 0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, server, sandbox):
    base = tmp_path_factory.mktemp("samples")
    one = endpoint_run(base / "n1", server, sandbox, 1)
    four = endpoint_run(base / "n4", server, sandbox, 4, "output.report=true")
    return base, one, four


def test_more_samples_keep_more_tasks(runs):
    base, one, four = runs
    kept_one, kept_four = one.stats["rounds"][0]["passed"], four.stats["rounds"][0]["passed"]
    assert one.stats["rounds"][0]["evolved"] == four.stats["rounds"][0]["evolved"]
    assert kept_one < kept_four, (kept_one, kept_four)
    s = four.stats["rounds"][0]
    assert s["samples"] == s["llm_calls"] - s["evolved"] - s["repairs_asked"] and s["samples"] % 4 == 0 and s["solve_samples"] == 4
    assert four.stats["totals"]["cost_per_kept_task"]["llm_tokens"] > 0
    report = (base / "n4" / "report.md").read_text()
    assert "Pass rate of the chosen tests" in report and "yield" in report


def test_kept_rows_are_right_and_carry_their_pass_rate(runs):
    base, _, _ = runs
    for name, samples in (("n1", 1), ("n4", 4)):
        rows = evolved_rows(base / name)
        assert rows
        for row in rows:
            assert "return sorted(values)" in row["output"], row  # never a buggy solution
            assert row["n_candidates"] == samples
            seeds = [request_seed(0, f"r001/{row['parent_id']}/solve/{i}") for i in range(samples)]
            right = sum(sampled_kind(row["instruction"], seed) in ("right", "wrong_tests") for seed in seeds)
            assert row["pass_rate"] == right / samples


def test_the_chosen_tests_can_fail(runs, sandbox):
    base, _, _ = runs
    rows = evolved_rows(base / "n4")
    checks = []
    for row in rows:
        name = row["tests"].split("(")[0].replace("assert", "").strip()
        for k, body in enumerate(("return list(values)", "return None")):
            checks.append(ExecutionCheck(f"{row['id']}/{k}", "python", f"def {name}(values):\n    {body}\n",
                                         row["tests"], name))
    verdicts = list(verify(sandbox, checks, EliminateConfig(mutation_check=[])))
    assert verdicts and not any(v.ok for v in verdicts), [v for v in verdicts if v.ok]


def test_the_pass_rate_window_drops_too_hard_and_too_easy_tasks(tmp_path, server, sandbox, runs):
    _, _, four = runs
    result = endpoint_run(tmp_path / "window", server, sandbox, 4, "evolve.min_pass_rate=0.5",
                          "evolve.max_pass_rate=0.9")
    s = result.stats["rounds"][0]
    rows = evolved_rows(tmp_path / "window")
    assert all(0.5 <= row["pass_rate"] <= 0.9 for row in rows)
    dropped = s["dropped"].get("too_hard", 0) + s["dropped"].get("too_easy", 0)
    assert dropped > 0 and s["passed"] + dropped == four.stats["rounds"][0]["passed"]


class DyingScript:
    """The sampled model (seeded per sample), dying after some calls (as a killed process would)."""

    def __init__(self, die_after: int | None = None):
        self.calls, self.die_after, self.keys = 0, die_after, []

    def __call__(self, request):
        if self.die_after is not None and self.calls >= self.die_after:
            raise RuntimeError("the process died here")
        self.calls += 1
        return sampled_reply(request)


def test_a_run_killed_mid_sampling_resumes_exactly(tmp_path, sandbox):
    reference = DyingScript()
    run_evolve(make_cfg(tmp_path / "ref", "evolve.solve_samples=4"), client=FakeClient(reference), sandbox=sandbox)
    first = DyingScript(die_after=LIMIT + 9)  # all evolutions, then partway through the samples
    with pytest.raises(RuntimeError, match="died"):
        run_evolve(make_cfg(tmp_path / "run", "evolve.solve_samples=4"), client=FakeClient(first), sandbox=sandbox)
    solved = list(read_jsonl(tmp_path / "run/raw/round_001/solve.jsonl"))
    assert 0 < len(solved) < 4 * LIMIT
    second = DyingScript()
    run_evolve(make_cfg(tmp_path / "run", "evolve.solve_samples=4"), client=FakeClient(second), sandbox=sandbox)
    assert first.calls + second.calls == reference.calls  # no answer asked twice
    assert (tmp_path / "run/dataset.jsonl").read_bytes() == (tmp_path / "ref/dataset.jsonl").read_bytes()
    keys = [row["key"] for row in read_jsonl(tmp_path / "run/raw/round_001/exec.jsonl")]
    assert len(keys) == len(set(keys))


def test_a_run_killed_between_twin_verdicts_runs_no_program_again(tmp_path, sandbox):
    """Identical (solution, tests) programs run once and their twins' rows are written after; killed in
    between, the resumed run takes the twins' verdict from the row on file instead of running it again."""
    import shutil

    run_evolve(make_cfg(tmp_path / "ref", "evolve.solve_samples=4"), client=FakeClient(DyingScript()),
               sandbox=sandbox)
    ref = tmp_path / "ref"
    rows = (ref / "raw/round_001/exec.jsonl").read_bytes().splitlines(keepends=True)
    twin = next(n for n, line in enumerate(rows) if n and json.loads(line)["duration"] == 0.0
                and json.loads(rows[n - 1])["task_id"] == json.loads(line)["task_id"])
    run = tmp_path / "run"
    shutil.copytree(ref, run)
    (run / "raw/round_001/exec.jsonl").write_bytes(b"".join(rows[:twin] + rows[twin + 1:]))  # the twin's row lost
    for name in ("raw/round_001/select.jsonl", "rounds/round_001.done.json", "pool/round_001.jsonl",
                 "records.jsonl", "dataset.done.json", "dataset.jsonl", "stats.json"):
        (run / name).unlink(missing_ok=True)
    shutil.rmtree(run / "dataset", ignore_errors=True)
    ran: list[str] = []

    class Counting:
        def run_many(self, jobs, **kwargs):
            jobs = list(jobs)
            ran.extend(job.program for job in jobs)
            return sandbox.run_many(jobs, **kwargs)

        def __getattr__(self, name):
            return getattr(sandbox, name)

    run_evolve(make_cfg(run, "evolve.solve_samples=4"), client=FakeClient(DyingScript()), sandbox=Counting())
    assert (run / "dataset.jsonl").read_bytes() == (ref / "dataset.jsonl").read_bytes()
    resumed = {row["key"]: row for row in read_jsonl(run / "raw/round_001/exec.jsonl")}
    assert resumed[json.loads(rows[twin])["key"]]["duration"] == 0.0
    assert ran == []  # the twin's program ran before the kill: its verdict is on file


def test_a_reply_cut_by_the_token_limit_is_salvaged(tmp_path, sandbox):
    def cut(request):
        reply = sampled_reply(request)
        if "### Tests" not in reply or "Solve this" not in str(request.messages):
            return reply
        # the right answer, its test block cut mid-assert as max_tokens would
        name = reply.split("def ", 1)[1].split("(", 1)[0]
        text = (f"### Solution\n```python\ndef {name}(values):\n    return sorted(values)\n```\n\n### Tests\n"
                f"```python\nassert {name}([3, 1, 2]) == [1, 2, 3]\nassert {name}([2, 1]) == [1,")
        return Completion((text,), ("length",), 10, 10)

    result = run_evolve(make_cfg(tmp_path / "run", "evolve.solve_samples=1"), client=FakeClient(cut), sandbox=sandbox)
    s = result.stats["rounds"][0]
    assert s["salvaged"] == s["samples"] > 0 and s["passed"] == s["samples_parsed"] > 0
    assert all(row["tests"].endswith("== [1, 2, 3]\n") for row in evolved_rows(tmp_path / "run"))


def test_an_evolution_cut_by_the_token_limit_is_dropped_as_truncated(tmp_path, sandbox):
    """A rewrite that hit max_tokens ends mid-requirement: never solved, never kept; its parent goes on."""
    def cut(request):
        reply = sampled_reply(request)
        if "Solve this" in str(request.messages) or "### Tests" in reply:
            return reply
        return Completion((reply,), ("length",), 10, 10)

    result = run_evolve(make_cfg(tmp_path / "run", "evolve.solve_samples=1"), client=FakeClient(cut), sandbox=sandbox)
    s = result.stats["rounds"][0]
    assert s["dropped"].get("truncated") == s["evolved"] == LIMIT and s["passed"] == 0
    assert not (tmp_path / "run/raw/round_001/solve.jsonl").exists() or not list(
        read_jsonl(tmp_path / "run/raw/round_001/solve.jsonl"))
    assert evolved_rows(tmp_path / "run") == []


def test_an_evolution_cut_inside_a_leaked_solution_keeps_its_complete_task(tmp_path, sandbox):
    """The model wrote the task, then began solving it and hit max_tokens there: the task itself is whole."""
    def cut(request):
        reply = sampled_reply(request)
        if "Solve this" in str(request.messages) or "### Tests" in reply:
            return reply
        return Completion((reply + "\n\nHere is a possible solution:\n```python\ndef f(x):\n    return [",),
                          ("length",), 10, 10)

    whole = run_evolve(make_cfg(tmp_path / "whole", "evolve.solve_samples=1"), client=FakeClient(sampled_reply),
                       sandbox=sandbox)
    result = run_evolve(make_cfg(tmp_path / "run", "evolve.solve_samples=1"), client=FakeClient(cut), sandbox=sandbox)
    assert "truncated" not in result.stats["rounds"][0]["dropped"]
    assert result.stats["rounds"][0]["passed"] == whole.stats["rounds"][0]["passed"] > 0
    assert all("possible solution" not in row["instruction"] for row in evolved_rows(tmp_path / "run"))


def test_token_limits_default_by_model():
    """Unset limits are short for a local model and fit a real teacher's task behind an endpoint."""
    local = make_cfg(Path("unused"))
    endpoint = make_cfg(Path("unused"), "llm.base_url=http://127.0.0.1:1/v1", "llm.model=m")
    java = make_cfg(Path("unused"), "llm.base_url=http://127.0.0.1:1/v1", "llm.model=m", "evolve.lang=java")
    pinned = make_cfg(Path("unused"), "llm.base_url=http://127.0.0.1:1/v1", "evolve.evolve_max_tokens=64")
    assert (local.evolve.evolve_max_tokens, local.evolve.solve_max_tokens) == (128, 320)
    assert (endpoint.evolve.evolve_max_tokens, endpoint.evolve.solve_max_tokens) == (512, 1024)
    assert java.evolve.solve_max_tokens == 1536 and pinned.evolve.evolve_max_tokens == 64
    with pytest.raises(ConfigError, match="evolve.evolve_max_tokens must be an integer >= 1"):
        make_cfg(Path("unused"), "evolve.evolve_max_tokens=0")


def test_one_stream_through_every_step_with_the_judge(tmp_path, server, sandbox, runs):
    """Against an endpoint one stream sends every step's requests (evolve -> judge -> solve): the same outcome."""
    _, _, four = runs
    result = endpoint_run(tmp_path / "judged", server, sandbox, 4, "evolve.judge=true")
    s, before = result.stats["rounds"][0], four.stats["rounds"][0]
    judged = list(read_jsonl(tmp_path / "judged/raw/round_001/judge.jsonl"))
    assert len(judged) == s["evolved"] - sum(before["dropped"].get(r, 0) for r in ("refusal", "copied_parent",
                                                                                   "too_short", "punctuation_only"))
    assert s["passed"] == before["passed"] and s["llm_calls"] == before["llm_calls"] + len(judged)


def test_a_task_whose_programs_span_sandbox_batches_is_selected_once_all_are_in(tmp_path, server, sandbox, runs):
    """Batches of 3 programs: a task's 16 come back in pieces, before its last ones are even made."""
    base, _, four = runs
    result = endpoint_run(tmp_path / "small_batches", server, sandbox, 4, "eliminate.chunk_size=3")
    assert result.stats["rounds"][0]["passed"] == four.stats["rounds"][0]["passed"]
    assert (tmp_path / "small_batches/dataset.jsonl").read_bytes() == (base / "n4/dataset.jsonl").read_bytes()
    keys = [row["key"] for row in read_jsonl(tmp_path / "small_batches/raw/round_001/exec.jsonl")]
    assert len(keys) == len(set(keys))
