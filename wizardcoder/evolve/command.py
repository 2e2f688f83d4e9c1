"""`wizardcoder evolve`: evolve seed tasks into an execution-verified instruction dataset."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

from wizardcoder.config import flag_choices, flag_help, load_config
from wizardcoder.errors import UserError
from wizardcoder.evolve.config import EvolveConfig
from wizardcoder.evolve.rounds import InfraErrorStop, run_evolve
from wizardcoder.progress import RichProgress
from wizardcoder.reasons import Reason

log = logging.getLogger(__name__)

HELP = "evolve seed tasks with an LLM (Code Evol-Instruct), keep those whose code passes in the sandbox"

EXAMPLES = """\
  wizardcoder evolve --lang python                     # embedded SmolLM2, 8 built-in seeds, 2 rounds (minutes)
  wizardcoder evolve --lang python --base-url http://localhost:8000/v1 --model my-model \\
      --limit all --rounds 4 llm.concurrency=64        # a real model on all seeds
  wizardcoder evolve --lang cpp --seeds code_alpaca.jsonl --limit 1000
  wizardcoder evolve --seeds my_saved_dataset/ seeds.fields.instruction=prompt seeds.fields.output=completion
  wizardcoder evolve --config configs/evolve_python.yaml evolve.judge=true
  # killed? run the same command again: it resumes where it stopped.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    C = EvolveConfig  # every flag's help and choices come from the config's settings
    p.add_argument("--lang", choices=flag_choices(C, "evolve.lang"), help=flag_help(C, "evolve.lang"))
    p.add_argument("--config", metavar="FILE", help="YAML config (e.g. configs/evolve_python.yaml)")
    p.add_argument("--seeds", metavar="PATH|NAME", help=flag_help(C, "seeds.path", "the seed tasks: a "
                   ".jsonl/.json/.csv/.parquet file, a save_to_disk directory or a hub dataset name; null: built-in"))
    p.add_argument("--rounds", type=int, help=flag_help(C, "evolve.rounds"))
    p.add_argument("--limit", help=flag_help(C, "seeds.limit", "use the first N seeds, or 'all'"))
    p.add_argument("--output", metavar="DIR", help=flag_help(C, "output.dir"))
    p.add_argument("--sandbox", choices=flag_choices(C, "sandbox.backend"), help=flag_help(C, "sandbox.backend"))
    p.add_argument("--base-url", action="append", help=flag_help(
        C, "llm.base_url", "an OpenAI-compatible endpoint, e.g. http://localhost:8000/v1; repeat it for several "
                           "endpoints serving the same model (each request goes to the least-loaded healthy one)"))
    p.add_argument("--model", help=flag_help(C, "llm.model"))
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. evolve.judge=true llm.concurrency=64 (all keys: wizardcoder config "
                        "show evolve)")


