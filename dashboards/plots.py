"""Plotly figure specs as plain dicts (the page draws them with plotly.js; no plotly import)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from monitor.history.queries import Point

_LAYOUT = {
    "margin": {"l": 56, "r": 16, "t": 16, "b": 40},
    "legend": {"orientation": "h"},
    "hovermode": "x unified",
}


def lines(series: Mapping[str, Sequence[Point]], *, y_title: str) -> dict[str, Any]:
    """One line per named series over run time; empty series are left out."""
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": [p.at.isoformat() for p in points],
                "y": [round(p.value, 6) for p in points],
            }
            for name, points in series.items()
            if points
        ],
        "layout": {**_LAYOUT, "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"}},
    }


def histogram(values: Sequence[float], *, x_title: str) -> dict[str, Any]:
    return {
        "data": [{"type": "histogram", "x": [round(v, 4) for v in values], "nbinsx": 30}],
        "layout": {
            **_LAYOUT,
            "xaxis": {"title": {"text": x_title}},
            "yaxis": {"title": {"text": "documents"}},
        },
    }
