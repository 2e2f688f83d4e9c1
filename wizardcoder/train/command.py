"""CLI of `wizardcoder train`."""

from __future__ import annotations

import argparse
import logging
import os

from wizardcoder.config import flag_choices, flag_help, load_config
from wizardcoder.train.config import TrainConfig

HELP = "Fine-tune a model with LoRA on an instruction dataset (response-only loss, packing, resumable)."
EXAMPLES = """\
  wizardcoder train --data runs/evolve/<id>/dataset --model smollm2-135m-instruct
  wizardcoder train --data my.jsonl --model /models/qwen2.5-coder-1.5b --config configs/train_lora.yaml \\
      train.batch_size=4 train.grad_accum=4 lora.r=32 data.response_field=response
  wizardcoder train --data tiny.jsonl --model ./tiny-llama --device cpu train.max_steps=20
  accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 8 -m wizardcoder.cli train --data ... --model ...
"""

log = logging.getLogger(__name__)

def add_arguments(parser: argparse.ArgumentParser) -> None:
    C = TrainConfig  # every flag's help and choices come from the config's settings
    parser.add_argument("--data", help=flag_help(C, "data.path", "a dataset directory (datasets.save_to_disk), or "
                                                 "a .jsonl/.json/.parquet file"))
    parser.add_argument("--model", help=flag_help(C, "model.path"))
    parser.add_argument("--config", default=None, help="YAML config (e.g. configs/train_lora.yaml)")
    parser.add_argument("--device", choices=flag_choices(C, "run.device"), default=None,
                        help=flag_help(C, "run.device", "cuda, cpu (tiny models only) or auto"))
    parser.add_argument("--output", default=None, help=flag_help(C, "run.output"))
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. train.lr=1e-4 lora.r=32 (all keys: wizardcoder config show train)")


def run(args: argparse.Namespace) -> int:
    from wizardcoder.train import train

    overrides = list(args.overrides)
    for flag, key in (("data", "data.path"), ("model", "model.path"), ("device", "run.device"),
                      ("output", "run.output")):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    cfg = load_config(TrainConfig, args.config, overrides)
    run_dir = train(cfg, progress=True)
    if os.environ.get("RANK", "0") != "0":  # torchrun / accelerate: the other processes stay quiet
        return 0
    print(f"adapter: {run_dir / 'adapter'}")
    print(f"metrics: {run_dir / 'train_metrics.json'}  loss curve: {run_dir / 'loss.png'}")
    return 0
