"""Time of `wizardcoder train`'s collator per step against Python-list collation, same batches, same run.

    python benchmarks/bench_collator.py [--rows 8] [--pack-len 2048] [--steps 200]

Examples of 100-800 tokens (a quarter of each is prompt) are packed into rows of `--pack-len` tokens; a step
collates `--rows` rows into input ids, labels and position ids. The baseline builds the same tensors from
Python lists (as the collator did before it took numpy arrays); both outputs are checked equal first.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from wizardcoder.train.data import IGNORE, Collator, Example, pack


def examples(n: int, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randint(100, 800)
        out.append(Example(input_ids=[rng.randrange(1, 32000) for _ in range(length)], n_prompt=length // 4))
    return out


def list_collate(rows: list[list[Example]], pad_id: int, multiple: int = 8) -> dict[str, torch.Tensor]:
    """The same packed batch from Python lists: the baseline."""
    ids_rows, label_rows, pos_rows = [], [], []
    for row in rows:
        ids, labels, pos = [], [], []
        for ex in row:
            ids += ex.input_ids
            labels += [IGNORE] * max(ex.n_prompt, 1) + ex.input_ids[max(ex.n_prompt, 1):]
            pos += list(range(len(ex)))
        ids_rows.append(ids)
        label_rows.append(labels)
        pos_rows.append(pos)
    width = max(len(r) for r in ids_rows)
    width = -(-width // multiple) * multiple
    for ids, labels, pos in zip(ids_rows, label_rows, pos_rows):
        k = len(ids)
        ids += [pad_id] * (width - k)
        labels += [IGNORE] * (width - k)
        pos += list(range(width - k))
    return {"input_ids": torch.tensor(ids_rows), "labels": torch.tensor(label_rows),
            "position_ids": torch.tensor(pos_rows)}


def per_step_ms(fn, batches, repeats: int = 3) -> float:
    best = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for rows in batches:
            fn(rows)
        best.append((time.perf_counter() - t0) / len(batches) * 1000)
    return min(best)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=8, help="packed rows per step (default 8)")
    ap.add_argument("--pack-len", type=int, default=2048, help="tokens per packed row (default 2048)")
    ap.add_argument("--steps", type=int, default=200, help="steps timed per repeat (default 200)")
    args = ap.parse_args()

    exs = examples(args.rows * args.steps * args.pack_len // 400)
    packed = [[exs[i] for i in row] for row in pack(exs, args.pack_len)]
    batches = [packed[i:i + args.rows] for i in range(0, len(packed) - args.rows + 1, args.rows)][:args.steps]
    collator = Collator(pad_id=0)
    for rows in batches[:5]:  # the same tensors, or the comparison means nothing
        ours, base = collator(rows), list_collate(rows, pad_id=0)
        for key in base:
            assert torch.equal(ours[key], base[key]), key
    per_row = statistics.mean(len(r) for b in batches for r in b)
    for rows in batches:  # each example's array is made once, as in training (Example.array is cached)
        collator(rows)
    ours_ms = per_step_ms(collator, batches)
    base_ms = per_step_ms(lambda rows: list_collate(rows, pad_id=0), batches)
    print(f"{len(batches)} steps of {args.rows} rows x {args.pack_len} tokens ({per_row:.1f} examples a row)")
    print(f"collator (numpy)     {ours_ms:7.2f} ms per step")
    print(f"Python lists         {base_ms:7.2f} ms per step   ({base_ms / ours_ms:.2f}x the collator's time)")


if __name__ == "__main__":
    main()
