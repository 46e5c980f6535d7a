"""Terminal rendering with rich: summaries, tables and progress bars.

Text from outside (paths, chunk text, error messages, summaries that quote them) is never
parsed as rich markup or emoji codes: it goes through `literal`, which escapes markup and
puts control characters (a newline in a file name) on one line as ``\\n``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from jobs.runner import Outcome
    from jobs.status import JobStatus
    from monitor.freshness.fixqueue import FixItem

_STYLE = {
    "ok": "green",
    "findings": "yellow",
    "failed": "red",
    "interrupted": "red",
    "running": "cyan",
}


def console(quiet: bool = False, *, stderr: bool = False) -> Console:
    """A rich console; quiet consoles print nothing."""
    from rich.console import Console

    # emoji=False: a file named ":warning:.md" is shown as such.
    out = Console(quiet=quiet, stderr=stderr, highlight=False, soft_wrap=False, emoji=False)
    if not out.is_terminal:
        out.width = 120  # cron mail and CI logs: tables sized for a wide page ...
        out.soft_wrap = True  # ... and lines never broken, so a name stays greppable
    return out


@contextlib.contextmanager
def progress_bar(quiet: bool = False) -> Iterator[Progress]:
    """A progress bar on stderr that disappears when done (and never shows when quiet)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    err = console(quiet, stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet or not err.is_terminal,
    ) as bar:
        yield bar


def literal(text: object) -> str:
    """``text`` as rich markup that shows it exactly, on one line."""
    from rich.markup import escape

    from monitor.text import printable

    return escape(printable(str(text)))


def render_outcome(outcome: Outcome, *, quiet: bool) -> None:
    """One job's result: status line, summary, top findings. Errors print even when quiet."""
    job = literal(outcome.job)
    if outcome.error is not None:
        console(stderr=True).print(f"[red]{job}: failed[/] — {literal(outcome.error)}")
        return
    result = outcome.result
    assert result is not None
    out = console(quiet and result.status == "ok")
    style = _STYLE.get(result.status, "white")
    out.print(f"[bold]{job}[/] [{style}]{result.status}[/]: {literal(result.summary)}")
    render_findings(out, result.findings)


def render_findings(out: Console, findings: Sequence[Any], *, limit: int = 12) -> None:
    for finding in list(findings)[:limit]:
        style = {"critical": "red", "warning": "yellow"}.get(finding.severity, "dim")
        where = f" {literal(finding.source_id)}" if finding.source_id else ""
        kind = literal(f"{finding.kind:<20}")
        out.print(f"  [{style}]{kind}[/]{where}: {literal(finding.message)}")
    if len(findings) > limit:
        out.print(f"  … and {len(findings) - limit} more (ragmon run --json for all)")


def render_status(rows: Sequence[JobStatus], *, quiet: bool) -> None:
    from rich.table import Table

    table = Table(title="ragmon jobs", title_justify="left")
    # The fixed columns keep their full width; only the result is cut to fit the screen.
    widths = {
        "job": max([3, *(len(r.name) for r in rows)]),
        "schedule": max([8, *(len(r.schedule) for r in rows)]),
        "last run": 20,
        "next run": 20,
        "health": max([6, *(len(r.health) for r in rows)]),
    }
    for column, width in widths.items():
        table.add_column(column, no_wrap=True, min_width=width)
    out = console(quiet and not any(r.overdue_since or r.failed for r in rows))
    room = out.width - sum(widths.values()) - 3 * len(widths) - 4
    table.add_column("result", overflow="ellipsis", no_wrap=True, max_width=max(20, room))
    for row in rows:
        last = row.last
        result = ""
        if last is not None:
            style = _STYLE.get(last.status, "white")
            result = f"[{style}]{last.status}[/] {literal(last.summary or last.error or '')}"
        table.add_row(
            literal(row.name),
            literal(row.schedule),
            _when(last.started_at) if last else "never",
            _when(row.next_run),
            row.health,
            result,
        )
    out.print(table)


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def render_fix_queue(items: Sequence[FixItem], fmt: str) -> None:
    """The fix queue as a table, JSON, or CSV on stdout."""
    import json
    import sys

    from monitor.freshness.fixqueue import FIX_QUEUE_COLUMNS, fix_queue_rows, write_fix_queue_csv

    if fmt == "json":
        sys.stdout.write(json.dumps(fix_queue_rows(items), indent=2) + "\n")
        return
    if fmt == "csv":
        write_fix_queue_csv(sys.stdout, items)
        return
    from rich.table import Table

    table = Table(title=f"fix queue ({len(items)} documents)", title_justify="left")
    for column in FIX_QUEUE_COLUMNS:
        # A document name is never broken across lines (it is what a reader greps for).
        table.add_column(column, no_wrap=column in ("document", "target"))
    for row in fix_queue_rows(items):
        table.add_row(*("" if row[c] is None else literal(row[c]) for c in FIX_QUEUE_COLUMNS))
    console().print(table)
