"""Which upstream features go with low grounding: effects, intervals, tests, strata.

`analyse` takes the two frames of the contract (`monitor.correlation.features` builds
them from the history) and returns a `CorrelationResult`:

- a binary feature: mean grounding with and without it, the difference (with minus
  without), its 95% cluster-bootstrap interval, and within strata;
- a continuous feature: Spearman's rho with grounding (Pearson's r of the ranks; the
  interval recomputes r from the resampled clusters with the ranks held fixed);
- p-values from the cluster sign-flip test (`monitor.correlation.resampling`): both
  statistics are sums of per-cluster contributions with mean 0 when grounding does not
  depend on the feature, whatever the day-to-day swings of either. A response-level
  test (t, Mann-Whitney) would count 30 days of 1,000 answers as 30,000 independent
  observations and find day-to-day noise "significant";
- p-values adjusted across every feature tested (Benjamini-Yekutieli by default, since
  the features depend on one another; Benjamini-Hochberg on request); a feature is a
  finding when its adjusted p-value is below ``alpha`` and its interval excludes zero.
  Below ``min_group`` responses in a group it is "not enough data", never a finding;
- attribution, hotspots and lags (`monitor.correlation.hotspots`, `.lags`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from monitor.correlation.attribution import attribution_plan
from monitor.correlation.clusters import ClusterData, Plan, numeric, run_plans
from monitor.correlation.resampling import Resampler, interval
from monitor.correlation.results import (
    Attribution,
    CorrelationResult,
    EffectStatus,
    FeatureEffect,
    FeatureKind,
    Window,
)
from monitor.correlation.settings import CorrelationSettings
from monitor.correlation.strata import stratified_plan

if TYPE_CHECKING:
    import pandas as pd

BINARY_FEATURES = (
    "any_stale",
    "any_orphaned",
    "any_moved",
    "any_suspect",
    "any_truncated",
    "any_mid_sentence",
    "any_junk",
    "any_bad_cut",
    "any_conflict",
    "query_drifted",
    "over_budget",
)
CONTINUOUS_FEATURES = (
    "share_stale",
    "share_orphaned",
    "share_moved",
    "share_suspect",
    "max_changed_share",
    "max_stale_age_days",
    "top1_score",
    "margin",
)
TOP_FOLDER = "top-level folder of the top-1 source"


class DocumentState(Protocol):
    """What the hotspots show of a document's freshness (`features.DocState`)."""

    @property
    def status(self) -> Any: ...
    @property
    def action(self) -> str | None: ...
    @property
    def fix_rank(self) -> int | None: ...


def analyse(
    responses: pd.DataFrame,
    retrieved: pd.DataFrame,
    settings: CorrelationSettings,
    *,
    documents: Mapping[str, DocumentState],
    grounding_source: str = "ragmon",
    since: datetime | None = None,
    until: datetime | None = None,
) -> CorrelationResult:
    """Every feature's effect on grounding, the attribution, hotspots and lags.

    ``responses`` has one row per scored response (``rid``, ``day``, ``cluster``,
    ``stratum``, ``grounding``, ``low`` and the feature columns); ``retrieved`` one row per
    retrieved chunk (``rid``, ``source_id``). ``since``/``until`` default to the first and
    last response's ``at``.
    """
    from monitor.correlation.hotspots import hotspots
    from monitor.correlation.lags import daily_grounding, lags

    data = ClusterData.of(responses, settings)
    resampler = Resampler(data.clusters, settings.bootstrap, settings.seed)
    plans: list[Plan] = []
    effects: dict[str, FeatureEffect | Plan] = {}
    for name in _feature_names(responses):
        kind = FeatureKind.BINARY if name not in CONTINUOUS_FEATURES else FeatureKind.CONTINUOUS
        planned = _plan_feature(data, responses, name, kind, settings)
        effects[name] = planned
        if isinstance(planned, Plan):
            plans.append(planned)
    attribution = attribution_plan(data, responses, settings)
    if isinstance(attribution, Plan):
        plans.append(attribution)
    run_plans(plans, resampler)
    finished = [e.finish() if isinstance(e, Plan) else e for e in effects.values()]
    features = _adjust(
        [f for f in finished if isinstance(f, FeatureEffect)],
        settings.alpha,
        settings.correction,
    )
    attribution_record = attribution.finish() if isinstance(attribution, Plan) else attribution
    assert isinstance(attribution_record, Attribution)
    found_hotspots, hotspot_total = hotspots(responses, retrieved, documents, low=data.low)
    at = responses["at"] if "at" in responses and len(responses) else None
    return CorrelationResult(
        window=Window(
            since=since or (at.min().to_pydatetime(warn=False) if at is not None else None),
            until=until or (at.max().to_pydatetime(warn=False) if at is not None else None),
        ),
        n_responses=data.n,
        n_low=int(data.low.sum()),
        grounding_source=grounding_source,
        cluster_by=settings.cluster_by,
        clusters=data.clusters,
        strata_by=settings.strata_by or TOP_FOLDER,
        alpha=settings.alpha,
        correction=settings.correction,
        min_group=settings.min_group,
        bootstrap=settings.bootstrap,
        seed=settings.seed,
        low_bands=tuple(settings.low_bands),
        features=tuple(features),
        attribution=attribution_record,
        hotspots=found_hotspots,
        hotspot_documents=hotspot_total,
        lags=lags(responses, [f.name for f in features], settings),
        max_lag_days=settings.max_lag_days,
        min_lag_days=settings.min_lag_days,
        daily=daily_grounding(responses, data.low),
        notes=data.notes,
    )


