"""The `ragmon` command line. Each command parses, calls the library, and renders.

Exit codes: 0 healthy, 1 findings above threshold, 2 usage or config error,
3 runtime failure. Heavy libraries are imported inside commands, so `--help` is fast.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from jobs.clicore import (
    EXIT_FINDINGS,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_RUNTIME,
    EXIT_USAGE,
    CliError,
    RagmonGroup,
    Settings,
    pass_settings,
    sigterm_as_interrupt,
)
from monitor import __version__


@click.group(cls=RagmonGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ragmon")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("RAGMON_CONFIG", "ragmon.toml"),
    show_default="ragmon.toml, or $RAGMON_CONFIG",
    help="Configuration file.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for cron).")
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also append log records to this file.",
)
@click.pass_context
def cli(
    ctx: click.Context, config_path: Path, verbose: int, quiet: bool, log_file: Path | None
) -> None:
    """Watch a RAG pipeline for the upstream drift that ends as hallucinations.

    \b
    Quick start:
      ragmon init --store-path ./chroma --sources ./docs
      ragmon run freshness
      ragmon status
    """
    level = (
        logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    )
    from jobs.logformat import FORMAT, OneLineFormatter

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if isinstance(exc, FileExistsError | NotADirectoryError):
                reason = "a part of its directory is a file, not a directory"
            raise CliError(
                f"--log-file {log_file}: cannot open it for appending ({reason})", EXIT_USAGE
            ) from None
        file_handler.setLevel(logging.INFO)
        handlers.append(file_handler)
    for handler in handlers:
        handler.setFormatter(OneLineFormatter(FORMAT))
    logging.basicConfig(
        level=min(level, logging.INFO) if log_file else level,
        handlers=handlers,
        force=True,
    )
    handlers[0].setLevel(level)
    ctx.obj = Settings(config_path, verbose, quiet)


@cli.command()
@click.option("--store-path", type=click.Path(file_okay=False), help="Embedded Chroma directory.")
@click.option("--host", help="Chroma server host (instead of --store-path).")
@click.option("--port", type=int, default=8000, show_default=True, help="Chroma server port.")
@click.option("--collection", default="docs", show_default=True, help="Collection to watch.")
@click.option(
    "--sources",
    "sources_root",
    default="docs",
    show_default=True,
    help="Directory of source documents.",
)
@click.option(
    "--inspect", is_flag=True, help="Sample the collection and propose the metadata mapping."
)
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@pass_settings
def init(
    settings: Settings,
    store_path: str | None,
    host: str | None,
    port: int,
    collection: str,
    sources_root: str,
    inspect: bool,
    force: bool,
) -> None:
    """Write a commented starter config (ragmon.toml).

    \b
    Example:
      ragmon init --store-path ./chroma --collection docs --sources ./docs --inspect
    """
    from jobs.setup import render_config, sample_mapping
    from jobs.ui import console

    if store_path and host:
        raise click.UsageError("give --store-path or --host, not both")
    path = settings.config_path
    if path.exists() and not force:
        raise CliError(f"{path} already exists. Use --force to overwrite it.", EXIT_USAGE)
    preset, rewrite = "auto", None
    if inspect:
        root = path.parent / sources_root
        proposal = sample_mapping(store_path, host, port, collection, root)
        console(settings.quiet).print(proposal.describe(), markup=False)
        preset = proposal.preset or "auto"
        rewrite = proposal.rewrite.toml if proposal.rewrite else None
    path.write_text(
        render_config(
            store_path=store_path or (None if host else "chroma"),
            host=host,
            port=port,
            collection=collection,
            sources_root=sources_root,
            preset=preset,
            path_rewrite=rewrite,
        ),
        encoding="utf-8",
    )
    if not settings.quiet:
        click.echo(f"Wrote {path}. Check [sources] root, then: ragmon run freshness")


@cli.command()
@click.argument(
    "source_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False
)
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.option(
    "--allow-mass-delete",
    is_flag=True,
    help="Delete even more than index.max_delete_share of the collection in this run.",
)
@pass_settings
def index(
    settings: Settings, source_dir: Path | None, dry_run: bool, allow_mass_delete: bool
) -> None:
    """Chunk, embed and write SOURCE_DIR into the configured collection.

    Only documents whose text changed are re-embedded; chunks of deleted documents are
    removed, but never those of a document that could not be read, and a run that would
    delete more than index.max_delete_share (20%) of the collection exits 2 and writes
    nothing unless --allow-mass-delete is given. SOURCE_DIR defaults to [sources] root.
    With --dry-run nothing is written and the exit code is 1 when the store is behind its
    sources.

    \b
    Example:
      ragmon index ./docs
    """
    from jobs.setup import run_index
    from monitor.errors import MassDeleteError

    try:
        changed = run_index(
            settings.config(),
            source_dir,
            dry_run=dry_run,
            quiet=settings.quiet,
            allow_mass_delete=allow_mass_delete,
        )
    except MassDeleteError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if dry_run and changed:
        sys.exit(EXIT_FINDINGS)


class _RunCommand(click.Command):
    """`ragmon run`: its help lists the registered jobs, read from the registry."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from jobs import registry

        rows = [
            (spec.name, f"{spec.description} [{spec.schedule}]")
            for spec in registry.all_jobs().values()
        ]
        with formatter.section("Jobs"):
            formatter.write_dl(rows)
        super().format_epilog(ctx, formatter)


