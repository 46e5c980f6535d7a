"""The current time for everything ragmon stores or compares: run times, ages, windows,
the report's "now", alert state, ingest and embedding stamps.

Real time (UTC) unless a simulation is active: `ragmon demo` runs a month of jobs in a few
minutes by holding the clock at each scheduled slot (`simulated`). The clock is process
wide (a job's worker threads see the same time); it does not move while held, so a
simulated run's figures do not depend on how fast the machine is. Job locks and retry
timers keep real time: they guard real processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_held: datetime | None = None


def now() -> datetime:
    """The current time, timezone-aware UTC: the simulated time while one is held."""
    return _held if _held is not None else datetime.now(UTC)


def is_simulated() -> bool:
    return _held is not None


@contextmanager
def simulated(at: datetime) -> Iterator[None]:
    """Hold the clock at ``at`` (timezone-aware) until the block ends; blocks nest."""
    global _held
    if at.tzinfo is None:
        raise ValueError(f"simulated time must be timezone-aware, got {at!r}")
    previous, _held = _held, at.astimezone(UTC)
    try:
        yield
    finally:
        _held = previous
