"""Loading one report's data from the history store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from dashboards.model import AlertView, JobHealth, ReportData
from monitor.history import HistoryStore
from monitor.history.queries import jobs_seen, latest_details, points_since, runs_since
from monitor.history.responses import document_retrievals, low_grounding_by_document
from monitor.logs.values import epoch_us

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
) -> ReportData:
    """Runs and figures since ``since``, plus the last result of every job."""
    details = {}
    for job in jobs_seen(history):
        found = latest_details(history, job)
        if found is not None:
            details[job] = found
    return ReportData(
        title=title,
        generated_at=now,
        since=since,
        runs=runs_since(history, since),
        points=points_since(history, since),
        details=details,
        retrievals=document_retrievals(history, since_us=epoch_us(now - RETRIEVAL_WINDOW)),
        low_grounding=low_grounding_by_document(
            history,
            since_us=epoch_us(now - RETRIEVAL_WINDOW),
            low_bands=low_bands,
            low_below=low_below,
        ),
        health=list(health),
        alerts=list(alerts),
    )
