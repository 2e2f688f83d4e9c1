"""Yield per number of solve samples, read from one finished evolve run made with N samples per task.

    python benchmarks/evolve_yield.py RUN_DIR [--round 1]

Samples are independent draws (each its own sampling seed), so the first k of a task's N samples are
what a run with `evolve.solve_samples=k` draws for it (same keys, same seeds on an endpoint). Every
solution ran against every test set, so the k x k corner of each task's matrix holds all the verdicts a
k-sample run needs; selection runs on it exactly as in the pipeline (evolve/selection.py): kept =
the chosen pair passed, its tests can fail, and its pass rate is inside the run's window. Printed per
k: kept tasks per evolved task, LLM tokens and sandbox seconds per kept task (identical programs ran
once in the N-sample run, so a k-sample run's sandbox seconds can be slightly higher than shown).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from wizardcoder.data.store import read_jsonl
from wizardcoder.evolve.selection import choose


def yields(run: Path, r: int = 1) -> list[dict]:
    raw = run / "raw" / f"round_{r:03d}"
    evolve_tokens = {}
    evolved = 0
    for row in read_jsonl(raw / "evolve.jsonl"):
        if row.get("error"):
            continue
        evolved += 1
        evolve_tokens[row["task_id"]] = (row.get("prompt_tokens") or 0) + (row.get("completion_tokens") or 0)
    solves: dict[str, dict[int, dict]] = defaultdict(dict)
    for row in read_jsonl(raw / "solve.jsonl"):
        if not row.get("error"):
            solves[row["task_id"]][row["sample"]] = row
    pairs: dict[str, dict[tuple[int, int], dict]] = defaultdict(dict)
    for row in read_jsonl(raw / "exec.jsonl"):
        pairs[row["task_id"]][tuple(row["pair"])] = row
    n = max((len(s) for s in solves.values()), default=0)
    window = (0.0, 1.0)
    config = run / "config.yaml"
    if config.exists():
        import yaml

        section = (yaml.safe_load(config.read_text()) or {}).get("evolve", {})
        window = (section.get("min_pass_rate", 0.0), section.get("max_pass_rate", 1.0))
    out = []
    k = 1
    while k <= n:
        kept = tokens = 0
        seconds = 0.0
        for task, samples in solves.items():
            tokens += evolve_tokens.get(task, 0)
            sub = {i: samples[i] for i in range(k) if i in samples}
            tokens += sum((s.get("prompt_tokens") or 0) + (s.get("completion_tokens") or 0) for s in sub.values())
            parsed = [i for i, s in sub.items() if not s.get("drop")]
            verdicts = {p: v for p, v in pairs[task].items() if p[0] < k and p[1] < k}
            seconds += sum(v.get("duration") or 0.0 for v in verdicts.values())
            choice = choose(k, parsed, {j: sub[j]["tests"] for j in parsed},
                            {p: v.get("status") == "passed" for p, v in verdicts.items()})
            if choice is None:
                continue
            if verdicts[(choice.solution, choice.tests)]["reason"] == "passed" and \
                    window[0] <= choice.pass_rate <= window[1]:
                kept += 1
        tokens += sum(t for task, t in evolve_tokens.items() if task not in solves)
        out.append({"samples": k, "evolved": evolved, "kept": kept,
                    "kept_per_evolved": kept / evolved if evolved else 0.0,
                    "tokens_per_kept": tokens / kept if kept else None,
                    "sandbox_seconds_per_kept": seconds / kept if kept else None,
                    "tokens": tokens, "sandbox_seconds": seconds})
        k *= 2
    return out  # k = 1, 2, 4, ... up to N


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("--round", type=int, default=1)
    args = p.parse_args()
    for y in yields(args.run, args.round):
        tpk = "-" if y["tokens_per_kept"] is None else f"{y['tokens_per_kept']:.0f}"
        spk = "-" if y["sandbox_seconds_per_kept"] is None else f"{y['sandbox_seconds_per_kept']:.2f}"
        print(f"n={y['samples']}: kept {y['kept']}/{y['evolved']} evolved ({y['kept_per_evolved']:.1%}); "
              f"{tpk} LLM tokens and {spk} sandbox s per kept task")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
