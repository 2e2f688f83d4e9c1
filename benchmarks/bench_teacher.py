"""Structured vs markdown answers, plain vs reasoning teacher, on the fake teacher: parsed answers and kept
tasks per 1k LLM tokens, from whole evolve runs.

    python benchmarks/bench_teacher.py [--limit 24] [--rounds 1] [--samples 2]

The teacher is the scripted sampling model behind the fake OpenAI server (real HTTP; its answers are right
only for some sampling seeds), through `TeacherStyle`: "plain", or "think" (a <think> block of ~80 words of
drafts before each answer). Each configuration is its own run (local sandbox, fresh directory):
`llm.structured=off` (markdown requests) and `auto` (JSON schemas, answered as JSON by the fake). Printed per
run: evolved tasks, solve answers and the share that parsed, kept tasks, LLM tokens (prompt + completion,
reasoning included) and kept tasks / parsed answers per 1k tokens; then the ratios against the plain
markdown run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def draft(body: dict, answer: str) -> str:
    return ("Let me think about the task step by step. " * 8) + "Draft: " + answer[:200]


def one_run(out: Path, wire: str, structured: str, args, sandbox) -> dict:
    from wizardcoder.config import load_config
    from wizardcoder.data.store import read_jsonl
    from wizardcoder.evolve import EvolveConfig, run_evolve
    from wizardcoder.testing.fake_server import FakeOpenAIServer
    from wizardcoder.testing.scripted_evolve import sampled_reply
    from wizardcoder.testing.teachers import TeacherStyle

    with FakeOpenAIServer(reply=sampled_reply, teacher=TeacherStyle(wire, draft=draft)) as server:
        cfg = load_config(EvolveConfig, None, [
            f"output.dir={out}", f"seeds.limit={args.limit}", f"evolve.rounds={args.rounds}",
            f"evolve.solve_samples={args.samples}", "dataset.decontaminate=false", "output.report=false",
            f"llm.base_url={server.url}", "llm.model=fake-model", "llm.concurrency=8", f"llm.structured={structured}"])
        result = run_evolve(cfg, sandbox=sandbox)
    answers = parsed = 0
    for r in range(1, args.rounds + 1):
        for row in read_jsonl(out / "raw" / f"round_{r:03d}" / "solve.jsonl"):
            if not row.get("error"):
                answers += 1
                parsed += not row.get("drop")
    usage = result.stats["llm"]["usage"]
    tokens = usage["prompt_tokens"] + usage["completion_tokens"]
    totals = result.stats["totals"]
    kept = totals.get("passed", 0)
    return {"wire": wire, "structured": structured, "evolved": totals.get("evolved", 0), "answers": answers,
            "parsed_share": round(parsed / max(answers, 1), 3), "kept": kept, "tokens": tokens,
            "reasoning_tokens": usage.get("reasoning_tokens", 0),
            "kept_per_1k_tokens": round(1000 * kept / max(tokens, 1), 3),
            "parsed_per_1k_tokens": round(1000 * parsed / max(tokens, 1), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--samples", type=int, default=2)
    args = parser.parse_args()

    from sandbox import create_sandbox

    rows = []
    with tempfile.TemporaryDirectory() as tmp, create_sandbox("local") as sandbox:
        for wire in ("plain", "think"):
            for structured in ("off", "auto"):
                rows.append(one_run(Path(tmp) / f"{wire}-{structured}", wire, structured, args, sandbox))
                print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    for row in rows[1:]:
        print(f"{row['wire']}/{row['structured']} vs plain/off: kept {row['kept']} vs {base['kept']}, "
              f"kept per 1k tokens {row['kept_per_1k_tokens'] / max(base['kept_per_1k_tokens'], 1e-9):.2f}x, "
              f"parsed share {row['parsed_share']:.2f} vs {base['parsed_share']:.2f}")


if __name__ == "__main__":
    main()
