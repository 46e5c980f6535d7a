"""Job leases in the history database: one holder at a time across processes, renewal,
expiry of a killed holder's lease. On SQLite and on a real PostgreSQL (the ``history`` and
``history_url`` fixtures of conftest.py run each test on both; tests/postgres.py starts
the server). Expiry and renewal are decided on an injected clock, or by watching the
lease's row, never by sleeping past a time to live."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from monitor.errors import JobLockedError
from monitor.history.locks import HeldLease, JobLocks, process_owner
from monitor.history.models import JobLockRow
from monitor.records import RunStatus
from tests.scheduling import wait_for


class ManualClock:
    """A UTC clock that only moves when the test says so (read from the heartbeat thread)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def test_one_holder_at_a_time_and_the_message_names_it(history):
    locks = JobLocks(history.engine, ttl=timedelta(minutes=10))
    first = locks.acquire("freshness").lease
    with pytest.raises(JobLockedError) as caught:
        locks.acquire("freshness")
    message = str(caught.value)
    assert message.startswith(
        f"freshness is already running since {first.acquired_at:%Y-%m-%d %H:%M} UTC "
        f"({process_owner()}); this run was skipped."
    )
    assert f"its lock expires at {first.expires_at:%Y-%m-%d %H:%M:%S} UTC" in message
    assert locks.acquire("report").lease.job == "report"  # other jobs are independent
    assert locks.release(first) is True
    assert locks.release(first) is False
    assert locks.acquire("freshness").lease.owner != first.owner


def test_an_expired_lease_is_taken_over_and_its_run_recorded_interrupted(history):
    past = [datetime.now(UTC) - timedelta(hours=1)]
    clock = JobLocks(history.engine, ttl=timedelta(minutes=10), clock=lambda: past[0])
    run_id = history.start_run("freshness")
    stale = clock.attach(clock.acquire("freshness").lease, run_id)

    now = JobLocks(history.engine, ttl=timedelta(minutes=10))
    taken = now.acquire("freshness")
    assert taken.replaced == stale
    assert now.holder("freshness") == taken.lease
    (run,) = history.runs("freshness")
    assert run.status is RunStatus.INTERRUPTED
    assert run.error.startswith(f"interrupted: its process ({process_owner()}) stopped renewing")
    assert now.renew(stale) is None  # the old holder finds out it lost the lease


def test_the_heartbeat_keeps_a_long_run_locked(history):
    clock = ManualClock()
    ttl = timedelta(minutes=10)
    locks = JobLocks(history.engine, ttl=ttl, clock=clock)
    held = HeldLease(locks, locks.acquire("freshness").lease, every=0.01)
    try:
        first = held.lease.expires_at
        for _ in range(3):  # 18 minutes on the lease's clock: well past the first expiry
            clock.advance(timedelta(minutes=6))
            renewed = clock.now + ttl
            wait_for(lambda r=renewed: _stored_expiry(locks) == r, timeout=60, what="the heartbeat")
            with pytest.raises(JobLockedError):
                locks.acquire("freshness")
        assert clock.now > first
        assert held.lease.expires_at == renewed
        assert not held.lost
    finally:
        held.close()
    assert locks.leases() == []


def test_a_holder_that_lost_its_lease_notices_and_leaves_the_new_one_alone(history):
    clock = ManualClock()
    locks = JobLocks(history.engine, ttl=timedelta(minutes=10), clock=clock)
    lease = locks.acquire("freshness").lease
    clock.advance(timedelta(hours=1))  # this holder was stopped past its time to live
    successor = locks.acquire("freshness").lease  # took the expired lease over
    held = HeldLease(locks, lease, every=0.01)
    wait_for(lambda: held.lost, timeout=60, what="the lost lease to be noticed")
    held.close()
    assert locks.holder("freshness") == successor


def _stored_expiry(locks: JobLocks) -> datetime | None:
    lease = locks.holder("freshness")
    return lease.expires_at if lease is not None else None


