"""The correlate job's typed result (`ragmon.correlation/1`), its figures and findings.

`analyse` (`monitor.correlation.stats`) builds a `CorrelationResult`; the job stores it
with its run, the report reads it back with `CorrelationResult.from_json`. `figures`
gives the numbers stored as metrics (and watched by alert rules), `findings` the
sentences a person reads, every one worded as an association in observational data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from monitor.records import Finding, Severity
from monitor.results import ResultRecord

SCHEMA = "ragmon.correlation/1"
ASSOCIATION = (
    "These are associations in observational data, not proof of cause: answers that "
    "retrieved a problem differ from the rest in other ways too (question, topic, time)."
)
"""How the report and every finding word what the analysis shows."""
TOP_HOTSPOTS = 5
"""The hotspot documents summed up in figures and findings ("fixing these 5 ...")."""


EMPTY_SCHEMA = "ragmon.correlation-empty/1"
"""The details of a run that found no scored response to analyse (not a finding)."""


class FeatureKind(enum.StrEnum):
    BINARY = "binary"
    """True or false per response: grounding with against without."""
    CONTINUOUS = "continuous"
    """A number per response: Spearman's rank correlation with grounding."""


class EffectStatus(enum.StrEnum):
    FINDING = "finding"
    """Adjusted p-value below ``alpha`` and an interval clear of zero."""
    NOT_SIGNIFICANT = "not_significant"
    NOT_ENOUGH_DATA = "not_enough_data"
    """A group has fewer than ``min_group`` responses (or the feature does not vary)."""
    NOT_MEASURED = "not_measured"
    """The feature is unknown for every response (its upstream signal never ran)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Window:
    """The responses analysed: from ``since`` to ``until`` (UTC)."""

    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Stratified:
    """A binary feature's difference within strata (e.g. query topics).

    The weighted mean of the within-stratum differences (with minus without), over the
    strata where both groups have at least ``min_per_group`` responses; weights
    n_with x n_without / (n_with + n_without). When a confounder (the topic) drives both
    the feature and grounding, this is near 0 while the crude difference is not.
    """

    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    strata: int = 0
    """Strata among the responses that know the feature."""
    strata_used: int = 0
    n: int = 0
    """Responses in the strata used."""
    min_per_group: int = 0
    note: str | None = None
    """Why there is no within-strata figure (strata cannot separate the feature), or a
    caveat about it."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FeatureEffect:
    """One upstream feature against grounding.

    Binary: mean grounding with and without the feature, ``diff`` = with minus without,
    ``ci_low``/``ci_high`` its 95% cluster-bootstrap interval. Continuous: ``statistic``
    is Spearman's rho between the feature and grounding, ``ci_low``/``ci_high`` rho's
    interval; "with" is the responses above the feature's median, "without" the rest, so
    ``diff`` (above minus at-or-below the median) reads on the grounding scale too.
    ``p`` is a cluster sign-flip test (see `monitor.correlation.stats`), ``p_adjusted``
    adjusted across every feature tested (``correction``: Benjamini-Yekutieli or -Hochberg).
    """

    name: str
    kind: FeatureKind
    status: EffectStatus
    n: int = 0
    """Responses whose value of the feature is known."""
    n_with: int = 0
    n_without: int = 0
    clusters: int = 0
    """Clusters (days or sessions) among those responses."""
    mean_with: float | None = None
    mean_without: float | None = None
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    statistic: float | None = None
    """Spearman's rho (continuous features); None for binary ones."""
    p: float | None = None
    p_adjusted: float | None = None
    stratified: Stratified | None = None
    note: str | None = None

    @property
    def effect(self) -> float | None:
        """What the interval is about: the difference (binary) or rho (continuous)."""
        return self.diff if self.kind is FeatureKind.BINARY else self.statistic


