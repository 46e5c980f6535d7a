"""Small shared pieces of alerting: fingerprints, series names, comparisons, number formats."""

from __future__ import annotations

import hashlib
import json
import math
import operator
from collections.abc import Callable, Mapping
from datetime import datetime

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def fingerprint(rule: str, labels: Mapping[str, str]) -> str:
    """Stable id of an alert: the same rule over the same labels, run after run."""
    key = json.dumps([rule, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def compare(value: float, op: str, threshold: float) -> bool:
    """``value op threshold``; NaN never satisfies a rule."""
    if math.isnan(value):
        return False
    return _OPS[op](value, threshold)


def series_name(metric: str, labels: Mapping[str, str]) -> str:
    """``stale_share{collection=docs}``; labels sorted, none shown when there are none."""
    if not labels:
        return metric
    return metric + "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"


def format_value(metric: str, value: float | None) -> str:
    """A figure for people: shares as percentages, ``*_seconds`` as durations."""
    if value is None:
        return "n/a"
    if metric.endswith("_share") or metric == "coverage":
        return f"{value * 100:.3g}%"
    if metric.endswith("_seconds"):
        return format_seconds(value)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"


def format_seconds(seconds: float) -> str:
    """``42 s``, ``15 min``, ``5.5 h``, ``9.2 days``."""
    if abs(seconds) < 120:
        return f"{seconds:.3g} s"
    if abs(seconds) < 2 * 3600:
        return f"{seconds / 60:.3g} min"
    if abs(seconds) < 2 * 86400:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:.3g} days"


def format_when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "never"
