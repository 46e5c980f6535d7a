"""The latest figures in the Prometheus text exposition format, via prometheus_client.

Each stored figure ``name{labels}`` of a job's last completed run becomes the gauge
``ragmon_<name>{labels}``; per job, ``ragmon_last_success_timestamp_seconds``,
``ragmon_last_run_failed`` and ``ragmon_job_overdue`` tell the monitor's own health.
"""

from __future__ import annotations

import os
import re
import stat
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dashboards.model import JobHealth
from monitor.errors import OutputError
from monitor.history.queries import Point

PREFIX = "ragmon_"
_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(name: str) -> str:
    """A valid Prometheus metric name for a stored figure name."""
    clean = _INVALID.sub("_", name)
    return PREFIX + (clean if not clean[:1].isdigit() else "_" + clean)


class _Collector:
    def __init__(self, points: Sequence[Point], health: Sequence[JobHealth]):
        self._points, self._health = points, health

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        grouped: dict[str, list[Point]] = defaultdict(list)
        for point in self._points:
            grouped[metric_name(point.name)].append(point)
        for name, points in sorted(grouped.items()):
            keys = sorted({"job"} | {_INVALID.sub("_", k) for p in points for k in p.labels})
            family = GaugeMetricFamily(name, f"ragmon figure {points[0].name}", labels=keys)
            for p in points:
                labels = {_INVALID.sub("_", k): str(v) for k, v in p.labels.items()}
                labels["job"] = p.job
                family.add_metric([labels.get(k, "") for k in keys], p.value)
            yield family
        success = GaugeMetricFamily(
            PREFIX + "last_success_timestamp_seconds",
            "When the job last completed (healthy or with findings)",
            labels=["job"],
        )
        failed = GaugeMetricFamily(
            PREFIX + "last_run_failed", "1 when the job's last run failed", labels=["job"]
        )
        overdue = GaugeMetricFamily(
            PREFIX + "job_overdue", "1 when the job missed its schedule", labels=["job"]
        )
        for h in self._health:
            if h.last_success is not None:
                success.add_metric([h.job], h.last_success.timestamp())
            failed.add_metric([h.job], float(h.last_status in ("failed", "interrupted")))
            overdue.add_metric([h.job], float(h.overdue_since is not None))
        yield success
        yield failed
        yield overdue


def exposition(points: Sequence[Point], health: Sequence[JobHealth] = ()) -> bytes:
    """The text exposition of ``points`` (one job run's figures each)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(points, health))
    return bytes(generate_latest(registry))


def write_textfile(path: Path, points: Sequence[Point], health: Sequence[JobHealth] = ()) -> None:
    """Write atomically, for node_exporter's textfile collector.

    Atomic means a new file renamed over the old one, so only a regular file (or a new
    path) is written: a device, a pipe or a socket at ``path`` is refused rather than
    replaced. A symlink to a regular file updates the file it points to.
    """
    from prometheus_client import CollectorRegistry, write_to_textfile

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(points, health))
    path = _regular_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise OutputError("the Prometheus textfile", path, exc.strerror or str(exc)) from None


_KINDS = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


def _regular_target(path: Path) -> Path:
    """The file to replace: ``path`` itself, or what a symlink points to. Refuses anything
    but a regular file or a path that does not exist yet."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputError("the Prometheus textfile", path, exc.strerror or str(exc)) from None
    if stat.S_ISREG(mode):
        return target
    kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
    raise OutputError(
        "the Prometheus textfile",
        path,
        f"it is {kind}, not a regular file; give the path of a file (it is replaced atomically)",
    )
