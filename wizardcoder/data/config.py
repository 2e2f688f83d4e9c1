"""`DatasetConfig`: the `dataset:` section of an evolve run: what may end up in the dataset it builds
(near-duplicates dropped by `data/dedupe.py`, overlap with eval suites by `data/decontaminate.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from wizardcoder.config import Settings, setting

# the eval suites whose texts ship in the package (data/eval_texts/, see data/decontaminate.py)
DECONTAMINATION_SUITES = ("humaneval", "mbpp")


@dataclass
class DatasetConfig(Settings):
    SECTION = "dataset"

    near_duplicate_threshold: float = setting(
        0.8, gt=0, le=1,
        help="Jaccard similarity of word shingle sets at or above which a record is a near_duplicate (1: only "
             "exact duplicates are dropped)")
    shingle_size: int = setting(5, ge=1, help="words per shingle")
    minhash_permutations: int = setting(
        64, ge=8, help="MinHash length; LSH bands follow from it (candidates are confirmed exactly)")
    decontaminate: bool = setting(True, help="drop records that overlap an eval suite")
    decontaminate_ngram: int = setting(
        13, ge=1, help="word n-gram length: one n-gram shared with an eval text makes a record contaminated")
    decontaminate_min_words: int = setting(
        8, ge=1, help="an eval text shorter than n words (prose only) but at least this long is matched whole")
    decontaminate_suites: list[str] = setting(
        default_factory=lambda: list(DECONTAMINATION_SUITES), choices=DECONTAMINATION_SUITES,
        help="built-in eval suites to check against (HumanEval with its C++ and Java translations, MBPP); "
             "add others with decontaminate_paths")
    decontaminate_paths: list[str] = setting(
        default_factory=list,
        help="more eval files (JSON list, JSONL, JSONL.gz or text); each is a suite named after its file")
