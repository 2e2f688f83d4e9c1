"""The numbers of an evolve run: each round's counters (`RoundStats`, kept in the round's marker), the
run's stats.json (`run_stats`), and report.md with two plots: instruction length per round (a
difficulty proxy) and why evolutions were dropped, per round (built from stats.json alone).

The yield with and without repair turns comes from one run: a repair is only asked for a task whose own
samples all failed, so "without" is the run less the tasks kept by a repair and less the repair calls' tokens
(exact within a round; later rounds evolve the pool the repairs left)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from wizardcoder.data.store import read_jsonl
from wizardcoder.evolve.config import EvolveConfig, run_fingerprint
from wizardcoder.evolve.rundir import RunDir
from wizardcoder.evolve.seed_loader import describe_source
from wizardcoder.reasons import OUTCOME, Reason, TaskVerdict
from wizardcoder.records import TaskRecord

log = logging.getLogger(__name__)


class RoundStats:
    """Counters of one round, accumulated while its files are streamed."""

    def __init__(self, r: int, cfg: EvolveConfig):
        self.round = r
        self.cfg = cfg
        self.pool_in = 0
        self.n_evolved = 0
        self.llm_calls = 0
        self.llm_failed_calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.reasoning_tokens = 0  # part of completion_tokens: a reasoning model's thinking
        self.methods: Counter[str] = Counter()
        self.passed_methods: Counter[str] = Counter()
        self.verdicts: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.evolved_words = _Mean()
        self.passed_words = _Mean()
        self.pool_words_total = 0
        self.executed = 0
        self.seconds = 0.0
        self.samples = 0  # solve answers
        self.samples_parsed = 0
        self.salvaged = 0  # answers cut by the token limit whose complete test statements were kept
        self.programs = 0  # programs run in the sandbox (identical ones once)
        self.sandbox_seconds = 0.0
        self.pass_rates: Counter[str] = Counter()  # chosen pairs' pass rate -> tasks
        self.repairs_asked = 0  # repair turns answered (evolve/repair.py)
        self.repairs_parsed = 0  # ... whose answer held a solution
        self.repair_tasks = 0  # tasks that got at least one
        self.repairs_succeeded = 0  # tasks kept thanks to one
        self.repair_tokens = 0  # prompt + completion tokens of the repair calls

    def row(self, step: str, row: dict[str, Any]) -> None:
        """Count one row of a round's step file (evolve, judge, solve, repair, exec, select)."""
        if step in ("evolve", "judge", "solve", "repair"):
            if row.get("error"):  # an infrastructure failure, asked again: counted apart from the calls
                self.llm_failed_calls += 1
            else:
                self.llm_calls += 1
            self.prompt_tokens += int(row.get("prompt_tokens") or 0)
            self.completion_tokens += int(row.get("completion_tokens") or 0)
            self.reasoning_tokens += int(row.get("reasoning_tokens") or 0)
            if row.get("error"):
                return
        if step == "evolve" and not row.get("rejected"):
            self.n_evolved += 1
            self.methods[row["method"]] += 1
        elif step == "solve":
            self.samples += 1
            self.samples_parsed += not row.get("drop")
            self.salvaged += bool(row.get("salvaged"))
        elif step == "repair":
            self.repairs_asked += 1
            self.repairs_parsed += not row.get("drop")
            self.repair_tokens += int(row.get("prompt_tokens") or 0) + int(row.get("completion_tokens") or 0)
        elif step == "exec":
            self.programs += bool(row.get("duration"))
            self.sandbox_seconds += float(row.get("duration") or 0.0)
        elif step == "select":
            self.executed += bool(row.get("n_candidates"))
            if "chosen" in row:
                self.pass_rates[f"{row['pass_rate']:.2f}"] += 1
            self.repair_tasks += bool(row.get("repair_turns"))

    def add(self, record: TaskRecord, parent: dict[str, Any]) -> None:
        self.verdicts[record.verdict] += 1
        words = len(record.instruction.split())
        if record.verdict == TaskVerdict.DROPPED:
            self.dropped[record.reason] += 1
        if record.verdict == TaskVerdict.PASSED:
            self.repairs_succeeded += bool(record.repaired)
            self.passed_words.add(words)
            self.passed_methods[record.method or "?"] += 1
            self.pool_words_total += words
        else:
            self.pool_words_total += len(parent["instruction"].split())
        if record.verdict != TaskVerdict.INFRA_ERROR:
            self.evolved_words.add(words)

    def as_dict(self) -> dict[str, Any]:
        llm = self.cfg.llm
        cost = None
        if llm.price_per_1k_prompt is not None or llm.price_per_1k_completion is not None:
            cost = (self.prompt_tokens * (llm.price_per_1k_prompt or 0.0)
                    + self.completion_tokens * (llm.price_per_1k_completion or 0.0)) / 1000.0
        passed = self.verdicts[TaskVerdict.PASSED]
        tokens = self.prompt_tokens + self.completion_tokens
        unrepaired = passed - self.repairs_succeeded
        return {
            "round": self.round, "pool": self.pool_in, "evolved": self.n_evolved, "executed": self.executed,
            "passed": passed, "infra_error": self.verdicts[TaskVerdict.INFRA_ERROR],
            "dropped": dict(sorted(self.dropped.items())),
            "pass_rate": passed / self.n_evolved if self.n_evolved else 0.0,
            "methods": dict(sorted(self.methods.items())),
            "passed_by_method": dict(sorted(self.passed_methods.items())),
            "llm_calls": self.llm_calls, "llm_failed_calls": self.llm_failed_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens, "reasoning_tokens": self.reasoning_tokens, "cost": cost,
            "mean_instruction_words": self.evolved_words.value,
            "mean_passed_instruction_words": self.passed_words.value,
            "mean_pool_instruction_words": self.pool_words_total / self.pool_in if self.pool_in else 0.0,
            "solve_samples": self.cfg.evolve.solve_samples, "samples": self.samples,
            "samples_parsed": self.samples_parsed, "salvaged": self.salvaged,
            "programs": self.programs, "sandbox_seconds": round(self.sandbox_seconds, 3),
            "pass_rate_histogram": dict(sorted(self.pass_rates.items())),
            "tokens_per_kept": tokens / passed if passed else None,
            "repairs_asked": self.repairs_asked, "repairs_parsed": self.repairs_parsed,
            "repair_tasks": self.repair_tasks, "repairs_succeeded": self.repairs_succeeded,
            "repair_tokens": self.repair_tokens, "kept_without_repair": unrepaired,
            "tokens_per_kept_without_repair": (tokens - self.repair_tokens) / unrepaired if unrepaired else None,
            "sandbox_seconds_per_kept": round(self.sandbox_seconds / passed, 4) if passed else None,
            "seconds": round(self.seconds, 3),
        }


