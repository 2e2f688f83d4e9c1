"""The batch plan: which rows each optimizer step trains on, per process, and how many label tokens it has.

A step's rows depend only on the global batch (batch_size x grad_accum x processes), the seed and the epoch;
the micro-batches are formed within the step. So shrinking the micro-batch to fit memory (and raising
grad_accum to match) trains on the same data in the same order: the same run, up to float rounding.
Computed up front, so the position in the data is just the step number (exact resume) and the loss is
normalised over the whole optimizer step without a synchronisation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from wizardcoder.errors import UserError
from wizardcoder.train import data as D


@dataclasses.dataclass(frozen=True)
class BatchShape:
    """Processes x micro-batch rows x accumulation: the global batch decides which rows each step holds."""

    world: int
    batch_size: int
    grad_accum: int

    @property
    def global_batch(self) -> int:
        return self.world * self.batch_size * self.grad_accum

    def describe(self) -> str:
        return (f"{self.global_batch} rows per step ({_processes(self.world)} x train.batch_size {self.batch_size} x "
                f"train.grad_accum {self.grad_accum})")

    def check_same_global_batch(self, recorded: dict | None, where: str) -> None:
        """Refuse to go on from `where` (a checkpoint, a finished run) trained at another global batch: its
        step numbers would point at other rows, and what was planned would not be what ran."""
        if not recorded:  # written before the batch shape was recorded
            return
        was = BatchShape(recorded["world"], recorded["batch_size"], recorded["grad_accum"])
        if was.global_batch == self.global_batch:
            return
        raise UserError(f"{where} was trained with {was.describe()}; this launch makes {self.describe()}, so its "
                        f"steps would hold other rows. To go on with it, keep {was.global_batch} rows per step: "
                        f"{self._how_to_reach(was.global_batch)}. To start over instead, use another --output or "
                        "run.resume=false")

    def _how_to_reach(self, rows: int) -> str:
        if rows % self.world:
            divisors = ", ".join(str(d) for d in range(1, min(rows, 64) + 1) if rows % d == 0)
            return (f"launch a number of processes that divides {rows} ({divisors}) with train.batch_size x "
                    f"train.grad_accum = {rows} / processes")
        per_process = rows // self.world
        if per_process % self.grad_accum == 0:
            return f"set train.batch_size={per_process // self.grad_accum} with {_processes(self.world)}"
        return f"set train.batch_size=1 train.grad_accum={per_process} with {_processes(self.world)}"


def _processes(n: int) -> str:
    return f"{n} process" if n == 1 else f"{n} processes"


class BatchPlan:
    def __init__(self, rows: Sequence[Sequence[int]], examples: Sequence[D.Example], batch_size: int,
                 grad_accum: int, world: int, rank: int, seed: int, pack_len: int | None = None):
        self.rows, self.examples = rows, examples
        self.batch_size, self.grad_accum, self.world, self.rank, self.seed = batch_size, grad_accum, world, rank, seed
        self.global_batch = batch_size * grad_accum * world
        # a last, partial global batch is left out of the epoch (which rows it holds changes every epoch)
        self.steps_per_epoch = len(rows) // self.global_batch
        if self.steps_per_epoch == 0:
            raise UserError(_too_little_data(len(examples), len(rows), pack_len, batch_size, grad_accum, world))
        self._epoch: int | None = None
        self._steps: list[list[list[int]]] = []  # per optimizer step -> micro-batches (row ids) of this rank
        self._tokens: list[int] = []  # label tokens per optimizer step, all ranks

    def step(self, step: int) -> tuple[list[list[int]], int]:
        """(this rank's micro-batches of row ids, label tokens of the whole optimizer step on all ranks)."""
        epoch, k = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._plan(epoch)
        return self._steps[k], self._tokens[k]

    def _plan(self, epoch: int) -> None:
        batches = D.epoch_batches(len(self.rows), self.global_batch, self.seed, epoch)
        self._steps, self._tokens = [], []
        for rows in batches[: self.steps_per_epoch]:
            self._steps.append(self.micro_batches(rows))
            self._tokens.append(sum(label_tokens(self.rows[r], self.examples) for r in rows))
        self._epoch = epoch

    def micro_batches(self, step_rows: Sequence[int]) -> list[list[int]]:
        """This rank's grad_accum micro-batches of one step: longest rows first, dealt out in turn, so each
        micro-batch holds rows of similar length and every process gets a similar share of tokens."""
        ordered = sorted(step_rows, key=lambda r: (-row_tokens(self.rows[r], self.examples), r))
        chunks = [ordered[s:s + self.batch_size] for s in range(0, len(ordered), self.batch_size)]
        return chunks[self.rank::self.world]


def label_tokens(row: Sequence[int], examples: Sequence[D.Example]) -> int:
    return sum(len(examples[i]) - examples[i].n_prompt for i in row)


def row_tokens(row: Sequence[int], examples: Sequence[D.Example]) -> int:
    return sum(len(examples[i]) for i in row)


def _too_little_data(examples: int, rows: int, pack_len: int | None, batch_size: int, grad_accum: int,
                     world: int) -> str:
    """Packing puts several examples in one row: the count that falls short is of rows, so say so."""
    step = (f"a step takes {batch_size * grad_accum * world} (train.batch_size {batch_size} x train.grad_accum "
            f"{grad_accum} x {world} processes)")
    if pack_len and rows < examples:
        return (f"too little data for one optimizer step: {examples} examples packed into {rows} sequence"
                f"{'s' if rows != 1 else ''} of {pack_len} tokens, but {step}; lower train.batch_size (or "
                "train.grad_accum) or data.pack_len / data.max_seq_len (shorter sequences, more of them), or add data")
    return (f"too little data for one optimizer step: {examples} examples, {rows} rows, but {step}; lower "
            "train.batch_size or train.grad_accum, or add data")
