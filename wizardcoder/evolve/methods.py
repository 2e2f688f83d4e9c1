"""The evolution methods of Code Evol-Instruct, as data, and the seeded choice between them.

Five in-depth methods make a task harder (WizardCoder, Luo et al. 2023, section 3.1) and one
in-breadth method writes a new, rarer task in the same domain (Evol-Instruct). Each round picks
ONE method per task with probability proportional to its weight. The choice is drawn from an RNG
derived from (run seed, round, task id) alone, so a resumed run, or a run that streams tasks in a
different order, makes exactly the same choices.

The words sent to the model live in the prompt files (`prompts/<lang>.yaml`), keyed by these names.
"""

from __future__ import annotations

import difflib
import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    name: str
    kind: str  # "depth" (make this task harder) or "breadth" (a new task in the same domain)
    weight: float  # default relative weight
    summary: str


METHODS: tuple[Method, ...] = (
    Method("add_constraints", "depth", 1.0, "add new constraints and requirements (about ten more words)"),
    Method("specific_requirement", "depth", 1.0, "replace a common requirement with a less common, more specific one"),
    Method("more_reasoning", "depth", 1.0, "if a few logical steps solve it, require more reasoning steps"),
    Method("erroneous_code", "depth", 1.0, "give a piece of erroneous code as a reference, as misdirection"),
    Method("higher_complexity", "depth", 0.25, "propose higher time or space complexity requirements (rarely)"),
    Method("in_breadth", "breadth", 1.0, "create a new, rarer task in the same domain"),
)

BY_NAME = {m.name: m for m in METHODS}


def default_weights() -> dict[str, float]:
    return {m.name: m.weight for m in METHODS}


def validate_weights(weights: Mapping[str, float]) -> None:
    """Raise ValueError naming the bad key (unknown method, negative weight, all zero)."""
    for name, weight in weights.items():
        if name not in BY_NAME:
            close = difflib.get_close_matches(name, BY_NAME, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f" (methods: {', '.join(BY_NAME)})"
            raise ValueError(f"evolve.methods: unknown method {name!r}{hint}")
        if not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError(f"evolve.methods.{name}: weight must be a number >= 0, got {weight!r}")
    if not any(w > 0 for w in weights.values()):
        raise ValueError("evolve.methods: at least one method needs a weight > 0")


def task_rng(seed: int, round_: int, task_id: str) -> random.Random:
    """An RNG that depends only on (seed, round, task id): resumable and order-independent."""
    digest = hashlib.sha256(f"{seed}\x1f{round_}\x1f{task_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def request_seed(seed: int, key: str) -> int:
    """A sampling seed for one LLM request (endpoints that honour `seed` then reproduce it)."""
    digest = hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def choose_method(weights: Mapping[str, float], seed: int, round_: int, task_id: str) -> str:
    """One method name for this task in this round, drawn by weight (names sorted, so the YAML key
    order does not matter)."""
    names = sorted(n for n, w in weights.items() if w > 0)
    rng = task_rng(seed, round_, task_id)
    return rng.choices(names, weights=[weights[n] for n in names], k=1)[0]
