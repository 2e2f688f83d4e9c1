"""The built-in seed sets, shipped as package data beside this file (loaded by `evolve/seed_loader.py`).

`python.jsonl`: verified tasks with tests; it serves every language (the tasks are portable).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from wizardcoder.errors import UserError


def builtin_seed_file(lang: str = "python") -> Path:
    """The shipped seed set for `lang` (the Python set serves every language: the tasks are portable)."""
    root = importlib.resources.files(__name__)
    for name in (f"{lang}.jsonl", "python.jsonl"):
        candidate = root / name
        if candidate.is_file():
            return Path(str(candidate))
    raise UserError("the built-in seed set is missing from this installation (wizardcoder/evolve/seeds/)")


def has_builtin_seeds(lang: str) -> bool:
    """Whether the shipped seed set is written in `lang` (else another language's set serves it)."""
    return importlib.resources.files(__name__).joinpath(f"{lang}.jsonl").is_file()
