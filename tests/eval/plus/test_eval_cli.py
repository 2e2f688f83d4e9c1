"""`wizardcoder eval mbpp+ / humaneval+`: the suites in the eval stage, from the command line: EvalPlus sample
formats (solution, completion, raw chat replies), both verdicts per row, plus pass@k, compare --plus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.eval.plus.test_data import MBPP_PLUS, needs_mbpp_plus

TASKS = ("Mbpp/2", "Mbpp/3", "Mbpp/4", "Mbpp/7")
RIGHT = {
    "Mbpp/2": "def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n",
    "Mbpp/3": "import math\ndef is_not_prime(n):\n    if n < 2:\n        return True\n"
              "    return any(n % i == 0 for i in range(2, math.isqrt(n) + 1))\n",
    "Mbpp/4": "import heapq\ndef heap_queue_largest(nums, n):\n    return heapq.nlargest(n, nums)\n",
}


def eval_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "wizardcoder", "eval", *args, f"output_dir={tmp_path / 'runs'}",
                           "--no-progress"], capture_output=True, text=True, env=env, timeout=600, check=False)


@pytest.fixture(scope="module")
def subset_file(tmp_path_factory) -> Path:
    if not MBPP_PLUS.is_file():
        pytest.skip(f"{MBPP_PLUS} is not here")
    path = tmp_path_factory.mktemp("mbppplus") / "MbppPlus-4.jsonl"
    with open(MBPP_PLUS) as src, open(path, "w") as out:
        out.writelines(line for line in src if json.loads(line)["task_id"] in TASKS)
    return path


def samples(tmp_path: Path, rows) -> Path:
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@needs_mbpp_plus
@pytest.mark.slow
def test_mbpp_plus_scores_solutions_completions_and_raw_replies(tmp_path, subset_file):
    reply = ("Sure! Here it is:\n\n```python\nimport heapq\n\ndef heap_queue_largest(nums, n):\n"
             "    return heapq.nlargest(n, nums)\n\nprint(heap_queue_largest([1, 5, 3], 2))\n```\n\nIt uses a heap.")
    rows = [{"task_id": "Mbpp/2", "solution": RIGHT["Mbpp/2"]},
            {"task_id": "Mbpp/3", "completion": "\n" + RIGHT["Mbpp/3"]},  # evalplus: prompt + completion
            {"task_id": "Mbpp/4", "solution": reply},
            {"task_id": "Mbpp/7", "solution": "Sorry, I do not know."},
            {"task_id": "Mbpp/7", "solution": "def find_char_long(text):\n    return [w for w in text.split() if len(w) > 3]\n"}]
    run = eval_cli(tmp_path, "mbppplus", "--suite-file", str(subset_file), "--samples", str(samples(tmp_path, rows)),
                   "--sandbox", "local")
    assert run.returncode == 0, run.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    results = {(r["task_id"], r["sample_idx"]): r for r in map(json.loads, (run_dir / "results.jsonl").open())}
    assert all(results[(t, 0)]["plus_passed"] for t in ("Mbpp/2", "Mbpp/3", "Mbpp/4"))
    assert results[("Mbpp/7", 0)]["passed"] is False  # no code
    seven = results[("Mbpp/7", 1)]  # keeps words of length 4 and more: the plus inputs catch what base does not?
    assert seven["passed"] is (seven["base_status"] == "pass")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["no_code_samples"] == 1 and set(metrics["plus_pass_at_k"]) == {"pass@1"}
    assert metrics["pass_at_k"]["pass@1"] >= metrics["plus_pass_at_k"]["pass@1"] > 0
    assert metrics["time_limits"]["profile"] == "reference" and metrics["time_limits"]["evalplus_rules"] == "0.3"
    assert "(base + plus)" in run.stdout and "replies with no code" in run.stdout
    sample4 = next(json.loads(line) for line in (run_dir / "samples.jsonl").open() if '"Mbpp/4"' in line)
    assert "print(" not in sample4["solution"] and sample4["raw"] == reply


@needs_mbpp_plus
@pytest.mark.slow
def test_compare_plus_reads_the_base_plus_verdicts(tmp_path, subset_file):
    wrong = {"task_id": "Mbpp/3", "solution": "def is_not_prime(n):\n    return n in (1, 4, 6, 8, 9, 10, 35)\n"}
    runs = []
    for name, rows in (("a", [wrong]), ("b", [{"task_id": "Mbpp/3", "solution": RIGHT["Mbpp/3"]}])):
        out = tmp_path / name
        out.mkdir()
        run = eval_cli(out, "mbpp+", "--suite-file", str(subset_file), "--samples", str(samples(out, rows)),
                       "--sandbox", "local", "--limit", "2")
        assert run.returncode in (0, 1), run.stderr[-3000:]
        runs.append(next((out / "runs").iterdir()))
    cmp = subprocess.run([sys.executable, "-m", "wizardcoder", "eval", "compare", *map(str, runs), "--plus",
                          "--output", str(tmp_path / "cmp")], capture_output=True, text=True, timeout=300, check=False)
    assert cmp.returncode == 0, cmp.stderr[-2000:]
    result = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert result["verdicts"] == "base+plus" and result["improved"] == ["Mbpp/3"]


def test_compare_plus_refuses_runs_without_plus_verdicts(tmp_path):
    from wizardcoder.errors import UserError
    from wizardcoder.eval.compare import load_run

    (tmp_path / "metrics.json").write_text(json.dumps({"suite": "humaneval", "per_problem": {"a": {"n": 1, "c": 1}}}))
    with pytest.raises(UserError, match="--plus needs an EvalPlus run"):
        load_run(tmp_path, plus=True)


@needs_mbpp_plus
@pytest.mark.slow
def test_chat_generation_on_mbpp_plus_goes_through_the_same_extraction(tmp_path, subset_file):
    from wizardcoder.config import load_config
    from wizardcoder.eval.config import EvalConfig
    from wizardcoder.eval.runner import run_eval
    from wizardcoder.testing.fake_llm import FakeClient

    def reply(request):
        text = request.messages[-1]["content"]
        task = next(t for t, code in RIGHT.items() if code.split("def ")[1].split("(")[0] in text)
        return f"Here you go.\n\n```python\n{RIGHT[task]}\nprint('demo')\n```\n" if task != "Mbpp/4" else "No idea."

    cfg = load_config(EvalConfig, None, ["suite.name=mbpp+", f"suite.file={subset_file}", "sandbox.backend=local",
                                         "llm.api=chat", f"output_dir={tmp_path / 'runs'}", "suite.limit=3",
                                         f"suite.cache_dir={tmp_path / 'cache'}"])
    metrics = run_eval(cfg, client=FakeClient(reply))
    assert metrics["plus_pass_at_k"]["pass@1"] == pytest.approx(2 / 3) and metrics["no_code_samples"] == 1
    samples = {s["task_id"]: s for s in map(json.loads, (Path(metrics["stats"]["run_dir"]) / "samples.jsonl").open())}
    assert "print(" not in samples["Mbpp/2"]["solution"] and samples["Mbpp/4"]["no_code"] is True
