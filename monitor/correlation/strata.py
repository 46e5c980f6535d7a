"""A binary feature's effect within strata (query topics, or the top folder of the top-1
source): the guard against a confounder that drives both the feature and grounding."""

from __future__ import annotations

import numpy as np

from monitor.correlation.clusters import ClusterData, Plan
from monitor.correlation.resampling import interval
from monitor.correlation.results import Stratified


def stratified_plan(data: ClusterData, known: np.ndarray, flag: np.ndarray) -> Stratified | Plan:
    """The weighted mean of within-stratum differences over the strata where both groups
    have ``data.min_per_stratum`` responses, or why strata cannot separate the feature."""
    in_stratum = known & (data.stratum >= 0)
    if data.strata == 0 or not in_stratum.any():
        return Stratified(note="no strata: the responses name none")
    s = data.strata
    n1 = np.bincount(data.stratum[in_stratum & flag], minlength=s)
    n0 = np.bincount(data.stratum[in_stratum & ~flag], minlength=s)
    present = int(((n1 + n0) > 0).sum())
    k = data.min_per_stratum
    if present < 2:
        return Stratified(
            strata=present,
            min_per_group=k,
            note="strata cannot separate it: every response is in one stratum",
        )
    if not ((n1 > 0) & (n0 > 0)).any():
        return Stratified(
            strata=present,
            min_per_group=k,
            note="strata cannot separate it: no stratum has responses both with and without",
        )
    used = np.flatnonzero((n1 >= k) & (n0 >= k))
    if used.size == 0:
        return Stratified(
            strata=present,
            min_per_group=k,
            note=f"strata cannot separate it: no stratum has {k} responses in both groups",
        )
    index = np.full(s, -1)
    index[used] = np.arange(used.size)
    cell = index[np.where(in_stratum, data.stratum, 0)]
    mask = in_stratum & (cell >= 0)
    u = used.size
    key = data.cluster[mask] * u + cell[mask]
    size = data.clusters * u

    def table(weights: np.ndarray, where: np.ndarray) -> np.ndarray:
        return np.bincount(key[where[mask]], weights=weights[mask][where[mask]], minlength=size)

    y, ones = data.grounding, np.ones(data.n)
    parts = [table(y, flag), table(ones, flag), table(y, ~flag), table(ones, ~flag)]
    sums = np.hstack([p.reshape(data.clusters, u) for p in parts])
    total = sums.sum(axis=0)[None, :]
    n_used = int(total[0, u : 2 * u].sum() + total[0, 3 * u :].sum())

    def finish(resampled: np.ndarray, _p: float | None) -> Stratified:
        estimate = _within(total, u)[0]
        low, high = interval(_within(resampled, u))
        return Stratified(
            diff=float(estimate),
            ci_low=low,
            ci_high=high,
            strata=present,
            strata_used=u,
            n=n_used,
            min_per_group=k,
        )

    return Plan(sums, None, finish)


def _within(sums: np.ndarray, u: int) -> np.ndarray:
    """Weighted mean of within-stratum differences, weights n1 n0 / (n1 + n0)."""
    s1, n1, s0, n0 = (sums[:, i * u : (i + 1) * u] for i in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = s1 / n1 - s0 / n0
        weight = np.where((n1 > 0) & (n0 > 0), n1 * n0 / (n1 + n0), 0.0)
        return np.asarray(
            np.nansum(np.where(weight > 0, weight * diff, 0.0), axis=1) / weight.sum(axis=1)
        )
