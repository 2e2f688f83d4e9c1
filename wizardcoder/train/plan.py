"""The batch plan: which rows each optimizer step trains on, per process, and how many label tokens it has.

Computed up front and deterministic in (seed, epoch), so the position in the data is just the step number
(exact resume) and the loss can be normalised over the whole optimizer step without a synchronisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from wizardcoder.errors import UserError
from wizardcoder.train import data as D


class BatchPlan:
    def __init__(self, rows: Sequence[Sequence[int]], examples: Sequence[D.Example], batch_size: int,
                 grad_accum: int, world: int, rank: int, seed: int):
        self.rows, self.examples = rows, examples
        self.batch_size, self.grad_accum, self.world, self.rank, self.seed = batch_size, grad_accum, world, rank, seed
        n_micro_global = math.ceil(len(rows) / batch_size)
        self.micro_per_rank = n_micro_global // world
        if self.micro_per_rank == 0:
            raise UserError(f"too little data for {world} processes x batch_size {batch_size}: {len(rows)} rows; "
                            "lower train.batch_size or add data")
        self.steps_per_epoch = math.ceil(self.micro_per_rank / grad_accum)
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
        ga, world = self.grad_accum, self.world
        batches = D.epoch_batches(self.rows, self.examples, self.batch_size, self.seed, epoch)
        batches = batches[: self.micro_per_rank * world]
        self._steps, self._tokens = [], []
        for s in range(self.steps_per_epoch):
            chunk = batches[s * ga * world:(s + 1) * ga * world]
            self._steps.append(chunk[self.rank::world])
            self._tokens.append(sum(label_tokens(self.rows[r], self.examples) for b in chunk for r in b))
        self._epoch = epoch


def label_tokens(row: Sequence[int], examples: Sequence[D.Example]) -> int:
    return sum(len(examples[i]) - examples[i].n_prompt for i in row)


def row_tokens(row: Sequence[int], examples: Sequence[D.Example]) -> int:
    return sum(len(examples[i]) for i in row)
