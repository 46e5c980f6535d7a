"""`HistoryStore`: opens the database, migrates it, and reads and writes runs.

A run is written twice: a ``running`` row when it starts (so `status` can see it), then
its status, figures and findings in one transaction when it ends. A crash in between
leaves every earlier run as it was.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from monitor import clock
from monitor.errors import HistoryError, HistoryUnreadableError, UnknownSchemaError
from monitor.history.models import FindingRow, MemoRow, MetricRow, RunRow, SourceStampRow
from monitor.records import (
    COMPLETED,
    Finding,
    Metric,
    RunRecord,
    RunResult,
    RunStatus,
    Severity,
    SourceStamp,
)

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATING = threading.Lock()
MEMO_RETENTION = timedelta(days=30)
"""Memo entries no run has used for this long are dropped."""


def utcnow() -> datetime:
    return clock.now()


class HistoryStore:
    """Run history in any SQLAlchemy database; SQLite files get WAL and a busy timeout."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> HistoryStore:
        """Connect to ``url`` and bring the schema to the newest revision.

        Raises `UnknownSchemaError` when the database is newer than this ragmon.
        """
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = create_engine(url)
        except ImportError as exc:
            raise HistoryError(
                f"Cannot use history database {_safe(url)}: {exc}. For PostgreSQL, install "
                "the driver: pip install 'ragmon[postgres]'."
            ) from None
        except SQLAlchemyError as exc:
            raise HistoryError(f"Cannot use history database {_safe(url)}: {exc}") from None
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    @property
    def url(self) -> str:
        return _safe(str(self.engine.url))

    def migrate(self) -> str:
        """Apply pending Alembic migrations; return the revision the database is now at."""
        from alembic.config import Config as AlembicConfig
        from alembic.script import ScriptDirectory

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        if log.getEffectiveLevel() > logging.DEBUG:
            # Alembic reports every context set-up at INFO: only worth reading with -vv.
            logging.getLogger("alembic").setLevel(logging.WARNING)
        # Alembic's script loading is not thread-safe: one migration at a time per process.
        with _MIGRATING:
            return self._migrate(cfg, ScriptDirectory.from_config(cfg))

    def _migrate(self, cfg: Any, scripts: Any) -> str:
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.begin() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
                if current is not None and current not in {
                    s.revision for s in scripts.walk_revisions()
                }:
                    raise UnknownSchemaError(self.url, current)
                if current != scripts.get_current_head():
                    log.info("migrating history %s from %s", self.url, current or "empty")
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                head = scripts.get_current_head()
        except SQLAlchemyError as exc:
            raise HistoryError(
                f"Cannot migrate history database {self.url}: {_first_line(exc)}"
            ) from None
        return str(head)

    def session(self) -> Session:
        return self._sessions()

    # -- runs ---------------------------------------------------------------

    def start_run(self, job: str, *, started_at: datetime | None = None) -> int:
        """Record that ``job`` started; return the run id."""
        with self._sessions.begin() as session:
            row = RunRow(job=job, started_at=started_at or utcnow(), status=RunStatus.RUNNING)
            session.add(row)
            session.flush()
            return row.id

    def finish_run(
        self,
        run_id: int,
        result: RunResult,
        *,
        also: Callable[[Session], None] | None = None,
    ) -> None:
        """Store a run's outcome, figures and findings in one transaction.

        ``also`` writes a job's own state (e.g. source hashes) in that same transaction.
        """
        with self._sessions.begin() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise HistoryError(f"No run with id {run_id} in {self.url}")
            row.finished_at = utcnow()
            row.status = result.status
            row.summary = result.summary
            row.details = _jsonable(result.details)
            session.add_all(
                MetricRow(run_id=run_id, name=m.name, value=float(m.value), labels=dict(m.labels))
                for m in result.metrics
            )
            session.add_all(
                FindingRow(
                    run_id=run_id,
                    kind=f.kind,
                    severity=f.severity,
                    message=f.message,
                    source_id=f.source_id,
                    chunk_ids=list(f.chunk_ids),
                    evidence=_jsonable(f.evidence),
                )
                for f in result.findings
            )
            if result.source_stamps is not None:
                _replace_stamps(session, result.source_stamps)
            if result.memos:
                _upsert_memos(session, result.memos)
            if also is not None:
                also(session)

    def fail_run(self, run_id: int, error: str, *, status: RunStatus = RunStatus.FAILED) -> None:
        """Mark a run failed (or interrupted); nothing else of it is kept."""
        with self._sessions.begin() as session:
            row = session.get(RunRow, run_id)
            if row is not None:
                row.finished_at = utcnow()
                row.status = status
                row.error = error

    def runs(self, job: str | None = None, *, limit: int = 50) -> list[RunRecord]:
        """Newest runs first."""
        query = select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id.desc()).limit(limit)
        if job is not None:
            query = query.where(RunRow.job == job)
        with self.session() as session:
            return [_record(r) for r in session.scalars(query)]

    def last_runs(self, jobs: Iterable[str]) -> dict[str, RunRecord]:
        """The newest run of each job that has run at least once."""
        return {j: runs[0] for j in jobs if (runs := self.runs(j, limit=1))}

    def last_success(self, job: str) -> RunRecord | None:
        """The newest run of ``job`` that completed (healthy or with findings)."""
        query = (
            select(RunRow)
            .where(RunRow.job == job, RunRow.status.in_(COMPLETED))
            .order_by(RunRow.started_at.desc(), RunRow.id.desc())
            .limit(1)
        )
        with self.session() as session:
            row = session.scalars(query).first()
            return _record(row) if row is not None else None

    def metrics(self, run_id: int) -> list[Metric]:
        with self.session() as session:
            rows = session.scalars(select(MetricRow).where(MetricRow.run_id == run_id))
            return [Metric(name=r.name, value=r.value, labels=r.labels or {}) for r in rows]

    def findings(self, run_id: int) -> list[Finding]:
        with self.session() as session:
            rows = session.scalars(
                select(FindingRow).where(FindingRow.run_id == run_id).order_by(FindingRow.id)
            )
            return [
                Finding(
                    kind=r.kind,
                    severity=Severity(r.severity),
                    message=r.message,
                    source_id=r.source_id,
                    chunk_ids=tuple(r.chunk_ids or ()),
                    evidence=r.evidence or {},
                )
                for r in rows
            ]

    def source_stamps(self) -> dict[str, SourceStamp]:
        """What the last successful audit saw of each source file."""
        with self.session() as session:
            return {
                r.source_id: SourceStamp(size=r.size, mtime_ns=r.mtime_ns, sha256=r.sha256)
                for r in session.scalars(select(SourceStampRow))
            }

    def memo_get(self, keys: Iterable[str]) -> dict[str, Any]:
        """Stored analysis results for those of ``keys`` that have one."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        with self.session() as session:
            for start in range(0, len(wanted), 500):
                rows = session.scalars(
                    select(MemoRow).where(MemoRow.key.in_(wanted[start : start + 500]))
                )
                found.update({r.key: r.value for r in rows})
        return found

    def count_runs(self) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count(RunRow.id))) or 0)

    def details(self, run_id: int) -> Any:
        with self.session() as session:
            row = session.get(RunRow, run_id)
            return row.details if row is not None else None


def _replace_stamps(session: Session, stamps: Mapping[str, SourceStamp]) -> None:
    session.execute(delete(SourceStampRow))
    rows = [
        {"source_id": k, "size": v.size, "mtime_ns": v.mtime_ns, "sha256": v.sha256}
        for k, v in stamps.items()
    ]
    if rows:
        session.execute(insert(SourceStampRow), rows)


def _upsert_memos(session: Session, memos: Mapping[str, Any]) -> None:
    now = utcnow()
    keys = list(memos)
    for start in range(0, len(keys), 500):
        session.execute(delete(MemoRow).where(MemoRow.key.in_(keys[start : start + 500])))
    # One bulk INSERT (executemany), not a unit-of-work object per entry.
    rows = [{"key": k, "value": _jsonable(v), "used_at": now} for k, v in memos.items()]
    if rows:
        session.execute(insert(MemoRow), rows)
    session.execute(delete(MemoRow).where(MemoRow.used_at < now - MEMO_RETENTION))


def _record(row: RunRow) -> RunRecord:
    return RunRecord(
        id=row.id,
        job=row.job,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=RunStatus(row.status),
        error=row.error,
        summary=row.summary,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def as_history_error(exc: BaseException, url: str) -> HistoryError | None:
    """A database failure met while reading or writing history, as a `HistoryError`
    (None for anything else). "database disk image is malformed" is the typical one: the
    CLI maps it to exit 3 with this message instead of a traceback."""
    if isinstance(exc, HistoryError):
        return exc
    if not isinstance(exc, SQLAlchemyError):
        return None
    return HistoryUnreadableError(_safe(url), _first_line(exc))


def _first_line(exc: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's statement and background link."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


def _safe(url: str) -> str:
    """The URL with any password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<history url>"


def _jsonable(value: Any) -> Any:
    """Plain JSON types only (tuples to lists, datetimes to ISO strings)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value
