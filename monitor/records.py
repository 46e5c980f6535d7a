"""Typed records that cross module boundaries. Frozen and keyword-only."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


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
    """A file the catalog skipped, and why (undecodable, link out of root, unreadable)."""

    path: str
    reason: str


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