@cli.command("run", cls=_RunCommand)
@click.argument("names", nargs=-1, required=True, metavar="JOB... | all")
@click.option("--json", "as_json", is_flag=True, help="Print each job's result as JSON.")
@click.option(
    "--full", is_flag=True, help="Ignore incremental state (freshness re-hashes every source)."
)
@pass_settings
def run_jobs(settings: Settings, names: tuple[str, ...], as_json: bool, full: bool) -> None:
    """Run jobs now and record them; the exit code tells their health.

    Each job runs under its lock: while another run of it is in progress (from cron,
    `ragmon schedule` or another host) it is skipped with a message. With several jobs
    the exit code is the most serious one: 3, then 1, then 4.

    \b
    0  every job healthy          1  a threshold was crossed
    2  usage or config error      3  a job failed to run, or was interrupted
    4  skipped: another run of the job is in progress
    Example (crontab):
      0 * * * *  ragmon --quiet run freshness
    """
    from jobs import registry
    from jobs.runner import execute, standard_hooks
    from jobs.ui import render_outcome
    from monitor.errors import JobLockedError
    from monitor.records import RunStatus

    config = settings.config()
    jobs = registry.all_jobs()
    wanted = list(jobs) if names == ("all",) else [registry.get(n).name for n in names]
    history = settings.history()
    worst = EXIT_OK
    skipped = False
    for name in registry.ordered(wanted):
        if names == ("all",) and not registry.is_enabled(jobs[name], config):
            continue
        try:
            with sigterm_as_interrupt():
                outcome = execute(jobs[name], config, history, full=full, hooks=standard_hooks())
        except JobLockedError as exc:
            skipped = True
            click.echo(str(exc), err=True)
            if as_json:
                click.echo(json.dumps({"job": name, "status": "skipped", "error": str(exc)}))
            continue
        except KeyboardInterrupt:
            raise CliError(f"{name}: interrupted (recorded as such)", EXIT_RUNTIME) from None
        if as_json:
            click.echo(json.dumps(outcome_json(outcome), indent=2, sort_keys=True))
        else:
            render_outcome(outcome, quiet=settings.quiet)
        if outcome.error is not None:
            worst = max(worst, EXIT_USAGE if outcome.config_error else EXIT_RUNTIME)
        elif outcome.status is RunStatus.FINDINGS:
            worst = max(worst, EXIT_FINDINGS)
    sys.exit(EXIT_LOCKED if skipped and worst == EXIT_OK else worst)


