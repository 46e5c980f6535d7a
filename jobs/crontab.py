"""`ragmon crontab`: crontab lines that run each enabled job on its schedule.

Each line calls this installation's ragmon by absolute path with the absolute config
path, so it works from cron's bare environment, and with ``--quiet``, so cron only mails
when a run is not healthy. Schedules are UTC: a ``CRON_TZ=UTC`` line makes cronie read
them so; other crons use the system's time zone.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from jobs import registry
from jobs.schedules import parse_cron
from monitor.config import Config
from monitor.errors import ConfigError


@dataclass(frozen=True, kw_only=True, slots=True)
class CronEntry:
    """One job as a crontab line: its schedule and the command cron runs, or disabled."""

    job: str
    description: str
    schedule: str | None
    """None when the job is disabled in the config."""
    command: str


def ragmon_executable() -> Path | None:
    """This installation's ``ragmon`` console script, as an absolute path."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "ragmon" and argv0.is_file():
        return argv0.absolute()
    beside_python = Path(sys.executable).parent / "ragmon"
    if beside_python.is_file():
        return beside_python.absolute()
    found = shutil.which("ragmon")
    return Path(found).absolute() if found else None


def crontab_entries(
    config: Config, *, config_path: Path, executable: Path, log_file: Path | None = None
) -> list[CronEntry]:
    """One entry per registered job, in dependency order.

    Raises `ConfigError` for an enabled job whose schedule has six fields (seconds), which
    only `ragmon schedule` understands.
    """
    entries = []
    for spec in registry.all_jobs().values():
        enabled = registry.is_enabled(spec, config)
        schedule = registry.schedule_of(spec, config)
        if enabled and parse_cron(schedule).has_seconds:
            raise ConfigError(
                config.file or "config",
                f"jobs.{spec.name}.schedule",
                f"{schedule!r} has six fields (seconds first), which only `ragmon schedule` "
                "understands; system cron counts in minutes. Give five fields "
                "(minute hour day month weekday) to use cron.",
            )
        words = [str(executable.absolute()), "-c", str(config_path.absolute()), "--quiet"]
        if log_file is not None:
            words += ["--log-file", str(log_file.absolute())]
        words += ["run", spec.name]
        entries.append(
            CronEntry(
                job=spec.name,
                description=spec.description,
                schedule=schedule if enabled else None,
                command=_cron_escape(shlex.join(words)),
            )
        )
    return entries


def render_crontab(entries: list[CronEntry], *, config_path: Path, user: str | None = None) -> str:
    """The crontab text: a header, ``CRON_TZ=UTC``, and a commented line per job."""
    config = config_path.absolute()
    lines = [
        f"# ragmon jobs from {config} (printed by `ragmon crontab`).",
        "# Exit codes: 0 healthy, 1 threshold crossed, 2 config error, 3 failed,",
        "# 4 skipped because another run of the job is in progress.",
        "# Schedules are UTC: CRON_TZ makes cronie read them so; other crons use the",
        "# system's time zone.",
        "CRON_TZ=UTC",
    ]
    for entry in entries:
        if entry.schedule is None:
            lines.append(f"# {entry.job}: disabled ([jobs.{entry.job}] enabled = false)")
            continue
        lines.append(f"# {entry.job}" + (f": {entry.description}" if entry.description else ""))
        who = f" {user}" if user else ""
        lines.append(f"{entry.schedule}{who} {entry.command}")
    return "\n".join(lines) + "\n"


def _cron_escape(command: str) -> str:
    """cron turns an unescaped ``%`` in a command into a newline."""
    return command.replace("%", r"\%")
