"""QLoRA's configuration path, on CPU (the 4-bit base itself needs a GPU and bitsandbytes: scripts/gpu_check.sh)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from wizardcoder.cli import main
from wizardcoder.errors import UserError
from wizardcoder.train import model as M


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_the_4bit_base_computes_and_is_stored_in_the_training_dtype(dtype):
    """float16 on a GPU without bfloat16 (T4, V100): computing in bfloat16 there is emulated or fails; a float
    storage lets FSDP shard the 4-bit weights."""
    config = M.qlora_config(dtype)
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4" and config.bnb_4bit_use_double_quant
    assert config.bnb_4bit_compute_dtype == dtype and config.bnb_4bit_quant_storage == dtype


def test_qlora_needs_a_gpu_and_bitsandbytes(monkeypatch):
    assert M.load_kwargs(torch.bfloat16, "cpu", False) == {"dtype": torch.bfloat16}
    with pytest.raises(UserError, match="needs a CUDA GPU"):
        M.load_kwargs(torch.float32, "cpu", True)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bitsandbytes" else find_spec(
        name, *a))
    with pytest.raises(UserError, match=r"pip install 'bitsandbytes>=0\.46\.1'"):
        M.load_kwargs(torch.float16, "cuda", True)


def test_qlora_on_cpu_exits_2_before_training(tiny_model_dir, data_jsonl, tmp_path, capsys):
    rc = main(["train", "--data", str(data_jsonl), "--model", str(tiny_model_dir), "--device", "cpu",
               "--output", str(tmp_path / "run"), "lora.qlora=true"])
    assert rc == 2 and "lora.qlora=true needs a CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "run" / "adapter").exists()


def test_the_kbit_preparation_leaves_a_trainable_adapter(tiny_model_dir):
    """add_lora's QLoRA branch (peft's prepare_model_for_kbit_training, checkpointing without reentrancy), here
    on an unquantised model: gradients reach the adapter through the checkpointed layers."""
    from transformers import AutoModelForCausalLM

    from wizardcoder.train import data as D
    from wizardcoder.train.loss import ResponseLoss

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    peft_model, targets = M.add_lora(model, 4, 8, 0.0, [], qlora=True, gradient_checkpointing=True)
    base = peft_model.get_base_model()
    assert "q_proj" in targets and getattr(base, "is_activation_checkpointing", None) is not False
    assert base.is_gradient_checkpointing
    batch = D.Collator(pad_id=2, loss_index=True)([[D.Example(list(range(5, 30)), 6)]])
    loss_sum, _ = ResponseLoss(peft_model.train())(**batch)
    loss_sum.backward()
    grads = [p.grad for n, p in peft_model.named_parameters() if "lora_B" in n]  # lora_A: B starts at 0
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)
