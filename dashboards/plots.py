"""Plotly figure specs as plain dicts (the page draws them with plotly.js; no plotly import).

Every time-series plot takes its x axis from `time_axis`, so ticks follow the span of the
data (days for a month of runs, hours for a day, never milliseconds). A figure with too
little to draw (one run, a histogram of one value) carries a ``note`` instead, which the
page shows as a sentence in place of an empty chart. Durations are plotted in the one
unit that suits their largest value, with `format_duration` text on hover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from dashboards.formats import DURATION, format_figure, format_when, plot_time
from monitor.durations import display_unit
from monitor.history.queries import Point

_LAYOUT: dict[str, Any] = {
    "margin": {"l": 64, "r": 16, "t": 40, "b": 40},
    "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    "hovermode": "x unified",
}
_VALUE_AXIS = {"exponentformat": "none", "separatethousands": True}
"""Plain numbers on value axes: plotly's default SI suffixes would print ``6µ``."""

_SECOND_MS = 1000
_MINUTE_MS = 60 * _SECOND_MS
_HOUR_MS = 60 * _MINUTE_MS
_DAY_MS = 24 * _HOUR_MS
_MAX_TICKS = 10
# (span at least, tick steps in ms, tick label, hover label)
_RESOLUTIONS: tuple[tuple[float, tuple[int, ...], str, str], ...] = (
    (
        2 * _DAY_MS,
        (_DAY_MS, 2 * _DAY_MS, 7 * _DAY_MS, 14 * _DAY_MS, 28 * _DAY_MS),
        "%b %-d",
        "%Y-%m-%d %H:%M UTC",
    ),
    (
        2 * _HOUR_MS,
        (_HOUR_MS, 2 * _HOUR_MS, 3 * _HOUR_MS, 6 * _HOUR_MS, 12 * _HOUR_MS, _DAY_MS),
        "%H:%M<br>%b %-d",
        "%Y-%m-%d %H:%M UTC",
    ),
    (
        2 * _MINUTE_MS,
        tuple(m * _MINUTE_MS for m in (1, 2, 5, 10, 15, 30, 60)),
        "%H:%M",
        "%Y-%m-%d %H:%M UTC",
    ),
    (
        0,
        tuple(s * _SECOND_MS for s in (1, 2, 5, 10, 15, 30, 60)),
        "%H:%M:%S",
        "%Y-%m-%d %H:%M:%S UTC",
    ),
)


def time_axis(times: Sequence[datetime], *, daily: bool = False) -> dict[str, Any]:
    """A plotly x axis for ``times`` at the resolution of their span.

    Over two days or more, ticks are days (``Nov 3``) every 1, 2, 7, 14 or 28 days; over
    two hours, hours; then minutes; below two minutes, seconds. Never a fraction of a
    second: runs are not timed that finely. The range is the data's with a little room.
    ``daily`` values (one bar per day) get day ticks whatever the span, and half a day of
    room each side for their bars.
    """
    first, last = min(times), max(times)
    span_ms = (last - first).total_seconds() * 1000
    _, steps, tick, hover = next(r for r in _RESOLUTIONS if daily or span_ms >= r[0])
    step = next((s for s in steps if span_ms / s <= _MAX_TICKS), steps[-1])
    pad = timedelta(milliseconds=_DAY_MS / 2 if daily else max(span_ms * 0.03, step / 4))
    if daily:
        hover = "%Y-%m-%d"
    return {
        "type": "date",
        "range": [plot_time(first - pad), plot_time(_next_second(last + pad))],
        "tick0": plot_time(first.replace(hour=0, minute=0, second=0, microsecond=0)),
        "dtick": step,
        "tickformat": tick,
        "hoverformat": hover,
    }


def _next_second(moment: datetime) -> datetime:
    """``moment`` rounded up to the second (`plot_time` drops the fraction)."""
    if moment.microsecond:
        return moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment


