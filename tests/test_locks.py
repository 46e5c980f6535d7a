"""Job leases in the history database: one holder at a time across processes, renewal,
expiry of a killed holder's lease. On SQLite, and on a real PostgreSQL when one can be
started here (initdb and pg_ctl on PATH, psycopg installed)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from monitor.errors import JobLockedError
from monitor.history import HistoryStore
from monitor.history.locks import HeldLease, JobLocks, process_owner
from monitor.history.models import JobLockRow
from monitor.records import RunStatus
from tests.conftest import free_port
from tests.scheduling import wait_for


def _postgres_binary(name: str) -> str | None:
    """On PATH, or where Debian's postgresql package puts it (not on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(versions[-1]) if versions else None


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server on a Unix socket; its SQLAlchemy URL base."""
    initdb, pg_ctl = _postgres_binary("initdb"), _postgres_binary("pg_ctl")
    if not (initdb and pg_ctl):
        # CI installs Debian's postgresql (.ci/run): there a missing server is a failure.
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL (initdb, pg_ctl) is not installed; .ci/run installs it")
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed")
    import psycopg  # noqa: F401  (in the test extra; its absence is a real failure)

    root = Path(tempfile.mkdtemp(prefix="ragmon-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data, log = root / "data", root / "server.log"
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "ragmon"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-l", str(log), "-w", "start", "-o",
         f"-k {root} -p {port} -c listen_addresses=''"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql+psycopg://ragmon@/postgres?host={root}&port={port}"
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty history database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    import psycopg

    server = request.getfixturevalue("postgres")
    name = f"t{os.getpid()}_{time.monotonic_ns()}"
    admin = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield server.replace("/postgres?", f"/{name}?")


@pytest.fixture()
def history(url) -> Iterator[HistoryStore]:
    store = HistoryStore.open(url)
    yield store
    store.engine.dispose()


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
    locks = JobLocks(history.engine, ttl=timedelta(seconds=0.9))
    with locks.hold("freshness") as held:
        first = held.lease.expires_at
        deadline = time.monotonic() + 1.5  # well past the time to live
        while time.monotonic() < deadline:
            with pytest.raises(JobLockedError):
                locks.acquire("freshness")
            time.sleep(0.1)
        assert held.lease.expires_at > first
        assert not held.lost
    assert locks.leases() == []


def test_a_holder_that_lost_its_lease_notices_and_leaves_the_new_one_alone(history):
    locks = JobLocks(history.engine, ttl=timedelta(seconds=0.3))
    lease = locks.acquire("freshness").lease
    time.sleep(0.35)
    successor = locks.acquire("freshness").lease  # took the expired lease over
    held = HeldLease(locks, lease)
    wait_for(lambda: held.lost, timeout=5, what="the lost lease to be noticed")
    held.close()
    assert locks.holder("freshness") == successor


_CONTENDER = textwrap.dedent(
    """
    import sys, time
    from datetime import timedelta
    from monitor.errors import JobLockedError
    from monitor.history import HistoryStore
    from monitor.history.locks import JobLocks

    url, start_at = sys.argv[1], float(sys.argv[2])
    locks = JobLocks(HistoryStore.open(url, migrate=False).engine, ttl=timedelta(minutes=5))
    time.sleep(max(0.0, start_at - time.time()))
    try:
        locks.acquire("freshness")
        print("won")
    except JobLockedError:
        print("locked")
    """
)


@pytest.mark.parametrize("state", ["free", "expired"])
def test_of_processes_racing_for_a_lease_exactly_one_wins(history, url, state):
    if state == "expired":
        old = JobLocks(history.engine, ttl=timedelta(seconds=1), clock=lambda: _an_hour_ago())
        old.acquire("freshness")
    start_at = time.time() + 1.2  # every contender is imported and waiting by then
    contenders = [
        subprocess.Popen(
            [sys.executable, "-c", _CONTENDER, url, str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = []
    for process in contenders:
        out, err = process.communicate(timeout=60)
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
    with JobLocks(history.engine, ttl=timedelta(seconds=0.9)).hold("freshness") as held:
        held.attach(history.start_run("freshness"))
        print("held", flush=True)
        time.sleep(60)
    """
)


def test_the_lease_of_a_killed_process_expires_and_the_next_run_proceeds(history, url):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        locks = JobLocks(history.engine, ttl=timedelta(minutes=1))
        with pytest.raises(JobLockedError, match=rf"\(pid {holder.pid} on "):
            locks.acquire("freshness")
        time.sleep(1.2)  # alive, it renews: still locked after its time to live
        with pytest.raises(JobLockedError):
            locks.acquire("freshness")
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        holder.kill()
        holder.wait()

    def take() -> object:
        try:
            return locks.acquire("freshness")
        except JobLockedError:
            return None

    taken = wait_for(take, timeout=5, what="the killed holder's lease to expire")
    assert taken.replaced is not None
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
