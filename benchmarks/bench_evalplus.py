"""Benchmark our EvalPlus evaluation against evalplus's own evaluator, side by side, on one MBPP+ sample file.

    python benchmarks/bench_evalplus.py --samples S.jsonl --suite-file MbppPlus.jsonl \
        --evalplus-python /work/venvs/evalplus/bin/python [--workers 2] [--backend docker]

S.jsonl: EvalPlus samples (`task_id` and `solution`, one per task of the suite file). evalplus must be
installed in its own venv (`python -m venv V && V/bin/pip install evalplus==0.2.1`; it reads the suite
through MBPP_OVERRIDE_PATH). What runs, in one run, with the same number of workers on both sides:

1. expected outputs, timed apart from scoring, cold (empty cache) then warm (from the cache): ours in the
   sandbox (`--backend`), evalplus's `get_groundtruth` in its own process;
2. scoring every sample once: ours through the sandbox (one program per sample, base and plus inputs
   in it; opening the sandbox included), evalplus's `evaluate()` with `--parallel workers` (its ground
   truth then loads from its cache, and that load is subtracted);
3. agreement of the two, task by task, on base and on base+plus verdicts.
Timings are wall-clock on whatever the machine is doing: compare the ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wizardcoder.eval.plus.check import check_samples, limit_rule
from wizardcoder.eval.plus.data import load_plus_suite
from wizardcoder.eval.plus.expected import expected_outputs
from wizardcoder.execution import SandboxConfig, open_sandbox

# Runs inside evalplus's venv: times its ground truth apart from the rest of its own evaluate().
EVALPLUS_DRIVER = r"""
import argparse, json, sys, time
import evalplus.evaluate as ev
from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
mode, samples, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "groundtruth":
    problems = ev.get_mbpp_plus()
    t0 = time.perf_counter()
    ev.get_groundtruth(problems, ev.get_mbpp_plus_hash(), MBPP_OUTPUT_NOT_NONE_TASKS)
    print(json.dumps({"groundtruth_seconds": time.perf_counter() - t0}))
else:
    spent = {}
    real = ev.get_groundtruth
    def timed(*a, **k):
        t = time.perf_counter(); out = real(*a, **k); spent["gt"] = time.perf_counter() - t; return out
    ev.get_groundtruth = timed
    flags = argparse.Namespace(dataset="mbpp", samples=samples, base_only=False, parallel=workers,
                               i_just_wanna_run=False, test_details=False, min_time_limit=1.0,
                               gt_time_limit_factor=4.0, mini=False, noextreme=False)
    t0 = time.perf_counter()
    ev.evaluate(flags)
    total = time.perf_counter() - t0
    print(json.dumps({"total_seconds": total, "groundtruth_seconds": spent.get("gt", 0.0)}))
"""


def run_evalplus(python: str, mode: str, samples: Path, workers: int, suite_file: Path, cache: Path) -> dict:
    env = {**os.environ, "MBPP_OVERRIDE_PATH": str(suite_file), "XDG_CACHE_HOME": str(cache)}
    out = subprocess.run([python, "-c", EVALPLUS_DRIVER, mode, str(samples), str(workers)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", required=True, type=Path)
    ap.add_argument("--suite-file", required=True, type=Path)
    ap.add_argument("--evalplus-python", default="/work/venvs/evalplus/bin/python")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backend", default="docker", choices=("docker", "local"))
    ap.add_argument("--out", type=Path, default=None, help="work directory (default: a temporary one)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    work = args.out or Path(tempfile.mkdtemp(prefix="bench-evalplus-"))
    work.mkdir(parents=True, exist_ok=True)
    samples = [json.loads(line) for line in args.samples.read_text().splitlines() if line.strip()]
    pairs = [(s["task_id"], s["solution"]) for s in samples]
    print(f"{len(pairs)} samples, {args.workers} workers on both sides, our backend: {args.backend}", flush=True)

    # ---- ours
    suite = load_plus_suite("mbpp+", args.suite_file)
    cfg = SandboxConfig(backend=args.backend, workers=args.workers)
    figures: dict[str, float] = {}
    for phase in ("cold", "warm"):
        t0 = time.perf_counter()
        expected = expected_outputs(suite, lambda: open_sandbox(cfg), args.backend, cache_dir=work / "ours-cache")
        figures[f"ours_expected_{phase}"] = time.perf_counter() - t0
        assert expected.record["computed_now"] == (phase == "cold")
        print(f"ours: expected outputs {phase}: {figures[f'ours_expected_{phase}']:.1f} s", flush=True)
    t0 = time.perf_counter()
    with open_sandbox(cfg) as sandbox:
        rows = check_samples(suite, expected, pairs, sandbox, limit_rule("reference"))
    figures["ours_scoring"] = time.perf_counter() - t0
    print(f"ours: scoring {figures['ours_scoring']:.1f} s ({len(rows) / figures['ours_scoring']:.1f} samples/s)",
          flush=True)

    # ---- evalplus
    cache = work / "evalplus-cache"
    gt = run_evalplus(args.evalplus_python, "groundtruth", args.samples, args.workers, args.suite_file, cache)
    figures["evalplus_expected_cold"] = gt["groundtruth_seconds"]
    print(f"evalplus: expected outputs cold: {figures['evalplus_expected_cold']:.1f} s", flush=True)
    copy = work / "evalplus-samples.jsonl"
    copy.write_text(args.samples.read_text())
    res = run_evalplus(args.evalplus_python, "evaluate", copy, args.workers, args.suite_file, cache)
    figures["evalplus_expected_warm"] = res["groundtruth_seconds"]
    figures["evalplus_scoring"] = res["total_seconds"] - res["groundtruth_seconds"]
    print(f"evalplus: expected outputs warm: {figures['evalplus_expected_warm']:.1f} s; scoring "
          f"{figures['evalplus_scoring']:.1f} s ({len(rows) / figures['evalplus_scoring']:.1f} samples/s)", flush=True)

    # ---- agreement and ratios
    theirs = json.loads((work / "evalplus-samples_eval_results.json").read_text())["eval"]
    ours = {r["task_id"]: r for r in rows}
    base_diff = [t for t, (r, *_) in theirs.items() if (r["base_status"] == "pass") != ours[t].get("passed")]
    plus_diff = [t for t, (r, *_) in theirs.items()
                 if (r["base_status"] == r["plus_status"] == "pass") != ours[t].get("plus_passed")]
    n = len(theirs)
    print(f"\nagreement on {n} tasks: base {n - len(base_diff)}/{n} {base_diff}, "
          f"base+plus {n - len(plus_diff)}/{n} {plus_diff}")
    print(f"pass@1 ours: base {sum(r.get('passed', False) for r in rows) / len(rows):.3f}, plus "
          f"{sum(r.get('plus_passed', False) for r in rows) / len(rows):.3f}")
    print("\n| | ours | evalplus | evalplus / ours |\n| --- | --- | --- | --- |")
    for key, label in (("scoring", "scoring"), ("expected_cold", "expected outputs, cold"),
                       ("expected_warm", "expected outputs, warm")):
        a, b = figures[f"ours_{key}"], figures[f"evalplus_{key}"]
        print(f"| {label} | {a:.1f} s | {b:.1f} s | {b / a:.2f}x |")
    (work / "figures.json").write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
