"""`ragmon status`: per job, the last run, its result, the next slot and overdue state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jobs import registry
from jobs.deadlines import deadline
from jobs.schedules import next_fire
from monitor import clock
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.history.locks import JobLocks
from monitor.records import JobLease, RunRecord, RunStatus


@dataclass(frozen=True, kw_only=True, slots=True)
class JobStatus:
    name: str
    schedule: str
    enabled: bool
    last: RunRecord | None
    last_success: RunRecord | None
    next_run: datetime | None
    overdue_since: datetime | None
    lock: JobLease | None = None
    """The job's lock: a run in progress, or (expired) one left by a killed process."""
    lock_expired: bool = False

    @property
    def failed(self) -> bool:
        return self.last is not None and self.last.status in (
            RunStatus.FAILED,
            RunStatus.INTERRUPTED,
        )

    @property
    def health(self) -> str:
        if self.lock is None:
            return self._schedule_health
        lock = self.lock
        if self.lock_expired:
            held = (
                f"stale lock of {lock.holder} (expired {lock.expires_at:%Y-%m-%d %H:%M} UTC; "
                "the next run takes it over)"
            )
        else:
            held = f"running since {lock.acquired_at:%Y-%m-%d %H:%M} UTC ({lock.holder})"
        return f"{held}; {self._schedule_health}" if self.overdue_since else held

    @property
    def _schedule_health(self) -> str:
        if not self.enabled:
            return "disabled"
        if self.overdue_since is not None:
            return f"OVERDUE since {self.overdue_since:%Y-%m-%d %H:%M} UTC"
        if self.failed:
            return "last run failed"
        if self.last is None:
            return "never run"
        return "on time"


def job_statuses(
    config: Config, history: HistoryStore, *, now: datetime | None = None
) -> list[JobStatus]:
    """The status of every registered job."""
    now = now or clock.now()
    locks = {lease.job: lease for lease in JobLocks(history.engine).leases()}
    rows = []
    for spec in registry.all_jobs().values():
        schedule = registry.schedule_of(spec, config)
        last_runs = history.runs(spec.name, limit=1)
        lock = locks.get(spec.name)
        due = deadline(spec, config, history, now)
        rows.append(
            JobStatus(
                name=spec.name,
                schedule=schedule,
                enabled=registry.is_enabled(spec, config),
                last=last_runs[0] if last_runs else None,
                last_success=history.last_success(spec.name),
                next_run=next_fire(schedule, now),
                overdue_since=due.overdue_since,
                lock=lock,
                lock_expired=lock is not None and lock.expired(now),
            )
        )
    return rows
