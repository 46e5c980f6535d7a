"""Read-side queries over the history for reports and exporters: series, windows, latest."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from monitor.history.models import MetricRow, RunRow
from monitor.history.store import HistoryStore, _record
from monitor.records import COMPLETED, RunRecord


@dataclass(frozen=True, kw_only=True, slots=True)
class Point:
    """One stored figure at the time its run started."""

    run_id: int
    job: str
    at: datetime
    name: str
    value: float
    labels: dict[str, str]


def runs_since(history: HistoryStore, since: datetime) -> list[RunRecord]:
    """Every run started at or after ``since``, oldest first."""
    query = select(RunRow).where(RunRow.started_at >= since).order_by(RunRow.started_at, RunRow.id)
    with history.session() as session:
        return [_record(r) for r in session.scalars(query)]


def points_since(history: HistoryStore, since: datetime) -> list[Point]:
    """Every figure of every completed run since ``since``, oldest first, in one query."""
    query = (
        select(
            RunRow.id,
            RunRow.job,
            RunRow.started_at,
            MetricRow.name,
            MetricRow.value,
            MetricRow.labels,
        )
        .join(MetricRow, MetricRow.run_id == RunRow.id)
        .where(RunRow.started_at >= since, RunRow.status.in_(COMPLETED))
        .order_by(RunRow.started_at, RunRow.id, MetricRow.id)
    )
    with history.session() as session:
        return [
            Point(
                run_id=r[0],
                job=r[1],
                at=_aware(r[2]),
                name=r[3],
                value=r[4],
                labels=dict(r[5] or {}),
            )
            for r in session.execute(query)
        ]


def latest_points(history: HistoryStore, jobs: Iterable[str]) -> list[Point]:
    """The figures of the last completed run of each job."""
    out: list[Point] = []
    for job in jobs:
        run = history.last_success(job)
        if run is None:
            continue
        out += [
            Point(
                run_id=run.id,
                job=job,
                at=run.started_at,
                name=m.name,
                value=m.value,
                labels=dict(m.labels),
            )
            for m in history.metrics(run.id)
        ]
    return out


def latest_details(history: HistoryStore, job: str) -> tuple[RunRecord, Any] | None:
    """The last completed run of ``job`` and its machine-readable result."""
    run = history.last_success(job)
    return (run, history.details(run.id)) if run is not None else None


def jobs_seen(history: HistoryStore) -> list[str]:
    """Names of every job that has a run in the history."""
    with history.session() as session:
        return sorted(session.scalars(select(RunRow.job).distinct()))


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
