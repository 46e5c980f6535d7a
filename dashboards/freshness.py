"""The freshness section: classes over time, staleness age, embeddings, conflicts, fix queue."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from dashboards.model import (
    Figure,
    Headline,
    Light,
    ReportData,
    SectionOutput,
    headline,
    latest_result,
    run_light,
    scaled,
)
from dashboards.plots import histogram, lines
from dashboards.registry import register
from monitor.freshness.embeddings import EmbeddingsResult, EmbeddingSummary
from monitor.freshness.fixqueue import FixItem, with_retrievals, write_fix_queue_csv
from monitor.freshness.results import FreshnessResult
from monitor.freshness.states import ChunkClass, DocClass

CLASSES = list(dict.fromkeys([*ChunkClass, *DocClass]))
"""Every chunk and document class, chunk classes first, as the counts table lists them."""
DAY = 86400.0


class FreshnessSection:
    key = "freshness"
    title = "Freshness"
    signal: str | None = "freshness"

    def build(self, data: ReportData, render: Any) -> SectionOutput:
        run, latest = latest_result(data, "freshness", FreshnessResult)
        stored = data.details["freshness"][1] if latest is not None else None
        figures = self._figures(data, latest)
        queue = (
            with_retrievals(latest.fix_queue, data.retrievals, data.low_grounding) if latest else []
        )
        # The embedding check is the daily `embeddings` job's; its panel sits here.
        _checked_run, checked = latest_result(data, "embeddings", EmbeddingsResult)
        embeddings = checked.embedding if checked is not None else None
        html = render(
            "freshness.html.j2",
            run=run,
            latest=latest,
            emb=embeddings,
            edits=_edits(latest),
            figures=figures,
            queue=queue,
            classes=CLASSES,
        )
        return SectionOutput(
            html=html,
            figures=figures,
            headlines=self._headlines(data),
            light=self._light(run, latest, embeddings),
            data={
                "latest": stored,
                "series": {f.id: f.spec["data"] for f in figures},
            },
            files={"fix-queue.csv": _csv(queue)} if latest else {},
        )

    def _headlines(self, data: ReportData) -> list[Headline]:
        return [
            headline(scaled(data.series("stale_share"), 100), "stale chunks", "%"),
            headline(data.series("chunks", **{"class": "orphaned"}), "orphaned chunks"),
            headline(data.series("documents", **{"class": "missing"}), "documents never indexed"),
            headline(
                scaled(data.series("staleness_age_seconds", stat="p95"), 1 / DAY),
                "staleness age p95",
                " d",
            ),
        ]

    def _light(
        self, run: Any, latest: FreshnessResult | None, embeddings: EmbeddingSummary | None
    ) -> Light:
        if latest is None:
            return Light.GREY
        if embeddings is not None and embeddings.model_mismatch:
            return Light.RED
        return run_light(run, latest)

    def _figures(self, data: ReportData, latest: FreshnessResult | None) -> list[Figure]:
        figures = []
        classes = {
            "stale chunks": data.series("chunks", **{"class": "stale"}),
            "orphaned chunks": data.series("chunks", **{"class": "orphaned"}),
            "moved chunks": data.series("chunks", **{"class": "moved"}),
            "unreadable chunks": data.series("chunks", **{"class": "unreadable"}),
            "missing documents": data.series("documents", **{"class": "missing"}),
        }
        if any(classes.values()):
            figures.append(
                Figure(
                    id="freshness-classes",
                    title="Stale, orphaned, moved, unreadable, missing",
                    spec=lines(classes, y_title="count"),
                )
            )
        ages = {
            f"{stat}": scaled(data.series("staleness_age_seconds", stat=stat), 1 / DAY)
            for stat in ("p50", "p95", "max")
        }
        if any(ages.values()):
            figures.append(
                Figure(
                    id="freshness-age",
                    title="Staleness age over time",
                    spec=lines(ages, y_title="days behind the source"),
                )
            )
        doc_ages = [
            d.stale_age_seconds / DAY
            for d in (latest.by_document.values() if latest else ())
            if d.stale_age_seconds is not None
        ]
        if doc_ages:
            figures.append(
                Figure(
                    id="freshness-age-distribution",
                    title="Staleness age of stale documents (latest run)",
                    spec=histogram(doc_ages, x_title="days behind the source"),
                )
            )
        return figures


def _edits(latest: FreshnessResult | None) -> list[dict[str, Any]]:
    """Every chunk stale by ``edited`` in the latest run, the largest change first."""
    rows = [
        {"document": doc, "chunk": chunk, "changed_share": e.changed_share, "diff": e.diff}
        for doc, verdict in (latest.by_document.items() if latest else ())
        for chunk, e in verdict.edits.items()
    ]
    return sorted(rows, key=lambda r: (-r["changed_share"], r["document"], r["chunk"]))


def _csv(queue: Sequence[FixItem]) -> bytes:
    out = io.StringIO()
    write_fix_queue_csv(out, queue)
    return out.getvalue().encode("utf-8")


register(FreshnessSection())
