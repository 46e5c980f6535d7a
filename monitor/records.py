"""Typed records that cross module boundaries. Frozen and keyword-only."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceDocument:
    """One current source document as the catalog sees it."""

    id: str
    """Stable id: the path relative to the catalog root, with forward slashes."""
    uri: str
    path: Path
    sha256: str
    """Hash of the normalised text (see `monitor.text.normalise`)."""
    size: int
    mtime_ns: int
    modified_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceStamp:
    """What a previous scan knew of a file, so an unchanged one need not be read again."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceProblem:
    """A source the catalog could not use, and why: undecodable, unreadable, vanished, too
    large, a link out of the root, or a directory it could not list.

    Never a deleted source: chunks recorded for ``path`` (or, for a directory, anywhere
    under it) are `unreadable`, not orphaned, and are never deleted.
    """

    path: str
    """Relative to the catalog root, POSIX separators; ``.`` for the root itself. Bytes of
    a name that were not UTF-8 are escaped (``x\\xff.md``)."""
    reason: str
    directory: bool = False
    """The directory itself could not be listed: everything under it is unknown."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Chunk:
    """One record of the vector store: id, text, metadata and, when asked for, its vector."""

    id: str
    text: str | None
    metadata: Mapping[str, Any]
    embedding: Any = None
    """A 1-D numpy array when the store was asked for embeddings, else None."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Neighbour:
    """One hit of a query by embedding."""

    id: str
    distance: float
    text: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    embedding: Any = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Provenance:
    """Where a chunk came from, read from its metadata through a mapping."""

    source: str | None
    """Source id or path as the store recorded it; None when the chunk is untraceable."""
    source_sha256: str | None = None
    chunk_sha256: str | None = None
    chunk_index: int | None = None
    embedded_at: datetime | None = None
    embedding_model: str | None = None


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    """One thing a job found, with the evidence a person needs to act on it."""

    kind: str
    severity: Severity
    message: str
    source_id: str | None = None
    chunk_ids: tuple[str, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Metric:
    """One figure of a run. Labels distinguish series of the same name."""

    name: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    OK = "ok"
    """Healthy: nothing crossed a threshold."""
    FINDINGS = "findings"
    """Completed, and at least one threshold was crossed."""
    FAILED = "failed"
    INTERRUPTED = "interrupted"


COMPLETED = (RunStatus.OK, RunStatus.FINDINGS)
"""Run statuses of a job that did its work (healthy or with findings)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RunResult:
    """What a job hands back: a status, a one-line summary, figures, findings, details."""

    status: RunStatus
    summary: str
    metrics: tuple[Metric, ...] = ()
    findings: tuple[Finding, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    """Machine-readable result (what `--json` prints); JSON-serialisable."""
    source_stamps: Mapping[str, SourceStamp] | None = None
    """Source hashes seen by this run, stored with it so the next run need not re-read."""
    memos: Mapping[str, Any] | None = None
    """Analysis results by input hash, used or made by this run, kept for the next."""
    gates: tuple[Evaluation, ...] = ()
    """The job's gate rules evaluated on this run's figures (set by the runner)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRecord:
    """A stored run, as the history store gives it back."""

    id: int
    job: str
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    error: str | None
    summary: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class JobLease:
    """A job's lock as stored: who holds it, since when, and until when unless renewed."""

    job: str
    owner: str
    """``pid 1234 on host [token]``: the token tells two leases of one process apart."""
    run_id: int | None
    acquired_at: datetime
    expires_at: datetime

    @property
    def holder(self) -> str:
        """The owner without its token: ``pid 1234 on host``."""
        return self.owner.rsplit(" [", 1)[0]

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


# -- alerts -------------------------------------------------------------------


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class NotificationKind(enum.StrEnum):
    FIRING = "firing"
    """The alert started firing."""
    REPEAT = "repeat"
    """Still firing, unacknowledged, and the cooldown since the last notice has passed."""
    RESOLVED = "resolved"
    TEST = "test"
    """Sent by `ragmon alerts test`; never stored."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Evaluation:
    """One alert condition checked now: a rule over one series, or a dead man's switch."""

    rule: str
    fingerprint: str
    """Stable id of the alert: a hash of the rule name and the series labels."""
    labels: Mapping[str, str]
    severity: Severity
    firing: bool
    summary: str
    """One line with the headline figure, e.g. ``stale_share{collection=docs} = 22% (> 5%)``."""
    description: str = ""
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    op: str | None = None
    job: str | None = None
    run_id: int | None = None
    """The run the figure comes from."""
    findings: tuple[str, ...] = ()
    """The top findings of that run, one line each, for the message."""
    cooldown: timedelta | None = None
    """Per-rule repeat interval; None means the global ``alerts.cooldown``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertState:
    """Where one alert (by fingerprint) stands, as stored in the history database."""

    fingerprint: str
    rule: str
    labels: Mapping[str, str]
    severity: Severity
    status: AlertStatus
    summary: str
    value: float | None
    since: datetime
    """When the current (or last) firing began."""
    last_seen_at: datetime
    last_notified_at: datetime | None = None
    resolved_at: datetime | None = None
    acked_at: datetime | None = None
    """Set by `ragmon alerts ack`: no repeats until the alert resolves (which clears it)."""
    acked_by: str | None = None
    ack_note: str | None = None
    notifications: int = 0
    """Notices queued for this alert so far (firing, repeats and resolved)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Notification:
    """One message about one alert, rendered by each channel in its own format."""

    id: str
    """Unique per notice; the same on every channel, so a receiver can drop duplicates."""
    kind: NotificationKind
    fingerprint: str
    rule: str
    severity: Severity
    summary: str
    at: datetime
    labels: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    op: str | None = None
    since: datetime | None = None
    job: str | None = None
    run_id: int | None = None
    findings: tuple[str, ...] = ()
    report: str | None = None
    """Path or URL of the HTML report (``alerts.report_url``), when configured."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboxItem:
    """A notification waiting for (or retried on) one channel."""

    id: int
    channel: str
    notification: Notification
    attempts: int
    created_at: datetime


LabelKey = tuple[tuple[str, str], ...]
"""A series' labels as sorted (name, value) pairs, usable as a dict key."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FigureRun:
    """The values of one figure in one completed run, per series (label set)."""

    run_id: int
    job: str
    started_at: datetime
    series: Mapping[LabelKey, float]


@dataclass(frozen=True, kw_only=True, slots=True)
class JobDeadline:
    """A job's schedule against its last success, for the dead man's switch."""

    job: str
    schedule: str
    last_success_at: datetime | None
    overdue_since: datetime | None
    """The missed slot, or None while the job is on time (or has never run)."""


# -- response logs ------------------------------------------------------------


class ScoreKind(enum.StrEnum):
    """What a retrieval score measures: lower is nearer (distance) or higher is (similarity)."""

    DISTANCE = "distance"
    SIMILARITY = "similarity"


class RetrievedChunk(NamedTuple):
    """One chunk a response was given, in rank order.

    A tuple rather than a dataclass: a day of logs holds millions, and it is built per line.
    """

    id: str | None
    """The store's chunk id; None when the log carried only the text."""
    score: float | None = None
    score_kind: ScoreKind | None = None
    text: str | None = None
    source: str | None = None
    """The source the log's own metadata names (e.g. LangChain's ``source``); read only for
    a chunk without an id, to find it in the store by its text."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ResponseRecord:
    """One answer of the application as its logs tell it: question, chunks, answer."""

    id: str
    """Unique per response (a trace id for OTLP traces); ingestion is idempotent on it."""
    time: datetime
    """When the response started, aware UTC."""
    query: str | None
    answer: str | None
    chunks: tuple[RetrievedChunk, ...] = ()
    context: str | None = None
    """The context text handed to the model, when logged."""
    grounding: float | None = None
    feedback: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class ChunkLineage:
    """What the latest freshness audit knew of one chunk id when a response was ingested."""

    chunk_id: str
    chunk_class: str
    """fresh, stale, suspect, orphaned, moved, untraceable, unverified; ``unknown`` when no
    audit knew the chunk; ``unknown_chunk`` when the store does not hold it."""
    source_id: str | None = None
    source_version: str | None = None
    """The source version the chunk was embedded from: ``sha256:...`` or ``embedded:ISO``."""
    current_version: str | None = None
    """The source's version at the audit: ``sha256:...``; None when the source is gone."""
    freshness_run: int | None = None
    changed_share: float | None = None
    """Share of the chunk's text changed in its source (chunks stale by ``edited``)."""
    stale_age_s: float | None = None
    """Seconds the chunk's document had changed before the audit without being re-embedded
    (its stalest chunk's age; None for documents that are not stale)."""
    in_conflict: bool | None = None
    """The chunk's document is in a conflicting-duplicates group; None without an audit."""
