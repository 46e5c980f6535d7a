"""The chunking section: shares over time, lengths against the model's window, the worst
documents with example chunks, drift against the reference, what changed per document."""

from __future__ import annotations

from typing import Any

from dashboards.model import (
    Figure,
    Headline,
    ReportData,
    SectionOutput,
    findings_of,
    headline,
    run_light,
    scaled,
)
from dashboards.plots import lines
from dashboards.registry import register

SHARES = {
    "text never embedded": ("chunking_text_not_embedded_share", {}),
    "over the window": ("chunking_truncated_share", {}),
    "mid-sentence start": ("chunking_mid_sentence_share", {"edge": "start"}),
    "mid-sentence end": ("chunking_mid_sentence_share", {"edge": "end"}),
    "cut in a word": ("chunking_cut_in_word_share", {}),
    "fragments": ("chunking_fragment_share", {}),
    "junk": ("chunking_junk_share", {}),
    "boilerplate": ("chunking_boilerplate_share", {}),
    "exact duplicates": ("chunking_duplicate_share", {"kind": "exact"}),
    "near duplicates": ("chunking_duplicate_share", {"kind": "near"}),
}


class ChunkingSection:
    key = "chunking"
    title = "Chunking quality"
    signal: str | None = "chunking"

    def build(self, data: ReportData, render: Any) -> SectionOutput:
        found = data.details.get("chunking")
        run, latest = found if found else (None, None)
        if latest is not None and latest.get("schema") != "ragmon.chunking/1":
            latest = None  # written by another version: show the series only
        figures = self._figures(data, latest)
        snapshot = latest["snapshot"] if latest else None
        html = render(
            "chunking.html.j2",
            run=run,
            latest=latest,
            snapshot=snapshot,
            comparison=latest.get("comparison") if latest else None,
            figures=figures,
            pct=_pct,
        )
        return SectionOutput(
            html=html,
            figures=figures,
            headlines=self._headlines(data),
            light=run_light(run, latest),
            data={"latest": latest, "series": {f.id: f.spec["data"] for f in figures}},
            findings=findings_of(data, "chunking"),
        )

    def _headlines(self, data: ReportData) -> list[Headline]:
        return [
            headline(
                scaled(data.series("chunking_text_not_embedded_share"), 100),
                "text never embedded",
                "%",
            ),
            headline(
                scaled(data.series("chunking_truncated_share"), 100), "chunks over window", "%"
            ),
            headline(
                scaled(data.series("chunking_mid_sentence_share", edge="end"), 100),
                "mid-sentence ends",
                "%",
            ),
            headline(data.series("chunking_drifted_features"), "features drifted"),
        ]

    def _figures(self, data: ReportData, latest: Any) -> list[Figure]:
        figures = []
        series = {
            label: scaled(data.series(name, **labels), 100)
            for label, (name, labels) in SHARES.items()
        }
        if any(series.values()):
            figures.append(
                Figure(
                    id="chunking-shares",
                    title="Shares over time",
                    spec=lines(series, y_title="% of chunks (text: % of characters)"),
                )
            )
        if latest is not None:
            lengths = latest["snapshot"]["lengths"]
            figures.append(
                Figure(
                    id="chunking-lengths",
                    title="Chunk length against the model's window (latest run)",
                    spec=_window_histogram(lengths),
                )
            )
        return figures


def _window_histogram(lengths: dict[str, Any]) -> dict[str, Any]:
    """Bars of chunks per token-length bin, and the window drawn as a vertical line."""
    histogram = lengths["token_histogram"]
    edges, counts = histogram["edges"], histogram["counts"]
    window = lengths["window"]
    labels = [f"{edges[i]}–{edges[i + 1] - 1}" for i in range(len(edges) - 1)] + [f"{edges[-1]}+"]
    return {
        "data": [
            {
                "type": "bar",
                "x": [e + (edges[1] - edges[0]) / 2 for e in edges],
                "y": list(counts),
                "text": labels,
                "textposition": "none",
                "hovertemplate": "%{text} tokens: %{y} chunks<extra></extra>",
                "name": "chunks",
            }
        ],
        "layout": {
            "margin": {"l": 56, "r": 16, "t": 24, "b": 40},
            "bargap": 0.05,
            "xaxis": {"title": {"text": "model tokens per chunk"}},
            "yaxis": {"title": {"text": "chunks"}},
            "shapes": [
                {
                    "type": "line",
                    "x0": window,
                    "x1": window,
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#d1242f", "width": 2, "dash": "dash"},
                }
            ],
            "annotations": [
                {
                    "x": window,
                    "yref": "paper",
                    "y": 1,
                    "text": f"window: {window} tokens",
                    "showarrow": False,
                    "xanchor": "left",
                }
            ],
        },
    }


def _pct(value: Any) -> str:
    if value is None:
        return "—"
    share = float(value)
    return f"{share * 100:.1f}%" if abs(share) < 0.1 else f"{share * 100:.0f}%"


register(ChunkingSection())
