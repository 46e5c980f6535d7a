"""The runs section: every job run in the window with its status, duration and error."""

from __future__ import annotations

from typing import Any

from dashboards.model import ReportData, SectionOutput
from dashboards.registry import register


class RunsSection:
    key = "runs"
    title = "Runs"
    signal: str | None = None

    def build(self, data: ReportData, render: Any) -> SectionOutput:
        runs = list(reversed(data.runs))
        durations = {
            r.id: round((r.finished_at - r.started_at).total_seconds(), 3)
            if r.finished_at
            else None
            for r in runs
        }
        failed = sum(1 for r in runs if r.status in ("failed", "interrupted"))
        return SectionOutput(
            html=render("runs.html.j2", runs=runs, durations=durations, failed=failed),
            data={
                "runs": [
                    {
                        "id": r.id,
                        "job": r.job,
                        "started_at": r.started_at.isoformat(),
                        "status": str(r.status),
                        "duration_seconds": durations[r.id],
                        "error": r.error,
                        "summary": r.summary,
                    }
                    for r in runs
                ]
            },
        )


register(RunsSection())
