"""The `report` job and `ragmon report`: history -> static HTML, JSON and Prometheus text."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.registry import register
from monitor import clock
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import Metric, RunResult, RunStatus

if TYPE_CHECKING:
    from dashboards.frame import ReportFiles
    from dashboards.model import AlertView, JobHealth

log = logging.getLogger(__name__)


@register("report", schedule="30 6 * * *", after_signals=True)
def run(config: Config, history: HistoryStore, *, full: bool = False) -> RunResult:
    """Write the HTML drift report from the stored history."""
    files = build_report(config, history, writer="report")
    return RunResult(
        status=RunStatus.OK,
        summary=f"wrote {files.index} ({files.size_bytes / 1024:.0f} KiB)",
        metrics=(Metric(name="report_bytes", value=files.size_bytes),),
        details={"index": str(files.index), "data": str(files.data)},
    )


def build_report(
    config: Config,
    history: HistoryStore,
    *,
    out_dir: Path | None = None,
    since: timedelta | None = None,
    now: datetime | None = None,
    writer: str | None = None,
) -> ReportFiles:
    """Render the report of the last ``since`` (default `[report] since_days`).

    ``writer`` is the job writing it from its own run (the `report` job): the page shows
    that run as finished, not as the "running" it is while the page is drawn.
    """
    from dashboards.frame import write_report
    from dashboards.load import load_report_data
    from jobs.setup import low_bands

    now = now or clock.now()
    window = since or timedelta(days=config.report.since_days)
    data = load_report_data(
        history,
        title=config.report.title,
        since=now - window,
        now=now,
        health=job_health(config, history, now=now),
        alerts=alert_views(config, history),
        low_bands=low_bands(config),
        low_below=config.grounding.bands.cite,
        writer=writer,
    )
    return write_report(data, out_dir or config.report.out_dir)


def job_health(
    config: Config, history: HistoryStore, *, now: datetime | None = None
) -> list[JobHealth]:
    """The monitor's own health per registered job, for the overview and /metrics."""
    from dashboards.model import JobHealth
    from jobs.status import job_statuses

    return [
        JobHealth(
            job=s.name,
            schedule=s.schedule,
            last_success=s.last_success.finished_at if s.last_success else None,
            last_status=str(s.last.status) if s.last else None,
            next_run=s.next_run,
            overdue_since=s.overdue_since,
        )
        for s in job_statuses(config, history, now=now)
    ]


def alert_views(config: Config, history: HistoryStore) -> list[AlertView]:
    """Firing alerts for the overview, each tied to the signal whose light it colours."""
    from dashboards.model import AlertView
    from monitor.alerts.deadman import INGESTION_RULE, JOB_RULE
    from monitor.history.alerts import AlertStore

    jobs = {rule.name: rule.job for rule in config.alerts.rules}
    signal_of = {JOB_RULE: "monitor", INGESTION_RULE: "freshness"}
    return [
        AlertView(
            rule=state.rule,
            severity=str(state.severity),
            signal=signal_of.get(state.rule) or jobs.get(state.rule) or "monitor",
            message=state.summary,
            since=state.since,
        )
        for state in AlertStore(history).states()
    ]


def prometheus_text(config: Config, history: HistoryStore) -> bytes:
    """The latest figures of every job as Prometheus text."""
    from dashboards.prometheus import exposition
    from jobs import registry
    from monitor.history.queries import latest_points

    points = latest_points(history, registry.all_jobs())
    return exposition(points, job_health(config, history))
