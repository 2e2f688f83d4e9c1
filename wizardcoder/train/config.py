"""The `train` config: dataclass sections, loaded with `wizardcoder.config.load_config` (strict keys)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ModelSection:
    # A local model directory, a local .gguf file, or "smollm2-135m-instruct" (the embedded model).
    path: str | None = None
    # "alpaca" (WizardCoder's template) or "chat" (the tokenizer's own chat template).
    template: str = "alpaca"
    # auto: bfloat16 on a GPU that supports it, float32 on CPU.
    dtype: str = "auto"
    # auto: flash_attention_2 when flash-attn is installed on CUDA, else sdpa. Also: sdpa, eager, flex_attention.
    attn_implementation: str = "auto"

    def __post_init__(self) -> None:
        if self.template not in ("alpaca", "chat"):
            raise ValueError(f"model.template must be 'alpaca' or 'chat', got {self.template!r}")
        if self.dtype not in ("auto", "bfloat16", "float16", "float32"):
            raise ValueError(f"model.dtype must be auto, bfloat16, float16 or float32, got {self.dtype!r}")


@dataclass
class DataSection:
    # A dataset directory (datasets.save_to_disk), a .jsonl/.json/.parquet file; set by --data.
    path: str | None = None
    # Field names; when left at the default, common alternatives (prompt/response/completion...) are also tried.
    instruction_field: str = "instruction"
    response_field: str = "output"
    # Optional context field (Alpaca's "input"): appended to the instruction when non-empty; "" ignores it.
    input_field: str = "input"
    # Fraction of examples held out for evaluation (0 disables evaluation).
    eval_fraction: float = 0.05
    # Longest tokenized example (prompt + response); longer ones are truncated from the response end.
    max_seq_len: int = 2048
    # Pack several short examples into one row without cross-example attention (position ids restart
    # per example). false: pad, with batches of similar lengths.
    packing: bool = True
    # Length of a packed row (0 = max_seq_len). Shorter rows waste less attention compute on SDPA.
    pack_len: int = 0
    # Drop examples whose response is empty after truncation (they carry no loss).
    drop_empty: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ValueError(f"data.eval_fraction must be in [0, 1), got {self.eval_fraction}")
        if self.max_seq_len < 8:
            raise ValueError(f"data.max_seq_len must be >= 8, got {self.max_seq_len}")


@dataclass
class LoraSection:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    # Module names to adapt; empty = the default for the architecture (attention + MLP projections).
    target_modules: list[str] = field(default_factory=list)
    # 4-bit base weights (QLoRA); needs bitsandbytes and a CUDA GPU.
    qlora: bool = False

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ValueError(f"lora.r must be >= 1, got {self.r}")


@dataclass
class TrainSection:
    epochs: float = 3.0
    # Stop after this many optimizer steps (-1: run all epochs).
    max_steps: int = -1
    # Rows per device per micro-step (with packing, each row holds several examples).
    batch_size: int = 8
    # Micro-steps per optimizer step. A step's rows depend only on batch_size x grad_accum x processes, so
    # halving batch_size and doubling grad_accum trains the same run. `accelerate launch
    # --gradient_accumulation_steps N` sets it when it is left at 1.
    grad_accum: int = 1
    lr: float = 2e-4
    weight_decay: float = 0.0
    # Fraction of the optimizer steps spent warming the learning rate up (then cosine decay to min_lr_ratio*lr).
    warmup_ratio: float = 0.03
    min_lr_ratio: float = 0.0
    # Gradient clipping (0: off); under DeepSpeed it becomes the DeepSpeed config's gradient_clipping.
    max_grad_norm: float = 1.0
    # Recompute activations in the backward pass: much less memory, about 20-30% slower.
    gradient_checkpointing: bool = True
    # torch.compile the model (GPU; first steps are slow while it compiles).
    compile: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError("train.batch_size and train.grad_accum must be >= 1")


@dataclass
class RunSection:
    # Run directory; default runs/train/<fingerprint of this config>.
    output: str | None = None
    # cpu | cuda | auto (auto: cuda when available).
    device: str = "auto"
    logging_steps: int = 10
    # Evaluate every N optimizer steps (0: only at the end).
    eval_steps: int = 0
    # Checkpoint every N optimizer steps (0: never mid-run); a re-run resumes from the last one.
    save_steps: int = 200
    # Keep only the last N checkpoints.
    save_total_limit: int = 2
    # Resume from the last checkpoint in the run directory if there is one.
    resume: bool = True
    # Also write the base model with the adapter merged in (merged/).
    merge: bool = False
    tensorboard: bool = True
    # Log to Weights & Biases when wandb is installed.
    wandb: bool = False

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"run.device must be auto, cpu or cuda, got {self.device!r}")


@dataclass
class TrainConfig:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    lora: LoraSection = field(default_factory=LoraSection)
    train: TrainSection = field(default_factory=TrainSection)
    run: RunSection = field(default_factory=RunSection)
