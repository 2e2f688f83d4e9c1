"""FSDP2 as configs/accelerate/fsdp.yaml sets it up, on 2 CPU processes (gloo): one launch, stopped after 2
steps and resumed to the end in the same processes; compared with one plain process at the same global batch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.train.distributed import torchrun
from tests.train.test_accumulation import _assert_same_run, _overrides, _result
from wizardcoder.cli import main
from wizardcoder.config import load_config
from wizardcoder.train import TrainConfig, train

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("fsdp_worker.py")


@pytest.fixture(scope="module")
def fsdp_run(tiny_model_dir, data_jsonl, tmp_path_factory):
    """(run directory, reports by phase and rank, the one-process run's directory)."""
    root = tmp_path_factory.mktemp("fsdp")
    out, reports = root / "two", root / "reports"
    reports.mkdir()
    # 2 processes x batch 2 = a global batch of 4 rows; a checkpoint every step
    args = [*_overrides(tiny_model_dir, data_jsonl, out, 2, 1, True), "run.save_steps=1", "run.merge=true"]
    proc = torchrun(WORKER, str(reports), "stop2,run", *args, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    found = {p.stem: json.loads(p.read_text()) for p in reports.glob("*.json")}
    one = root / "one"
    train(load_config(TrainConfig, None, _overrides(tiny_model_dir, data_jsonl, one, 4, 1, True)))
    return out, found, one, args


def test_each_decoder_layer_is_its_own_fsdp_unit(fsdp_run):
    _, reports, _, _ = fsdp_run
    for rank in (0, 1):
        report = reports[f"stop2-rank{rank}"]
        assert report["distributed_type"] == "FSDP"
        layers = [u for u in report["fsdp_units"] if u.rsplit(".", 1)[0].endswith("layers")]
        assert len(layers) == report["layers"] == 2, report["fsdp_units"]


def test_each_process_draws_its_own_dropout(fsdp_run):
    _, reports, _, _ = fsdp_run
    assert reports["stop2-rank0"]["rand_after_setup"] != reports["stop2-rank1"]["rand_after_setup"]


def test_stopped_and_resumed_under_fsdp_trains_what_one_process_trains(fsdp_run):
    out, reports, one, _ = fsdp_run
    assert reports["run-rank0"]["resumed_from"].endswith("step-00000002")
    assert reports["run-rank0"]["step"] == 4
    _assert_same_run(_result(one), _result(out))


def test_checkpoints_and_the_adapter_hold_the_lora_weights_only(fsdp_run):
    import torch.distributed.checkpoint as dcp

    out, reports, _, _ = fsdp_run
    checkpoints = sorted((out / "checkpoints").glob("step-*"))
    assert [c.name for c in checkpoints] == ["step-00000002", "step-00000003"]
    for checkpoint in checkpoints:
        saved = dcp.FileSystemReader(str(checkpoint / "fsdp_trainable")).read_metadata().state_dict_metadata
        weights = [k for k in saved if k.startswith("model.")]
        assert weights and all("lora_A" in k or "lora_B" in k for k in weights), weights
        assert not list(checkpoint.glob("pytorch_model_fsdp*"))  # accelerate's save_state: the base too
    gathered = reports["run-rank0"]["gathered"]
    assert len(gathered) == 2 * 2 * 7 and all("lora_A" in k or "lora_B" in k for k in gathered)
    assert reports["run-rank1"]["gathered"] == []  # gathered on the main process only


def test_the_merged_model_is_the_base_plus_the_adapter(fsdp_run, tiny_model_dir):
    """Merged on the main process from the files (its own shards are not the model), while the others wait."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    out = fsdp_run[0]
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).state_dict()
    merged = AutoModelForCausalLM.from_pretrained(str(out / "merged")).state_dict()
    adapter = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    adapted = 0
    for name, weight in base.items():
        a = adapter.get("base_model.model." + name.replace(".weight", ".lora_A.weight"))
        if a is None:
            assert torch.equal(merged[name], weight), name
            continue
        b = adapter["base_model.model." + name.replace(".weight", ".lora_B.weight")]
        torch.testing.assert_close(merged[name], weight + b @ a * (16 / 8), atol=1e-5, rtol=1e-5)
        adapted += 1
    assert adapted == 2 * 7


def _relaunch_on_one_process(args: list[str], capsys) -> tuple[int, str]:
    """The same command on one process: `wizardcoder train KEY=VALUE...` (the worker's overrides)."""
    rc = main(["train", *args])
    return rc, capsys.readouterr().err


def test_one_process_does_not_go_on_from_a_two_process_run(fsdp_run, tmp_path, capsys):
    out, _, _, args = fsdp_run
    adapter = (out / "adapter" / "adapter_model.safetensors").read_bytes()
    metrics = (out / "train_metrics.json").read_text()
    rc, err = _relaunch_on_one_process(args, capsys)  # the finished run
    assert rc == 2, err
    assert "4 rows per step (2 processes x train.batch_size 2 x train.grad_accum 1)" in err
    assert "2 rows per step (1 process x train.batch_size 2" in err and "train.batch_size=4" in err
    assert (out / "adapter" / "adapter_model.safetensors").read_bytes() == adapter
    assert (out / "train_metrics.json").read_text() == metrics
    # a run stopped at a checkpoint (no adapter yet): refused before the checkpoint is loaded
    stopped = tmp_path / "stopped"
    shutil.copytree(out, stopped)
    shutil.rmtree(stopped / "adapter")
    (stopped / "train_metrics.json").unlink()
    rc, err = _relaunch_on_one_process([a if not a.startswith("run.output=") else f"run.output={stopped}"
                                        for a in args], capsys)
    assert rc == 2, err
    assert "checkpoint" in err and "step-00000003" in err and "train.batch_size=4" in err
    # at the same global batch, one plain process cannot load an FSDP checkpoint: said before loading anything
    rc, err = _relaunch_on_one_process([*[a for a in args if not a.startswith("run.output=")],
                                        f"run.output={stopped}", "train.batch_size=4"], capsys)
    assert rc == 2, err
    assert "written by a FSDP launch and this one is plain" in err
    assert not (stopped / "adapter").exists()
