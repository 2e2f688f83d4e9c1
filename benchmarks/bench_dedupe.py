"""Throughput of dataset dedupe (MinHash + LSH) and decontamination, against baselines run here.

    python benchmarks/bench_dedupe.py [--records 100000] [--baseline 2000]

Dedupe is compared with the naive all-pairs exact Jaccard over the same shingles on a small subset
(O(n^2)); the printed ratio is per record at each size, and the extrapolation shows why LSH is needed.
Decontamination is timed on the same instructions against the HumanEval (+ MBPP where found) index.
"""

from __future__ import annotations

import argparse
import random
import time

from wizardcoder.data.config import DatasetConfig
from wizardcoder.data.decontaminate import Decontaminator
from wizardcoder.data.dedupe import _jaccard, _Shingler, dedupe


def synthetic(n: int, seed: int = 0) -> list[dict]:
    """Instruction-like records: random 60-100 word texts over a 8k-word vocabulary, 5% exact and 5% near
    duplicates planted."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(8000)]
    records = []
    for i in range(n):
        r = rng.random()
        if r < 0.05 and records:
            text = rng.choice(records)["instruction"].upper()
        elif r < 0.10 and records:
            words = rng.choice(records)["instruction"].split()
            words[rng.randrange(len(words))] = "changed"
            text = " ".join(words)
        else:
            text = " ".join(rng.choices(vocab, k=rng.randint(60, 100)))
        records.append({"id": str(i), "instruction": text})
    return records


def naive(records: list[dict], threshold: float) -> int:
    shingler = _Shingler(5)
    kept: list = []
    dropped = 0
    for rec in records:
        s = shingler.shingles(rec["instruction"])
        if any(_jaccard(s, k) >= threshold for k in kept):
            dropped += 1
        else:
            kept.append(s)
    return dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=2000, help="records for the O(n^2) baseline")
    args = parser.parse_args()
    cfg = DatasetConfig()

    small = synthetic(args.baseline, seed=1)
    t0 = time.perf_counter()
    naive_dropped = naive(small, cfg.near_duplicate_threshold)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, lsh_dropped = dedupe(small, cfg)
    t_lsh_small = time.perf_counter() - t0
    print(f"baseline n={len(small)}: naive all-pairs {t_naive:.2f}s ({naive_dropped} dropped), "
          f"LSH {t_lsh_small:.2f}s ({len(lsh_dropped)} dropped): {t_naive / t_lsh_small:.1f}x")

    big = synthetic(args.records)
    t0 = time.perf_counter()
    kept, dropped = dedupe(big, cfg)
    t_big = time.perf_counter() - t0
    per_rec = t_big / len(big)
    naive_extrapolated = t_naive * (len(big) / len(small)) ** 2
    print(f"dedupe n={len(big)}: {t_big:.1f}s, {len(big) / t_big:,.0f} records/s, {len(dropped)} dropped; "
          f"naive would take ~{naive_extrapolated / 3600:.1f} h (extrapolated, ratio "
          f"{naive_extrapolated / t_big:,.0f}x); 1M records ~{per_rec * 1e6 / 60:.1f} min")

    t0 = time.perf_counter()
    deco = Decontaminator(cfg)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    hits = sum(deco.contaminated(r["instruction"]) is not None for r in big)
    t_deco = time.perf_counter() - t0
    print(f"decontaminate: index {t_index:.2f}s ({deco.stats()['suites']}), {len(big) / t_deco:,.0f} records/s, "
          f"{hits} hits on synthetic data")


if __name__ == "__main__":
    main()
