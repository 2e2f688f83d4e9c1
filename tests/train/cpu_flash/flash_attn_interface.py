"""A flash-attention 3 interface written with torch's sdpa, so transformers' real flash path runs on a CPU.

Only on sys.path in the tests that put it there. transformers imports `flash_attn_interface` for
attn_implementation="flash_attention_3"; the varlen function takes the concatenated sequences of a flattened
micro-batch and their boundaries (cu_seqlens). Every varlen call is recorded in VARLEN_CALLS.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

VARLEN_CALLS: list[dict] = []


def _attend(q, k, v, softmax_scale, causal):
    """(L, H, D) each; grouped-query heads repeated; causal sdpa."""
    k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
    v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
    out = F.scaled_dot_product_attention(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1),
                                         is_causal=causal, scale=softmax_scale)
    return out.transpose(0, 1)


def flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, softmax_scale=None,
                           causal=False, deterministic=False):
    VARLEN_CALLS.append({"cu_seqlens_q": cu_seqlens_q, "cu_seqlens_k": cu_seqlens_k, "max_seqlen_q": max_seqlen_q,
                         "max_seqlen_k": max_seqlen_k})
    bounds = cu_seqlens_q.tolist()
    parts = [_attend(q[s:e], k[s:e], v[s:e], softmax_scale, causal) for s, e in itertools.pairwise(bounds)]
    return torch.cat(parts)


def flash_attn_func(q, k, v, softmax_scale=None, causal=False, deterministic=False):
    return torch.stack([_attend(q[b], k[b], v[b], softmax_scale, causal) for b in range(q.shape[0])])


flash_attn_with_kvcache = None
