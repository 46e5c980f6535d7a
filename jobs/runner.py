"""Running a job under its lock: a run row when it starts, its results in one transaction
when it ends."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobs.registry import JobSpec
from monitor import clock
from monitor.alerts.gates import check_gates
from monitor.config import Config
from monitor.errors import ConfigError, MonitorError, SlotServedError
from monitor.history import HistoryStore
from monitor.history.alerts import AlertStore
from monitor.history.locks import JobLocks
from monitor.records import RunResult, RunStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """A finished run: its id and result, or the error that ended it."""

    job: str
    run_id: int
    result: RunResult | None
    error: str | None = None
    config_error: bool = False
    """The error is the configuration's (the CLI exits 2, not 3)."""

    @property
    def status(self) -> RunStatus:
        return self.result.status if self.result else RunStatus.FAILED


AfterRun = Callable[["Outcome", Config, HistoryStore], None]
"""Called after a recorded run (alert evaluation, say). A hook that raises is logged and
does not change the run's outcome."""


def standard_hooks() -> tuple[AfterRun, ...]:
    """What follows every run from the CLI, the scheduler and the demo: alert evaluation."""
    from jobs.alerts import after_run

    return (after_run,)


def execute(
    spec: JobSpec,
    config: Config,
    history: HistoryStore,
    *,
    full: bool = False,
    hooks: Sequence[AfterRun] = (),
    slot: datetime | None = None,
) -> Outcome:
    """Run one job under its lock and record it. Errors are recorded and returned, never lost.

    The job's gate rules (`monitor.alerts.gates`) set its status before it is stored;
    ``hooks`` run after it is stored, in order.

    Raises `JobLockedError`, recording nothing, while another run of the job (from cron,
    the scheduler or another host) holds the job's lock. The lock is held, and renewed,
    until the run's results are stored and the after-run hooks are done.

    ``slot``: the scheduled time this run serves. Raises `SlotServedError`, recording
    nothing, when a run of the job started at or after it (checked under the lock, so of
    two schedulers on one history only one serves each slot).
    """
    ttl = timedelta(seconds=config.scheduler.lock_ttl_seconds)
    with JobLocks(history.engine, ttl=ttl).hold(spec.name) as held:
        if slot is not None:
            newest = history.runs(spec.name, limit=1)
            if newest and newest[0].started_at >= slot:
                raise SlotServedError(spec.name, slot, newest[0].id, newest[0].started_at)
        outcome = _execute(spec, config, history, full=full, hooks=hooks, on_start=held.attach)
    result = outcome.result
    log.info(
        "%s: run %d %s: %s",
        spec.name,
        outcome.run_id,
        outcome.status,
        result.summary if result else outcome.error,
    )
    return outcome


def _execute(
    spec: JobSpec,
    config: Config,
    history: HistoryStore,
    *,
    full: bool,
    hooks: Sequence[AfterRun],
    on_start: Callable[[int], None],
) -> Outcome:
    started_at = clock.now()
    run_id = history.start_run(spec.name)
    log.info("%s: run %d started", spec.name, run_id)
    try:
        on_start(run_id)
        result = spec.run(config, history, full=full)
        result = check_gates(
            config.alerts.rules,
            result,
            job=spec.name,
            run_id=run_id,
            started_at=started_at,
            store=AlertStore(history),
        )
        history.finish_run(run_id, result)
    except (MonitorError, OSError) as exc:
        history.fail_run(run_id, str(exc))
        log.error("job %s failed: %s", spec.name, exc)
        failed = Outcome(
            job=spec.name,
            run_id=run_id,
            result=None,
            error=str(exc),
            config_error=isinstance(exc, ConfigError),
        )
        _after(failed, config, history, hooks)
        return failed
    except KeyboardInterrupt:
        history.fail_run(run_id, "interrupted", status=RunStatus.INTERRUPTED)
        raise
    except Exception as exc:
        history.fail_run(run_id, f"{type(exc).__name__}: {exc}")
        log.exception("job %s crashed", spec.name)
        crashed = Outcome(
            job=spec.name, run_id=run_id, result=None, error=f"{type(exc).__name__}: {exc}"
        )
        _after(crashed, config, history, hooks)
        return crashed
    outcome = Outcome(job=spec.name, run_id=run_id, result=result)
    _after(outcome, config, history, hooks)
    return outcome


def _after(
    outcome: Outcome, config: Config, history: HistoryStore, hooks: Sequence[AfterRun]
) -> None:
    for hook in hooks:
        try:
            hook(outcome, config, history)
        except Exception:
            log.exception("after-run hook %s failed for job %s", hook.__name__, outcome.job)
