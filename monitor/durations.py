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
