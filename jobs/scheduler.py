"""`ragmon schedule`: the registered jobs on an APScheduler 3.x scheduler in the foreground.

APScheduler stays inside this module. Its jobs live in the history database
(``SQLAlchemyJobStore``, table ``apscheduler_jobs``) and name what they run by text,
``jobs.scheduler:scheduled_run`` with the job's name and the config path as arguments, so
a restarted scheduler finds each job with the slot it was due next. Slots missed while it
was stopped are run once (coalesced) when the last of them is within
``[scheduler] misfire_grace_seconds``, and reported either way.

Every run goes through `jobs.runner.execute`, so the job's lock keeps a scheduled run and
a `ragmon run` of the same job (from cron, or on another host) from overlapping; a slot
that finds the lock taken is skipped and logged.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs import registry
from jobs.schedules import next_fire, parse_cron
from monitor.config import Config
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from sqlalchemy import Engine

    from monitor.history import HistoryStore

log = logging.getLogger(__name__)

JOB_TABLE = "apscheduler_jobs"
RUN_REF = "jobs.scheduler:scheduled_run"
"""What the job store calls, by text: a module-level function of picklable arguments."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ScheduledJob:
    """A job as the scheduler runs it: its schedule and its next slot."""

    name: str
    schedule: str
    next_run: datetime | None


def scheduled_jobs(config: Config, *, now: datetime | None = None) -> list[ScheduledJob]:
    """The enabled jobs, in dependency order, with their schedules and next slots."""
    now = now or datetime.now(UTC)
    found = []
    for spec in registry.all_jobs().values():
        if not registry.is_enabled(spec, config):
            continue
        schedule = registry.schedule_of(spec, config)
        found.append(
            ScheduledJob(name=spec.name, schedule=schedule, next_run=next_fire(schedule, now))
        )
    return found


def scheduled_run(job: str, config_path: str) -> str:
    """Run ``job`` as the scheduler does; the job store refers to this function by text.

    Reads the config afresh (so changed thresholds apply from the next run, and a job
    disabled since the start is left alone), runs the job under its lock and logs the
    outcome. Never raises: returns the run's status, ``"skipped"`` when another run of the
    job holds the lock or already served this slot (another scheduler on the same
    history), ``"disabled"`` or ``"failed"`` when it could not start.
    """
    from jobs.runner import execute, standard_hooks
    from jobs.schedules import previous_fire
    from monitor.errors import JobLockedError, MonitorError, SlotServedError
    from monitor.history import HistoryStore

    with _RUNNING.track(job):
        try:
            config = registry.load_config(config_path)
            with _OPENING:
                history = HistoryStore.open(config.history_url)
        except MonitorError as exc:
            log.error("%s: not run: %s", job, exc)
            return "failed"
        if not registry.is_enabled(registry.get(job), config):
            history.engine.dispose()
            log.info("%s: disabled in the config; restart the scheduler to drop it", job)
            return "disabled"
        spec = registry.get(job)
        # The slot this call serves: the last one due (missed slots are coalesced into it).
        slot = previous_fire(registry.schedule_of(spec, config), datetime.now(UTC))
        try:
            outcome = execute(spec, config, history, slot=slot, hooks=standard_hooks())
        except JobLockedError as exc:
            log.warning("skipped: %s", exc)
            return "skipped"
        except SlotServedError as exc:
            log.info("skipped: %s", exc)
            return "skipped"
        except Exception as exc:  # the lock table unusable, say: log, keep scheduling
            log.error("%s: not run: %s", job, exc, exc_info=not isinstance(exc, MonitorError))
            return "failed"
        finally:
            history.engine.dispose()
    if outcome.result is not None and outcome.error is None:
        level = logging.INFO if outcome.status == "ok" else logging.WARNING
        log.log(level, "%s %s: %s", job, outcome.status, outcome.result.summary)
    return str(outcome.status)


