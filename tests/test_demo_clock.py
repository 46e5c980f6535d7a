"""The simulated clock the demo holds: runs, ages and stamps take its time, and it lets go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor import clock
from monitor.history import HistoryStore
from monitor.records import RunResult, RunStatus


def test_held_time_reaches_the_history_and_is_released(tmp_path):
    history = HistoryStore.open(f"sqlite:///{tmp_path / 'h.db'}")
    at = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    with clock.simulated(at):
        assert clock.is_simulated() and clock.now() == at
        run = history.start_run("relevance")
        history.finish_run(run, RunResult(status=RunStatus.OK, summary="simulated"))
        with clock.simulated(at + timedelta(days=1)):
            assert clock.now() == at + timedelta(days=1)
        assert clock.now() == at
    assert not clock.is_simulated()
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(minutes=5)
    (stored,) = history.runs("relevance", limit=1)
    started = stored.started_at.replace(tzinfo=stored.started_at.tzinfo or UTC)
    assert started == at


def test_naive_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"), clock.simulated(datetime(2026, 1, 5)):
        pass
