"""Drop duplicate instructions: exact (normalised text hash) and near (MinHash + LSH over word shingles).

Deterministic, first occurrence wins. A record is a near duplicate when the Jaccard similarity of its
word `shingle_size`-gram set with an earlier *kept* record's is at least `near_duplicate_threshold`.
Candidates come from LSH banding of MinHash signatures (so the work grows with n, not n^2) and each
candidate pair is then confirmed with the exact Jaccard similarity of the two shingle sets, so the
signatures only decide who is compared, never who is dropped.

Memory: one (n, bands) array of 64-bit band hashes plus small dictionaries; signatures are computed
in chunks and thrown away.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable

import numpy as np

from wizardcoder.data.config import DatasetConfig
from wizardcoder.reasons import Reason

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")
_MASK64 = (1 << 64) - 1
_CHUNK = 256  # records per signature batch (its (shingles x permutations) hash matrix is the peak: ~5 MB)


def normalise(text: str) -> str:
    """Lowercase words joined by single spaces: punctuation, case and whitespace do not count."""
    return " ".join(_WORD.findall(text.lower()))


def choose_bands(num_perm: int, threshold: float, recall: float = 0.99) -> tuple[int, int]:
    """(bands, rows): the most rows per band whose chance of making a pair at `threshold` a candidate
    is still >= `recall` (more rows = fewer dissimilar candidates to confirm)."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if bands < 1:
            break
        p_candidate = 1.0 - (1.0 - threshold**rows) ** bands
        if p_candidate >= recall:
            best = (bands, rows)
    return best


