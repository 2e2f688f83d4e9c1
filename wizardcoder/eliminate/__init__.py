"""Eliminate: drop evolved tasks that fail cheap rules, add no information, or whose code does not pass.

Three layers, cheapest first:

- `rules.heuristic_reason`: text rules on the evolved instruction (WizardLM's elimination rules:
  refusals, leaked prompt templates, near-copies of the parent, empty or tiny texts);
- `judge`: an LLM asked whether parent and child are equal (no information gain);
- `execution.verify`: the solution and its tests run in the sandbox; only "passed" is kept, and an
  infrastructure error is never counted as a bad sample.

`EliminateConfig` is the `eliminate:` config section; it also holds the dataset-building knobs
(dedupe, decontamination) so that one section controls what ends up in the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LANGUAGES = ("python", "cpp", "java")


@dataclass
class EliminateConfig:
    # --- heuristic rules (rules.py) ---
    min_words: int = 5  # fewer words than this: "too_short"
    min_chars: int = 20  # fewer non-space characters than this: "too_short"
    refusal_max_words: int = 80  # an apology ("sorry", "as an AI") in a text shorter than this is a refusal
    copy_similarity: float = 0.9  # word-sequence similarity to the parent at or above which...
    min_new_words: int = 4  # ...fewer new content words than this means "copied_parent"
    # extra regexes (case-insensitive) for "leaked_template"
    leak_patterns: list[str] = field(default_factory=list)
    # --- execution (execution.py); each program's time and memory: the `sandbox:` section ---
    chunk_size: int = 256  # checks per sandbox.run_many call; memory stays flat however many checks
    # languages whose tests must also fail on a broken solution ("tests_cannot_fail" otherwise): the entry
    # point's body becomes `return None` (python) or returns a default value (cpp, java; costs a 2nd compile)
    mutation_check: list[str] = field(default_factory=lambda: list(LANGUAGES))
    tail_chars: int = 2000  # how much stdout/stderr a verdict keeps
    # --- dedupe (data/dedupe.py) ---
    # Jaccard similarity of word shingle sets at or above which a record is a "near_duplicate"
    near_duplicate_threshold: float = 0.8
    shingle_size: int = 5  # words per shingle
    minhash_permutations: int = 64  # MinHash length; LSH bands follow (candidates are confirmed exactly)
    # --- decontamination (data/decontaminate.py) ---
    decontaminate: bool = True  # drop records that overlap an eval suite
    decontaminate_ngram: int = 13  # word n-gram length; one shared n-gram with an eval text = contaminated
    decontaminate_min_words: int = 8  # eval prose shorter than n words, but this long, is matched whole
    decontaminate_suites: list[str] = field(default_factory=lambda: ["humaneval", "mbpp"])  # built-in suites
    # extra eval files (JSON list, JSONL, JSONL.gz or text); the suite is named after the file
    decontaminate_paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.min_words < 0 or self.min_chars < 0:
            raise ValueError("eliminate.min_words and eliminate.min_chars must be >= 0")
        if self.refusal_max_words < 1:
            raise ValueError("eliminate.refusal_max_words must be >= 1")
        if not 0.0 < self.copy_similarity <= 1.0:
            raise ValueError(f"eliminate.copy_similarity must be in (0, 1], got {self.copy_similarity}")
        if self.min_new_words < 0:
            raise ValueError(f"eliminate.min_new_words must be >= 0, got {self.min_new_words}")
        if self.chunk_size < 1:
            raise ValueError(f"eliminate.chunk_size must be >= 1, got {self.chunk_size}")
        if self.tail_chars < 0:
            raise ValueError("eliminate.tail_chars must be >= 0")
        bad = [lang for lang in self.mutation_check if lang not in LANGUAGES]
        if bad:
            raise ValueError(
                f"eliminate.mutation_check: unknown language(s) {bad}; use some of {list(LANGUAGES)}")
        if not 0.0 < self.near_duplicate_threshold <= 1.0:
            raise ValueError(
                f"eliminate.near_duplicate_threshold must be in (0, 1], got {self.near_duplicate_threshold}")
        if self.shingle_size < 1:
            raise ValueError("eliminate.shingle_size must be >= 1")
        if self.minhash_permutations < 8:
            raise ValueError("eliminate.minhash_permutations must be >= 8")
        if self.decontaminate_ngram < 1:
            raise ValueError("eliminate.decontaminate_ngram must be >= 1")
        if self.decontaminate_min_words < 1:
            raise ValueError("eliminate.decontaminate_min_words must be >= 1")
        import re

        for pattern in self.leak_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"eliminate.leak_patterns: {pattern!r} is not a valid regex: {exc}") from exc


__all__ = ["LANGUAGES", "EliminateConfig"]
