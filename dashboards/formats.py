"""How the report writes figures, durations, times and element ids: one place for each.

Every section and the frame format through these (the Jinja filters of
`dashboards.frame.environment` wrap them), so a number, a share or a duration reads the
same in a table, an overview card, a plot's hover text and a one-run note.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from monitor.durations import format_duration

DURATION = "duration"
"""A figure's unit when its value is a number of seconds shown in human units (``3.2 d``)."""
PERCENT = "%"
"""A figure's unit when its value is a percentage (a change is in percentage points)."""


def format_number(value: Any, digits: int = 3) -> str:
    """``1,234``, ``0.795``, ``3.77``; ``≈0`` when nonzero but too small to show; ``—`` for none."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        if abs(value) < 0.001:
            return "≈0"
        return f"{value:.{digits}g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{int(value):,}"


def format_figure(value: float | None, unit: str = "", *, change: bool = False) -> str:
    """A headline figure with its unit; ``change`` writes a signed difference.

    A duration (unit `DURATION`, value in seconds) reads ``3.2 d``; a change of a
    percentage reads in points (``+1.2 pts``), not in per cent of per cent.
    """
    if value is None:
        return "—"
    if unit == DURATION:
        return format_duration(value, signed=change)
    text = format_number(value)
    if change and value > 0 and text != "≈0":
        text = f"+{text}"
    if unit == PERCENT:
        return f"{text} pts" if change else f"{text}%"
    return f"{text}{unit}" if unit and not change else text


def format_when(moment: datetime | str | None) -> str:
    """A moment to the minute, in UTC: ``2026-11-27 23:18 UTC``; ``—`` for none.

    An ISO 8601 string (as results store times) is read first; another string is shown
    as it is.
    """
    if moment is None:
        return "—"
    if isinstance(moment, str):
        text = moment
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def plot_time(moment: datetime) -> str:
    """A moment as plotly reads a date (UTC, to the second, no offset it would drop)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def anchor(kind: str, key: str) -> str:
    """An element id for ``key`` (a document path, a job): readable, unique, safe in a URL.

    ``anchor("fix", "faq/it-faq.md")`` is ``fix-faq-it-faq-md-`` plus a short hash, so two
    paths that differ only in punctuation still get two ids.
    """
    readable = re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-")[:48]
    raw = key.encode("utf-8", "surrogatepass")
    digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()[:8]
    return f"{kind}-{readable}-{digest}" if readable else f"{kind}-{digest}"