_CONTENDER = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from monitor.errors import JobLockedError
    from monitor.history import HistoryStore
    from monitor.history.locks import JobLocks

    locks = JobLocks(HistoryStore.open(sys.argv[1], migrate=False).engine,
                     ttl=timedelta(minutes=5))
    locks.holder("freshness")  # connected: the race is only the acquire
    print("ready", flush=True)
    sys.stdin.readline()  # the starting gun: every contender is waiting here
    try:
        locks.acquire("freshness")
        print("won")
    except JobLockedError:
        print("locked")
    """
)


@pytest.mark.parametrize("state", ["free", "expired"])
def test_of_processes_racing_for_a_lease_exactly_one_wins(history, history_url, state):
    if state == "expired":
        old = JobLocks(history.engine, ttl=timedelta(seconds=1), clock=lambda: _an_hour_ago())
        old.acquire("freshness")
    contenders = [
        subprocess.Popen(
            [sys.executable, "-c", _CONTENDER, history_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in contenders:  # wait until each one is imported, connected and waiting
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    for process in contenders:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = []
    for process in contenders:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(out.strip())
    assert sorted(results) == ["locked"] * 3 + ["won"]


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from datetime import timedelta
    from monitor.history import HistoryStore
    from monitor.history.locks import JobLocks

    history = HistoryStore.open(sys.argv[1], migrate=False)
    with JobLocks(history.engine, ttl=timedelta(seconds=2)).hold("freshness") as held:
        held.attach(history.start_run("freshness"))
        print("held", flush=True)
        time.sleep(60)
    """
)


def test_the_lease_of_a_killed_process_expires_and_the_next_run_proceeds(history, history_url):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, history_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        locks = JobLocks(history.engine, ttl=timedelta(minutes=1))
        with pytest.raises(JobLockedError, match=rf"\(pid {holder.pid} on "):
            locks.acquire("freshness")
        # Alive, it renews: two renewals seen in its row, each pushing the expiry on.
        first = _stored_expiry(locks)
        assert first is not None
        second = wait_for(
            lambda: (e := _stored_expiry(locks)) and e > first and e, timeout=60, what="a renewal"
        )
        wait_for(lambda: _stored_expiry(locks) > second, timeout=60, what="another renewal")
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
    finally:
        holder.kill()
        holder.wait()
    killed_at = _stored_expiry(locks)

    def take() -> object:
        try:
            return locks.acquire("freshness")
        except JobLockedError:
            return None

    taken = wait_for(take, timeout=60, what="the killed holder's lease to expire")
    assert taken.replaced is not None
    assert taken.replaced.expires_at == killed_at  # no renewal after the kill
    assert taken.replaced.holder.startswith(f"pid {holder.pid} on ")
    (run,) = history.runs("freshness")
    assert run.status is RunStatus.INTERRUPTED
    assert "stopped renewing the job's lock" in run.error


def test_status_shows_who_holds_a_lock(history, tmp_path):
    from jobs.registry import config_from_dict
    from jobs.status import job_statuses

    (tmp_path / "docs").mkdir()
    config = config_from_dict(
        {"store": {"path": "c"}, "sources": {"root": "docs"}}, base_dir=tmp_path
    )
    lease = JobLocks(history.engine).acquire("freshness").lease
    (row,) = [s for s in job_statuses(config, history) if s.name == "freshness"]
    assert row.health == (
        f"running since {lease.acquired_at:%Y-%m-%d %H:%M} UTC ({process_owner()})"
    )
    with history.engine.begin() as conn:
        conn.execute(update(JobLockRow).values(expires_at=_an_hour_ago()))
    (row,) = [s for s in job_statuses(config, history) if s.name == "freshness"]
    assert row.health.startswith(f"stale lock of {process_owner()} (expired ")


def _an_hour_ago() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


def test_a_run_killed_before_its_lease_named_it_is_still_recorded_interrupted(history):
    """Killed between writing its run row and noting the run on its lease (the window the
    SIGKILL loop in test_sigkill.py found): the successor still closes that run."""
    clock = ManualClock()
    locks = JobLocks(history.engine, ttl=timedelta(minutes=10), clock=clock)
    earlier = history.start_run("freshness")
    history.fail_run(earlier, "an old failure")
    lease = locks.acquire("freshness").lease
    orphan = history.start_run("freshness")  # ... and the process died here
    clock.advance(timedelta(hours=1))
    taken = locks.acquire("freshness")
    assert taken.replaced == lease and lease.run_id is None
    by_id = {r.id: r for r in history.runs("freshness")}
    assert by_id[orphan].status is RunStatus.INTERRUPTED
    assert "stopped renewing the job's lock" in by_id[orphan].error
    assert by_id[earlier].status is RunStatus.FAILED  # not a run of that lease