def _quote(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


def config_from_args(args: argparse.Namespace):
    overrides: list[str] = []
    if args.limit is not None:
        if str(args.limit).lower() in ("all", "none"):
            overrides.append("seeds.limit=null")
        else:
            try:
                overrides.append(f"seeds.limit={int(args.limit)}")
            except ValueError as exc:
                raise UserError(f"--limit {args.limit!r}: give a number of seeds or 'all'") from exc
    for flag, key in (("lang", "evolve.lang"), ("seeds", "seeds.path"), ("rounds", "evolve.rounds"),
                      ("output", "output.dir"), ("sandbox", "sandbox.backend"), ("model", "llm.model")):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={_quote(value)}")
    if args.base_url:  # an explicit endpoint always wins over the config's provider
        urls = args.base_url[0] if len(args.base_url) == 1 else args.base_url
        overrides += ["llm.provider=openai", f"llm.base_url={json.dumps(urls)}"]
    # flags first, then explicit key=value overrides (the later wins)
    return load_config(EvolveConfig, args.config, overrides + list(args.overrides))


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    started = time.monotonic()
    try:
        with RichProgress(enabled=not args.no_progress) as progress:
            result = run_evolve(cfg, progress=progress)
    except InfraErrorStop as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 1
    print_summary(result.stats, time.monotonic() - started)
    hint = truncation_hint(result.stats, cfg.evolve.evolve_max_tokens)
    if hint:
        print(hint, file=sys.stderr)
    return 0


def truncation_hint(stats: dict[str, Any], evolve_max_tokens: int) -> str | None:
    """Advice when the token limit, not the model, dropped a good share of the rewrites."""
    evolved = stats["totals"].get("evolved", 0)
    cut = (stats["totals"].get("dropped") or {}).get(Reason.TRUNCATED, 0)
    if not evolved or cut / evolved < 0.25:
        return None
    return (f"note: {cut} of {evolved} rewrites were cut inside the task by the token limit and dropped "
            f"('truncated'); if the model needs more room, raise evolve.evolve_max_tokens "
            f"(now {evolve_max_tokens}), e.g. evolve.evolve_max_tokens={2 * evolve_max_tokens}")


SUMMARY_WIDTH_PIPED = 120  # wide enough for the round table with three drop reasons on one line


def print_summary(stats: dict[str, Any], seconds: float) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"wizardcoder evolve ({stats['lang']}): {stats['run_dir']}", box=box.SIMPLE_HEAD)
    # "words": the evolved tasks' mean instruction length, report.md's "mean words (evolved)"
    for column in ("round", "pool", "evolved", "passed", "pass %", "infra", "words (evolved)"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("dropped (top 3)", overflow="fold")
    for s in stats["rounds"]:
        drops = sorted(s["dropped"].items(), key=lambda kv: -kv[1])[:3]
        evolved = s["evolved"]
        table.add_row(str(s["round"]), str(s["pool"]), str(evolved), str(s["passed"]),
                      f"{s['pass_rate']:.0%}" if evolved else "-", str(s["infra_error"]),
                      f"{s['mean_instruction_words']:.1f}" if evolved else "-",
                      ", ".join(f"{k} {v}" for k, v in drops) or "-")
    console = Console()
    if not console.is_terminal:  # a log file or pipe has no width: rich's 80 columns folded the drop reasons
        console = Console(width=max(console.width, SUMMARY_WIDTH_PIPED))
    console.print(table)
    d = stats.get("dataset") or {}
    t = stats["totals"]
    dropped = ", ".join(f"{k} {v}" for k, v in sorted((d.get("dropped") or {}).items(), key=lambda kv: -kv[1]))
    console.print(f"dataset: {d.get('rows', 0)} rows ({d.get('seeds', 0)} seeds + {d.get('evolved', 0)} evolved; "
                  f"dropped at build: {dropped or 'none'}) -> {stats['run_dir']}/dataset, dataset.jsonl",
                  markup=False, highlight=False)
    decon = d.get("decontamination")
    if isinstance(decon, dict) and any(decon.get("contaminated", {}).values()) and decon.get("dropped_rows"):
        console.print(f"decontamination: the dropped rows, each with its benchmark task and n-gram: "
                      f"{stats['run_dir']}/{decon['dropped_rows']}", markup=False, highlight=False)
    cost = f", cost ${t['cost']:.4f}" if t.get("cost") is not None else ""
    tokens = t.get("prompt_tokens", 0) + t.get("completion_tokens", 0)
    endpoints = ((stats.get("llm") or {}).get("usage") or {}).get("endpoints") or {}
    if endpoints:
        from wizardcoder.llm.health import endpoint_summary, summary_endpoints

        for url, c in summary_endpoints(endpoints).items():
            console.print(endpoint_summary(url, c), markup=False, highlight=False)
    share = f" ({t.get('pass_rate', 0):.0%})" if t.get("evolved") else ""
    console.print(f"{t.get('evolved', 0)} evolved, {t.get('passed', 0)} passed in the sandbox{share}; {tokens} "
                  f"tokens{cost}; report: {stats['run_dir']}/report.md; {seconds:.0f} s")
    this, whole = stats.get("this_session") or {}, stats.get("whole_run") or {}
    if whole.get("sessions", 1) > 1:  # a resumed run: this session's figures apart from the whole run's
        asked = ((this.get("llm") or {}).get("requests") or 0, (whole.get("llm") or {}).get("requests") or 0)
        console.print(f"this session: {this.get('seconds', 0):.0f} s, {asked[0]} LLM requests; whole run "
                      f"({whole['sessions']} sessions): {whole.get('seconds', 0):.0f} s, {asked[1]} LLM requests, "
                      f"{whole.get('llm_calls', 0)} answers on file", markup=False, highlight=False)
    per_kept = t.get("cost_per_kept_task") or {}
    if per_kept.get("llm_tokens") is not None:
        console.print(f"per kept task: {per_kept['llm_tokens']:.0f} LLM tokens, {per_kept['sandbox_seconds']:.2f} "
                      f"sandbox s; {t.get('salvaged', 0)} cut replies salvaged")
    if t.get("repairs_asked"):
        console.print(f"repair turns: {t['repairs_asked']} asked, {t.get('repairs_succeeded', 0)} tasks kept by them "
                      f"({t['yield']['without_repair']['kept']} kept without)", markup=False, highlight=False)
