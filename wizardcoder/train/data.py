"""Training data: load records, render them with the ONE template, tokenize, pack, batch.

Loss is taken on response tokens only: `labels` are -100 on the prompt and on padding. With packing,
several examples share one row; their position ids restart at 0 for every example, which is what
transformers uses (SDPA/eager/flex: a block-diagonal mask; flash-attention: varlen) to keep each example
from attending to the others.
"""

from __future__ import annotations

import bisect
import functools
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wizardcoder.content_id import content_sha256
from wizardcoder.data.rows import read_rows
from wizardcoder.data.template import render_example
from wizardcoder.errors import UserError

log = logging.getLogger(__name__)

IGNORE = -100

# Tried, in order, when a field name is left at its default and the data does not have it.
INSTRUCTION_ALIASES = ("instruction", "prompt", "question", "problem", "input")
RESPONSE_ALIASES = ("output", "response", "completion", "answer", "solution")


# ----------------------------------------------------------------------------------------- loading


def load_records(path: str | Path, instruction_field: str = "instruction", response_field: str = "output",
                 input_field: str = "input") -> list[dict[str, str]]:
    """[{"instruction": ..., "response": ...}] from any source `read_rows` reads (a dataset directory, an evolve
    run directory, a JSONL/JSON/CSV/Parquet file).

    A non-empty `input_field` (Alpaca's optional context) is appended to the instruction after a blank line.
    """
    source = str(path)
    rows = list(read_rows(path, what="training data", fix="pass --data with a dataset directory or a .jsonl file"))
    if not rows:
        raise UserError(f"{source}: no records (the dataset is empty)")
    columns = list(rows[0].keys())
    ins = _pick_field(columns, instruction_field, "instruction", INSTRUCTION_ALIASES, "data.instruction_field", source)
    res = _pick_field(columns, response_field, "output", RESPONSE_ALIASES, "data.response_field", source)
    records = []
    for row in rows:
        a, b = row.get(ins), row.get(res)
        if not isinstance(a, str) or not isinstance(b, str):
            missing = ins if not isinstance(a, str) else res
            raise UserError(f"{row.where}: no text in field {missing!r} "
                            f"(got {type(row.get(missing)).__name__}); fix the record or drop it")
        extra = row.get(input_field) if input_field and input_field not in (ins, res) else None
        if isinstance(extra, str) and extra.strip():
            a = f"{a.rstrip()}\n\n{extra.strip()}"
        records.append({"instruction": a, "response": b})
    return records


def content_fingerprint(path: str | Path) -> str:
    """What the training data holds (a file's bytes, or a directory's file names and bytes), for the run
    directory's key: changed contents give a new run directory, never "already done"."""
    return content_sha256(path)[:16]


def _pick_field(columns: Sequence[str], wanted: str, default: str, aliases: Sequence[str], key: str,
                source: str) -> str:
    if wanted in columns:
        return wanted
    if wanted == default:
        for alias in aliases:
            if alias in columns:
                log.info("%s: using field %r as %s", source, alias, key)
                return alias
    raise UserError(f"{source}: records have no field {wanted!r} (fields: {', '.join(map(str, columns))}); "
                    f"set {key}=<field name>, e.g. `wizardcoder train ... {key}={columns[0]}`")


# -------------------------------------------------------------------------------------- tokenizing


@dataclass
class Example:
    input_ids: list[int]
    n_prompt: int  # tokens before the response; labels start after them

    def __len__(self) -> int:
        return len(self.input_ids)

    @functools.cached_property
    def array(self) -> np.ndarray:
        """input_ids as an array, made once: the collator concatenates these instead of Python lists."""
        return np.asarray(self.input_ids, dtype=np.int64)


@dataclass
class TokenStats:
    examples: int = 0
    truncated: int = 0
    dropped_too_long: int = 0
    dropped_empty: int = 0
    tokens: int = 0
    label_tokens: int = 0


def tokenize_records(records: Sequence[dict[str, str]], tokenizer, template: str = "alpaca",
                     max_seq_len: int = 2048, drop_empty: bool = True) -> tuple[list[Example], TokenStats]:
    """Prompt and response are tokenized separately, so the prompt tokens are exactly those seen at inference."""
    stats = TokenStats()
    eos = tokenizer.eos_token_id
    if eos is None:
        raise UserError("the tokenizer has no EOS token; the model could not learn where a response ends")
    prompts, responses = [], []
    for rec in records:
        p, r = render_example(rec["instruction"], rec["response"], template=template, tokenizer=tokenizer)
        prompts.append(p)
        responses.append(r)
    p_ids = _encode_prompts(tokenizer, prompts)
    r_ids = tokenizer(responses, add_special_tokens=False)["input_ids"] if responses else []
    out = []
    for p, r, text in zip(p_ids, r_ids, responses):
        if drop_empty and not text:
            stats.dropped_empty += 1
            continue
        r = list(r) + [eos]
        if len(p) >= max_seq_len - 1:
            stats.dropped_too_long += 1
            continue
        if len(p) + len(r) > max_seq_len:
            r = r[: max_seq_len - len(p)]
            stats.truncated += 1
        ex = Example(list(p) + r, len(p))
        out.append(ex)
        stats.tokens += len(ex)
        stats.label_tokens += len(r)
    stats.examples = len(out)
    return out, stats


def _encode_prompts(tokenizer, prompts: list[str]) -> list[list[int]]:
    """As at inference (wizardcoder.llm's TransformersClient): the tokenizer's special tokens are added,
    except a BOS when the rendered prompt (a chat template) already starts with the BOS text."""
    bos = tokenizer.bos_token
    with_bos = [not (bos and p.startswith(bos)) for p in prompts]
    out: list[list[int]] = [[] for _ in prompts]
    for flag in (True, False):
        idx = [i for i, f in enumerate(with_bos) if f == flag]
        if idx:
            ids = tokenizer([prompts[i] for i in idx], add_special_tokens=flag)["input_ids"]
            for i, x in zip(idx, ids):
                out[i] = x
    return out


