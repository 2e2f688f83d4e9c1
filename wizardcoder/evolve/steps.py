"""What the steps of an evolve round share: their names, the key of each call or program, the task streamed
through them, the typed calls the LLM stream tracks, what a pass resumes from (`ResumeState`), and what a
pass is handed (`RoundContext`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from wizardcoder.data.store import iter_jsonl_offsets
from wizardcoder.reasons import Reason

if TYPE_CHECKING:  # annotations only
    from wizardcoder.evolve.config import EvolveConfig
    from wizardcoder.evolve.prompts import PromptSet
    from wizardcoder.evolve.rundir import RunDir
    from wizardcoder.progress import Bar

EVOLVE, JUDGE, SOLVE, EXECUTE, SELECT = "evolve", "judge", "solve", "exec", "select"


def iter_lines(path) -> Iterator[bytes]:
    """The complete lines of a file (a missing file has none), without parsing them."""
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if line.endswith(b"\n") and line.strip():
                    yield line
    except FileNotFoundError:
        return


def task_key(r: int, task_id: str, step: str, *parts: int) -> str:
    return "/".join([f"r{r:03d}", task_id, step, *map(str, parts)])


@dataclass
class Task:
    """A task in flight through the round's steps."""

    id: str
    method: str
    parent_instruction: str
    instruction: str = ""
    solves: dict[int, dict[str, Any]] = field(default_factory=dict)  # sample -> parsed fields or {"drop"}
    failed_calls: int = 0  # samples that hit an infrastructure error this pass


# The calls of a round's LLM stream, one type per kind of request: what each answer belongs to.
class EvolveCall(NamedTuple):
    task: Task
    key: str
    step = EVOLVE


class JudgeCall(NamedTuple):
    task: Task
    key: str
    step = JUDGE


class SolveCall(NamedTuple):
    task: Task
    sample: int
    key: str
    step = SOLVE


class SolveBatch(NamedTuple):
    """All of a task's missing samples in one request (a local model: the rows of one batch)."""

    task: Task
    samples: tuple[int, ...]
    step = SOLVE


Call = EvolveCall | JudgeCall | SolveCall | SolveBatch


class ResumeState:
    """What a round's step files already hold, read once at the start of a pass: byte offsets of the
    answers a pass reads back instead of asking again, and the tasks that already have their decision."""

    def __init__(self) -> None:
        self.evolved: dict[str, int] = {}  # task id -> offset of its evolve row
        self.judged: dict[str, int] = {}  # task id -> offset of its judge row
        self.solved: dict[str, dict[int, int]] = {}  # task id -> sample -> offset of its solve row
        self.executed: dict[str, dict[tuple[int, int], int]] = {}  # task id -> (solution, tests) -> offset
        self.decided: set[str] = set()  # a drop on its evolve or judge row, or a select row

    @classmethod
    def read(cls, run_dir: RunDir, r: int) -> ResumeState:
        state = cls()
        for step, done in ((EVOLVE, state.evolved), (JUDGE, state.judged)):
            for offset, row in iter_jsonl_offsets(run_dir.raw_path(r, step)):
                if not row.get("error"):  # an infrastructure error is asked again
                    done[row["task_id"]] = offset
                    if row.get("drop"):
                        state.decided.add(row["task_id"])
        for offset, row in iter_jsonl_offsets(run_dir.raw_path(r, SOLVE)):
            if not row.get("error"):
                state.solved.setdefault(row["task_id"], {})[row["sample"]] = offset
        for offset, row in iter_jsonl_offsets(run_dir.raw_path(r, EXECUTE)):
            if row.get("reason") != Reason.INFRA_ERROR:  # a sandbox error is run again
                state.executed.setdefault(row["task_id"], {})[tuple(row["pair"])] = offset
        for _, row in iter_jsonl_offsets(run_dir.raw_path(r, SELECT)):
            state.decided.add(row["task_id"])
        return state


@dataclass(frozen=True)
class RoundContext:
    """What one pass over round `r` works with, handed in by the run (evolve/rounds.py)."""

    r: int
    cfg: EvolveConfig
    run_dir: RunDir
    prompts: PromptSet
    resume: ResumeState
    bars: Mapping[str, Bar]  # step -> its progress bar (SELECT: "execute")
