"""The correlation section: which upstream problems go with low grounding.

A forest plot of every feature's effect with its interval, the attribution lift, the
hotspot documents linked to their rows in the freshness section's fix queue, and the
lag chart; n is shown with every figure, and every finding is worded as an
association in observational data, not proof of cause.
"""

from __future__ import annotations

from typing import Any

from dashboards.model import (
    Figure,
    Light,
    ReportData,
    SectionOutput,
    findings_of,
    headline,
    latest_result,
    scaled,
)
from dashboards.registry import register

JOB = "correlate"
STATUS_COLOURS = {
    "finding": "#c62828",
    "not_significant": "#607d8b",
}
_LAYOUT = {"margin": {"l": 300, "r": 24, "t": 16, "b": 48}, "legend": {"orientation": "h"}}
LAG_LINES = 6
"""Features drawn in the lag chart: those with the largest best-lag rho."""


class CorrelationSection:
    key = "correlation"
    title = "Correlation"
    signal: str | None = JOB

    def build(self, data: ReportData, render: Any) -> SectionOutput:
        from monitor.correlation.results import EMPTY_SCHEMA, CorrelationResult, describe

        stored = data.details.get(JOB)
        empty = stored[1] if stored and (stored[1] or {}).get("schema") == EMPTY_SCHEMA else None
        run, latest = latest_result(data, JOB, CorrelationResult) if empty is None else (None, None)
        if stored is not None and empty is not None:
            run = stored[0]
        figures = self._figures(latest) if latest is not None else []
        found = [f for f in latest.features if f.status == "finding"] if latest else []
        tested = [f for f in latest.features if f.p is not None] if latest else []
        short = [lag for lag in latest.lags if lag.status == "history too short"] if latest else []
        html = render(
            "correlation.html.j2",
            run=run,
            latest=latest,
            empty=empty,
            figures=figures,
            found=[(f, describe(f)) for f in found],
            tested=len(tested),
            lag_history_short=short[0].days if short else None,
            top=latest.hotspots[:5] if latest else [],
            label=_label,
            pct=_pct,
            fixed=_fixed,
            pvalue=_pvalue,
            either=_either,
        )
        harmful = any(f.kind == "binary" and (f.diff or 0) < 0 for f in found)
        light = Light.GREY
        if latest is not None:
            light = Light.AMBER if harmful else Light.GREEN
        return SectionOutput(
            html=html,
            figures=figures,
            headlines=[
                headline(data.series("correlation_findings"), "features going with grounding"),
                headline(
                    data.series("correlation_any_stale_diff"),
                    "grounding difference, stale chunks retrieved",
                ),
                headline(
                    scaled(data.series("correlation_hotspot_top_share"), 100),
                    "low answers touching the top 5 documents",
                    "%",
                ),
            ],
            light=light,
            findings=findings_of(data, JOB),
            data={
                "latest": latest.to_json() if latest is not None else None,
                "series": {f.id: f.spec["data"] for f in figures},
            },
        )

    def _figures(self, latest: Any) -> list[Figure]:
        figures = []
        binary = [f for f in latest.features if f.kind == "binary" and f.diff is not None]
        if binary:
            figures.append(
                Figure(
                    id="correlation-forest",
                    title=(
                        "Mean grounding with minus without each problem, 95% cluster-bootstrap "
                        "interval (an association, not a cause)"
                    ),
                    spec=_forest(binary, x_title="difference in mean grounding (with - without)"),
                )
            )
        continuous = [
            f for f in latest.features if f.kind == "continuous" and f.statistic is not None
        ]
        if continuous:
            figures.append(
                Figure(
                    id="correlation-rho",
                    title="Spearman's rho of each upstream figure with grounding, 95% interval",
                    spec=_forest(continuous, x_title="Spearman's rho with grounding", rho=True),
                )
            )
        a = latest.attribution
        if a is not None and a.share_low is not None and a.share_rest is not None:
            figures.append(
                Figure(
                    id="correlation-attribution",
                    title="Answers that retrieved a stale, orphaned or badly cut chunk",
                    spec=_attribution(a),
                )
            )
        ok = sorted(
            (lag for lag in latest.lags if lag.status == "ok" and lag.rho is not None),
            key=lambda lag: -abs(lag.rho),
        )[:LAG_LINES]
        if ok:
            figures.append(
                Figure(
                    id="correlation-lags",
                    title=(
                        "Daily upstream figure against mean grounding that many days later "
                        "(Spearman's rho; what moved together, not a forecast)"
                    ),
                    spec=_lags(ok),
                )
            )
        return figures


