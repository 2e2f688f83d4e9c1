"""A step's examples depend only on the global batch: splitting it into micro-batches, accumulation steps
(set in the config or by the launcher) or processes (DDP under torchrun) trains the same adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.train.conftest import make_records
from tests.train.distributed import torchrun
from wizardcoder.cli import main
from wizardcoder.config import load_config
from wizardcoder.train import TrainConfig, train
from wizardcoder.train import data as D
from wizardcoder.train.plan import BatchPlan

ROOT = Path(__file__).resolve().parents[2]
ACCUM_ENV = "ACCELERATE_GRADIENT_ACCUMULATION_STEPS"


@pytest.fixture(scope="module")
def data96(tmp_path_factory):
    path = tmp_path_factory.mktemp("data96") / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in make_records(96)))
    return path


def _overrides(model_dir, data, out, batch_size, grad_accum, packing):
    # dropout 0: the only randomness left would depend on how a step is split
    return [f"model.path={model_dir}", f"data.path={data}", f"run.output={out}", "run.device=cpu",
            "data.max_seq_len=256", f"train.batch_size={batch_size}", f"train.grad_accum={grad_accum}",
            "train.max_steps=4", "train.lr=0.003", "train.warmup_ratio=0", "lora.r=8", "lora.alpha=16",
            "lora.dropout=0", "run.logging_steps=1", "run.tensorboard=false", "data.eval_fraction=0",
            "run.save_steps=0", f"data.packing={str(packing).lower()}", "train.gradient_checkpointing=false"]


def _result(run_dir: Path):
    from safetensors.torch import load_file

    losses = [h["loss"] for h in json.loads((run_dir / "train_metrics.json").read_text())["history"]]
    return losses, load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))


def _assert_same_run(a, b):
    (losses_a, adapter_a), (losses_b, adapter_b) = a, b
    assert len(losses_a) == len(losses_b) == 4
    assert losses_b == pytest.approx(losses_a, rel=1e-5, abs=1e-6)
    assert adapter_a.keys() == adapter_b.keys()
    for k in adapter_a:
        torch.testing.assert_close(adapter_b[k], adapter_a[k], atol=2e-5, rtol=1e-4)


def test_a_step_holds_the_same_rows_however_it_is_split():
    exs = [D.Example([5] * n, 1) for n in (30, 5, 17, 8, 22, 11, 9, 40, 3, 14, 26, 6, 19, 12, 7, 33, 10, 4)]
    rows = D.make_rows(exs, packing=False, capacity=64)

    def steps(batch_size, grad_accum, world):
        plans = [BatchPlan(rows, exs, batch_size, grad_accum, world, rank, seed=3) for rank in range(world)]
        out = []
        for step in range(plans[0].steps_per_epoch * 2):  # two epochs
            parts = [p.step(step) for p in plans]
            assert all(len(micro) == grad_accum and all(len(b) == batch_size for b in micro) for micro, _ in parts)
            assert len({tokens for _, tokens in parts}) == 1  # every process normalises by the same count
            out.append((sorted(r for micro, _ in parts for b in micro for r in b), parts[0][1]))
        return out

    reference = steps(8, 1, 1)
    assert len(reference) == 4 and reference[0] != reference[2]  # 18 rows: 2 steps per epoch, reshuffled
    for shape in ((4, 2, 1), (2, 4, 1), (1, 8, 1), (2, 2, 2), (1, 1, 8)):
        assert steps(*shape) == reference, shape


@pytest.mark.slow
@pytest.mark.parametrize("packing", [True, False])
def test_batch_times_accumulation_gives_the_same_adapter(tiny_model_dir, data96, tmp_path, packing, monkeypatch):
    runs = {}
    for batch_size, grad_accum in ((8, 1), (4, 2), (2, 4)):
        out = tmp_path / f"{batch_size}x{grad_accum}"
        if grad_accum == 4:  # asked for by the launcher (accelerate launch --gradient_accumulation_steps 4)
            monkeypatch.setenv(ACCUM_ENV, "4")
            grad_accum = 1
        train(load_config(TrainConfig, None, _overrides(tiny_model_dir, data96, out, batch_size, grad_accum,
                                                        packing)))
        monkeypatch.delenv(ACCUM_ENV, raising=False)
        runs[out.name] = _result(out)
        stats = json.loads((out / "stats.json").read_text())
        assert stats["packing"] is packing and stats["global_batch_rows"] == 8
    assert json.loads((tmp_path / "2x4" / "stats.json").read_text())["grad_accum"] == 4
    assert "grad_accum: 4" in (tmp_path / "2x4" / "config.yaml").read_text()
    _assert_same_run(runs["8x1"], runs["4x2"])
    _assert_same_run(runs["8x1"], runs["2x4"])


def test_a_launcher_accumulation_that_disagrees_is_refused(monkeypatch, data_jsonl, tiny_model_dir, tmp_path,
                                                          capsys):
    monkeypatch.setenv(ACCUM_ENV, "4")
    rc = main(["train", "--data", str(data_jsonl), "--model", str(tiny_model_dir), "--device", "cpu",
               "--output", str(tmp_path / "run"), "train.grad_accum=2"])
    err = capsys.readouterr().err
    assert rc == 2
    assert ACCUM_ENV in err and "train.grad_accum=2" in err and "set train.grad_accum=4" in err


@pytest.mark.slow
def test_two_ddp_processes_equal_one_at_the_same_global_batch(tiny_model_dir, data96, tmp_path):
    one = tmp_path / "one"
    train(load_config(TrainConfig, None, _overrides(tiny_model_dir, data96, one, 8, 1, True)))
    two = tmp_path / "two"  # 2 processes x batch 2 x accumulation 2
    proc = torchrun(Path(__file__).with_name("ddp_worker.py"), *_overrides(tiny_model_dir, data96, two, 2, 2, True))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((two / "stats.json").read_text())["world_size"] == 2
    _assert_same_run(_result(one), _result(two))


def test_deepspeed_takes_the_batch_shape_and_clipping_from_the_train_config():
    from wizardcoder.train.launch import deepspeed_settings

    cfg = load_config(TrainConfig, None, ["train.batch_size=2", "train.grad_accum=4", "train.max_grad_norm=0.5"])
    assert deepspeed_settings(cfg, world=8) == {
        "train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 4, "train_batch_size": 64,
        "gradient_clipping": 0.5}
    off = load_config(TrainConfig, None, ["train.max_grad_norm=0"])
    assert deepspeed_settings(off, world=1)["gradient_clipping"] == 0.0  # DeepSpeed's "no clipping"
    text = (ROOT / "configs" / "accelerate" / "deepspeed_zero2.yaml").read_text()
    assert "gradient_clipping = train.max_grad_norm" in text and "gradient_clipping:" not in text


@pytest.mark.parametrize("name", ["ddp", "fsdp", "deepspeed_zero2"])
def test_launch_configs_take_the_number_of_processes_from_the_command(name):
    """No machine's GPU count is assumed (8 made a 4-GPU machine fail on an invalid device ordinal):
    accelerate asks for --num_processes, and each config's first line passes it."""
    from accelerate.commands.config.config_args import load_config_from_file

    path = ROOT / "configs" / "accelerate" / f"{name}.yaml"
    assert load_config_from_file(str(path)).num_processes == -1  # accelerate launch: "pass in --num_processes"
    assert "--num_processes N " in path.read_text().splitlines()[0]
