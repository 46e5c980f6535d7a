"""`AlertStore`: figures for rules, alert state, acknowledgements and the delivery outbox.

Every write that decides something (an evaluation's transitions and their outbox rows, a
claim on pending deliveries, an ack) happens in one transaction that starts by updating
the guard row, so overlapping runs take turns and a transition is queued exactly once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from monitor.alerts.messages import notification_from_json, notification_json
from monitor.errors import AlertNotFoundError
from monitor.history.models import (
    AlertGuardRow,
    AlertOutboxRow,
    AlertStateRow,
    MetricRow,
    RunRow,
)
from monitor.history.store import HistoryStore
from monitor.records import (
    COMPLETED,
    AlertState,
    AlertStatus,
    FigureRun,
    LabelKey,
    Notification,
    OutboxItem,
    Severity,
)

log = logging.getLogger(__name__)

PENDING, DELIVERED, DROPPED = "pending", "delivered", "dropped"
DELIVERED_RETENTION = timedelta(days=30)
"""Delivered and dropped outbox rows older than this are deleted."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboxCount:
    channel: str
    pending: int
    attempts: int
    last_error: str | None


class AlertStore:
    """Alert tables of a `HistoryStore`, and the figure queries rules need."""

    def __init__(self, history: HistoryStore):
        self.history = history

    # -- figures ------------------------------------------------------------

    def figure_runs(self, metric: str, *, job: str | None = None, runs: int = 1) -> list[FigureRun]:
        """The newest ``runs`` completed runs of ``job`` with their ``metric`` series.

        Without ``job``, the job of the newest completed run that stored ``metric``. A run
        of that job which stored no such series is included, with no series: a figure a
        run no longer reports is not firing.
        """
        with self.history.session() as session:
            if job is None:
                job = session.scalar(
                    select(RunRow.job)
                    .join(MetricRow, MetricRow.run_id == RunRow.id)
                    .where(MetricRow.name == metric, RunRow.status.in_(COMPLETED))
                    .order_by(RunRow.started_at.desc(), RunRow.id.desc())
                    .limit(1)
                )
                if job is None:
                    return []
            rows = session.execute(
                select(RunRow.id, RunRow.started_at)
                .where(RunRow.job == job, RunRow.status.in_(COMPLETED))
                .order_by(RunRow.started_at.desc(), RunRow.id.desc())
                .limit(runs)
            ).all()
            series = _series(session, metric, [r.id for r in rows])
            return [
                FigureRun(
                    run_id=r.id, job=job, started_at=r.started_at, series=series.get(r.id, {})
                )
                for r in rows
            ]

    def figure_in_run(self, metric: str, run_id: int) -> FigureRun | None:
        """``metric`` as stored by one run (for a baseline pinned to that run)."""
        with self.history.session() as session:
            run = session.get(RunRow, run_id)
            if run is None:
                return None
            series = _series(session, metric, [run_id]).get(run_id, {})
            return FigureRun(run_id=run_id, job=run.job, started_at=run.started_at, series=series)

    def first_run_started(self, job: str) -> datetime | None:
        """When ``job`` first ran (for a job that never succeeded)."""
        with self.history.session() as session:
            return session.scalar(select(func.min(RunRow.started_at)).where(RunRow.job == job))

    # -- state --------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, now: datetime) -> Iterator[AlertTransaction]:
        """A transaction that holds the alert guard until it commits."""
        with self.history.session() as session, session.begin():
            _take_guard(session, now)
            yield AlertTransaction(session, now)

    def states(self, *, include_resolved: bool = False) -> list[AlertState]:
        """Stored alerts, firing first, then newest first."""
        query = select(AlertStateRow)
        if not include_resolved:
            query = query.where(AlertStateRow.status == AlertStatus.FIRING)
        with self.history.session() as session:
            states = [_state(r) for r in session.scalars(query)]
        return sorted(
            states,
            key=lambda s: (s.status is not AlertStatus.FIRING, -s.since.timestamp(), s.rule),
        )

    def ack(self, prefix: str, *, by: str, note: str | None, now: datetime) -> AlertState:
        """Acknowledge the firing alert whose fingerprint starts with ``prefix``.

        Raises `AlertNotFoundError` when none, or more than one, matches.
        """
        with self.transaction(now) as tx:
            rows = tx.session.scalars(
                select(AlertStateRow).where(
                    AlertStateRow.status == AlertStatus.FIRING,
                    AlertStateRow.fingerprint.startswith(prefix, autoescape=True),
                )
            ).all()
            if len(rows) != 1 or not prefix:
                raise AlertNotFoundError(prefix, [r.fingerprint for r in rows] if prefix else [])
            row = rows[0]
            row.acked_at, row.acked_by, row.ack_note = now, by, note
            return _state(row)

    # -- outbox -------------------------------------------------------------

    def claim(self, *, owner: str, now: datetime, lease: timedelta) -> list[OutboxItem]:
        """Take every pending delivery no one else holds, oldest first, until ``now + lease``."""
        with self.transaction(now) as tx:
            session = tx.session
            ids = session.scalars(
                select(AlertOutboxRow.id)
                .where(
                    AlertOutboxRow.status == PENDING,
                    (AlertOutboxRow.claimed_until.is_(None)) | (AlertOutboxRow.claimed_until < now),
                )
                .order_by(AlertOutboxRow.id)
            ).all()
            if not ids:
                return []
            session.execute(
                update(AlertOutboxRow)
                .where(AlertOutboxRow.id.in_(ids))
                .values(claimed_by=owner, claimed_until=now + lease)
            )
            rows = session.scalars(
                select(AlertOutboxRow).where(AlertOutboxRow.id.in_(ids)).order_by(AlertOutboxRow.id)
            ).all()
            return [
                OutboxItem(
                    id=r.id,
                    channel=r.channel,
                    notification=notification_from_json(r.payload),
                    attempts=r.attempts,
                    created_at=r.created_at,
                )
                for r in rows
            ]

    def delivered(self, item_id: int, *, owner: str, now: datetime, attempts: int) -> None:
        self._finish(item_id, owner, attempts=attempts, now=now, status=DELIVERED, error=None)

    def failed(self, item_id: int, *, owner: str, now: datetime, attempts: int, error: str) -> None:
        """Still pending: record the (redacted) error and let the next run try again."""
        self._finish(item_id, owner, attempts=attempts, now=now, status=PENDING, error=error)

    def dropped(self, item_id: int, *, owner: str, now: datetime, reason: str) -> None:
        self._finish(item_id, owner, attempts=0, now=now, status=DROPPED, error=reason)

    def release(self, ids: Iterable[int], *, owner: str) -> None:
        """Give back claims not worked on (a channel failed before their turn)."""
        wanted = list(ids)
        if not wanted:
            return
        with self.history.session() as session, session.begin():
            session.execute(
                update(AlertOutboxRow)
                .where(AlertOutboxRow.id.in_(wanted), AlertOutboxRow.claimed_by == owner)
                .values(claimed_by=None, claimed_until=None)
            )

    def pending(self) -> list[OutboxCount]:
        """Pending deliveries per channel, with the last error seen."""
        with self.history.session() as session:
            rows = session.scalars(
                select(AlertOutboxRow)
                .where(AlertOutboxRow.status == PENDING)
                .order_by(AlertOutboxRow.channel, AlertOutboxRow.id)
            ).all()
        counts: dict[str, OutboxCount] = {}
        for r in rows:
            seen = counts.get(r.channel)
            counts[r.channel] = OutboxCount(
                channel=r.channel,
                pending=(seen.pending if seen else 0) + 1,
                attempts=max(seen.attempts if seen else 0, r.attempts),
                last_error=r.last_error or (seen.last_error if seen else None),
            )
        return list(counts.values())

    def _finish(
        self,
        item_id: int,
        owner: str,
        *,
        attempts: int,
        now: datetime,
        status: str,
        error: str | None,
    ) -> None:
        with self.history.session() as session, session.begin():
            row = session.get(AlertOutboxRow, item_id)
            if row is None or row.claimed_by != owner:
                log.warning("outbox item %s was taken over by another run", item_id)
                return
            row.status = status
            row.attempts += attempts
            row.last_attempt_at = now if attempts else row.last_attempt_at
            row.delivered_at = now if status == DELIVERED else None
            row.last_error = error
            row.claimed_by = row.claimed_until = None