def _forest(features: list[Any], *, x_title: str, rho: bool = False) -> dict[str, Any]:
    """One row per feature: the estimate with its interval, coloured by status."""
    traces: list[dict[str, Any]] = []
    rows = list(reversed(features))  # first feature on top
    names = [_row_name(f) for f in rows]
    for status, colour in STATUS_COLOURS.items():
        picked = [(f, n) for f, n in zip(rows, names, strict=True) if f.status == status]
        if not picked:
            continue
        estimates = [f.statistic if rho else f.diff for f, _ in picked]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "finding (BH-adjusted p < alpha)"
                if status == "finding"
                else "not significant",
                "x": [round(v, 4) for v in estimates],
                "y": [n for _, n in picked],
                "marker": {"color": colour, "size": 9},
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        round((f.ci_high - v) if f.ci_high is not None else 0, 4)
                        for (f, _), v in zip(picked, estimates, strict=True)
                    ],
                    "arrayminus": [
                        round((v - f.ci_low) if f.ci_low is not None else 0, 4)
                        for (f, _), v in zip(picked, estimates, strict=True)
                    ],
                },
                "text": [_hover(f) for f, _ in picked],
                "hoverinfo": "text",
            }
        )
    within = [
        (f, n)
        for f, n in zip(rows, names, strict=True)
        if not rho and f.stratified is not None and f.stratified.diff is not None
    ]
    if within:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "within strata",
                "x": [round(f.stratified.diff, 4) for f, _ in within],
                "y": [n for _, n in within],
                "marker": {"color": "#1565c0", "symbol": "diamond-open", "size": 10},
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        round((f.stratified.ci_high or f.stratified.diff) - f.stratified.diff, 4)
                        for f, _ in within
                    ],
                    "arrayminus": [
                        round(f.stratified.diff - (f.stratified.ci_low or f.stratified.diff), 4)
                        for f, _ in within
                    ],
                },
                "text": [
                    f"within {f.stratified.strata_used} strata, n = {f.stratified.n:,}"
                    for f, _ in within
                ],
                "hoverinfo": "text",
            }
        )
    return {
        "data": traces,
        "layout": {
            **_LAYOUT,
            "height": 120 + 28 * len(rows),
            "xaxis": {"title": {"text": x_title}, "zeroline": True},
            "yaxis": {"categoryorder": "array", "categoryarray": names, "automargin": True},
            "shapes": [
                {
                    "type": "line",
                    "x0": 0,
                    "x1": 0,
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#999", "dash": "dot"},
                }
            ],
        },
    }


def _row_name(f: Any) -> str:
    if f.kind == "binary":
        return f"{_label(f.name)} (n = {f.n_with:,} / {f.n_without:,})"
    return f"{_label(f.name)} (n = {f.n:,})"


def _hover(f: Any) -> str:
    p = "—" if f.p_adjusted is None else f"{f.p_adjusted:.3g}"
    if f.kind == "binary":
        return (
            f"{f.name}: {f.mean_with:.3f} with (n = {f.n_with:,}) vs {f.mean_without:.3f} "
            f"without (n = {f.n_without:,}); {f.clusters} clusters; adjusted p {p}"
        )
    return f"{f.name}: rho {f.statistic:+.3f}, n = {f.n:,}, {f.clusters} clusters; adjusted p {p}"


def _attribution(a: Any) -> dict[str, Any]:
    lift = "" if a.lift is None else f"lift {a.lift:.2f}"
    if a.lift is not None and a.ci_low is not None and a.ci_high is not None:
        lift += f" (95% interval {a.ci_low:.2f} to {a.ci_high:.2f})"
    return {
        "data": [
            {
                "type": "bar",
                "x": [f"low-grounding answers (n = {a.n_low:,})", f"the rest (n = {a.n_rest:,})"],
                "y": [round(a.share_low, 4), round(a.share_rest, 4)],
                "text": [
                    f"{a.flagged_low:,} of {a.n_low:,}",
                    f"{a.flagged_rest:,} of {a.n_rest:,}",
                ],
                "textposition": "auto",
                "marker": {"color": ["#c62828", "#607d8b"]},
            }
        ],
        "layout": {
            "margin": {"l": 56, "r": 16, "t": 32, "b": 48},
            "title": {"text": lift, "font": {"size": 13}},
            "yaxis": {"title": {"text": "share that retrieved such a chunk"}, "range": [0, 1]},
        },
    }


def _lags(lags: list[Any]) -> dict[str, Any]:
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": (
                    f"{_label(lag.feature)} (best lag {lag.best_lag_days} d, n = {lag.n_days} days)"
                ),
                "x": list(range(len(lag.rhos))),
                "y": [None if r is None else round(r, 4) for r in lag.rhos],
            }
            for lag in lags
        ],
        "layout": {
            "margin": {"l": 56, "r": 16, "t": 16, "b": 48},
            "legend": {"orientation": "h"},
            "xaxis": {"title": {"text": "days later (lag)"}, "dtick": 1},
            "yaxis": {"title": {"text": "Spearman's rho"}, "range": [-1, 1]},
        },
    }


def _label(name: str) -> str:
    from monitor.correlation.results import FEATURE_LABELS

    return FEATURE_LABELS.get(name, name)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _either(features: tuple[str, ...]) -> str:
    """("any_stale", "any_orphaned", "any_bad_cut") -> "stale, orphaned or badly cut"."""
    words = [f.removeprefix("any_").replace("bad_cut", "badly cut") for f in features]
    return " or ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)


def _pvalue(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _fixed(value: float | None, digits: int = 2, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


register(CorrelationSection())
