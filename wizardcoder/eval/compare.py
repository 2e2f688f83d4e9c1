"""`wizardcoder eval compare RUN_A RUN_B`: did B beat A beyond noise? A paired comparison on the same problems.

- per problem: pass rate in A and in B (c/n, i.e. its pass@1) and their difference B - A;
- pass@1 difference with a paired bootstrap 95% interval (problems resampled with replacement, the same
  resample for both runs, so that problem difficulty cancels out);
- an exact McNemar test when both runs are greedy (one sample per problem): under "no difference" the
  problems that flipped are equally likely to flip either way, so the smaller count is Binomial(b + c, 1/2);
- the problems that flipped each way, and a plot.

Runs of different suites (content hash) or prompt templates are refused unless forced: their difference
would not be the model's. Runs of one suite under different `--limit`s (their suite hashes differ) are
compared on the problems they share, when each of those has the same content in both (`problem_sha256`).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wizardcoder.errors import UserError

log = logging.getLogger(__name__)

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Run:
    path: Path
    suite: str
    suite_sha256: str | None
    template: dict[str, Any] | None
    counts: dict[str, tuple[int, int]]  # task_id -> (n samples, c passed), problems with a result only
    problem_sha256: dict[str, str] | None = None  # task_id -> what scores its samples (runs before: None)
    limit: int | None = None  # suite.limit

    @property
    def greedy(self) -> bool:
        return all(n == 1 for n, _ in self.counts.values())


def load_run(path: str | Path, plus: bool = False) -> Run:
    """A finished eval run directory; a UserError naming the file and the fix otherwise. `plus`: its base+plus
    verdicts (EvalPlus suites: a sample counts when it passes the base and the plus inputs)."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: no such run directory; pass a directory made by `wizardcoder eval` "
                        f"(runs/eval/<suite>-<id>)")
    metrics_path = path / "metrics.json"
    if not metrics_path.is_file():
        raise UserError(f"{metrics_path}: missing; {path} is not a finished eval run (run its `wizardcoder eval` "
                        f"command again to finish it)")
    try:
        metrics = json.loads(metrics_path.read_text())
    except ValueError as exc:
        raise UserError(f"{metrics_path}: not valid JSON ({exc}); re-run the eval to rewrite it") from exc
    except OSError as exc:
        raise UserError(f"{metrics_path}: unreadable ({exc})") from exc
    try:
        if plus and "plus_per_problem" not in metrics:
            raise UserError(f"{metrics_path}: --plus needs an EvalPlus run (humaneval+ or mbpp+); this one is "
                            f"{metrics.get('suite')!r}")
        per_problem = metrics["plus_per_problem" if plus else "per_problem"]
        suite = metrics["suite"]
        counts = {t: (int(v["n"]), int(v["c"])) for t, v in per_problem.items() if int(v["n"]) > 0}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{metrics_path}: not an eval metrics file (missing or bad key {exc}); pass a run "
                        f"directory made by `wizardcoder eval`") from exc
    if not counts:
        raise UserError(f"{metrics_path}: no problem has a result yet; run its `wizardcoder eval` command again")
    repro = metrics.get("reproducibility") or {}
    template = repro.get("prompt_template")
    if template is not None:
        template = {k: v for k, v in template.items() if k != "samples_file"}  # where samples came from: not a template
    record = repro.get("suite") or {}
    return Run(path, suite, record.get("sha256"), template, counts, record.get("problem_sha256"), record.get("limit"))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: P(a Binomial(b + c, 1/2) count at least as far from the middle)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2 ** n)