def split_eval(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    if fraction <= 0 or len(examples) < 2:
        return examples, []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_eval = min(len(examples) - 1, max(1, round(len(examples) * fraction)))
    eval_idx = set(order[:n_eval])
    train = [e for i, e in enumerate(examples) if i not in eval_idx]
    return train, [examples[i] for i in sorted(eval_idx)]


# ---------------------------------------------------------------------------------------- packing


def pack(examples: Sequence[Example], capacity: int) -> list[list[int]]:
    """Best-fit-decreasing bin packing: rows of example indices whose lengths sum to <= capacity.

    An example longer than `capacity` (possible when data.pack_len < data.max_seq_len) gets a row of its own.
    """
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i]))
    free: list[tuple[int, int]] = []  # (room left, row id), sorted
    rows: list[list[int]] = []
    for i in order:
        n = len(examples[i])
        if n >= capacity:
            rows.append([i])
            continue
        j = bisect.bisect_left(free, (n, -1))
        if j < len(free):
            room, row = free.pop(j)
            rows[row].append(i)
            bisect.insort(free, (room - n, row))
        else:
            rows.append([i])
            bisect.insort(free, (capacity - n, len(rows) - 1))
    return rows


def make_rows(examples: Sequence[Example], packing: bool, capacity: int) -> list[list[int]]:
    if packing:
        return pack(examples, capacity)
    return [[i] for i in range(len(examples))]


def epoch_batches(n_rows: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Batches of row indices for one epoch, shuffled anew every epoch; deterministic in (seed, epoch).

    The trainer calls it with the global batch (all micro-batches of all processes of one optimizer step) and
    groups rows by length only within a step, so what a step trains on never depends on how it is split.
    """
    order = list(range(n_rows))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return [order[s:s + batch_size] for s in range(0, n_rows, batch_size)]


# -------------------------------------------------------------------------------------- collating


@dataclass
class Collator:
    """Rows of examples -> tensors. Packed: position ids restart per example, no attention mask.

    `flatten=True` puts the whole micro-batch into one row (padding-free, for a flash kernel's varlen path) and adds
    the examples' boundaries as transformers' flash path takes them: `cu_seq_lens_q/k` (int32) and
    `max_length_q/k` (Python ints). Given these, it neither finds the boundaries from the position ids in every
    layer nor reads a length back from the GPU (each a device synchronisation).
    `width` pads every row to that fixed width (one shape for torch.compile / flex attention).
    `loss_index=True` adds the flat positions (in B x (L-1)) whose next token is a label, computed here on
    the CPU so the loss needs no device synchronisation to find them.
    """

    pad_id: int
    packing: bool = True
    flatten: bool = False
    pad_to_multiple_of: int = 8
    width: int | None = None
    loss_index: bool = False

    def __call__(self, rows: Sequence[Sequence[Example]]) -> dict[str, torch.Tensor | int]:
        if self.flatten:
            rows = [[ex for row in rows for ex in row]]
        examples = [ex for row in rows for ex in row]
        lengths = np.fromiter((len(ex) for ex in examples), dtype=np.int64, count=len(examples))
        prompts = np.fromiter((ex.n_prompt for ex in examples), dtype=np.int64, count=len(examples))
        ids = np.concatenate([ex.array for ex in examples])
        pos = np.arange(ids.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        # prompt tokens carry no label, nor an example's first token (never predicted from the example before)
        labels = np.where(pos < np.repeat(np.maximum(prompts, 1), lengths), IGNORE, ids)
        row_lengths = [sum(len(ex) for ex in row) for row in rows]
        width = max(row_lengths)
        if self.width is not None and not self.flatten:
            width = max(width, self.width)
        elif self.pad_to_multiple_of > 1 and not self.flatten:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        n = len(rows)
        input_ids = np.full((n, width), self.pad_id, dtype=np.int64)
        label_t = np.full((n, width), IGNORE, dtype=np.int64)
        pos_t = np.empty((n, width), dtype=np.int64)
        start = 0
        for r, k in enumerate(row_lengths):
            input_ids[r, :k] = ids[start:start + k]
            label_t[r, :k] = labels[start:start + k]
            pos_t[r, :k] = pos[start:start + k]
            pos_t[r, k:] = np.arange(width - k)  # padding: its own segment (positions from 0), attends to itself
            start += k
        batch: dict[str, torch.Tensor | int] = {"input_ids": torch.from_numpy(input_ids),
                                                "labels": torch.from_numpy(label_t),
                                                "position_ids": torch.from_numpy(pos_t)}
        if not self.packing:
            batch["attention_mask"] = torch.from_numpy(
                (np.arange(width)[None, :] < np.array(row_lengths)[:, None]).astype(np.int64))
        if self.flatten:
            bounds = torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
            batch.update(cu_seq_lens_q=bounds, cu_seq_lens_k=bounds, max_length_q=int(lengths.max()),
                         max_length_k=int(lengths.max()))
        if self.loss_index:
            batch["loss_index"] = torch.from_numpy(np.flatnonzero(label_t[:, 1:] != IGNORE))
        return batch


def to_device(batch: dict, device, non_blocking: bool = True) -> dict:
    """Tensors to `device` (asynchronously from pinned memory); the Python numbers as they are."""
    return {k: v.to(device, non_blocking=non_blocking) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def pin(batch: dict) -> dict:
    """Page-locked copies of the tensors, so a non_blocking copy to the GPU does not wait for the host."""
    return {k: v.pin_memory() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
