"""Alerts from the jobs' side: the after-run hook, the `alerts` job, and job deadlines.

Every recorded run of any job is followed by an evaluation (the hook registered in
`jobs.runner.AFTER_RUN` when this module is imported, which the registry does whenever
jobs are listed or run). The `alerts` job does the same on its own schedule, so the dead
man's switch fires, and pending deliveries are retried, even while no other job runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from jobs import registry
from jobs.runner import AFTER_RUN, Outcome
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import JobDeadline, Metric, RunResult, RunStatus

if TYPE_CHECKING:
    from monitor.alerts.engine import AlertReport

log = logging.getLogger(__name__)

JOB = "alerts"


@registry.register(JOB, schedule="*/5 * * * *", after=("freshness", "embeddings"))
def run(config: Config, history: HistoryStore, *, full: bool = False) -> RunResult:
    """Re-evaluate alert rules and the dead man's switch; retry pending deliveries."""
    report = evaluate_alerts(config, history)
    if report is None:
        return RunResult(status=RunStatus.OK, summary="alerts are off ([alerts] enabled = false)")
    return RunResult(
        status=RunStatus.OK,
        summary=report.summary,
        metrics=(
            Metric(name="alerts_firing", value=len(report.firing)),
            Metric(name="alert_deliveries_pending", value=report.delivery.pending),
        ),
        details=report_json(report),
    )


def after_run(outcome: Outcome, config: Config, history: HistoryStore) -> None:
    """Evaluate alerts after a run of any job but `alerts` (which evaluates as its work)."""
    if outcome.job != JOB:
        evaluate_alerts(config, history)


if after_run not in AFTER_RUN:
    AFTER_RUN.append(after_run)


def evaluate_alerts(
    config: Config,
    history: HistoryStore,
    *,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    stdout: TextIO | None = None,
) -> AlertReport | None:
    """One evaluation with the configured rules and channels; None when alerts are off.

    ``now`` and ``sleep`` are the clock and the backoff's sleep, for tests.
    """
    from monitor.alerts.channels import build_channels
    from monitor.alerts.engine import evaluate

    settings = config.alerts
    if not settings.enabled:
        return None
    now = now or datetime.now(UTC)
    channels = build_channels(settings.channels, base_dir=config.base_dir, stdout=stdout)
    return evaluate(
        settings,
        history,
        channels,
        now=now,
        deadlines=job_deadlines(config, history, now),
        report=report_location(config),
        sleep=sleep,
    )


def job_deadlines(config: Config, history: HistoryStore, now: datetime) -> list[JobDeadline]:
    """Each enabled job's schedule against its last success.

    A job that never succeeded counts from its first run: a job failing since the day it
    was set up is overdue too. A job that never ran at all is not (``ragmon status`` says
    "never run").
    """
    from jobs.schedules import overdue_since
    from monitor.history.alerts import AlertStore

    grace = config.alerts.dead_mans_switch.grace
    store = AlertStore(history)
    deadlines = []
    for spec in registry.all_jobs().values():
        job_settings = config.jobs.get(spec.name)
        if job_settings is not None and not job_settings.enabled:
            continue
        schedule = registry.schedule_of(spec, config)
        success = history.last_success(spec.name)
        last = success.finished_at if success is not None else None
        reference = last if last is not None else store.first_run_started(spec.name)
        deadlines.append(
            JobDeadline(
                job=spec.name,
                schedule=schedule,
                last_success_at=last,
                overdue_since=overdue_since(schedule, reference, now, grace=grace),
            )
        )
    return deadlines


def report_location(config: Config) -> str | None:
    """``alerts.report_url``: a URL as given, a path made absolute from the config's dir."""
    where = config.alerts.report_url
    if not where:
        return None
    if "://" in where:
        return where
    path = Path(where)
    return str(path if path.is_absolute() else config.base_dir / path)


def report_json(report: AlertReport) -> dict[str, Any]:
    """The `alerts` job's machine-readable result (``ragmon run alerts --json``)."""
    return {
        "schema": "ragmon.alerts/1",
        "evaluations": report.evaluations,
        "firing": [
            {
                "fingerprint": a.fingerprint,
                "rule": a.rule,
                "severity": a.severity.value,
                "labels": dict(a.labels),
                "summary": a.summary,
                "since": a.since.isoformat(),
                "acked": a.acked_at is not None,
            }
            for a in report.firing
        ],
        "queued": [{"id": n.id, "kind": n.kind.value, "rule": n.rule} for n in report.queued],
        "delivered": report.delivery.delivered,
        "pending": report.delivery.pending,
        "failures": dict(report.delivery.failures),
        "broken_rules": list(report.broken_rules),
    }