class _Shingler:
    """Word shingles of a text as 64-bit hashes (words hashed once with blake2b, then combined in numpy)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._word_hash: dict[str, int] = {}

    def _new_word(self, tok: str) -> int:
        h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
        if len(self._word_hash) < 2_000_000:
            self._word_hash[tok] = h
        return h

    def _hash_words(self, tokens: list[str]) -> np.ndarray:
        get, new = self._word_hash.get, self._new_word
        return np.fromiter((get(t) or new(t) for t in tokens), dtype=np.uint64, count=len(tokens))

    def shingles(self, text: str) -> np.ndarray:
        """Sorted unique shingle hashes (uint64); a text shorter than one shingle is one shingle."""
        tokens = _WORD.findall(text.lower())
        if not tokens:
            tokens = [""]
        hashes = self._hash_words(tokens)
        k = min(self.size, len(hashes))
        n = len(hashes) - k + 1
        combined = np.zeros(n, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(k):  # polynomial combination mod 2^64, order-sensitive
                combined = combined * np.uint64(0x100000001B3) + hashes[j:j + n]
            combined ^= combined >> np.uint64(29)
        return np.unique(combined)


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - inter
    return inter / union if union else 1.0


def dedupe(records: list[dict], cfg: DatasetConfig | None = None, field: str = "instruction",
           progress: Callable[[int], None] | None = None) -> tuple[list[dict], list[tuple[dict, str]]]:
    """(kept, dropped), dropped as (record, `Reason.EXACT_DUPLICATE` or `NEAR_DUPLICATE`), in input order.

    `cfg`: the `dataset:` settings (None: the defaults). `progress(n_done)` is called per chunk.
    """
    cfg = cfg or DatasetConfig()
    threshold = float(cfg.near_duplicate_threshold)
    num_perm = int(cfg.minhash_permutations)
    reasons: list[str | None] = [None] * len(records)

    # 1. exact duplicates of the normalised text
    seen: dict[bytes, int] = {}
    unique: list[int] = []
    for i, rec in enumerate(records):
        digest = hashlib.blake2b(normalise(str(rec.get(field) or "")).encode(), digest_size=16).digest()
        if digest in seen:
            reasons[i] = Reason.EXACT_DUPLICATE
        else:
            seen[digest] = i
            unique.append(i)
    del seen

    # 2. near duplicates among the unique ones
    if threshold < 1.0 and len(unique) > 1:
        _near_duplicates(records, unique, reasons, field, cfg.shingle_size, num_perm, threshold, progress)

    kept = [rec for rec, why in zip(records, reasons) if why is None]
    dropped = [(rec, why) for rec, why in zip(records, reasons) if why is not None]
    log.info("dedupe: %d records, %d kept, %d exact and %d near duplicates dropped", len(records), len(kept),
             sum(1 for _, w in dropped if w == Reason.EXACT_DUPLICATE),
             sum(1 for _, w in dropped if w == Reason.NEAR_DUPLICATE))
    return kept, dropped


def _near_duplicates(records, unique, reasons, field, shingle_size, num_perm, threshold, progress) -> None:
    bands, rows = choose_bands(num_perm, threshold)
    rng = np.random.default_rng(0x5EED)
    # multiply-shift hashing: (a*x + b) mod 2^64, top 32 bits; a odd
    a = (rng.integers(0, 2**63, size=bands * rows, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
    b = rng.integers(0, 2**63, size=bands * rows, dtype=np.uint64)
    band_salt = rng.integers(0, 2**63, size=bands, dtype=np.uint64)
    shingler = _Shingler(shingle_size)
    band_hash = np.empty((len(unique), bands), dtype=np.uint64)

    for start in range(0, len(unique), _CHUNK):
        idx = unique[start:start + _CHUNK]
        sets = [shingler.shingles(str(records[i].get(field) or "")) for i in idx]
        lengths = np.fromiter((s.size for s in sets), dtype=np.int64, count=len(sets))
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        flat = np.concatenate(sets)
        with np.errstate(over="ignore"):
            hv = np.multiply(flat[:, None], a[None, :])  # in place from here: this is the hot loop
            hv += b[None, :]
            hv >>= np.uint64(32)
            sig = np.minimum.reduceat(hv.astype(np.uint32), offsets, axis=0)
            sig = sig.astype(np.uint64).reshape(len(idx), bands, rows)
            h = np.broadcast_to(band_salt, (len(idx), bands)).copy()
            for r in range(rows):
                h = (h ^ sig[:, :, r]) * np.uint64(0x9E3779B97F4A7C15)
                h ^= h >> np.uint64(31)
        band_hash[start:start + len(idx)] = h
        if progress is not None:
            progress(min(start + _CHUNK, len(unique)))

    # group ids per band: records sharing a bucket with nobody else never need a comparison
    n = len(unique)
    shared = np.zeros((n, bands), dtype=bool)
    for band in range(bands):
        col = band_hash[:, band]
        _, inverse, counts = np.unique(col, return_inverse=True, return_counts=True)
        shared[:, band] = counts[inverse] > 1
    candidates = np.flatnonzero(shared.any(axis=1))
    if candidates.size == 0:
        return

    shingle_cache: dict[int, np.ndarray] = {}

    def shingles_of(pos: int) -> np.ndarray:
        s = shingle_cache.get(pos)
        if s is None:
            s = shingler.shingles(str(records[unique[pos]].get(field) or ""))
            shingle_cache[pos] = s
        return s

    buckets: list[dict[int, list[int]]] = [{} for _ in range(bands)]  # band -> bucket hash -> kept positions
    for pos in candidates.tolist():
        keys = [(band, int(band_hash[pos, band])) for band in range(bands) if shared[pos, band]]
        compared: set[int] = set()
        duplicate = False
        mine = None
        for band, key in keys:
            for other in buckets[band].get(key, ()):
                if other in compared:
                    continue
                compared.add(other)
                if mine is None:
                    mine = shingles_of(pos)
                if _jaccard(mine, shingles_of(other)) >= threshold:
                    duplicate = True
                    break
            if duplicate:
                break
        if duplicate:
            reasons[unique[pos]] = Reason.NEAR_DUPLICATE
            shingle_cache.pop(pos, None)
            continue
        for band, key in keys:
            buckets[band].setdefault(key, []).append(pos)


__all__ = ["choose_bands", "dedupe", "normalise"]
