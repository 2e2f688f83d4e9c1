"""The training loop: one process or many (accelerate / torchrun), LoRA on a frozen base.

Why our own loop rather than `transformers.Trainer`: the batch plan is computed up front (packed rows,
exact response-token counts per optimizer step), so the loss is normalised over the whole global step
without a synchronisation, the position in the data is just the step number (exact resume), and the
output head only runs on response tokens.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

from wizardcoder.config import fingerprint, save_config
from wizardcoder.errors import UserError
from wizardcoder.train import data as D
from wizardcoder.train.config import TrainConfig

log = logging.getLogger(__name__)

OOM_HINT = ("CUDA ran out of memory. Lower train.batch_size (and raise train.grad_accum to keep the "
            "effective batch), lower data.max_seq_len or data.pack_len, keep train.gradient_checkpointing=true, "
            "keep data.packing=true, or use lora.qlora=true (4-bit base; needs bitsandbytes).")


@dataclasses.dataclass
class TrainState:
    """What a checkpoint needs besides weights/optimizer/scheduler/RNG: where we are, what we saw."""

    step: int = 0
    history: list = dataclasses.field(default_factory=list)  # [{"step", "loss", "lr", ...}]
    eval_history: list = dataclasses.field(default_factory=list)
    tokens_seen: int = 0

    def state_dict(self):
        return dataclasses.asdict(self)

    def load_state_dict(self, state):
        for k, v in state.items():
            setattr(self, k, v)


def run_dir_for(cfg: TrainConfig) -> Path:
    if cfg.run.output:
        return Path(cfg.run.output)
    data_path = Path(cfg.data.path or "")
    ident = {"config": dataclasses.asdict(cfg), "data": str(data_path.resolve())}
    for k in ("output", "device", "logging_steps", "resume", "tensorboard", "wandb"):
        ident["config"]["run"].pop(k, None)
    if data_path.exists():
        st = data_path.stat()
        ident["data_stat"] = [st.st_size, int(st.st_mtime)]
    return Path("runs") / "train" / fingerprint(ident)


def lr_lambda(total: int, warmup: int, min_ratio: float) -> Callable[[int], float]:
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return f


def train(cfg: TrainConfig, progress: bool = False, stop_after: int | None = None) -> Path:
    """Train a LoRA adapter as `cfg` says; returns the run directory (adapter/, metrics, plots).

    `stop_after=N` stops after N optimizer steps of this call, as a preemption would (checkpoints stay,
    no adapter is written); running again resumes from the last checkpoint.
    """
    import torch

    if not cfg.model.path:
        raise UserError("no model: pass --model (a local model directory or smollm2-135m-instruct)")
    if not cfg.data.path:
        raise UserError("no training data: pass --data (a dataset directory or a .jsonl file)")
    device = _pick_device(cfg.run.device)
    try:
        with _main_process_lock(run_dir_for(cfg)):
            return _train(cfg, device, progress, stop_after)
    except torch.cuda.OutOfMemoryError as exc:
        raise UserError(OOM_HINT) from exc


def _main_process_lock(run_dir: Path):
    """The run directory's lock, taken by the launcher's rank 0 only (the other ranks share its run)."""
    from wizardcoder.runlock import run_lock

    return run_lock(run_dir, "train") if int(os.environ.get("RANK", "0") or 0) == 0 else nullcontext()


def _pick_device(requested: str) -> str:
    import torch

    if requested == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    raise UserError("no CUDA GPU found: training needs a GPU; use --device cpu for tiny models")


def _train(cfg: TrainConfig, device: str, progress: bool, stop_after: int | None) -> Path:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedType, set_seed

    from wizardcoder.train import model as M
    from wizardcoder.train.loss import ResponseLoss

    t_start = time.time()
    dtype = _resolve_dtype(cfg.model.dtype, device)
    mixed = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "no")
    if device == "cpu" and mixed == "fp16":
        raise UserError("model.dtype=float16 needs a GPU; on CPU use float32 or bfloat16")
    accel = Accelerator(cpu=device == "cpu", mixed_precision=mixed)
    world, rank = accel.num_processes, accel.process_index
    if not accel.is_main_process:  # one process speaks
        logging.getLogger("wizardcoder").setLevel(logging.WARNING)
    set_seed(cfg.train.seed)

    run_dir = run_dir_for(cfg)
    ckpt_root = run_dir / "checkpoints"
    if accel.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
    accel.wait_for_everyone()

    # ---- data
    model_dir = M.resolve_model_path(cfg.model.path)
    tok = M.load_tokenizer(model_dir)
    if cfg.model.template == "chat" and not getattr(tok, "chat_template", None):
        raise UserError(f"model.template=chat but the tokenizer of {model_dir} has no chat template; "
                        "use model.template=alpaca")
    records = D.load_records(cfg.data.path, cfg.data.instruction_field, cfg.data.response_field,
                             cfg.data.input_field)
    examples, tstats = D.tokenize_records(records, tok, cfg.model.template, cfg.data.max_seq_len,
                                          cfg.data.drop_empty)
    if not examples:
        raise UserError(f"{cfg.data.path}: no usable example (all dropped: too long for "
                        f"data.max_seq_len={cfg.data.max_seq_len} or empty)")
    train_ex, eval_ex = D.split_eval(examples, cfg.data.eval_fraction, cfg.train.seed)
    attn = M.resolve_attn(cfg.model.attn_implementation, device)
    packing = cfg.data.packing
    if packing and not M.supports_packing(model_dir, attn):
        log.warning("this architecture cannot keep packed examples apart: packing off (length-grouped padding)")
        packing = False
    flatten = packing and attn.startswith("flash")
    capacity = cfg.data.pack_len or cfg.data.max_seq_len
    rows = D.make_rows(train_ex, packing, capacity)
    eval_rows = D.make_rows(eval_ex, packing, capacity)
    fixed = capacity if (packing and (attn == "flex_attention" or cfg.train.compile)) else None
    collate = D.Collator(tok.pad_token_id, packing=packing, flatten=flatten, width=fixed,
                         loss_index=True)

    bs, ga = cfg.train.batch_size, cfg.train.grad_accum
    n_micro_global = math.ceil(len(rows) / bs)
    micro_per_rank = n_micro_global // world
    if micro_per_rank == 0:
        raise UserError(f"too little data for {world} processes x batch_size {bs}: {len(rows)} rows; "
                        "lower train.batch_size or add data")
    steps_per_epoch = math.ceil(micro_per_rank / ga)
    total_steps = cfg.train.max_steps if cfg.train.max_steps > 0 else math.ceil(cfg.train.epochs * steps_per_epoch)
    warmup = round(cfg.train.warmup_ratio * total_steps)

    plans: dict[int, list[list[list[int]]]] = {}  # epoch -> per optimizer step -> micro-batches (this rank)
    counts: dict[int, list[int]] = {}  # epoch -> label tokens per optimizer step, all ranks

    def plan(epoch: int):
        if epoch not in plans:
            batches = D.epoch_batches(rows, train_ex, bs, cfg.train.seed, epoch)
            batches = batches[: micro_per_rank * world]
            steps, tokens = [], []
            for s in range(steps_per_epoch):
                chunk = batches[s * ga * world:(s + 1) * ga * world]
                steps.append(chunk[rank::world])
                tokens.append(sum(_label_tokens(rows[r], train_ex) for b in chunk for r in b))
            plans.clear()
            counts.clear()
            plans[epoch], counts[epoch] = steps, tokens
        return plans[epoch], counts[epoch]

    metrics_file = run_dir / "train_metrics.json"
    if cfg.run.resume and metrics_file.is_file() and (run_dir / "adapter" / "adapter_config.json").is_file():
        done = json.loads(metrics_file.read_text())
        if done.get("steps") == total_steps:
            log.info("%s already finished (%d steps): nothing to do (delete it or set run.resume=false to retrain)",
                     run_dir, total_steps)
            return run_dir

    # ---- model
    model = M.load_model(model_dir, dtype, attn, device, cfg.lora.qlora)
    attn = model.config._attn_implementation
    peft_model, targets = M.add_lora(model, cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.lora.target_modules,
                                     cfg.lora.qlora, cfg.train.gradient_checkpointing)
    n_trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    n_total = sum(p.numel() for p in peft_model.parameters())
    module = ResponseLoss(peft_model)
    if cfg.train.compile:
        module = torch.compile(module, dynamic=True)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay, betas=(0.9, 0.999),
                              fused=device == "cuda")
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_lambda(total_steps, warmup, cfg.train.min_lr_ratio))
    deepspeed = accel.distributed_type == DistributedType.DEEPSPEED
    if deepspeed:  # no dataloader goes through prepare: tell DeepSpeed the batch shape
        ds = accel.state.deepspeed_plugin.deepspeed_config
        ds["train_micro_batch_size_per_gpu"] = bs
        ds["gradient_accumulation_steps"] = ga
    module, optim = accel.prepare(module, optim)
    state = TrainState()
    accel.register_for_checkpointing(sched, state)
    _register_adapter_only_hooks(accel)

    resumed_from = None
    if cfg.run.resume:
        last = _last_checkpoint(ckpt_root)
        if last is not None:
            accel.load_state(str(last))
            resumed_from = str(last)
            log.info("resumed from %s (step %d of %d)", last, state.step, total_steps)

    writer = _tensorboard(run_dir, accel) if cfg.run.tensorboard else None
    wandb_run = _wandb(cfg, run_dir, accel)
    log.info("train: %d examples (%d eval) in %d rows, %d optimizer steps, %d/%d trainable params, attn=%s",
             len(train_ex), len(eval_ex), len(rows), total_steps, n_trainable, n_total, attn)

    bar = _progress(total_steps, state.step) if progress and accel.is_main_process else None
    module.train()
    pending: list[tuple[int, object, float]] = []
    tokens_timed, t_loop = 0, time.time()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    first_step = state.step
    while state.step < total_steps:
        if stop_after is not None and state.step - first_step >= stop_after:
            log.info("stopping at step %d as asked (stop_after=%d)", state.step, stop_after)
            if bar is not None:
                bar.close()
            if writer is not None:
                writer.close()
            accel.end_training()
            return run_dir
        step = state.step
        epoch, k = divmod(step, steps_per_epoch)
        steps, tokens = plan(epoch)
        micro = steps[k]
        denom = max(1, tokens[k])
        step_loss = torch.zeros((), device=accel.device)
        step_tokens = 0
        for j, batch_rows in enumerate(micro):
            batch = collate([[train_ex[i] for i in rows[r]] for r in batch_rows])
            batch = {key: v.to(accel.device, non_blocking=True) for key, v in batch.items()}
            step_tokens += sum(_row_tokens(rows[r], train_ex) for r in batch_rows)
            sync = j == len(micro) - 1
            with (nullcontext() if sync else accel.no_sync(module)), accel.autocast():
                loss_sum, _ = module(**batch)
                # normalised over the response tokens of the whole optimizer step (all ranks, all micro-steps);
                # DDP/FSDP average gradients over ranks (x world undoes that), DeepSpeed also divides by grad_accum
                loss = loss_sum * (world * (ga if deepspeed else 1) / denom)
            accel.backward(loss)
            step_loss += loss_sum.detach()
        if cfg.train.max_grad_norm > 0:
            accel.clip_grad_norm_(params, cfg.train.max_grad_norm)
        lr = optim.param_groups[0]["lr"]
        optim.step()
        sched.step()
        optim.zero_grad(set_to_none=True)
        state.step += 1
        state.tokens_seen += step_tokens * world
        tokens_timed += step_tokens
        pending.append((state.step, step_loss, lr, denom))
        done = state.step == total_steps
        if state.step % max(1, cfg.run.logging_steps) == 0 or done or _saving(cfg, state.step):
            _flush(pending, state, accel, writer, wandb_run)
        if eval_ex and cfg.run.eval_steps > 0 and state.step % cfg.run.eval_steps == 0 and not done:
            _evaluate(module, eval_ex, eval_rows, collate, bs, accel, state, writer, wandb_run)
        if _saving(cfg, state.step) and not done:
            _save_checkpoint(accel, ckpt_root, state.step, cfg.run.save_total_limit)
        if bar is not None:
            bar.advance()
    elapsed = time.time() - t_loop
    if bar is not None:
        bar.close()
    eval_loss = None
    if eval_ex:
        eval_loss = _evaluate(module, eval_ex, eval_rows, collate, bs, accel, state, writer, wandb_run)
    peak_mem = torch.cuda.max_memory_allocated() if device == "cuda" else None

    # ---- outputs
    accel.wait_for_everyone()
    adapter_dir = run_dir / "adapter"
    peft_sd = None
    if accel.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):  # gather the shards
        full_state = accel.get_state_dict(module)
        peft_sd = {k[len("model."):]: v for k, v in full_state.items() if k.startswith("model.")}
    if accel.is_main_process:
        unwrapped = accel.unwrap_model(module)
        if hasattr(unwrapped, "_orig_mod"):
            unwrapped = unwrapped._orig_mod
        unwrapped.model.save_pretrained(str(adapter_dir), state_dict=peft_sd)
        tok.save_pretrained(str(adapter_dir))
        if cfg.run.merge:
            _merge(unwrapped.model, model_dir, adapter_dir, run_dir / "merged", tok, cfg.lora.qlora)
        train_losses = [h["loss"] for h in state.history]
        metrics = {
            "steps": state.step, "total_steps": total_steps, "epochs": total_steps / steps_per_epoch,
            "train_loss_first": train_losses[0] if train_losses else None,
            "train_loss_last": train_losses[-1] if train_losses else None,
            "eval_loss": eval_loss,
            "eval_perplexity": math.exp(eval_loss) if eval_loss is not None and eval_loss < 50 else None,
            "tokens_seen": state.tokens_seen,
            "tokens_per_second": tokens_timed * world / elapsed if elapsed > 0 else None,
            "peak_memory_gb": peak_mem / 2**30 if peak_mem else None,
            "runtime_s": time.time() - t_start, "resumed_from": resumed_from,
            "history": state.history, "eval_history": state.eval_history,
        }
        (run_dir / "train_metrics.json").write_text(json.dumps(metrics, indent=2))
        real_tokens = sum(len(e) for e in train_ex)
        stats = {
            **dataclasses.asdict(tstats), "records": len(records), "train_examples": len(train_ex),
            "eval_examples": len(eval_ex), "rows": len(rows), "row_capacity": capacity,
            "packing": packing,
            "packing_efficiency": real_tokens / (len(rows) * capacity) if packing else None,
            "attn_implementation": attn, "target_modules": targets, "trainable_params": n_trainable,
            "total_params": n_total, "world_size": world, "device": device, "steps_per_epoch": steps_per_epoch,
            "optimizer_steps": state.step, "model_dir": str(model_dir),
        }
        (run_dir / "stats.json").write_text(json.dumps(stats, indent=2))
        _plot(state, run_dir / "loss.png")
    if writer is not None:
        writer.close()
    if wandb_run is not None:
        wandb_run.finish()
    accel.wait_for_everyone()
    accel.end_training()
    return run_dir


def _saving(cfg: TrainConfig, step: int) -> bool:
    return cfg.run.save_steps > 0 and step % cfg.run.save_steps == 0


def _resolve_dtype(name: str, device: str):
    import torch

    if name == "auto":
        if device == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, name)


def _label_tokens(row, examples) -> int:
    return sum(len(examples[i]) - examples[i].n_prompt for i in row)


def _row_tokens(row, examples) -> int:
    return sum(len(examples[i]) for i in row)


def _flush(pending, state, accel, writer, wandb_run) -> None:
    """Turn the per-step loss sums (device tensors) into numbers: one sync per logging interval."""
    import torch

    if not pending:
        return
    sums = torch.stack([p[1] for p in pending])
    sums = accel.reduce(sums, reduction="sum") if accel.num_processes > 1 else sums
    for (step, _, lr, denom), s in zip(pending, sums.tolist()):
        entry = {"step": step, "loss": s / denom, "lr": lr}
        state.history.append(entry)
        if writer is not None:
            writer.add_scalar("train/loss", entry["loss"], step)
            writer.add_scalar("train/lr", lr, step)
        if wandb_run is not None:
            wandb_run.log({"train/loss": entry["loss"], "train/lr": lr}, step=step)
    last = state.history[-1]
    log.info("step %d loss %.4f lr %.2e", last["step"], last["loss"], last["lr"])
    pending.clear()


def _evaluate(module, eval_ex, eval_rows, collate, bs, accel, state, writer, wandb_run) -> float:
    import torch

    module.eval()
    world, rank = accel.num_processes, accel.process_index
    total = torch.zeros(2, device=accel.device, dtype=torch.float64)
    batches = [eval_rows[s:s + bs] for s in range(0, len(eval_rows), bs)]
    per_rank = math.ceil(len(batches) / world)
    with torch.no_grad():
        # every rank runs the same number of forwards (DDP/FSDP forwards are collective); extras are discarded
        for i in range(per_rank):
            index = rank + i * world
            b = batches[index] if index < len(batches) else batches[0]
            batch = collate([[eval_ex[j] for j in row] for row in b])
            batch = {k: v.to(accel.device) for k, v in batch.items()}
            with accel.autocast():
                s, n = module(**batch)
            if index < len(batches):
                total += torch.stack([s.double(), torch.tensor(float(n), device=s.device, dtype=torch.float64)])
    if world > 1:
        total = accel.reduce(total, reduction="sum")
    module.train()
    loss = (total[0] / total[1].clamp(min=1)).item()
    state.eval_history.append({"step": state.step, "loss": loss})
    if writer is not None:
        writer.add_scalar("eval/loss", loss, state.step)
    if wandb_run is not None:
        wandb_run.log({"eval/loss": loss}, step=state.step)
    log.info("step %d eval loss %.4f", state.step, loss)
    return loss


# ---------------------------------------------------------------------------------- checkpoints


def _register_adapter_only_hooks(accel) -> None:
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


def _save_checkpoint(accel, root: Path, step: int, keep: int) -> None:
    path = root / f"step-{step:08d}"
    accel.save_state(str(path))
    accel.wait_for_everyone()
    if accel.is_main_process:
        (path / "COMPLETE").write_text(str(step))
        done = sorted(p for p in root.glob("step-*") if (p / "COMPLETE").exists())
        for old in done[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    accel.wait_for_everyone()


def _last_checkpoint(root: Path) -> Path | None:
    done = sorted(p for p in root.glob("step-*") if (p / "COMPLETE").exists()) if root.is_dir() else []
    return done[-1] if done else None


# -------------------------------------------------------------------------------------- outputs


def _merge(peft_model, model_dir, adapter_dir, out, tok, qlora: bool) -> None:
    import torch

    if qlora:  # merge into full-precision base weights, not the 4-bit ones
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.bfloat16)
        peft_model = PeftModel.from_pretrained(base, str(adapter_dir))
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(str(out))
    tok.save_pretrained(str(out))


def _plot(state: TrainState, path: Path) -> None:
    if not state.history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([h["step"] for h in state.history], [h["loss"] for h in state.history], label="train")
    if state.eval_history:
        ax.plot([h["step"] for h in state.eval_history], [h["loss"] for h in state.eval_history], "o-", label="eval")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (response tokens)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _tensorboard(run_dir: Path, accel):
    if not accel.is_main_process:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)")
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))


def _wandb(cfg: TrainConfig, run_dir: Path, accel):
    if not cfg.run.wandb or not accel.is_main_process:
        return None
    try:
        import wandb
    except ImportError:
        log.warning("run.wandb=true but wandb is not installed: pip install wandb")
        return None
    return wandb.init(project=os.environ.get("WANDB_PROJECT", "wizardcoder"), dir=str(run_dir),
                      name=run_dir.name, config=dataclasses.asdict(cfg), resume="allow", id=run_dir.name)


def _progress(total: int, start: int):
    """The training bar, through the stages' shared progress protocol; closing it ends the display."""
    from wizardcoder.progress import RichProgress

    display = RichProgress().__enter__()
    bar = display("train", total)
    bar.advance(start)
    return _ClosingBar(bar, display)


class _ClosingBar:
    def __init__(self, bar, display):
        self.bar, self.display = bar, display

    def advance(self, n: int = 1) -> None:
        self.bar.advance(n)

    def close(self) -> None:
        self.bar.close()
        self.display.__exit__(None, None, None)

