"""How the report writes durations, time axes, one-run plots and anchors (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.formats import DURATION, PERCENT, anchor, format_figure, format_when
from dashboards.plots import histogram, lines, sparkline, time_axis
from monitor.durations import format_duration
from monitor.history.queries import Point

T0 = datetime(2026, 11, 1, 6, 30, 12, 93500, tzinfo=UTC)
DAY_MS = 86_400_000


def _points(times, values, name="stale_share"):
    return [
        Point(run_id=i, job="freshness", at=t, name=name, value=v, labels={})
        for i, (t, v) in enumerate(zip(times, values, strict=True))
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (0.0002, "<1 ms"),
        (0.35, "350 ms"),
        (2.64, "2.6 s"),
        (40, "40 s"),
        (300, "5 min"),
        (5 * 3600, "5 h"),
        (3.2 * 86400, "3.2 d"),
        (30 * 86400, "30 d"),
        (-7200, "-2 h"),
        (None, "—"),
    ],
)
def test_durations_read_in_human_units(seconds, text):
    assert format_duration(seconds) == text


def test_figures_with_units_and_changes():
    assert format_figure(6e-06 * 86400, DURATION) == "518 ms"  # was `6µ` days
    assert format_figure(3.2 * 86400, DURATION, change=True) == "+3.2 d"
    assert format_figure(3.77, PERCENT) == "3.77%"
    assert format_figure(1.2, PERCENT, change=True) == "+1.2 pts"
    assert format_figure(-3.0, change=True) == "-3"
    assert format_figure(None, PERCENT) == "—"
    assert format_when("2026-11-27T23:18:05.123+00:00") == "2026-11-27 23:18 UTC"


@pytest.mark.parametrize(
    ("span", "tick", "step"),
    [
        (timedelta(days=30), "%b %-d", 7 * DAY_MS),
        (timedelta(days=9), "%b %-d", DAY_MS),
        (timedelta(hours=20), "%H:%M<br>%b %-d", 2 * 3_600_000),
        (timedelta(minutes=40), "%H:%M", 5 * 60_000),
        (timedelta(seconds=3), "%H:%M:%S", 1000),
    ],
)
def test_time_axes_follow_the_span_of_the_data(span, tick, step):
    axis = time_axis([T0, T0 + span / 3, T0 + span])
    assert (axis["tickformat"], axis["dtick"]) == (tick, step)
    first, last = (datetime.fromisoformat(v).replace(tzinfo=UTC) for v in axis["range"])
    assert first < T0 and last > T0 + span  # room for the markers at both ends
    assert "." not in axis["range"][0]  # never milliseconds
    assert "%L" not in axis["hoverformat"] and "%f" not in axis["hoverformat"]


def test_daily_bars_get_day_ticks_even_over_two_days():
    axis = time_axis([T0, T0 + timedelta(days=1)], daily=True)
    assert (axis["tickformat"], axis["dtick"]) == ("%b %-d", DAY_MS)


def test_a_series_of_one_run_is_a_sentence_not_a_chart():
    spec = lines({"stale": _points([T0], [0.25]), "none": []}, y_title="share")
    assert [t["y"] for t in spec["data"]] == [[0.25]]  # kept for report.json
    assert spec["note"] == (
        "One run so far (2026-11-01 06:30 UTC): stale 0.25. The chart starts with the second run."
    )
    two = lines({"stale": _points([T0, T0 + timedelta(days=3)], [0.1, 0.2])}, y_title="share")
    assert "note" not in two and two["data"][0]["x"] == [
        "2026-11-01 06:30:12",
        "2026-11-04 06:30:12",
    ]
    assert two["layout"]["yaxis"]["exponentformat"] == "none"


def test_durations_are_plotted_in_the_unit_of_their_largest_value():
    times = [T0, T0 + timedelta(days=1), T0 + timedelta(days=2)]
    spec = lines(
        {"p95": _points(times, [3600.0, 2 * 86400.0, 3 * 86400.0])}, y_title="behind", unit=DURATION
    )
    (trace,) = spec["data"]
    assert trace["y"] == [round(1 / 24, 6), 2.0, 3.0]
    assert spec["layout"]["yaxis"]["title"]["text"] == "days behind"
    assert trace["customdata"] == ["1 h", "2 d", "3 d"]
    seconds = lines({"p95": _points(times, [2.0, 2.5, 3.0])}, y_title="behind", unit=DURATION)
    assert seconds["layout"]["yaxis"]["title"]["text"] == "seconds behind"


def test_a_histogram_of_one_value_says_so():
    one = histogram([0.0], x_title="behind", unit=DURATION, one="The one is {value} behind.")
    assert one["note"] == "The one is 0 s behind." and one["data"][0]["x"] == [0.0]
    same = histogram([7200.0, 7200.0], x_title="behind", unit=DURATION, same="All {n}: {value}.")
    assert same["note"] == "All 2: 2 h."
    bars = histogram([3600.0, 7200.0, 86400.0 * 2], x_title="behind", unit=DURATION)
    assert bars["data"][0]["x"] == [round(1 / 24, 4), round(2 / 24, 4), 2.0]
    assert bars["layout"]["xaxis"]["title"]["text"] == "days behind"


def test_sparklines_and_anchors():
    assert sparkline([]) == ""
    assert sparkline([1.0, 1.0]) == "0.0,14.0 120.0,14.0"
    assert sparkline([0.0, 1.0], width=10, height=10) == "0.0,8.0 10.0,2.0"
    a, b = anchor("fix", "a/b.md"), anchor("fix", "a-b.md")
    assert a.startswith("fix-a-b-md-") and a != b
    hostile = anchor("fix", '<img src=x onerror="1">.md')
    assert all(c.isalnum() or c == "-" for c in hostile)
