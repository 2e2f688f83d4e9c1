"""Does packing keep examples apart for this model, with this transformers version? Ask the model, not its source.

A packed row relies on the attention code turning position-id restarts into a block-diagonal mask (SDPA,
eager, flex) or into varlen boundaries (flash-attention); which architectures and versions do so has changed
over transformers releases. So at start, a tiny randomly initialised model of the same architecture class
and attention runs one packed row (built by the training collator) and each of its examples alone; packing
is kept only if the logits agree.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from wizardcoder.train.model import is_flash, with_attention_fallback

log = logging.getLogger(__name__)

# The shrunk shape of the probe model: keys as the config names them (attribute_map aliases work too).
PROBE_SHAPE = {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
               "head_dim": 16}
PROBE_VOCAB = 512
PROBE_LENGTHS = (13, 7, 11)  # the examples packed into one row


@dataclasses.dataclass
class ProbeResult:
    ok: bool
    attn: str  # the attention implementation the probe (and so the training model) ends up with
    max_diff: float  # largest |packed logit - separate logit|
    seconds: float
    model_class: str
    error: str = ""


def probe_packing(model_dir: Path, attn: str, device: str = "cpu") -> ProbeResult:
    """Compare one packed row against its examples run separately, on a tiny random model of the same class.

    The row is built as training builds it for the attention the model ends up with (flattened for a flash
    kernel), and goes in with the same arguments."""
    import torch
    from transformers import AutoConfig

    from wizardcoder.train import data as D

    t = time.perf_counter()
    config = AutoConfig.from_pretrained(str(model_dir))
    small = shrink_config(config)
    dtype = torch.bfloat16 if is_flash(attn) else torch.float32

    def build(impl):
        from transformers import AutoModelForCausalLM

        torch.manual_seed(0)
        return AutoModelForCausalLM.from_config(small, attn_implementation=impl, dtype=dtype)

    try:
        model = with_attention_fallback(attn, build).to(device).eval()
    except Exception as exc:  # noqa: BLE001 - an architecture we cannot even build small: do not pack
        return ProbeResult(False, attn, float("nan"), time.perf_counter() - t, type(config).__name__, repr(exc))
    used = model.config._attn_implementation
    vocab = model.get_input_embeddings().weight.shape[0]
    g = torch.Generator().manual_seed(0)
    examples = [D.Example(torch.randint(3, vocab, (n,), generator=g).tolist(), 2) for n in PROBE_LENGTHS]
    batch = D.Collator(pad_id=0, packing=True, flatten=is_flash(used), pad_to_multiple_of=32)([examples])
    inputs = D.to_device({k: v for k, v in batch.items() if k != "labels"}, device, non_blocking=False)
    try:
        with torch.no_grad():
            packed = model(**inputs, use_cache=False).logits[0].float()
            alone = [model(input_ids=torch.tensor([ex.input_ids], device=device), use_cache=False).logits[0].float()
                     for ex in examples]
    except Exception as exc:  # noqa: BLE001 - the packed forward itself fails: do not pack
        return ProbeResult(False, used, float("nan"), time.perf_counter() - t, type(model).__name__, repr(exc))
    alone_t = torch.cat(alone)
    diff = (packed[: alone_t.shape[0]] - alone_t).abs().max().item()
    scale = alone_t.abs().max().item()
    tolerance = (2e-2 if dtype == torch.bfloat16 else 1e-4) * max(1.0, scale)
    return ProbeResult(diff <= tolerance, used, diff, time.perf_counter() - t, type(model).__name__)


def shrink_config(config):
    """A copy of `config` with a tiny shape: same class, same attention code paths, milliseconds to build."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    overrides = {key: value for key, value in PROBE_SHAPE.items() if _has(text, key)}
    kv = getattr(text, "num_key_value_heads", None)
    heads = getattr(text, "num_attention_heads", None)
    if kv is not None:  # keep grouped-query attention grouped, multi-head attention multi-head
        overrides["num_key_value_heads"] = PROBE_SHAPE["num_attention_heads"] if kv == heads else 2
    types = getattr(text, "layer_types", None)
    if isinstance(types, list) and types:  # one layer of each kind (sliding / full attention ...)
        kinds = list(dict.fromkeys(types))
        overrides["layer_types"] = kinds
        overrides["num_hidden_layers"] = len(kinds)
    for key in ("num_local_experts", "num_experts"):
        if isinstance(getattr(text, key, None), int):
            overrides[key] = min(getattr(text, key), 4)
    if isinstance(getattr(text, "vocab_size", None), int):
        overrides["vocab_size"] = min(text.vocab_size, PROBE_VOCAB)
        for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
            value = getattr(text, key, None)
            if isinstance(value, int) and value >= overrides["vocab_size"]:
                overrides[key] = None
    values = text.to_dict()
    for key, value in overrides.items():
        values[text.attribute_map.get(key, key)] = value
    small_text = type(text)(**values)
    if text is config:
        return small_text
    outer = config.to_dict()
    for name, sub in config.to_dict().items():
        if isinstance(sub, dict) and sub == text.to_dict():
            outer[name] = small_text.to_dict()
    return type(config)(**outer)


def _has(config, key: str) -> bool:
    return key in config.to_dict() or key in getattr(config, "attribute_map", {})
