"""What the steps of an evolve round share: their names, the key of each call or program, the task
being streamed through them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

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