def _feature_names(responses: pd.DataFrame) -> list[str]:
    extra = [c for c in responses.columns if str(c).startswith("any_") and c not in BINARY_FEATURES]
    return [*BINARY_FEATURES, *sorted(map(str, extra)), *CONTINUOUS_FEATURES]


def _plan_feature(
    data: ClusterData,
    responses: pd.DataFrame,
    name: str,
    kind: FeatureKind,
    settings: CorrelationSettings,
) -> FeatureEffect | Plan:
    values = numeric(responses[name]) if name in responses else np.full(data.n, np.nan)
    known = np.isfinite(values)
    if not known.any():
        why = "no such column" if name not in responses else "unknown for every response"
        return FeatureEffect(
            name=name, kind=kind, status=EffectStatus.NOT_MEASURED, note=f"not measured: {why}"
        )
    if kind is FeatureKind.BINARY:
        return _binary(data, name, known, known & (values != 0), settings)
    return _continuous(data, name, known, values, settings)


def _binary(
    data: ClusterData,
    name: str,
    known: np.ndarray,
    flag: np.ndarray,
    settings: CorrelationSettings,
) -> FeatureEffect | Plan:
    y = data.grounding
    with_, without = known & flag, known & ~flag
    base = _base(data, name, FeatureKind.BINARY, known, with_, without)
    short = _too_few(base, settings.min_group)
    if short is not None:
        return short
    columns = [data.per_cluster(y, with_), data.per_cluster(np.ones(data.n), with_)]
    columns += [data.per_cluster(y, without), data.per_cluster(np.ones(data.n), without)]
    sums = np.column_stack(columns)
    s1, n1, s0, n0 = sums.sum(axis=0)
    pooled = (s1 + s0) / (n1 + n0)
    # The difference of means is exactly the sum of these per-cluster terms; under the
    # null each has mean 0.
    contributions = (sums[:, 0] - pooled * sums[:, 1]) / n1 - (
        sums[:, 2] - pooled * sums[:, 3]
    ) / n0
    strat = stratified_plan(data, known, flag)
    width = sums.shape[1]
    # The strata's sums ride along in the same resamples.
    extra = strat.sums if isinstance(strat, Plan) else np.empty((data.clusters, 0))

    def finish(resampled: np.ndarray, p: float | None) -> FeatureEffect:
        stratified = strat
        if isinstance(strat, Plan):
            strat.resampled = resampled[:, width:]
            stratified = strat.finish()
        with np.errstate(divide="ignore", invalid="ignore"):
            diffs = resampled[:, 0] / resampled[:, 1] - resampled[:, 2] / resampled[:, 3]
        low, high = interval(diffs)
        return _with(
            base,
            status=EffectStatus.NOT_SIGNIFICANT,
            mean_with=s1 / n1,
            mean_without=s0 / n0,
            diff=s1 / n1 - s0 / n0,
            ci_low=low,
            ci_high=high,
            p=p,
            stratified=stratified,
        )

    return Plan(np.hstack([sums, extra]), contributions, finish)


