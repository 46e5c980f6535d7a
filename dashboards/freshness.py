"""The freshness section: classes over time, staleness age, embeddings, conflicts, fix queue."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from dashboards.formats import DURATION
from dashboards.model import (
    Figure,
    Headline,
    Light,
    ReportData,
    SectionOutput,
    findings_of,
    headline,
    latest_result,
    run_light,
    scaled,
)
from dashboards.plots import histogram, lines
from dashboards.registry import register
from monitor.durations import format_duration
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
        findings = findings_of(data, "freshness", "embeddings")
        html = render(
            "freshness.html.j2",
            run=run,
            latest=latest,
            emb=embeddings,
            edits=_edits(latest),
            figures=figures,
            queue=queue,
            ages=_ages(latest, queue),
            finding_for={
                f.document: f.anchor for f in reversed(findings) if f.document is not None
            },
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
            findings=findings,
            fix_rows=[item.document for item in queue],
        )

    def _headlines(self, data: ReportData) -> list[Headline]:
        return [
            headline(scaled(data.series("stale_share"), 100), "stale chunks", "%"),
            headline(data.series("chunks", **{"class": "orphaned"}), "orphaned chunks"),
            headline(data.series("documents", **{"class": "missing"}), "documents never indexed"),
            headline(
                data.series("staleness_age_seconds", stat="p95"), "staleness age p95", DURATION
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
            f"{stat}": data.series("staleness_age_seconds", stat=stat)
            for stat in ("p50", "p95", "max")
        }
        if any(ages.values()):
            figures.append(
                Figure(
                    id="freshness-age",
                    title="Staleness age over time",
                    spec=lines(ages, y_title="behind the source", unit=DURATION),
                )
            )
        doc_ages = [
            d.stale_age_seconds
            for d in (latest.by_document.values() if latest else ())
            if d.stale_age_seconds is not None
        ]
        if doc_ages:
            figures.append(
                Figure(
                    id="freshness-age-distribution",
                    title="Staleness age of stale documents (latest run)",
                    spec=histogram(
                        doc_ages,
                        x_title="behind the source",
                        unit=DURATION,
                        same="All {n} stale documents are {value} behind their source.",
                        one="The one stale document is {value} behind its source.",
                    ),
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


def _ages(latest: FreshnessResult | None, queue: Sequence[FixItem]) -> dict[str, tuple[float, str]]:
    """Per fix-queue document: how long it has waited, in seconds and as text.

    Stale documents have their exact age in the audit; the fix queue keeps the others to
    a hundredth of a day, so a zero there means "under 7 minutes", not "0 s".
    """
    exact = {
        doc: d.stale_age_seconds
        for doc, d in (latest.by_document.items() if latest else ())
        if d.stale_age_seconds is not None
    }
    out = {}
    for item in queue:
        seconds = exact.get(item.document)
        if seconds is not None:
            out[item.document] = (seconds, format_duration(seconds))
        elif item.age_days is not None:
            text = format_duration(item.age_days * DAY) if item.age_days else "under 7 min"
            out[item.document] = (item.age_days * DAY, text)
    return out


def _csv(queue: Sequence[FixItem]) -> bytes:
    out = io.StringIO()
    write_fix_queue_csv(out, queue)
    return out.getvalue().encode("utf-8")


register(FreshnessSection())
