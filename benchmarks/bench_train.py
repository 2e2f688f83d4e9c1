"""Training throughput: `wizardcoder train` vs TRL's SFTTrainer + peft, same model shape, data and LoRA.

Compared in pairs with the same packing: ours (packed rows) vs trl-packed (SFTConfig packing=True), and
ours-padded (data.packing=false) vs trl (SFTTrainer's default padding). Both sides get the same data, sequence
length, per-device batch (rows), steps, LoRA (r, alpha, dropout, target modules), bf16, gradient
checkpointing, cosine schedule and attention kernel: `--attn` is resolved once (auto: flash_attention_2 when
flash-attn imports on the GPU, else sdpa) and given to both; each side prints the settings it ran with, and a
pair whose sides did not load the same kernel gets no ratio.

The packed pair needs a kernel that takes a flattened batch without a dense mask (flash_attention_*, a hub
flash kernel, flex_attention): TRL 1.16 packs into one flattened row per batch (padding_free), which sdpa
attends with a dense (rows x length)^2 mask while ours keeps its rows, so under sdpa/eager the packed pair would
compare different work and is skipped (use --attn flex_attention on a GPU without flash-attn). TRL is optional
(pip install 'trl==1.16.*' datasets): without it the TRL side is skipped, with a message.

    python benchmarks/bench_train.py                      # GPU: SmolLM2-135M- and 1.5B-shaped models
    python benchmarks/bench_train.py --shapes 135m --steps 40 --batch-size 8 --seq-len 2048
    python benchmarks/bench_train.py --tiny               # CPU smoke check (tiny shapes, a few steps)

Models are randomly initialised with a real architecture's config (a random model costs the same per
token as a trained one); data are synthetic instruction/response pairs with log-normal lengths (median
prompt ~110 tokens, median response ~260, long tail clipped at the sequence length), rendered with the
same Alpaca prompt for both trainers. Each trainer runs in its own subprocess (clean peak-memory counters).

Measured the same way for both: a forward pre-hook on the decoder records (time, real tokens) at each
micro-step (real = not the pad token, so padding is not counted); tokens/s is taken from the first
micro-step after `--warmup` steps to the last one. Peak memory is torch.cuda.max_memory_allocated over the
training loop (counters reset when the loop starts, after model loading, on both sides).

MFU: model FLOPs as the trainer counts them (wizardcoder/train/flops.py: 4·N·n + 6·L·d·n(n+1) per example of
n tokens on a frozen base, recomputation not counted), averaged per token over the benchmark's examples and
applied to each side's tokens/s, over the GPU's dense bf16 peak (by its name, or --peak-tflops).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPES = {
    # SmolLM2-135M (llama): the embedded model's shape
    "135m": {"arch": "llama", "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
             "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152,
             "tie_word_embeddings": True, "rope_theta": 100000.0, "max_position_embeddings": 8192},
    # Qwen2.5-Coder-1.5B shape (qwen2)
    "1.5b": {"arch": "qwen2", "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
             "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
             "tie_word_embeddings": True, "rope_theta": 1000000.0, "max_position_embeddings": 32768},
    "tiny": {"arch": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 2048,
             "tie_word_embeddings": False, "max_position_embeddings": 2048},
}

SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"] + ["an", "el", "in", "or", "us"]


# ------------------------------------------------------------------------------------------- setup


def make_words(n: int, rng: random.Random) -> list[str]:
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))))
    return sorted(words)


def make_tokenizer(out: Path, words: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from wizardcoder.data.template import ALPACA_TEMPLATE

    corpus = [ALPACA_TEMPLATE] * 50 + [" ".join(words[i:i + 50]) for i in range(0, len(words), 50)] * 5
    tk = Tokenizer(models.BPE(unk_token=None))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=len(words) + 2000, special_tokens=["<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(corpus, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    tok.save_pretrained(out)
    return tok


def make_model(out: Path, shape: str, tok, dtype: str) -> int:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    spec = dict(SHAPES[shape])
    arch = spec.pop("arch")
    spec["vocab_size"] = max(spec["vocab_size"], len(tok))
    cfg = AutoConfig.for_model(arch, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                               pad_token_id=tok.pad_token_id, **spec)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, dtype=getattr(torch, dtype))
    model.save_pretrained(out)
    return sum(p.numel() for p in model.parameters())


def make_data(path: Path, words: list[str], n: int, seq_len: int, seed: int) -> dict:
    rng = random.Random(seed)
    scale = min(1.0, seq_len / 2048)  # --tiny: shorter sequences, same shape of distribution
    lengths = []
    with path.open("w") as fh:
        for _ in range(n):
            p = int(min(seq_len // 2, max(8, rng.lognormvariate(math.log(110 * scale), 0.7))))
            r = int(min(seq_len, max(4, rng.lognormvariate(math.log(260 * scale), 0.8))))
            fh.write(json.dumps({"instruction": " ".join(rng.choice(words) for _ in range(p)),
                                 "output": " ".join(rng.choice(words) for _ in range(r))}) + "\n")
            lengths.append(p + r)
    lengths.sort()
    return {"examples": n, "median_words": lengths[n // 2], "p95_words": lengths[int(n * 0.95)]}


# ----------------------------------------------------------------------------------------- workers


class Meter:
    """Forward pre-hook on the decoder: (time, real tokens) per micro-step."""

    def __init__(self, pad_id: int, cuda: bool):
        self.pad_id, self.cuda, self.marks = pad_id, cuda, []

    def hook(self, module, args, kwargs):
        import torch

        if not module.training:
            return
        ids = kwargs.get("input_ids", args[0] if args else None)
        if self.cuda:
            torch.cuda.synchronize()
        self.marks.append((time.perf_counter(), int((ids != self.pad_id).sum())))

    def attach(self, model):
        decoder = model.model if hasattr(model, "model") else model.get_decoder()
        decoder.register_forward_pre_hook(self.hook, with_kwargs=True)

    def rate(self, warmup_micro: int) -> tuple[float, int, float]:
        marks = self.marks[warmup_micro:]
        if len(marks) < 2:
            raise RuntimeError(f"too few measured micro-steps ({len(self.marks)}); raise --steps")
        tokens = sum(n for _, n in marks[:-1])
        seconds = marks[-1][0] - marks[0][0]
        return tokens / seconds, tokens, seconds


def worker(args) -> dict:
    import torch

    cuda = args.device == "cuda"
    work = Path(args.work)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(work / "model"))
    meter = Meter(tok.pad_token_id, cuda)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    if args.worker in ("ours", "ours-padded"):
        from wizardcoder.config import load_config
        from wizardcoder.train import TrainConfig, train
        from wizardcoder.train import model as M

        orig = M.load_model

        def load_and_measure(*a, **k):
            model = orig(*a, **k)
            meter.attach(model)
            return model

        M.load_model = load_and_measure
        overrides = [
            f"model.path={work / 'model'}", f"data.path={work / 'data.jsonl'}", f"run.output={work / 'ours'}",
            f"run.device={args.device}", f"data.max_seq_len={args.seq_len}", f"train.batch_size={args.batch_size}",
            f"train.max_steps={args.steps}", "data.eval_fraction=0", "run.save_steps=0", "run.tensorboard=false",
            "run.logging_steps=100000", f"train.gradient_checkpointing={str(args.gc).lower()}",
            f"lora.r={args.lora_r}", f"lora.alpha={2 * args.lora_r}", "lora.dropout=0.05",
            f"model.attn_implementation={args.attn}", f"train.compile={str(args.compile).lower()}",
            "run.resume=false", f"data.packing={str(args.worker == 'ours').lower()}", *args.ours_override]
        run_dir = train(load_config(TrainConfig, None, overrides))
        stats = json.loads((run_dir / "stats.json").read_text())
        settings = {"attn": stats["attn_implementation"], "packing": stats["packing"],
                    "flattened": stats["packing"] and M.is_flash(stats["attn_implementation"]),
                    "rows_per_micro_batch": args.batch_size, "row_length": stats["row_capacity"],
                    "gradient_checkpointing": args.gc, "overrides": args.ours_override}
    else:
        from datasets import Dataset
        from peft import LoraConfig
        from transformers import AutoModelForCausalLM, TrainerCallback
        from trl import SFTConfig, SFTTrainer

        from wizardcoder.data.template import render_prompt

        rows = [json.loads(line) for line in (work / "data.jsonl").open()]
        ds = Dataset.from_list([{"prompt": render_prompt(r["instruction"]), "completion": r["output"]} for r in rows])
        dtype = torch.bfloat16 if cuda else torch.float32
        model = AutoModelForCausalLM.from_pretrained(str(work / "model"), dtype=dtype, attn_implementation=args.attn)
        if cuda:
            model.to("cuda")
        meter.attach(model)
        targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        sft = SFTConfig(
            output_dir=str(work / args.worker), per_device_train_batch_size=args.batch_size, max_steps=args.steps,
            max_length=args.seq_len, bf16=cuda, use_cpu=not cuda, gradient_checkpointing=args.gc,
            learning_rate=2e-4, lr_scheduler_type="cosine", warmup_steps=0.03, logging_steps=100000,
            save_strategy="no", report_to=[], packing=args.worker == "trl-packed", seed=0,
            dataloader_num_workers=0)
        class ResetPeakMemory(TrainerCallback):  # as our trainer does when its loop starts
            def on_train_begin(self, *a, **k):
                if cuda:
                    torch.cuda.reset_peak_memory_stats()

        trainer = SFTTrainer(model=model, args=sft, train_dataset=ds, processing_class=tok,
                             peft_config=LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.05,
                                                    target_modules=targets, task_type="CAUSAL_LM"),
                             callbacks=[ResetPeakMemory()])
        trainer.train()
        settings = {"attn": trainer.model.config._attn_implementation, "packing": sft.packing,
                    "packing_strategy": sft.packing_strategy if sft.packing else None,
                    "flattened": bool(getattr(trainer, "padding_free", sft.padding_free)),
                    "rows_per_micro_batch": args.batch_size, "max_length": args.seq_len,
                    "gradient_checkpointing": args.gc}
    rate, tokens, seconds = meter.rate(args.warmup)
    out = {"tokens_per_s": rate, "tokens": tokens, "seconds": seconds, "micro_steps": len(meter.marks),
           "peak_mem_gb": torch.cuda.max_memory_allocated() / 2**30 if cuda else None, "settings": settings}
    print("RESULT " + json.dumps(out), flush=True)
    return out


# ------------------------------------------------------------------------------------------ driver


def run_worker(name: str, args, work: Path) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", name, "--work", str(work), "--device", args.device,
           "--seq-len", str(args.seq_len), "--batch-size", str(args.batch_size), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--lora-r", str(args.lora_r), "--attn", args.attn]
    cmd += ["--gc"] if args.gc else ["--no-gc"]
    if args.compile:
        cmd.append("--compile")
    for o in args.ours_override:
        cmd += ["--ours-override", o]
    t = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        print(f"  {name}: FAILED (exit {proc.returncode})\n" + proc.stderr[-3000:], file=sys.stderr)
        return None
    res = json.loads(lines[-1][len("RESULT "):])
    res["wall_s"] = time.time() - t
    return res


def flops_per_token(model_dir: Path, data: Path, seq_len: int) -> tuple[float, int]:
    """(model FLOPs per token averaged over the benchmark's examples as the trainer counts them, parameters)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from wizardcoder.train import data as D
    from wizardcoder.train.flops import model_shape

    with torch.device("meta"):  # shapes only
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(model_dir)))
    shape = model_shape(model)
    examples, _ = D.tokenize_records(D.load_records(data), AutoTokenizer.from_pretrained(str(model_dir)),
                                     max_seq_len=seq_len)
    flops = sum(shape.example_flops(len(e)) for e in examples)
    return flops / sum(len(e) for e in examples), sum(p.numel() for p in model.parameters())