def outcome_json(outcome: Any) -> dict[str, Any]:
    """``--json``: the run, its gate rules (``thresholds``) and the job's typed result."""
    result = outcome.result
    return {
        "job": outcome.job,
        "run_id": outcome.run_id,
        "status": str(outcome.status),
        "error": outcome.error,
        "summary": result.summary if result else None,
        "thresholds": [
            {
                "rule": gate.rule,
                "labels": dict(gate.labels),
                "value": gate.value,
                "op": gate.op,
                "threshold": gate.threshold,
                "crossed": gate.firing,
            }
            for gate in (result.gates if result else ())
        ],
        "result": dict(result.details) if result else None,
    }


@cli.command("fix-queue")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@pass_settings
def fix_queue(settings: Settings, fmt: str) -> None:
    """List, per document, what brings the store back in line with its sources.

    Read from the last completed freshness run: re-embed (stale or partially indexed),
    delete (orphaned), re-point (moved), ingest (missing) or review (suspect, conflicting
    duplicates); oldest first.

    \b
    Example:
      ragmon fix-queue --format csv > fix-queue.csv
    """
    from jobs.setup import last_details, queue_with_retrievals
    from jobs.ui import render_fix_queue

    history = settings.history()
    details = last_details(history, "freshness")
    if details is None:
        raise CliError("No completed freshness run yet. Run: ragmon run freshness", EXIT_USAGE)
    render_fix_queue(queue_with_retrievals(history, details, settings.config()), fmt)


@cli.command()
@pass_settings
def status(settings: Settings) -> None:
    """Show the last run of each job, its result, its next slot, and overdue jobs.

    Exits 1 when a job is overdue or its last run failed.

    \b
    Example:
      ragmon status
    """
    from jobs.status import job_statuses
    from jobs.ui import render_status

    rows = job_statuses(settings.config(), settings.history())
    render_status(rows, quiet=settings.quiet)
    if any(r.overdue_since or r.failed for r in rows):
        sys.exit(EXIT_FINDINGS)


@cli.command()
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".ragmon-demo"),
    show_default=True,
    help="Working directory for the demo (recreated).",
)
@click.option(
    "--days",
    type=click.IntRange(min=3),
    default=30,
    show_default=True,
    help="Simulated span in days (it ends at the coming midnight, UTC).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the app's questions, answers and users: same seed, same figures.",
)
@pass_settings
def demo(settings: Settings, workdir: Path, days: int, seed: int) -> None:
    """Simulate a month of a RAG application, and ragmon watching it, in a few minutes.

    Indexes the bundled sample corpus into an embedded Chroma collection; then, day by
    day on a simulated clock, the sources drift (edits, a moved folder, a deleted page, a
    new page, a bad re-chunk, another embedding model on part of the collection), the
    application answers questions from the collection and logs them, and every job runs
    on its schedule. Ends with the planted problems and the report section showing each.

    \b
    Example:
      ragmon demo --dir /tmp/ragmon-demo --days 30 --seed 1
    """
    from jobs.demo import run_demo

    run_demo(workdir, days=days, seed=seed, quiet=settings.quiet)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ragmon")


# Commands that live in their own modules register here, one line each.
from jobs import cli_report  # noqa: E402

cli.add_command(cli_report.report)
cli.add_command(cli_report.metrics)
from jobs import cli_schedule  # noqa: E402

cli.add_command(cli_schedule.crontab)
cli.add_command(cli_schedule.schedule)
from jobs import cli_alerts  # noqa: E402

cli.add_command(cli_alerts.alerts)
from jobs import cli_grounding  # noqa: E402

cli.add_command(cli_grounding.grounding)

from jobs import cli_baseline  # noqa: E402

cli.add_command(cli_baseline.baseline)

from jobs import cli_logs  # noqa: E402

cli.add_command(cli_logs.trace)
