"""Per-job leases in the history database, so two runs of one job never overlap.

A lease is one row of ``job_locks`` (primary key: the job). Taking it is safe across
processes and hosts on SQLite and PostgreSQL alike, because each step is one statement
that only one contender can win:

1. ``INSERT`` the row: the primary key lets exactly one writer through;
2. if a row is there and has expired, ``UPDATE ... WHERE owner = <the expired owner> AND
   expires_at < now``: a compare-and-swap, so of two processes taking over the same
   expired lease one updates the row and the other matches nothing (PostgreSQL re-checks
   the condition after the first commits; SQLite serialises writers).

The holder renews the lease every third of its time to live from a heartbeat thread, so a
long run keeps it and the lease of a killed process runs out. Whoever takes over an
expired lease records the run it belonged to as interrupted.

Times are the hosts' clocks in UTC: keep the time to live well above any clock skew.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from monitor.errors import HistoryError, JobLockedError
from monitor.history.models import JobLockRow, RunRow
from monitor.records import JobLease, RunStatus

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(minutes=10)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def process_owner() -> str:
    """``pid 1234 on host``: the part of every owner this process writes."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


def new_owner() -> str:
    """An owner for one lease: this process plus a token of its own."""
    return f"{process_owner()} [{uuid.uuid4().hex[:8]}]"


@dataclass(frozen=True, kw_only=True, slots=True)
class Acquired:
    """A lease just taken, and the expired lease it replaced, if any."""

    lease: JobLease
    replaced: JobLease | None = None


