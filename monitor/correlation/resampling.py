"""Cluster resampling: the bootstrap for intervals and the sign-flip test for p-values.

Answers of one day (or one session) share causes no feature records: an outage, a
release, one user's questions. They are not independent, so nothing here resamples
single responses. Every statistic is written as a function of per-cluster sums (a
C x k matrix, C clusters), and the resampling acts on clusters only:

- bootstrap: B multinomial weight vectors over the C clusters (a cluster drawn twice
  counts twice), each giving B x k resampled sums, ``W @ sums``; the percentile interval
  of the statistic recomputed from them is the 95% interval;
- sign flip (the wild cluster bootstrap with the null imposed, Rademacher weights): the
  statistic is a sum of per-cluster contributions that have mean 0 under the null, so
  flipping each cluster's sign at random gives the null distribution of the sum. With
  2**C <= B every sign pattern is enumerated (an exact test).

Both are matrix products over clusters, so their cost grows with clusters, not with
responses: 1,000 resamples over 1,000,000 responses in 30 days is a 1000 x 30 matrix.
"""

from __future__ import annotations

import itertools

import numpy as np

_BLOCK_CELLS = 20_000_000
"""Weights generated at once (resamples x clusters), to bound memory with many clusters."""


class Resampler:
    """Cluster weights for ``clusters`` clusters, reproducible from ``seed``."""

    def __init__(self, clusters: int, resamples: int, seed: int):
        self.clusters = clusters
        self.resamples = resamples
        self.seed = seed
        self.exact = clusters <= 16 and 2**clusters <= resamples
        """True when the sign-flip test enumerates every pattern."""

    def bootstrap(self, sums: np.ndarray) -> np.ndarray:
        """Resampled column sums of a C x k matrix of per-cluster sums: B x k."""
        rng = np.random.default_rng([self.seed, 1])
        c, b = self.clusters, self.resamples
        out = np.empty((b, sums.shape[1]))
        step = max(1, min(b, _BLOCK_CELLS // max(c, 1)))
        p = np.full(c, 1.0 / c)
        for start in range(0, b, step):
            size = min(step, b - start)
            weights = rng.multinomial(c, p, size=size).astype(np.float64)
            out[start : start + size] = weights @ sums
        return out

    def flipped(self, contributions: np.ndarray) -> np.ndarray:
        """Sums of a C x k matrix of per-cluster contributions under random signs: B' x k
        (every pattern when the test is exact)."""
        c = self.clusters
        if self.exact:
            signs = np.array(list(itertools.product((1.0, -1.0), repeat=c)))
            return signs @ contributions
        rng = np.random.default_rng([self.seed, 2])
        b = self.resamples
        out = np.empty((b, contributions.shape[1]))
        step = max(1, min(b, _BLOCK_CELLS // max(c, 1)))
        for start in range(0, b, step):
            size = min(step, b - start)
            signs = rng.integers(0, 2, size=(size, c)).astype(np.float64) * 2 - 1
            out[start : start + size] = signs @ contributions
        return out

    def p_values(self, contributions: np.ndarray) -> np.ndarray:
        """Two-sided sign-flip p-value of each column's sum (C x k -> k)."""
        observed = np.abs(contributions.sum(axis=0))
        flipped = np.abs(self.flipped(contributions))
        tolerance = 1e-9 * np.maximum(observed, 1e-12)
        extreme = (flipped >= observed - tolerance).sum(axis=0)
        if self.exact:
            return np.asarray(extreme / flipped.shape[0])
        return np.asarray((extreme + 1) / (flipped.shape[0] + 1))


def interval(values: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
    """The percentile interval of resampled statistics; None when fewer than half of the
    resamples define the statistic (a group missing from most of them)."""
    finite = values[np.isfinite(values)]
    if finite.size < max(2, values.size // 2):
        return None, None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)