class _Mean:
    def __init__(self) -> None:
        self.total = 0.0
        self.n = 0

    def add(self, value: float) -> None:
        self.total += value
        self.n += 1

    @property
    def value(self) -> float:
        return self.total / self.n if self.n else 0.0


def run_stats(run: RunDir, cfg: EvolveConfig, dataset: dict[str, Any]) -> dict[str, Any]:
    """stats.json of an evolve run: the rounds' own stats (from their markers) and their totals."""
    rounds = [s for s in (run.round_stats(r) for r in range(1, cfg.evolve.rounds + 1)) if s is not None]
    seed_words = _Mean()
    for row in read_jsonl(run.pool_path(0)):
        seed_words.add(len(row["instruction"].split()))
    totals: dict[str, Any] = {"seeds": seed_words.n, "seed_mean_instruction_words": seed_words.value}
    dropped: Counter[str] = Counter()
    for s in rounds:
        dropped.update(s["dropped"])
        for key in ("evolved", "passed", "infra_error", "prompt_tokens", "completion_tokens", "reasoning_tokens",
                    "llm_calls", "llm_failed_calls", "samples", "salvaged", "programs", "sandbox_seconds",
                    "repairs_asked", "repairs_parsed", "repair_tasks", "repairs_succeeded", "repair_tokens"):
            totals[key] = totals.get(key, 0) + s.get(key, 0)
        if s.get("cost") is not None:
            totals["cost"] = totals.get("cost", 0.0) + s["cost"]
    totals["dropped"] = dict(sorted(dropped.items()))
    totals["pass_rate"] = (totals.get("passed", 0) / totals["evolved"]) if totals.get("evolved") else 0.0
    kept = totals.get("passed", 0)
    tokens = totals.get("prompt_tokens", 0) + totals.get("completion_tokens", 0)
    totals["cost_per_kept_task"] = {  # what one verified evolved task cost
        "llm_tokens": round(tokens / kept, 1) if kept else None,
        "sandbox_seconds": round(totals.get("sandbox_seconds", 0.0) / kept, 4) if kept else None,
    }
    totals["yield"] = {"with_repair": _yield(totals.get("evolved", 0), kept, tokens),
                       "without_repair": _yield(totals.get("evolved", 0), kept - totals.get("repairs_succeeded", 0),
                                                tokens - totals.get("repair_tokens", 0))}
    return {
        "stage": "evolve", "run_dir": str(run.root), "fingerprint": run_fingerprint(cfg),
        "lang": cfg.evolve.lang, "seeds_source": describe_source(cfg.seeds),
        "llm": {"provider": cfg.llm.resolved_provider(), "model": cfg.llm.model, "base_url": cfg.llm.base_url},
        "rounds": rounds, "totals": totals, "dataset": dataset,
    }


