"""Where training numbers go: one sink for TensorBoard and Weights & Biases, and the loss plot."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

from wizardcoder.train.config import TrainConfig

log = logging.getLogger(__name__)


class MetricsSink:
    """Scalars by name and step to TensorBoard and W&B (each optional; the main process only)."""

    def __init__(self, tensorboard=None, wandb_run=None):
        self._tensorboard = tensorboard
        self._wandb = wandb_run

    @classmethod
    def open(cls, cfg: TrainConfig, run_dir: Path, is_main_process: bool) -> MetricsSink:
        if not is_main_process:
            return cls()
        return cls(_tensorboard(run_dir) if cfg.run.tensorboard else None,
                   _wandb(cfg, run_dir) if cfg.run.wandb else None)

    def log(self, values: dict[str, float], step: int) -> None:
        if self._tensorboard is not None:
            for name, value in values.items():
                self._tensorboard.add_scalar(name, value, step)
        if self._wandb is not None:
            self._wandb.log(values, step=step)

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
        if self._wandb is not None:
            self._wandb.finish()
        self._tensorboard = self._wandb = None


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)")
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))


def _wandb(cfg: TrainConfig, run_dir: Path):
    try:
        import wandb
    except ImportError:
        log.warning("run.wandb=true but wandb is not installed: pip install wandb")
        return None
    return wandb.init(project=os.environ.get("WANDB_PROJECT", "wizardcoder"), dir=str(run_dir),
                      name=run_dir.name, config=dataclasses.asdict(cfg), resume="allow", id=run_dir.name)


def plot_losses(history: list[dict], eval_history: list[dict], path: Path) -> None:
    """The loss curve as a PNG; without matplotlib (a bare GPU image), a warning instead: the numbers are in
    train_metrics.json, and a finished run must not fail on its picture."""
    if not history:
        return
    try:
        import matplotlib
    except ImportError:
        log.warning("matplotlib is not installed: no %s (pip install matplotlib); the losses are in "
                    "train_metrics.json", path.name)
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([h["step"] for h in history], [h["loss"] for h in history], label="train")
    if eval_history:
        ax.plot([h["step"] for h in eval_history], [h["loss"] for h in eval_history], "o-", label="eval")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (response tokens)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
