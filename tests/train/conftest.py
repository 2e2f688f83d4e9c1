"""A tiny randomly initialised llama model + a BPE tokenizer trained on the fly (no hub), and data."""

from __future__ import annotations

import json
import random

import pytest

WORDS = ["sum", "list", "reverse", "string", "sort", "numbers", "return", "count", "vowels", "max", "min", "filter", "even", "odd", "words", "def", "for", "in", "if", "else", "while", "print", "len", "range", "append", "join", "split", "upper", "lower"]


def make_records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        k = rng.randint(2, 8)
        task = " ".join(rng.choice(WORDS) for _ in range(k))
        code = "def f(x):\n    return " + " + ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 12)))
        records.append({"id": f"t{i}", "instruction": f"Write a function to {task}.", "output": code,
                        "lineage": ["seed"]})
    return records


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from wizardcoder.data.template import ALPACA_TEMPLATE

    out = tmp_path_factory.mktemp("tiny-llama")
    corpus = [ALPACA_TEMPLATE] + [r["instruction"] + "\n" + r["output"] for r in make_records(200, seed=123)]
    tk = Tokenizer(models.BPE(unk_token=None))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(corpus, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    tok.save_pretrained(out)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    LlamaForCausalLM(cfg).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def data_jsonl(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in make_records(48)))
    return path
