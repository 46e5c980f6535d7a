"""SQLAlchemy 2.x models of the history database. Schema changes go through Alembic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware datetimes, whatever the backend does with time zones."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the history store; use UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    """One run of one job."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[Any] = mapped_column(JSON, nullable=True)

    metrics: Mapped[list[MetricRow]] = relationship(back_populates="run")
    findings: Mapped[list[FindingRow]] = relationship(back_populates="run")

    __table_args__ = (Index("ix_runs_job_started", "job", "started_at"),)


class MetricRow(Base):
    """One figure of a run."""

    __tablename__ = "metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    value: Mapped[float] = mapped_column(Float)
    labels: Mapped[Any] = mapped_column(JSON, default=dict)

    run: Mapped[RunRow] = relationship(back_populates="metrics")

    __table_args__ = (Index("ix_metrics_name", "name"),)


class FindingRow(Base):
    """One finding of a run."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    source_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    chunk_ids: Mapped[Any] = mapped_column(JSON, default=list)
    evidence: Mapped[Any] = mapped_column(JSON, default=dict)

    run: Mapped[RunRow] = relationship(back_populates="findings")


class SourceStampRow(Base):
    """What the last audit saw of each source file, so unchanged files are not re-read."""

    __tablename__ = "source_stamps"

    source_id: Mapped[str] = mapped_column(Text, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))


class MemoRow(Base):
    """A stored analysis result keyed by a hash of all its inputs (see `memo_get`)."""

    __tablename__ = "memo"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class JobLockRow(Base):
    """A lease on a job: held by ``owner`` until ``expires_at`` unless renewed."""

    __tablename__ = "job_locks"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlertGuardRow(Base):
    """One row every alert evaluation, claim and ack updates first, in its transaction.

    Updating it takes the database's write lock (SQLite) or the row's lock (PostgreSQL), so
    evaluations of overlapping runs are serialised and a transition is queued once.
    """

    __tablename__ = "alert_guard"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluations: Mapped[int] = mapped_column(Integer, default=0)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AlertStateRow(Base):
    """Where one alert stands: firing or resolved, since when, last notified, acknowledged."""

    __tablename__ = "alert_states"

    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule: Mapped[str] = mapped_column(String(128))
    labels: Mapped[Any] = mapped_column(JSON, default=dict)
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    summary: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ack_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    notifications: Mapped[int] = mapped_column(Integer, default=0)


class AlertOutboxRow(Base):
    """One notification for one channel: pending until delivered (or dropped)."""

    __tablename__ = "alert_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[Any] = mapped_column(JSON)
    """The notification as `notification_json`: never a secret."""
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Redacted before it is stored."""
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ux_alert_outbox_notification_channel", "notification_id", "channel", unique=True),
        Index("ix_alert_outbox_status", "status", "channel"),
    )


# -- response logs (migration 0005) -------------------------------------------------
# Written in bulk through `monitor.history.responses`, not through the ORM: a busy app
# logs millions of responses. Times are microseconds since 1970 (UTC) in a BigInteger,
# so bulk inserts need no per-row conversion and windows are plain integer ranges.


