"""The fake teacher, from whole evolve runs: structured vs markdown answers, plain vs reasoning teacher, and the
repair turn: parsed answers, kept tasks per evolved task, LLM tokens per kept task and kept tasks per 1k tokens.

    python benchmarks/bench_teacher.py [--matrix teacher|repair|both] [--limit 24] [--rounds 1] [--samples 2]
                                       [--fix-rate 0.5]

The teacher is the scripted sampling model behind the fake OpenAI server (real HTTP; its answers are right
only for some sampling seeds), through `TeacherStyle`. Each configuration is its own run (local sandbox, fresh
directory), all in this invocation:

- `teacher`: "plain" or "think" (a <think> block of ~80 words of drafts before each answer) x `llm.structured`
  off (markdown requests) / auto (JSON schemas, answered as JSON by the fake), no repair turns; ratios against
  the plain markdown run.
- `repair`: `evolve.repair_turns` 0 / 1 x markdown / JSON, against a teacher whose answers are right one time
  in five (`REPAIR_MIX`: wrong code with good tests, right code with wrong tests, tests that cannot fail) and
  which fixes a share `--fix-rate` of the wrong answers it is shown the failure of (`--repair-tests`: and may
  fix their tests); ratios of repair 1 against repair 0 in the same format. Target: the repair turn raises kept
  tasks per 1k tokens.

Printed per run: evolved tasks, solve answers and the share that parsed, kept tasks (and those kept by a
repair), repairs asked, LLM tokens (prompt + completion, reasoning included), kept per evolved task, tokens per
kept task, kept tasks / parsed answers per 1k tokens.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

REPAIR_MIX = ("right", "buggy", "buggy", "wrong_tests", "cannot_fail")


def draft(body: dict, answer: str) -> str:
    return ("Let me think about the task step by step. " * 8) + "Draft: " + answer[:200]


def one_run(out: Path, wire: str, structured: str, repair_turns: int, reply, args, sandbox,
            extra: tuple[str, ...] = ()) -> dict:
    from wizardcoder.config import load_config
    from wizardcoder.data.store import read_jsonl
    from wizardcoder.evolve import EvolveConfig, run_evolve
    from wizardcoder.testing.fake_server import FakeOpenAIServer
    from wizardcoder.testing.teachers import TeacherStyle

    with FakeOpenAIServer(reply=reply, teacher=TeacherStyle(wire, draft=draft)) as server:
        cfg = load_config(EvolveConfig, None, [
            f"output.dir={out}", f"seeds.limit={args.limit}", f"evolve.rounds={args.rounds}",
            f"evolve.solve_samples={args.samples}", "dataset.decontaminate=false", "output.report=false",
            f"llm.base_url={server.url}", "llm.model=fake-model", "llm.concurrency=8", f"llm.structured={structured}",
            f"evolve.repair_turns={repair_turns}", *extra])
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
    kept, evolved = totals.get("passed", 0), totals.get("evolved", 0)
    return {"wire": wire, "structured": structured, "repair_turns": repair_turns, "evolved": evolved,
            "answers": answers, "parsed_share": round(parsed / max(answers, 1), 3), "kept": kept,
            "kept_by_repair": totals.get("repairs_succeeded", 0), "repairs_asked": totals.get("repairs_asked", 0),
            "tokens": tokens, "reasoning_tokens": usage.get("reasoning_tokens", 0),
            "kept_per_evolved": round(kept / max(evolved, 1), 3),
            "tokens_per_kept": round(tokens / kept, 1) if kept else None,
            "kept_per_1k_tokens": round(1000 * kept / max(tokens, 1), 3),
            "parsed_per_1k_tokens": round(1000 * parsed / max(tokens, 1), 3)}


def teacher_matrix(tmp: Path, args, sandbox) -> None:
    from wizardcoder.testing.scripted_evolve import sampled_reply

    rows = []
    for wire in ("plain", "think"):
        for structured in ("off", "auto"):
            rows.append(one_run(tmp / f"{wire}-{structured}", wire, structured, 0, sampled_reply, args, sandbox))
            print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    for row in rows[1:]:
        print(f"{row['wire']}/{row['structured']} vs plain/off: kept {row['kept']} vs {base['kept']}, "
              f"kept per 1k tokens {row['kept_per_1k_tokens'] / max(base['kept_per_1k_tokens'], 1e-9):.2f}x, "
              f"parsed share {row['parsed_share']:.2f} vs {base['parsed_share']:.2f}")


def repair_matrix(tmp: Path, args, sandbox) -> None:
    from wizardcoder.testing.scripted_evolve import sampled_teacher

    reply = sampled_teacher(args.fix_rate, REPAIR_MIX)
    runs = {}
    for structured in ("off", "auto"):
        for turns in (0, 1):
            row = one_run(tmp / f"repair{turns}-{structured}", "plain", structured, turns, reply, args, sandbox,
                          (f"evolve.repair_tests={str(args.repair_tests).lower()}",))
            runs[(structured, turns)] = row
            print(json.dumps(row), flush=True)
    for structured in ("off", "auto"):
        before, after = runs[(structured, 0)], runs[(structured, 1)]
        label = "markdown" if structured == "off" else "json"
        print(f"{label}: repair 1 vs 0: kept {after['kept']} vs {before['kept']} of {after['evolved']} evolved "
              f"({after['kept_by_repair']} by {after['repairs_asked']} repairs), kept per evolved "
              f"{after['kept_per_evolved']:.3f} vs {before['kept_per_evolved']:.3f}, tokens per kept "
              f"{after['tokens_per_kept']} vs {before['tokens_per_kept']}, kept per 1k tokens "
              f"{after['kept_per_1k_tokens']:.3f} vs {before['kept_per_1k_tokens']:.3f} "
              f"({after['kept_per_1k_tokens'] / max(before['kept_per_1k_tokens'], 1e-9):.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--matrix", choices=("teacher", "repair", "both"), default="both")
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--fix-rate", type=float, default=0.5,
                        help="repair matrix: the share of shown failures the teacher fixes")
    parser.add_argument("--repair-tests", action="store_true",
                        help="repair matrix: evolve.repair_tests=true (a repair may fix the tests too)")
    args = parser.parse_args()

    from sandbox import create_sandbox

    with tempfile.TemporaryDirectory() as tmp, create_sandbox("local") as sandbox:
        if args.matrix in ("teacher", "both"):
            teacher_matrix(Path(tmp), args, sandbox)
        if args.matrix in ("repair", "both"):
            repair_matrix(Path(tmp), args, sandbox)


if __name__ == "__main__":
    main()
