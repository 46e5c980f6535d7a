"""`ragmon report` and `ragmon metrics`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from jobs.clicore import EXIT_RUNTIME, EXIT_USAGE, CliError, Settings, pass_settings


def _window(value: str | None) -> timedelta | None:
    from monitor.durations import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write to (default: [report] out_dir).",
)
@click.option(
    "--since",
    "since",
    metavar="30d",
    help="Window of history to draw: hours, days or weeks (30d, 72h, 12w).",
)
@click.option("--serve", is_flag=True, help="Then serve it on localhost, read-only, with /metrics.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8050,
    show_default=True,
    help="Port for --serve (0: any free port).",
)
@pass_settings
def report(
    settings: Settings, out_dir: Path | None, since: str | None, serve: bool, port: int
) -> None:
    """Write the HTML drift report (opens offline) and a JSON of every figure.

    \b
    Example:
      ragmon report --out /var/www/ragmon --since 30d
      ragmon report --serve --port 8050
    """
    from jobs.report import build_report, prometheus_text

    try:
        window = _window(since)
    except click.BadParameter as exc:
        raise CliError(f"--since: {exc.message}", EXIT_USAGE) from None
    config, history = settings.config(), settings.history()
    files = build_report(config, history, out_dir=out_dir, since=window)
    if not settings.quiet:
        click.echo(f"Report: {files.index.resolve()}")
    if serve:
        from dashboards.serve import make_server

        try:
            server = make_server(
                files.index.parent,
                lambda: prometheus_text(config, history),
                files=files.names,
                port=port,
            )
        except OSError as exc:
            raise CliError(
                f"Cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}. "
                "Choose another port with --port (0 picks a free one).",
                EXIT_RUNTIME,
            ) from None
        host, bound = server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        click.echo(
            f"Serving http://{host}:{bound}/ (read-only; /metrics for Prometheus). Ctrl-C stops."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


@click.command()
@click.option(
    "--prometheus",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write (atomically), e.g. for node_exporter.",
)
@pass_settings
def metrics(settings: Settings, target: Path) -> None:
    """Write the latest figures in the Prometheus text exposition format.

    \b
    Example (node_exporter textfile collector):
      ragmon metrics --prometheus /var/lib/node_exporter/textfile/ragmon.prom
    """
    from dashboards.prometheus import write_textfile
    from jobs import registry
    from jobs.report import job_health
    from monitor.history.queries import latest_points

    config, history = settings.config(), settings.history()
    write_textfile(target, latest_points(history, registry.all_jobs()), job_health(config, history))
    if not settings.quiet:
        click.echo(f"Wrote {target}")