class ResponseRow(Base):
    """One response of the application, as its log told it."""

    __tablename__ = "responses"

    rid: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    id: Mapped[str] = mapped_column(String(255))
    at_us: Mapped[int] = mapped_column(BigInteger, index=True)  # ix_responses_at_us
    query: Mapped[str | None] = mapped_column(Text, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    context: Mapped[str | None] = mapped_column(Text, nullable=True)
    grounding: Mapped[float | None] = mapped_column(Float, nullable=True)
    feedback: Mapped[str | None] = mapped_column(String(255), nullable=True)
    labels: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON object of text labels."""
    format: Mapped[str] = mapped_column(String(16))
    file: Mapped[str | None] = mapped_column(Text, nullable=True)
    line: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ingested_us: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("id", name="uq_responses_id"),)


class ResponseChunkRow(Base):
    """One chunk a response was given, in rank order, with its lineage at ingestion."""

    __tablename__ = "response_chunks"

    rid: Mapped[int] = mapped_column(
        ForeignKey("responses.rid", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    chunk_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    lineage_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The chunk's `ChunkLineageRow` (class, source, versions) when the response came in."""

    # One B-tree keyed by (rid, position) instead of a rowid table plus an index.
    __table_args__ = ({"sqlite_with_rowid": False},)


class ChunkLineageRow(Base):
    """What one freshness run knew of one retrieved chunk; shared by the response chunks
    ingested while that run was the latest."""

    __tablename__ = "chunk_lineage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chunk_id: Mapped[str] = mapped_column(String(255))
    freshness_run: Mapped[int | None] = mapped_column(Integer, nullable=True)
    chunk_class: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    current_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # migration 0007: the chunk's state beyond its class, as the freshness run saw it
    changed_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Share of the chunk's text changed in its source (``edited`` chunks only)."""
    stale_age_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Seconds the source had changed before the run without the chunk being re-embedded."""
    in_conflict: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    """The chunk's document is in a conflicting-duplicates group."""

    __table_args__ = (
        Index("ux_chunk_lineage_run_chunk", "freshness_run", "chunk_id", unique=True),
    )


class RetrievalCountRow(Base):
    """How often a chunk was retrieved on one day (UTC), with its source at the time."""

    __tablename__ = "retrieval_counts"

    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Days since 1970-01-01."""
    chunk_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    source_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    retrievals: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = ({"sqlite_with_rowid": False},)


class LogOffsetRow(Base):
    """How far ingestion read one log file, and how to recognise that file again."""

    __tablename__ = "log_offsets"

    path: Mapped[str] = mapped_column(Text, primary_key=True)
    inode: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger)
    """Bytes consumed (of the decompressed stream for .gz), always at a line start."""
    lines: Mapped[int] = mapped_column(BigInteger)
    head_sha256: Mapped[str] = mapped_column(String(64))
    head_len: Mapped[int] = mapped_column(Integer)
    at_eof: Mapped[bool] = mapped_column(Boolean)
    updated_us: Mapped[int] = mapped_column(BigInteger)


class LogPendingRow(Base):
    """Spans of traces still waiting for their root span, per format."""

    __tablename__ = "log_pending"

    format: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)


class LogRejectRow(Base):
    """Quarantined lines per file and reason (the lines themselves are in the quarantine file)."""

    __tablename__ = "log_rejects"

    path: Mapped[str] = mapped_column(Text, primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    lines: Mapped[int] = mapped_column(BigInteger)
    last_us: Mapped[int] = mapped_column(BigInteger)


# -- response grounding (migration 0006) ---------------------------------------------


class ResponseGroundingRow(Base):
    """ragmon's grounding score of one ingested response (or why it has none)."""

    __tablename__ = "response_grounding"

    rid: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("responses.rid", ondelete="CASCADE"),
        primary_key=True,
    )
    at_us: Mapped[int] = mapped_column(BigInteger, index=True)  # ix_response_grounding_at_us
    """The response's time, copied so per-day figures need no join."""
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    band: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    """``scored``, ``no_context`` or ``no_answer``: a response is looked at once."""
    scorer: Mapped[str] = mapped_column(String(40))
    """Version of the scorer and its settings that gave the score."""
    evidence: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON: unsupported claims and violations (`GroundingResult.to_json`)."""
    scored_us: Mapped[int] = mapped_column(BigInteger)


# -- upstream state for correlation (migration 0007) ---------------------------------


class ChunkQualityRow(Base):
    """The latest chunking flags of one chunk, written by the chunking job."""

    __tablename__ = "chunk_quality"

    chunk_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    truncated: Mapped[bool] = mapped_column(Boolean)
    """Longer than the embedding model's window: its tail was never embedded."""
    mid_sentence: Mapped[bool] = mapped_column(Boolean)
    """Starts or ends inside a sentence."""
    junk: Mapped[bool] = mapped_column(Boolean)
    """Mostly boilerplate, markup or non-text."""
    tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    chunking_run: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_us: Mapped[int] = mapped_column(BigInteger)


class ResponseRetrievalRow(Base):
    """What the relevance job found about one response's retrieval."""

    __tablename__ = "response_retrieval"

    rid: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("responses.rid", ondelete="CASCADE"),
        primary_key=True,
    )
    at_us: Mapped[int] = mapped_column(BigInteger, index=True)  # ix_response_retrieval_at_us
    query_novelty: Mapped[float | None] = mapped_column(Float, nullable=True)
    """How far the query lies from the reference window's queries (higher: further)."""
    query_drifted: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    """The query lies in a region of query space the reference window did not cover."""
    context_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    over_budget: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    relevance_run: Mapped[int | None] = mapped_column(Integer, nullable=True)
    computed_us: Mapped[int] = mapped_column(BigInteger)
