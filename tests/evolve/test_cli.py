"""The `wizardcoder evolve` command: config strictness, shipped configs, and THE CRASH TEST: kill -9
the CLI at random points, rerun the same command each time, and get the dataset of an uninterrupted run (repair
turns included; tests/evolve/test_repair.py resumes at each step of a repair deterministically)."""

from __future__ import annotations

import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wizardcoder.cli import build_parser, main
from wizardcoder.config import load_config, to_dict
from wizardcoder.data.store import read_jsonl
from wizardcoder.evolve.command import config_from_args, truncation_hint
from wizardcoder.evolve.config import EvolveConfig, run_fingerprint

REPO = Path(__file__).resolve().parents[2]
EVOLVE_CONFIGS = sorted(p for p in (REPO / "configs").rglob("*.yaml") if "evolve" in p.name)


def test_a_typo_exits_2_with_a_did_you_mean(capsys, tmp_path):
    assert main(["evolve", "--output", str(tmp_path / "x"), "evolve.rouds=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown key evolve.rouds" in err and "did you mean evolve.rounds" in err
    assert not (tmp_path / "x").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("evolve:\n  lang: python\nseeds:\n  limt: 3\n")
    assert main(["evolve", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "did you mean seeds.limit" in err


def test_bad_values_exit_2(capsys):
    assert main(["evolve", "evolve.methods.add_constrains=2"]) == 2
    assert "did you mean add_constraints" in capsys.readouterr().err
    assert main(["evolve", "--limit", "many"]) == 2
    assert "--limit" in capsys.readouterr().err


def test_every_shipped_evolve_config_loads_and_its_header_is_its_command(monkeypatch):
    assert {p.name for p in EVOLVE_CONFIGS} >= {"evolve_python.yaml", "evolve_cpp.yaml", "evolve_java.yaml"}
    monkeypatch.chdir(REPO)
    for path in EVOLVE_CONFIGS:
        cfg = load_config(EvolveConfig, path)
        header = path.read_text().splitlines()[0]
        assert header.startswith("# wizardcoder evolve "), path
        args = build_parser().parse_args(shlex.split(header[2:])[1:])
        assert to_dict(config_from_args(args)) == to_dict(cfg), path
        assert cfg.evolve.lang in path.name


def test_the_python_config_is_the_readme_command():
    """`wizardcoder evolve --lang python` and configs/evolve_python.yaml are the same run (same directory)."""
    args = build_parser().parse_args(["evolve", "--lang", "python"])
    plain = config_from_args(args)
    shipped = load_config(EvolveConfig, REPO / "configs" / "evolve_python.yaml")
    assert to_dict(plain) == to_dict(shipped)
    assert run_fingerprint(plain) == run_fingerprint(shipped)
    assert plain.seeds.limit == 8 and plain.evolve.rounds == 2  # small enough for the embedded model


def test_flags_map_onto_the_config(tmp_path):
    args = build_parser().parse_args([
        "evolve", "--lang", "cpp", "--seeds", "data/my seeds.jsonl", "--rounds", "3", "--limit", "all",
        "--output", str(tmp_path), "--sandbox", "local", "--base-url", "http://localhost:8000/v1", "--model", "m",
        "evolve.rounds=4"])
    cfg = config_from_args(args)
    assert (cfg.evolve.lang, cfg.seeds.path, cfg.seeds.limit, cfg.output.dir, cfg.sandbox.backend) == (
        "cpp", "data/my seeds.jsonl", None, str(tmp_path), "local")
    assert (cfg.llm.base_url, cfg.llm.model, cfg.evolve.rounds) == ("http://localhost:8000/v1", "m", 4)


# ---------------------------------------------------------------------------------------------- crash test

def _command(out: Path) -> list[str]:
    return [sys.executable, "-m", "wizardcoder.testing", "evolve", "--lang", "python", "--limit", "12", "--rounds", "3",
            "--sandbox", "local", "--output", str(out), "--no-progress", "llm.provider=fake",
            "dataset.decontaminate=false", "evolve.solve_samples=2"]  # kills land mid-sampling too


def _env() -> dict[str, str]:
    return {**os.environ, "WIZARDCODER_FAKE_DELAY": "0.02", "PYTHONPATH": str(REPO)}


def _finish(out: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(_command(out), env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _bytes_written(run_dir: Path) -> int:
    return sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file()) if run_dir.exists() else 0


def _keys(path: Path) -> list[str]:
    return [row["key"] for row in read_jsonl(path)]


def test_kill_9_at_random_points_then_resume_gives_the_uninterrupted_dataset(tmp_path):
    reference = tmp_path / "reference"
    started = time.monotonic()
    proc = _finish(reference)
    ref_seconds = time.monotonic() - started
    assert "wizardcoder evolve (python)" in proc.stdout and "dataset:" in proc.stdout  # the summary table
    # the fake model's wrong tests get repair turns (its default, as behind an endpoint), some kept by them
    repairs = [row for raw in reference.glob("raw/round_*/repair.jsonl") for row in read_jsonl(raw)]
    assert repairs and any(row.get("repaired") for row in read_jsonl(reference / "records.jsonl"))

    crashed = tmp_path / "crashed"
    rng = random.Random(20261124)
    landed = 0  # kills that hit a run which had written something since it started
    for _ in range(10):
        before = _bytes_written(crashed)
        proc = subprocess.Popen(_command(crashed), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.15, 0.45) * ref_seconds)
        if proc.poll() is not None:
            break  # it finished on its own
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        landed += _bytes_written(crashed) > before
    print(f"{landed} kill(s) landed mid-work")
    assert landed >= 2, "the kills must interrupt runs mid-work for this test to mean anything"
    _finish(crashed)

    assert (crashed / "dataset.jsonl").read_bytes() == (reference / "dataset.jsonl").read_bytes()
    ref_records = sorted(json.dumps(r, sort_keys=True) for r in read_jsonl(reference / "records.jsonl"))
    got_records = sorted(json.dumps(r, sort_keys=True) for r in read_jsonl(crashed / "records.jsonl"))
    assert got_records == ref_records  # nothing lost, nothing twice
    for raw in sorted((crashed / "raw").rglob("*.jsonl")):  # repair.jsonl too: no repair asked twice
        keys = _keys(raw)
        assert len(keys) == len(set(keys)), f"{raw}: a completed call was asked again"
        assert sorted(keys) == sorted(_keys(reference / raw.relative_to(crashed)))
    assert (crashed / "raw/round_001/exec.jsonl").is_file()  # the sandbox verdicts are among the raw files
    stats = json.loads((crashed / "stats.json").read_text())
    ref_stats = json.loads((reference / "stats.json").read_text())
    for got, want in zip(stats["rounds"], ref_stats["rounds"]):
        for timing in ("seconds", "sandbox_seconds", "sandbox_seconds_per_kept"):  # wall-clock, not results
            got.pop(timing), want.pop(timing)
        assert got == want
    assert (crashed / "report.md").is_file() and (crashed / "dataset" / "dataset_info.json").is_file()


def test_a_full_disk_exits_1_saying_so_and_the_rerun_resumes(tmp_path):
    """A write the file system refuses (here RLIMIT_FSIZE: EFBIG, as ENOSPC for a full disk) ends the run with
    a message, not a traceback; nothing written is lost and the same command finishes it."""
    import resource

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    full = tmp_path / "full"
    proc = subprocess.run(_command(full), env=_env(), capture_output=True, text=True, timeout=600,
                          preexec_fn=small_files)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "File too large" in proc.stderr and str(full) in proc.stderr
    _finish(full)
    reference = tmp_path / "reference"
    _finish(reference)
    assert (full / "dataset.jsonl").read_bytes() == (reference / "dataset.jsonl").read_bytes()


# ---------------------------------------------------------------------------------------------- embedded model

@pytest.mark.slow
def test_the_embedded_model_end_to_end(tmp_path):
    """The README's first command, shrunk: SmolLM2-135M on the CPU, 2 seeds x 1 round."""
    pytest.importorskip("transformers")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "wizardcoder.cli", "evolve", "--lang", "python", "--limit", "2", "--rounds", "1",
           "--sandbox", "local", "--output", str(out), "--no-progress", "evolve.solve_samples=1"]
    # one torch thread: on a busy CPU, two spin-waiting threads ran several times slower than one
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=900)
    if proc.returncode != 0 and "not installed" in proc.stderr:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["llm"]["provider"] == "embedded"
    assert stats["rounds"][0]["evolved"] == 2
    assert stats["dataset"]["rows"] >= 2  # the two seeds at least
    assert (out / "report.md").is_file() and (out / "dataset.jsonl").is_file()


def test_a_run_losing_many_rewrites_to_the_token_limit_says_which_key_to_raise():
    def stats(evolved, cut):
        return {"totals": {"evolved": evolved, "dropped": {"truncated": cut, "failed": 1}}}

    hint = truncation_hint(stats(16, 13), 128)
    assert "13 of 16" in hint and "evolve.evolve_max_tokens=256" in hint
    assert truncation_hint(stats(16, 2), 128) is None and truncation_hint(stats(0, 0), 128) is None