def _continuous(
    data: ClusterData,
    name: str,
    known: np.ndarray,
    values: np.ndarray,
    settings: CorrelationSettings,
) -> FeatureEffect | Plan:
    from monitor.correlation.lags import ranks

    x = values[known]
    median = float(np.median(x)) if x.size else 0.0
    above = known.copy()
    above[known] = x > median
    base = _base(data, name, FeatureKind.CONTINUOUS, known, above, known & ~above)
    short = _too_few(base, settings.min_group)
    if short is not None:
        return short
    y = data.grounding
    a = np.zeros(data.n)
    b = np.zeros(data.n)
    a[known] = ranks(x)
    b[known] = ranks(y[known])
    a[known] -= a[known].mean()
    b[known] -= b[known].mean()
    ones = np.ones(data.n)
    sums = np.column_stack([data.per_cluster(v, known) for v in (ones, a, b, a * a, b * b, a * b)])
    contributions = sums[:, 5].copy()
    s1, n1 = float(y[above].sum()), int(above.sum())
    without = known & ~above
    s0, n0 = float(y[without].sum()), int(without.sum())

    def finish(resampled: np.ndarray, p: float | None) -> FeatureEffect:
        rho = _pearson(sums.sum(axis=0)[None, :])[0]
        low, high = interval(_pearson(resampled))
        return _with(
            base,
            status=EffectStatus.NOT_SIGNIFICANT,
            mean_with=s1 / n1,
            mean_without=s0 / n0,
            diff=s1 / n1 - s0 / n0,
            statistic=float(rho),
            ci_low=low,
            ci_high=high,
            p=p,
            note=f"with: above the median ({median:.3g})",
        )

    return Plan(sums, contributions, finish)


def _pearson(sums: np.ndarray) -> np.ndarray:
    """Pearson's r from the columns n, sum a, sum b, sum a², sum b², sum ab."""
    n, sa, sb, saa, sbb, sab = (sums[:, i] for i in range(6))
    with np.errstate(divide="ignore", invalid="ignore"):
        ma, mb = sa / n, sb / n
        cov = sab / n - ma * mb
        va, vb = saa / n - ma * ma, sbb / n - mb * mb
        return np.asarray(cov / np.sqrt(va * vb))


def _base(
    data: ClusterData,
    name: str,
    kind: FeatureKind,
    known: np.ndarray,
    with_: np.ndarray,
    without: np.ndarray,
) -> FeatureEffect:
    return FeatureEffect(
        name=name,
        kind=kind,
        status=EffectStatus.NOT_ENOUGH_DATA,
        n=int(known.sum()),
        n_with=int(with_.sum()),
        n_without=int(without.sum()),
        clusters=int(np.count_nonzero(np.bincount(data.cluster[known], minlength=data.clusters))),
    )


def _too_few(base: FeatureEffect, min_group: int) -> FeatureEffect | None:
    if min(base.n_with, base.n_without) < min_group:
        if base.kind is FeatureKind.CONTINUOUS and base.n_with == 0:
            note = "does not vary"
        else:
            note = f"fewer than {min_group} responses in a group"
        return _with(base, note=note)
    if base.clusters < 2:
        return _with(base, note="all in one cluster: nothing to compare it across")
    return None


def _adjust(features: list[FeatureEffect], alpha: float, method: str) -> list[FeatureEffect]:
    """Benjamini-Hochberg (``bh``) or Benjamini-Yekutieli (``by``) across the features
    tested; a finding needs its adjusted p-value below ``alpha`` and its interval clear of
    zero, so no finding is shown with an
    interval that says "maybe no difference"."""
    from scipy.stats import false_discovery_control

    tested = [i for i, f in enumerate(features) if f.p is not None]
    if not tested:
        return features
    adjusted = false_discovery_control([features[i].p for i in tested], method=method)
    out = list(features)
    for i, q in zip(tested, adjusted, strict=True):
        f = features[i]
        clear = f.ci_low is not None and f.ci_high is not None and (f.ci_low > 0 or f.ci_high < 0)
        status = EffectStatus.FINDING if q < alpha and clear else EffectStatus.NOT_SIGNIFICANT
        out[i] = _with(features[i], p_adjusted=float(q), status=status)
    return out


def _with(record: Any, **changes: Any) -> Any:
    return replace(record, **changes)
