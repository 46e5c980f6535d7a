"""One definition of "overdue" for `status`, the dead man's switch, the report and /metrics.

A job is overdue when the first slot of its schedule after its last successful run has
passed by more than ``[alerts.dead_mans_switch] grace``. A job that never succeeded
counts from its first run (failing since the day it was set up is overdue too); a job
that never ran at all is not (`status` says "never run"); a disabled job never is.
"""

from __future__ import annotations

from datetime import datetime

from jobs import registry
from jobs.registry import JobSpec
from jobs.schedules import overdue_since
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.history.alerts import AlertStore
from monitor.records import JobDeadline


def deadline(spec: JobSpec, config: Config, history: HistoryStore, now: datetime) -> JobDeadline:
    """``spec``'s schedule against its last success, and since when it is overdue."""
    schedule = registry.schedule_of(spec, config)
    success = history.last_success(spec.name)
    last = success.finished_at if success is not None else None
    if not registry.is_enabled(spec, config):
        return JobDeadline(
            job=spec.name, schedule=schedule, last_success_at=last, overdue_since=None
        )
    reference = last if last is not None else AlertStore(history).first_run_started(spec.name)
    return JobDeadline(
        job=spec.name,
        schedule=schedule,
        last_success_at=last,
        overdue_since=overdue_since(
            schedule, reference, now, grace=config.alerts.dead_mans_switch.grace
        ),
    )


def deadlines(config: Config, history: HistoryStore, now: datetime) -> list[JobDeadline]:
    """The deadline of every enabled job, in dependency order."""
    return [
        deadline(spec, config, history, now)
        for spec in registry.all_jobs().values()
        if registry.is_enabled(spec, config)
    ]
