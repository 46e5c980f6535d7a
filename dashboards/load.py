"""Loading one report's data from the history store."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

from dashboards.model import AlertView, JobHealth, ReportData
from monitor.history import HistoryStore
from monitor.history.queries import jobs_seen, latest_details, points_since, runs_since
from monitor.history.response_reads import document_retrievals, low_grounding_by_document
from monitor.logs.values import epoch_us
from monitor.records import RunRecord, RunStatus

RETRIEVAL_WINDOW = timedelta(days=7)
"""Retrievals shown in the report's fix queue cover this window."""


def load_report_data(
    history: HistoryStore,
    *,
    title: str,
    since: datetime,
    now: datetime,
    health: Sequence[JobHealth] = (),
    alerts: Sequence[AlertView] = (),
    low_bands: Sequence[str] = ("disclaim", "partial", "escalate"),
    low_below: float = 0.8,
    writer: str | None = None,
) -> ReportData:
    """Runs and figures since ``since``, plus the last result and findings of every job.

    ``writer`` names the job whose run is writing this report (``report``): that run is
    still open while the page is drawn, and would read "running" on the page forever. It
    is shown as it will be once the page is written: finished, healthy, at ``now``.
    """
    details = {}
    findings = {}
    for job in jobs_seen(history):
        found = latest_details(history, job)
        if found is not None:
            details[job] = found
            findings[job] = history.findings(found[0].id)
    runs = runs_since(history, since)
    health = list(health)
    if writer is not None:
        runs = _finished_writer(runs, writer, now)
        health = [_finished_health(h, now) if h.job == writer else h for h in health]
    return ReportData(
        title=title,
        generated_at=now,
        since=since,
        runs=runs,
        points=points_since(history, since),
        details=details,
        findings=findings,
        retrievals=document_retrievals(history, since_us=epoch_us(now - RETRIEVAL_WINDOW)),
        low_grounding=low_grounding_by_document(
            history,
            since_us=epoch_us(now - RETRIEVAL_WINDOW),
            low_bands=low_bands,
            low_below=low_below,
        ),
        health=health,
        alerts=list(alerts),
    )


def _finished_writer(runs: list[RunRecord], writer: str, now: datetime) -> list[RunRecord]:
    """``runs`` with the writer's latest open run closed at ``now``."""
    open_runs = [i for i, r in enumerate(runs) if r.job == writer and r.status == "running"]
    if not open_runs:
        return runs
    i = open_runs[-1]
    own = dataclasses.replace(
        runs[i],
        status=RunStatus.OK,
        finished_at=now,
        summary="this report",
    )
    return [*runs[:i], own, *runs[i + 1 :]]


def _finished_health(health: JobHealth, now: datetime) -> JobHealth:
    return dataclasses.replace(
        health, last_status=str(RunStatus.OK), last_success=now, overdue_since=None
    )
