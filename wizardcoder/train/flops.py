"""Model FLOPs of LoRA training on a frozen base, and a GPU's peak, for the MFU (model FLOPs utilisation).

Matrix-multiply FLOPs only (norms, activations, softmax and the LoRA matrices themselves are left out), for an
example of n tokens, with N the weights of every linear layer of the decoder plus the output head (the input
embedding is a lookup), L layers and d the attention width (heads x head_dim):

    forward             2·N·n  +  2·L·d·n(n+1)     (token i attends to i keys: QKᵀ and AV, 2·2·d·i per layer)
    backward, inputs    2·N·n  +  4·L·d·n(n+1)     (the attention has no weights: its backward is twice its forward)
    backward, weights   none for the frozen base

    model FLOPs(n) = 4·N·n + 6·L·d·n(n+1)

The usual 6·N per token counts weight gradients, which a frozen base has none of. What gradient checkpointing
recomputes (another forward) is hardware work, not model work, so it is not counted: MFU, not HFU. Padding
counts for nothing. MFU = model FLOPs per second / (processes x one GPU's dense bf16 peak).
"""

from __future__ import annotations

from dataclasses import dataclass

# Dense (no sparsity) bf16/fp16 tensor-core peaks, TFLOP/s, by a piece of torch.cuda.get_device_name(); the first
# piece found wins, so more specific names come first.
PEAK_TFLOPS = (
    ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.4), ("H200", 989.4), ("H800", 989.4), ("GH200", 989.4),
    ("B200", 2250.0), ("A100", 312.0), ("A800", 312.0), ("L40S", 362.1), ("L40", 181.0), ("L4", 121.0),
    ("A10G", 70.0), ("A10", 125.0), ("RTX 4090", 165.2), ("RTX 3090", 71.0), ("V100", 125.0), ("T4", 65.0),
)


@dataclass(frozen=True)
class ModelShape:
    linear_weights: int  # N: weights of the decoder's linear layers and the output head
    layers: int
    attn_width: int  # heads x head_dim

    def example_flops(self, n: int) -> float:
        """Model FLOPs of training on one example of n tokens (the formula above)."""
        return 4.0 * self.linear_weights * n + 6.0 * self.layers * self.attn_width * n * (n + 1)


def model_shape(model) -> ModelShape:
    """From a transformers model (LoRA-wrapped or not, weights anywhere, 4-bit included: shapes are read from the
    layers, not the stored tensors)."""
    from torch import nn

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    linear = 0
    for name, module in base.named_modules():
        if any(part.startswith("lora_") for part in name.split(".")):
            continue  # the adapter's own matrices (peft: <layer>.lora_A.<adapter>)
        if isinstance(module, nn.Linear):
            linear += module.in_features * module.out_features
        elif type(module).__name__ == "Conv1D":  # GPT-2 style
            linear += module.weight.shape[0] * module.weight.shape[1]
    cfg = base.config.get_text_config() if hasattr(base.config, "get_text_config") else base.config
    heads = cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    return ModelShape(linear, cfg.num_hidden_layers, heads * head_dim)


def peak_flops(device: str, configured_tflops: float = 0.0) -> float | None:
    """One device's dense bf16 peak in FLOP/s: configured, else known from the GPU's name, else None."""
    if configured_tflops > 0:
        return configured_tflops * 1e12
    if device != "cuda":
        return None
    import torch

    name = torch.cuda.get_device_name()
    return next((tflops * 1e12 for piece, tflops in PEAK_TFLOPS if piece in name), None)


def throughput(timed: dict, device: str, peak_tflops: float, world: int) -> dict:
    """Real (not padding) tokens and model FLOPs per second of training (`timed`: the recipe's counts, evaluation
    and checkpoints left out); MFU over the `world` processes' peak."""
    seconds = timed["train_seconds"]
    flops_per_second = timed["flops"] / seconds if seconds > 0 else None
    peak = peak_flops(device, peak_tflops)
    return {
        "tokens_per_second": timed["tokens"] / seconds if seconds > 0 else None,
        "model_flops": timed["flops"], "model_flops_per_second": flops_per_second,
        "mfu": flops_per_second / (peak * world) if flops_per_second and peak else None,
        "peak_flops_per_device": peak, "train_seconds": seconds, "eval_seconds": timed["eval_seconds"],
        "checkpoint_seconds": timed["checkpoint_seconds"],
    }