def _ensure_job_table(engine: Engine) -> None:
    """Create APScheduler's job table unless it exists, tolerating a second scheduler that
    creates it at the same moment (on PostgreSQL two ``CREATE TABLE`` of one name race on
    the catalog and one fails: the table is there all the same)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    store = SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)
    try:
        store.jobs_t.create(engine, checkfirst=True)
    except SQLAlchemyError:
        if not inspect(engine).has_table(JOB_TABLE):
            raise
        log.debug("%s was created by another scheduler at the same moment", JOB_TABLE)


class _Running:
    """The jobs this process is running now, so a stopping scheduler can wait for them."""

    def __init__(self) -> None:
        self._jobs: Counter[str] = Counter()
        self._changed = threading.Condition()

    @contextmanager
    def track(self, job: str) -> Iterator[None]:
        with self._changed:
            self._jobs[job] += 1
        try:
            yield
        finally:
            with self._changed:
                self._jobs[job] -= 1
                if self._jobs[job] <= 0:
                    del self._jobs[job]
                self._changed.notify_all()

    def names(self) -> list[str]:
        with self._changed:
            return sorted(self._jobs)

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._jobs, timeout)


_RUNNING = _Running()
_OPENING = threading.Lock()
"""Jobs due at the same slot open the history store one at a time: Alembic, which checks
and migrates the schema, keeps its state in module globals and is not thread-safe."""


class Scheduler:
    """The enabled jobs on a `BlockingScheduler`: `run` blocks until `stop` is called."""

    def __init__(self, config: Config, config_path: Path):
        """Raises `ConfigError` when every job is disabled."""
        self.config = config
        self.config_path = config_path.absolute()
        self.jobs = scheduled_jobs(config)
        """The enabled jobs, with their next slots as of now."""
        if not self.jobs:
            raise ConfigError(
                config.file or "config",
                "jobs",
                "every job is disabled, so there is nothing to schedule",
            )
        self._guard = threading.Lock()
        self._scheduler: BlockingScheduler | None = None
        self._stop_requested = threading.Event()
        self._force = threading.Event()
        self._finished = threading.Event()

    def run(self) -> bool:
        """Schedule the enabled jobs and run them until `stop`.

        Returns True when every running job finished, False when some were recorded as
        interrupted (a second `stop`, or ``[scheduler] stop_timeout_seconds`` passed).
        """
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.blocking import BlockingScheduler

        from monitor.history import HistoryStore

        jobs = self.jobs
        history = HistoryStore.open(self.config.history_url)
        try:
            scheduler = BlockingScheduler(
                jobstores={
                    "default": SQLAlchemyJobStore(engine=history.engine, tablename=JOB_TABLE)
                },
                executors={"default": ThreadPoolExecutor(max_workers=len(jobs))},
                timezone=UTC,
            )
            _ensure_job_table(history.engine)
            self._add_jobs(scheduler, history.engine, jobs)
            scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
            with self._guard:
                if self._stop_requested.is_set():
                    return True
                self._scheduler = scheduler
            scheduler.start()  # returns once `stop` has shut it down
            return self._drain(history)
        finally:
            self._finished.set()
            history.engine.dispose()

    def stop(self) -> None:
        """Ask the scheduler to stop; safe to call from a signal handler.

        The first call starts no new run and lets running jobs finish (for up to
        ``[scheduler] stop_timeout_seconds``); a second call interrupts them.
        """
        if self._stop_requested.is_set():
            self._force.set()
            return
        self._stop_requested.set()
        threading.Thread(target=self._shutdown, name="ragmon-scheduler-stop", daemon=True).start()

    def _shutdown(self) -> None:
        from apscheduler.schedulers import SchedulerNotRunningError

        while not self._finished.is_set():
            with self._guard:
                scheduler = self._scheduler
            if scheduler is not None:
                try:
                    scheduler.shutdown(wait=False)
                    return
                except SchedulerNotRunningError:
                    pass  # not started yet: try again in a moment
            time.sleep(0.05)

    def _add_jobs(
        self, scheduler: BlockingScheduler, engine: Engine, jobs: list[ScheduledJob]
    ) -> None:
        """Put each job in the store; an unchanged job keeps the slot it was due next."""
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from sqlalchemy import inspect

        stored: dict[str, Any] = {}
        store = SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)
        if inspect(engine).has_table(JOB_TABLE):
            stored = {job.id: job for job in store.get_all_jobs()}
        grace = self.config.scheduler.misfire_grace_seconds
        now = datetime.now(UTC)
        for job in jobs:
            trigger = parse_cron(job.schedule).trigger(UTC)
            args = (job.name, str(self.config_path))
            options: dict[str, Any] = {
                "trigger": trigger,
                "args": args,
                "id": job.name,
                "name": job.name,
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": grace,
                "replace_existing": True,
            }
            previous = stored.pop(job.name, None)
            if (
                previous is not None
                and previous.func_ref == RUN_REF
                and tuple(previous.args) == args
                and repr(previous.trigger) == repr(trigger)
                and previous.next_run_time is not None
            ):
                options["next_run_time"] = previous.next_run_time
                _report_missed(job.name, trigger, previous.next_run_time, now, grace)
            scheduler.add_job(RUN_REF, **options)
        for name in stored:
            store.remove_job(name)
            log.info("%s: removed from the scheduler (disabled, or no longer registered)", name)

    def _on_event(self, event: Any) -> None:
        from apscheduler.events import EVENT_JOB_MISSED

        if event.code == EVENT_JOB_MISSED:
            log.warning(
                "%s: the %s UTC slot was missed by more than [scheduler] "
                "misfire_grace_seconds (%d s)",
                event.job_id,
                f"{event.scheduled_run_time:%Y-%m-%d %H:%M:%S}",
                self.config.scheduler.misfire_grace_seconds,
            )
        else:
            log.warning(
                "%s: skipped the %s UTC slot: its previous run is still going",
                event.job_id,
                ", ".join(f"{t:%Y-%m-%d %H:%M:%S}" for t in event.scheduled_run_times),
            )

    def _drain(self, history: HistoryStore) -> bool:
        """Wait for running jobs; record them as interrupted if they do not finish."""
        running = _RUNNING.names()
        timeout = self.config.scheduler.stop_timeout_seconds
        if running:
            log.warning(
                "stopping: waiting for %s to finish (up to %d s; signal again to interrupt)",
                ", ".join(running),
                timeout,
            )
        deadline = time.monotonic() + timeout
        while not _RUNNING.wait_idle(0.1):
            if self._force.is_set() or time.monotonic() >= deadline:
                self._interrupt(history)
                return False
        log.info("scheduler stopped")
        return True

    def _interrupt(self, history: HistoryStore) -> None:
        from monitor.history.locks import JobLocks, process_owner

        locks = JobLocks(history.engine)
        for lease in locks.held_by(process_owner()):
            locks.interrupt(lease, "interrupted: ragmon schedule was stopped while it ran")
            log.warning(
                "%s: stopped before it finished; run %s recorded as interrupted",
                lease.job,
                lease.run_id,
            )


def _report_missed(
    job: str, trigger: CronTrigger, due: datetime, now: datetime, grace: int
) -> None:
    """Say which slots passed while the scheduler was stopped, and what happens now."""
    missed: list[datetime] = []
    slot: datetime | None = due
    while slot is not None and slot <= now and len(missed) < 10_000:
        missed.append(slot)
        slot = trigger.get_next_fire_time(slot, now)
    if not missed:
        return
    last = missed[-1]
    span = f"{missed[0]:%Y-%m-%d %H:%M:%S}" + (
        f" to {last:%Y-%m-%d %H:%M:%S}" if len(missed) > 1 else ""
    )
    if (now - last).total_seconds() <= grace:
        then = "running it once now"
    else:
        then = (
            f"the last is more than [scheduler] misfire_grace_seconds ({grace} s) ago, "
            f"so it waits for its next slot ({slot:%Y-%m-%d %H:%M:%S} UTC)"
            if slot
            else "the last is past the misfire grace time"
        )
    log.warning(
        "%s: %d slot%s missed while the scheduler was stopped (%s UTC); %s",
        job,
        len(missed),
        "" if len(missed) == 1 else "s",
        span,
        then,
    )


def stop_on_signals(scheduler: Scheduler) -> None:
    """Make SIGTERM and SIGINT stop ``scheduler``; a second signal interrupts running jobs."""

    def handler(signum: int, frame: object) -> None:
        scheduler.stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def exit_now(code: int) -> None:
    """Exit at once, leaving job threads that were recorded as interrupted behind."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
