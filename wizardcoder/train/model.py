"""Base model + tokenizer loading (local only: no hub) and the LoRA wrapping."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from pathlib import Path

from wizardcoder.errors import UserError
from wizardcoder.llm.embedded import ensure_embedded_model

log = logging.getLogger(__name__)

EMBEDDED_NAME = "smollm2-135m-instruct"

# Per architecture (config.model_type): the projections LoRA adapts by default.
_LLAMA_LIKE = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
DEFAULT_TARGETS: dict[str, list[str]] = {
    **{t: _LLAMA_LIKE for t in ("llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3",
                                 "gemma3_text", "olmo", "olmo2", "granite", "deepseek_v2", "smollm3")},
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "gpt_bigcode": ["c_attn", "c_proj", "c_fc"],
    "starcoder2": ["q_proj", "k_proj", "v_proj", "o_proj", "c_fc", "c_proj"],
    "phi": ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"],
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
}


def cache_dir() -> Path:
    return Path(os.environ.get("WIZARDCODER_CACHE", Path.home() / ".cache" / "wizardcoder"))


def resolve_model_path(spec: str) -> Path:
    """A local directory with config.json (what `from_pretrained` loads and an adapter can point to).

    `smollm2-135m-instruct` and `.gguf` files are dequantised once into a plain safetensors directory
    in the cache (transformers will not save a model loaded from GGUF, and an adapter needs a loadable base).
    """
    if spec == EMBEDDED_NAME:
        return ensure_embedded_model()  # the LLM package owns it: train and eval then share one base directory
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _gguf_to_dir(path)
    if path.is_dir() and (path / "config.json").is_file():
        return path
    if path.is_dir() and (path / "adapter_config.json").is_file():
        raise UserError(f"{path} is a LoRA adapter, not a base model; pass its base model as --model")
    raise UserError(f"model not found: {spec!r}. There is no model hub here: pass --model with a local model "
                    f"directory (with config.json), a .gguf file, or {EMBEDDED_NAME!r}")


def _gguf_to_dir(gguf: Path, name: str | None = None) -> Path:
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:10]
    out = cache_dir() / "models" / (name or f"{gguf.stem}-{key}")
    if (out / "config.json").is_file() and (out / ".complete").is_file():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to a safetensors model in %s (once)", gguf.name, out)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    src = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = src.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the copy holds plain float weights
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(src.state_dict(), strict=False)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    (out / ".complete").write_text(str(gguf))
    return out


def load_tokenizer(model_dir: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def is_flash(attn: str) -> bool:
    """A flash-attention kernel, by any name (flash_attention_2/3, a hub kernel such as kernels-community/flash-attn3):
    as transformers' is_flash_attention_requested decides, it then runs packed rows as varlen sequences."""
    return "flash" in attn


def resolve_attn(requested: str, device: str) -> str:
    """auto: flash_attention_2 on CUDA when flash-attn imports, else sdpa. Importing it is the test: a wheel
    built for another torch is found but fails with an ImportError ("undefined symbol") when imported."""
    if requested != "auto":
        return requested
    if device != "cuda" or importlib.util.find_spec("flash_attn") is None:
        return "sdpa"
    try:
        import flash_attn  # noqa: F401
    except (ImportError, OSError) as exc:
        log.warning("flash-attn is installed but does not import (%s): using sdpa attention. Reinstall flash-attn "
                    "built for this torch, or set model.attn_implementation=sdpa to silence this", exc)
        return "sdpa"
    return "flash_attention_2"


def resolve_dtype(name: str, device: str):
    """model.dtype as a torch dtype; auto: bfloat16 on a GPU that has it, else float16; float32 on a CPU."""
    import torch

    if name == "auto":
        if device == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, name)


def load_model(model_dir: Path, dtype, attn: str, device: str, qlora: bool = False):
    from transformers import AutoModelForCausalLM

    kwargs = load_kwargs(dtype, device, qlora)

    def build(impl):
        return AutoModelForCausalLM.from_pretrained(str(model_dir), **kwargs, attn_implementation=impl)

    model = with_attention_fallback(attn, build)
    model.config.use_cache = False
    return model


