"""`wizardcoder train`: LoRA supervised fine-tuning (transformers + peft), one GPU or many (accelerate)."""

from wizardcoder.train.config import TrainConfig

__all__ = ["TrainConfig", "train"]


def train(cfg: TrainConfig, progress: bool = False, stop_after: int | None = None):
    """Run training as `cfg` says; returns the run directory. (Imports torch lazily.)

    `stop_after=N` stops after N optimizer steps, as a preemption would; a re-run resumes.
    """
    from wizardcoder.train.runner import train as _train

    return _train(cfg, progress=progress, stop_after=stop_after)
