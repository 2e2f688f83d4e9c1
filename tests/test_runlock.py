"""One process per run directory: evolve, eval and train refuse a directory another process holds, at
once and naming it; a lock dies with its process (kill -9 included, forked children too)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wizardcoder.config import load_config
from wizardcoder.errors import UserError
from wizardcoder.runlock import LOCK_NAME, RunDirLocked, run_lock

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def _wait_for(predicate, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_a_second_holder_is_refused_naming_the_first(tmp_path):
    with run_lock(tmp_path, "evolve"), pytest.raises(RunDirLocked) as err, run_lock(tmp_path, "evolve"):
        pass
    message = str(err.value)
    assert f"pid {os.getpid()}" in message and os.uname().nodename in message and "started" in message
    assert str(tmp_path) in message and "--output" in message
    with run_lock(tmp_path, "evolve"):  # released when the block ends
        pass


def test_a_directory_that_cannot_be_one_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="cannot use .*file as the eval run directory"), run_lock(tmp_path / "file", "eval"):
        pass


HOLDER = """
import os, sys, time
from wizardcoder.runlock import run_lock
with run_lock(sys.argv[1], "evolve"):
    if sys.argv[2] == "fork":
        if os.fork() == 0:   # a forked child (a dataloader worker, a pool) outlives its parent
            os.write(1, b"child\\n")  # one write each: the two lines never interleave
            time.sleep(60)
            os._exit(0)
    os.write(1, b"locked\\n")
    time.sleep(60)
"""


@pytest.mark.parametrize("mode", ["plain", "fork"])
def test_kill_9_releases_the_lock(tmp_path, mode):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), mode], stdout=subprocess.PIPE, text=True,
                            env=ENV, start_new_session=True)
    try:
        lines = {proc.stdout.readline().strip() for _ in range(2 if mode == "fork" else 1)}
        assert lines == ({"locked", "child"} if mode == "fork" else {"locked"})
        with pytest.raises(RunDirLocked, match=f"pid {proc.pid} "), run_lock(tmp_path, "eval"):
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with run_lock(tmp_path, "evolve"):  # at once: the kernel dropped the lock with the process
            pass
    finally:
        with contextlib.suppress(ProcessLookupError):  # the forked child, if any (its own session's group)
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_eval_and_train_refuse_a_held_directory(tmp_path):
    from wizardcoder.eval.config import EvalConfig
    from wizardcoder.eval.runner import run_dir_for, run_eval
    from wizardcoder.train.config import TrainConfig
    from wizardcoder.train.runner import train

    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return True\n"}) + "\n")
    eval_cfg = load_config(EvalConfig, None, [f"output_dir={tmp_path / 'eval'}", f"generation.samples_file={samples}",
                                              "suite.limit=1", "sandbox.backend=local"])
    with run_lock(run_dir_for(eval_cfg), "eval"), pytest.raises(RunDirLocked):
        run_eval(eval_cfg)
    train_cfg = load_config(TrainConfig, None, [f"run.output={tmp_path / 'train'}", "model.path=some-model",
                                                f"data.path={samples}", "run.device=cpu"])
    with run_lock(tmp_path / "train", "train"), pytest.raises(RunDirLocked):
        train(train_cfg)


def test_train_locks_the_directory_it_trains_in_under_a_launchers_accumulation(tmp_path, monkeypatch):
    """`accelerate launch --gradient_accumulation_steps 2` with train.grad_accum left at 1: the run is keyed
    (and trained) with 2, so that directory is the one locked."""
    import dataclasses

    from wizardcoder.train.config import TrainConfig
    from wizardcoder.train.rundir import run_dir_for
    from wizardcoder.train.runner import train

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACCELERATE_GRADIENT_ACCUMULATION_STEPS", "2")
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"instruction": "Add two numbers.", "output": "def add(a, b):\n    return a + b"})
                    + "\n")
    cfg = load_config(TrainConfig, None, ["model.path=some-model", f"data.path={data}", "run.device=cpu"])
    trained_in = run_dir_for(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, grad_accum=2)))
    assert trained_in != run_dir_for(cfg)
    with run_lock(trained_in, "train"), pytest.raises(RunDirLocked):
        train(cfg)


def _evolve(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "wizardcoder.testing", "evolve", "--limit", "3", "--rounds", "1", "--sandbox", "local",
            "--output", str(run_dir), "--no-progress", "llm.provider=fake", "output.report=false"]


def test_two_identical_evolve_commands_on_one_directory(tmp_path):
    run_dir, lone_dir = tmp_path / "run", tmp_path / "lone"
    slow = {**ENV, "WIZARDCODER_FAKE_DELAY": "1.0"}
    first = subprocess.Popen(_evolve(run_dir), env=slow, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (run_dir / LOCK_NAME).is_file() and (run_dir / LOCK_NAME).stat().st_size > 0)
        started = time.monotonic()
        second = subprocess.run(_evolve(run_dir), env=ENV, capture_output=True, text=True, timeout=120, check=False)
        assert second.returncode == 2, second.stderr
        assert time.monotonic() - started < 30  # at once, not after the first finished
        assert f"pid {first.pid} " in second.stderr and "-m wizardcoder.testing evolve" in second.stderr
        assert first.poll() is None  # the first was still running, undisturbed
        _, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err[-2000:]
    lone = subprocess.run(_evolve(lone_dir), env=ENV, capture_output=True, text=True, timeout=300, check=False)
    assert lone.returncode == 0, lone.stderr[-2000:]
    assert (run_dir / "dataset.jsonl").read_text() == (lone_dir / "dataset.jsonl").read_text()
    assert (run_dir / "dataset.jsonl").read_text().strip()
