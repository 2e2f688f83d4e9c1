"""`--output` is the run directory in every stage; no stage writes its run into another's run directory; and
a run directory a failed preflight left (no work in it) does not block the corrected command."""

from __future__ import annotations

import json

import pytest

from wizardcoder.cli import main
from wizardcoder.eval.problems import load_humaneval
from wizardcoder.runlock import check_placement, run_lock, stage_of
from wizardcoder.testing.fake_server import FakeOpenAIServer, body_text
from wizardcoder.testing.scripted_evolve import scripted_reply

SANDBOX = ["--sandbox", "local", "--no-progress"]


def _samples(tmp_path):
    problems = load_humaneval()[:2]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps({"task_id": p.task_id, "completion": p.canonical}) + "\n" for p in problems))
    return path


def _eval(samples, *args: str) -> int:
    return main(["eval", "humaneval", "--samples", str(samples), "--limit", "2", *SANDBOX, *args])


def _evolve(out, *args: str) -> int:
    return main(["evolve", "--limit", "2", "--rounds", "1", "--output", str(out), *SANDBOX, "llm.provider=fake",
                 "dataset.decontaminate=false", "output.report=false", "evolve.solve_samples=1", *args])


def test_eval_output_is_the_run_directory_itself(tmp_path, capsys):
    run = tmp_path / "my-eval"
    assert _eval(_samples(tmp_path), "--output", str(run)) == 0, capsys.readouterr().err
    assert (run / "metrics.json").is_file() and (run / "samples.jsonl").is_file() and stage_of(run) == "eval"
    assert str(run) in capsys.readouterr().out  # the summary's "run directory"
    # output_dir= is the parent of generated run directories, as --output was
    assert _eval(_samples(tmp_path), f"output_dir={tmp_path / 'runs'}") == 0
    (generated,) = (tmp_path / "runs").iterdir()
    assert generated.name.startswith("humaneval-") and (generated / "metrics.json").is_file()


def test_an_old_style_eval_output_holding_run_directories_says_what_changed(tmp_path, capsys):
    samples = _samples(tmp_path)
    assert _eval(samples, f"output_dir={tmp_path / 'runs'}") == 0
    (generated,) = (tmp_path / "runs").iterdir()
    capsys.readouterr()
    assert _eval(samples, "--output", str(tmp_path / "runs")) == 2
    err = capsys.readouterr().err
    assert f"output_dir={tmp_path / 'runs'}" in err and f"--output {generated}" in err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [generated.name]  # nothing written there


def test_eval_output_in_an_evolve_run_directory_is_refused(tmp_path, capsys):
    """It wrote there silently."""
    evolve_run = tmp_path / "evolve-run"
    assert _evolve(evolve_run) == 0, capsys.readouterr().err[-2000:]
    before = sorted(p.relative_to(evolve_run) for p in evolve_run.rglob("*"))
    capsys.readouterr()
    for output in (evolve_run, evolve_run / "humaneval"):
        assert _eval(_samples(tmp_path), "--output", str(output)) == 2
        err = capsys.readouterr().err
        assert "wizardcoder evolve` run" in err and "its own --output" in err
    assert _eval(_samples(tmp_path), f"output_dir={evolve_run}") == 2  # the old meaning: a run inside it
    assert sorted(p.relative_to(evolve_run) for p in evolve_run.rglob("*")) == before


@pytest.mark.parametrize("owner, stage", [("evolve", "train"), ("train", "eval"), ("eval", "evolve"),
                                          ("eval", "eval")])
def test_no_stage_writes_into_another_runs_directory(tmp_path, owner, stage):
    owned = tmp_path / "run"
    with run_lock(owned, owner):  # what marks a folder as a stage's run directory
        pass
    with pytest.raises(Exception, match=f"wizardcoder {owner}` run"):
        check_placement(owned / "sub" / "deeper", stage)
    if owner != stage:
        with pytest.raises(Exception, match="is the run directory of"):
            check_placement(owned, stage)
    else:
        check_placement(owned, stage)  # its own directory: a resume
    check_placement(tmp_path / "beside", stage)


def _reply(body):
    from wizardcoder.llm import Request

    return scripted_reply(Request.from_text(body_text(body)))


@pytest.mark.parametrize("stage", ["evolve", "eval"])
def test_a_run_directory_left_by_a_failed_preflight_takes_the_corrected_command(stage, tmp_path, capsys):
    """A wrong --model exits 2 at the preflight, after the run directory was made; the corrected command (another
    config, so another fingerprint) was then refused: "holds a run with a different config"."""
    out = tmp_path / "out"

    def command(model: str) -> list[str]:
        common = ["--base-url", server.url, "--model", model, *SANDBOX, "--output", str(out)]
        if stage == "eval":
            return ["eval", "humaneval", "--limit", "2", *common]
        return ["evolve", "--limit", "2", "--rounds", "1", *common, "dataset.decontaminate=false",
                "output.report=false", "evolve.solve_samples=1"]

    with FakeOpenAIServer(_reply if stage == "evolve" else (lambda body: "    return None\n"),
                          model="served-model") as server:
        assert main(command("typo-model")) == 2
        assert out.is_dir()  # left behind, holding no work
        capsys.readouterr()
        assert main(command("served-model")) == 0, capsys.readouterr().err[-3000:]
        assert server.requests > 0
        # once it holds work, another config is refused as before
        other = ["evolve.seed=7"] if stage == "evolve" else ["--temperature", "0.5"]
        assert main(command("served-model") + other) == 2
        assert "different config" in capsys.readouterr().err
