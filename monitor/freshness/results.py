"""From a `FreshnessAudit` to figures, findings and the typed result (the fix queue is
`monitor.freshness.fixqueue`).

`FreshnessResult` is what the job stores with each run and what `--json` prints; the
report, `ragmon fix-queue` and the demo read it back with `FreshnessResult.from_json`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

import numpy as np

from monitor.config import FreshnessConfig
from monitor.freshness.audit import FreshnessAudit
from monitor.freshness.conflict_groups import ConflictGroup
from monitor.freshness.fixqueue import FixItem, fix_queue, reason
from monitor.freshness.states import ChunkClass, DocClass, DocumentState
from monitor.records import Finding, Metric, RunResult, RunStatus, Severity, SourceProblem
from monitor.results import ResultRecord

SCHEMA = "ragmon.freshness/2"
_SEVERITY = {
    DocClass.STALE: Severity.WARNING,
    DocClass.PARTIALLY_INDEXED: Severity.WARNING,
    DocClass.ORPHANED: Severity.WARNING,
    DocClass.MISSING: Severity.WARNING,
    DocClass.MOVED: Severity.INFO,
    DocClass.SUSPECT: Severity.INFO,
    DocClass.UNVERIFIED: Severity.INFO,
    DocClass.UNREADABLE: Severity.WARNING,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class ClassCounts:
    """Chunks per chunk class and documents per document class (every class present)."""

    chunks: dict[ChunkClass, int]
    documents: dict[DocClass, int]


@dataclass(frozen=True, kw_only=True, slots=True)
class Shares:
    stale: float
    """Stale chunks over all chunks."""
    orphaned: float
    """Orphaned and moved chunks over all chunks."""
    coverage: float
    """Source documents that are indexed over all source documents."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AgeStats:
    """Seconds stale chunks have been behind their sources (None without stale chunks)."""

    p50: float | None = None
    p95: float | None = None
    max: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class TextCheck:
    """How chunk text was compared with source text (rule ``exact`` or ``tolerant-fuzzy``)."""

    rule: str
    loader_rewrote_text: bool
    """True when the loader rewrote text (markup stripped, whitespace joined), so chunks
    were matched tolerantly."""
    checked: int
    verbatim: int
    aligned_closely: int
    note: str | None = None
    located_by_offsets: int = 0
    """Verbatim chunks found at the character offsets the store recorded (LlamaIndex's
    ``start_char_idx``), without searching their source."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ChunkEdit:
    """How one chunk stale by ``edited`` differs from its source: share changed, word diff."""

    changed_share: float
    diff: str


@dataclass(frozen=True, kw_only=True, slots=True)
class DocumentVerdict:
    """A document that is not fresh: its class, its chunks per class (fresh left out)."""

    status: DocClass
    chunk_ids: dict[ChunkClass, list[str]]
    rules: dict[str, int]
    coverage: float | None = None
    unembedded_chars: int = 0
    """The longest stretch of the current text no chunk covers (``partially_indexed``)."""
    modified_at: datetime | None = None
    embedded_at: datetime | None = None
    moved_to: str | None = None
    moved_from: str | None = None
    reason: str | None = None
    """Why the source could not be read (``unreadable`` documents)."""
    stale_age_seconds: float | None = None
    edits: dict[str, ChunkEdit] = field(default_factory=dict)
    """Per chunk stale by ``edited``: what changed."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FreshnessResult(ResultRecord):
    """One audit as stored with its run (schema ``ragmon.freshness/2``)."""

    SCHEMA = SCHEMA

    collection: str
    store: str
    audited_at: datetime
    chunks: int
    documents: int
    counts: ClassCounts
    shares: Shares
    staleness_age_seconds: AgeStats
    newest_embedding: datetime | None
    newest_source_change: datetime | None
    text_check: TextCheck
    models_in_metadata: dict[str, int]
    conflicts: tuple[ConflictGroup, ...]
    """Conflicting duplicates grouped by sentence template, documents oldest first."""
    untraceable: tuple[str, ...]
    source_reads: int
    source_problems: tuple[SourceProblem, ...]
    by_document: dict[str, DocumentVerdict] = field(default_factory=dict)
    """Every document that is not fresh."""
    fix_queue: tuple[FixItem, ...] = ()