@dataclass(frozen=True, kw_only=True, slots=True)
class Attribution:
    """Of the low-grounding answers, the share that retrieved at least one stale,
    orphaned or badly cut chunk, against the same share among the rest."""

    features: tuple[str, ...]
    """The features that were measured and make up "a problem chunk"."""
    status: str
    """``measured``, ``not_enough_data`` or ``not_measured``."""
    n_low: int = 0
    n_rest: int = 0
    flagged_low: int = 0
    flagged_rest: int = 0
    share_low: float | None = None
    share_rest: float | None = None
    lift: float | None = None
    """share_low / share_rest."""
    ci_low: float | None = None
    ci_high: float | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Hotspot:
    """A source document retrieved by low-grounding answers."""

    source_id: str
    low_responses: int
    """Low-grounding answers that retrieved at least one of its chunks."""
    responses: int
    """All answers that did."""
    share_of_low: float
    cumulative_share_of_low: float
    """Share of all low-grounding answers that retrieved this document or one ranked
    above it: what fixing the documents down to this one touches."""
    status: str = "fresh"
    """Its freshness class in the latest freshness run (``fresh`` when not listed)."""
    action: str | None = None
    fix_rank: int | None = None
    """Its position in the fix queue (1 = first), None when it is not in it."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Lag:
    """An upstream figure per day against mean grounding 0 to ``max_lag_days`` later."""

    feature: str
    status: str
    """``ok``, ``history too short``, ``no variation`` or ``not_measured``."""
    days: int = 0
    """Days of history with responses."""
    best_lag_days: int | None = None
    rho: float | None = None
    """Spearman's rho at the best lag (largest in size)."""
    n_days: int = 0
    """Day pairs at the best lag."""
    rhos: tuple[float | None, ...] = ()
    """Rho at lag 0, 1, ... (None where it cannot be computed)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DayGrounding:
    day: str
    responses: int
    mean_grounding: float
    low_share: float


@dataclass(frozen=True, kw_only=True, slots=True)
class CorrelationResult(ResultRecord):
    """One correlate run as stored with it (schema ``ragmon.correlation/1``)."""

    SCHEMA = SCHEMA

    window: Window
    n_responses: int
    n_low: int
    grounding_source: str
    """Whose grounding score was used: ``ragmon`` (response_grounding) or ``app`` (the
    application's logged score)."""
    cluster_by: str
    clusters: int
    strata_by: str
    alpha: float
    correction: str = "by"
    """How p-values were adjusted across features: ``by`` (Benjamini-Yekutieli) or ``bh``."""
    min_group: int
    bootstrap: int
    seed: int
    low_bands: tuple[str, ...]
    features: tuple[FeatureEffect, ...] = ()
    attribution: Attribution | None = None
    hotspots: tuple[Hotspot, ...] = ()
    """The documents retrieved by the most low-grounding answers, most first (top 50)."""
    hotspot_documents: int = 0
    """All documents retrieved by at least one low-grounding answer."""
    lags: tuple[Lag, ...] = ()
    max_lag_days: int = 7
    min_lag_days: int = 14
    daily: tuple[DayGrounding, ...] = ()
    wording: str = ASSOCIATION
    notes: tuple[str, ...] = ()

    def feature(self, name: str) -> FeatureEffect | None:
        """The effect of feature ``name``, or None when it was not analysed."""
        return next((f for f in self.features if f.name == name), None)


def figures(result: CorrelationResult) -> dict[str, float]:
    """The result's numbers by metric name (feature names are part of the name).

    Per tested feature: ``correlation_<feature>_diff`` (binary), ``..._rho``
    (continuous), ``..._p_adjusted``, and ``..._finding_diff``: the difference when the
    feature is a finding, else 0, so one threshold says "significant and at least this
    big"; ``correlation_stale_grounding_drop`` is minus that difference for ``any_stale``
    (how much worse answers that retrieved a stale chunk are grounded, 0 unless it is a
    finding): rule ``stale-drives-grounding`` fires at ``[correlation] min_effect``.
    Then counts, the attribution's shares and lift, the share of low-grounding answers
    the top 5 hotspot documents touch, and each measured lag's best rho.
    """
    out: dict[str, float] = {
        "correlation_responses": float(result.n_responses),
        "correlation_low_responses": float(result.n_low),
        "correlation_clusters": float(result.clusters),
        "correlation_findings": float(
            sum(f.status is EffectStatus.FINDING for f in result.features)
        ),
    }
    for f in result.features:
        if f.status in (EffectStatus.NOT_MEASURED, EffectStatus.NOT_ENOUGH_DATA):
            continue
        prefix = f"correlation_{f.name}"
        if f.kind is FeatureKind.BINARY and f.diff is not None:
            out[f"{prefix}_diff"] = f.diff
        if f.kind is FeatureKind.CONTINUOUS and f.statistic is not None:
            out[f"{prefix}_rho"] = f.statistic
        if f.p_adjusted is not None:
            out[f"{prefix}_p_adjusted"] = f.p_adjusted
        finding = f.status is EffectStatus.FINDING
        out[f"{prefix}_finding_diff"] = (f.diff or 0.0) if finding else 0.0
    out["correlation_stale_grounding_drop"] = max(
        0.0, -out.get("correlation_any_stale_finding_diff", 0.0)
    )
    a = result.attribution
    if a is not None and a.status == "measured":
        for name, value in (
            ("share_low", a.share_low),
            ("share_rest", a.share_rest),
            ("lift", a.lift),
        ):
            if value is not None:
                out[f"correlation_attribution_{name}"] = value
    if result.hotspots:
        top = result.hotspots[:TOP_HOTSPOTS]
        out["correlation_hotspot_top_share"] = top[-1].cumulative_share_of_low
    for lag in result.lags:
        if lag.status == "ok" and lag.rho is not None and lag.best_lag_days is not None:
            out[f"correlation_lag_{lag.feature}_rho"] = lag.rho
            out[f"correlation_lag_{lag.feature}_days"] = float(lag.best_lag_days)
    return out


def findings(result: CorrelationResult) -> list[Finding]:
    """Each significant feature, and the hotspot documents, as findings worded as
    associations (a warning when answers with a binary problem score lower)."""
    out: list[Finding] = []
    for f in result.features:
        if f.status is not EffectStatus.FINDING:
            continue
        harmful = f.kind is FeatureKind.BINARY and (f.diff or 0) < 0
        out.append(
            Finding(
                kind="correlation",
                severity=Severity.WARNING if harmful else Severity.INFO,
                message=describe(f),
                evidence={
                    "feature": f.name,
                    "kind": f.kind.value,
                    "n_with": f.n_with,
                    "n_without": f.n_without,
                    "mean_with": f.mean_with,
                    "mean_without": f.mean_without,
                    "diff": f.diff,
                    "rho": f.statistic,
                    "ci": [f.ci_low, f.ci_high],
                    "p": f.p,
                    "p_adjusted": f.p_adjusted,
                    "stratified_diff": f.stratified.diff if f.stratified else None,
                },
            )
        )
    if result.hotspots and result.n_low:
        top = result.hotspots[:TOP_HOTSPOTS]
        out.append(
            Finding(
                kind="correlation_hotspots",
                severity=Severity.INFO,
                message=(
                    f"fixing these {len(top)} documents touches "
                    f"{_pct(top[-1].cumulative_share_of_low)} of the {result.n_low:,} "
                    f"low-grounding answers: {', '.join(h.source_id for h in top)}"
                ),
                source_id=top[0].source_id,
                evidence={
                    "documents": [h.source_id for h in top],
                    "low_responses": [h.low_responses for h in top],
                    "cumulative_share_of_low": top[-1].cumulative_share_of_low,
                },
            )
        )
    return out


FEATURE_LABELS = {
    "any_stale": "retrieved a stale chunk",
    "any_orphaned": "retrieved an orphaned chunk",
    "any_moved": "retrieved a chunk of a moved document",
    "any_suspect": "retrieved a suspect chunk",
    "any_truncated": "retrieved a truncated chunk",
    "any_mid_sentence": "retrieved a chunk cut mid-sentence",
    "any_junk": "retrieved a junk-laden chunk",
    "any_bad_cut": "retrieved a badly cut chunk",
    "any_conflict": "retrieved conflicting duplicates",
    "query_drifted": "asked in a drifted region of query space",
    "over_budget": "retrieved more context than the budget",
    "share_stale": "share of retrieved chunks stale",
    "share_orphaned": "share of retrieved chunks orphaned",
    "share_moved": "share of retrieved chunks moved",
    "share_suspect": "share of retrieved chunks suspect",
    "max_changed_share": "changed share of the most edited chunk",
    "max_stale_age_days": "age of the stalest chunk (days)",
    "top1_score": "top-1 retrieval score",
    "margin": "top-1 margin over top-2",
}
"""How the report names each feature (answers that ...)."""


def describe(f: FeatureEffect) -> str:
    """One sentence about a feature's effect, with its n, interval and p, worded as an
    association."""
    label = FEATURE_LABELS.get(f.name, f.name)
    p = _p(f.p_adjusted)
    if f.kind is FeatureKind.BINARY:
        direction = "lower" if (f.diff or 0) < 0 else "higher"
        text = (
            f"answers that {label} scored {abs(f.diff or 0):.2f} {direction} on grounding "
            f"({f.mean_with or 0:.2f} vs {f.mean_without or 0:.2f}; "
            f"{_interval(f.ci_low, f.ci_high)}; n = {f.n_with:,} with, {f.n_without:,} "
            f"without; adjusted p {p})"
        )
        s = f.stratified
        if s is not None and s.diff is not None:
            text += (
                f"; within strata {s.diff:+.2f} ({_interval(s.ci_low, s.ci_high)}, "
                f"{s.strata_used} strata)"
            )
        elif s is not None and s.note:
            text += f"; {s.note}"
    else:
        text = (
            f"{label} and grounding: Spearman rho {f.statistic or 0:+.2f} "
            f"({_interval(f.ci_low, f.ci_high)}; n = {f.n:,}; adjusted p {p})"
        )
    return text + ". An association in observational data, not proof of cause."


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "no interval"
    return f"95% CI {low:+.2f} to {high:+.2f}"


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%"