def paired_bootstrap(diffs: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """95% percentile interval of the mean per-problem difference, problems resampled with replacement."""
    rng = np.random.default_rng(seed)
    m = len(diffs)
    means = np.empty(resamples)
    step = max(1, 2_000_000 // max(m, 1))  # resamples per batch: bounded memory for big suites
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        idx = rng.integers(0, m, size=(stop - start, m))
        means[start:stop] = diffs[idx].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def compare(a: Run, b: Run, force: bool = False) -> dict[str, Any]:
    problems_of = _check_comparable(a, b, force)
    tasks = sorted(set(a.counts) & set(b.counts), key=_task_order)
    if not tasks:
        raise UserError(f"{a.path} and {b.path} have no problem in common: nothing to compare")
    rate_a = np.array([a.counts[t][1] / a.counts[t][0] for t in tasks])
    rate_b = np.array([b.counts[t][1] / b.counts[t][0] for t in tasks])
    diffs = rate_b - rate_a
    low, high = paired_bootstrap(diffs)
    greedy = a.greedy and b.greedy
    if greedy:
        regressed = [t for t, x, y in zip(tasks, rate_a, rate_b) if x == 1 and y == 0]
        improved = [t for t, x, y in zip(tasks, rate_a, rate_b) if x == 0 and y == 1]
        mcnemar = {"b_passed_only_in_a": len(regressed), "c_passed_only_in_b": len(improved),
                   "p_value": mcnemar_exact(len(regressed), len(improved)), "test": "exact (binomial)"}
    else:
        regressed = [t for t, d in zip(tasks, diffs) if d < 0]
        improved = [t for t, d in zip(tasks, diffs) if d > 0]
        mcnemar = {"p_value": None, "why": "McNemar needs one sample per problem in both runs (greedy); "
                                          "the bootstrap interval covers sampled runs"}
    return {
        "run_a": str(a.path), "run_b": str(b.path),
        "suite": {"a": a.suite, "b": b.suite, "same_content": a.suite_sha256 == b.suite_sha256
                  if a.suite_sha256 and b.suite_sha256 else None},
        "forced": problems_of if force else None,
        "problems_compared": len(tasks),
        "problems_only_in_a": len(set(a.counts) - set(b.counts)),
        "problems_only_in_b": len(set(b.counts) - set(a.counts)),
        "greedy": greedy,
        "pass@1": {"a": float(rate_a.mean()), "b": float(rate_b.mean()), "difference": float(diffs.mean()),
                   "ci95": [low, high], "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED,
                                                      "paired": True}},
        "mcnemar": mcnemar,
        "improved": improved,
        "regressed": regressed,
        "per_problem": {t: {"a": float(x), "b": float(y), "difference": float(y - x)}
                        for t, x, y in zip(tasks, rate_a, rate_b)},
    }


def _check_comparable(a: Run, b: Run, force: bool) -> list[str]:
    problems = []
    if a.suite != b.suite:
        problems.append(f"different suites: {a.suite} vs {b.suite}")
    elif a.suite_sha256 and b.suite_sha256 and a.suite_sha256 != b.suite_sha256 and not _same_problems(a, b):
        problems.append(f"different suites: {a.suite} (sha256 {a.suite_sha256[:12]}) vs {b.suite} "
                        f"(sha256 {b.suite_sha256[:12]})")
    if a.template is not None and b.template is not None and a.template != b.template:
        problems.append(f"different prompt templates: {a.template} vs {b.template}")
    if problems and not force:
        raise UserError(f"cannot compare {a.path} with {b.path}: " + "; ".join(problems)
                        + ". Their difference would not be the model's; pass --force to compare anyway")
    return problems


def _same_problems(a: Run, b: Run) -> bool:
    """One suite run under different `--limit`s: every problem both runs hold has the same content in both (runs
    made before problems had digests: the same suite name and different limits)."""
    if a.problem_sha256 is None or b.problem_sha256 is None:
        return a.limit != b.limit
    shared = set(a.problem_sha256) & set(b.problem_sha256)
    return bool(shared) and all(a.problem_sha256[t] == b.problem_sha256[t] for t in shared)


def _task_order(task_id: str):
    tail = task_id.rsplit("/", 1)[-1].split("_")
    return (task_id.rsplit("/", 1)[0], int(tail[0]) if tail[0].isdigit() else math.inf, task_id)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per = result["per_problem"]
    diffs = sorted(v["difference"] for v in per.values())
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1]})
    colors = ["#c0392b" if d < 0 else "#27ae60" if d > 0 else "#95a5a6" for d in diffs]
    left.bar(range(len(diffs)), diffs, color=colors, width=1.0)
    left.axhline(0, color="black", linewidth=0.8)
    left.set_xlabel(f"problems, sorted by difference ({len(diffs)})")
    left.set_ylabel("pass rate B - A")
    left.set_title(f"{len(result['improved'])} improved, {len(result['regressed'])} regressed")
    p1 = result["pass@1"]
    low, high = p1["ci95"]
    right.errorbar([0], [p1["difference"]], yerr=[[p1["difference"] - low], [high - p1["difference"]]],
                   fmt="o", capsize=6, color="black")
    right.axhline(0, color="grey", linewidth=0.8, linestyle="--")
    right.set_xticks([0], ["pass@1 B - A"])
    p = result["mcnemar"]["p_value"]
    right.set_title(f"95% CI [{low:+.3f}, {high:+.3f}]" + (f"\nMcNemar p = {p:.2g}" if p is not None else ""))
    fig.suptitle(f"{Path(result['run_b']).name} (B) vs {Path(result['run_a']).name} (A)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_command(paths: list[str], output: str | None = None, plot_path: str | None = None,
                force: bool = False, plus: bool = False) -> int:
    """The CLI: compare, write compare.json + the plot + stats.json, print the summary."""
    from rich.console import Console

    if len(paths) != 2:
        raise UserError(f"eval compare takes two run directories, got {len(paths)}: "
                        "wizardcoder eval compare RUN_A RUN_B")
    a, b = load_run(paths[0], plus), load_run(paths[1], plus)
    result = compare(a, b, force=force)
    result["verdicts"] = "base+plus" if plus else "base"
    out = Path(output) if output else Path("runs") / "compare" / f"{a.path.name}-vs-{b.path.name}"
    out.mkdir(parents=True, exist_ok=True)
    figure = Path(plot_path) if plot_path else out / "compare.png"
    plot(result, figure)
    result["plot"] = str(figure)
    (out / "compare.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "stats.json").write_text(json.dumps({"stage": "eval compare", "output": str(out),
                                                "problems_compared": result["problems_compared"],
                                                "improved": len(result["improved"]),
                                                "regressed": len(result["regressed"])}, indent=2) + "\n")
    # plain "label  value" lines, printed whole: a run directory's path is never cut or folded at the width of
    # the terminal (a table fitted to 80 columns cut them), so it can be copied from any terminal or log
    console = Console(soft_wrap=True)
    p1, mc = result["pass@1"], result["mcnemar"]
    compared = str(result["problems_compared"])
    if result["problems_only_in_a"] or result["problems_only_in_b"]:
        compared += f" (those both runs hold: A has {len(a.counts)}, B has {len(b.counts)})"
    rows = [("B", str(b.path)), ("A", str(a.path)), ("problems compared", compared),
            ("verdicts", result["verdicts"]),
            ("pass@1 A", f"{100 * p1['a']:.2f}%"), ("pass@1 B", f"{100 * p1['b']:.2f}%"),
            ("difference B - A", f"{100 * p1['difference']:+.2f} points"),
            ("paired bootstrap 95% CI", f"[{100 * p1['ci95'][0]:+.2f}, {100 * p1['ci95'][1]:+.2f}] points"),
            ("McNemar exact p", f"{mc['p_value']:.3g}" if mc["p_value"] is not None else "n/a (sampled runs)"),
            ("improved (fail -> pass)", str(len(result["improved"]))),
            ("regressed (pass -> fail)", str(len(result["regressed"])))]
    if result["forced"]:
        rows.append(("forced despite", "; ".join(result["forced"])))
    rows.append(("written", f"{out / 'compare.json'}, {figure}"))
    width = max(len(label) for label, _ in rows)
    console.print("eval compare: B vs A", style="bold")
    for label, value in rows:
        console.print(f"  {label:<{width}}  {value}", markup=False, highlight=False)
    for label, ids in (("improved", result["improved"]), ("regressed", result["regressed"])):
        if ids:
            console.print(f"{label}: " + ", ".join(ids[:20]) + (f" ... (+{len(ids) - 20})" if len(ids) > 20 else ""),
                          markup=False, highlight=False)
    return 0
