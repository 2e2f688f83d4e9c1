"""What the steps of an evolve round share: their names, the key of each call or program, the task streamed
through them, the typed calls the LLM stream tracks, what a pass resumes from (`ResumeState`), and what a
pass is handed (`RoundContext`).

A task's candidates are its parsed solve samples (indices 0..n-1) and its repaired answers: turn t of the
repair conversation is candidate n + t (`Task.repair_index`), so its programs have keys and exec rows like
any other pair's."""

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

EVOLVE, JUDGE, SOLVE, REPAIR, EXECUTE, SELECT = "evolve", "judge", "solve", "repair", "exec", "select"


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


class RepairDue(NamedTuple):
    """The next follow-up a task needs (decided by the sandbox stage): its turn, the sample whose conversation it
    continues, and the exec row whose evidence it shows."""

    turn: int
    candidate: int
    verdict: dict[str, Any]


@dataclass
class Task:
    """A task in flight through the round's steps."""

    id: str
    method: str
    parent_instruction: str
    instruction: str = ""
    solves: dict[int, dict[str, Any]] = field(default_factory=dict)  # sample -> parsed fields or {"drop"}
    failed_calls: int = 0  # samples that hit an infrastructure error this pass
    repairs: dict[int, dict[str, Any]] = field(default_factory=dict)  # turn -> the repaired answer's fields
    repair_due: RepairDue | None = None  # set while the task waits for its next follow-up

    def solutions(self, n: int) -> dict[int, str]:
        """Candidate index -> its solution: the parsed samples, then the parsed repairs (index n + turn)."""
        out = {i: s["solution"] for i, s in self.solves.items() if not s.get("drop")}
        out.update((n + t, fix["solution"]) for t, fix in self.repairs.items() if not fix.get("drop"))
        return out

    def test_sets(self, n: int) -> dict[int, str]:
        """Candidate index -> its tests: the parsed samples', and a repair's where it may change them."""
        out = {i: s["tests"] for i, s in self.solves.items() if not s.get("drop")}
        out.update((n + t, fix["tests"]) for t, fix in self.repairs.items()
                   if not fix.get("drop") and fix.get("tests") is not None)
        return out


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


class RepairCall(NamedTuple):
    """A follow-up in the conversation of a task's sample: the solve request, its answer, the sandbox's evidence."""

    task: Task
    turn: int
    key: str
    candidate: int  # the sample whose conversation it continues
    asked: str  # the follow-up sent (the evidence it shows)
    step = REPAIR


class SolveBatch(NamedTuple):
    """All of a task's missing samples in one request (a local model: the rows of one batch)."""

    task: Task
    samples: tuple[int, ...]
    step = SOLVE


Call = EvolveCall | JudgeCall | SolveCall | SolveBatch | RepairCall


class ResumeState:
    """What a round's step files already hold, read once at the start of a pass: byte offsets of the
    answers a pass reads back instead of asking again, and the tasks that already have their decision."""

    def __init__(self) -> None:
        self.evolved: dict[str, int] = {}  # task id -> offset of its evolve row
        self.judged: dict[str, int] = {}  # task id -> offset of its judge row
        self.solved: dict[str, dict[int, int]] = {}  # task id -> sample -> offset of its solve row
        self.repaired: dict[str, dict[int, int]] = {}  # task id -> turn -> offset of its repair row
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
        for step, done, part in ((SOLVE, state.solved, "sample"), (REPAIR, state.repaired, "turn")):
            for offset, row in iter_jsonl_offsets(run_dir.raw_path(r, step)):
                if not row.get("error"):
                    done.setdefault(row["task_id"], {})[row[part]] = offset
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
