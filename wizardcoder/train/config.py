"""The `train` config: dataclass sections, loaded with `wizardcoder.config.load_config` (strict keys); each
setting declared with its help and allowed values (`setting`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wizardcoder.config import Settings, setting


@dataclass
class ModelConfig(Settings):
    SECTION = "model"

    path: str | None = setting(
        None, help="a local model directory, a local .gguf file, or smollm2-135m-instruct (the embedded model)")
    template: str = setting("alpaca", choices=("alpaca", "chat"),
                            help="alpaca (WizardCoder's template) or chat (the tokenizer's own chat template)")
    dtype: str = setting("auto", choices=("auto", "bfloat16", "float16", "float32"),
                         help="weights' dtype; auto: bfloat16 on a GPU that supports it (else float16), "
                              "float32 on CPU")
    attn_implementation: str = setting(
        "auto", help="auto: flash_attention_2 when flash-attn imports on CUDA, else sdpa. Also: sdpa, eager, "
                     "flex_attention")


@dataclass
class TrainDataConfig(Settings):
    SECTION = "data"

    path: str | None = setting(None, help="a dataset directory (datasets.save_to_disk) or a .jsonl/.json/.parquet "
                                          "file; set by --data")
    instruction_field: str = setting(
        "instruction", help="the instruction's field; left at the default, common alternatives (prompt, question, "
                            "...) are tried too")
    response_field: str = setting(
        "output", help="the response's field; left at the default, common alternatives (response, completion, "
                       "...) are tried too")
    input_field: str = setting(
        "input", help="an optional context field (Alpaca's input), appended to the instruction when non-empty; "
                      "empty: ignored")
    eval_fraction: float = setting(0.05, ge=0, lt=1,
                                   help="fraction of the examples held out for evaluation (0: no evaluation)")
    max_seq_len: int = setting(
        2048, ge=8, help="the longest tokenized example (prompt + response); longer ones lose the response's end")
    packing: bool = setting(
        True, help="pack several short examples into one row without cross-example attention (position ids "
                   "restart per example); false: pad, with batches of similar lengths")
    pack_len: int = setting(
        0, ge=0, help="the length of a packed row (0: max_seq_len); shorter rows waste less attention compute on SDPA")
    drop_empty: bool = setting(True, help="drop examples whose response is empty after truncation (they carry no "
                                          "loss)")


@dataclass
class AdapterConfig(Settings):
    SECTION = "lora"

    r: int = setting(16, ge=1, help="the LoRA rank")
    alpha: int = setting(32, gt=0, help="the LoRA scaling numerator (the update is scaled by alpha / r)")
    dropout: float = setting(0.05, ge=0, lt=1, help="dropout on the LoRA branch")
    target_modules: list[str] = setting(
        default_factory=list,
        help="module names to adapt; empty: the architecture's default (attention and MLP projections)")
    qlora: bool = setting(False, help="4-bit base weights (QLoRA); needs bitsandbytes and a CUDA GPU")


@dataclass
class TrainingConfig(Settings):
    SECTION = "train"

    epochs: float = setting(3.0, gt=0, help="passes over the training examples")
    max_steps: int = setting(-1, ge=-1, help="stop after this many optimizer steps (-1: run all epochs)")
    batch_size: int = setting(8, ge=1, help="rows per device per micro-step (with packing, each row holds several "
                                            "examples)")
    grad_accum: int = setting(
        1, ge=1,
        help="micro-steps per optimizer step. A step's rows depend only on batch_size x grad_accum x processes, so "
             "halving batch_size and doubling grad_accum trains the same run; `accelerate launch "
             "--gradient_accumulation_steps N` sets it when it is left at 1")
    lr: float = setting(2e-4, gt=0, help="the peak learning rate")
    weight_decay: float = setting(0.0, ge=0, help="AdamW weight decay")
    warmup_ratio: float = setting(
        0.03, ge=0, le=1,
        help="fraction of the optimizer steps spent warming the learning rate up (then cosine decay to "
             "min_lr_ratio x lr)")
    min_lr_ratio: float = setting(0.0, ge=0, le=1, help="the learning rate at the end, as a fraction of lr")
    max_grad_norm: float = setting(
        1.0, ge=0, help="gradient clipping (0: off); under DeepSpeed, the DeepSpeed config's gradient_clipping")
    gradient_checkpointing: bool = setting(
        True, help="recompute activations in the backward pass: much less memory, about 20-30% slower")
    compile: bool = setting(False, help="torch.compile the model (GPU; the first steps are slow while it compiles)")
    seed: int = setting(0, help="the seed of shuffling, the eval split and the LoRA initialisation")


@dataclass
class RunConfig(Settings):
    SECTION = "run"

    output: str | None = setting(None, fingerprinted=False,
                                 help="the run directory; null: runs/train/<fingerprint of this config and the data>")
    device: str = setting("auto", choices=("auto", "cpu", "cuda"), fingerprinted=False,
                          help="cpu, cuda or auto (cuda when available)")
    logging_steps: int = setting(10, ge=0, fingerprinted=False,
                                help="log the loss every N optimizer steps (0: every step)")
    eval_steps: int = setting(0, ge=0, help="evaluate every N optimizer steps (0: only at the end)")
    save_steps: int = setting(200, ge=0, help="checkpoint every N optimizer steps (0: never mid-run); a rerun "
                                              "resumes from the last one")
    save_total_limit: int = setting(2, ge=0, help="keep only the last N checkpoints (0: all)")
    resume: bool = setting(True, fingerprinted=False,
                           help="resume from the last checkpoint in the run directory, if there is one")
    merge: bool = setting(False, help="also write the base model with the adapter merged in (merged/)")
    tensorboard: bool = setting(True, fingerprinted=False, help="write TensorBoard logs")
    wandb: bool = setting(False, fingerprinted=False, help="log to Weights & Biases when wandb is installed")
    peak_tflops: float = setting(
        0.0, ge=0, fingerprinted=False,
        help="one GPU's dense bf16/fp16 peak in TFLOP/s, for the MFU in train_metrics.json (0: from the GPU's name "
             "when known, e.g. 989 for an H100 SXM or H200; none on CPU)")


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: TrainDataConfig = field(default_factory=TrainDataConfig)
    lora: AdapterConfig = field(default_factory=AdapterConfig)
    train: TrainingConfig = field(default_factory=TrainingConfig)
    run: RunConfig = field(default_factory=RunConfig)
