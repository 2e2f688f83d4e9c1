"""Benchmark the whole `wizardcoder evolve` command against a fake OpenAI server with simulated latency.

    python benchmarks/bench_evolve.py                      # 2,000 tasks at 1 s, concurrency 64 and 256; RSS at 10k / 100k
    python benchmarks/bench_evolve.py --skip-rss           # only the wall-time figures
    python benchmarks/bench_evolve.py --samples 4          # 4 solve samples per task: (1 + 4) calls per task

Real HTTP (the server is `python -m wizardcoder.testing.scripted_evolve`, its own process, answering with the
scripted evolve-stage model: most evolutions pass, some are refused, copied, untested or wrong), the
real sandbox (`--sandbox`, default auto = Docker here), one round, fresh run directories.

1. Wall time against the LLM-bound ideal at each concurrency: ideal = (1 + samples) calls x tasks /
   concurrency x latency (the issue's formula; every task's calls are sequential: evolve, then solve);
   also against the calls actually made (refused or copied evolutions need no solve call).
   Targets: >= 90% at 64, >= 75% at 256.
2. CPU of the evolve process per task-round (the server's and the sandbox containers' CPU excluded; a
   local sandbox's programs are children and would count): total over the tasks, and per task beyond a
   one-task run of the same command (start-up, imports, opening the client and the sandbox, the dataset:
   the costs that do not grow with the tasks, so the figure is what 1M tasks cost per task), and beyond
   the LLM client's own CPU. Target: <= 3 ms.
   Baseline, same run: the LLM client alone sending as many requests at the same concurrency (its wall
   time and CPU per call): what no orchestration can beat.
4. With `--yields 1 4 8`: instead of the above, kept tasks per evolved task, LLM tokens and sandbox
   seconds per kept task at each number of solve samples (`--mode sampled`: answers right only for
   some sampling seeds), each from its own run.
`--repair-turns N` sets `evolve.repair_turns` (default: the config's, one turn behind an endpoint: the scripted
model's wrong tests get a follow-up, so a few tasks make one more call after their programs ran).
3. Peak RSS of the evolve process at 10k and 100k tasks (`--rss-latency`, default 0.02 s, so 100k stays
   runnable: memory depends on the tasks in flight and on disk, not on the latency). Target: 100k within
   1.5x of 10k.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_seeds(path: Path, n: int) -> None:
    """n distinct tasks of random words (as different from each other as real seeds: no near duplicates)."""
    import random

    rng = random.Random(n)
    nouns = ("list", "string", "dictionary", "matrix", "tree", "graph", "interval", "number", "word", "date",
             "record", "path", "queue", "stack", "set", "grid", "file", "token", "price", "score")
    verbs = ("sorts", "counts", "merges", "filters", "groups", "reverses", "validates", "ranks", "splits",
             "joins", "compresses", "rotates", "deduplicates", "normalises", "scales", "searches")
    with path.open("w") as fh:
        for i in range(n):
            words = " ".join(rng.choice(nouns + verbs) for _ in range(14))
            fh.write(json.dumps({"id": f"bench-{i:06d}", "instruction": (
                f"Write a Python function that {rng.choice(verbs)} a {rng.choice(nouns)} of values: {words}.")})
                     + "\n")


def start_server(latency: float, mode: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "wizardcoder.testing.scripted_evolve", "--latency", str(latency),
                             "--mode", mode], stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"fake server did not start: {line!r}")
    return proc, line.split()[-1]


def run_evolve(seeds: Path, out: Path, url: str, concurrency: int, samples: int, rounds: int, sandbox: str,
               extra: list[str] | None = None) -> dict:
    """One `wizardcoder evolve` process: wall seconds, its CPU seconds and peak RSS, and its stats.json."""
    cmd = [sys.executable, "-m", "wizardcoder.cli", "evolve", "--lang", "python", "--seeds", str(seeds),
           "--limit", "all", "--rounds", str(rounds), "--output", str(out), "--no-progress", "--sandbox", sandbox,
           "--base-url", url, "--model", "fake-model", f"llm.concurrency={concurrency}",
           f"evolve.solve_samples={samples}", "dataset.decontaminate=false", "output.report=false",
           "evolve.on_infra_error=keep_parent", *(extra or [])]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"evolve failed:\n{stderr[-3000:]}")
    stats = json.loads((out / "stats.json").read_text())
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024, "stats": stats}


def measure_yields(args) -> int:
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-evolve-"))
    work.mkdir(parents=True, exist_ok=True)
    seeds = work / f"seeds_{args.tasks}.jsonl"
    write_seeds(seeds, args.tasks)
    print(f"yield by solve samples: {args.tasks} tasks x 1 round, {args.mode} fake model, latency {args.latency:g} s")
    server, url = start_server(args.latency, args.mode)
    try:
        for n in args.yields:
            got = run_evolve(seeds, work / f"yield_n{n}", url, args.concurrency[0], n, 1, args.sandbox,
                             [] if args.repair_turns is None else [f"evolve.repair_turns={args.repair_turns}"])
            s = got["stats"]["rounds"][0]
            cost = got["stats"]["totals"]["cost_per_kept_task"]
            print(f"  n={n}: kept {s['passed']}/{s['evolved']} evolved ({s['passed'] / max(1, s['evolved']):.1%}); "
                  f"{cost['llm_tokens']} LLM tokens and {cost['sandbox_seconds']} sandbox s per kept task; "
                  f"{s['programs']} programs; pass rates {s['pass_rate_histogram']}; {got['wall']:.0f} s")
    finally:
        server.terminate()
        server.wait()
    return 0


_CLIENT_ONLY = """
import resource, sys, time
from wizardcoder.llm import Request
from wizardcoder.llm.openai_client import OpenAIClient
url, calls, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
client = OpenAIClient(base_url=url, model="fake-model", concurrency=concurrency)
requests = (Request.from_text(f"Rewrite the task below into a harder version. Task:\\nSort list {i}.", max_tokens=128)
            for i in range(calls))
