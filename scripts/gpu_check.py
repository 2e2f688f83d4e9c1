"""The GPU checks of `wizardcoder train` (issue 21), run by scripts/gpu_check.sh: see there.

`part1` / `part2` run their steps one by one, each in its own process with a time limit, so that a missing
package, a crash or a hang costs that step only; every step says what it ran, what it skipped and why. The
model is a randomly initialised one at SmolLM2-135M's shape (benchmarks/bench_train.py's SHAPES["135m"]: a
random model costs the same per token as the trained one), with a tokenizer and data made on the spot (no hub).
`--cpu-dry-run` runs the same steps with a tiny model on the CPU, skipping what needs a GPU (saying so).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's wizardcoder, installed or not
OPTIONAL = ("flash_attn", "bitsandbytes", "trl", "datasets", "deepspeed", "matplotlib", "tensorboard", "pytest")


def load_bench():
    """benchmarks/bench_train.py: the 135M shape, the tokenizer, model and data makers."""
    spec = importlib.util.spec_from_file_location("bench_train", ROOT / "benchmarks" / "bench_train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Sizes:
    def __init__(self, dry_run: bool):
        self.dry_run = dry_run
        self.device = "cpu" if dry_run else "cuda"
        self.shape = "tiny" if dry_run else "135m"
        self.seq_len = 256 if dry_run else 2048
        self.batch = 2 if dry_run else 8
        self.examples = 200 if dry_run else 3000
        self.steps = 4 if dry_run else 40  # throughput runs
        self.resume_steps = 4 if dry_run else 20  # stopped after half of them
        self.timeout = 900 if dry_run else 240  # per step (the CPU dry run shares 2 busy cores)


def missing(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


# ------------------------------------------------------------------------------------------- the steps


def step_env(work: Path, sizes: Sizes) -> dict:
    import torch

    versions = {"python": sys.version.split()[0], "torch": torch.__version__}
    for name in ("transformers", "peft", "accelerate", "triton", *OPTIONAL):
        if importlib.util.find_spec(name) is None:
            versions[name] = "MISSING"
            continue
        try:
            from importlib.metadata import version

            versions[name] = version(name.replace("_", "-"))
        except Exception:  # noqa: BLE001 - installed but without metadata
            versions[name] = "installed"
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    print(f"  gpu: {gpu or 'none'}")
    print("  " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    absent = [k for k, v in versions.items() if v == "MISSING"]
    if absent:
        print(f"  missing (their steps say so and are skipped): {', '.join(absent)}")
    if not sizes.dry_run and gpu is None:
        raise SystemExit("no CUDA GPU here: run with --cpu-dry-run on a CPU")
    return {"gpu": gpu, "versions": versions}


def step_setup(work: Path, sizes: Sizes) -> dict:
    """The model, tokenizer and data, made once per work directory."""
    import random

    done = work / "setup.json"
    if done.is_file():
        print(f"  reusing {work}")
        return json.loads(done.read_text())
    bench = load_bench()
    words = bench.make_words(1500, random.Random(0))
    tok = bench.make_tokenizer(work / "model", words)
    params = bench.make_model(work / "model", sizes.shape, tok, "float32" if sizes.dry_run else "bfloat16")
    info = bench.make_data(work / "data.jsonl", words, sizes.examples, sizes.seq_len, seed=1)
    info.update(params=params, shape=sizes.shape, config=bench.SHAPES[sizes.shape])
    print(f"  {sizes.shape}-shaped random model, {params / 1e6:.1f}M params; data {info['examples']} examples")
    done.write_text(json.dumps(info))
    return info


def attention_kernels(sizes: Sizes, backward: bool = True) -> list[tuple[str, str | None]]:
    """(kernel, why it is skipped or None)."""
    flash_gone = missing("flash_attn")
    return [("sdpa", None),
            ("flex_attention", "flex_attention has no backward on CPU" if sizes.dry_run and backward else None),
            ("flash_attention_2", "flash-attn is not installed" if flash_gone else
             ("flash-attn needs a GPU" if sizes.dry_run else None))]


def step_packing(work: Path, sizes: Sizes) -> dict:
    """Packed rows against each example alone, per kernel, on the model itself; a leaky control (the position
    ids run on across examples, so they attend to each other) must differ, or the check proves nothing."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from wizardcoder.train import data as D
    from wizardcoder.train.model import is_flash

    dtype = torch.float32 if sizes.dry_run else torch.bfloat16
    vocab = AutoConfig.from_pretrained(str(work / "model")).vocab_size
    g = torch.Generator().manual_seed(0)
    lengths = (37, 21, 29) if sizes.dry_run else (300, 517, 701)
    examples = [D.Example(torch.randint(3, vocab, (n,), generator=g).tolist(), 5) for n in lengths]
    out = {}
    for attn, skip in attention_kernels(sizes, backward=False):
        if skip:
            print(f"  {attn:18s} skipped: {skip}")
            continue
        model = AutoModelForCausalLM.from_pretrained(str(work / "model"), dtype=dtype, attn_implementation=attn)
        model = model.to(sizes.device).eval()
        batch = D.Collator(pad_id=0, flatten=is_flash(attn), pad_to_multiple_of=64)([examples])
        inputs = D.to_device({k: v for k, v in batch.items() if k != "labels"}, sizes.device)
        leaky = {"input_ids": inputs["input_ids"],
                 "position_ids": torch.arange(inputs["input_ids"].shape[1], device=sizes.device)[None]}
        with torch.no_grad():
            alone = torch.cat([model(input_ids=torch.tensor([e.input_ids], device=sizes.device),
                                     use_cache=False).logits[0].float() for e in examples])
            n = alone.shape[0]
            packed = model(**inputs, use_cache=False).logits[0, :n].float()
            leaked = model(**leaky, use_cache=False).logits[0, :n].float()
        tol = (1e-4 if dtype == torch.float32 else 3e-2) * max(1.0, alone.abs().max().item())
        diff, control = (packed - alone).abs().max().item(), (leaked - alone).abs().max().item()
        ok = diff <= tol < control
        print(f"  {attn:18s} packed vs alone max |diff| {diff:.2e}, leaky control {control:.2e}, tolerance "
              f"{tol:.1e}: {'PASS' if ok else 'FAIL'}")
        out[attn] = {"diff": diff, "control": control, "tolerance": tol, "ok": ok}
        del model
    return {"kernels": out, "ok": all(v["ok"] for v in out.values())}


