"""The batch plan: which rows each optimizer step trains on, per process, and how many label tokens it has.

A step's rows depend only on the global batch (batch_size x grad_accum x processes), the seed and the epoch;
the micro-batches are formed within the step. So shrinking the micro-batch to fit memory (and raising
grad_accum to match) trains on the same data in the same order: the same run, up to float rounding.
Computed up front, so the position in the data is just the step number (exact resume) and the loss is
normalised over the whole optimizer step without a synchronisation.
"""

from __future__ import annotations

from collections.abc import Sequence

from wizardcoder.errors import UserError
from wizardcoder.train import data as D


class BatchPlan:
    def __init__(self, rows: Sequence[Sequence[int]], examples: Sequence[D.Example], batch_size: int,
                 grad_accum: int, world: int, rank: int, seed: int):
        self.rows, self.examples = rows, examples
        self.batch_size, self.grad_accum, self.world, self.rank, self.seed = batch_size, grad_accum, world, rank, seed
        self.global_batch = batch_size * grad_accum * world
        # a last, partial global batch is left out of the epoch (which rows it holds changes every epoch)
        self.steps_per_epoch = len(rows) // self.global_batch
        if self.steps_per_epoch == 0:
            raise UserError(f"too little data for one optimizer step: {len(rows)} rows, but a step takes "
                            f"{self.global_batch} (train.batch_size {batch_size} x train.grad_accum {grad_accum} "
                            f"x {world} processes); lower train.batch_size or train.grad_accum, or add data")
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