before = resource.getrusage(resource.RUSAGE_SELF)  # after the imports: the CPU the calls take
start = time.monotonic()
done = sum(1 for _ in client.generate(requests))
wall = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(done, wall, usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime)
client.close()
"""


def client_only(url: str, calls: int, concurrency: int) -> tuple[float, float]:
    """The baseline: the LLM client alone sending as many requests at the same concurrency (wall s, CPU s)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", _CLIENT_ONLY, url, str(calls), str(concurrency)], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[1]), float(out[2])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=2000)
    p.add_argument("--latency", type=float, default=1.0)
    p.add_argument("--concurrency", type=int, nargs="+", default=[64, 256])
    p.add_argument("--samples", type=int, default=1, help="evolve.solve_samples")
    p.add_argument("--mode", choices=("scripted", "sampled"), default="scripted", help="the fake model's replies")
    p.add_argument("--sandbox", default="auto", choices=("auto", "docker", "local"))
    p.add_argument("--rss-tasks", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--rss-latency", type=float, default=0.02)
    p.add_argument("--rss-concurrency", type=int, default=256)
    p.add_argument("--skip-rss", action="store_true")
    p.add_argument("--only-rss", action="store_true", help="only the peak RSS runs")
    p.add_argument("--keep", metavar="DIR", help="keep the run directories here")
    p.add_argument("--yields", type=int, nargs="+", metavar="N", help="only measure the yield at these sample counts")
    p.add_argument("--repair-turns", type=int, help="evolve.repair_turns (default: the config's, 1 behind an endpoint)")
    args = p.parse_args()
    extra = [] if args.repair_turns is None else [f"evolve.repair_turns={args.repair_turns}"]
    if args.yields:
        return measure_yields(args)

    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-evolve-"))
    work.mkdir(parents=True, exist_ok=True)
    calls_per_task = 1 + args.samples
    print(f"bench_evolve: {args.tasks} tasks, latency {args.latency:g} s, {args.samples} solve sample(s), "
          f"{args.mode} fake model, sandbox {args.sandbox}; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    seeds = work / f"seeds_{args.tasks}.jsonl"
    write_seeds(seeds, args.tasks)
    server, url = start_server(args.latency, args.mode)
    try:
        if args.only_rss:
            args.concurrency = []
        one_seed = work / "seeds_1.jsonl"
        write_seeds(one_seed, 1)
        base = run_evolve(one_seed, work / "one_task", url, 64, args.samples, 1, args.sandbox, extra)
        print(f"  one-task run (start-up, imports, client, sandbox, dataset: what does not grow with the tasks): "
              f"{base['wall']:.1f} s wall, {base['cpu']:.2f} s CPU")
        for c in args.concurrency:
            got = run_evolve(seeds, work / f"c{c}", url, c, args.samples, 1, args.sandbox, extra)
            s = got["stats"]["rounds"][0]
            ideal = calls_per_task * args.tasks / c * args.latency
            ideal_made = s["llm_calls"] / c * args.latency
            per_task = got["cpu"] / args.tasks * 1000
            marginal = (got["cpu"] - base["cpu"]) / (args.tasks - 1) * 1000
            alone_wall, alone_cpu = client_only(url, s["llm_calls"], c)
            print(f"  concurrency {c:>3}, baseline: the LLM client alone, {s['llm_calls']} calls: {alone_wall:.1f} s wall "
                  f"= {ideal_made / alone_wall:.1%} of the ideal; CPU {alone_cpu * 1000 / s['llm_calls']:.2f} ms/call "
                  f"({alone_cpu * 1000 / args.tasks:.2f} ms/task)")
            print(f"  concurrency {c:>3}: {got['wall']:.1f} s wall = {ideal / got['wall']:.1%} of the ideal "
                  f"{ideal:.1f} s ({calls_per_task} calls x tasks); {ideal_made / got['wall']:.1%} of "
                  f"{ideal_made:.1f} s for the {s['llm_calls']} calls made; CPU {per_task:.2f} ms/task-round "
                  f"({marginal:.2f} per task beyond the one-task run); peak RSS {got['rss_mb']:.0f} MB; "
                  f"{s['passed']} kept, {s['programs']} programs; vs the client alone: {got['wall'] / alone_wall:.2f}x "
                  f"wall, {(got['cpu'] - alone_cpu) * 1000 / args.tasks:.2f} ms/task-round CPU beyond the client's")
    finally:
        server.terminate()
        server.wait()
    if args.skip_rss:
        return 0
    server, url = start_server(args.rss_latency, args.mode)
    try:
        rss = {}
        for n in args.rss_tasks:
            seeds_n = work / f"seeds_{n}.jsonl"
            write_seeds(seeds_n, n)
            got = run_evolve(seeds_n, work / f"rss_{n}", url, args.rss_concurrency, args.samples, 1, args.sandbox,
                             extra)
            rss[n] = got["rss_mb"]
            s = got["stats"]["rounds"][0]
            print(f"  {n:>7} tasks at {args.rss_latency:g} s latency, concurrency {args.rss_concurrency}: peak RSS "
                  f"{got['rss_mb']:.0f} MB; {got['wall']:.0f} s wall; CPU {got['cpu'] / n * 1000:.2f} ms/task-round "
                  f"({(got['cpu'] - base['cpu']) / (n - 1) * 1000:.2f} per task beyond the one-task run); "
                  f"{s['passed']} kept")
        if len(rss) >= 2:
            small, large = min(rss), max(rss)
            print(f"  peak RSS {large} vs {small} tasks: {rss[large] / rss[small]:.2f}x (target <= 1.5x)")
    finally:
        server.terminate()
        server.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
