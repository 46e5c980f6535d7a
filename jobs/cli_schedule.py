"""`ragmon crontab` and `ragmon schedule`: the registered jobs from system cron, or from
ragmon's own scheduler. Both read the same schedules and run jobs under the same locks."""

from __future__ import annotations

from pathlib import Path

import click

from jobs.clicore import EXIT_RUNTIME, EXIT_USAGE, CliError, Settings, pass_settings


@click.command()
@click.option(
    "--log-file",
    "job_log_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Make each line append its runs' log records to this file.",
)
@click.option("--user", help="Add this user column, for a file in /etc/cron.d.")
@click.option(
    "--executable",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The ragmon for cron to run (default: this one).",
)
@pass_settings
def crontab(
    settings: Settings, job_log_file: Path | None, user: str | None, executable: Path | None
) -> None:
    """Print crontab lines that run each enabled job on its schedule.

    Each line runs `ragmon --quiet run JOB` with absolute paths to this ragmon and to the
    config, so cron mails only runs that are not healthy; the exit code says why (1
    threshold, 3 failed, 4 skipped because the job was already running). Schedules come
    from [jobs.NAME] schedule, else each job's default, and are UTC. A six-field schedule
    (seconds) is refused: cron counts in minutes; use `ragmon schedule` for those.

    \b
    Example:
      (crontab -l 2>/dev/null; ragmon crontab --log-file /var/log/ragmon.log) | crontab -
    """
    from jobs.crontab import crontab_entries, ragmon_executable, render_crontab

    config = settings.config()
    executable = executable or ragmon_executable()
    if executable is None:
        raise CliError("Cannot find the ragmon executable. Give it with --executable.", EXIT_USAGE)
    entries = crontab_entries(
        config, config_path=settings.config_path, executable=executable, log_file=job_log_file
    )
    click.echo(render_crontab(entries, config_path=settings.config_path, user=user), nl=False)


@click.command()
@pass_settings
def schedule(settings: Settings) -> None:
    """Run the jobs on their schedules in the foreground, until SIGTERM or Ctrl-C.

    An APScheduler scheduler with cron triggers from the config ([jobs.NAME] schedule;
    here six fields, seconds first, are allowed) keeps its jobs in the history database.
    Slots missed while it was stopped run once when the last is within [scheduler]
    misfire_grace_seconds; each job runs one at a time, and its lock keeps it from
    overlapping a `ragmon run` of the same job from cron or another host.

    On SIGTERM or SIGINT no new run starts and running jobs finish (for up to [scheduler]
    stop_timeout_seconds; a second signal interrupts them). Exits 0, or 3 when a run had
    to be recorded as interrupted.

    \b
    Example:
      ragmon -v --log-file /var/log/ragmon.log schedule
    """
    from jobs.scheduler import Scheduler, exit_now, stop_on_signals
    from jobs.ui import console

    daemon = Scheduler(settings.config(), settings.config_path)
    stop_on_signals(daemon)
    out = console(settings.quiet)
    jobs = daemon.jobs
    out.print(f"ragmon scheduler: {len(jobs)} job{'' if len(jobs) == 1 else 's'}")
    for job in jobs:
        when = f"{job.next_run:%Y-%m-%d %H:%M:%S} UTC" if job.next_run else "never"
        out.print(f"  {job.name:<12} {job.schedule:<16} next {when}")
    out.print("Stop with Ctrl-C or SIGTERM: running jobs finish first.")
    if not daemon.run():
        exit_now(EXIT_RUNTIME)