def train_overrides(work: Path, sizes: Sizes, name: str, steps: int, extra: list[str]) -> list[str]:
    return [f"model.path={work / 'model'}", f"data.path={work / 'data.jsonl'}", f"run.output={work / 'runs' / name}",
            f"run.device={sizes.device}", f"data.max_seq_len={sizes.seq_len}", f"train.batch_size={sizes.batch}",
            f"train.max_steps={steps}", "train.warmup_ratio=0.1", "lora.dropout=0", "data.eval_fraction=0",
            "run.tensorboard=false", "run.logging_steps=1", *extra]


def step_syncs(work: Path, sizes: Sizes) -> dict:
    """Host synchronisations per optimizer step (torch.cuda.set_sync_debug_mode), steps 3 on, by kernel."""
    if sizes.dry_run:
        print("  skipped: torch.cuda.set_sync_debug_mode counts CUDA synchronisations only (GPU run)")
        return {"skipped": "cpu"}
    out = {}
    for attn, skip in attention_kernels(sizes):
        if skip:
            print(f"  {attn:18s} skipped: {skip}")
            continue
        proc = run_python(["sync-worker", str(work), attn], sizes.timeout)
        result = last_result(proc)
        if result is None:
            print(f"  {attn:18s} FAILED (exit {proc.returncode}): {proc.stderr[-1500:]}")
            continue
        where = ", ".join(f"{loc} x{n}" for loc, n in result["where"][:4])
        print(f"  {attn:18s} {result['per_step']:.1f} syncs per optimizer step ({result['micro']} micro-batches per "
              f"step; steps {result['counted']}); where: {where or 'nowhere'}")
        out[attn] = result
    return out


