"""Packing must not let an example attend to another: packed logits == logits of each example alone."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from wizardcoder.train import data as D
from wizardcoder.train.loss import ResponseLoss


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_row_matches_separate_examples(tiny_model_dir, attn):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), attn_implementation=attn).eval()
    g = torch.Generator().manual_seed(0)
    exs = [D.Example(torch.randint(3, 300, (n,), generator=g).tolist(), 4) for n in (17, 9, 23)]
    batch = D.Collator(pad_id=2, pad_to_multiple_of=64)([exs])  # one packed row + padding
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        start = 0
        for ex in exs:
            alone = model(input_ids=torch.tensor([ex.input_ids]), use_cache=False).logits[0]
            torch.testing.assert_close(packed[start:start + len(ex)], alone, atol=1e-5, rtol=1e-4)
            start += len(ex)
    # and the loss module over the packed row equals the sum over the separate examples
    loss = ResponseLoss(model)
    with torch.no_grad():
        s_packed, n_packed = loss(**batch)
        parts = [loss(**D.Collator(pad_id=2)([[ex]])) for ex in exs]
    assert n_packed == sum(n for _, n in parts) == sum(len(e) - e.n_prompt for e in exs)
    torch.testing.assert_close(s_packed, sum(s for s, _ in parts), atol=1e-4, rtol=1e-5)


def test_loss_matches_transformers_loss(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    exs = [D.Example(list(range(5, 25)), 6), D.Example(list(range(40, 52)), 3)]
    batch = D.Collator(pad_id=2, packing=False)([[exs[0]], [exs[1]]])
    with torch.no_grad():
        s, n = ResponseLoss(model)(**batch)
        ref = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
    torch.testing.assert_close(s / n, ref, atol=1e-5, rtol=1e-5)


SMALL = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "vocab_size": 300, "head_dim": 16, "pad_token_id": 0}


@pytest.mark.parametrize("arch", ["qwen2", "mistral", "gemma2", "gemma3_text", "starcoder2", "gpt2"])
def test_other_architectures_pack_and_lose_alike(arch, tmp_path):
    """Packing support is detected per architecture; where on, packed == separate; our loss == HF's loss."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from wizardcoder.train.model import load_model
    from wizardcoder.train.probe import probe_packing

    kw = {"n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 300} if arch == "gpt2" else SMALL
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(AutoConfig.for_model(arch, **kw)).save_pretrained(tmp_path)
    model = load_model(tmp_path, torch.float32, "sdpa", "cpu").eval()  # gemma2 falls back to eager
    exs = [D.Example(list(range(3, 20)), 2), D.Example(list(range(40, 49)), 3)]
    probe = probe_packing(tmp_path, "sdpa")
    assert probe.ok and probe.attn == model.config._attn_implementation, probe
    batch = D.Collator(pad_id=0)([exs])
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        alone = model(input_ids=torch.tensor([exs[1].input_ids]), use_cache=False).logits[0]
        torch.testing.assert_close(packed[17:26], alone, atol=1e-5, rtol=1e-4)
        padded = D.Collator(pad_id=0, packing=False)([[exs[0]], [exs[1]]])
        s, n = ResponseLoss(model)(**padded)
        ref = model(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"],
                    labels=padded["labels"], use_cache=False).loss
    torch.testing.assert_close(s / n, ref, atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------------------------ the packing probe


class LeakyConfig(LlamaConfig):
    model_type = "leaky_llama"


class LeakyLlamaForCausalLM(LlamaForCausalLM):
    """A model whose packed examples see each other: it always passes an explicit all-ones attention mask, so
    transformers never derives the per-example (block-diagonal) mask from the position-id restarts."""

    config_class = LeakyConfig

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        if attention_mask is None and input_ids is not None:
            attention_mask = torch.ones_like(input_ids)
        return super().forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)


@pytest.fixture(scope="module")
def leaky_model_dir(tiny_model_dir, tmp_path_factory):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    AutoConfig.register("leaky_llama", LeakyConfig, exist_ok=True)
    AutoModelForCausalLM.register(LeakyConfig, LeakyLlamaForCausalLM, exist_ok=True)
    out = tmp_path_factory.mktemp("leaky")
    base = AutoConfig.from_pretrained(str(tiny_model_dir)).to_dict()
    base.pop("model_type", None)
    torch.manual_seed(0)
    LeakyLlamaForCausalLM(LeakyConfig(**base)).save_pretrained(out)
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(out)
    return out


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_probe_passes_a_model_that_keeps_packed_examples_apart(tiny_model_dir, attn):
    from wizardcoder.train.probe import probe_packing

    probe = probe_packing(tiny_model_dir, attn)
    assert probe.ok and probe.attn == attn and probe.max_diff < 1e-5 and probe.model_class == "LlamaForCausalLM"


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_probe_catches_a_model_whose_packed_logits_differ(leaky_model_dir, attn):
    from transformers import AutoModelForCausalLM

    from wizardcoder.train.probe import probe_packing

    probe = probe_packing(leaky_model_dir, attn)
    assert not probe.ok and probe.max_diff > 1e-3 and probe.model_class == "LeakyLlamaForCausalLM", probe
    # and the real model leaks too: the probe's verdict holds for it
    model = AutoModelForCausalLM.from_pretrained(str(leaky_model_dir), attn_implementation=attn).eval()
    exs = [D.Example(list(range(3, 20)), 2), D.Example(list(range(40, 49)), 3)]
    batch = D.Collator(pad_id=2)([exs])
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0, 17:26]
        alone = model(input_ids=torch.tensor([exs[1].input_ids])).logits[0]
    assert not torch.allclose(packed, alone, atol=1e-3)


@pytest.mark.slow
def test_training_falls_back_to_padding_when_the_probe_fails(leaky_model_dir, data_jsonl, tmp_path, caplog):
    import json
    import logging

    import transformers

    from wizardcoder.config import load_config
    from wizardcoder.train import TrainConfig, train

    cfg = load_config(TrainConfig, None, [
        f"model.path={leaky_model_dir}", f"data.path={data_jsonl}", f"run.output={tmp_path}", "run.device=cpu",
        "data.max_seq_len=256", "train.batch_size=4", "train.max_steps=2", "run.tensorboard=false",
        "data.eval_fraction=0", "run.save_steps=0", "data.packing=true"])
    with caplog.at_level(logging.WARNING, logger="wizardcoder"):
        run = train(cfg)
    stats = json.loads((run / "stats.json").read_text())
    assert stats["packing"] is False and stats["rows"] == stats["train_examples"]
    assert stats["packing_probe"]["ok"] is False and stats["packing_probe"]["model_class"] == "LeakyLlamaForCausalLM"
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "packing off" in warning and f"transformers {transformers.__version__}" in warning
