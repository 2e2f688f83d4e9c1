"""Structured vs markdown answers from the embedded model (SmolLM2-135M on the CPU): does constrained decoding
(xgrammar, `wizardcoder/llm/constrained.py`) raise the share of answers that parse, and of those that pass?

    python benchmarks/bench_structured_embedded.py [--limit 8] [--samples 2] [--max-tokens 320]

The solve prompt of each built-in Python seed task (what the first evolve round's solve step asks, on tasks
that are not evolved yet), `--samples` seeded draws each, once without a schema (the markdown answer,
parsed as evolve parses it) and once with `SOLVE_SCHEMA` enforced token by token (the JSON answer, read by
`evolve/structured.py`). Every parsed (solution, tests) pair runs in the local sandbox with the mutation
check; "kept" = it passes. Printed per mode: parsed share, kept share, completion tokens, kept and parsed
answers per 1k completion tokens, seconds; and the ratios structured / markdown.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_mode(client, prompts, lang: str, schema, samples: int, max_tokens: int, sandbox) -> dict:
    from wizardcoder.eliminate.checks import ExecutionCheck
    from wizardcoder.eliminate.verify import verify
    from wizardcoder.evolve.parsing import ParsedSolution
    from wizardcoder.evolve.structured import parse_solution_answer
    from wizardcoder.llm import Request

    requests = [Request.from_text(p, max_tokens=max_tokens, temperature=0.7, seed=1000 + k, response_format=schema)
                for p in prompts for k in range(samples)]
    before = client.usage.completion_tokens
    started = time.perf_counter()
    completions = dict(client.generate(requests))
    seconds = time.perf_counter() - started
    tokens = client.usage.completion_tokens - before
    parsed, checks = 0, []
    for index in range(len(requests)):
        answer, _ = parse_solution_answer(completions[index].text, lang)
        if isinstance(answer, ParsedSolution):
            parsed += 1
            checks.append(ExecutionCheck(f"a{index}", lang, answer.solution, answer.tests, answer.entry_point))
    kept = sum(v.ok for v in verify(sandbox, checks))
    n = len(requests)
    return {"answers": n, "parsed": parsed, "kept": kept, "parsed_share": parsed / n, "kept_share": kept / n,
            "completion_tokens": tokens, "parsed_per_1k_tokens": 1000 * parsed / max(tokens, 1),
            "kept_per_1k_tokens": 1000 * kept / max(tokens, 1), "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=8, help="seed tasks")
    parser.add_argument("--samples", type=int, default=2, help="draws per task and mode")
    parser.add_argument("--max-tokens", type=int, default=320, help="the embedded model's solve limit (default 320)")
    args = parser.parse_args()

    from sandbox import create_sandbox
    from wizardcoder.evolve.prompts import load_prompts
    from wizardcoder.evolve.structured import SOLVE_SCHEMA
    from wizardcoder.llm.embedded import create_embedded_client
    from wizardcoder.llm.transformers_client import resolve_device

    seeds = [json.loads(line) for line in (REPO / "wizardcoder/evolve/seeds/python.jsonl").read_text().splitlines()]
    prompts = [load_prompts("python").solve_prompt(s["instruction"]) for s in seeds[: args.limit]]
    client = create_embedded_client(device=resolve_device("auto"), constrained=True)
    results = {}
    with create_sandbox("local", workers=2) as sandbox:
        for mode, schema in (("markdown", None), ("structured", SOLVE_SCHEMA)):
            results[mode] = run_mode(client, prompts, "python", schema, args.samples, args.max_tokens, sandbox)
            print(mode, json.dumps(results[mode]), flush=True)
    md, st = results["markdown"], results["structured"]
    for key in ("parsed_share", "kept_share", "parsed_per_1k_tokens", "kept_per_1k_tokens", "seconds"):
        ratio = st[key] / md[key] if md[key] else float("inf") if st[key] else 1.0
        print(f"structured / markdown {key}: {st[key]:.3g} / {md[key]:.3g} = {ratio:.2f}x")


if __name__ == "__main__":
    main()
