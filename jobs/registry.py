"""The job registry: each job module registers itself once, and everything reads this.

The CLI (`run`, `run all`, `status`), the crontab printer, the scheduler, the dead man's
switch, the report and `/metrics` all list jobs from here. A new job is one new module
with its `register` call, and its name in `JOB_MODULES`. A job that measures something
(a *signal*) says so, and brings its built-in alert rules with it; `report` and `alerts`
run after every signal job without naming them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.alerts.builtin import BuiltinRule, BuiltinRules, resolve_builtin_rules
from monitor.errors import ConfigError, JobNotFoundError

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.records import RunResult

JobFunction = Callable[..., "RunResult"]
"""``run(config, history, *, full=False) -> RunResult``; ``full`` drops incremental state."""

JOB_MODULES: tuple[str, ...] = (
    "jobs.freshness",
    "jobs.chunking",
    "jobs.embeddings",
    "jobs.relevance",
    "jobs.ingest_logs",
    "jobs.grounding",
    "jobs.correlate",
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
    signal: bool = False
    """It measures the pipeline (its figures feed the report and the alert rules)."""
    after_signals: bool = False
    """It runs after every signal job (the report, the alert evaluation)."""
    rules: tuple[BuiltinRule, ...] = ()
    """Its built-in alert rules; those marked ``gate`` also decide its exit code."""
    description: str = ""
    module: str = ""


_JOBS: dict[str, JobSpec] = {}


def register(
    name: str,
    *,
    schedule: str,
    after: Iterable[str] = (),
    signal: bool = False,
    after_signals: bool = False,
    rules: Iterable[BuiltinRule] = (),
    description: str = "",
) -> Callable[[JobFunction], JobFunction]:
    """Decorator: register ``function`` as the job ``name``."""

    def decorate(function: JobFunction) -> JobFunction:
        _JOBS[name] = JobSpec(
            name=name,
            run=function,
            schedule=schedule,
            after=tuple(after),
            signal=signal,
            after_signals=after_signals,
            rules=tuple(rules),
            description=description or (function.__doc__ or "").strip().splitlines()[0],
            module=function.__module__,
        )
        return function

    return decorate


def all_jobs() -> dict[str, JobSpec]:
    """Every job registered by a module of `JOB_MODULES`, by name, in dependency order."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    registered = {n: s for n, s in _JOBS.items() if s.module in JOB_MODULES}
    return {name: registered[name] for name in _ordered(registered, registered)}


def get(name: str) -> JobSpec:
    jobs = all_jobs()
    if name not in jobs:
        raise JobNotFoundError(name, list(jobs))
    return jobs[name]


def ordered(names: Iterable[str]) -> list[str]:
    """``names`` with every job after the jobs it runs after (stable otherwise)."""
    return _ordered(all_jobs(), names)


def signals() -> list[str]:
    """The jobs that measure a signal, in dependency order."""
    return [name for name, spec in all_jobs().items() if spec.signal]


def _ordered(jobs: Mapping[str, JobSpec], names: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(names))
    signal_jobs = [n for n, s in jobs.items() if s.signal]
    done: list[str] = []
    visiting: set[str] = set()

    def before(name: str) -> list[str]:
        spec = jobs.get(name)
        if spec is None:
            return []
        return [*spec.after, *(signal_jobs if spec.after_signals else ())]

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise ValueError(f"job dependency cycle through {name!r}")
        visiting.add(name)
        for earlier in before(name):
            if earlier in wanted:
                visit(earlier)
        visiting.discard(name)
        done.append(name)

    for name in wanted:
        visit(name)
    return done


def is_enabled(spec: JobSpec, config: Config) -> bool:
    """Whether `[jobs.NAME] enabled` leaves the job on (the default)."""
    settings = config.jobs.get(spec.name)
    return settings.enabled if settings is not None else True


def schedule_of(spec: JobSpec, config: Config) -> str:
    """The job's cron expression: the config's, else its registered default."""
    settings = config.jobs.get(spec.name)
    return settings.schedule if settings and settings.schedule else spec.schedule


def builtin_rules(data: Mapping[str, Any]) -> BuiltinRules:
    """The built-in alert rules of every job, with the config's alias keys applied."""
    return resolve_builtin_rules(
        {spec.name: spec.rules for spec in all_jobs().values() if spec.rules}, data
    )


def load_config(path: Path | str) -> Config:
    """Read, validate and check a config file with the registered jobs' built-in rules."""
    from monitor.config import load_config as load

    config = load(path, builtin_rules=builtin_rules)
    check_job_config(config)
    return config


def config_from_dict(
    data: dict[str, Any], *, base_dir: Path, file: Path | None = None, text: str = ""
) -> Config:
    """`monitor.config.config_from_dict` with the registered jobs' built-in rules."""
    from monitor.config import config_from_dict as validate

    return validate(data, base_dir=base_dir, file=file, text=text, builtin_rules=builtin_rules)


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
