"""report.md for an evolve run, with two plots: instruction length per round (a difficulty proxy)
and why evolutions were dropped, per round. Built from stats.json alone."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from wizardcoder.evolve.rundir import RunDir

log = logging.getLogger(__name__)


def write_report(run: RunDir, stats: dict[str, Any], cfg: Any = None) -> Path:
    plots = _plots(run.root / "plots", stats)
    rounds = stats["rounds"]
    totals = stats["totals"]
    dataset = stats.get("dataset") or {}
    llm = stats["llm"]
    model = llm["provider"] + (f" `{llm['model']}`" if llm.get("model") else "")
    model += f" at {llm['base_url']}" if llm.get("base_url") else ""
    cost = f"; cost ${totals['cost']:.4f}" if totals.get("cost") is not None else ""
    lines = [
        f"# Evolve run `{Path(stats['run_dir']).name}`",
        "",
        f"- language: **{stats['lang']}**; seeds: `{stats['seeds_source']}` ({totals['seeds']} tasks)",
        f"- model: {model}",
        f"- rounds done: {len(rounds)}; evolved {totals.get('evolved', 0)}, passed in the sandbox "
        f"{totals.get('passed', 0)} ({totals.get('pass_rate', 0):.0%}), "
        f"infrastructure errors {totals.get('infra_error', 0)}",
        f"- tokens: {totals.get('prompt_tokens', 0)} prompt + {totals.get('completion_tokens', 0)} completion{cost}",
        f"- dataset: **{dataset.get('rows', 0)} rows** ({dataset.get('seeds', 0)} seeds, "
        f"{dataset.get('evolved', 0)} evolved); dropped when building: {_fmt(dataset.get('dropped') or {}) or 'none'}",
        "",
        ("Files: `dataset/` (load with `datasets.load_from_disk`), `dataset.jsonl`, `records.jsonl` (every "
         "evolution with lineage, verdict and reason), `verdicts.jsonl` (sandbox results with the code they "
         "judged), `raw/` (every LLM output, keyed), `stats.json`, `config.yaml`."),
        "",
        "## Per round",
        "",
        ("| round | pool | evolved | passed | pass rate | infra errors | mean words (evolved) "
         "| mean words (pool) | tokens | dropped |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| 0 (seeds) | {totals['seeds']} | | | | | | {totals.get('seed_mean_instruction_words', 0):.1f} | | |",
    ]
    for s in rounds:
        lines.append(
            f"| {s['round']} | {s['pool']} | {s['evolved']} | {s['passed']} | {s['pass_rate']:.0%} | "
            f"{s['infra_error']} | {s['mean_instruction_words']:.1f} | {s['mean_pool_instruction_words']:.1f} | "
            f"{s['prompt_tokens'] + s['completion_tokens']} | {_fmt(s['dropped']) or '-'} |")
    lines += ["", "## Methods", "", "| round | " + " | ".join(_methods(rounds)) + " |",
              "|---:|" + "---:|" * len(_methods(rounds))]
    for s in rounds:
        cells = [f"{s['passed_by_method'].get(m, 0)}/{s['methods'].get(m, 0)}" for m in _methods(rounds)]
        lines.append(f"| {s['round']} | " + " | ".join(cells) + " |")
    lines += ["", "(passed / chosen)", ""]
    for title, path in plots:
        lines += [f"## {title}", "", f"![{title}]({path.relative_to(run.root).as_posix()})", ""]
    lines += [
        "## Drop reasons",
        "",
        "- `too_short`, `refusal`, `punctuation_only`, `leaked_template`, `copied_parent`: heuristic rules on the "
        "evolved instruction; `no_information_gain`: the LLM judge found it equal to its parent;",
        "- `no_solution`, `no_tests`: the solve answer had no readable code or no tests;",
        "- `failed`, `timeout`, `compile_error`, `no_asserts`: the code ran in the sandbox and did not pass;",
        "- `infra_error` (not a drop): the endpoint or the sandbox broke; the parent was kept.",
        "",
    ]
    run.report_path.write_text("\n".join(lines), encoding="utf-8")
    return run.report_path


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _methods(rounds: list[dict[str, Any]]) -> list[str]:
    names: set[str] = set()
    for s in rounds:
        names.update(s["methods"])
    return sorted(names)


def _plots(folder: Path, stats: dict[str, Any]) -> list[tuple[str, Path]]:
    rounds = stats["rounds"]
    if not rounds:
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a core dependency
        log.warning("matplotlib is not installed: report.md has no plots")
        return []
    folder.mkdir(parents=True, exist_ok=True)
    out: list[tuple[str, Path]] = []

    xs = [0] + [s["round"] for s in rounds]
    pool = [stats["totals"].get("seed_mean_instruction_words", 0.0)]
    pool += [s["mean_pool_instruction_words"] for s in rounds]
    evolved = [None] + [s["mean_instruction_words"] or None for s in rounds]
    passed = [None] + [s["mean_passed_instruction_words"] or None for s in rounds]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(xs, pool, marker="o", label="pool (after the round)")
    ax.plot(xs, [v if v is not None else float("nan") for v in evolved], marker="s", label="all evolved")
    ax.plot(xs, [v if v is not None else float("nan") for v in passed], marker="^", label="passed")
    ax.set_xlabel("round")
    ax.set_ylabel("mean instruction length (words)")
    ax.set_xticks(xs)
    ax.legend()
    ax.set_title("Instruction length per round (difficulty proxy)")
    fig.tight_layout()
    path = folder / "instruction_length.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    out.append(("Instruction length per round", path))

    reasons = sorted({r for s in rounds for r in s["dropped"]})
    if any(s["infra_error"] for s in rounds):
        reasons.append("infra_error")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    rxs = [s["round"] for s in rounds]
    ax.bar(rxs, [s["passed"] for s in rounds], label="passed", color="tab:green")
    bottoms = [s["passed"] for s in rounds]
    colors = ["tab:blue", "tab:orange", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray", "tab:olive",
              "tab:cyan"]  # green means passed
    for i, reason in enumerate(reasons):
        values = [s["infra_error"] if reason == "infra_error" else s["dropped"].get(reason, 0) for s in rounds]
        ax.bar(rxs, values, bottom=bottoms, label=reason, color=colors[i % len(colors)],
               hatch="//" if i >= len(colors) else None)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    ax.set_xlabel("round")
    ax.set_ylabel("tasks")
    ax.set_xticks(rxs)
    ax.set_title("Outcome of each evolution, per round")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    path = folder / "drop_reasons.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    out.append(("Outcomes and drop reasons per round", path))
    return out