def sync_worker(work: Path, attn: str) -> None:
    import collections
    import warnings

    import torch

    from wizardcoder.config import load_config
    from wizardcoder.train import TrainConfig
    from wizardcoder.train.trainer import LoRARecipe

    sizes = Sizes(False)
    cfg = load_config(TrainConfig, None, train_overrides(work, sizes, f"syncs-{attn}", 6, [
        f"model.attn_implementation={attn}", "run.save_steps=0", "train.grad_accum=2"]))
    recipe = LoRARecipe(cfg, "cuda")
    recipe.setup()
    counts, where, step_no = [], collections.Counter(), [0]
    plain_step = recipe.train_step

    def counted_step(batches):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                result = plain_step(batches)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        syncs = [w for w in caught if "synchroniz" in str(w.message)]
        step_no[0] += 1
        if step_no[0] >= 3:  # after the allocator and kernels warmed up
            counts.append(len(syncs))
            where.update(f"{Path(w.filename).name}:{w.lineno}" for w in syncs)
        return result

    recipe.train_step = counted_step
    recipe.train()
    print("RESULT " + json.dumps({"per_step": sum(counts) / max(1, len(counts)), "counted": len(counts),
                                  "micro": cfg.train.grad_accum, "where": where.most_common()}), flush=True)


def step_variants(work: Path, sizes: Sizes, variants: list[tuple[str, list[str], str | None]]) -> dict:
    out = {}
    for name, extra, skip in variants:
        if skip:
            print(f"  {name:18s} skipped: {skip}")
            continue
        result = run_train(work, sizes, name, sizes.steps, extra)
        if result is None:
            continue
        out[name] = result
        print(f"  {name:18s} {fmt(result['tokens_per_second'], '{:9.0f}')} tokens/s  peak "
              f"{fmt(result['peak_memory_gb'], '{:6.2f}')} GiB  MFU {fmt(result['mfu'], '{:6.1%}')}  "
              f"(attn {result['attn']}, packing {result['packing']}, loss {result['losses'][0]:.3f} -> "
              f"{result['losses'][-1]:.3f})")
    return out


def part1_variants(sizes: Sizes) -> list[tuple[str, list[str], str | None]]:
    kernels = dict(attention_kernels(sizes))
    return [("sdpa packed", ["model.attn_implementation=sdpa"], None),
            ("sdpa padded", ["model.attn_implementation=sdpa", "data.packing=false"], None),
            ("flex packed", ["model.attn_implementation=flex_attention"], kernels["flex_attention"]),
            ("flash packed", ["model.attn_implementation=flash_attention_2"], kernels["flash_attention_2"])]


def part2_variants(sizes: Sizes) -> list[tuple[str, list[str], str | None]]:
    qlora_gone = missing("bitsandbytes")
    return [("fp16 sdpa packed", ["model.dtype=float16", "model.attn_implementation=sdpa"],
             "float16 needs a GPU (the trainer refuses it on CPU)" if sizes.dry_run else None),
            ("qlora sdpa packed", ["lora.qlora=true", "model.attn_implementation=sdpa"],
             "QLoRA needs a GPU" if sizes.dry_run else ("bitsandbytes is not installed" if qlora_gone else None))]