def resolve_attn(requested: str, device: str) -> str:
    """One kernel for both sides: auto as the trainer resolves it (flash-attn when it imports on a GPU, else sdpa)."""
    from wizardcoder.train.model import resolve_attn as trainer_resolve

    return trainer_resolve(requested, device)


def flattens_without_dense_mask(attn: str) -> bool:
    """Kernels that attend a flattened batch by its examples' boundaries (varlen) or skip masked blocks (flex)."""
    from wizardcoder.train.model import is_flash

    return is_flash(attn) or attn == "flex_attention"


def plan_pairs(pairs: list[tuple[str, str]], attn: str, missing: str | None
               ) -> tuple[list[tuple[str, str | None]], list[str]]:
    """The (ours, baseline) pairs to run, a baseline left out (None) where it cannot be run or compared; notes why."""
    kept, notes = [], []
    if missing:
        notes.append(f"TRL side skipped: {missing} not importable here (pip install 'trl==1.16.*' datasets); "
                     "ours still runs")
    for mine, theirs in pairs:
        if theirs == "trl-packed" and not flattens_without_dense_mask(attn):
            notes.append(f"pair {mine}:{theirs} skipped under attn={attn}: TRL packs each batch into one flattened "
                         "row, which this kernel attends with a dense (rows x length)^2 mask, while ours keeps its "
                         "rows: not the same work. Use --attn flex_attention (or a flash kernel) for a fair packed pair.")
            theirs = None
        elif missing and theirs.startswith("trl"):
            theirs = None
        kept.append((mine, theirs))
    return kept, notes


