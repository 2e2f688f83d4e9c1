"""Checkpoints: the adapter weights, optimizer, scheduler and RNG (accelerate's save_state) and where the run is."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from wizardcoder.errors import UserError


@dataclasses.dataclass
class TrainState:
    """What a checkpoint needs besides weights/optimizer/scheduler/RNG: where we are, what we saw."""

    step: int = 0
    history: list = dataclasses.field(default_factory=list)  # [{"step", "loss", "lr"}]
    eval_history: list = dataclasses.field(default_factory=list)
    tokens_seen: int = 0
    data_fingerprint: str = ""  # of the training data's contents: resuming on changed data is refused

    def state_dict(self):
        return dataclasses.asdict(self)

    def load_state_dict(self, state):
        for k, v in state.items():
            setattr(self, k, v)


def register_adapter_only_hooks(accel) -> None:
    """Checkpoints hold the trainable (adapter) weights only, not a copy of the frozen base model."""

    def save_hook(models, weights, output_dir):
        for i, model in enumerate(models):
            if i < len(weights):
                keep = {n for n, p in model.named_parameters() if p.requires_grad}
                weights[i] = {k: v for k, v in weights[i].items() if k in keep}

    def load_hook(models, input_dir):
        import torch
        from safetensors.torch import load_file

        for i, model in enumerate(models):
            name = "model.safetensors" if i == 0 else f"model_{i}.safetensors"
            path = Path(input_dir) / name
            sd = load_file(str(path)) if path.exists() else torch.load(Path(input_dir) / name.replace(
                ".safetensors", ".bin"), map_location="cpu")
            missing = [k for k, p in model.named_parameters() if p.requires_grad and k not in sd]
            if missing:
                raise UserError(f"checkpoint {input_dir} does not match this model/LoRA config "
                                f"(missing {missing[0]}...); delete it or use another --output")
            model.load_state_dict(sd, strict=False)
        models.clear()  # loaded: accelerate must not load them again (strictly)

    accel.register_save_state_pre_hook(save_hook)
    accel.register_load_state_pre_hook(load_hook)


def save_checkpoint(accel, root: Path, step: int, keep: int) -> None:
    """Write checkpoint `step`, mark it complete, then drop all but the last `keep` complete ones."""
    path = root / f"step-{step:08d}"
    accel.save_state(str(path))
    accel.wait_for_everyone()
    if accel.is_main_process:
        (path / "COMPLETE").write_text(str(step))
        done = sorted(p for p in root.glob("step-*") if (p / "COMPLETE").exists())
        for old in done[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    accel.wait_for_everyone()


def last_checkpoint(root: Path) -> Path | None:
    done = sorted(p for p in root.glob("step-*") if (p / "COMPLETE").exists()) if root.is_dir() else []
    return done[-1] if done else None
