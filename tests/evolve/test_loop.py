"""The evolve loop end to end: scripted model (FakeClient) + the real local sandbox.

Covers lineage, "a failed evolution keeps its parent", resume (completed calls are read back, a
finalize cut short is undone), infrastructure errors (never drops), the judge, and C++ / Java runs.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from sandbox import Result, Status, create_sandbox
from wizardcoder.config import load_config
from wizardcoder.data.store import read_jsonl
from wizardcoder.errors import UserError
from wizardcoder.evolve import EvolveConfig, run_evolve
from wizardcoder.evolve.rounds import InfraErrorStop
from wizardcoder.llm.base import Completion, request_text
from wizardcoder.testing.fake_llm import FakeClient
from wizardcoder.testing.scripted_evolve import scripted_reply


@pytest.fixture(scope="module")
def sandbox():
    with create_sandbox("local") as sb:
        yield sb


def make_cfg(out: Path, *overrides: str, limit: int = 10, rounds: int = 2) -> EvolveConfig:
    return load_config(EvolveConfig, None, [
        f"output.dir={out}", f"seeds.limit={limit}", f"evolve.rounds={rounds}", "dataset.decontaminate=false",
        "output.report=false", "evolve.solve_samples=1", *overrides])  # several samples: test_samples.py


def rows(path: Path) -> list[dict]:
    return list(read_jsonl(path))


def dataset_lines(run_dir: Path) -> list[str]:
    return (run_dir / "dataset.jsonl").read_text().splitlines()


class Counting:
    """The scripted model, counting the calls it answers (and optionally failing or dying on some)."""

    def __init__(self, fail=None, die_after: int | None = None):
        self.calls = 0
        self.fail = fail
        self.die_after = die_after

    def __call__(self, request):
        if self.die_after is not None and self.calls >= self.die_after:
            raise RuntimeError("the process died here")
        self.calls += 1
        if self.fail is not None and self.fail(request):
            return Completion.failed("HTTP 503 after 6 retries")
        return scripted_reply(request)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, sandbox):
    """An uninterrupted run the resume tests compare against."""
    out = tmp_path_factory.mktemp("reference") / "run"
    script = Counting()
    result = run_evolve(make_cfg(out, "output.report=true"), client=FakeClient(script), sandbox=sandbox)
    return out, result, script.calls


def test_a_full_run_writes_everything(reference):
    out, result, calls = reference
    for name in ("config.yaml", "records.jsonl", "raw/round_001/exec.jsonl", "dataset.jsonl", "stats.json", "report.md",
                 "plots/instruction_length.png", "plots/drop_reasons.png", "raw/round_001/evolve.jsonl",
                 "raw/round_002/solve.jsonl", "pool/round_002.jsonl", "dataset/dataset_info.json"):
        assert (out / name).is_file(), name
    stats = json.loads((out / "stats.json").read_text())
    assert stats == result.stats
    records = rows(out / "records.jsonl")
    for r in (1, 2):
        s = stats["rounds"][r - 1]
        of_round = [rec for rec in records if rec["round"] == r]
        assert len(of_round) == s["pool"] == 10  # one outcome per task of the pool
        assert s["passed"] + sum(s["dropped"].values()) + s["infra_error"] == s["pool"]
        assert s["passed"] == sum(rec["verdict"] == "passed" for rec in of_round) > 0
        assert sum(s["dropped"].values()) > 0
    assert stats["totals"]["llm_calls"] == calls  # every call answered is on file, none asked twice
    raw = [row for r in (1, 2) for step in ("evolve", "solve") for row in rows(out / f"raw/round_{r:03d}/{step}.jsonl")]
    assert len(raw) == calls and len({row["key"] for row in raw}) == calls
    report = (out / "report.md").read_text()
    assert "plots/instruction_length.png" in report and "| 2 |" in report


def test_lineage_and_a_failed_evolution_keeps_its_parent(reference):
    out, _, _ = reference
    seeds = {row["id"]: row for row in rows(out / "pool/round_000.jsonl")}
    pools = {r: {row["seed_id"]: row for row in rows(out / f"pool/round_{r:03d}.jsonl")} for r in (0, 1, 2)}
    records = rows(out / "records.jsonl")
    assert {rec["seed_id"] for rec in records} == set(seeds)
    selected = {v["key"]: v for r in (1, 2) for v in rows(out / f"raw/round_{r:03d}/select.jsonl")}
    for rec in records:
        parent = pools[rec["round"] - 1][rec["seed_id"]]
        assert rec["parent_id"] == parent["id"]  # evolved from what was in the pool then
        assert rec["id"] == f"{rec['seed_id']}.r{rec['round']}" and rec["method"]
        now = pools[rec["round"]][rec["seed_id"]]
        if rec["verdict"] == "passed":
            assert now == rec  # the survivor replaced its parent
            chosen = selected[f"r{rec['round']:03d}/{parent['id']}/select"]
            assert chosen["verdict"] == chosen["reason"] == "passed" and chosen["solution"] == rec["solution"]
            assert rec["pass_rate"] == 1.0 and rec["n_candidates"] == 1  # one sample, and it passed
        else:
            assert rec["verdict"] == "dropped" and rec["reason"]
            assert now == parent  # the parent stays for the next round
    kept_parent = [rec for rec in records if rec["round"] == 2 and rec["parent_id"] in seeds]
    assert kept_parent, "some task failed round 1 and was evolved again from its seed in round 2"


def test_the_dataset(reference):
    out, result, _ = reference
    from datasets import load_from_disk

    lines = [json.loads(line) for line in dataset_lines(out)]
    passed = [rec for rec in rows(out / "records.jsonl") if rec["verdict"] == "passed"]
    assert result.dataset["rows"] == len(lines) == 10 + len(passed) - result.dataset["dropped"].get("near_duplicate", 0)
    assert [(row["seed_id"], row["round"]) for row in lines] == sorted((row["seed_id"], row["round"]) for row in lines)
    for row in lines:
        assert row["output"].startswith("```python\n") and row["output"].endswith("\n```")
        assert row["method"] == ("seed" if row["round"] == 0 else row["method"])
    ds = load_from_disk(str(out / "dataset"))
    assert ds.num_rows == len(lines) and {"instruction", "output", "seed_id", "round", "parent_id"} <= set(ds.column_names)


def test_a_finished_run_reruns_without_asking_anything(reference, sandbox):
    out, result, _ = reference
    copy = out.parent / "copy"
    shutil.copytree(out, copy)

    def never(request):
        raise AssertionError("a finished run must not call the model")

    again = run_evolve(make_cfg(copy, "output.report=true"), client=FakeClient(never), sandbox=sandbox)
    assert dataset_lines(copy) == dataset_lines(out)
    assert again.stats["totals"] == result.stats["totals"]


def test_resume_reads_completed_calls_back(reference, tmp_path, sandbox):
    out, _, total_calls = reference
    run_dir = tmp_path / "run"
    first = Counting(die_after=13)  # dies in round 1's solve step
    with pytest.raises(RuntimeError, match="died"):
        run_evolve(make_cfg(run_dir), client=FakeClient(first), sandbox=sandbox)
    assert not (run_dir / "rounds/round_001.done.json").exists()
    second = Counting()
    run_evolve(make_cfg(run_dir), client=FakeClient(second), sandbox=sandbox)
    assert first.calls + second.calls == total_calls  # nothing asked twice
    assert dataset_lines(run_dir) == dataset_lines(out)
    assert sorted(rows(run_dir / "records.jsonl"), key=str) == sorted(rows(out / "records.jsonl"), key=str)


def test_a_finalize_cut_short_is_undone(reference, tmp_path, sandbox):
    out, _, _ = reference
    run_dir = tmp_path / "run"
    shutil.copytree(out, run_dir)
    data = (run_dir / "records.jsonl").read_bytes()
    lines = data.splitlines(keepends=True)
    start = sum(len(line) for line in lines if json.loads(line)["round"] == 1)
    # as if killed while writing round 2's records: marker written, some records appended, one torn
    (run_dir / "rounds/round_002.finalizing.json").write_text(json.dumps({"records_offset": start}))
    (run_dir / "rounds/round_002.done.json").unlink()
    (run_dir / "pool/round_002.jsonl").unlink()
    (run_dir / "dataset.done.json").unlink()
    (run_dir / "records.jsonl").write_bytes(data[: start + 300])

    def never(request):
        raise AssertionError("round 2's calls are all on file")

    run_evolve(make_cfg(run_dir), client=FakeClient(never), sandbox=sandbox)
    assert (run_dir / "records.jsonl").read_bytes() == data
    assert dataset_lines(run_dir) == dataset_lines(out)
    assert not (run_dir / "rounds/round_002.finalizing.json").exists()


def test_a_dataset_build_killed_midway_leaves_no_stale_done_marker(reference, tmp_path, sandbox, monkeypatch):
    """A rebuild (here for fewer rounds) replaces dataset.jsonl before it is done; killed there, the next run
    must rebuild instead of trusting the marker of the build before."""
    from wizardcoder.data import dataset_writer as dataset_module

    out, _, _ = reference
    run_dir = tmp_path / "run"
    shutil.copytree(out, run_dir)
    real = dataset_module.write_dataset

    def killed(rows, out_dir):
        (Path(out_dir) / "dataset.jsonl").write_text('{"half": "written"}\n')
        raise KeyboardInterrupt  # as if killed mid-write

    monkeypatch.setattr(dataset_module, "write_dataset", killed)
    with pytest.raises(KeyboardInterrupt):
        run_evolve(make_cfg(run_dir, rounds=1), client=FakeClient(Counting()), sandbox=sandbox)
    monkeypatch.setattr(dataset_module, "write_dataset", real)
    run_evolve(make_cfg(run_dir), client=FakeClient(Counting()), sandbox=sandbox)
    assert dataset_lines(run_dir) == dataset_lines(out)


EVOLVE_PROMPT = "Reply with the new task only"  # in both evolve prompts (in-depth, in-breadth)


def _fails_for(task_fragment: str, step_marker: str):
    def fail(request) -> bool:
        text = request_text(request)
        return step_marker in text and task_fragment in text
    return fail


def test_llm_infrastructure_errors_stop_the_run_then_resume(reference, tmp_path, sandbox):
    out, _, _ = reference
    first_seed = next(read_jsonl(out / "pool/round_000.jsonl"))
    fragment = first_seed["instruction"][:60]
    run_dir = tmp_path / "run"
    broken = Counting(fail=_fails_for(fragment, EVOLVE_PROMPT))
    with pytest.raises(InfraErrorStop, match="run the same command again"):
        run_evolve(make_cfg(run_dir, "evolve.infra_retries=1"), client=FakeClient(broken), sandbox=sandbox)
    evolve_rows = rows(run_dir / "raw/round_001/evolve.jsonl")
    assert sum(1 for row in evolve_rows if row["error"]) == 2  # tried, retried once, both on file
    assert not (run_dir / "rounds/round_001.done.json").exists()
    run_evolve(make_cfg(run_dir), client=FakeClient(Counting()), sandbox=sandbox)
    assert dataset_lines(run_dir) == dataset_lines(out)


def test_keep_parent_counts_infra_errors_apart_from_drops(reference, tmp_path, sandbox):
    out, _, _ = reference
    first_seed = next(read_jsonl(out / "pool/round_000.jsonl"))
    broken = Counting(fail=_fails_for(first_seed["instruction"][:60], EVOLVE_PROMPT))
    result = run_evolve(make_cfg(tmp_path / "run", "evolve.on_infra_error=keep_parent", rounds=1),
                        client=FakeClient(broken), sandbox=sandbox)
    s = result.stats["rounds"][0]
    assert s["infra_error"] == 1 and "infra_error" not in s["dropped"]
    assert s["passed"] + sum(s["dropped"].values()) + s["infra_error"] == s["pool"]
    rec = next(r for r in rows(tmp_path / "run/records.jsonl") if r["seed_id"] == first_seed["id"])
    assert (rec["verdict"], rec["reason"]) == ("infra_error", "infra_error")
    pool = {row["seed_id"]: row for row in rows(tmp_path / "run/pool/round_001.jsonl")}
    assert pool[first_seed["id"]] == first_seed


class FlakySandbox:
    """The local sandbox, except that programs holding `marker` come back as a sandbox ERROR."""

    def __init__(self, inner, marker: str):
        self.inner, self.marker, self.broken = inner, marker, 0

    def _fix(self, job, result):
        if self.marker in job.program:
            self.broken += 1
            return Result(Status.ERROR, None, "", "worker lost", 0.0, "worker lost")
        return result

    def run(self, job):
        return self._fix(job, self.inner.run(job))

    def run_many(self, jobs, progress=None):
        jobs = list(jobs)
        return [self._fix(job, result) for job, result in zip(jobs, self.inner.run_many(jobs, progress))]

    def close(self):
        pass


def test_sandbox_errors_are_not_failed_samples(reference, tmp_path, sandbox):
    out, _, _ = reference
    passed = next(rec for rec in rows(out / "records.jsonl") if rec["verdict"] == "passed" and rec["round"] == 1)
    marker = passed["solution"].split("(")[0]  # the function name of one passing solution
    flaky = FlakySandbox(sandbox, marker)
    run_dir = tmp_path / "run"
    with pytest.raises(InfraErrorStop):
        run_evolve(make_cfg(run_dir), client=FakeClient(Counting()), sandbox=flaky)
    assert flaky.broken >= 2  # tried and retried
    errors = [v for v in rows(run_dir / "raw/round_001/exec.jsonl") if v["reason"] == "infra_error"]
    assert errors and all(not v["ok"] for v in errors)
    run_evolve(make_cfg(run_dir), client=FakeClient(Counting()), sandbox=sandbox)
    assert dataset_lines(run_dir) == dataset_lines(out)
    assert not any(rec["reason"] == "infra_error" for rec in rows(run_dir / "records.jsonl"))


def test_more_rounds_extend_a_run(reference, tmp_path, sandbox):
    out, _, _ = reference
    run_dir = tmp_path / "run"
    one = Counting()
    run_evolve(make_cfg(run_dir, rounds=1), client=FakeClient(one), sandbox=sandbox)
    two = Counting()
    result = run_evolve(make_cfg(run_dir, rounds=2), client=FakeClient(two), sandbox=sandbox)
    assert one.calls + two.calls == reference[2] and len(result.stats["rounds"]) == 2
    assert dataset_lines(run_dir) == dataset_lines(out)


def test_another_config_in_the_same_directory_is_refused(reference, tmp_path, sandbox):
    run_dir = tmp_path / "run"
    run_evolve(make_cfg(run_dir, rounds=0, limit=2), client=FakeClient(Counting()), sandbox=sandbox)
    with pytest.raises(UserError, match="different config"):
        run_evolve(make_cfg(run_dir, "evolve.seed=1", rounds=0, limit=2), client=FakeClient(Counting()),
                   sandbox=sandbox)


def test_the_judge_drops_evolutions_without_information_gain(tmp_path, sandbox):
    def reply(request):
        text = request_text(request)
        if "Second instruction" in text:  # the judge: equal for in-breadth tasks, by script
            return "Equal" if "rarer variant" in text else "Not Equal"
        return scripted_reply(request)

    result = run_evolve(make_cfg(tmp_path / "run", "evolve.judge=true", rounds=1, limit=12),
                        client=FakeClient(reply), sandbox=sandbox)
    s = result.stats["rounds"][0]
    judged = rows(tmp_path / "run/raw/round_001/judge.jsonl")
    assert judged and s["dropped"].get("no_information_gain", 0) == sum("rarer variant" in r["instruction"] for r in judged)
    assert s["dropped"]["no_information_gain"] > 0
    equal = {r["task_id"] for r in judged if "rarer variant" in r["instruction"]}
    assert equal and not equal & {r["task_id"] for r in rows(tmp_path / "run/raw/round_001/solve.jsonl")}


@pytest.mark.parametrize("lang", ["cpp", "java"])
def test_other_languages(lang, tmp_path, sandbox):
    if shutil.which("g++" if lang == "cpp" else "javac") is None:
        pytest.skip(f"no {lang} toolchain for the local sandbox")
    result = run_evolve(make_cfg(tmp_path / "run", f"evolve.lang={lang}", rounds=1, limit=6),
                        client=FakeClient(scripted_reply), sandbox=sandbox)
    s = result.stats["rounds"][0]
    assert s["passed"] > 0, s
    lines = [json.loads(line) for line in dataset_lines(tmp_path / "run")]
    evolved = [row for row in lines if row["round"] == 1]
    assert evolved and all(row["language"] == lang and row["output"].startswith(f"```{lang}\n") for row in evolved)
    reasons = Counter(v["reason"] for v in rows(tmp_path / "run/raw/round_001/exec.jsonl"))
    assert set(reasons) <= {"passed", "failed"}, reasons  # the scripted programs compile


class RecordingBar:
    def __init__(self, description, total):
        self.description, self.total, self.done, self.closed = description, total, 0, False

    def advance(self, n=1):
        self.done += n

    def close(self):
        self.closed = True


class RecordingProgress:
    def __init__(self):
        self.bars: list[RecordingBar] = []

    def __call__(self, description, total):
        self.bars.append(RecordingBar(description, total))
        return self.bars[-1]


def test_progress_bars_cover_every_long_step(tmp_path, sandbox):
    progress = RecordingProgress()
    result = run_evolve(make_cfg(tmp_path / "run", "evolve.judge=true", rounds=1, limit=6),
                        client=FakeClient(scripted_reply), sandbox=sandbox, progress=progress)
    bars = {bar.description: (bar.total, bar.done, bar.closed) for bar in progress.bars}
    assert list(bars) == ["loading seeds", "round 1: evolve", "round 1: judge", "round 1: solve", "round 1: execute",
                          "building the dataset"]
    assert all(closed for _, _, closed in bars.values())
    assert bars["round 1: evolve"][:2] == (6, 6)
    assert bars["round 1: solve"][1] == len(rows(tmp_path / "run/raw/round_001/solve.jsonl"))  # open-ended
    assert bars["round 1: execute"][1] == len(rows(tmp_path / "run/raw/round_001/select.jsonl"))
    assert result.stats["rounds"][0]["executed"] > 0


@pytest.mark.docker
def test_the_docker_sandbox_gives_the_same_verdicts(tmp_path, sandbox):
    from wizardcoder.execution import open_sandbox
    from wizardcoder.execution.config import SandboxConfig

    local = run_evolve(make_cfg(tmp_path / "local", rounds=1, limit=6), client=FakeClient(scripted_reply),
                       sandbox=sandbox)
    with open_sandbox(SandboxConfig(backend="docker")) as docker:
        in_docker = run_evolve(make_cfg(tmp_path / "docker", rounds=1, limit=6), client=FakeClient(scripted_reply),
                               sandbox=docker)
    assert in_docker.stats["rounds"][0]["passed"] == local.stats["rounds"][0]["passed"] > 0
    assert dataset_lines(tmp_path / "docker") == dataset_lines(tmp_path / "local")
    got = {v["key"]: v["reason"] for v in rows(tmp_path / "docker/raw/round_001/exec.jsonl")}
    assert got == {v["key"]: v["reason"] for v in rows(tmp_path / "local/raw/round_001/exec.jsonl")}