class JobLocks:
    """Leases on jobs in the ``job_locks`` table of a migrated history database."""

    def __init__(
        self,
        engine: Engine,
        *,
        ttl: timedelta = DEFAULT_TTL,
        clock: Callable[[], datetime] = _utcnow,
    ):
        if ttl <= timedelta(0):
            raise ValueError("a lease needs a positive time to live")
        self.engine = engine
        self.ttl = ttl
        self._clock = clock

    def acquire(self, job: str, *, owner: str | None = None) -> Acquired:
        """Take the lease on ``job``.

        Raises `JobLockedError`, naming the holder, while an unexpired lease exists.
        An expired lease is taken over, and the run it belonged to, if still marked
        running, is recorded as interrupted.
        """
        owner = owner or new_owner()
        for _ in range(5):
            now = self._clock()
            mine = JobLease(
                job=job, owner=owner, run_id=None, acquired_at=now, expires_at=now + self.ttl
            )
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(JobLockRow).values(**_columns(mine)))
                return Acquired(lease=mine)
            except IntegrityError:
                pass
            except SQLAlchemyError as exc:
                raise HistoryError(f"Cannot take the lock of job {job!r}: {exc}") from None
            current = self.holder(job)
            if current is None:
                continue  # released between our insert and our read: insert again
            if not current.expired(now):
                raise _locked(current)
            if self._take_over(current, mine):
                log.warning(
                    "%s: took over the expired lock of %s (held since %s UTC)%s",
                    job,
                    current.holder,
                    f"{current.acquired_at:%Y-%m-%d %H:%M:%S}",
                    f"; its run {current.run_id} is recorded as interrupted"
                    if current.run_id is not None
                    else "",
                )
                return Acquired(lease=mine, replaced=current)
        current = self.holder(job)
        if current is not None:
            raise _locked(current)
        raise HistoryError(f"Cannot take the lock of job {job!r}: it changed hands too often")

    def _take_over(self, current: JobLease, mine: JobLease) -> bool:
        """Compare-and-swap an expired lease; True when this process won it."""
        now = mine.acquired_at
        try:
            with self.engine.begin() as conn:
                won = conn.execute(
                    update(JobLockRow)
                    .where(
                        JobLockRow.job == current.job,
                        JobLockRow.owner == current.owner,
                        JobLockRow.expires_at < now,
                    )
                    .values(**_columns(mine))
                )
                if won.rowcount != 1:
                    return False
                reason = (
                    f"interrupted: its process ({current.holder}) stopped renewing the "
                    f"job's lock, which expired at {current.expires_at:%Y-%m-%d %H:%M:%S} "
                    "UTC (killed?)"
                )
                if current.run_id is not None:
                    _interrupt_run(conn, current.run_id, now, reason)
                else:
                    # Killed between starting its run and noting it on the lease: the
                    # run is the job's one still running that started under this lease.
                    conn.execute(
                        update(RunRow)
                        .where(
                            RunRow.job == current.job,
                            RunRow.status == RunStatus.RUNNING,
                            RunRow.started_at >= current.acquired_at,
                        )
                        .values(status=RunStatus.INTERRUPTED, finished_at=now, error=reason)
                    )
                return True
        except SQLAlchemyError as exc:
            raise HistoryError(f"Cannot take the lock of job {current.job!r}: {exc}") from None

    def renew(self, lease: JobLease) -> JobLease | None:
        """Extend the lease by the time to live; None when it is no longer ours."""
        now = self._clock()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(JobLockRow)
                .where(JobLockRow.job == lease.job, JobLockRow.owner == lease.owner)
                .values(expires_at=now + self.ttl)
            )
        if result.rowcount != 1:
            return None
        return JobLease(
            job=lease.job,
            owner=lease.owner,
            run_id=lease.run_id,
            acquired_at=lease.acquired_at,
            expires_at=now + self.ttl,
        )

    def attach(self, lease: JobLease, run_id: int) -> JobLease:
        """Record on the lease which run holds it, so a successor can close that run."""
        with self.engine.begin() as conn:
            conn.execute(
                update(JobLockRow)
                .where(JobLockRow.job == lease.job, JobLockRow.owner == lease.owner)
                .values(run_id=run_id)
            )
        return JobLease(
            job=lease.job,
            owner=lease.owner,
            run_id=run_id,
            acquired_at=lease.acquired_at,
            expires_at=lease.expires_at,
        )

    def release(self, lease: JobLease) -> bool:
        """Give the lease up; False when it was no longer ours."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(JobLockRow).where(
                    JobLockRow.job == lease.job, JobLockRow.owner == lease.owner
                )
            )
        return bool(result.rowcount == 1)

    def interrupt(self, lease: JobLease, reason: str) -> None:
        """Record the lease's run (if still running) as interrupted, and release the lease."""
        now = self._clock()
        with self.engine.begin() as conn:
            if lease.run_id is not None:
                _interrupt_run(conn, lease.run_id, now, reason)
            conn.execute(
                delete(JobLockRow).where(
                    JobLockRow.job == lease.job, JobLockRow.owner == lease.owner
                )
            )

    def holder(self, job: str) -> JobLease | None:
        """The lease on ``job`` as stored (possibly expired), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(JobLockRow).where(JobLockRow.job == job)).first()
        return _lease(row) if row is not None else None

    def leases(self) -> list[JobLease]:
        """Every stored lease, expired ones included."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(JobLockRow).order_by(JobLockRow.job)).all()
        return [_lease(r) for r in rows]

    def held_by(self, owner_prefix: str) -> list[JobLease]:
        """The leases whose owner starts with ``owner_prefix`` (e.g. `process_owner()`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(JobLockRow).where(
                    JobLockRow.owner.startswith(owner_prefix + " [", autoescape=True)
                )
            ).all()
        return [_lease(r) for r in rows]

    @contextlib.contextmanager
    def hold(self, job: str) -> Iterator[HeldLease]:
        """Hold the lease on ``job`` for the ``with`` block, renewed by a heartbeat thread.

        Raises `JobLockedError` when another holder has it.
        """
        held = HeldLease(self, self.acquire(job).lease)
        try:
            yield held
        finally:
            held.close()


class HeldLease:
    """A lease this process holds, kept alive every third of its time to live."""

    def __init__(self, locks: JobLocks, lease: JobLease, *, every: float | None = None):
        """``every``: seconds between renewals (default a third of the time to live); a
        test with an injected clock renews often and moves the clock instead of waiting."""
        self._locks = locks
        self._every = every if every is not None else locks.ttl.total_seconds() / 3
        self._lease = lease
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self.lost = False
        """True once a renewal found the lease gone (taken over after it expired)."""
        self._thread = threading.Thread(
            target=self._beat, name=f"ragmon-lease-{lease.job}", daemon=True
        )
        self._thread.start()

    @property
    def lease(self) -> JobLease:
        with self._guard:
            return self._lease

    def attach(self, run_id: int) -> None:
        """Note the run that holds the lease (see `JobLocks.attach`)."""
        with self._guard:
            self._lease = self._locks.attach(self._lease, run_id)

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            try:
                with self._guard:
                    renewed = self._locks.renew(self._lease)
                    if renewed is not None:
                        self._lease = renewed
            except SQLAlchemyError as exc:
                log.warning("%s: could not renew the job's lock: %s", self._lease.job, exc)
                continue
            if renewed is None:
                self.lost = True
                log.error(
                    "%s: lost the job's lock (it expired and another run took it over); "
                    "raise [scheduler] lock_ttl_seconds if this process was only slow",
                    self._lease.job,
                )
                return

    def close(self) -> None:
        """Stop renewing and release the lease."""
        self._stop.set()
        self._thread.join()
        if self.lost:
            return
        try:
            self._locks.release(self.lease)
        except SQLAlchemyError as exc:
            log.warning(
                "%s: could not release the job's lock (it expires by itself): %s",
                self._lease.job,
                exc,
            )


def _interrupt_run(conn: Connection, run_id: int, now: datetime, reason: str) -> None:
    conn.execute(
        update(RunRow)
        .where(RunRow.id == run_id, RunRow.status == RunStatus.RUNNING)
        .values(status=RunStatus.INTERRUPTED, finished_at=now, error=reason)
    )


def _columns(lease: JobLease) -> dict[str, Any]:
    return {
        "job": lease.job,
        "owner": lease.owner,
        "run_id": lease.run_id,
        "acquired_at": lease.acquired_at,
        "expires_at": lease.expires_at,
    }


def _lease(row: Row[Any]) -> JobLease:
    return JobLease(
        job=row.job,
        owner=row.owner,
        run_id=row.run_id,
        acquired_at=row.acquired_at,
        expires_at=row.expires_at,
    )


def _locked(current: JobLease) -> JobLockedError:
    return JobLockedError(current.job, current.holder, current.acquired_at, current.expires_at)
