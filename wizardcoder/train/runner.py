"""`train(cfg)`: the stage's entry. It checks the config, picks the device, takes the run directory's lock and
runs the recipe (`trainer.LoRARecipe`); CUDA running out of memory becomes an error that says what to lower."""

from __future__ import annotations

import logging
import os
from contextlib import nullcontext
from pathlib import Path

import torch

from wizardcoder.errors import UserError
from wizardcoder.runlock import run_lock
from wizardcoder.train.config import TrainConfig
from wizardcoder.train.model import check_qlora
from wizardcoder.train.trainer import LoRARecipe

log = logging.getLogger(__name__)

OOM_HINT = ("CUDA ran out of memory. Lower train.batch_size (and raise train.grad_accum to keep the "
            "effective batch), lower data.max_seq_len or data.pack_len, keep train.gradient_checkpointing=true, "
            "keep data.packing=true, or use lora.qlora=true (4-bit base; needs bitsandbytes).")


def train(cfg: TrainConfig, progress: bool = False, stop_after: int | None = None) -> Path:
    """Train a LoRA adapter as `cfg` says; returns the run directory (adapter/, metrics, plots).

    `stop_after=N` stops after N optimizer steps of this call, as a preemption would (checkpoints stay,
    no adapter is written); running again resumes from the last checkpoint.
    """
    if not cfg.model.path:
        raise UserError("no model: pass --model (a local model directory or smollm2-135m-instruct)")
    if not cfg.data.path:
        raise UserError("no training data: pass --data (a dataset directory or a .jsonl file)")
    device = _pick_device(cfg.run.device)
    if cfg.lora.qlora:
        check_qlora(device)
    try:
        return _train(cfg, device, progress, stop_after)
    except torch.cuda.OutOfMemoryError as exc:
        raise UserError(OOM_HINT) from exc


def _main_process_lock(run_dir: Path):
    """The run directory's lock, taken by the launcher's rank 0 only (the other ranks share its run)."""
    return run_lock(run_dir, "train") if int(os.environ.get("RANK", "0") or 0) == 0 else nullcontext()


def _pick_device(requested: str) -> str:
    if requested == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        raise UserError("no CUDA GPU found: training needs a GPU; use --device cpu for tiny models")
    # auto: the CPU, loudly (fine for the embedded 135M model of the first --help example; hours for a real one)
    log.warning("no CUDA GPU found: training on the CPU (run.device=auto). Fine for a tiny model such as "
                "smollm2-135m-instruct; a real model needs a GPU. --device cpu silences this, --device cuda makes "
                "it an error.")
    return "cpu"


def _train(cfg: TrainConfig, device: str, progress: bool, stop_after: int | None) -> Path:
    recipe = LoRARecipe(cfg, device)
    # locked once the recipe knows its directory: the fingerprint holds a launcher's gradient accumulation
    with _main_process_lock(recipe.run_dir):
        if not recipe.setup():
            return recipe.run_dir
        if recipe.train(progress=progress, stop_after=stop_after):
            recipe.save()
        recipe.cleanup()
    return recipe.run_dir
