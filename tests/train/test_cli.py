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

    from wizardcoder.train import runner

    def boom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(runner, "_pick_device", lambda requested: "cuda")
    monkeypatch.setattr(runner, "_train", boom)
    rc = main(["train", "--data", str(data_jsonl), "--model", str(tiny_model_dir)])
    err = capsys.readouterr().err
    assert rc == 2
    for knob in ("train.batch_size", "data.max_seq_len", "train.gradient_checkpointing", "data.packing", "lora.qlora"):
        assert knob in err


def test_auto_device_without_a_gpu_trains_on_the_cpu_loudly(data_jsonl, tiny_model_dir, tmp_path, capsys, caplog):
    """`wizardcoder train --help`'s first example (no --device) failed on a CPU-only machine. And a run directory
    a failed preflight left (a wrong --model) takes the corrected command."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: auto picks it")
    out = tmp_path / "run"
    common = ["--data", str(data_jsonl), "--output", str(out), "train.max_steps=1", "data.max_seq_len=256",
              "run.tensorboard=false", "train.batch_size=2"]
    assert main(["train", "--model", str(tmp_path / "no-such-model"), *common]) == 2
    assert out.is_dir()
    with caplog.at_level("WARNING", logger="wizardcoder.train.runner"):
        rc = main(["train", "--model", str(tiny_model_dir), *common])
    assert rc == 0, capsys.readouterr().err[-2000:]
    assert "no CUDA GPU found: training on the CPU" in caplog.text and "--device cpu silences this" in caplog.text
    assert (out / "adapter" / "adapter_config.json").is_file()


def test_too_little_packed_data_says_examples_were_packed_into_sequences(tiny_model_dir, tmp_path, capsys):
    """An 8-row dataset was reported as "too little data ... 1 rows": packing had put the 8 into one sequence."""
    from .conftest import make_records

    data = tmp_path / "eight.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in make_records(8)))
    rc = main(["train", "--data", str(data), "--model", str(tiny_model_dir), "--device", "cpu", "--output",
               str(tmp_path / "run"), "data.eval_fraction=0", "data.max_seq_len=2048", "train.batch_size=4",
               "run.tensorboard=false"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "8 examples packed into 1 sequence of 2048 tokens" in err and "lower train.batch_size" in err, err
    assert "data.pack_len" in err
