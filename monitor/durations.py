"""Durations as people write them in config files and on the command line."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
MAX_SECONDS = 100 * 365 * 86400
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: Any) -> timedelta:
    """``30`` (seconds), ``"500ms"``, ``"30s"``, ``"15m"``, ``"4h"``, ``"7d"``, ``"2w"``."""
    if isinstance(value, timedelta):
        return value
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(
            f"expected a duration such as '30s', '15m', '4h' or '7d' (or a number of "
            f"seconds), got {value!r}"
        )
    # timedelta overflows past 999,999,999 days; nothing ragmon times is near that long.
    if seconds > MAX_SECONDS:
        raise ValueError(f"expected a duration of at most 100 years, got {value!r}")
    return timedelta(seconds=seconds)


# Units a duration is shown in, largest first: (symbol, seconds, word for axis titles).
DISPLAY_UNITS: tuple[tuple[str, float, str], ...] = (
    ("d", 86400.0, "days"),
    ("h", 3600.0, "hours"),
    ("min", 60.0, "minutes"),
    ("s", 1.0, "seconds"),
    ("ms", 0.001, "milliseconds"),
)


def display_unit(seconds: float) -> tuple[str, float, str]:
    """The largest unit in which ``seconds`` is at least one: ``("d", 86400.0, "days")``.

    An axis or a column of durations picks one unit from its largest value, so its
    figures read ``3.2`` days rather than ``0.000037`` days or ``276,480`` seconds.
    """
    magnitude = abs(seconds) if math.isfinite(seconds) else 0.0
    for unit in DISPLAY_UNITS:
        if magnitude >= unit[1]:
            return unit
    return ("s", 1.0, "seconds")


def format_duration(seconds: float | None, *, signed: bool = False) -> str:
    """A duration as a person reads it: ``3.2 d``, ``5 h``, ``12 min``, ``40 s``, ``350 ms``.

    Three significant figures at most, one decimal below ten units, never an SI prefix on
    a day. ``signed`` writes ``+`` before a positive value (a change since the last run).
    ``None`` (no value) is ``—``.
    """
    if seconds is None or not math.isfinite(seconds):
        return "—"
    sign = "-" if seconds < 0 else "+" if signed and seconds > 0 else ""
    magnitude = abs(seconds)
    if magnitude == 0:
        return "0 s"
    if magnitude < 0.001:
        return f"{sign}<1 ms"
    symbol, size, _ = display_unit(magnitude)
    value = magnitude / size
    text = f"{value:.1f}".removesuffix(".0") if round(value, 1) < 10 else f"{value:,.0f}"
    return f"{sign}{text} {symbol}"