class AlertTransaction:
    """What an evaluation reads and writes while it holds the guard."""

    def __init__(self, session: Session, now: datetime):
        self.session = session
        self.now = now

    def states(self) -> dict[str, AlertState]:
        return {r.fingerprint: _state(r) for r in self.session.scalars(select(AlertStateRow))}

    def save_state(self, state: AlertState) -> None:
        row = self.session.get(AlertStateRow, state.fingerprint)
        if row is None:
            row = AlertStateRow(fingerprint=state.fingerprint)
            self.session.add(row)
        row.rule = state.rule
        row.labels = dict(state.labels)
        row.severity = state.severity.value
        row.status = state.status.value
        row.summary = state.summary
        row.value = state.value
        row.since = state.since
        row.last_seen_at = state.last_seen_at
        row.last_notified_at = state.last_notified_at
        row.resolved_at = state.resolved_at
        row.acked_at = state.acked_at
        row.acked_by = state.acked_by
        row.ack_note = state.ack_note
        row.notifications = state.notifications

    def enqueue(self, notification: Notification, channels: Sequence[str]) -> None:
        """One pending outbox row per channel, in this transaction."""
        payload = notification_json(notification)
        self.session.add_all(
            AlertOutboxRow(
                notification_id=notification.id,
                channel=channel,
                fingerprint=notification.fingerprint,
                kind=notification.kind.value,
                payload=payload,
                status=PENDING,
                attempts=0,
                created_at=self.now,
            )
            for channel in channels
        )

    def prune(self) -> None:
        """Forget delivered and dropped rows past their retention."""
        self.session.execute(
            delete(AlertOutboxRow).where(
                AlertOutboxRow.status.in_([DELIVERED, DROPPED]),
                AlertOutboxRow.created_at < self.now - DELIVERED_RETENTION,
            )
        )


