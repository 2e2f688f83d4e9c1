"""The training recipe: one process or many (accelerate / torchrun), LoRA on a frozen base.

Shaped like a torchtune recipe: set up data, model and optimizer; run steps; evaluate; save. Why our own
loop rather than `transformers.Trainer`: the batch plan is computed up front (packed rows, exact
response-token counts per optimizer step), so the loss is normalised over the whole global step without a
synchronisation, the position in the data is just the step number (exact resume), and the output head only
runs on response tokens.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import torch

from wizardcoder.config import save_config
from wizardcoder.errors import UserError
from wizardcoder.train import data as D
from wizardcoder.train import model as M
from wizardcoder.train.checkpoint import (
    Checkpoints,
    TrainState,
    check_same_storage,
    checkpoint_batch_shape,
    gathered_adapter_state,
    last_checkpoint,
)
from wizardcoder.train.config import TrainConfig
from wizardcoder.train.flops import model_shape, throughput
from wizardcoder.train.launch import deepspeed_settings, launcher_grad_accum, resolve_grad_accum
from wizardcoder.train.loss import ResponseLoss
from wizardcoder.train.metrics import MetricsSink, plot_losses
from wizardcoder.train.plan import BatchPlan, BatchShape, row_tokens
from wizardcoder.train.prefetch import Prefetcher
from wizardcoder.train.probe import ProbeResult, probe_packing
from wizardcoder.train.progress import open_progress
from wizardcoder.train.rundir import run_dir_for

log = logging.getLogger(__name__)

def lr_lambda(total: int, warmup: int, min_ratio: float) -> Callable[[int], float]:
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return f


class StepBatches(NamedTuple):
    """One optimizer step's micro-batches of this process, collated (pinned for a CUDA copy), and its counts."""

    micro: list[dict]
    label_tokens: int  # of the whole step, all processes
    tokens: int  # in this process's micro-batches
    flops: float  # model FLOPs of this process's examples (wizardcoder.train.flops)


class PendingLoss(NamedTuple):
    """An optimizer step's loss, kept on the device until the next logging step (one sync per interval)."""

    step: int
    loss_sum: Any  # torch.Tensor: summed token losses of this process
    lr: float
    label_tokens: int  # of the whole step, all processes: the loss is loss_sum (all processes) / label_tokens


