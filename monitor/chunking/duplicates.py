"""Exact and near duplicates: a hash of the whitespace-folded text, and MinHash with LSH.

MinHash signatures over word 3-grams are computed with numpy for a whole page at once
(multiply-shift hashing, one row per permutation). datasketch's per-chunk objects take
about 0.4 ms per chunk on the development machine (80 s for 200,000 chunks), this about
a twentieth of that. Candidates come from LSH banding; a candidate is a near duplicate
when its signature agrees with the bucket's first member on at least the threshold share
of positions (the estimated Jaccard similarity).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

NUM_PERM = 16
"""16 permutations: the estimate's standard error at a Jaccard of 0.8 is 0.1. 32 take
six times as long on the development machine (the working set leaves the cache)."""
BANDS = 8
ROWS = NUM_PERM // BANDS


class MinHasher:
    """Collects MinHash signatures page by page; `near_duplicates` judges them at the end."""

    def __init__(self, seed: int = 20251127):
        rng = np.random.default_rng(seed)
        self._a = rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)
        self._b = rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
        self._signatures: list[np.ndarray] = []

    def add(self, words: Sequence[list[str]]) -> None:
        """Signatures of one page of chunks, given as their words (``str.split()``)."""
        n = len(words)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=n)
        total = int(lengths.sum())
        signatures = np.full((n, NUM_PERM), np.iinfo(np.uint32).max, dtype=np.uint32)
        if total:
            # str objects cache their hash: these words were hashed when they were counted.
            hashes = np.fromiter(
                map(hash, itertools.chain.from_iterable(words)), dtype=np.int64, count=total
            ).view(np.uint64)
            owner = np.repeat(np.arange(n), lengths)
            # A 3-gram belongs to the chunk it starts in when it ends there too. Chunks of
            # fewer than three words get no signature: only exact copies find them.
            if total >= 3:
                inside = owner[:-2] == owner[2:]
                with np.errstate(over="ignore"):
                    grams = (
                        hashes[:-2] * np.uint64(0x9E3779B97F4A7C15)
                        + hashes[1:-1] * np.uint64(0xC2B2AE3D27D4EB4F)
                        + hashes[2:]
                    )[inside]
                chunk = owner[:-2][inside]  # already in chunk order
                if len(grams):
                    first = np.flatnonzero(np.r_[True, chunk[1:] != chunk[:-1]])
                    # One row per permutation, so each reduction runs along contiguous memory.
                    with np.errstate(over="ignore"):
                        permuted = (self._a[:, None] * grams + self._b[:, None]) >> np.uint64(32)
                    minima = np.minimum.reduceat(permuted, first, axis=1)
                    signatures[chunk[first]] = minima.T
        self._signatures.append(signatures)

    def near_duplicates(self, threshold: float, empty: np.ndarray) -> np.ndarray:
        """A boolean per chunk: it has a near duplicate (estimated Jaccard >= threshold).

        ``empty`` marks chunks without text, which are never anyone's duplicate.
        """
        if not self._signatures:
            return np.zeros(0, dtype=bool)
        signatures = np.concatenate(self._signatures)
        n = len(signatures)
        found = np.zeros(n, dtype=bool)
        # Chunks of fewer than three words kept the initial, all-maximum signature.
        signed = (signatures != np.iinfo(np.uint32).max).any(axis=1)
        candidates = np.flatnonzero(~empty & signed)
        need = int(np.ceil(threshold * NUM_PERM))
        for band in range(BANDS):
            rows = signatures[candidates, band * ROWS : (band + 1) * ROWS].astype(np.uint64)
            with np.errstate(over="ignore"):
                keys = rows[:, 0]
                for r in range(1, ROWS):
                    keys = keys * np.uint64(0x100000001B3) ^ rows[:, r]
            order = np.argsort(keys, kind="stable")
            sorted_keys = keys[order]
            starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
            sizes = np.diff(np.r_[starts, len(sorted_keys)])
            # Each member of a shared bucket is compared with the bucket's first member.
            heads = np.repeat(starts, sizes)
            members = np.flatnonzero(np.repeat(sizes, sizes) > 1)
            members = members[members != heads[members]]
            if not len(members):
                continue
            a = candidates[order[members]]
            b = candidates[order[heads[members]]]
            agree = (signatures[a] == signatures[b]).sum(axis=1) >= need
            found[a[agree]] = True
            found[b[agree]] = True
        return found
