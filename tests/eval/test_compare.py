"""`wizardcoder eval compare`: paired differences on runs with known differences, the exact McNemar test, the
refusals (different suites, prompt templates) and clear exit-2 errors for bad run directories."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wizardcoder.errors import UserError
from wizardcoder.eval.compare import compare, load_run, mcnemar_exact
from wizardcoder.eval.problems import load_suite

from .helpers import score

N = 30  # problems: enough for p < 0.001 when all of them flip (2 / 2**30)
PROBLEMS = load_suite("humaneval")[:N]
ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path_factory, name: str, completions: list[list[str]]) -> Path:
    tmp = tmp_path_factory.mktemp(name)
    rows = [{"task_id": p.task_id, "completion": c} for p, cs in zip(PROBLEMS, completions) for c in cs]
    score(tmp, "humaneval", rows, "local", f"suite.limit={N}", "sandbox.workers=2")
    return next((tmp / "runs").glob("humaneval-*"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    canonical = _run(tmp_path_factory, "canonical", [[p.canonical] for p in PROBLEMS])
    empty = _run(tmp_path_factory, "empty", [[""] for _ in PROBLEMS])
    # the last 10 problems broken: 10 known regressions against the canonical run
    partial = _run(tmp_path_factory, "partial", [[p.canonical if i < N - 10 else "    return None\n"]
                                                 for i, p in enumerate(PROBLEMS)])
    sampled = _run(tmp_path_factory, "sampled", [[p.canonical, ""] for p in PROBLEMS])  # n = 2, half right
    return {"canonical": canonical, "empty": empty, "partial": partial, "sampled": sampled}


def test_a_run_against_itself_differs_by_zero(runs):
    result = compare(load_run(runs["canonical"]), load_run(runs["canonical"]))
    assert result["pass@1"]["difference"] == 0.0
    low, high = result["pass@1"]["ci95"]
    assert low <= 0.0 <= high and high - low < 1e-12
    assert result["mcnemar"]["p_value"] == 1.0
    assert result["improved"] == result["regressed"] == []


def test_canonical_against_empty_differs_by_one_beyond_noise(runs):
    result = compare(load_run(runs["empty"]), load_run(runs["canonical"]))
    assert result["pass@1"] == {**result["pass@1"], "a": 0.0, "b": 1.0, "difference": 1.0}
    assert result["pass@1"]["ci95"] == [1.0, 1.0]
    assert result["mcnemar"]["p_value"] < 0.001
    assert result["mcnemar"]["p_value"] == pytest.approx(2 / 2 ** N)
    assert len(result["improved"]) == N and result["regressed"] == []
    assert result["greedy"]


def test_known_regressions_are_listed_and_tested(runs):
    result = compare(load_run(runs["canonical"]), load_run(runs["partial"]))
    assert result["regressed"] == [p.task_id for p in PROBLEMS[N - 10:]]
    assert result["improved"] == []
    assert result["pass@1"]["difference"] == pytest.approx(-10 / N)
    low, high = result["pass@1"]["ci95"]
    assert low < -10 / N < high < 0  # the interval excludes "no difference"
    assert result["mcnemar"]["p_value"] == pytest.approx(2 / 2 ** 10)  # 10 flips, all one way


def test_sampled_runs_get_the_bootstrap_but_no_mcnemar(runs):
    result = compare(load_run(runs["canonical"]), load_run(runs["sampled"]))
    assert not result["greedy"] and result["mcnemar"]["p_value"] is None
    assert result["pass@1"]["difference"] == pytest.approx(-0.5)
    assert len(result["regressed"]) == N


def test_exact_mcnemar_matches_scipy():
    stats = pytest.importorskip("scipy.stats", reason="scipy is only a cross-check here")
    for b in range(0, 25, 3):
        for c in range(0, 25, 4):
            if b + c:
                expected = stats.binomtest(min(b, c), b + c, 0.5).pvalue
                assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12), (b, c)
    assert mcnemar_exact(0, 0) == 1.0


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "wizardcoder", "eval", "compare", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _main(capsys, *args: str) -> tuple[int, str]:
    """The CLI in this process (fast): exit status and stderr."""
    from wizardcoder.cli import main

    rc = main(["eval", "compare", *args])
    return rc, capsys.readouterr().err


def test_cli_writes_json_plot_and_stats(runs, tmp_path):
    out = tmp_path / "cmp"
    proc = _cli(str(runs["empty"]), str(runs["canonical"]), "--output", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "McNemar" in proc.stdout and "+100.00 points" in proc.stdout
    data = json.loads((out / "compare.json").read_text())
    assert data["pass@1"]["difference"] == 1.0 and len(data["per_problem"]) == N
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "stats.json").read_text())["improved"] == N


def _copy_with(run: Path, dest: Path, edit) -> Path:
    shutil.copytree(run, dest)
    metrics = json.loads((dest / "metrics.json").read_text())
    edit(metrics)
    (dest / "metrics.json").write_text(json.dumps(metrics))
    return dest


def test_different_suites_or_templates_are_refused_unless_forced(runs, tmp_path, capsys):
    other_suite = _copy_with(runs["canonical"], tmp_path / "other-suite",
                             lambda m: m.update(suite="mbpp") or m["reproducibility"]["suite"].update(
                                 sha256="0" * 64, name="mbpp"))
    other_template = _copy_with(runs["canonical"], tmp_path / "other-template",
                                lambda m: m["reproducibility"].update(prompt_template={"mode": "completion"}))
    for other, what in ((other_suite, "different suites"), (other_template, "different prompt templates")):
        with pytest.raises(UserError, match=what):
            compare(load_run(runs["canonical"]), load_run(other))
        rc, err = _main(capsys, str(runs["canonical"]), str(other), "--output", str(tmp_path / "x"))
        assert rc == 2 and what in err and "--force" in err
        rc, err = _main(capsys, str(runs["canonical"]), str(other), "--force", "--output", str(tmp_path / "f"))
        assert rc == 0, err
        assert json.loads((tmp_path / "f" / "compare.json").read_text())["forced"]


def test_bad_run_directories_exit_2_with_the_file_and_the_fix(runs, tmp_path, capsys):
    no_metrics = tmp_path / "unfinished"
    no_metrics.mkdir()
    corrupt = _copy_with(runs["canonical"], tmp_path / "corrupt", lambda m: None)
    (corrupt / "metrics.json").write_text("{not json")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "metrics.json").write_text(json.dumps({"loss": 1.0}))
    cases = [(tmp_path / "missing", "no such run directory"), (no_metrics, "metrics.json: missing"),
             (corrupt, "metrics.json: not valid JSON"), (foreign, "not an eval metrics file")]
    for bad, message in cases:
        rc, err = _main(capsys, str(runs["canonical"]), str(bad))
        assert rc == 2, (bad, err)
        assert message in err and str(bad) in err, err
    rc, err = _main(capsys, str(runs["canonical"]))
    assert rc == 2 and "two run directories" in err
    proc = _cli(str(bad), str(runs["canonical"]), cwd=tmp_path)  # the real command line, once
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_runs_that_differ_only_in_limit_are_compared_on_the_problems_they_share(runs, tmp_path_factory, capsys):
    """Their suite hashes differ (the first 20 vs the first 30 problems): they were refused as "different suites"."""
    limited = tmp_path_factory.mktemp("limited")
    rows = [{"task_id": p.task_id, "completion": "    return None\n"} for p in PROBLEMS[:20]]
    score(limited, "humaneval", rows, "local", "suite.limit=20", "sandbox.workers=2")
    limited = next((limited / "runs").glob("humaneval-*"))
    result = compare(load_run(runs["canonical"]), load_run(limited))
    assert result["problems_compared"] == 20 and result["problems_only_in_a"] == 10 and not result["forced"]
    assert len(result["regressed"]) == 20
    from wizardcoder.cli import main

    assert main(["eval", "compare", str(runs["canonical"]), str(limited), "--output",
                 str(tmp_path_factory.mktemp("cmp"))]) == 0
    assert "problems compared         20 (those both runs hold: A has 30, B has 20)" in capsys.readouterr().out


def test_the_same_task_ids_with_other_content_are_still_different_suites(runs, tmp_path):
    edited = _copy_with(runs["canonical"], tmp_path / "edited",
                        lambda m: m["reproducibility"]["suite"].update(
                            sha256="0" * 64, problem_sha256={**m["reproducibility"]["suite"]["problem_sha256"],
                                                             PROBLEMS[0].task_id: "0" * 16}))
    with pytest.raises(UserError, match="different suites"):
        compare(load_run(runs["canonical"]), load_run(edited))


def test_compare_prints_whole_paths_at_any_terminal_width(runs, tmp_path):
    """A table fitted to the terminal cut the run directories at 80 columns: on a 40-column terminal (and in a
    pipe, where rich assumes 80), each path is printed whole, on one line, and the limit runs' note too."""
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "runs"
    a, b = deep / runs["empty"].name, deep / (runs["canonical"].name + "-tuned")
    shutil.copytree(runs["empty"], a)
    shutil.copytree(runs["canonical"], b)
    out = tmp_path / "cmp-output-folder-with-a-long-name"
    proc = subprocess.run([sys.executable, "-m", "wizardcoder", "eval", "compare", str(a), str(b), "--output",
                           str(out)], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "40"},
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for path in (a, b, out / "compare.json"):
        assert any(str(path) in line for line in lines), (path, proc.stdout)
    assert any("+100.00 points" in line for line in lines)
