"""Benchmark the OpenAI-compatible client against the fake server (1 s simulated latency per call).

    python benchmarks/bench_llm_client.py            # ~2 minutes
    python benchmarks/bench_llm_client.py --quick    # fewer rounds, 2k-request memory run

1. Throughput at concurrency 1, 16, 64, 256 as a fraction of the ideal (concurrency / latency),
   each run long enough for `--rounds` full waves. Target: >= 90% of ideal at 64.
2. Memory while streaming `--stream` requests (default 10k) at concurrency 256 from a lazy
   generator: RSS at 1k / 5k / 10k completions must stay flat (bounded in-flight, nothing piles up).

The server runs in a separate process, so the client's CPU and memory are measured alone.

    python benchmarks/bench_llm_client.py --endpoints 2   # also: the same load spread over 2 servers
                                                           # (llm.base_url as a list), against 1 server

    python benchmarks/bench_llm_client.py --embedded   # CPU tokens/s of the embedded SmolLM2, batch 1 and 8
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

from wizardcoder.llm import Request
from wizardcoder.llm.openai_client import OpenAIClient


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process (the server), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wizardcoder.testing.fake_server", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"fake server did not start: {line!r}")
    return proc, line.split()[-1]


def requests(n: int, tag: str):
    for i in range(n):
        yield Request.from_text(f"{tag} request {i}: write a function that returns {i}", max_tokens=64)


def throughput(url: str | list[str], server_pids: int | list[int], concurrency: int, n: int, latency: float
               ) -> dict:
    pids = server_pids if isinstance(server_pids, list) else [server_pids]
    with OpenAIClient(url, "fake-model", concurrency=concurrency, timeout=30) as client:
        client.complete(Request.from_text("warm-up"))  # start the loop thread, open a connection
        cpu0, server0, t0 = cpu_s(), sum(map(proc_cpu_s, pids)), time.perf_counter()
        done = sum(1 for _, c in client.generate(requests(n, f"c{concurrency}")) if c.ok)
        elapsed = time.perf_counter() - t0
        cpu, server_cpu = cpu_s() - cpu0, sum(map(proc_cpu_s, pids)) - server0
    rate = done / elapsed
    ideal = concurrency / latency
    return {
        "concurrency": concurrency,
        "requests": n,
        "ok": done,
        "seconds": elapsed,
        "req_per_s": rate,
        "ideal": ideal,
        "fraction": rate / ideal,
        "cpu_ms_per_req": 1000 * cpu / max(done, 1),
        "server_cpu_ms_per_req": 1000 * server_cpu / max(done, 1),
    }


def memory(url: str, concurrency: int, n: int) -> dict:
    checkpoints = sorted({1000, n // 2, n} if n >= 2000 else {n // 4, n // 2, n})
    marks: dict[int, float] = {}
    with OpenAIClient(url, "fake-model", concurrency=concurrency, timeout=30) as client:
        client.complete(Request.from_text("warm-up"))
        before = rss_mb()
        t0 = time.perf_counter()
        done = 0
        for _, completion in client.generate(requests(n, "mem")):
            done += 1
            if done in checkpoints:
                marks[done] = rss_mb()
        elapsed = time.perf_counter() - t0
    return {
        "before": before,
        "marks": marks,
        "seconds": elapsed,
        "requests": done,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


EMBEDDED_TASKS = [
    "Write a Python function that checks whether a number is prime, and explain how it works.",
    "Write a Python function that reverses a linked list, with comments.",
    "Explain the difference between a list and a tuple in Python, with examples.",
    "Write a function that returns the n-th Fibonacci number iteratively, then explain its complexity.",
    "Write a Python class for a stack with push, pop and peek, and show how to use it.",
    "Write a function that counts the words in a string, and give three test cases.",
    "Explain what a hash map is and write a tiny one in Python.",
    "Write a Python function that merges two sorted lists into one sorted list, and explain it.",
]


def embedded_speed(max_tokens: int, threads: list[int]) -> None:
    import torch

    from wizardcoder.llm.embedded import create_embedded_client

    t0 = time.perf_counter()
    client = create_embedded_client(device="cpu", batch_size=8)
    print(
        f"embedded SmolLM2-135M-Instruct loaded in {time.perf_counter() - t0:.1f}s "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(f"{'threads':>7} {'batch':>5} {'tokens':>7} {'seconds':>8} {'tokens/s':>9}")
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        client.complete(Request.from_text("hi", max_tokens=4, temperature=0))  # warm-up
        for batch in (1, 8):
            requests_ = [
                Request.from_text(t, max_tokens=max_tokens, temperature=0) for t in EMBEDDED_TASKS[:batch]
            ]
            client.batch_size = batch
            t0 = time.perf_counter()
            tokens = sum(c.completion_tokens for _, c in client.generate(requests_))
            elapsed = time.perf_counter() - t0
            print(
                f"{n_threads:>7} {batch:>5} {tokens:>7} {elapsed:>8.2f} {tokens / elapsed:>9.1f}", flush=True
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5, help="full waves per concurrency level")
    parser.add_argument("--stream", type=int, default=10_000, help="requests in the memory run (0: skip it)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--endpoints", type=int, default=1,
                        help="N > 1: also run 64 and 256 in flight spread over N servers, beside 1 server")
    parser.add_argument(
        "--embedded", action="store_true", help="measure the embedded model's CPU speed instead"
    )
    parser.add_argument("--max-tokens", type=int, default=64, help="tokens per request (--embedded)")
    parser.add_argument("--threads", default="1,2", help="torch thread counts to try (--embedded)")
    args = parser.parse_args()
    if args.embedded:
        embedded_speed(args.max_tokens, [int(t) for t in args.threads.split(",")])
        return 0
    if args.quick:
        args.rounds, args.stream = 3, 2000
    proc, url = start_server(args.latency)
    try:
        print(
            f"fake server {url}, latency {args.latency:g}s; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        )
        print(
            f"\n{'concurrency':>11} {'requests':>8} {'seconds':>8} {'req/s':>8} {'ideal':>7} {'% ideal':>8} "
            f"{'client CPU ms/req':>18} {'server CPU ms/req':>18}"
        )
        rows = []
        for concurrency in (1, 16, 64, 256):
            row = throughput(url, proc.pid, concurrency, concurrency * args.rounds, args.latency)
            rows.append(row)
            print(
                f"{row['concurrency']:>11} {row['requests']:>8} {row['seconds']:>8.2f} {row['req_per_s']:>8.1f} "
                f"{row['ideal']:>7.0f} {100 * row['fraction']:>7.1f}% {row['cpu_ms_per_req']:>18.2f} "
                f"{row['server_cpu_ms_per_req']:>18.2f}",
                flush=True,
            )
        at64 = next(r for r in rows if r["concurrency"] == 64)["fraction"]
        print(
            f"target >= 90% of ideal at concurrency 64: {'PASS' if at64 >= 0.9 else 'FAIL'} ({100 * at64:.1f}%)"
        )
        if args.endpoints > 1:
            many_endpoints(args, [url], [proc.pid], rows)

        if args.stream <= 0:
            return 0
        mem = memory(url, 256, args.stream)
        print(
            f"\nmemory, {mem['requests']} requests streamed at concurrency 256 in {mem['seconds']:.1f}s "
            f"({mem['requests'] / mem['seconds']:.0f} req/s):"
        )
        print(f"{'completed':>10} {'RSS MB':>8} {'growth MB':>10}")
        print(f"{0:>10} {mem['before']:>8.1f} {0:>10.1f}")
        for done, value in sorted(mem["marks"].items()):
            print(f"{done:>10} {value:>8.1f} {value - mem['before']:>10.1f}")
        first, last = min(mem["marks"]), max(mem["marks"])
        print(
            f"growth from {first} to {last} completions: {mem['marks'][last] - mem['marks'][first]:+.1f} MB; "
            f"peak RSS {mem['peak_rss_mb']:.0f} MB"
        )
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


def many_endpoints(args: argparse.Namespace, urls: list[str], pids: list[int], single: list[dict]) -> None:
    """The same concurrency spread over `--endpoints` servers: the routing's cost against one server."""
    extra = [start_server(args.latency) for _ in range(args.endpoints - 1)]
    try:
        urls = urls + [u for _, u in extra]
        pids = pids + [p.pid for p, _ in extra]
        print(f"\nspread over {len(urls)} endpoints (least-loaded routing):")
        for concurrency in (64, 256):
            row = throughput(urls, pids, concurrency, concurrency * args.rounds, args.latency)
            one = next(r for r in single if r["concurrency"] == concurrency)
            print(
                f"{concurrency:>11} {row['requests']:>8} {row['seconds']:>8.2f} {row['req_per_s']:>8.1f} "
                f"{row['ideal']:>7.0f} {100 * row['fraction']:>7.1f}% {row['cpu_ms_per_req']:>18.2f} "
                f"{row['server_cpu_ms_per_req']:>18.2f}   (1 endpoint: {100 * one['fraction']:.1f}%, "
                f"{one['cpu_ms_per_req']:.2f} ms/req)",
                flush=True,
            )
    finally:
        for proc, _ in extra:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    raise SystemExit(main())
