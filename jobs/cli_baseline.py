"""`ragmon baseline set | show | clear`: pin the run a job compares itself with."""

from __future__ import annotations

import click

from jobs.clicore import EXIT_USAGE, CliError, Settings, pass_settings

BASELINE_JOBS = ("chunking",)
"""Jobs that compare each run with a reference and honour a pinned one."""


@click.group()
def baseline() -> None:
    """Pin the reference run a job's drift is measured against.

    Without a pin, the chunking job compares each run with the previous one
    ([chunking_quality] reference = "baseline" uses the pin when there is one).

    \b
    Example:
      ragmon run chunking && ragmon baseline set chunking
      ragmon baseline show
      ragmon baseline clear chunking
    """


@baseline.command("set")
@click.argument("job", type=click.Choice(BASELINE_JOBS))
@click.option(
    "--run", "run_id", type=int, help="Pin this run id (default: the last completed run)."
)
@pass_settings
def set_baseline(settings: Settings, job: str, run_id: int | None) -> None:
    """Pin the last completed run of JOB (or --run ID) as its reference.

    \b
    Example:
      ragmon baseline set chunking
      ragmon baseline set chunking --run 42
    """
    from monitor.history.pins import pin_run
    from monitor.records import COMPLETED

    history = settings.history()
    if run_id is None:
        run = history.last_success(job)
        if run is None:
            raise CliError(
                f"No completed {job} run to pin. Run `ragmon run {job}` first.", EXIT_USAGE
            )
    else:
        run = next((r for r in history.runs(job, limit=100_000) if r.id == run_id), None)
        if run is None or run.status not in COMPLETED:
            raise CliError(
                f"Run {run_id} is not a completed {job} run. "
                f"List runs with `ragmon status` or pin the last one without --run.",
                EXIT_USAGE,
            )
    pin_run(history, job, run.id)
    if not settings.quiet:
        click.echo(
            f"Pinned run {run.id} ({run.started_at:%Y-%m-%d %H:%M} UTC) as the {job} baseline."
        )


@baseline.command("show")
@pass_settings
def show_baseline(settings: Settings) -> None:
    """Show the pinned run of every job that has one.

    \b
    Example:
      ragmon baseline show
    """
    from monitor.history.pins import pinned

    history = settings.history()
    for job in BASELINE_JOBS:
        pin = pinned(history, job)
        if pin is None:
            click.echo(f"{job}: no pinned baseline (compared with the previous run)")
        else:
            click.echo(f"{job}: run {pin.run_id}, pinned {pin.pinned_at:%Y-%m-%d %H:%M} UTC")


@baseline.command("clear")
@click.argument("job", type=click.Choice(BASELINE_JOBS))
@pass_settings
def clear_baseline(settings: Settings, job: str) -> None:
    """Drop JOB's pinned baseline; it compares with its previous run again.

    \b
    Example:
      ragmon baseline clear chunking
    """
    from monitor.history.pins import unpin

    removed = unpin(settings.history(), job)
    if not settings.quiet:
        click.echo(f"Cleared the {job} baseline." if removed else f"{job} had no pinned baseline.")
