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
- Benjamini-Hochberg across every feature tested; a feature is a finding when its
  adjusted p-value is below ``alpha``. Below ``min_group`` responses in a group it is
  "not enough data", never a finding;
- attribution, hotspots and lags (`monitor.correlation.hotspots`, `.lags`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from monitor.correlation.resampling import Resampler, interval
from monitor.correlation.results import (
    Attribution,
    CorrelationResult,
    EffectStatus,
    FeatureEffect,
    FeatureKind,
    Stratified,
    Window,
)
from monitor.correlation.settings import CorrelationSettings

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
ATTRIBUTION_FEATURES = ("any_stale", "any_orphaned", "any_bad_cut")
"""A "problem chunk" for the attribution: stale, orphaned or badly cut."""
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

    data = _Prepared.of(responses, settings)
    resampler = Resampler(data.clusters, settings.bootstrap, settings.seed)
    plans: list[_Plan] = []
    effects: dict[str, FeatureEffect | _Plan] = {}
    for name in _feature_names(responses):
        kind = FeatureKind.BINARY if name not in CONTINUOUS_FEATURES else FeatureKind.CONTINUOUS
        planned = _plan_feature(data, responses, name, kind, settings)
        effects[name] = planned
        if isinstance(planned, _Plan):
            plans.append(planned)
    attribution = _attribution(data, responses, settings)
    if isinstance(attribution, _Plan):
        plans.append(attribution)
    _run(plans, resampler)
    finished = [e.finish() if isinstance(e, _Plan) else e for e in effects.values()]
    features = _adjust([f for f in finished if isinstance(f, FeatureEffect)], settings.alpha)
    attribution_record = attribution.finish() if isinstance(attribution, _Plan) else attribution
    assert isinstance(attribution_record, Attribution)
    found_hotspots, hotspot_total = hotspots(responses, retrieved, documents)
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
        daily=daily_grounding(responses),
        notes=data.notes,
    )


@dataclass(frozen=True, kw_only=True)
class _Prepared:
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
    def of(cls, responses: pd.DataFrame, settings: CorrelationSettings) -> _Prepared:
        import pandas as pd

        for column in ("rid", "grounding"):
            if column not in responses:
                raise ValueError(f"the responses frame has no column {column!r}")
        grounding = responses["grounding"].to_numpy(dtype=np.float64)
        if "low" in responses:
            low = responses["low"].fillna(False).to_numpy(dtype=bool)
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


class _Plan:
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


def _run(plans: list[_Plan], resampler: Resampler) -> None:
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


def _feature_names(responses: pd.DataFrame) -> list[str]:
    extra = [c for c in responses.columns if str(c).startswith("any_") and c not in BINARY_FEATURES]
    return [*BINARY_FEATURES, *sorted(map(str, extra)), *CONTINUOUS_FEATURES]


def _plan_feature(
    data: _Prepared,
    responses: pd.DataFrame,
    name: str,
    kind: FeatureKind,
    settings: CorrelationSettings,
) -> FeatureEffect | _Plan:
    if name not in responses or not responses[name].notna().any():
        why = "no such column" if name not in responses else "unknown for every response"
        return FeatureEffect(
            name=name, kind=kind, status=EffectStatus.NOT_MEASURED, note=f"not measured: {why}"
        )
    column = responses[name]
    known = column.notna().to_numpy()
    if kind is FeatureKind.BINARY:
        flag = np.zeros(data.n, dtype=bool)
        flag[known] = column[known].astype(bool).to_numpy()
        return _binary(data, name, known, flag, settings)
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    known &= np.isfinite(values)
    return _continuous(data, name, known, values, settings)


def _binary(
    data: _Prepared,
    name: str,
    known: np.ndarray,
    flag: np.ndarray,
    settings: CorrelationSettings,
) -> FeatureEffect | _Plan:
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
    strat = _stratified_plan(data, known, flag)
    width = sums.shape[1]
    # The strata's sums ride along in the same resamples.
    extra = strat.sums if isinstance(strat, _Plan) else np.empty((data.clusters, 0))

    def finish(resampled: np.ndarray, p: float | None) -> FeatureEffect:
        stratified = strat
        if isinstance(strat, _Plan):
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

    return _Plan(np.hstack([sums, extra]), contributions, finish)


def _continuous(
    data: _Prepared,
    name: str,
    known: np.ndarray,
    values: np.ndarray,
    settings: CorrelationSettings,
) -> FeatureEffect | _Plan:
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

    return _Plan(sums, contributions, finish)


def _pearson(sums: np.ndarray) -> np.ndarray:
    """Pearson's r from the columns n, sum a, sum b, sum a², sum b², sum ab."""
    n, sa, sb, saa, sbb, sab = (sums[:, i] for i in range(6))
    with np.errstate(divide="ignore", invalid="ignore"):
        ma, mb = sa / n, sb / n
        cov = sab / n - ma * mb
        va, vb = saa / n - ma * ma, sbb / n - mb * mb
        return np.asarray(cov / np.sqrt(va * vb))


def _stratified_plan(data: _Prepared, known: np.ndarray, flag: np.ndarray) -> Stratified | _Plan:
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

    return _Plan(sums, None, finish)


def _within(sums: np.ndarray, u: int) -> np.ndarray:
    """Weighted mean of within-stratum differences, weights n1 n0 / (n1 + n0)."""
    s1, n1, s0, n0 = (sums[:, i * u : (i + 1) * u] for i in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = s1 / n1 - s0 / n0
        weight = np.where((n1 > 0) & (n0 > 0), n1 * n0 / (n1 + n0), 0.0)
        return np.asarray(
            np.nansum(np.where(weight > 0, weight * diff, 0.0), axis=1) / weight.sum(axis=1)
        )


def _attribution(
    data: _Prepared, responses: pd.DataFrame, settings: CorrelationSettings
) -> Attribution | _Plan:
    measured = [f for f in ATTRIBUTION_FEATURES if f in responses and responses[f].notna().any()]
    if not measured:
        return Attribution(
            features=(),
            status="not_measured",
            note="stale, orphaned and badly cut chunks are not measured",
        )
    known = np.zeros(data.n, dtype=bool)
    flag = np.zeros(data.n, dtype=bool)
    for name in measured:
        column = responses[name]
        has = column.notna().to_numpy()
        known |= has
        flag[has] |= column[has].astype(bool).to_numpy()
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
        return _with(
            base,
            status="not_enough_data",
            note=f"fewer than {settings.min_group} responses among the low or the rest",
        )
    if flagged_rest == 0:
        return _with(base, note="no answer outside the low bands retrieved such a chunk")
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
        return _with(base, lift=lift, ci_low=ci_low, ci_high=ci_high)

    return _Plan(sums, None, finish)


def _base(
    data: _Prepared,
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
        clusters=int(np.unique(data.cluster[known]).size),
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


def _adjust(features: list[FeatureEffect], alpha: float) -> list[FeatureEffect]:
    """Benjamini-Hochberg across the features tested; below ``alpha``: a finding."""
    from scipy.stats import false_discovery_control

    tested = [i for i, f in enumerate(features) if f.p is not None]
    if not tested:
        return features
    adjusted = false_discovery_control([features[i].p for i in tested], method="bh")
    out = list(features)
    for i, q in zip(tested, adjusted, strict=True):
        status = EffectStatus.FINDING if q < alpha else EffectStatus.NOT_SIGNIFICANT
        out[i] = _with(features[i], p_adjusted=float(q), status=status)
    return out


def _with(record: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(record, **changes)
