"""`ragmon schedule`: the real scheduler in a subprocess, on a real Chroma collection.

Second-level cron triggers (six fields, seconds first) keep these tests short; every wait
polls with a deadline.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from jobs import registry
from jobs.cli import cli
from jobs.registry import load_config
from jobs.scheduler import JOB_TABLE, Scheduler
from monitor.config import StoreConfig
from monitor.errors import JobLockedError
from monitor.history.locks import HeldLease, JobLocks
from monitor.records import RunResult, RunStatus
from tests.conftest import fill_collection
from tests.gate import GatedProxy
from tests.scheduling import (
    SchedulerProcess,
    assert_disjoint,
    build_world,
    finished,
    ragmon,
    runs,
    wait_for,
    world_chunks,
)


@pytest.fixture()
def world(tmp_path):
    return build_world(tmp_path)


def test_sigterm_lets_the_running_job_finish(world, chroma_server):
    # The store sits behind a gate that holds every connection until the test opens it: the
    # run is certainly still going when SIGTERM arrives, on a fast machine or a slow one.
    # (A named pipe among the sources no longer holds a run: the catalog never reads one.)
    collection = f"gate{uuid.uuid4().hex[:10]}"
    ids, texts, metadatas = world_chunks()
    host, port = chroma_server
    fill_collection(
        StoreConfig(host=host, port=port, collection=collection),
        ids,
        documents=texts,
        metadatas=metadatas,
    )
    gate = GatedProxy(chroma_server)
    config = world.config(schedule="* * * * * *")  # every second
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'path = "chroma"\ncollection = "docs"',
            f'host = "127.0.0.1"\nport = {gate.port}\ncollection = "{collection}"',
        ),
        encoding="utf-8",
    )
    history = world.history()
    scheduler = SchedulerProcess(config, world.root / "scheduler.log")
    try:
        wait_for(
            lambda: any(r.status is RunStatus.RUNNING for r in runs(history)),
            timeout=60,
            what="a run in progress",
        )
        assert gate.waiting.acquire(timeout=20), "the run never reached its store"
        scheduler.process.send_signal(signal.SIGTERM)
        wait_for(
            lambda: "stopping: waiting for freshness to finish" in scheduler.log_text(),
            timeout=60,
            what="the scheduler waiting for the run",
        )
        gate.open()  # let the run reach its store and finish
        assert scheduler.process.wait(timeout=60) == 0
    finally:
        scheduler.kill()
        gate.close()
    (run,) = runs(history)
    assert run.status is RunStatus.OK
    assert JobLocks(history.engine).leases() == []


def test_runs_happen_and_the_scheduler_stops_cleanly(world):
    config = world.config(schedule="* * * * * *")
    history = world.history()
    scheduler = SchedulerProcess(config, world.root / "scheduler.log")
    try:
        wait_for(lambda: len(finished(history)) >= 3, timeout=60, what="three scheduled runs")
        scheduler.check_alive()
        assert scheduler.stop(signal.SIGTERM) == 0
    finally:
        scheduler.kill()

    done = runs(history)
    assert {r.status for r in done} == {RunStatus.OK}, [(r.status, r.error) for r in done]
    assert_disjoint([(r.started_at, r.finished_at) for r in done])
    assert JobLocks(history.engine).leases() == []
    assert _stored_jobs(history) == ["freshness"]  # kept for the next start
    banner = scheduler.output.read_text()
    assert "ragmon scheduler: 1 job" in banner
    assert "freshness    * * * * * *" in banner
    assert "scheduler stopped" in scheduler.log_text()


def test_scheduled_runs_never_overlap_a_run_from_cron(world):
    config = world.config(schedule="* * * * * *")
    history = world.history()
    scheduler = SchedulerProcess(config, world.root / "scheduler.log")
    try:
        wait_for(lambda: finished(history), timeout=60, what="a first scheduled run")

        # A long `ragmon run` elsewhere: this process holds the job's lock across slots.
        locks = JobLocks(history.engine, ttl=timedelta(seconds=30))
        held = HeldLease(locks, wait_for(lambda: _acquire(locks), timeout=60, what="the lock"))
        try:
            held_from = datetime.now(UTC)
            before = len(runs(history))
            cron = ragmon("-c", config, "--quiet", "run", "freshness")
            out, err = cron.communicate(timeout=60)
            assert cron.returncode == 4, err
            assert out == ""
            assert "freshness is already running since" in err
            assert f"(pid {os.getpid()} on " in err
            wait_for(
                lambda: "skipped: freshness is already running since" in scheduler.log_text(),
                timeout=60,
                what="the scheduler to skip a slot",
            )
            assert len(runs(history)) == before  # a skipped slot records no run
            held_until = datetime.now(UTC)
        finally:
            held.close()

        # Now real contention: cron-style runs started while the scheduler fires each second.
        codes = []
        for _ in range(2):
            batch = [ragmon("-c", config, "--quiet", "run", "freshness") for _ in range(2)]
            for process in batch:
                _, err = process.communicate(timeout=60)
                assert process.returncode in (0, 4), err
                codes.append(process.returncode)
        scheduler.check_alive()
        assert scheduler.stop() == 0
    finally:
        scheduler.kill()

    done = runs(history)
    assert all(r.status is RunStatus.OK for r in done), [(r.status, r.error) for r in done]
    intervals = [(r.started_at, r.finished_at) for r in done]
    assert all(end is not None for _, end in intervals)
    assert_disjoint([*intervals, (held_from, held_until)])
    assert 0 in codes


def test_restart_runs_missed_slots_once(world):
    # Hourly, half an hour away: the first scheduler stores the job and its next slot, and
    # no slot comes while it runs, however slow the machine is.
    minute = (datetime.now(UTC).minute + 30) % 60
    config = world.config(
        schedule=f"{minute} * * * *", scheduler={"misfire_grace_seconds": 4 * 3600}
    )
    history = world.history()

    first = SchedulerProcess(config, world.root / "first.log")
    try:
        wait_for(lambda: _stored_jobs(history), timeout=60, what="the job in the job store")
        assert first.stop(signal.SIGINT) == 0
    finally:
        first.kill()
    assert runs(history) == []
    due = _stored_next_run(history)
    assert due is not None and due > datetime.now(UTC)

    # As if it had stayed stopped for three hours: three slots passed, the last of them
    # within the misfire grace time. (The stored job is moved back, not the clock.)
    _set_stored_next_run(history, due - timedelta(hours=3))
    restarted_at = datetime.now(UTC)
    second = SchedulerProcess(config, world.root / "second.log")
    try:
        wait_for(lambda: finished(history), timeout=60, what="the catch-up run")
        # The job store row is updated when the catch-up run is submitted: its next slot is
        # the one still ahead, so no second catch-up run is due before we stop.
        wait_for(lambda: _stored_next_run(history) == due, timeout=60, what="the next slot")
        assert second.stop() == 0
    finally:
        second.kill()

    done = runs(history)
    assert len(done) == 1, done
    assert done[0].started_at > restarted_at
    assert "3 slots missed while the scheduler was stopped" in second.log_text()
    assert "running it once now" in second.log_text()


def test_a_changed_schedule_starts_afresh(world, caplog):
    """A stored job whose schedule changed does not inherit the old slot (in-process)."""
    history = world.history()
    for schedule in ("0 0 1 1 *", "* * * * * *"):  # once a year, then every second
        path = world.config(schedule=schedule)
        daemon = Scheduler(load_config(path), path)
        thread = threading.Thread(target=daemon.run)
        thread.start()
        try:
            if schedule.startswith("0 0"):
                wait_for(lambda: _stored_jobs(history), timeout=60, what="the stored job")
            else:
                wait_for(lambda: finished(history), timeout=60, what="a run on the new schedule")
        finally:
            daemon.stop()
            thread.join(20)
    assert len(runs(history)) >= 1
    assert "missed" not in caplog.text


def test_schedule_with_every_job_disabled_exits_2(world):
    config = world.config(enabled=False)
    result = CliRunner().invoke(cli, ["-c", str(config), "schedule"])
    assert result.exit_code == 2
    assert "key 'jobs': every job is disabled, so there is nothing to schedule" in result.output


@pytest.fixture()
def temporary_jobs(monkeypatch):
    """Register jobs for one test only; the registry is restored afterwards."""
    registry.all_jobs()
    monkeypatch.setattr(registry, "_JOBS", dict(registry._JOBS))
    monkeypatch.setattr(registry, "JOB_MODULES", (*registry.JOB_MODULES, __name__))

    def add(name, function, *, schedule="0 * * * *", after=()):
        registry.register(name, schedule=schedule, after=after)(function)

    return add


def test_run_all_runs_jobs_after_what_they_depend_on(world, temporary_jobs):
    calls = []

    def job(name):
        def run(config, history, *, full=False):
            """A test job."""
            calls.append(name)
            return RunResult(status=RunStatus.OK, summary=f"{name} done")

        return run

    config = world.config()
    # Registered before the job it runs after: `run all` must still order them.
    temporary_jobs("t_publish", job("t_publish"), after=("t_collect",))
    temporary_jobs("t_collect", job("t_collect"), after=("freshness",))
    result = CliRunner().invoke(cli, ["-c", str(config), "--quiet", "run", "all"])
    assert result.exit_code == 0, result.output
    assert calls == ["t_collect", "t_publish"]
    order = [r.job for r in reversed(world.history().runs(limit=10))]
    assert order == ["freshness", "t_collect", "t_publish"]

    crontab = CliRunner().invoke(cli, ["-c", str(config), "crontab"]).output
    lines = [line for line in crontab.splitlines() if line and line[0] not in "#C"]
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["freshness", "t_collect", "t_publish"]


@pytest.mark.parametrize("how", ["second stop", "stop timeout"])
def test_a_run_that_cannot_finish_is_recorded_as_interrupted(world, temporary_jobs, how, caplog):
    release = threading.Event()
    started = threading.Event()

    def blocker(config, history, *, full=False):
        """Waits until the test lets it go."""
        started.set()
        release.wait(30)
        return RunResult(status=RunStatus.OK, summary="let go")

    temporary_jobs("t_blocker", blocker, schedule="* * * * * *")
    timeout = 1 if how == "stop timeout" else 60
    path = world.config(
        scheduler={"stop_timeout_seconds": timeout}, extra="[jobs.t_blocker]\n", enabled=False
    )
    history = world.history()
    daemon = Scheduler(load_config(path), path)
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(daemon.run()))
    thread.start()
    try:
        assert started.wait(20), "the job never started"
        daemon.stop()
        if how == "second stop":
            # The first stop waits for the job (its log line says so) ...
            wait_for(
                lambda: "stopping: waiting for t_blocker to finish" in caplog.text,
                timeout=60,
                what="the scheduler waiting for the job",
            )
            assert thread.is_alive()
            daemon.stop()  # ... the second interrupts it
        thread.join(20)
        assert outcome == [False]
        (run,) = runs(history, "t_blocker")
        assert run.status is RunStatus.INTERRUPTED
        assert run.error == "interrupted: ragmon schedule was stopped while it ran"
        assert JobLocks(history.engine).leases() == []
    finally:
        release.set()
        thread.join(20)


def _acquire(locks):
    try:
        return locks.acquire("freshness").lease
    except JobLockedError:
        return None  # a scheduled run is in progress: try again


def _stored_jobs(history):
    if not inspect(history.engine).has_table(JOB_TABLE):
        return []
    with history.engine.connect() as conn:
        return conn.execute(text(f"select id from {JOB_TABLE}")).scalars().all()


def _job_store(history):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    return SQLAlchemyJobStore(engine=history.engine, tablename=JOB_TABLE)


def _stored_next_run(history):
    job = _job_store(history).lookup_job("freshness")
    return job.next_run_time if job is not None else None


def _set_stored_next_run(history, when):
    store = _job_store(history)
    job = store.lookup_job("freshness")
    job.next_run_time = when
    store.update_job(job)