def to_result(audit: FreshnessAudit, settings: FreshnessConfig) -> RunResult:
    """Figures, findings and the typed result of one audit.

    The status is ``ok``: thresholds are the job's gate rules, applied by the runner.
    """
    chunk_counts = {c: 0 for c in ChunkClass}
    doc_counts = {c: 0 for c in DocClass}
    chunk_counts[ChunkClass.UNTRACEABLE] = len(audit.untraceable)
    ages: list[float] = []
    for state in audit.documents.values():
        doc_counts[state.status] += 1
        chunk_counts[ChunkClass.FRESH] += state.fresh
        for cls, ids in state.chunks.items():
            chunk_counts[cls] += len(ids)
        ages += state.stale_ages
    total = max(audit.chunk_total, 1)
    indexed = audit.catalog_documents - doc_counts[DocClass.MISSING] - _moved_targets(audit)
    shares = Shares(
        stale=round(chunk_counts[ChunkClass.STALE] / total, 6),
        orphaned=round(
            (chunk_counts[ChunkClass.ORPHANED] + chunk_counts[ChunkClass.MOVED]) / total, 6
        ),
        coverage=round(indexed / audit.catalog_documents, 6) if audit.catalog_documents else 1.0,
    )
    record = FreshnessResult(
        collection=audit.collection,
        store=audit.location,
        audited_at=audit.audited_at,
        chunks=audit.chunk_total,
        documents=audit.catalog_documents,
        counts=ClassCounts(chunks=chunk_counts, documents=doc_counts),
        shares=shares,
        staleness_age_seconds=_quantiles(ages),
        newest_embedding=audit.newest_embedding,
        newest_source_change=audit.newest_source_change,
        text_check=_text_check(audit),
        models_in_metadata=dict(audit.models),
        conflicts=tuple(audit.conflict_groups),
        untraceable=tuple(audit.untraceable),
        source_reads=audit.source_reads,
        source_problems=tuple(audit.source_problems),
        by_document={
            s.id: _verdict(s) for s in audit.documents.values() if s.status != DocClass.FRESH
        },
        fix_queue=tuple(fix_queue(audit)),
    )
    summary = (
        f"{audit.chunk_total} chunks from {audit.catalog_documents} documents: "
        f"{chunk_counts[ChunkClass.STALE]} stale, {chunk_counts[ChunkClass.ORPHANED]} orphaned, "
        f"{chunk_counts[ChunkClass.MOVED]} moved"
        + (
            f", {chunk_counts[ChunkClass.UNREADABLE]} unreadable"
            if chunk_counts[ChunkClass.UNREADABLE]
            else ""
        )
        + f"; {doc_counts[DocClass.MISSING]} document(s) never indexed"
    )
    return RunResult(
        status=RunStatus.OK,
        summary=summary,
        metrics=tuple(_metrics(record, audit)),
        findings=tuple(_findings(audit)),
        details=record.to_json(),
        source_stamps=audit.stamps,
        memos=audit.memos,
    )


def _moved_targets(audit: FreshnessAudit) -> int:
    return sum(1 for s in audit.documents.values() if s.moved_from is not None)


def _quantiles(ages: list[float]) -> AgeStats:
    if not ages:
        return AgeStats()
    values = np.asarray(ages)
    return AgeStats(
        p50=round(float(np.percentile(values, 50)), 1),
        p95=round(float(np.percentile(values, 95)), 1),
        max=round(float(values.max()), 1),
    )


def _text_check(audit: FreshnessAudit) -> TextCheck:
    mode = audit.text_mode
    return TextCheck(
        rule=mode.rule,
        loader_rewrote_text=mode.tolerant,
        checked=mode.checked,
        verbatim=mode.verbatim,
        aligned_closely=mode.close,
        located_by_offsets=mode.by_offsets,
        note=mode.describe() if mode.checked else None,
    )


def _edits(state: DocumentState) -> dict[str, ChunkEdit]:
    return {
        chunk_id: ChunkEdit(changed_share=share, diff=diff)
        for chunk_id, (share, diff) in sorted(state.edits.items())
    }


