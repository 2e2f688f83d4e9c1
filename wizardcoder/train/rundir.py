"""Where a training run goes: `run.output`, else a folder named by what sets the run's steps."""

from __future__ import annotations

from pathlib import Path

from wizardcoder.config import fingerprint, fingerprint_fields
from wizardcoder.content_id import local_path
from wizardcoder.train import data as D
from wizardcoder.train.config import TrainConfig


def run_dir_for(cfg: TrainConfig, data_fingerprint: str | None = None, world: int = 1) -> Path:
    """run.output, else runs/train/<fingerprint of the config, the training data's contents and the number of
    processes> (with the config's batch size and accumulation, it sets the global batch: what each step holds)."""
    if cfg.run.output:
        return Path(cfg.run.output)
    data_path = Path(cfg.data.path or "")
    ident = {"config": fingerprint_fields(cfg), "data": str(data_path.resolve())}  # without run.output, device, ...
    if world != 1:  # one process keys its run as before the number was part of the key
        ident["processes"] = world
    ident["config"]["data"]["path"] = None  # in "data", resolved: one file however it is spelled
    ident["config"]["model"]["path"] = local_path(cfg.model.path)
    if data_path.exists():
        ident["data_contents"] = data_fingerprint or D.content_fingerprint(data_path)
    return Path("runs") / "train" / fingerprint(ident)
