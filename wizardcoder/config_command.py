"""`wizardcoder config show <stage>`: the resolved config of a stage, each key under its help.

The output is YAML a stage takes back with `--config`: defaults < the `--config` file < `key=value` overrides,
exactly as the stage would resolve them, with each setting's help, allowed values and range above it (from
the `setting(...)` declarations the stage itself validates with).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import textwrap
from typing import Any

import yaml

from wizardcoder.config import iter_settings, load_config

HELP = "show a stage's resolved config, each key with its help"

EXAMPLES = """\
  wizardcoder config show evolve                                    # every evolve setting and its default
  wizardcoder config show eval --config configs/eval_humaneval.yaml generation.n=5
  wizardcoder config show train --config configs/train_lora.yaml > my_train.yaml   # a file to edit
"""

# stage -> (module, config class): imported only when shown
CONFIGS = {
    "evolve": ("wizardcoder.evolve.config", "EvolveConfig"),
    "eval": ("wizardcoder.eval.config", "EvalConfig"),
    "train": ("wizardcoder.train.config", "TrainConfig"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("show",), help="show: print the resolved config")
    p.add_argument("config_stage", metavar="stage", choices=tuple(CONFIGS), help="evolve | eval | train")
    p.add_argument("--config", metavar="FILE", help="a YAML config file, as the stage takes it")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, e.g. evolve.rounds=4")


def config_class(stage: str) -> type:
    module, name = CONFIGS[stage]
    return getattr(importlib.import_module(module), name)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(config_class(args.config_stage), args.config, list(args.overrides))
    sources = " < ".join(["defaults", *([args.config] if args.config else []),
                          *(["overrides"] if args.overrides else [])])
    print(render(cfg, f"wizardcoder {args.config_stage}: the resolved config ({sources})"), end="")
    return 0


def render(cfg: Any, title: str) -> str:
    """`cfg` as commented YAML: each key under its help, allowed values or range, and whether it is left out of
    the run fingerprint."""
    lines = [f"# {title}", "# each setting under its help; pass this file back with --config"]
    section = None
    for info, value in iter_settings(cfg):
        parts = info.key.split(".")
        if len(parts) > 1 and parts[0] != section:
            section = parts[0]
            lines += ["", f"{section}:"]
        elif len(parts) == 1 and section is not None:
            section = None
            lines.append("")
        indent = "  " * (len(parts) - 1)
        notes = []
        if info.choices is not None:
            notes.append("one of " + ", ".join(map(str, info.choices)))
        if info.rule:
            notes.append(info.rule)
        if not info.fingerprinted:
            notes.append("another value resumes the same run")
        text = info.help + (f" [{'; '.join(notes)}]" if notes else "")
        lines += [indent + "# " + line for line in textwrap.wrap(text, 110 - len(indent))]
        lines.append(f"{indent}{parts[-1]}: {_value(value)}")
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    """`value` as one line of YAML (a string with line breaks as a double-quoted scalar)."""
    if isinstance(value, str) and "\n" in value:
        return json.dumps(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf, sort_keys=False)
    return text.removesuffix("\n...\n").strip()
