"""`ragmon alerts list | test | ack`."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from jobs.clicore import EXIT_RUNTIME, EXIT_USAGE, CliError, Settings, pass_settings
from monitor import clock

if TYPE_CHECKING:
    from monitor.history.alerts import OutboxCount
    from monitor.records import AlertState


@click.group()
def alerts() -> None:
    """Alert state, test messages through every channel, acknowledgements.

    Rules and channels are set in [alerts] of ragmon.toml; alerts are evaluated after
    every job run and by the `alerts` job.

    \b
    Example:
      ragmon alerts list
      ragmon alerts test
      ragmon alerts ack 3f2a9c --note "re-index scheduled for tonight"
    """


@alerts.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also list resolved alerts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def list_alerts(settings: Settings, show_all: bool, as_json: bool) -> None:
    """List firing alerts (with --all, resolved ones too) and deliveries still pending.

    \b
    Example:
      ragmon alerts list --all
    """
    from monitor.history.alerts import AlertStore

    store = AlertStore(settings.history())
    states = store.states(include_resolved=show_all)
    pending = store.pending()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "alerts": [_state_json(s) for s in states],
                    "pending": [_pending_json(p) for p in pending],
                },
                indent=2,
            )
        )
        return
    if not settings.quiet:
        click.echo(render_states(states, show_all=show_all), nl=False)
        click.echo(render_pending(pending), nl=False)


@alerts.command("test")
@click.option(
    "--channel", "only", multiple=True, metavar="NAME", help="Only this channel (repeatable)."
)
@pass_settings
def test_channels(settings: Settings, only: tuple[str, ...]) -> None:
    """Send a test message through every configured channel; say how each went.

    The message goes out straight away with the usual retries and is not stored. Exits 3
    when a channel failed.

    \b
    Example:
      ragmon alerts test --channel team-slack
    """
    from jobs.alerts import report_location
    from monitor.alerts.channels import build_channels
    from monitor.alerts.engine import send_test

    config = settings.config()
    channels = build_channels(config.alerts.channels, base_dir=config.base_dir)
    if not channels.channels:
        raise CliError(
            "No alert channels are configured. Add one as [alerts.channels.NAME] in "
            f"{settings.config_path} (see the commented examples `ragmon init` writes).",
            EXIT_USAGE,
        )
    unknown = sorted(set(only) - set(channels.channels))
    if unknown:
        raise CliError(
            f"No alert channel named {', '.join(map(repr, unknown))}. Configured: "
            f"{', '.join(channels.channels)}.",
            EXIT_USAGE,
        )
    results = send_test(
        channels,
        config.alerts.retry,
        now=clock.now(),
        report=report_location(config),
        only=only,
    )
    for name, attempt in results.items():
        where = channels.redactor(channels.channels[name].describe())
        if attempt.delivered:
            click.echo(f"{name}: delivered ({where})")
        else:
            click.echo(
                f"{name}: FAILED after {attempt.attempts} attempt(s): {attempt.error} ({where})"
            )
    if not all(a.delivered for a in results.values()):
        sys.exit(EXIT_RUNTIME)


@alerts.command("ack")
@click.argument("fingerprint")
@click.option("--note", help="Why; shown by `ragmon alerts list`.")
@click.option("--by", "who", help="Who acknowledges (default: the current user).")
@pass_settings
def ack(settings: Settings, fingerprint: str, note: str | None, who: str | None) -> None:
    """Acknowledge a firing alert: no repeats until it resolves (the resolve is still sent).

    FINGERPRINT may be shortened to any unique prefix, as `ragmon alerts list` shows it.

    \b
    Example:
      ragmon alerts ack 3f2a9c --note "re-index scheduled for tonight"
    """
    from monitor.history.alerts import AlertStore

    store = AlertStore(settings.history())
    state = store.ack(fingerprint, by=who or _user(), note=note, now=clock.now())
    if not settings.quiet:
        click.echo(
            f"Acknowledged {state.fingerprint} ({state.rule}): no repeats until it resolves."
        )


def render_states(states: Sequence[AlertState], *, show_all: bool) -> str:
    """The alerts as aligned plain-text columns (stable for scripts and tests)."""
    if not states:
        return "No alerts firing.\n" if not show_all else "No alerts yet.\n"
    header = ("FINGERPRINT", "STATE", "SEVERITY", "RULE", "SINCE", "SUMMARY")
    rows = [header]
    for s in states:
        state = str(s.status)
        if s.acked_at is not None:
            state = f"acked by {s.acked_by}" + (f" ({s.ack_note})" if s.ack_note else "")
        rows.append(
            (
                s.fingerprint,
                state,
                str(s.severity),
                s.rule,
                f"{s.since:%Y-%m-%d %H:%M} UTC",
                s.summary,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def render_pending(pending: Sequence[OutboxCount]) -> str:
    if not pending:
        return ""
    lines = ["", "Pending deliveries (retried by the next run):"]
    for p in pending:
        error = f"; last error: {p.last_error}" if p.last_error else ""
        lines.append(f"  {p.channel}: {p.pending} notification(s), {p.attempts} attempt(s){error}")
    return "\n".join(lines) + "\n"


def _state_json(s: AlertState) -> dict[str, Any]:
    return {
        "fingerprint": s.fingerprint,
        "rule": s.rule,
        "labels": dict(s.labels),
        "severity": str(s.severity),
        "status": str(s.status),
        "summary": s.summary,
        "value": s.value,
        "since": s.since.isoformat(),
        "last_notified_at": s.last_notified_at.isoformat() if s.last_notified_at else None,
        "resolved_at": s.resolved_at.isoformat() if s.resolved_at else None,
        "acked_at": s.acked_at.isoformat() if s.acked_at else None,
        "acked_by": s.acked_by,
        "ack_note": s.ack_note,
        "notifications": s.notifications,
    }


def _pending_json(p: OutboxCount) -> dict[str, Any]:
    return {
        "channel": p.channel,
        "pending": p.pending,
        "attempts": p.attempts,
        "last_error": p.last_error,
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USER", "unknown")
