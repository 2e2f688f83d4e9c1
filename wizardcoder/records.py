"""The records passed between stages, as plain dataclasses that round-trip through JSON lines.

`Seed` is one input task as loaded (any source, fields mapped). `TaskRecord` is one task version
with its lineage: a seed (round 0) or the outcome of one evolution attempt (round >= 1), kept or
dropped, with the reason (`wizardcoder.reasons`). The evolve stage writes `TaskRecord`s to
`records.jsonl`; the dataset builder reads the kept ones.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from wizardcoder.reasons import Reason, TaskVerdict


@dataclass(frozen=True)
class Seed:
    """One input task. `index` is its position in the seed source (the order the dataset keeps)."""

    id: str
    index: int
    instruction: str
    input: str = ""
    output: str = ""
    tests: str = ""
    entry_point: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # any other fields (topic, difficulty, ...)

    @property
    def full_instruction(self) -> str:
        """The instruction with its Code Alpaca style `input` appended, as the model should see it."""
        if self.input.strip():
            return f"{self.instruction.strip()}\n\nInput: {self.input.strip()}"
        return self.instruction.strip()

    def to_record(self, language: str) -> TaskRecord:
        return TaskRecord(
            id=self.id, seed_id=self.id, seed_index=self.index, round=0, method=None, parent_id=None,
            instruction=self.full_instruction, solution=self.output, tests=self.tests,
            entry_point=self.entry_point, language=language, verdict=TaskVerdict.SEED, reason=Reason.SEED,
            meta=dict(self.meta),
        )


@dataclass
class TaskRecord:
    """One version of a task, with its lineage back to the seed it came from."""

    id: str
    seed_id: str
    seed_index: int
    round: int
    method: str | None
    parent_id: str | None
    instruction: str
    solution: str = ""
    tests: str = ""
    entry_point: str | None = None
    language: str = "python"
    verdict: str = ""  # a TaskVerdict
    reason: str = ""  # a Reason
    meta: dict[str, Any] = field(default_factory=dict)
    pass_rate: float | None = None  # evolved tasks: share of the n sampled solutions passing the kept tests
    n_candidates: int | None = None  # evolved tasks: sampled answers that held a solution and tests
    # evolved tasks: whether the kept pair came from a repair turn, how many follow-ups were asked, and why the
    # task's own samples had failed when one was (evolve/repair.py)
    repaired: bool | None = None
    repair_turns: int | None = None
    reason_before_repair: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # as dataclasses.asdict (fields in order, meta a deep copy) without its per-field recursion
        row = {name: getattr(self, name) for name in _TASK_FIELDS}
        row["meta"] = copy.deepcopy(self.meta)
        return row

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskRecord:
        names = _TASK_FIELDS
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def sort_key(self) -> tuple[int, int, str]:
        """Dataset order: by seed position, then round: independent of completion order."""
        return (self.seed_index, self.round, self.id)


_TASK_FIELDS = tuple(f.name for f in dataclasses.fields(TaskRecord))

