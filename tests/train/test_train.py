"""Train a tiny random llama for real on CPU and check LoRA semantics, resume, packing, the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from wizardcoder.config import load_config
from wizardcoder.train import TrainConfig, train

pytestmark = pytest.mark.slow


def _cfg(model_dir, data, out, *extra):
    return load_config(TrainConfig, None, [
        f"model.path={model_dir}", f"data.path={data}", f"run.output={out}", "run.device=cpu",
        "data.max_seq_len=256", "train.batch_size=2", "train.lr=0.003", "train.warmup_ratio=0.1",
        "lora.r=8", "lora.alpha=16", "lora.dropout=0.1", "run.logging_steps=1", "run.tensorboard=false",
        "data.eval_fraction=0.1", "train.gradient_checkpointing=true", *extra])


@pytest.fixture(scope="module")
def trained(tiny_model_dir, data_jsonl, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = _cfg(tiny_model_dir, data_jsonl, out, "train.max_steps=16", "run.merge=true", "run.tensorboard=true",
               "run.save_steps=0")
    run_dir = train(cfg)
    return run_dir


def test_loss_goes_down_and_outputs_are_written(trained):
    metrics = json.loads((trained / "train_metrics.json").read_text())
    losses = [h["loss"] for h in metrics["history"]]
    assert len(losses) == 16
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 - 0.2
    assert metrics["eval_loss"] is not None and metrics["eval_loss"] < losses[0]
    stats = json.loads((trained / "stats.json").read_text())
    assert stats["optimizer_steps"] == 16 and stats["packing"] is True
    assert stats["packing_efficiency"] > 0.5 and stats["rows"] < stats["train_examples"]  # examples were packed
    for name in ("config.yaml", "loss.png", "adapter/adapter_config.json", "adapter/tokenizer_config.json",
                 "merged/config.json"):
        assert (trained / name).exists(), name
    assert list((trained / "tensorboard").glob("events.*"))


def test_base_weights_unchanged_adapter_changed(trained, tiny_model_dir):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).state_dict()
    adapter = load_file(str(trained / "adapter" / "adapter_model.safetensors"))
    assert adapter and all("lora_A" in k or "lora_B" in k for k in adapter)
    # lora_B starts at zero: every one of them moved
    assert all(v.abs().max() > 0 for k, v in adapter.items() if "lora_B" in k)
    # the merged model comes from the in-memory trained model: frozen tensors are bit-identical to the base,
    # adapted ones moved by exactly B @ A * alpha / r
    merged = AutoModelForCausalLM.from_pretrained(str(trained / "merged")).state_dict()
    adapted = 0
    for name, w in base.items():
        a_key = "base_model.model." + name.replace(".weight", ".lora_A.weight")
        if a_key in adapter:
            b = adapter[a_key.replace("lora_A", "lora_B")]
            assert torch.allclose(merged[name], w + b @ adapter[a_key] * (16 / 8), atol=1e-5)
            adapted += 1
        else:
            assert torch.equal(merged[name], w), name
    assert adapted == 2 * 7


def test_adapter_reloads_and_generates(trained, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from wizardcoder.data.template import render_prompt

    tok = AutoTokenizer.from_pretrained(str(trained / "adapter"))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    ids = tok(render_prompt("Write a function to sum list."), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        base_logits = base(ids).logits
    model = PeftModel.from_pretrained(base, str(trained / "adapter")).eval()
    with torch.no_grad():
        tuned_logits = model(ids).logits
        out = model.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    assert not torch.allclose(base_logits, tuned_logits)
    assert out.shape[1] > ids.shape[1]
    assert isinstance(tok.decode(out[0, ids.shape[1]:]), str)


def test_resume_continues_the_same_run(tiny_model_dir, data_jsonl, tmp_path):
    from safetensors.torch import load_file

    steps = ["train.max_steps=8", "run.save_steps=3", "data.eval_fraction=0"]
    full = train(_cfg(tiny_model_dir, data_jsonl, tmp_path / "full", *steps))
    part = tmp_path / "part"
    train(_cfg(tiny_model_dir, data_jsonl, part, *steps), stop_after=5)  # "preempted" after step 5
    assert not (part / "adapter").exists()
    assert sorted(p.name for p in (part / "checkpoints").iterdir()) == ["step-00000003"]
    from wizardcoder.errors import UserError

    with pytest.raises(UserError, match="at step 3, past the end of this run's plan"):  # a plan of 2 steps now
        train(_cfg(tiny_model_dir, data_jsonl, part, "train.max_steps=2", *steps[1:]))
    assert not (part / "adapter").exists()
    train(_cfg(tiny_model_dir, data_jsonl, part, *steps))  # resumes from step 3
    a = json.loads((full / "train_metrics.json").read_text())
    b = json.loads((part / "train_metrics.json").read_text())
    assert b["resumed_from"].endswith("step-00000003")
    assert [h["step"] for h in b["history"]] == list(range(1, 9))
    assert [h["loss"] for h in b["history"]] == pytest.approx([h["loss"] for h in a["history"]], rel=1e-5)
    # running the finished run again does nothing
    before = (part / "train_metrics.json").read_text()
    train(_cfg(tiny_model_dir, data_jsonl, part, *steps))
    assert (part / "train_metrics.json").read_text() == before
    wa = load_file(str(full / "adapter" / "adapter_model.safetensors"))
    wb = load_file(str(part / "adapter" / "adapter_model.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-6), k


def test_unpacked_training_runs(tiny_model_dir, data_jsonl, tmp_path):
    run = train(_cfg(tiny_model_dir, data_jsonl, tmp_path, "data.packing=false", "train.max_steps=3",
                     "train.gradient_checkpointing=false", "train.grad_accum=2"))
    stats = json.loads((run / "stats.json").read_text())
    assert stats["rows"] == stats["train_examples"] and stats["optimizer_steps"] == 3


def test_changed_data_is_never_already_finished(tiny_model_dir, data_jsonl, tmp_path):
    import os
    import shutil

    from wizardcoder.errors import UserError

    data = tmp_path / "train.jsonl"
    shutil.copy(data_jsonl, data)
    cfg = _cfg(tiny_model_dir, data, tmp_path / "run", "train.max_steps=1", "data.eval_fraction=0")
    train(cfg)
    st = data.stat()
    data.write_text(data.read_text().replace("sum", "mus", 1))  # same size and mtime, other contents
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(UserError, match="other data"):
        train(cfg)


def test_a_step_the_grad_scaler_skips_does_not_advance_the_schedule(tiny_model_dir, data_jsonl, tmp_path):
    """fp16 on a GPU: accelerate's optimizer steps through a GradScaler, which skips a step whose gradients
    overflow. Here a CPU GradScaler starts at a scale that overflows the first step, then backs off."""
    from wizardcoder.train.trainer import LoRARecipe

    recipe = LoRARecipe(_cfg(tiny_model_dir, data_jsonl, tmp_path, "train.max_steps=4", "train.warmup_ratio=0.5",
                             "data.eval_fraction=0", "run.save_steps=0"), "cpu")
    assert recipe.setup()
    scaler = torch.amp.GradScaler("cpu", init_scale=1e38, backoff_factor=1e-36)
    recipe.accel.scaler = recipe.optim.scaler = scaler
    recipe.optim.__setstate__({})  # what accelerate's optimizer sets up when it is built with a scaler
    recipe.train()
    lrs = [h["lr"] for h in recipe.state.history]
    assert scaler.get_scale() < 1e3  # the first step overflowed and was skipped
    assert recipe.sched.last_epoch == 3  # 4 steps, 3 taken
    assert lrs[1] == lrs[0] < lrs[2]  # the warm-up waited for the skipped step


def test_throughput_leaves_evaluation_and_checkpoints_out_and_counts_model_flops(tiny_model_dir, data_jsonl,
                                                                                 tmp_path):
    """One epoch, one row per step: every training example once. Its model FLOPs are 4·N·n + 6·L·d·n(n+1)."""
    from transformers import AutoConfig, AutoTokenizer

    from wizardcoder.train import data as D

    run = train(_cfg(tiny_model_dir, data_jsonl, tmp_path, "train.epochs=1", "train.batch_size=1",
                     "data.pack_len=1024", "run.eval_steps=2", "run.save_steps=2", "run.peak_tflops=0.001",
                     "train.gradient_checkpointing=false"))
    m = json.loads((run / "train_metrics.json").read_text())
    assert m["eval_seconds"] > 0 and m["checkpoint_seconds"] > 0
    assert m["train_seconds"] + m["eval_seconds"] + m["checkpoint_seconds"] < m["runtime_s"]
    assert m["tokens_per_second"] == pytest.approx(m["tokens_seen"] / m["train_seconds"])
    cfg = AutoConfig.from_pretrained(str(tiny_model_dir))
    h, kv = cfg.hidden_size, cfg.num_key_value_heads * (cfg.hidden_size // cfg.num_attention_heads)
    n_linear = cfg.num_hidden_layers * (2 * h * h + 2 * h * kv + 3 * h * cfg.intermediate_size) + h * cfg.vocab_size
    examples, _ = D.tokenize_records(D.load_records(data_jsonl), AutoTokenizer.from_pretrained(str(tiny_model_dir)),
                                     max_seq_len=256)
    trained, _ = D.split_eval(examples, 0.1, seed=0)
    assert sum(len(e) for e in trained) == m["tokens_seen"]
    expected = sum(4 * n_linear * len(e) + 6 * cfg.num_hidden_layers * h * len(e) * (len(e) + 1) for e in trained)
    assert m["model_flops"] == pytest.approx(expected, rel=1e-9)
    assert m["mfu"] == pytest.approx(m["model_flops_per_second"] / 1e9)  # run.peak_tflops=0.001
