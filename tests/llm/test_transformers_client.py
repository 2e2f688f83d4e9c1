"""TransformersClient on a tiny randomly initialised Llama with a tokenizer trained here (no hub, no files)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from wizardcoder.llm import LLMError, Request
from wizardcoder.llm.transformers_client import TransformersClient

CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "Write a function that reverses a string.",
    "for i in range(10):\n    print(i * i)\n",
    "The quick brown fox jumps over the lazy dog. ```python\nimport os\n```",
] * 20
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def tiny():
    """(model, tokenizer): a 2-layer Llama and a byte-level BPE tokenizer trained on a few lines."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=["<pad>", "<eos>", "<bos>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.3,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, tokenizer


def client_for(tiny, **kwargs) -> TransformersClient:
    model, tokenizer = tiny
    return TransformersClient(model=model, tokenizer=tokenizer, device="cpu", **kwargs)


PROMPTS = [
    Request(prompt="def add(a, b):", max_tokens=12, temperature=0),
    Request.from_text("Write a function that reverses a string.", max_tokens=12, temperature=0),
    Request(prompt="for", max_tokens=7, temperature=0),
    Request(prompt="The quick brown fox jumps over the lazy dog. ```python", max_tokens=12, temperature=0),
    Request.from_text("print", max_tokens=12, temperature=0),
]


def test_left_padded_batches_give_the_same_greedy_outputs_as_batch_1(tiny):
    single = dict(client_for(tiny, batch_size=1).generate(PROMPTS))
    batched_client = client_for(tiny, batch_size=4)
    batched = dict(batched_client.generate(PROMPTS))
    assert sorted(batched) == list(range(len(PROMPTS)))
    for i in range(len(PROMPTS)):
        assert batched[i].texts == single[i].texts, f"request {i}"
        assert batched[i].prompt_tokens == single[i].prompt_tokens
        assert batched[i].completion_tokens == single[i].completion_tokens
    assert single[2].completion_tokens <= 7  # its own max_tokens, though batched with max_tokens=12 rows
    assert any(c.text for c in single.values())
    usage = batched_client.usage
    assert usage.requests == len(PROMPTS)
    assert usage.completion_tokens == sum(c.completion_tokens for c in batched.values()) > 0


def test_stop_sequences_cut_the_text_and_stop_generation_early(tiny):
    client = client_for(tiny, batch_size=4)
    base = Request(prompt="def add(a, b):", max_tokens=40, temperature=0)
    free = client.complete(base)
    text = free.text
    assert len(text) > 6, "the tiny model should produce some text"
    stop = text[3:6]
    cut = text.index(stop)
    other = PROMPTS[3]
    results = dict(
        client.generate([Request(prompt=base.prompt, max_tokens=40, temperature=0, stop=(stop,)), other])
    )
    stopped = results[0]
    assert stopped.text == text[:cut]
    assert stopped.finish_reasons == ("stop",)
    assert stopped.completion_tokens < free.completion_tokens  # generation ended early, not just cut after
    assert results[1].texts == client.complete(other).texts  # a batch mate without stops is unaffected


def test_sampling_is_seeded_and_n_gives_n_texts(tiny):
    client = client_for(tiny, batch_size=8)
    request = Request(prompt="def add(a, b):", max_tokens=10, temperature=1.0, top_p=0.95, seed=123, n=3)
    first = client.complete(request)
    second = client.complete(request)
    assert len(first.texts) == 3 and first.texts == second.texts
    other_seed = client.complete(
        Request(prompt="def add(a, b):", max_tokens=10, temperature=1.0, seed=7, n=3)
    )
    assert other_seed.texts != first.texts


def test_input_is_consumed_lazily_in_batches(tiny):
    client = client_for(tiny, batch_size=2)
    pulled = 0

    def requests():
        nonlocal pulled
        for i in range(10):
            pulled += 1
            yield Request(prompt=f"for {i}", max_tokens=2, temperature=0)

    stream = client.generate(requests())
    next(stream)
    assert pulled == 2
    assert len(list(stream)) == 9


def test_chat_without_a_chat_template_is_a_clear_error(tiny):
    model, tokenizer = tiny
    plain = tokenizer.__class__(
        tokenizer_object=tokenizer.backend_tokenizer, pad_token="<pad>", eos_token="<eos>"
    )
    plain.chat_template = None
    client = TransformersClient(model=model, tokenizer=plain, device="cpu")
    with pytest.raises(LLMError, match="no chat template"):
        client.complete(Request.from_text("hi"))


def test_loads_a_saved_model_with_a_lora_adapter(tiny, tmp_path):
    peft = pytest.importorskip("peft")
    model, tokenizer = tiny
    model.save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    lora = peft.get_peft_model(
        model, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    lora.save_pretrained(tmp_path / "adapter")
    lora.unload()  # give the shared module-scope model its plain layers back

    request = Request(prompt="def add(a, b):", max_tokens=12, temperature=0)
    base = TransformersClient(str(tmp_path / "base"), device="cpu").complete(request)
    assert base.texts == client_for(tiny).complete(request).texts  # saved and reloaded faithfully
    adapted = TransformersClient(str(tmp_path / "base"), adapter=str(tmp_path / "adapter"), device="cpu")
    assert adapted.complete(request).texts != base.texts  # the (non-zero) adapter changes the output

    with pytest.raises(LLMError, match="not a peft adapter"):
        TransformersClient(str(tmp_path / "base"), adapter=str(tmp_path / "base"), device="cpu")