def trl_missing() -> str | None:
    import importlib.util

    missing = [m for m in ("trl", "datasets") if importlib.util.find_spec(m) is None]
    return ", ".join(missing) if missing else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="CPU smoke check: tiny model, few steps")
    ap.add_argument("--shapes", default="135m,1.5b", help="comma-separated: 135m, 1.5b, tiny")
    ap.add_argument("--pairs", default="ours:trl-packed,ours-padded:trl",
                    help="ours:baseline pairs run with the same packing: ours (packed) vs trl-packed (SFTConfig "
                         "packing=True), ours-padded (data.packing=false) vs trl (SFTTrainer's default padding)")
    ap.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5, help="micro-steps not timed (allocator, kernels, compile)")
    ap.add_argument("--examples", type=int, default=6000)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--attn", default="auto",
                    help="attention kernel for both sides: auto (flash_attention_2 if flash-attn imports on the GPU, "
                         "else sdpa), sdpa, flex_attention, flash_attention_2, ...")
    ap.add_argument("--gc", dest="gc", action="store_true", default=True, help="gradient checkpointing (default on)")
    ap.add_argument("--no-gc", dest="gc", action="store_false")
    ap.add_argument("--compile", action="store_true", help="ours: torch.compile")
    ap.add_argument("--ours-override", action="append", default=[], help="extra key=value for our trainer")
    ap.add_argument("--peak-tflops", type=float, default=0.0,
                    help="dense bf16 peak of one GPU in TFLOP/s, for MFU (0: from the GPU's name)")
    ap.add_argument("--keep", default=None, help="work directory to keep (default: a temporary one)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--work", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    import torch

    from wizardcoder.train.flops import peak_flops

    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.worker:
        worker(args)
        return 0
    if args.tiny:
        args.shapes, args.seq_len, args.batch_size = "tiny", 256, 4
        args.steps, args.warmup, args.examples = min(args.steps, 8), 2, 300
    elif args.device == "cpu":
        print("no GPU: this benchmark is meant for a GPU (use --tiny for a CPU smoke check)", file=sys.stderr)
        return 2
    args.attn = resolve_attn(args.attn, args.device)  # one kernel, given to both sides
    kept, notes = plan_pairs([tuple(p.split(":")) for p in args.pairs.split(",") if p], args.attn, trl_missing())
    for note in notes:
        print(note)
    names = list(dict.fromkeys(n for pair in kept for n in pair if n))
    peak = peak_flops(args.device, args.peak_tflops)
    print(f"device={args.device} seq_len={args.seq_len} batch_size={args.batch_size} steps={args.steps} "
          f"(timed after {args.warmup} micro-steps) lora_r={args.lora_r} gc={args.gc} attn={args.attn} (both sides)")
    if args.device == "cuda":
        print(f"gpu: {torch.cuda.get_device_name()}, torch {torch.__version__}, peak "
              + (f"{peak / 1e12:.0f} TFLOP/s" if peak else "unknown (pass --peak-tflops for MFU)"))
    rows = []
    for shape in args.shapes.split(","):
        with tempfile.TemporaryDirectory(prefix=f"bench-train-{shape}-") as tmp:
            work = Path(args.keep or tmp) / shape
            work.mkdir(parents=True, exist_ok=True)
            rng = random.Random(0)
            words = make_words(1500, rng)
            tok = make_tokenizer(work / "model", words)
            make_model(work / "model", shape, tok, "bfloat16" if args.device == "cuda" else "float32")
            info = make_data(work / "data.jsonl", words, args.examples, args.seq_len, seed=1)
            per_token, n_total = flops_per_token(work / "model", work / "data.jsonl", args.seq_len)
            print(f"\n[{shape}] params {n_total / 1e6:.1f}M; model FLOPs per token {per_token:.3g} "
                  f"(wizardcoder/train/flops.py); data: {info}")
            results = {}
            for name in names:
                res = run_worker(name, args, work)
                results[name] = res
                if res is None:
                    continue
                mfu = per_token * res["tokens_per_s"] / peak if peak else None
                mem = f"{res['peak_mem_gb']:.2f} GiB" if res["peak_mem_gb"] is not None else "n/a (cpu)"
                print(f"  {name:11s} {res['tokens_per_s']:10.0f} tokens/s   peak mem {mem:>12s}   "
                      + (f"MFU {100 * mfu:5.1f}%" if mfu is not None else "MFU n/a")
                      + f"   ({res['tokens']} real tokens in {res['seconds']:.1f}s; wall {res['wall_s']:.0f}s)")
                print(f"  {'':11s} settings: {json.dumps(res['settings'])}")
            for mine, theirs in kept:
                ours, base = results.get(mine), results.get(theirs) if theirs else None
                if not (ours and base):
                    continue
                if ours["settings"]["attn"] != base["settings"]["attn"]:
                    print(f"  {mine} / {theirs}: no ratio, the sides loaded different kernels "
                          f"({ours['settings']['attn']} vs {base['settings']['attn']})")
                    continue
                line = f"  {mine} / {theirs}: {ours['tokens_per_s'] / base['tokens_per_s']:.2f}x tokens/s"
                if ours["peak_mem_gb"] and base["peak_mem_gb"]:
                    line += f", {ours['peak_mem_gb'] / base['peak_mem_gb']:.2f}x peak memory"
                print(line + f" (both {ours['settings']['attn']})")
            rows.append({"shape": shape, "data": info, "flops_per_token": per_token, "results": results})
    if args.keep:
        Path(args.keep, "bench_train.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
