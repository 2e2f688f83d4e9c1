"""Response-only causal-LM loss that never materialises logits for prompt or padding tokens.

`ResponseLoss` wraps the (peft) model so that data-parallel wrappers (DDP/FSDP) see one forward.
It runs the decoder, keeps the hidden states whose next token is a response token, and applies the
output head only there, in chunks (with recomputation) when the logits would be large. It returns the
SUM of token losses and the token count, so the caller can normalise over the whole optimizer step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

IGNORE = -100

# Architectures whose CausalLM head is exactly `lm_head(decoder(...).last_hidden_state)` (+ optional softcap).
FAST_PATH_TYPES = {
    "llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "olmo", "olmo2",
    "starcoder2", "phi3", "smollm3",
}
# Logits above this many elements are computed chunk by chunk, each chunk recomputed in the backward pass.
CHUNK_ELEMENTS = 1 << 28


class ResponseLoss(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        base = self._base()
        cfg = base.config
        self.softcap = getattr(cfg, "final_logit_softcapping", None)
        self.fast = cfg.model_type in FAST_PATH_TYPES and hasattr(base, "model")
        # accelerate's FSDP TRANSFORMER_BASED_WRAP reads the layer classes to wrap from the module it prepares
        # (this one): without them the whole model would be one FSDP unit, gathered in full on every GPU
        self._no_split_modules = list(getattr(base, "_no_split_modules", None) or [])

    def _base(self) -> nn.Module:
        return self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model

    # FSDP2 (accelerate) gives the embeddings and the output head their own unit when it can find them
    def get_input_embeddings(self) -> nn.Module:
        return self._base().get_input_embeddings()

    def get_output_embeddings(self) -> nn.Module | None:
        return self._base().get_output_embeddings()

    def forward(self, input_ids, labels, position_ids=None, attention_mask=None, loss_index=None, **attn_kwargs):
        """`loss_index`: flat positions in B x (L-1) whose next token is a label (the collator's); without it
        they are found on the device (one synchronisation). `attn_kwargs`: the boundaries of flattened examples
        (cu_seq_lens_q/k, max_length_q/k), passed through to the attention."""
        targets = labels[:, 1:].reshape(-1)
        if loss_index is None:
            loss_index = (targets != IGNORE).nonzero().squeeze(1)
        y = targets.index_select(0, loss_index)
        if self.fast:
            base = self._base()
            hidden = base.model(input_ids=input_ids, position_ids=position_ids, attention_mask=attention_mask,
                                use_cache=False, **attn_kwargs).last_hidden_state
            h = hidden[:, :-1].reshape(-1, hidden.shape[-1]).index_select(0, loss_index)
            total = _chunked_ce(h, y, base.get_output_embeddings(), self.softcap)
        else:  # any other architecture: the model's own forward, full logits
            logits = self.model(input_ids=input_ids, position_ids=position_ids, attention_mask=attention_mask,
                                use_cache=False, **attn_kwargs).logits
            logits = logits[:, :-1].reshape(-1, logits.shape[-1]).index_select(0, loss_index)
            total = F.cross_entropy(logits.float(), y, reduction="sum")
        return total, loss_index.numel()


def _ce(h: torch.Tensor, y: torch.Tensor, head: nn.Module, softcap: float | None) -> torch.Tensor:
    logits = head(h).float()
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return F.cross_entropy(logits, y, reduction="sum")


def _chunked_ce(h, y, head, softcap):
    if h.shape[0] == 0:
        return h.sum() * 0.0  # keeps the graph (and DDP) happy when a micro-batch has no response token
    vocab = head.weight.shape[0]
    if h.shape[0] * vocab <= CHUNK_ELEMENTS:
        return _ce(h, y, head, softcap)
    step = max(1, CHUNK_ELEMENTS // vocab)
    total = h.new_zeros((), dtype=torch.float32)
    for s in range(0, h.shape[0], step):
        total = total + checkpoint(_ce, h[s:s + step], y[s:s + step], head, softcap, use_reentrant=False)
    return total