def check_qlora(device: str) -> None:
    """QLoRA's needs, said before anything is done."""
    if device != "cuda":
        raise UserError("lora.qlora=true needs a CUDA GPU; set lora.qlora=false on CPU")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise UserError("lora.qlora=true needs bitsandbytes: pip install 'bitsandbytes>=0.46.1' (or set lora.qlora=false)")


def load_kwargs(dtype, device: str, qlora: bool) -> dict:
    """from_pretrained's arguments: the dtype, and for QLoRA the 4-bit base on this process's GPU."""
    if not qlora:
        return {"dtype": dtype}
    check_qlora(device)
    import torch

    return {"dtype": dtype, "quantization_config": qlora_config(dtype),
            "device_map": {"": torch.cuda.current_device()}}


def qlora_config(dtype):
    """QLoRA's base: 4-bit NF4 with double quantisation, computing in the training dtype (float16 on GPUs without
    bfloat16), and stored in it too, so that FSDP can shard the 4-bit weights like the others (uint8 cannot)."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=dtype, bnb_4bit_quant_storage=dtype)


def with_attention_fallback(attn: str, build):
    """`build(impl)` with the requested attention first; an architecture that lacks it falls back to sdpa,
    then eager (e.g. gemma2), and so does a kernel that does not import (transformers imports it at model init)."""
    tried = [attn] + [a for a in ("sdpa", "eager") if a != attn]
    for i, impl in enumerate(tried):
        try:
            return build(impl)
        except (ValueError, ImportError, OSError) as exc:
            # sdpa and eager import nothing more: their ImportErrors are about something else
            broken_kernel = isinstance(exc, (ImportError, OSError)) and impl not in ("sdpa", "eager")
            if i == len(tried) - 1 or not (broken_kernel or "attention" in str(exc).lower()):
                raise
            log.warning("attention %r not available for this model (%s); trying %r", impl, exc, tried[i + 1])
    raise AssertionError("unreachable")


def merge_adapter(peft_model, model_dir: Path, adapter_dir: Path, out: Path, tok, from_files: bool, dtype) -> None:
    """Write the base model with the adapter merged in. `from_files`: the trained model cannot be merged in place
    (a 4-bit base: merged into full-precision weights instead; a base sharded over processes, FSDP or ZeRO-3:
    only this process's shards are here), so the base and the saved adapter are loaded again, on this process."""
    if from_files:
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype)
        peft_model = PeftModel.from_pretrained(base, str(adapter_dir))
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(str(out))
    tok.save_pretrained(str(out))


def default_target_modules(model) -> list[str]:
    from torch import nn

    names = DEFAULT_TARGETS.get(getattr(model.config, "model_type", ""), None)
    present = {n.rsplit(".", 1)[-1] for n, m in model.named_modules()}
    if names and all(n in present for n in names):
        return list(names)
    # fallback: every Linear (and GPT-2 style Conv1D) except the output head
    head = model.get_output_embeddings()
    found = set()
    for name, module in model.named_modules():
        if module is head:
            continue
        if isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D":
            found.add(name.rsplit(".", 1)[-1])
    found.discard("lm_head")
    if not found:
        raise UserError(f"found no Linear layers to adapt in {type(model).__name__}; set lora.target_modules")
    return sorted(found)


def add_lora(model, r: int, alpha: int, dropout: float, target_modules: list[str], qlora: bool,
             gradient_checkpointing: bool):
    from peft import LoraConfig, get_peft_model

    targets = target_modules or default_target_modules(model)
    if qlora:  # the QLoRA recipe's casts (norms and head in float32); checkpointing below, the same either way
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    if gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, bias="none",
                        task_type="CAUSAL_LM")
    try:
        peft_model = get_peft_model(model, config)
    except ValueError as exc:
        raise UserError(f"lora.target_modules={targets}: {exc}") from exc
    return peft_model, targets
