"""The relevance section: probe figures over time, regressed probes with their rank
changes, score distributions now against the reference, the evidently drift report."""

from __future__ import annotations

from typing import Any

from dashboards.model import (
    Figure,
    Headline,
    ReportData,
    SectionOutput,
    findings_of,
    headline,
    latest_result,
    run_light,
)
from dashboards.plots import lines
from dashboards.registry import register


class RelevanceSection:
    key = "relevance"
    title = "Retrieval relevance"
    signal: str | None = "relevance"

    def build(self, data: ReportData, render: Any) -> SectionOutput:
        from monitor.relevance.results import RelevanceResult

        run, latest = latest_result(data, "relevance", RelevanceResult)
        figures = self._figures(data, latest)
        html = render(
            "relevance.html.j2",
            run=run,
            latest=latest,
            figures=figures,
            pct=_pct,
            rank=lambda r: "—" if r is None else str(r),
        )
        return SectionOutput(
            html=html,
            figures=figures,
            headlines=self._headlines(data),
            light=run_light(run, latest),
            data={
                "latest": latest.to_json() if latest else None,
                "series": {f.id: f.spec["data"] for f in figures},
            },
            findings=findings_of(data, "relevance"),
        )

    def _headlines(self, data: ReportData) -> list[Headline]:
        return [
            headline(data.series("relevance_recall_at_k", probes="labelled"), "recall@k (probes)"),
            headline(data.series("relevance_mrr", probes="labelled"), "MRR (probes)"),
            headline(data.series("index_recall_at_k"), "index recall"),
            headline(data.series("query_drift_auc"), "query drift AUC"),
        ]

    def _figures(self, data: ReportData, latest: Any) -> list[Figure]:
        figures = []
        probes = {
            "recall@k, labelled": data.series("relevance_recall_at_k", probes="labelled"),
            "MRR, labelled": data.series("relevance_mrr", probes="labelled"),
            "nDCG@k, labelled": data.series("relevance_ndcg_at_k", probes="labelled"),
            "index recall@k": data.series("index_recall_at_k"),
        }
        if any(probes.values()):
            figures.append(
                Figure(
                    id="relevance-probes",
                    title="Probes over time",
                    spec=lines(probes, y_title="share"),
                )
            )
        own = {
            f"hit@k, {position}": [
                p for p in data.series("relevance_hit_at_k", probes="self", position=position)
            ]
            for position in ("start", "middle", "end")
        }
        if any(own.values()):
            figures.append(
                Figure(
                    id="relevance-self",
                    title="Self-retrieval by sentence position (tracks change, not quality)",
                    spec=lines(own, y_title="hit@k"),
                )
            )
        production = {
            "query drift AUC": data.series("query_drift_auc"),
            "top-1 score K-S p-value": data.series("score_drift_p_value", scores="top1"),
            "no relevant chunk": data.series("no_relevant_share", window="current"),
            "over the context budget": data.series(
                "context_over_budget_share", probes="production"
            ),
            "novel queries (past the reference's 95%)": data.series(
                "query_novel_share", window="current"
            ),
        }
        if any(production.values()):
            figures.append(
                Figure(
                    id="relevance-production",
                    title="Production queries over time",
                    spec=lines(production, y_title="value"),
                )
            )
        prod = latest.production if latest is not None else None
        if prod is not None and prod.top1_scores:
            figures.append(
                Figure(
                    id="relevance-scores",
                    title=f"Top-1 {prod.score_kind}: current window against the reference",
                    spec=_overlay(
                        {"reference": prod.reference_top1_scores, "current": prod.top1_scores},
                        floor=prod.floor,
                        x_title=prod.score_kind,
                    ),
                )
            )
        return figures


def _overlay(samples: dict[str, Any], *, floor: float | None, x_title: str) -> dict[str, Any]:
    """Two normalised histograms on one axis, the score floor as a dashed line."""
    shapes = [
        {
            "type": "line",
            "x0": floor,
            "x1": floor,
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"color": "#d1242f", "width": 2, "dash": "dash"},
        }
    ]
    return {
        "data": [
            {
                "type": "histogram",
                "name": name,
                "x": list(values),
                "histnorm": "probability",
                "opacity": 0.6,
                "nbinsx": 30,
            }
            for name, values in samples.items()
        ],
        "layout": {
            "barmode": "overlay",
            "margin": {"l": 56, "r": 16, "t": 24, "b": 40},
            "xaxis": {"title": {"text": x_title}},
            "yaxis": {"title": {"text": "share of queries"}},
            "shapes": shapes if floor is not None else [],
        },
    }


def _pct(value: Any) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f}%"


register(RelevanceSection())
