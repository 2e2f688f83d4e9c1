"""Checkpoints: the trainable (adapter) weights, optimizer, scheduler, RNG and where the run is; never the frozen base.

One process and DDP: accelerate's save_state, its model weights cut to the trainable ones by a hook. DeepSpeed:
its engine's checkpoint without the frozen parameters. FSDP: torch.distributed.checkpoint of the trainable
parameters and the optimizer (each rank writes its shards; accelerate's save_state would write the sharded
base too), the scheduler, TrainState, RNG and grad scaler as accelerate stores them.
"""

from __future__ import annotations

import dataclasses
import json
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
    global_batch: int = 0  # rows per optimizer step (processes x batch_size x grad_accum) the steps were planned at

    def state_dict(self):
        return dataclasses.asdict(self)

    def load_state_dict(self, state):
        for k, v in state.items():
            setattr(self, k, v)


def gathered_adapter_state(accel, module, deepspeed: bool) -> dict | None:
    """The trainable weights of `module` (the recipe's, prepared), gathered whole on the main process only (others
    get {}); the frozen base never moves. None where the model holds them whole (one process, DDP, ZeRO-1/2):
    peft takes them itself."""
    from accelerate.utils import DistributedType

    if accel.distributed_type == DistributedType.FSDP:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=True)
        state = get_model_state_dict(module, options=options)
    elif deepspeed and accel.state.deepspeed_plugin.zero_stage == 3:
        import deepspeed as ds

        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        with ds.zero.GatheredParameters([p for _, p in named]):
            state = {n: p.detach().cpu().clone() for n, p in named} if accel.is_main_process else {}
    else:
        return None
    # keys of the module trained (ResponseLoss, maybe compiled) -> the peft model's own
    names = {k.replace("_orig_mod.", ""): v for k, v in state.items()}
    return {k[len("model."):]: v for k, v in names.items() if k.startswith("model.")}


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


BATCH_SHAPE_FILE = "batch_shape.json"
FSDP_TRAINABLE_DIR = "fsdp_trainable"  # torch.distributed.checkpoint of {"model": trainable, "optimizer": ...}


class Checkpoints:
    """Save and load the run's checkpoints under `root`; `objects` (scheduler, TrainState) have state_dict()."""

    def __init__(self, accel, root: Path, module, optimizer, objects: list):
        self.accel, self.root, self.module, self.optimizer, self.objects = accel, root, module, optimizer, objects
        self.format = storage_format(accel.distributed_type)
        if self.format != "FSDP":
            accel.register_for_checkpointing(*objects)
        if self.format == "plain":
            register_adapter_only_hooks(accel)

    def save(self, step: int, keep: int, batch_shape: dict) -> None:
        """Write checkpoint `step` (with the batch shape its steps were planned at and how it is stored), mark it
        complete, then drop all but the last `keep` complete ones."""
        accel, path = self.accel, self.root / f"step-{step:08d}"
        if self.format == "FSDP":
            self._save_fsdp(path)
        elif self.format == "DEEPSPEED":
            accel.save_state(str(path), exclude_frozen_parameters=True)
        else:
            accel.save_state(str(path))
        accel.wait_for_everyone()
        if accel.is_main_process:
            (path / BATCH_SHAPE_FILE).write_text(json.dumps({**batch_shape, "storage": self.format}))
            (path / "COMPLETE").write_text(str(step))
            done = sorted(p for p in self.root.glob("step-*") if (p / "COMPLETE").exists())
            for old in done[:-keep] if keep > 0 else []:
                shutil.rmtree(old, ignore_errors=True)
        accel.wait_for_everyone()

    def load(self, path: Path) -> None:
        if self.format == "FSDP":
            self._load_fsdp(path)
        elif self.format == "DEEPSPEED":
            self.accel.load_state(str(path), load_module_strict=False)  # saved without the frozen parameters
        else:
            self.accel.load_state(str(path))

    def _fsdp_state(self):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

        options = StateDictOptions(ignore_frozen_params=True)
        return get_state_dict(self.module, self.optimizer.optimizer, options=options)  # the wrapped torch optimizer

    def _save_fsdp(self, path: Path) -> None:
        import torch.distributed.checkpoint as dcp
        from accelerate.checkpointing import save_accelerator_state, save_custom_state

        model_sd, optim_sd = self._fsdp_state()
        dcp.save({"model": model_sd, "optimizer": optim_sd}, checkpoint_id=str(path / FSDP_TRAINABLE_DIR))
        accel = self.accel
        save_accelerator_state(str(path), [], [], [], [], accel.process_index, accel.step, accel.scaler)  # RNG, scaler
        if accel.is_main_process:
            for i, obj in enumerate(self.objects):
                save_custom_state(obj, str(path), i)

    def _load_fsdp(self, path: Path) -> None:
        import torch.distributed.checkpoint as dcp
        from accelerate.checkpointing import load_accelerator_state, load_custom_state
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

        model_sd, optim_sd = self._fsdp_state()
        dcp.load({"model": model_sd, "optimizer": optim_sd}, checkpoint_id=str(path / FSDP_TRAINABLE_DIR))
        set_state_dict(self.module, self.optimizer.optimizer, model_state_dict=model_sd, optim_state_dict=optim_sd,
                       options=StateDictOptions(ignore_frozen_params=True, strict=False))
        accel = self.accel
        restored = load_accelerator_state(str(path), [], [], [], [], accel.process_index, accel.scaler)
        accel.step = restored.get("step", accel.step)
        for i, obj in enumerate(self.objects):
            load_custom_state(obj, str(path), i)


def storage_format(distributed_type) -> str:
    """How a checkpoint stores weights and optimizer state: FSDP and DeepSpeed each their own way, one process and
    DDP alike (accelerate's DistributedType, or its value)."""
    name = getattr(distributed_type, "value", distributed_type)
    return name if name in ("FSDP", "DEEPSPEED") else "plain"


def checkpoint_batch_shape(path: Path) -> dict | None:
    """The batch shape a checkpoint was written at, and its storage format (None for checkpoints older than the
    record)."""
    file = path / BATCH_SHAPE_FILE
    return json.loads(file.read_text()) if file.is_file() else None


def check_same_storage(recorded: dict | None, distributed_type, where: str) -> None:
    """Refuse to load a checkpoint written by another kind of launch (FSDP, DeepSpeed, plain): it would fail deep
    inside accelerate, naming a file that kind of launch never writes."""
    if not recorded or "storage" not in recorded:
        return
    now = storage_format(distributed_type)
    if recorded["storage"] != now:
        raise UserError(f"{where} was written by a {recorded['storage']} launch and this one is {now}: they store "
                        "weights and optimizer state differently. Launch it as it was launched (the same accelerate "
                        "config), or use another --output or run.resume=false to start over")


def last_checkpoint(root: Path) -> Path | None:
    done = sorted(p for p in root.glob("step-*") if (p / "COMPLETE").exists()) if root.is_dir() else []
    return done[-1] if done else None
