"""Attribution: of the low-grounding answers, the share that retrieved at least one stale,
orphaned or badly cut chunk, against the same share among the rest (the lift)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from monitor.correlation.clusters import ClusterData, Plan, numeric
from monitor.correlation.resampling import interval
from monitor.correlation.results import Attribution
from monitor.correlation.settings import CorrelationSettings

if TYPE_CHECKING:
    import pandas as pd

ATTRIBUTION_FEATURES = ("any_stale", "any_orphaned", "any_bad_cut")
"""A "problem chunk" for the attribution: stale, orphaned or badly cut."""


def attribution_plan(
    data: ClusterData, responses: pd.DataFrame, settings: CorrelationSettings
) -> Attribution | Plan:
    """The attribution, or its plan (lift interval by cluster bootstrap)."""
    columns = {f: numeric(responses[f]) for f in ATTRIBUTION_FEATURES if f in responses}
    measured = [f for f, values in columns.items() if np.isfinite(values).any()]
    if not measured:
        return Attribution(
            features=(),
            status="not_measured",
            note="stale, orphaned and badly cut chunks are not measured",
        )
    known = np.zeros(data.n, dtype=bool)
    flag = np.zeros(data.n, dtype=bool)
    for name in measured:
        values = columns[name]
        known |= np.isfinite(values)
        flag |= np.isfinite(values) & (values != 0)
    low, rest = known & data.low, known & ~data.low
    n_low, n_rest = int(low.sum()), int(rest.sum())
    flagged_low, flagged_rest = int((flag & low).sum()), int((flag & rest).sum())
    base = Attribution(
        features=tuple(measured),
        status="measured",
        n_low=n_low,
        n_rest=n_rest,
        flagged_low=flagged_low,
        flagged_rest=flagged_rest,
        share_low=flagged_low / n_low if n_low else None,
        share_rest=flagged_rest / n_rest if n_rest else None,
    )
    if min(n_low, n_rest) < settings.min_group:
        return replace(
            base,
            status="not_enough_data",
            note=f"fewer than {settings.min_group} responses among the low or the rest",
        )
    if flagged_rest == 0:
        return replace(base, note="no answer outside the low bands retrieved such a chunk")
    ones = flag.astype(np.float64)
    sums = np.column_stack(
        [
            data.per_cluster(ones, low),
            data.per_cluster(np.ones(data.n), low),
            data.per_cluster(ones, rest),
            data.per_cluster(np.ones(data.n), rest),
        ]
    )

    def finish(resampled: np.ndarray, _p: float | None) -> Attribution:
        with np.errstate(divide="ignore", invalid="ignore"):
            lifts = (resampled[:, 0] / resampled[:, 1]) / (resampled[:, 2] / resampled[:, 3])
        ci_low, ci_high = interval(lifts)
        lift = (flagged_low / n_low) / (flagged_rest / n_rest)
        return replace(base, lift=lift, ci_low=ci_low, ci_high=ci_high)

    return Plan(sums, None, finish)
