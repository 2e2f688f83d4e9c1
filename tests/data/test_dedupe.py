"""Dedupe: exact (normalised) and near (MinHash + LSH, confirmed by exact Jaccard), first occurrence kept."""

from __future__ import annotations

import random

import pytest

from wizardcoder.data.config import DatasetConfig
from wizardcoder.data.dedupe import choose_bands, dedupe, normalise

BASE = ("Write a Python function that takes a list of integers and returns a new list containing only the "
        "prime numbers from the original list, preserving their order. The function should raise a ValueError "
        "if any element is not an integer, treat negative numbers and zero as non-prime, and run efficiently "
        "for lists with up to one hundred thousand elements by caching primality checks.")
# one word changed near the end: Jaccard of word 5-gram shingles ~0.85
NEAR = BASE.replace("caching primality checks", "memoising primality checks")
# a different task sharing some vocabulary
OTHER = ("Write a Python function that takes a list of strings and returns the longest common prefix shared by "
         "all of them. Return an empty string for an empty list, compare case-sensitively, and do not use "
         "os.path.commonprefix or any third-party library in the implementation.")


def rec(i, text):
    return {"id": f"r{i}", "instruction": text}


def ids(records):
    return [r["id"] for r in records]


def test_exact_duplicates_after_normalisation():
    records = [rec(0, BASE), rec(1, OTHER), rec(2, "  " + BASE.upper().replace(" ", "   ") + "!!"), rec(3, BASE)]
    kept, dropped = dedupe(records, DatasetConfig())
    assert ids(kept) == ["r0", "r1"]
    assert [(r["id"], why) for r, why in dropped] == [("r2", "exact_duplicate"), ("r3", "exact_duplicate")]


def test_near_duplicates_keep_the_first_occurrence():
    kept, dropped = dedupe([rec(0, OTHER), rec(1, NEAR), rec(2, BASE)], DatasetConfig())
    assert ids(kept) == ["r0", "r1"]
    assert [(r["id"], why) for r, why in dropped] == [("r2", "near_duplicate")]


def test_the_threshold_decides():
    strict = DatasetConfig(near_duplicate_threshold=0.95)
    kept, dropped = dedupe([rec(0, BASE), rec(1, NEAR)], strict)
    assert ids(kept) == ["r0", "r1"] and not dropped


def test_distinct_tasks_on_the_same_topic_are_kept():
    variants = [
        BASE,
        OTHER,
        "Write a C++ function that returns all prime numbers below n using the sieve of Eratosthenes.",
        "Write a Python generator that yields prime numbers forever, using trial division by known primes.",
        "Write a Java method that checks whether a number is prime in O(sqrt n) time and handles negatives.",
        "Given a list of integers, return the count of prime numbers in it; raise ValueError on non-integers.",
    ]
    kept, dropped = dedupe([rec(i, t) for i, t in enumerate(variants)], DatasetConfig())
    assert len(kept) == len(variants) and not dropped


def test_a_chain_of_edits_is_judged_against_kept_records_only():
    # b is near a, c is near b but not near a: b is dropped (near a), so c is compared with a only and kept
    words = [f"w{i}" for i in range(60)]
    a = " ".join(words)
    b = " ".join(words[:54] + ["x1"] + words[55:])
    c = " ".join(words[:30] + ["y2"] + words[31:54] + ["x1"] + words[55:])
    kept, dropped = dedupe([rec(0, a), rec(1, b), rec(2, c)], DatasetConfig())
    assert [(r["id"], why) for r, why in dropped] == [("r1", "near_duplicate")]
    assert ids(kept) == ["r0", "r2"]


def test_deterministic_and_order_preserving():
    rng = random.Random(1)
    vocab = [f"tok{i}" for i in range(300)]
    records = [rec(i, " ".join(rng.choices(vocab, k=30))) for i in range(200)]
    records += [rec(1000 + i, records[i]["instruction"] + " please") for i in range(0, 200, 10)]
    first = dedupe(records, DatasetConfig())
    second = dedupe(list(records), DatasetConfig())
    assert ids(first[0]) == ids(second[0])
    assert ids(first[0]) == [r["id"] for r in records if r["id"] in set(ids(first[0]))]
    assert {r["id"] for r, _ in first[1]} == {f"r{1000 + i}" for i in range(0, 200, 10)}


def test_short_and_empty_texts():
    kept, dropped = dedupe([rec(0, "Sort."), rec(1, ""), rec(2, "sort"), rec(3, None), rec(4, "Reverse a list.")])
    assert ids(kept) == ["r0", "r1", "r4"]
    assert [why for _, why in dropped] == ["exact_duplicate", "exact_duplicate"]


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
def test_band_choice_gives_high_recall_at_the_threshold(threshold):
    bands, rows = choose_bands(128, threshold)
    assert bands * rows <= 128
    assert 1 - (1 - threshold ** rows) ** bands >= 0.99


def test_normalise():
    assert normalise("  Hello,\n\tWORLD!! ") == "hello world"


def test_scale_smoke_20k_records():
    """20k synthetic records with planted exact and near duplicates (LSH, not pairwise: runs in seconds)."""
    rng = random.Random(0)
    vocab = [f"word{i}" for i in range(5000)]
    base = [" ".join(rng.choices(vocab, k=40)) for _ in range(19_000)]
    records = [rec(i, t) for i, t in enumerate(base)]
    for j in range(500):  # exact duplicates
        records.append(rec(20_000 + j, base[j].upper()))
    for j in range(500):  # near duplicates: the last word changed
        words = base[1000 + j].split()
        records.append(rec(30_000 + j, " ".join(words[:-1] + ["changed"])))
    kept, dropped = dedupe(records, DatasetConfig())
    reasons = {}
    for r, why in dropped:
        reasons[why] = reasons.get(why, 0) + 1
    assert reasons == {"exact_duplicate": 500, "near_duplicate": 500}
    assert len(kept) == 19_000