def step_resume(work: Path, sizes: Sizes) -> dict:
    """Straight vs stopped half-way and resumed (one process), then FSDP with one process, stopped and resumed."""
    n = sizes.resume_steps
    common = ["model.attn_implementation=sdpa", f"run.save_steps={n // 2}"]
    straight = run_train(work, sizes, "straight", n, common)
    run_train(work, sizes, "stopped", n, common, stop=n // 2)
    resumed = run_train(work, sizes, "stopped", n, common)
    out = {"straight": straight, "resumed": resumed}
    out["resume_ok"] = report_same("stopped and resumed", straight, resumed, sizes)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
              str(ROOT / "configs" / "accelerate" / "fsdp.yaml"), "--num_processes", "1"]
    if sizes.dry_run:
        launch.append("--cpu")
        print("  (CPU dry run: accelerate runs FSDP on GPUs only; the same launch runs one plain process here)")
    run_train(work, sizes, "fsdp", n, common, stop=n // 2, launcher=launch)
    fsdp = run_train(work, sizes, "fsdp", n, common, launcher=launch)
    out["fsdp"] = fsdp
    out["fsdp_ok"] = report_same("FSDP (1 process) stopped and resumed", straight, fsdp, sizes)
    return out


def report_same(what: str, straight: dict | None, other: dict | None, sizes: Sizes) -> bool:
    if not straight or not other:
        print(f"  {what}: FAIL (a run failed, above)")
        return False
    a, b = straight["losses"], other["losses"]
    worst = max(abs(x - y) / max(abs(x), 1e-6) for x, y in zip(a, b)) if len(a) == len(b) else float("inf")
    tol = 1e-4 if sizes.dry_run else 2e-2  # bf16 kernels need not be bit-reproducible
    ok = len(a) == len(b) and worst <= tol and bool(other["resumed_from"])
    print(f"  {what}: {len(b)} steps, resumed from {Path(other['resumed_from'] or '-').name}, largest relative loss "
          f"difference to the straight run {worst:.1e} (tolerance {tol:.0e}): {'PASS' if ok else 'FAIL'}")
    return ok


def step_bench(work: Path, sizes: Sizes) -> dict:
    gone = missing("trl", "datasets")
    if gone:
        print(f"  skipped: {', '.join(gone)} not importable here (pip install 'trl==1.16.*' datasets); "
              "bench_train.py compares our trainer with TRL's SFTTrainer")
        return {"skipped": gone}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_train.py")]
    cmd += ["--tiny"] if sizes.dry_run else ["--shapes", "135m", "--steps", "20", "--attn", "flex_attention"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=sizes.timeout * 2, env=child_env(),
                          check=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    print("\n".join("  " + line for line in lines[-16:]))
    if proc.returncode:
        print(f"  bench_train.py FAILED (exit {proc.returncode}): {proc.stderr[-1500:]}")
    return {"exit": proc.returncode, "output": lines}


# --------------------------------------------------------------------------------------- the plumbing


def fmt(value, spec: str) -> str:
    return spec.format(value) if value is not None else "n/a".rjust(len(spec.format(0)) if "%" not in spec else 6)


def child_env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def run_python(args: list[str], timeout: int, launcher: list[str] | None = None) -> subprocess.CompletedProcess:
    cmd = [*(launcher or [sys.executable]), str(Path(__file__).resolve()), *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env(), check=False)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(cmd, 124, exc.stdout or "", f"timed out after {timeout}s")


def last_result(proc: subprocess.CompletedProcess) -> dict | None:
    stdout = proc.stdout if isinstance(proc.stdout, str) else (proc.stdout or b"").decode()
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(lines[-1][len("RESULT "):]) if proc.returncode == 0 and lines else None


def run_train(work: Path, sizes: Sizes, name: str, steps: int, extra: list[str], stop: int | None = None,
              launcher: list[str] | None = None) -> dict | None:
    args = ["train-worker", "--stop", str(stop or 0), *train_overrides(work, sizes, name, steps, extra)]
    proc = run_python(args, sizes.timeout, launcher)
    result = last_result(proc)
    if result is None:
        said = [line for line in (proc.stderr or "").splitlines() if line.startswith("error:")]
        print(f"  {name:18s} FAILED (exit {proc.returncode}): " + (said[-1] if said else proc.stderr[-1500:]))
    return result


def train_worker(stop: int, overrides: list[str]) -> None:
    from wizardcoder.config import load_config
    from wizardcoder.errors import UserError
    from wizardcoder.train import TrainConfig, train

    cfg = load_config(TrainConfig, None, overrides)
    try:
        run_dir = train(cfg, stop_after=stop or None)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    if int(os.environ.get("RANK", "0")) != 0:
        return
    if stop:
        print("RESULT " + json.dumps({"stopped_at": stop}), flush=True)
        return
    metrics = json.loads((run_dir / "train_metrics.json").read_text())
    stats = json.loads((run_dir / "stats.json").read_text())
    keep = ("tokens_per_second", "peak_memory_gb", "mfu", "model_flops_per_second", "train_seconds", "resumed_from")
    print("RESULT " + json.dumps({**{k: metrics.get(k) for k in keep}, "losses": [h["loss"] for h in metrics["history"]],
                                  "attn": stats["attn_implementation"], "packing": stats["packing"],
                                  "distributed_type": stats["distributed_type"]}), flush=True)


PARTS = {
    "part1": [("environment", step_env), ("model, tokenizer, data", step_setup),
              ("packing vs alone, per kernel", step_packing), ("host syncs per step", step_syncs),
              ("throughput", lambda w, s: step_variants(w, s, part1_variants(s)))],
    "part2": [("environment", step_env), ("model, tokenizer, data", step_setup),
              ("straight vs stopped-and-resumed; FSDP twice", step_resume),
              ("fp16, QLoRA", lambda w, s: step_variants(w, s, part2_variants(s))),
              ("bench_train.py vs TRL, one kernel", step_bench)],
}


def run_part(part: str, work: Path, sizes: Sizes, out: Path | None, only: str | None = None) -> int:
    import shutil

    work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work / "runs", ignore_errors=True)  # every run trains afresh (a finished one would be skipped)
    results, failed = {}, []
    for title, fn in PARTS[part]:
        if only and only not in title and fn not in (step_env, step_setup):
            continue
        print(f"\n== {title}", flush=True)
        t = time.time()
        try:
            results[title] = fn(work, sizes)
        except SystemExit as exc:
            print(f"  stopped: {exc}")
            failed.append(title)
            break
        except Exception as exc:  # noqa: BLE001 - one step's failure must not hide the others'
            print(f"  FAILED: {type(exc).__name__}: {exc}")
            failed.append(title)
        print(f"  ({time.time() - t:.0f}s)", flush=True)
        value = results.get(title)
        if isinstance(value, dict) and (value.get("ok") is False or value.get("resume_ok") is False
                                        or value.get("fsdp_ok") is False):
            failed.append(title)
    summary = {"part": part, "dry_run": sizes.dry_run, "failed": failed, "results": results}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"gpu_check_{part}.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"\n{part}: " + (f"FAILED: {', '.join(failed)}" if failed else "all checks that ran passed"))
    return 1 if failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["part1", "part2", "train-worker", "sync-worker"])
    ap.add_argument("rest", nargs="*")
    ap.add_argument("--cpu-dry-run", action="store_true")
    ap.add_argument("--work", default=os.environ.get("GPU_CHECK_WORK", "/tmp/wizardcoder-gpu-check"))
    ap.add_argument("--stop", type=int, default=0)
    ap.add_argument("--only", default=None, help="run only the steps whose title has this text (e.g. packing)")
    args, unknown = ap.parse_known_args()
    if args.command == "train-worker":
        train_worker(args.stop, args.rest + unknown)
        return 0
    if args.command == "sync-worker":
        sync_worker(Path(args.rest[0]), args.rest[1])
        return 0
    sizes = Sizes(args.cpu_dry_run)
    work = Path(args.work) / ("cpu-dry-run" if sizes.dry_run else "gpu")
    out = Path(os.environ["OUT"]) if os.environ.get("OUT") else None
    return run_part(args.command, work, sizes, out, args.only)


if __name__ == "__main__":
    sys.exit(main())