def _verdict(state: DocumentState) -> DocumentVerdict:
    return DocumentVerdict(
        status=state.status,
        chunk_ids={cls: sorted(ids) for cls, ids in sorted(state.chunks.items())},
        rules=dict(state.rules),
        coverage=state.coverage,
        unembedded_chars=state.unembedded,
        modified_at=state.modified_at,
        embedded_at=state.embedded_at,
        moved_to=state.moved_to,
        moved_from=state.moved_from,
        reason=state.reason,
        stale_age_seconds=round(max(state.stale_ages), 1) if state.stale_ages else None,
        edits=_edits(state),
    )


def _metrics(record: FreshnessResult, audit: FreshnessAudit) -> list[Metric]:
    labels = {"collection": audit.collection}
    chunks, docs = record.counts.chunks, record.counts.documents
    out = [
        Metric(name="chunks", value=v, labels={**labels, "class": k.value})
        for k, v in chunks.items()
    ]
    out += [
        Metric(name="documents", value=v, labels={**labels, "class": k.value})
        for k, v in docs.items()
    ]
    out += [
        Metric(name="chunks_total", value=audit.chunk_total, labels=labels),
        Metric(name="stale_share", value=record.shares.stale, labels=labels),
        Metric(name="orphan_share", value=record.shares.orphaned, labels=labels),
        Metric(
            name="orphaned_chunks",
            value=chunks[ChunkClass.ORPHANED] + chunks[ChunkClass.MOVED],
            labels=labels,
        ),
        Metric(name="coverage", value=record.shares.coverage, labels=labels),
        Metric(name="conflicting_duplicates", value=len(audit.conflict_groups), labels=labels),
        Metric(name="source_reads", value=audit.source_reads, labels=labels),
    ]
    now = audit.audited_at
    for name, moment in (
        ("last_embedding_age_seconds", audit.newest_embedding),
        ("last_source_change_age_seconds", audit.newest_source_change),
    ):
        if moment is not None:
            out.append(Metric(name=name, value=(now - moment).total_seconds(), labels=labels))
    age = record.staleness_age_seconds
    if not chunks[ChunkClass.STALE]:
        # Nothing is behind its source: an age of 0, not a gap that a chart or a headline
        # would fill with the last run's age.
        age = AgeStats(p50=0.0, p95=0.0, max=0.0)
    out += [
        Metric(name="staleness_age_seconds", value=v, labels={**labels, "stat": k})
        for k, v in (("p50", age.p50), ("p95", age.p95), ("max", age.max))
        if v is not None
    ]
    return out


def _findings(audit: FreshnessAudit) -> list[Finding]:
    findings: list[Finding] = []
    for state in audit.documents.values():
        if state.status is DocClass.FRESH or (
            state.status is DocClass.MOVED and state.moved_from is not None
        ):
            continue
        affected = [i for cls, ids in state.chunks.items() if cls != ChunkClass.FRESH for i in ids]
        findings.append(
            Finding(
                kind=state.status.value,
                severity=_SEVERITY[state.status],
                message=reason(state),
                source_id=state.id,
                chunk_ids=tuple(affected),
                evidence={
                    "rules": dict(state.rules),
                    "coverage": state.coverage,
                    "moved_to": state.moved_to,
                    "reason": state.reason,
                    "stale_age_seconds_max": max(state.stale_ages) if state.stale_ages else None,
                    "edits": {i: asdict(e) for i, e in _edits(state).items()},
                },
            )
        )
    if audit.text_mode.tolerant:
        findings.append(
            Finding(
                kind="loader_rewrote_text",
                severity=Severity.INFO,
                message=audit.text_mode.describe(),
                evidence=asdict(_text_check(audit)),
            )
        )
    if audit.untraceable:
        findings.append(
            Finding(
                kind="untraceable",
                severity=Severity.INFO,
                message=f"{len(audit.untraceable)} chunks name no source in their metadata",
                chunk_ids=tuple(audit.untraceable),
            )
        )
    for group in audit.conflict_groups:
        findings.append(
            Finding(
                kind="conflicting_duplicate",
                severity=Severity.WARNING,
                message=group.describe(),
                source_id=group.voices[0].source_id,
                chunk_ids=tuple(v.chunk_id for v in group.voices),
                evidence=group.to_json(),
            )
        )
    return findings
