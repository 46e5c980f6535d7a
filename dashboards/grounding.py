"""The grounding section: band shares per day, the worst answers and why, calibration."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from dashboards.formats import plot_time
from dashboards.model import (
    Figure,
    Light,
    ReportData,
    SectionOutput,
    findings_of,
    headline,
    latest_result,
)
from dashboards.plots import one_moment_note, time_axis
from dashboards.registry import register
from monitor.grounding.runresult import GroundingRunResult, ScoreCalibration

BAND_COLOURS = {
    "cite": "#2e7d32",
    "disclaim": "#9ccc65",
    "partial": "#ffb300",
    "escalate": "#c62828",
}
_LAYOUT = {"margin": {"l": 56, "r": 16, "t": 16, "b": 40}, "legend": {"orientation": "h"}}


class GroundingSection:
    key = "grounding"
    title = "Grounding"
    signal: str | None = "grounding"

    def build(self, data: ReportData, render: Any) -> SectionOutput:
        run, latest = latest_result(data, "grounding", GroundingRunResult)
        figures = self._figures(latest) if latest is not None else []
        html = render(
            "grounding.html.j2",
            run=run,
            latest=latest,
            last_day=latest.days[-1] if latest and latest.days else None,
            figures=figures,
        )
        light = Light.GREY
        if latest is not None and latest.days:
            last = latest.days[-1]
            escalate = last.counts.get("escalate", 0) / last.responses if last.responses else 0
            light = Light.AMBER if escalate > 0.2 else Light.GREEN
        return SectionOutput(
            html=html,
            figures=figures,
            headlines=[
                headline(
                    data.series("grounding_band_share", band="escalate", window="latest_day"),
                    "answers to escalate (latest day)",
                ),
                headline(
                    data.series("grounding_mean_score", window="latest_day"),
                    "mean grounding score (latest day)",
                ),
            ],
            light=light,
            data={
                "latest": latest.to_json() if latest is not None else None,
                "series": {f.id: f.spec["data"] for f in figures},
            },
            findings=findings_of(data, "grounding"),
        )

    def _figures(self, latest: GroundingRunResult) -> list[Figure]:
        figures = []
        if latest.days:
            moments = [datetime.combine(d.day, time(), tzinfo=UTC) for d in latest.days]
            days = [plot_time(m) for m in moments]
            figures.append(
                Figure(
                    id="grounding-bands",
                    title="Share of answers per band, per day (UTC)",
                    spec={
                        "data": [
                            {
                                "type": "bar",
                                "name": band,
                                "x": days,
                                "y": [
                                    round(d.counts.get(band, 0) / d.responses, 4)
                                    if d.responses
                                    else 0
                                    for d in latest.days
                                ],
                                "marker": {"color": colour},
                            }
                            for band, colour in BAND_COLOURS.items()
                        ],
                        "layout": {
                            **_LAYOUT,
                            "barmode": "stack",
                            "xaxis": time_axis(moments, daily=True),
                            "yaxis": {"title": {"text": "share of answers"}, "range": [0, 1]},
                        },
                        **_one_day_note(latest),
                    },
                )
            )
        if latest.calibration:
            figures.append(
                Figure(
                    id="grounding-reliability",
                    title="Reliability: predicted vs observed share grounded",
                    spec=_reliability(latest.calibration),
                )
            )
        return figures


def _one_day_note(latest: GroundingRunResult) -> dict[str, str]:
    """``{"note": ...}`` while there is a single day of answers (one stacked bar)."""
    if len(latest.days) != 1:
        return {}
    (day,) = latest.days
    shares = {
        band: f"{day.counts.get(band, 0) / day.responses:.0%}" if day.responses else "—"
        for band in BAND_COLOURS
    }
    return {"note": one_moment_note(day.day.isoformat(), shares, what="day")}


def _reliability(calibrations: tuple[ScoreCalibration, ...]) -> dict[str, Any]:
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "perfect",
            "x": [0, 1],
            "y": [0, 1],
            "line": {"dash": "dot", "color": "#999"},
        }
    ]
    for cal in calibrations:
        for kind, bins in (("raw", cal.bins_raw), ("calibrated", cal.bins_calibrated)):
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": f"{cal.source} {kind}",
                    "x": [round(b.mean_predicted, 4) for b in bins],
                    "y": [round(b.observed, 4) for b in bins],
                    "text": [f"{b.count} answers" for b in bins],
                }
            )
    return {
        "data": traces,
        "layout": {
            **_LAYOUT,
            "xaxis": {"title": {"text": "predicted P(grounded)"}, "range": [0, 1]},
            "yaxis": {"title": {"text": "observed share grounded"}, "range": [0, 1]},
        },
    }


register(GroundingSection())