def _take_guard(session: Session, now: datetime) -> None:
    done = session.execute(
        update(AlertGuardRow)
        .where(AlertGuardRow.id == 1)
        .values(evaluations=AlertGuardRow.evaluations + 1, evaluated_at=now)
    )
    if getattr(done, "rowcount", 1) == 0:  # the row was deleted by hand: put it back
        session.add(AlertGuardRow(id=1, evaluations=1, evaluated_at=now))
        session.flush()


def _series(session: Session, metric: str, run_ids: list[int]) -> dict[int, dict[LabelKey, float]]:
    out: dict[int, dict[LabelKey, float]] = {}
    if not run_ids:
        return out
    rows = session.execute(
        select(MetricRow.run_id, MetricRow.labels, MetricRow.value).where(
            MetricRow.name == metric, MetricRow.run_id.in_(run_ids)
        )
    )
    for run_id, labels, value in rows:
        key = tuple(sorted((str(k), str(v)) for k, v in (labels or {}).items()))
        out.setdefault(run_id, {})[key] = float(value)
    return out


def _state(row: AlertStateRow) -> AlertState:
    return AlertState(
        fingerprint=row.fingerprint,
        rule=row.rule,
        labels=dict(row.labels or {}),
        severity=Severity(row.severity),
        status=AlertStatus(row.status),
        summary=row.summary,
        value=row.value,
        since=row.since,
        last_seen_at=row.last_seen_at,
        last_notified_at=row.last_notified_at,
        resolved_at=row.resolved_at,
        acked_at=row.acked_at,
        acked_by=row.acked_by,
        ack_note=row.ack_note,
        notifications=row.notifications,
    )
