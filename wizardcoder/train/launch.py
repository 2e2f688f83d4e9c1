"""What the launcher (accelerate launch, DeepSpeed) and the trainer's config must agree on: gradient accumulation,
the DeepSpeed batch shape and gradient clipping."""

from __future__ import annotations

import logging
import os
from typing import Any

from wizardcoder.errors import UserError
from wizardcoder.train.config import TrainConfig

log = logging.getLogger(__name__)

LAUNCHER_ACCUM_ENV = "ACCELERATE_GRADIENT_ACCUMULATION_STEPS"


def launcher_grad_accum(accel) -> tuple[int, str] | None:
    """Gradient accumulation a launcher asked for (accelerate launch --gradient_accumulation_steps, its env var,
    a DeepSpeed config's gradient_accumulation_steps), with where it came from; None when none asked (or 1)."""
    from accelerate.utils import DistributedType

    found: dict[int, str] = {}
    env = os.environ.get(LAUNCHER_ACCUM_ENV, "")
    if env.isdigit() and int(env) != 1:
        found[int(env)] = f"{LAUNCHER_ACCUM_ENV}={env} (accelerate launch --gradient_accumulation_steps)"
    if accel.distributed_type == DistributedType.DEEPSPEED:
        value = accel.state.deepspeed_plugin.deepspeed_config.get("gradient_accumulation_steps")
        if isinstance(value, int) and value != 1:
            found.setdefault(value, f"the DeepSpeed config's gradient_accumulation_steps={value}")
    if len(found) > 1:
        raise UserError(f"the launcher asks for two different gradient accumulations: {'; '.join(found.values())}; "
                        "set train.grad_accum instead and leave the launcher's at 1")
    return next(iter(found.items()), None)


def resolve_grad_accum(configured: int, launcher: tuple[int, str] | None) -> int:
    """train.grad_accum, or the launcher's when the config leaves it at 1; two different values are refused."""
    if launcher is None or launcher[0] == configured:
        return configured
    value, source = launcher
    if configured == 1:
        log.info("gradient accumulation %d from %s: train.grad_accum=%d", value, source, value)
        return value
    raise UserError(f"{source} asks for gradient accumulation {value}, but train.grad_accum={configured}; the "
                    f"trainer accumulates train.grad_accum micro-batches per optimizer step: drop the launcher "
                    f"setting, or set train.grad_accum={value}")


def deepspeed_settings(cfg: TrainConfig, world: int) -> dict[str, Any]:
    """The DeepSpeed config entries the trainer owns: the batch shape (no dataloader goes through prepare, so
    DeepSpeed cannot infer it) and clipping (DeepSpeed clips inside its step; accelerate's clip_grad_norm_
    only reads the norm there). 0 turns DeepSpeed's clipping off, as train.max_grad_norm=0 does elsewhere."""
    t = cfg.train
    return {"train_micro_batch_size_per_gpu": t.batch_size, "gradient_accumulation_steps": t.grad_accum,
            "train_batch_size": t.batch_size * t.grad_accum * world, "gradient_clipping": float(t.max_grad_norm)}
