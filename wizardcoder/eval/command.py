"""`wizardcoder eval`: generate samples, run them in the sandbox, report pass@k."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from wizardcoder.config import flag_choices, flag_help, load_config
from wizardcoder.errors import UserError
from wizardcoder.eval.config import EvalConfig
from wizardcoder.progress import RichProgress

log = logging.getLogger(__name__)

HELP = "evaluate a model on HumanEval(+) / MBPP(+) / MultiPL-E: generate, execute in the sandbox, pass@k"

EXAMPLES = """\
  wizardcoder eval humaneval --model smollm2-135m-instruct          # embedded model, greedy pass@1
  wizardcoder eval humaneval --model smollm2-135m-instruct --adapter runs/train/<id>/adapter  # base + LoRA
  wizardcoder eval humaneval --base-url http://localhost:8000/v1 --model my-model --api completions \\
      --n 200 --temperature 0.8 --k 1,10,100                         # sampled pass@1/10/100
  wizardcoder eval mbpp --samples samples.jsonl                      # score completions made elsewhere
  wizardcoder eval mbpp+ --samples s.jsonl --suite-file MbppPlus.jsonl  # EvalPlus: base and plus pass@k
  wizardcoder eval compare runs/eval/mbpp+-<a> runs/eval/mbpp+-<b> --plus  # compare base+plus verdicts
  wizardcoder eval humaneval --model M --generate-only                # samples now, scoring later
  wizardcoder eval humaneval-cpp --data ../shared/data/multipl-e --limit 20 --sandbox local
  wizardcoder eval humaneval --config configs/eval_humaneval.yaml generation.max_tokens=768
  wizardcoder eval humaneval --samples s.jsonl --time-limit calibrated  # limits scaled to this machine
  wizardcoder eval compare runs/eval/humaneval-<base> runs/eval/humaneval-<tuned>   # paired before/after
