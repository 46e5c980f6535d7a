"""Responses as clusters: the per-cluster sums every statistic is written in, and the
one resampling pass that serves all of them (`monitor.correlation.resampling`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.correlation.resampling import Resampler
from monitor.correlation.settings import CorrelationSettings

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, kw_only=True)
class ClusterData:
    """The responses' grounding, low flags, cluster and stratum codes as arrays."""

    n: int
    grounding: np.ndarray
    low: np.ndarray
    cluster: np.ndarray
    """Cluster code (0..clusters-1) of each response."""
    clusters: int
    stratum: np.ndarray
    """Stratum code of each response, -1 when it has none."""
    strata: int
    min_per_stratum: int
    notes: tuple[str, ...]

    @classmethod
    def of(cls, responses: pd.DataFrame, settings: CorrelationSettings) -> ClusterData:
        import pandas as pd

        for column in ("rid", "grounding"):
            if column not in responses:
                raise ValueError(f"the responses frame has no column {column!r}")
        grounding = responses["grounding"].to_numpy(dtype=np.float64)
        if "low" in responses:
            low = np.nan_to_num(numeric(responses["low"])) != 0  # unknown: not low
        else:
            low = grounding < 0.8
        cluster_column = "cluster" if "cluster" in responses else "day"
        notes: list[str] = []
        if cluster_column in responses:
            labels = responses[cluster_column].astype("string").fillna("(none)")
            cluster, uniques = pd.factorize(labels)
        else:
            cluster, uniques = np.zeros(len(responses), dtype=np.int64), ["all"]
            notes.append("no cluster column: every response is treated as one cluster")
        if "stratum" in responses:
            stratum, strata = pd.factorize(responses["stratum"].astype("string"))
        else:
            stratum, strata = np.full(len(responses), -1, dtype=np.int64), []
        return cls(
            n=len(responses),
            grounding=grounding,
            low=low,
            cluster=np.asarray(cluster, dtype=np.int64),
            clusters=max(len(uniques), 1),
            stratum=np.asarray(stratum, dtype=np.int64),
            strata=len(strata),
            min_per_stratum=max(5, settings.min_group // 3),
            notes=tuple(notes),
        )

    def per_cluster(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.cluster[mask], weights=values[mask], minlength=self.clusters)


class Plan:
    """A statistic written as per-cluster sums (and contributions for its test); its
    record is finished once the resampled sums are back."""

    def __init__(
        self,
        sums: np.ndarray,
        contributions: np.ndarray | None,
        finish: Callable[[np.ndarray, float | None], Any],
    ):
        self.sums = sums
        self.contributions = contributions
        self._finish = finish
        self.resampled: np.ndarray | None = None
        self.p: float | None = None

    def finish(self) -> Any:
        assert self.resampled is not None
        return self._finish(self.resampled, self.p)


def run_plans(plans: list[Plan], resampler: Resampler) -> None:
    """One bootstrap and one sign-flip pass for every plan's columns."""
    if not plans:
        return
    sums = np.hstack([p.sums for p in plans])
    resampled = resampler.bootstrap(sums)
    tested = [(p, p.contributions) for p in plans if p.contributions is not None]
    if tested:
        p_values = resampler.p_values(np.column_stack([c for _, c in tested]))
        for (plan, _), p in zip(tested, p_values, strict=True):
            plan.p = float(p)
    start = 0
    for plan in plans:
        width = plan.sums.shape[1]
        plan.resampled = resampled[:, start : start + width]
        start += width


def numeric(column: pd.Series) -> np.ndarray:
    """A feature column as floats (true = 1), NaN where unknown (NA, None, NaN)."""
    return np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan))
