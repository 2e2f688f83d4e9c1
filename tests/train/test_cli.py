"""The `wizardcoder train` command: config loading, clear exit-2 errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wizardcoder.cli import main
from wizardcoder.config import load_config
from wizardcoder.train import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_loads_and_header_is_the_command():
    path = ROOT / "configs" / "train_lora.yaml"
    cfg = load_config(TrainConfig, path)
    assert cfg.lora.r == 16 and cfg.data.packing is True and cfg.train.lr == pytest.approx(2e-4)
    assert path.read_text().splitlines()[0].startswith("# wizardcoder train --data ")


def test_overrides_accept_exponent_floats():
    cfg = load_config(TrainConfig, None, ["train.lr=1e-4", "lora.target_modules=[q_proj]"])
    assert cfg.train.lr == pytest.approx(1e-4) and cfg.lora.target_modules == ["q_proj"]


def test_unknown_key_is_an_error(capsys):
    assert main(["train", "--data", "x.jsonl", "--model", "m", "lora.dropuot=0.1"]) == 2
    assert "did you mean lora.dropout" in capsys.readouterr().err


def test_missing_field_exits_2_naming_file_field_and_key(tiny_model_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"instruction": "x", "code": "y"}) + "\n")
    rc = main(["train", "--data", str(bad), "--model", str(tiny_model_dir), "--device", "cpu",
               "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(bad) in err and "'output'" in err and "data.response_field=" in err


def test_missing_model_exits_2(data_jsonl, tmp_path, capsys):
    rc = main(["train", "--data", str(data_jsonl), "--model", str(tmp_path / "nope"), "--device", "cpu"])
    assert rc == 2 and "no model hub" in capsys.readouterr().err


def test_no_gpu_exits_2_with_the_fix(data_jsonl, tiny_model_dir, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    rc = main(["train", "--data", str(data_jsonl), "--model", str(tiny_model_dir), "--device", "cuda"])
    assert rc == 2 and "use --device cpu for tiny models" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_trains(tiny_model_dir, data_jsonl, tmp_path, capsys):
    rc = main(["train", "--data", str(data_jsonl), "--model", str(tiny_model_dir), "--device", "cpu",
               "--config", str(ROOT / "configs" / "train_lora.yaml"), "--output", str(tmp_path / "run"),
               "train.max_steps=2", "data.max_seq_len=256", "run.tensorboard=false"])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").exists()
    assert "adapter:" in capsys.readouterr().out


def test_cuda_oom_becomes_a_clear_error(monkeypatch, data_jsonl, tiny_model_dir, capsys):
    import torch

    from wizardcoder.train import trainer

    def boom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer, "_pick_device", lambda requested: "cuda")
    monkeypatch.setattr(trainer, "_train", boom)
    rc = main(["train", "--data", str(data_jsonl), "--model", str(tiny_model_dir)])
    err = capsys.readouterr().err
    assert rc == 2
    for knob in ("train.batch_size", "data.max_seq_len", "train.gradient_checkpointing", "data.packing", "lora.qlora"):
        assert knob in err
