"""Alerts from the jobs' side: the after-run hook, the `alerts` job, and job deadlines.

Every recorded run of any job is followed by an evaluation (`after_run`, which the CLI,
the scheduler and the demo pass to `jobs.runner.execute` through `standard_hooks`). The
`alerts` job does the same on its own schedule, so the dead man's switch fires, and
pending deliveries are retried, even while no other job runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from jobs import registry
from monitor.clock import now as current_time
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import JobDeadline, Metric, RunResult, RunStatus

if TYPE_CHECKING:
    from jobs.runner import Outcome
    from monitor.alerts.engine import AlertReport

log = logging.getLogger(__name__)

JOB = "alerts"


@registry.register(JOB, schedule="*/5 * * * *", after_signals=True)
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


def evaluate_alerts(
    config: Config,
    history: HistoryStore,
    *,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    stdout: TextIO | None = None,
) -> AlertReport | None:
    """One evaluation with the configured rules and channels; None when alerts are off.

    ``now`` is the time of the evaluation; ``sleep`` and ``clock`` pace delivery retries
    (the retry budget is measured on ``clock``), for tests.
    """
    from monitor.alerts.channels import build_channels
    from monitor.alerts.engine import evaluate

    settings = config.alerts
    if not settings.enabled:
        return None
    now = now or current_time()
    channels = build_channels(settings.channels, base_dir=config.base_dir, stdout=stdout)
    return evaluate(
        settings,
        history,
        channels,
        now=now,
        deadlines=job_deadlines(config, history, now),
        report=report_location(config),
        sleep=sleep,
        clock=clock,
    )


def job_deadlines(config: Config, history: HistoryStore, now: datetime) -> list[JobDeadline]:
    """Each enabled job's deadline (`jobs.deadlines`), for the dead man's switch."""
    from jobs.deadlines import deadlines

    return deadlines(config, history, now)


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
