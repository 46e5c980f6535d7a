"""The responses section: logged responses over time, unknown chunk ids, quarantined lines."""

from __future__ import annotations

from typing import Any

from dashboards.model import Figure, Light, ReportData, SectionOutput, findings_of, headline
from dashboards.plots import lines
from dashboards.registry import register

REASONS = (
    "invalid_json",
    "missing_field",
    "wrong_type",
    "bad_time",
    "bad_score",
    "incomplete_trace",
)


class ResponsesSection:
    key = "responses"
    title = "Responses"
    signal: str | None = None

    def build(self, data: ReportData, render: Any) -> SectionOutput:
        found = data.details.get("ingest-logs")
        run, latest = found if found else (None, None)
        configured = bool(latest and latest.get("configured"))
        figures = self._figures(data) if configured else []
        quarantined = dict((latest or {}).get("quarantined_total") or {})
        html = render(
            "responses.html.j2",
            run=run,
            latest=latest if configured else None,
            figures=figures,
            quarantined=quarantined,
            reasons=[r for r in REASONS if r in quarantined]
            + sorted(r for r in quarantined if r not in REASONS),
        )
        light = Light.GREY
        if configured:
            light = Light.AMBER if (latest or {}).get("quarantined") else Light.GREEN
        return SectionOutput(
            html=html,
            figures=figures,
            headlines=[
                headline(data.series("responses_total"), "responses stored"),
                headline(data.series("unknown_chunk_refs"), "unknown chunk ids (last run)"),
            ],
            light=light,
            data={
                "latest": latest,
                "quarantined_total": quarantined,
                "series": {f.id: f.spec["data"] for f in figures},
            },
            findings=findings_of(data, "ingest-logs") if configured else [],
        )

    def _figures(self, data: ReportData) -> list[Figure]:
        figures = []
        volume = {"responses ingested": data.series("responses_ingested")}
        if any(volume.values()):
            figures.append(
                Figure(
                    id="responses-volume",
                    title="Responses ingested per run",
                    spec=lines(volume, y_title="responses"),
                )
            )
        unknown = {
            "retrieved chunk ids": data.series("retrieved_chunk_refs"),
            "unknown to the store": data.series("unknown_chunk_refs"),
        }
        if any(unknown["unknown to the store"]) or any(unknown["retrieved chunk ids"]):
            figures.append(
                Figure(
                    id="responses-unknown-chunks",
                    title="Retrieved chunk ids, and those unknown to the store, per run",
                    spec=lines(unknown, y_title="chunk ids"),
                )
            )
        rejects = {r: data.series("log_lines_quarantined", reason=r) for r in REASONS}
        if any(rejects.values()):
            figures.append(
                Figure(
                    id="responses-quarantine",
                    title="Quarantined log lines per run, by reason",
                    spec=lines(rejects, y_title="lines"),
                )
            )
        return figures


register(ResponsesSection())
