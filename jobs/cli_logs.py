"""`ragmon trace`: an answer, the chunks it was grounded on, and the document versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from jobs.clicore import EXIT_USAGE, CliError, Settings, pass_settings


@click.command()
@click.argument("response_id")
@click.option("--json", "as_json", is_flag=True, help="Print the chain as JSON.")
@pass_settings
def trace(settings: Settings, response_id: str, as_json: bool) -> None:
    """Print the chain answer -> chunks -> source documents and versions of one response.

    Each chunk shows its class when the response was ingested (fresh, stale, suspect,
    orphaned, moved, untraceable, unknown, unknown_chunk), the document it came from, the
    version it was embedded from and the version the freshness audit saw.

    \b
    Example:
      ragmon trace 4bf92f3577b34da6a3ce929d0e0e4736
    """
    from monitor.history.response_reads import trace_response

    found = trace_response(settings.history(), response_id)
    if found is None:
        raise CliError(
            f"No response with id {response_id!r} in the history. "
            "Ingest the logs first: ragmon run ingest-logs",
            EXIT_USAGE,
        )
    if as_json:
        import json
        from dataclasses import asdict

        click.echo(json.dumps(asdict(found), indent=2, default=str))
        return
    for line in render_trace(found):
        click.echo(line)


def render_trace(found: Any) -> list[str]:
    """The chain as plain lines (text from the logs printed literally, no markup)."""
    when = datetime.fromtimestamp(found.at_us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    where = f"{found.file}:{found.line}" if found.file and found.line else found.file or "-"
    lines = [
        f"response {found.id}  {when}  ({found.format}, {where})",
        f"  query:  {_one_line(found.query)}",
        f"  answer: {_one_line(found.answer)}",
    ]
    if found.grounding is not None or found.feedback is not None:
        lines.append(f"  grounding: {_fmt(found.grounding)}  feedback: {found.feedback or '-'}")
    lines.append(f"  chunks ({len(found.chunks)}, rank order):")
    for c in found.chunks:
        score = f"{c.score:.4f} {c.score_kind}" if c.score is not None else "no score"
        lines.append(
            f"    {c.position + 1}. {c.chunk_id or '(no id)'}  [{c.chunk_class or 'unknown'}]  "
            f"{score}"
        )
        if c.source_id:
            now = c.current_version or "gone"
            changed = (
                ""
                if not (c.source_version and c.current_version)
                else "  (unchanged)"
                if c.source_version == c.current_version
                else "  (changed since)"
            )
            lines.append(
                f"       -> {c.source_id}  embedded from {_short(c.source_version)}, "
                f"now {_short(now)}{changed}"
            )
        audit = f"freshness run {c.freshness_run}" if c.freshness_run else "no freshness run"
        lines.append(f"       ({audit})")
    return lines


def _one_line(text: str | None, limit: int = 200) -> str:
    if not text:
        return "-"
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _short(version: str | None) -> str:
    if not version:
        return "unknown version"
    kind, _, value = version.partition(":")
    return f"{kind}:{value[:12]}" if kind == "sha256" else version


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