def _yield(evolved: int, kept: int, tokens: int) -> dict[str, Any]:
    return {"kept": kept, "kept_per_evolved": round(kept / evolved, 4) if evolved else None,
            "tokens_per_kept": round(tokens / kept, 1) if kept else None,
            "kept_per_1k_tokens": round(1000 * kept / tokens, 4) if tokens else None}


def write_report(run: RunDir, stats: dict[str, Any], cfg: Any = None) -> Path:
    plots = _plots(run.root / "plots", stats)
    rounds = stats["rounds"]
    totals = stats["totals"]
    dataset = stats.get("dataset") or {}
    llm = stats["llm"]
    model = llm["provider"] + (f" `{llm['model']}`" if llm.get("model") else "")
    urls = llm.get("base_url") or []
    model += f" at {', '.join([urls] if isinstance(urls, str) else urls)}" if urls else ""
    cost = f"; cost ${totals['cost']:.4f}" if totals.get("cost") is not None else ""
    evolved = totals.get("evolved", 0)
    lines = [
        f"# Evolve run `{Path(stats['run_dir']).name}`",
        "",
        f"- language: **{stats['lang']}**; seeds: `{stats['seeds_source']}` ({totals['seeds']} tasks)",
        f"- model: {model}",
        (f"- rounds done: {len(rounds)}; evolved {evolved}, passed in the sandbox {totals.get('passed', 0)} "
         f"({_share(totals.get('pass_rate'), evolved)}), infrastructure errors {totals.get('infra_error', 0)}"),
        f"- tokens: {totals.get('prompt_tokens', 0)} prompt + {totals.get('completion_tokens', 0)} completion"
        + (f" (of which {totals['reasoning_tokens']} reasoning)" if totals.get("reasoning_tokens") else "") + cost,
        f"- dataset: **{dataset.get('rows', 0)} rows** ({dataset.get('seeds', 0)} seeds, "
        f"{dataset.get('evolved', 0)} evolved); dropped when building: {_fmt(dataset.get('dropped') or {}) or 'none'}",
        *_decontamination_lines(dataset),
        "",
        ("Files: `dataset/` (load with `datasets.load_from_disk`), `dataset.jsonl`, `records.jsonl` (every "
         "evolution with lineage, verdict and reason), `raw/round_NNN/` (every LLM output, every sandbox "
         "verdict and every selection, keyed), `stats.json`, `config.yaml`."),
        "",
        "## Per round",
        "",
        ("| round | pool | evolved | passed | pass rate | infra errors | mean words (evolved) "
         "| mean words (pool) | tokens | dropped |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        (f"| 0 (seeds) | {totals['seeds']} | | | | | | "
         f"{_figure(totals.get('seed_mean_instruction_words'), totals['seeds'], '.1f')} | | |"),
    ]
    for s in rounds:
        lines.append(
            f"| {s['round']} | {s['pool']} | {s['evolved']} | {s['passed']} | {_share(s['pass_rate'], s['evolved'])} | "
            f"{s['infra_error']} | {_figure(s['mean_instruction_words'], s['evolved'], '.1f')} | "
            f"{_figure(s['mean_pool_instruction_words'], s['pool'], '.1f')} | "
            f"{s['prompt_tokens'] + s['completion_tokens']} | {_fmt(s['dropped']) or '-'} |")
    lines += ["", "## Methods", "", "| round | " + " | ".join(_methods(rounds)) + " |",
              "|---:|" + "---:|" * len(_methods(rounds))]
    for s in rounds:
        cells = [f"{s['passed_by_method'].get(m, 0)}/{s['methods'].get(m, 0)}" for m in _methods(rounds)]
        lines.append(f"| {s['round']} | " + " | ".join(cells) + " |")
    lines += ["", "(passed / chosen; yield: passed per evolution of that method)", ""]
    lines += ["| round | " + " | ".join(f"yield {m}" for m in _methods(rounds)) + " |",
              "|---:|" + "---:|" * len(_methods(rounds))]
    for s in rounds:
        cells = [f"{s['passed_by_method'].get(m, 0) / s['methods'][m]:.0%}" if s["methods"].get(m) else "-"
                 for m in _methods(rounds)]
        lines.append(f"| {s['round']} | " + " | ".join(cells) + " |")
    lines += _selection_lines(rounds, totals)
    if totals.get("repairs_asked") or (cfg is not None and cfg.evolve.repair_turns):
        lines += _repair_lines(rounds, totals, cfg)
    for title, path in plots:
        lines += [f"## {title}", "", f"![{title}]({path.relative_to(run.root).as_posix()})", ""]
    lines += _reason_lines()
    run.report_path.write_text("\n".join(lines), encoding="utf-8")
    return run.report_path


