"""The job registry: each job module registers itself once, and everything reads this.

The CLI (`run`, `run all`, `status`), the crontab printer and the scheduler all list jobs
from here, so a new job is one new module plus its `register` call and its name in
`JOB_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.errors import ConfigError, JobNotFoundError

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.records import RunResult

JobFunction = Callable[..., "RunResult"]
"""``run(config, history, *, full=False) -> RunResult``; ``full`` drops incremental state."""

JOB_MODULES: tuple[str, ...] = (
    "jobs.freshness",
    "jobs.embeddings",
    "jobs.report",
    "jobs.alerts",
)
"""Modules that register jobs, imported on first use of the registry."""


@dataclass(frozen=True, kw_only=True, slots=True)
class JobSpec:
    """A registered job."""

    name: str
    run: JobFunction
    schedule: str
    """Default five-field cron expression; `[jobs.NAME] schedule` overrides it."""
    after: tuple[str, ...] = ()
    """Jobs that must run before this one in `run all`."""
    description: str = ""


_JOBS: dict[str, JobSpec] = {}
_loaded = False


def register(
    name: str, *, schedule: str, after: Iterable[str] = (), description: str = ""
) -> Callable[[JobFunction], JobFunction]:
    """Decorator: register ``function`` as the job ``name``."""

    def decorate(function: JobFunction) -> JobFunction:
        _JOBS[name] = JobSpec(
            name=name,
            run=function,
            schedule=schedule,
            after=tuple(after),
            description=description or (function.__doc__ or "").strip().splitlines()[0],
        )
        return function

    return decorate


def all_jobs() -> dict[str, JobSpec]:
    """Every registered job, by name, in dependency order."""
    global _loaded
    if not _loaded:
        for module in JOB_MODULES:
            importlib.import_module(module)
        _loaded = True
    return {name: _JOBS[name] for name in ordered(_JOBS)}


def get(name: str) -> JobSpec:
    jobs = all_jobs()
    if name not in jobs:
        raise JobNotFoundError(name, list(jobs))
    return jobs[name]


def ordered(names: Iterable[str]) -> list[str]:
    """``names`` with every job after the jobs it runs after (stable otherwise)."""
    wanted = list(dict.fromkeys(names))
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise ValueError(f"job dependency cycle through {name!r}")
        visiting.add(name)
        for before in _JOBS[name].after if name in _JOBS else ():
            if before in wanted:
                visit(before)
        visiting.discard(name)
        done.append(name)

    for name in wanted:
        visit(name)
    return done


def schedule_of(spec: JobSpec, config: Config) -> str:
    """The job's cron expression: the config's, else its registered default."""
    settings = config.jobs.get(spec.name)
    return settings.schedule if settings and settings.schedule else spec.schedule


def check_job_config(config: Config) -> None:
    """Reject `[jobs.NAME]` tables that name no job, and invalid cron expressions.

    Six fields (seconds first) pass here; `ragmon crontab` refuses them on its own.
    """
    from jobs.schedules import parse_cron

    jobs = all_jobs()
    file = config.file or "config"
    for name, settings in config.jobs.items():
        if name not in jobs:
            raise ConfigError(
                file, f"jobs.{name}", f"no such job (expected one of: {', '.join(jobs)})"
            )
        if settings.schedule:
            try:
                parse_cron(settings.schedule)
            except ValueError as exc:
                raise ConfigError(
                    file,
                    f"jobs.{name}.schedule",
                    f"expected a cron expression such as '0 * * * *' (six fields, seconds "
                    f"first, for `ragmon schedule` only), got {settings.schedule!r}: {exc}",
                ) from None
