"""On a CUDA GPU: bf16 training with packing on the tiny model (skipped without a GPU)."""

from __future__ import annotations

import json

import pytest

from wizardcoder.config import load_config
from wizardcoder.train import TrainConfig, train


@pytest.mark.gpu
def test_trains_on_gpu_in_bf16(tiny_model_dir, data_jsonl, tmp_path):
    cfg = load_config(TrainConfig, None, [
        f"model.path={tiny_model_dir}", f"data.path={data_jsonl}", f"run.output={tmp_path}", "run.device=cuda",
        "data.max_seq_len=256", "train.batch_size=4", "train.max_steps=12", "train.lr=0.003", "run.logging_steps=1"])
    run = train(cfg)
    metrics = json.loads((run / "train_metrics.json").read_text())
    losses = [h["loss"] for h in metrics["history"]]
    assert sum(losses[-3:]) < sum(losses[:3])
    assert metrics["peak_memory_gb"] > 0
    assert json.loads((run / "stats.json").read_text())["device"] == "cuda"