def _decontamination_lines(dataset: dict[str, Any]) -> list[str]:
    """A link to the rows decontamination dropped (each with its benchmark task and the shared n-gram)."""
    decon = dataset.get("decontamination")
    dropped = sum(decon.get("contaminated", {}).values()) if isinstance(decon, dict) else 0
    if not dropped or not decon.get("dropped_rows"):
        return []
    return [f"- decontamination dropped {dropped} rows: [{decon['dropped_rows']}]({decon['dropped_rows']}) lists "
            "each with the benchmark task and the words it shares with it"]


def _reason_lines() -> list[str]:
    """What each drop reason means, from `wizardcoder.reasons` (and infra_error, which is not a drop)."""
    lines = ["## Drop reasons", "", "| reason | where | what it means |", "|---|---|---|"]
    for reason in Reason:
        if reason.stage != OUTCOME or reason is Reason.INFRA_ERROR:
            lines.append(f"| `{reason}` | {reason.stage} | {reason.meaning} |")
    return lines + [""]


def _selection_lines(rounds: list[dict[str, Any]], totals: dict[str, Any]) -> list[str]:
    """Sampling, salvage, the pass-rate histogram per round and the cost of a kept task."""
    cost = totals.get("cost_per_kept_task") or {}
    lines = ["", "## Solve samples and selection", "",
             "| round | samples/task | answers | parsed | salvaged | programs | sandbox s | tokens/kept "
             "| sandbox s/kept |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in rounds:
        per_kept = s.get("tokens_per_kept")
        lines.append(f"| {s['round']} | {s.get('solve_samples', 1)} | {s.get('samples', 0)} | "
                     f"{s.get('samples_parsed', 0)} | {s.get('salvaged', 0)} | {s.get('programs', 0)} | "
                     f"{s.get('sandbox_seconds', 0):.1f} | {'-' if per_kept is None else f'{per_kept:.0f}'} | "
                     f"{_figure(s.get('sandbox_seconds_per_kept'), s.get('passed'), '.2f')} |")
    if cost.get("llm_tokens") is None:
        whole = "Whole run: no task was kept, so there is no cost per kept task."
    else:
        whole = (f"Whole run, per kept task: {cost['llm_tokens']:.0f} LLM tokens, "
                 f"{cost.get('sandbox_seconds') or 0:.2f} sandbox seconds.")
    lines += ["", whole, "",
              "### Pass rate of the chosen tests (tasks per share of the n solutions passing them)", ""]
    for s in rounds:
        hist = s.get("pass_rate_histogram") or {}
        cells = ", ".join(f"{rate}: {count}" for rate, count in hist.items()) or "no task had a passing pair"
        lines.append(f"- round {s['round']}: {cells}")
    lines.append("")
    return lines


def _figure(value: float | None, count: int | None, spec: str) -> str:
    """A figure over `count` items, or "-" when there was nothing to measure (no None, no 0.0 for "none")."""
    return "-" if value is None or not count else format(value, spec)


def _share(rate: float | None, count: int | None) -> str:
    return _figure(rate, count, ".0%")


def _repair_lines(rounds: list[dict[str, Any]], totals: dict[str, Any], cfg: Any) -> list[str]:
    """Yield with and without the repair turns (`evolve.repair_turns`), per round and for the whole run."""
    turns = f" (`evolve.repair_turns={cfg.evolve.repair_turns}`)" if cfg is not None else ""
    explained = (f"A task none of whose samples passed got a follow-up with the sandbox's evidence{turns}. Without "
                 "repair: this run less the tasks a repair kept and less the repair calls' tokens.")
    header = ("| round | evolved | repairs asked | parsed | kept by repair | kept without / with repair "
              "| kept per evolved without / with | tokens per kept without / with |")
    lines = ["## Repair turns", "", explained, "", header, "|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def per(value: float | None, digits: int = 0) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    for s in rounds:
        evolved, kept, without = s["evolved"], s["passed"], s.get("kept_without_repair", s["passed"])
        lines.append(
            f"| {s['round']} | {evolved} | {s.get('repairs_asked', 0)} | {s.get('repairs_parsed', 0)} | "
            f"{s.get('repairs_succeeded', 0)} | {without} / {kept} | "
            f"{per(without / evolved if evolved else None, 2)} / {per(kept / evolved if evolved else None, 2)} | "
            f"{per(s.get('tokens_per_kept_without_repair'))} / {per(s.get('tokens_per_kept'))} |")
    with_, without = totals["yield"]["with_repair"], totals["yield"]["without_repair"]
    whole = (f"Whole run: kept {without['kept']} without repair, {with_['kept']} with; kept per evolved task "
             f"{per(without['kept_per_evolved'], 3)} / {per(with_['kept_per_evolved'], 3)}; LLM tokens per kept "
             f"task {per(without['tokens_per_kept'])} / {per(with_['tokens_per_kept'])}; kept per 1k tokens "
             f"{per(without['kept_per_1k_tokens'], 3)} / {per(with_['kept_per_1k_tokens'], 3)}.")
    lines += ["", whole, ""]
    return lines


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
        reasons.append(Reason.INFRA_ERROR)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    rxs = [s["round"] for s in rounds]
    ax.bar(rxs, [s["passed"] for s in rounds], label="passed", color="tab:green")
    bottoms = [s["passed"] for s in rounds]
    colors = ["tab:blue", "tab:orange", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray", "tab:olive",
              "tab:cyan"]  # green means passed
    for i, reason in enumerate(reasons):
        values = [s["infra_error"] if reason == Reason.INFRA_ERROR else s["dropped"].get(reason, 0)
                  for s in rounds]
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