class LoRARecipe:
    """setup() -> train() -> save() -> cleanup(); each part is one method, the step is `train_step`."""

    def __init__(self, cfg: TrainConfig, device: str):
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        self.cfg, self.device = cfg, device
        self.t_start = time.time()
        self.dtype = M.resolve_dtype(cfg.model.dtype, device)
        mixed = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.dtype, "no")
        if device == "cpu" and mixed == "fp16":
            raise UserError("model.dtype=float16 needs a GPU; on CPU use float32 or bfloat16")
        self.accel = Accelerator(cpu=device == "cpu", mixed_precision=mixed,
                                 gradient_accumulation_steps=cfg.train.grad_accum)
        self.world = self.accel.num_processes
        if not self.accel.is_main_process:  # one process speaks
            logging.getLogger("wizardcoder").setLevel(logging.WARNING)
        grad_accum = resolve_grad_accum(cfg.train.grad_accum, launcher_grad_accum(self.accel))
        if grad_accum != cfg.train.grad_accum:
            cfg = self.cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, grad_accum=grad_accum))
        # accelerate's own accumulation: accumulate() skips the gradient all-reduce (DDP, FSDP) and tells
        # DeepSpeed where the step boundary is; backward() divides the loss by this number (see train_step)
        self.accel.gradient_accumulation_steps = grad_accum
        self.shape = BatchShape(self.world, cfg.train.batch_size, grad_accum)
        set_seed(cfg.train.seed)
        self.data_fingerprint = D.content_fingerprint(Path(cfg.data.path))
        self.run_dir = run_dir_for(cfg, self.data_fingerprint, self.world)
        self.ckpt_root = self.run_dir / "checkpoints"
        self.state = TrainState()
        self.metrics = MetricsSink()
        self.resumed_from: str | None = None
        self.eval_loss: float | None = None
        self.probe: ProbeResult | None = None
        self.peak_mem = None
        # of this call's optimizer steps, all processes; time in evaluation and checkpoints is not training time
        self.timed = {"tokens": 0, "flops": 0.0, "train_seconds": 0.0, "eval_seconds": 0.0, "checkpoint_seconds": 0.0}

    # ------------------------------------------------------------------------------------ setup

    def setup(self) -> bool:
        """Data, model, optimizer, resume. False when this run directory already holds the finished run."""
        from accelerate.utils import set_seed

        if self.accel.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(self.cfg, self.run_dir / "config.yaml")
        self.accel.wait_for_everyone()
        self._setup_data()
        if self._already_finished():
            return False
        self._check_last_checkpoint()
        self._setup_model()
        self._setup_optimizer()
        # the model (LoRA init included) is the same on every process; what comes next, dropout, must not be
        set_seed(self.cfg.train.seed, device_specific=True)  # seed + process index
        self.state.data_fingerprint = self.data_fingerprint
        self.state.global_batch = self.shape.global_batch
        self._resume()  # a checkpoint brings each process's own RNG states back
        self.metrics = MetricsSink.open(self.cfg, self.run_dir, self.accel.is_main_process)
        log.info("train: %d examples (%d eval) in %d rows, %d optimizer steps, %d/%d trainable params, attn=%s",
                 len(self.train_ex), len(self.eval_ex), len(self.rows), self.total_steps, self.n_trainable,
                 self.n_total, self.attn)
        return True

    def _setup_data(self) -> None:
        cfg = self.cfg
        self.model_dir = M.resolve_model_path(cfg.model.path)
        self.tok = M.load_tokenizer(self.model_dir)
        if cfg.model.template == "chat" and not getattr(self.tok, "chat_template", None):
            raise UserError(f"model.template=chat but the tokenizer of {self.model_dir} has no chat template; "
                            "use model.template=alpaca")
        self.records = D.load_records(cfg.data.path, cfg.data.instruction_field, cfg.data.response_field,
                                      cfg.data.input_field)
        examples, self.token_stats = D.tokenize_records(self.records, self.tok, cfg.model.template,
                                                        cfg.data.max_seq_len, cfg.data.drop_empty)
        if not examples:
            raise UserError(f"{cfg.data.path}: no usable example (all dropped: too long for "
                            f"data.max_seq_len={cfg.data.max_seq_len} or empty)")
        self.train_ex, self.eval_ex = D.split_eval(examples, cfg.data.eval_fraction, cfg.train.seed)
        self.attn = M.resolve_attn(cfg.model.attn_implementation, self.device)
        self._plan_rows()

    def _plan_rows(self) -> None:
        """Packing (if the probe passes with self.attn), the rows, the batch plan and the number of steps."""
        cfg = self.cfg
        self.packing = cfg.data.packing and self._packing_is_exact()
        self.capacity = cfg.data.pack_len or cfg.data.max_seq_len
        self.rows = D.make_rows(self.train_ex, self.packing, self.capacity)
        self.eval_rows = D.make_rows(self.eval_ex, self.packing, self.capacity)
        self.plan = BatchPlan(self.rows, self.train_ex, cfg.train.batch_size, cfg.train.grad_accum, self.world,
                              self.accel.process_index, cfg.train.seed,
                              pack_len=self.capacity if self.packing else None)
        self.total_steps = (cfg.train.max_steps if cfg.train.max_steps > 0
                            else math.ceil(cfg.train.epochs * self.plan.steps_per_epoch))
        self.warmup = round(cfg.train.warmup_ratio * self.total_steps)

    def _make_collator(self) -> None:
        """After the model is loaded: a flash kernel (by any name, hub kernels included) takes a micro-batch as one
        flattened row; any other attention would attend over it with a dense (rows x length)^2 mask."""
        flatten = self.packing and M.is_flash(self.attn)
        fixed = self.capacity if (self.packing and (self.attn == "flex_attention" or self.cfg.train.compile)) else None
        self.collate = D.Collator(self.tok.pad_token_id, packing=self.packing, flatten=flatten, width=fixed,
                                  loss_index=True)

    def _packing_is_exact(self) -> bool:
        """Run the packing probe (on the GPU only for attention that needs one); on a mismatch, warn and pad."""
        import transformers

        gpu_only = M.is_flash(self.attn) or self.attn == "flex_attention"
        device = self.device if gpu_only else "cpu"
        self.probe = probe_packing(self.model_dir, self.attn, device)
        log.info("packing probe: %s attn=%s max logit difference %.2e in %.2fs", self.probe.model_class,
                 self.probe.attn, self.probe.max_diff, self.probe.seconds)
        if not self.probe.ok:
            why = self.probe.error or f"a packed row's logits differ from its examples run alone by {self.probe.max_diff:.3g}"
            log.warning("packing off (padding instead): %s with attn=%s on transformers %s does not keep packed "
                        "examples apart (%s); a newer transformers may, or set data.packing=false to silence this",
                        self.probe.model_class, self.probe.attn, transformers.__version__, why)
        return self.probe.ok

    def _already_finished(self) -> bool:
        metrics_file = self.run_dir / "train_metrics.json"
        if not (self.cfg.run.resume and metrics_file.is_file()
                and (self.run_dir / "adapter" / "adapter_config.json").is_file()):
            return False
        done = json.loads(metrics_file.read_text())
        self._check_same_data(done.get("data_fingerprint"), str(metrics_file))
        self.shape.check_same_global_batch(done.get("batch_shape"), f"the finished run in {self.run_dir}")
        if done.get("steps") != self.total_steps:
            return False
        log.info("%s already finished (%d steps): nothing to do (delete it or set run.resume=false to retrain)",
                 self.run_dir, self.total_steps)
        return True

    def _setup_model(self) -> None:
        cfg = self.cfg
        model = M.load_model(self.model_dir, self.dtype, self.attn, self.device, cfg.lora.qlora)
        loaded = model.config._attn_implementation
        if loaded != self.attn:  # a fallback (or transformers' own choice): plan for the attention the model has
            log.info("attention: %s asked, the model loaded %s", self.attn, loaded)
            was = (self.packing, self.total_steps)
            self.attn = loaded
            if cfg.data.packing:
                self._plan_rows()  # the packing probe again, with this attention
            if (self.packing, self.total_steps) != was:
                log.warning("with attention %s packing is %s: %d optimizer steps", loaded,
                            "on" if self.packing else "off", self.total_steps)
        self._make_collator()
        self.peft_model, self.targets = M.add_lora(model, cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout,
                                                   cfg.lora.target_modules, cfg.lora.qlora,
                                                   cfg.train.gradient_checkpointing)
        shape = model_shape(self.peft_model)
        self.example_flops = [shape.example_flops(len(ex)) for ex in self.train_ex]
        self.n_trainable = sum(p.numel() for p in self.peft_model.parameters() if p.requires_grad)
        self.n_total = sum(p.numel() for p in self.peft_model.parameters())
        self.module = ResponseLoss(self.peft_model)
        if cfg.train.compile:
            self.module = torch.compile(self.module, dynamic=True)

    def _setup_optimizer(self) -> None:
        from accelerate.utils import DistributedType

        cfg = self.cfg
        self.params = [p for p in self.peft_model.parameters() if p.requires_grad]
        optim = torch.optim.AdamW(self.params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay,
                                  betas=(0.9, 0.999), fused=self.device == "cuda")
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            optim, lr_lambda(self.total_steps, self.warmup, cfg.train.min_lr_ratio))
        self.deepspeed = self.accel.distributed_type == DistributedType.DEEPSPEED
        if self.deepspeed:  # no dataloader goes through prepare: tell DeepSpeed the batch shape and the clipping
            self.accel.state.deepspeed_plugin.deepspeed_config.update(deepspeed_settings(cfg, self.world))
        self.module, self.optim = self.accel.prepare(self.module, optim)
        self.checkpoints = Checkpoints(self.accel, self.ckpt_root, self.module, self.optim, [self.sched, self.state])

    def _check_last_checkpoint(self) -> None:
        """Before the model is loaded: the checkpoint a resume would start from fits this launch."""
        last = last_checkpoint(self.ckpt_root) if self.cfg.run.resume else None
        if last is not None:
            recorded = checkpoint_batch_shape(last)
            self.shape.check_same_global_batch(recorded, f"checkpoint {last}")
            check_same_storage(recorded, self.accel.distributed_type, f"checkpoint {last}")

    def _resume(self) -> None:
        if not self.cfg.run.resume:
            return
        last = last_checkpoint(self.ckpt_root)
        if last is not None:
            self.checkpoints.load(last)
            self._check_same_data(self.state.data_fingerprint, str(last))
            if self.state.step > self.total_steps:
                raise UserError(f"checkpoint {last} is at step {self.state.step}, past the end of this run's plan "
                                f"({self.total_steps} steps): train.epochs, train.max_steps or the rows changed "
                                "since; set them back to go on, or use another --output or run.resume=false")
            self.resumed_from = str(last)
            log.info("resumed from %s (step %d of %d)", last, self.state.step, self.total_steps)

    def _check_same_data(self, recorded: str | None, where: str) -> None:
        if recorded and recorded != self.data_fingerprint:
            raise UserError(f"{where} comes from training on other data than {self.cfg.data.path} (its contents "
                            f"changed since); use another --output, or set run.resume=false to start over there")

    # ------------------------------------------------------------------------------------- loop

    def train(self, progress: bool = False, stop_after: int | None = None) -> bool:
        """Run optimizer steps to the end (True), or until `stop_after` steps of this call (False)."""
        cfg, state = self.cfg, self.state
        bar = open_progress(progress and self.accel.is_main_process, self.total_steps, state.step)
        self.module.train()
        pending: list[PendingLoss] = []
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        first_step = state.step
        prefetch = Prefetcher(self.step_batches, range(state.step, self.total_steps))
        t_loop = time.perf_counter()
        try:
            while state.step < self.total_steps:
                if stop_after is not None and state.step - first_step >= stop_after:
                    log.info("stopping at step %d as asked (stop_after=%d)", state.step, stop_after)
                    return False
                pending.append(self.train_step(prefetch.get(state.step)))
                done = state.step == self.total_steps
                if state.step % max(1, cfg.run.logging_steps) == 0 or done or self._saving(state.step):
                    self._log_losses(pending)
                if self.eval_ex and cfg.run.eval_steps > 0 and state.step % cfg.run.eval_steps == 0 and not done:
                    with self._timing("eval_seconds"):
                        self.evaluate()
                if self._saving(state.step) and not done:
                    with self._timing("checkpoint_seconds"):
                        self.checkpoints.save(state.step, cfg.run.save_total_limit, dataclasses.asdict(self.shape))
                bar.advance()
        finally:
            prefetch.close()
            bar.close()
            self._sync()
            self.timed["train_seconds"] = (time.perf_counter() - t_loop - self.timed["eval_seconds"]
                                           - self.timed["checkpoint_seconds"])
        self._sum_timed_over_processes()
        if self.eval_ex:
            self.eval_loss = self.evaluate()
        self.peak_mem = torch.cuda.max_memory_allocated() if self.device == "cuda" else None
        return True

    @contextmanager
    def _timing(self, key: str):
        """Wall time of a pause in training (evaluation, a checkpoint), from when the device is done with the steps
        before it, so that their work is not counted in the pause."""
        self._sync()
        t = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.timed[key] += time.perf_counter() - t

    def _sync(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()

    def _sum_timed_over_processes(self) -> None:
        """Tokens and FLOPs of all processes (each counted its own examples): one collective, after the loop."""
        if self.world > 1:
            counts = torch.tensor([self.timed["tokens"], self.timed["flops"]], dtype=torch.float64,
                                  device=self.accel.device)
            tokens, flops = self.accel.reduce(counts, reduction="sum").tolist()
            self.timed.update(tokens=int(tokens), flops=flops)

    def step_batches(self, step: int) -> StepBatches:
        """Collate (and pin, for a CUDA copy) this process's micro-batches of `step`: run ahead by the prefetcher."""
        micro, label_tokens = self.plan.step(step)
        batches = [self.collate([[self.train_ex[i] for i in self.rows[r]] for r in rows]) for rows in micro]
        if self.device == "cuda":
            batches = [D.pin(b) for b in batches]
        tokens = sum(row_tokens(self.rows[r], self.train_ex) for rows in micro for r in rows)
        flops = sum(self.example_flops[i] for rows in micro for r in rows for i in self.rows[r])
        return StepBatches(batches, label_tokens, tokens, flops)

    def train_step(self, batches: StepBatches) -> PendingLoss:
        """One optimizer step over this process's micro-batches of the step; the loss stays on the device."""
        accel, state, cfg = self.accel, self.state, self.cfg
        micro, step_label_tokens, step_tokens, step_flops = batches
        denom = max(1, step_label_tokens)
        # The loss is normalised once, over the response tokens of the whole optimizer step (all processes, all
        # micro-batches): accelerate's backward (or DeepSpeed's) divides by grad_accum and DDP/FSDP/DeepSpeed
        # average gradients over processes, so x grad_accum x world undoes both.
        scale = cfg.train.grad_accum * self.world / denom
        step_loss = torch.zeros((), device=accel.device)
        for j, batch in enumerate(micro):
            batch = D.to_device(batch, accel.device)
            with accel.accumulate(self.module):
                if accel.sync_gradients != (j == len(micro) - 1):  # the plan and accelerate's counter must agree
                    raise RuntimeError(f"gradient accumulation out of step at step {state.step}, micro-batch {j}")
                with accel.autocast():
                    loss_sum, _ = self.module(**batch)
                accel.backward(loss_sum * scale)  # under DeepSpeed this also runs the engine's step at the boundary
            step_loss += loss_sum.detach()
        if cfg.train.max_grad_norm > 0 and not self.deepspeed:  # DeepSpeed clips itself (gradient_clipping)
            accel.clip_grad_norm_(self.module.parameters(), cfg.train.max_grad_norm)
        lr = self.optim.param_groups[0]["lr"]
        self.optim.step()
        if not accel.optimizer_step_was_skipped:  # fp16: the grad scaler skips steps with inf/nan gradients
            self.sched.step()
        self.optim.zero_grad(set_to_none=True)
        state.step += 1
        state.tokens_seen += step_tokens * self.world
        self.timed["tokens"] += step_tokens
        self.timed["flops"] += step_flops
        return PendingLoss(state.step, step_loss, lr, denom)

    def _log_losses(self, pending: list[PendingLoss]) -> None:
        """Turn the pending per-step loss sums (device tensors) into numbers: one sync per logging interval."""
        if not pending:
            return
        sums = torch.stack([p.loss_sum for p in pending])
        sums = self.accel.reduce(sums, reduction="sum") if self.world > 1 else sums
        for p, s in zip(pending, sums.tolist()):
            entry = {"step": p.step, "loss": s / p.label_tokens, "lr": p.lr}
            self.state.history.append(entry)
            self.metrics.log({"train/loss": entry["loss"], "train/lr": p.lr}, p.step)
        last = self.state.history[-1]
        log.info("step %d loss %.4f lr %.2e", last["step"], last["loss"], last["lr"])
        pending.clear()

    def _saving(self, step: int) -> bool:
        return self.cfg.run.save_steps > 0 and step % self.cfg.run.save_steps == 0

    def evaluate(self) -> float:
        """Mean response-token loss over the held-out rows, on all processes together."""
        accel, bs = self.accel, self.cfg.train.batch_size
        self.module.eval()
        rank = accel.process_index
        total = torch.zeros(2, device=accel.device, dtype=torch.float64)
        batches = [self.eval_rows[s:s + bs] for s in range(0, len(self.eval_rows), bs)]
        per_rank = math.ceil(len(batches) / self.world)
        with torch.no_grad():
            # every rank runs the same number of forwards (DDP/FSDP forwards are collective); extras are discarded
            for i in range(per_rank):
                index = rank + i * self.world
                b = batches[index] if index < len(batches) else batches[0]
                batch = D.to_device(self.collate([[self.eval_ex[j] for j in row] for row in b]), accel.device)
                with accel.autocast():
                    s, n = self.module(**batch)
                if index < len(batches):
                    total += torch.stack([s.double(), torch.tensor(float(n), device=s.device, dtype=torch.float64)])
        if self.world > 1:
            total = accel.reduce(total, reduction="sum")
        self.module.train()
        loss = (total[0] / total[1].clamp(min=1)).item()
        self.state.eval_history.append({"step": self.state.step, "loss": loss})
        self.metrics.log({"eval/loss": loss}, self.state.step)
        log.info("step %d eval loss %.4f", self.state.step, loss)
        return loss

    # ------------------------------------------------------------------------------------ save

    def save(self) -> None:
        """The adapter (+ tokenizer, optionally the merged model), train_metrics.json, stats.json, loss.png."""
        accel, cfg = self.accel, self.cfg
        accel.wait_for_everyone()
        adapter_dir = self.run_dir / "adapter"
        peft_sd = self.adapter_state_dict()  # every process takes part in gathering the shards
        if accel.is_main_process:
            unwrapped = accel.unwrap_model(self.module)
            if hasattr(unwrapped, "_orig_mod"):
                unwrapped = unwrapped._orig_mod
            unwrapped.model.save_pretrained(str(adapter_dir), state_dict=peft_sd)
            self.tok.save_pretrained(str(adapter_dir))
            if cfg.run.merge:
                sharded = peft_sd is not None  # FSDP / ZeRO-3: this process holds only its shards of the base
                M.merge_adapter(unwrapped.model, self.model_dir, adapter_dir, self.run_dir / "merged", self.tok,
                                cfg.lora.qlora or sharded, self.dtype)
            (self.run_dir / "train_metrics.json").write_text(json.dumps(self._metrics(), indent=2))
            (self.run_dir / "stats.json").write_text(json.dumps(self._stats(), indent=2))
            plot_losses(self.state.history, self.state.eval_history, self.run_dir / "loss.png")
        accel.wait_for_everyone()

    def adapter_state_dict(self) -> dict | None:
        """The trainable weights gathered whole on the main process (`checkpoint.gathered_adapter_state`)."""
        return gathered_adapter_state(self.accel, self.module, self.deepspeed)

    def _metrics(self) -> dict:
        state, eval_loss = self.state, self.eval_loss
        train_losses = [h["loss"] for h in state.history]
        return {
            "steps": state.step, "total_steps": self.total_steps, "data_fingerprint": self.data_fingerprint,
            "batch_shape": {**dataclasses.asdict(self.shape), "global_batch": self.shape.global_batch},
            "epochs": self.total_steps / self.plan.steps_per_epoch,
            "train_loss_first": train_losses[0] if train_losses else None,
            "train_loss_last": train_losses[-1] if train_losses else None,
            "eval_loss": eval_loss,
            "eval_perplexity": math.exp(eval_loss) if eval_loss is not None and eval_loss < 50 else None,
            "tokens_seen": state.tokens_seen,
            **throughput(self.timed, self.device, self.cfg.run.peak_tflops, self.world),
            "peak_memory_gb": self.peak_mem / 2**30 if self.peak_mem else None,
            "runtime_s": time.time() - self.t_start, "resumed_from": self.resumed_from,
            "history": state.history, "eval_history": state.eval_history,
        }

    def _stats(self) -> dict:
        real_tokens = sum(len(e) for e in self.train_ex)
        return {
            **dataclasses.asdict(self.token_stats), "records": len(self.records),
            "train_examples": len(self.train_ex), "eval_examples": len(self.eval_ex), "rows": len(self.rows),
            "row_capacity": self.capacity, "packing": self.packing,
            "packing_probe": dataclasses.asdict(self.probe) if self.probe else None,
            "global_batch_rows": self.plan.global_batch, "grad_accum": self.cfg.train.grad_accum,
            "data_fingerprint": self.data_fingerprint,
            "packing_efficiency": real_tokens / (len(self.rows) * self.capacity) if self.packing else None,
            "attn_implementation": self.attn, "target_modules": self.targets, "trainable_params": self.n_trainable,
            "total_params": self.n_total, "world_size": self.world, "device": self.device,
            "distributed_type": self.accel.distributed_type.value,
            "steps_per_epoch": self.plan.steps_per_epoch, "optimizer_steps": self.state.step,
            "model_dir": str(self.model_dir),
        }

    def cleanup(self) -> None:
        self.metrics.close()
        self.accel.end_training()