def lines(series: Mapping[str, Sequence[Point]], *, y_title: str, unit: str = "") -> dict[str, Any]:
    """One line per named series over run time; empty series are left out.

    ``unit`` `DURATION` means values in seconds: they are drawn in days, hours, minutes
    or seconds (whichever suits the largest) and the axis title says which. With runs at
    a single moment the spec carries a ``note`` ("one run so far") instead of a chart.
    """
    shown = {name: list(points) for name, points in series.items() if points}
    times = sorted({p.at for points in shown.values() for p in points})
    scale, title = 1.0, y_title
    if unit == DURATION:
        largest = max(abs(p.value) for points in shown.values() for p in points)
        _, scale, word = display_unit(largest)
        title = f"{word} {y_title}"
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": name,
            "x": [plot_time(p.at) for p in points],
            "y": [round(p.value / scale, 6) for p in points],
            "customdata": [format_figure(p.value, unit) for p in points],
            "hovertemplate": "%{fullData.name}: %{customdata}<extra></extra>",
        }
        for name, points in shown.items()
    ]
    if len(times) <= 1:  # the figures stay in report.json; the page shows the sentence
        return {"data": traces, "layout": {}, "note": _one_run_note(shown, times, unit)}
    return {
        "data": traces,
        "layout": {
            **_LAYOUT,
            "xaxis": time_axis(times),
            "yaxis": {**_VALUE_AXIS, "title": {"text": title}, "rangemode": "tozero"},
        },
    }


def histogram(
    values: Sequence[float],
    *,
    x_title: str,
    y_title: str = "documents",
    unit: str = "",
    same: str = "All {n} at {value}.",
    one: str = "Only one, at {value}.",
) -> dict[str, Any]:
    """Bars of ``values``; one value only (one bar, often at 0) is a sentence instead.

    The sentence is ``one`` for a single value, ``same`` for several equal ones, each
    formatted with ``n`` (how many) and ``value`` (the value, with its unit). ``unit``
    `DURATION` draws seconds in the unit that suits the largest value.
    """
    if not values:
        return {"data": [], "layout": {}, "note": f"None: no {y_title} to draw."}
    if min(values) == max(values):
        text = (one if len(values) == 1 else same).format(
            n=len(values), value=format_figure(values[0], unit)
        )
        bars = [{"type": "histogram", "x": [round(v, 4) for v in values]}]
        return {"data": bars, "layout": {}, "note": text}
    scale, title = 1.0, x_title
    if unit == DURATION:
        _, scale, word = display_unit(max(abs(v) for v in values))
        title = f"{word} {x_title}"
    return {
        "data": [{"type": "histogram", "x": [round(v / scale, 4) for v in values], "nbinsx": 30}],
        "layout": {
            **_LAYOUT,
            "hovermode": "closest",
            "xaxis": {**_VALUE_AXIS, "title": {"text": title}},
            "yaxis": {**_VALUE_AXIS, "title": {"text": y_title}},
        },
    }


def one_moment_note(when: str | None, values: Mapping[str, str], *, what: str = "run") -> str:
    """``One run so far (2026-11-27 23:18 UTC): a 2; b 5. The chart starts with the second run.``"""
    figures = "; ".join(f"{name} {value}" for name, value in list(values.items())[:8])
    moment = f" ({when})" if when is not None else ""
    body = f": {figures}" if figures else ""
    return f"One {what} so far{moment}{body}. The chart starts with the second {what}."


def _one_run_note(
    shown: Mapping[str, Sequence[Point]], times: Sequence[datetime], unit: str
) -> str:
    if not times:
        return "No run yet: the chart starts with the first two runs."
    values = {name: format_figure(points[-1].value, unit) for name, points in shown.items()}
    return one_moment_note(format_when(times[0]), values)


def sparkline(values: Sequence[float], *, width: int = 120, height: int = 28) -> str:
    """SVG polyline points for ``values`` in a ``width`` × ``height`` box ("" for none).

    Only numbers go into the string, so the page can put it in an attribute as is.
    """
    if not values:
        return ""
    low, high = min(values), max(values)
    spread = (high - low) or 1.0
    step = width / (len(values) - 1) if len(values) > 1 else 0.0
    pad = 2
    points = []
    for i, value in enumerate(values):
        x = i * step if len(values) > 1 else width / 2
        y = pad + (height - 2 * pad) * (1 - (value - low) / spread)
        if high == low:
            y = height / 2
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)
