"""Run by torchrun in test_fsdp: one process of a 2-process FSDP2 training run on CPU (gloo).

The FSDP settings are those of configs/accelerate/fsdp.yaml, given to accelerate as `accelerate launch` would
(FSDP_* environment variables). accelerate only offers FSDP on GPUs, so after the Accelerator is built its
state is switched to FSDP: the one edge this test fakes; sharding and collectives are real (gloo).

    fsdp_worker.py REPORT_DIR PHASES key=value...

PHASES: comma-separated, run one after the other in the same processes, e.g. `stop2,run`: stopN trains N
steps of this launch and stops (as a preemption would: checkpoints stay, no adapter), run trains to the end
and saves. Each rank writes REPORT_DIR/<phase>-rank<R>.json with what the tests check.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def fsdp_env_from_yaml(path: Path) -> dict[str, str]:
    """The environment `accelerate launch --config_file fsdp.yaml` gives each process (its fsdp_config keys)."""
    cfg = yaml.safe_load(path.read_text())
    env = {"ACCELERATE_USE_FSDP": "true"}
    for key, value in cfg["fsdp_config"].items():
        env[key.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def force_fsdp(accel) -> None:
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    accel.state.fsdp_plugin = FullyShardedDataParallelPlugin()  # from the FSDP_* environment
    accel.state.distributed_type = DistributedType.FSDP
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP


def main() -> None:
    import torch
    from torch.distributed.fsdp import FSDPModule

    from wizardcoder.config import load_config
    from wizardcoder.errors import UserError
    from wizardcoder.train import TrainConfig
    from wizardcoder.train.trainer import LoRARecipe

    report_dir, phases, overrides = Path(sys.argv[1]), sys.argv[2].split(","), sys.argv[3:]
    os.environ.update(fsdp_env_from_yaml(ROOT / "configs" / "accelerate" / "fsdp.yaml"))
    cfg = load_config(TrainConfig, None, overrides)
    for i, phase in enumerate(phases):
        recipe = LoRARecipe(cfg, "cpu")
        force_fsdp(recipe.accel)
        rank = recipe.accel.process_index
        report: dict = {"rank": rank, "distributed_type": recipe.accel.distributed_type.value}
        try:
            if recipe.setup():
                report["fsdp_units"] = [n for n, m in recipe.module.named_modules() if isinstance(m, FSDPModule)]
                report["layers"] = recipe.peft_model.get_base_model().config.num_hidden_layers
                report["rand_after_setup"] = torch.rand(4).tolist()  # dropout draws from this generator
                report["resumed_from"] = recipe.resumed_from
                stop = int(phase[4:]) if phase.startswith("stop") else None
                if recipe.train(stop_after=stop):
                    recipe.save()
                    gathered = recipe.adapter_state_dict()  # what save() wrote the adapter from
                    report["gathered"] = sorted(gathered)
                report["step"] = recipe.state.step
        except UserError as exc:
            report["user_error"] = str(exc)
        (report_dir / f"{phase}-rank{rank}.json").write_text(json.dumps(report))
        if i == len(phases) - 1:
            recipe.cleanup()  # ends the process group
        else:
            recipe.metrics.close()


if __name__ == "__main__":
    main()
