"""`EliminateConfig`: the `eliminate:` section of an evolve run: the heuristic rules on evolved instructions
(`rules.py`) and how their code is checked in the sandbox (`verify.py`). Each program's time and memory: the
`sandbox:` section; what may end up in the dataset: the `dataset:` section."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wizardcoder.config import SettingError, Settings, setting
from wizardcoder.languages import LANGUAGES


@dataclass
class EliminateConfig(Settings):
    SECTION = "eliminate"

    # --- heuristic rules (rules.py) ---
    min_words: int = setting(5, ge=0, help='an instruction with fewer words is "too_short"')
    min_chars: int = setting(20, ge=0, help='an instruction with fewer non-space characters is "too_short"')
    refusal_max_words: int = setting(
        80, ge=1, help='an apology ("sorry", "as an AI") in a text shorter than this is a "refusal"')
    copy_similarity: float = setting(
        0.9, gt=0, le=1,
        help="word-sequence similarity to the parent at or above which fewer than min_new_words new content "
             'words make a "copied_parent"')
    min_new_words: int = setting(4, ge=0, help="see copy_similarity")
    leak_patterns: list[str] = setting(
        default_factory=list, help='more regexes (case-insensitive) that make an instruction a "leaked_template"')
    # --- execution (verify.py) ---
    chunk_size: int = setting(
        256, ge=1, fingerprinted=False,
        help="checks per sandbox.run_many call: memory stays flat however many checks there are")
    mutation_check: list[str] = setting(
        default_factory=lambda: list(LANGUAGES), choices=LANGUAGES,
        help='languages whose tests must also fail on a broken solution ("tests_cannot_fail" otherwise): the '
             "entry point's body becomes `return None` (python) or returns a default value (cpp, java; costs a "
             "second compile)")
    tail_chars: int = setting(2000, ge=0, fingerprinted=False, help="stdout/stderr characters a verdict keeps")

    def __post_init__(self) -> None:
        super().__post_init__()
        for pattern in self.leak_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise SettingError(f"eliminate.leak_patterns: {pattern!r} is not a valid regex: {exc}") from exc
