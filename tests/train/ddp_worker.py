"""Run by torchrun in test_accumulation: one training process of a data-parallel (DDP, gloo) CPU run."""

from __future__ import annotations

import sys

from wizardcoder.config import load_config
from wizardcoder.train import TrainConfig, train

if __name__ == "__main__":
    train(load_config(TrainConfig, None, sys.argv[1:]))