"""

EMBEDDED_NAMES = ("smollm2-135m-instruct", "smollm2", "embedded")


def add_arguments(p: argparse.ArgumentParser) -> None:
    C = EvalConfig  # every flag's help and choices come from the config's settings
    p.add_argument("suite", help=flag_help(C, "suite.name") + "; or compare RUN_A RUN_B (two run directories)")
    p.add_argument("--model", help=flag_help(C, "llm.model", "a local model directory or .gguf file, an endpoint's "
                                             "model name, or smollm2-135m-instruct (the embedded model)"))
    p.add_argument("--adapter", help=flag_help(C, "llm.adapter"))
    p.add_argument("--base-url", action="append", help=flag_help(
        C, "llm.base_url", "an OpenAI-compatible endpoint, e.g. http://localhost:8000/v1; repeat it for several "
                           "endpoints serving the same model (each request goes to the least-loaded healthy one)"))
    p.add_argument("--api", choices=flag_choices(C, "llm.api"), help=flag_help(C, "llm.api"))
    p.add_argument("--samples", metavar="FILE", help=flag_help(C, "generation.samples_file"))
    p.add_argument("--n", type=int, help=flag_help(C, "generation.n"))
    p.add_argument("--temperature", type=float, help=flag_help(C, "generation.temperature"))
    p.add_argument("--k", help=flag_help(C, "k", "comma-separated k for pass@k, e.g. 1,10,100 (only k <= n is "
                                              "reported)"))
    p.add_argument("--sandbox", choices=flag_choices(C, "sandbox.backend"), help=flag_help(C, "sandbox.backend"))
    p.add_argument("--time-limit", choices=flag_choices(C, "time_limit.profile"),
                   help=flag_help(C, "time_limit.profile", "per-problem time limits: the suite's reference "
                                  "harness's, or calibrated on this machine (max(floor, factor x the reference "
                                  "solution's time))"))
    p.add_argument("--timeout", type=float, help=flag_help(C, "time_limit.timeout"))
    p.add_argument("--limit", type=int, help=flag_help(C, "suite.limit"))
    p.add_argument("--data", metavar="DIR", help=flag_help(C, "suite.data_dir"))
    p.add_argument("--suite-file", metavar="PATH", help=flag_help(C, "suite.file"))
    p.add_argument("--output", metavar="DIR", help=flag_help(C, "run_dir", "the run directory (as for evolve and "
                                                             "train); the parent of generated ones: output_dir=DIR"))
    p.add_argument("--config", metavar="FILE", help="YAML config (e.g. configs/eval_humaneval.yaml)")
    p.add_argument("--generate-only", action="store_true",
                   help="stop after writing samples.jsonl; the same command without it scores them later")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--force", action="store_true", help="compare: also runs of different suites or prompt templates")
    p.add_argument("--plot", metavar="FILE", help="compare: where the plot goes (default <output>/compare.png)")
    p.add_argument("--plus", action="store_true",
                   help="compare: the base+plus verdicts of two EvalPlus runs (humaneval+ / mbpp+) instead of base")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. generation.max_tokens=768 (all keys: wizardcoder config show eval)")


def config_from_args(args: argparse.Namespace):
    overrides = [f"suite.name={args.suite}"]
    if args.base_url:  # an explicit endpoint always wins: --model is then the name it serves, whatever it is
        urls = args.base_url[0] if len(args.base_url) == 1 else args.base_url
        overrides += ["llm.provider=openai", f"llm.base_url={json.dumps(urls)}"]
    alias = bool(args.model) and args.model.lower() in EMBEDDED_NAMES and not args.base_url
    if args.model:
        overrides.append("llm.provider=embedded" if alias else f"llm.model={args.model}")
    for flag, key in (("adapter", "llm.adapter"), ("api", "llm.api"),
                      ("samples", "generation.samples_file"), ("n", "generation.n"),
                      ("temperature", "generation.temperature"), ("sandbox", "sandbox.backend"),
                      ("time_limit", "time_limit.profile"), ("timeout", "time_limit.timeout"),
                      ("limit", "suite.limit"), ("data", "suite.data_dir"), ("suite_file", "suite.file"),
                      ("output", "run_dir")):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    if args.k:
        try:
            ks = [int(x) for x in args.k.split(",") if x.strip()]
        except ValueError as exc:
            raise UserError(f"--k {args.k!r}: use comma-separated integers, e.g. 1,10,100") from exc
        overrides.append(f"k=[{','.join(map(str, ks))}]")
    # CLI flags first, then explicit key=value overrides (the later wins).
    cfg = load_config(EvalConfig, args.config, overrides + list(args.overrides))
    if alias and cfg.llm.base_url:  # an endpoint from the config file or an override wins over the alias too
        overrides[overrides.index("llm.provider=embedded")] = f"llm.model={args.model}"
        cfg = load_config(EvalConfig, args.config, overrides + list(args.overrides))
    return cfg


def run(args: argparse.Namespace) -> int:
    if args.suite == "compare":
        from wizardcoder.eval.compare import run_command

        return run_command(args.overrides, output=args.output, plot_path=args.plot, force=args.force, plus=args.plus)
    from wizardcoder.eval.report import print_report
    from wizardcoder.eval.runner import run_eval

    cfg = config_from_args(args)
    if args.samples and not Path(args.samples).is_file():
        raise UserError(f"--samples {args.samples}: no such file")
    show = not args.no_progress
    with RichProgress(enabled=show, stderr=True) as progress:
        metrics = run_eval(cfg, progress=progress, generate_only=args.generate_only)
    if args.generate_only:
        stats = metrics["stats"]
        print(f"samples: {stats['run_dir']}/samples.jsonl; run the same command without --generate-only "
              "to score them")
        return 1 if stats.get("llm_failures") else 0
    print_report(metrics)
    return 0 if metrics["complete"] else 1
