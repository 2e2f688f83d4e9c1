"""An overloaded small server: adaptive concurrency against a fixed one, in the same run.

    python benchmarks/bench_overload.py            # ~1-2 minutes
    python benchmarks/bench_overload.py --quick    # fewer requests

The fake OpenAI server plays a self-hosted one (llama.cpp with --parallel 4): `--slots` requests are served at
once, the others queue first come first served, each reply word takes `--token-seconds`, and a request whose
client times out is dropped (its partial work wasted, as llama.cpp cancels it). The client sends `--requests`
requests at `--concurrency` in flight with `llm.timeout` `--timeout`, first with adaptive concurrency, then with
it off (`llm.adaptive_concurrency=false`). The timeout is scaled down with the reply time: 0.5 s replies and a
2 s timeout stand for 30 s replies and the default 120 s.

Figures per mode: wall time (and the ideal, every slot always busy: requests x mean reply time / slots),
timed-out attempts (the wasted ones), requests dropped by the server, requests that failed for good,
retries, and the concurrency each endpoint ended at.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

from wizardcoder.llm import Request
from wizardcoder.llm.openai_client import OpenAIClient
from wizardcoder.testing.fake_server import FakeOpenAIServer, body_text


def reply_words(text: str, low: int, high: int) -> int:
    """A reply length in [low, high] that is the same for a prompt in every mode."""
    return low + int(hashlib.blake2b(text.encode(), digest_size=4).hexdigest(), 16) % (high - low + 1)


def run(args: argparse.Namespace, adaptive: bool) -> dict:
    def reply(body: dict) -> str:
        return " ".join(["word"] * reply_words(body_text(body), args.min_words, args.max_words))

    texts = [f"task {i}: write a function that returns {i}" for i in range(args.requests)]
    ideal = sum(reply_words(t, args.min_words, args.max_words) for t in texts) * args.token_seconds / args.slots
    with FakeOpenAIServer(reply, slots=args.slots, token_seconds=args.token_seconds) as server:
        with OpenAIClient(server.url, "fake-model", concurrency=args.concurrency, timeout=args.timeout,
                          adaptive_concurrency=adaptive, backoff_base=0.25, backoff_cap=2.0, seed=0,
                          status_interval=0) as client:
            started = time.perf_counter()
            results = [c for _, c in client.generate(Request.from_text(t, max_tokens=128) for t in texts)]
            seconds = time.perf_counter() - started
            usage = client.usage
        per = next(iter(usage.endpoints.values()))
        return {
            "mode": "adaptive" if adaptive else "fixed",
            "seconds": seconds,
            "ideal": ideal,
            "ok": sum(c.ok for c in results),
            "failed": sum(c.error is not None for c in results),
            "timeouts": per["timeouts"],
            "dropped": server.cancelled,
            "retries": usage.retries,
            "concurrency": per["concurrency"],
            "max_active": server.max_active,
            "max_queued": server.max_concurrent,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=160)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--token-seconds", type=float, default=0.01)
    parser.add_argument("--min-words", type=int, default=30)
    parser.add_argument("--max-words", type=int, default=70)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.requests = 64
    print(f"{args.requests} requests at concurrency {args.concurrency} against {args.slots} slots, "
          f"{args.token_seconds * 1000:g} ms per word ({args.min_words}-{args.max_words} words), llm.timeout "
          f"{args.timeout:g}s; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'mode':>9} {'seconds':>8} {'ideal':>6} {'vs ideal':>8} {'ok':>4} {'failed':>6} {'timed out':>9} "
          f"{'dropped':>7} {'retries':>7} {'end limit':>9} {'most queued':>11}")
    rows = []
    for adaptive in (True, False):
        row = run(args, adaptive)
        rows.append(row)
        print(f"{row['mode']:>9} {row['seconds']:>8.1f} {row['ideal']:>6.1f} {row['seconds'] / row['ideal']:>7.2f}x "
              f"{row['ok']:>4} {row['failed']:>6} {row['timeouts']:>9} {row['dropped']:>7} {row['retries']:>7} "
              f"{row['concurrency']:>9} {row['max_queued']:>11}", flush=True)
    adaptive, fixed = rows
    print(f"adaptive vs fixed: wall time {adaptive['seconds'] / fixed['seconds']:.2f}x, timed-out attempts "
          f"{adaptive['timeouts']} vs {fixed['timeouts']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
