"""Running a job under its lock: a run row when it starts, its results in one transaction
when it ends."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from jobs.registry import JobSpec
from monitor.config import Config
from monitor.errors import ConfigError, MonitorError
from monitor.history import HistoryStore
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
AFTER_RUN: list[AfterRun] = []
"""Called after every recorded run, in order (e.g. alert evaluation). A hook that raises
is logged and does not change the run's outcome."""


def execute(spec: JobSpec, config: Config, history: HistoryStore, *, full: bool = False) -> Outcome:
    """Run one job under its lock and record it. Errors are recorded and returned, never lost.

    Raises `JobLockedError`, recording nothing, while another run of the job (from cron,
    the scheduler or another host) holds the job's lock. The lock is held, and renewed,
    until the run's results are stored and the after-run hooks are done.
    """
    ttl = timedelta(seconds=config.scheduler.lock_ttl_seconds)
    with JobLocks(history.engine, ttl=ttl).hold(spec.name) as held:
        outcome = _execute(spec, config, history, full=full, on_start=held.attach)
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
    on_start: Callable[[int], None],
) -> Outcome:
    run_id = history.start_run(spec.name)
    log.info("%s: run %d started", spec.name, run_id)
    try:
        on_start(run_id)
        result = spec.run(config, history, full=full)
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
        _after(failed, config, history)
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
        _after(crashed, config, history)
        return crashed
    outcome = Outcome(job=spec.name, run_id=run_id, result=result)
    _after(outcome, config, history)
    return outcome


def _after(outcome: Outcome, config: Config, history: HistoryStore) -> None:
    for hook in AFTER_RUN:
        try:
            hook(outcome, config, history)
        except Exception:
            log.exception("after-run hook %s failed for job %s", hook.__name__, outcome.job)
