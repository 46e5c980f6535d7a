"""From a `FreshnessAudit` to figures, findings, the fix queue and the typed result.

`FreshnessResult` is what the job stores with each run and what `--json` prints; the
report, `ragmon fix-queue` and the demo read it back with `FreshnessResult.from_json`.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any, TextIO

import numpy as np

from monitor.config import FreshnessConfig
from monitor.freshness.audit import FreshnessAudit
from monitor.freshness.conflicts import Conflict
from monitor.freshness.fixcsv import spreadsheet_safe
from monitor.freshness.states import ChunkClass, DocClass, DocumentState
from monitor.freshness.vectors import VectorMismatch
from monitor.records import Finding, Metric, RunResult, RunStatus, Severity, SourceProblem
from monitor.results import ResultRecord

SCHEMA = "ragmon.freshness/1"
_STALE_RULES = ("numbers-changed", "text-gone")
"""Text rules that make a chunk stale (``exact`` and ``fuzzy`` keep it fresh)."""

_ACTIONS = {
    DocClass.STALE: "re-embed",
    DocClass.PARTIALLY_INDEXED: "re-embed",
    DocClass.ORPHANED: "delete",
    DocClass.MOVED: "re-point",
    DocClass.MISSING: "ingest",
    DocClass.SUSPECT: "review",
    DocClass.UNVERIFIED: "review",
    DocClass.UNREADABLE: "review",  # fix access or encoding; never delete what was not read
}
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
class FixItem:
    """One line of the fix queue: what to do about one document."""

    document: str
    action: str
    """``re-embed``, ``delete``, ``re-point``, ``ingest`` or ``review``."""
    reason: str
    chunks: int
    age_days: float | None
    retrievals: int | None = None
    """How often its chunks were retrieved (once response logs are configured)."""
    target: str | None = None
    """For ``re-point``: the document's new path."""


FIX_QUEUE_COLUMNS = ("document", "action", "chunks", "age_days", "retrievals", "target", "reason")
"""The fix queue's columns in the order tables and CSV files show them."""
assert set(FIX_QUEUE_COLUMNS) == {f.name for f in fields(FixItem)}


def with_retrievals(queue: Sequence[FixItem], counts: Mapping[str, int] | None) -> list[FixItem]:
    """``queue`` with each document's retrievals from the response logs (``counts``; None
    when no logs were ever ingested): oldest first as before, most retrieved first among
    equals."""
    if counts is None:
        return list(queue)
    items = [replace(item, retrievals=counts.get(item.document, 0)) for item in queue]
    items.sort(key=lambda i: (-(i.age_days or 0), -(i.retrievals or 0), i.document))
    return items


def fix_queue_rows(queue: Sequence[FixItem]) -> list[dict[str, Any]]:
    """The fix queue as rows of `FIX_QUEUE_COLUMNS`, for JSON and CSV."""
    return [{column: getattr(item, column) for column in FIX_QUEUE_COLUMNS} for item in queue]


def write_fix_queue_csv(out: TextIO, queue: Sequence[FixItem]) -> None:
    """The fix queue as CSV with a header row; cells a spreadsheet would run as formulas
    get a leading ``'`` (see `spreadsheet_safe`)."""
    writer = csv.DictWriter(out, fieldnames=FIX_QUEUE_COLUMNS)
    writer.writeheader()
    for row in fix_queue_rows(queue):
        writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})


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
class EmbeddingSummary:
    """Models recorded in metadata and, when the check ran, how the sample re-embedded."""

    models_in_metadata: dict[str, int]
    model: str | None = None
    sampled: int | None = None
    stored_dimension: int | None = None
    model_dimension: int | None = None
    min_cosine: float | None = None
    mismatched: tuple[VectorMismatch, ...] = ()
    mismatch_share: float | None = None
    model_mismatch: bool | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class DocumentVerdict:
    """A document that is not fresh: its class, its chunks per class (fresh left out)."""

    status: DocClass
    chunk_ids: dict[ChunkClass, list[str]]
    rules: dict[str, int]
    coverage: float | None = None
    modified_at: datetime | None = None
    embedded_at: datetime | None = None
    moved_to: str | None = None
    moved_from: str | None = None
    reason: str | None = None
    """Why the source could not be read (``unreadable`` documents)."""
    stale_age_seconds: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class FreshnessResult(ResultRecord):
    """One audit as stored with its run (schema ``ragmon.freshness/1``)."""

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
    embedding: EmbeddingSummary
    conflicts: tuple[Conflict, ...]
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
        embedding=_embedding_summary(audit),
        conflicts=tuple(audit.conflicts),
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


def fix_queue(audit: FreshnessAudit) -> list[FixItem]:
    """Per document, the action that brings the store back in line, oldest first."""
    items: list[FixItem] = []
    now = audit.audited_at
    mismatched = _mismatched_documents(audit)
    for state in audit.documents.values():
        action = _ACTIONS.get(state.status)
        if state.status is DocClass.MOVED and state.moved_from is not None:
            continue  # the move is listed once, under the old path
        if action is None and state.id in mismatched:
            action = "re-embed"
        if action is None:
            continue
        since = state.modified_at if state.status is DocClass.MISSING else None
        if state.status in (DocClass.ORPHANED, DocClass.MOVED, DocClass.UNREADABLE):
            since = state.embedded_at
        age = max(state.stale_ages) if state.stale_ages else None
        if age is None and since is not None:
            age = (now - since).total_seconds()
        items.append(
            FixItem(
                document=state.id,
                action=action,
                reason=_reason(state, mismatched.get(state.id)),
                chunks=state.total,
                age_days=round(age / 86400, 2) if age is not None else None,
                target=state.moved_to,
            )
        )
    for conflict in audit.conflicts:
        items.append(
            FixItem(
                document=conflict.source_ids[0],
                action="review",
                reason=f"says {', '.join(conflict.values[0])} where {conflict.source_ids[1]} "
                f"says {', '.join(conflict.values[1])}",
                chunks=1,
                age_days=None,
                target=conflict.source_ids[1],
            )
        )
    items.sort(key=lambda i: (-(i.age_days or 0), -(i.retrievals or 0), i.document))
    return items


def _reason(state: DocumentState, mismatched: int | None) -> str:
    n = state.total
    match state.status:
        case DocClass.STALE:
            rules = ", ".join(sorted(r for r in state.rules if r in _STALE_RULES))
            rule = "source hash changed" if state.rules.get("source-hash") else rules
            return f"{state.count(ChunkClass.STALE)} of {n} chunks stale ({rule})"
        case DocClass.PARTIALLY_INDEXED:
            return f"its chunks cover {100 * (state.coverage or 0):.0f}% of the current text"
        case DocClass.ORPHANED:
            return f"source deleted; {n} chunks left behind"
        case DocClass.MOVED:
            return f"source moved to {state.moved_to}; {state.count(ChunkClass.MOVED)} chunks"
        case DocClass.MISSING:
            return "never indexed"
        case DocClass.SUSPECT:
            return f"source modified after {state.count(ChunkClass.SUSPECT)} chunks were embedded"
        case DocClass.UNVERIFIED:
            return "no hash, text or timestamp to check against"
        case DocClass.UNREADABLE:
            kept = state.count(ChunkClass.UNREADABLE)
            return f"cannot be read ({state.reason})" + (
                f"; its {kept} chunks are kept until it can be read" if kept else ""
            )
    return f"{mismatched} vectors do not match their text under the configured model"


def _moved_targets(audit: FreshnessAudit) -> int:
    return sum(1 for s in audit.documents.values() if s.moved_from is not None)


def _mismatched_documents(audit: FreshnessAudit) -> dict[str, int]:
    if audit.vectors is None:
        return {}
    counts: dict[str, int] = {}
    for m in audit.vectors.mismatches:
        doc = audit.vector_owners.get(m.chunk_id)
        if doc is not None:
            counts[doc] = counts.get(doc, 0) + 1
    return counts


def _quantiles(ages: list[float]) -> AgeStats:
    if not ages:
        return AgeStats()
    values = np.asarray(ages)
    return AgeStats(
        p50=round(float(np.percentile(values, 50)), 1),
        p95=round(float(np.percentile(values, 95)), 1),
        max=round(float(values.max()), 1),
    )


def _embedding_summary(audit: FreshnessAudit) -> EmbeddingSummary:
    models = dict(audit.models)
    vectors = audit.vectors
    if vectors is None:
        return EmbeddingSummary(models_in_metadata=models)
    return EmbeddingSummary(
        models_in_metadata=models,
        model=vectors.model,
        sampled=vectors.sampled,
        stored_dimension=vectors.stored_dimension,
        model_dimension=vectors.model_dimension,
        min_cosine=vectors.min_cosine,
        mismatched=vectors.mismatches,
        mismatch_share=round(vectors.mismatch_share, 4),
        model_mismatch=vectors.model_mismatch,
    )


def _verdict(state: DocumentState) -> DocumentVerdict:
    return DocumentVerdict(
        status=state.status,
        chunk_ids={cls: sorted(ids) for cls, ids in sorted(state.chunks.items())},
        rules=dict(state.rules),
        coverage=state.coverage,
        modified_at=state.modified_at,
        embedded_at=state.embedded_at,
        moved_to=state.moved_to,
        moved_from=state.moved_from,
        reason=state.reason,
        stale_age_seconds=round(max(state.stale_ages), 1) if state.stale_ages else None,
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
        Metric(name="conflicting_duplicates", value=len(audit.conflicts), labels=labels),
        Metric(name="source_reads", value=audit.source_reads, labels=labels),
        Metric(name="mixed_models", value=max(0, len(audit.models) - 1), labels=labels),
    ]
    now = audit.audited_at
    for name, moment in (
        ("last_embedding_age_seconds", audit.newest_embedding),
        ("last_source_change_age_seconds", audit.newest_source_change),
    ):
        if moment is not None:
            out.append(Metric(name=name, value=(now - moment).total_seconds(), labels=labels))
    age = record.staleness_age_seconds
    out += [
        Metric(name="staleness_age_seconds", value=v, labels={**labels, "stat": k})
        for k, v in (("p50", age.p50), ("p95", age.p95), ("max", age.max))
        if v is not None
    ]
    if audit.vectors is not None:
        out += [
            Metric(
                name="embedding_mismatch_share", value=audit.vectors.mismatch_share, labels=labels
            ),
            Metric(name="model_mismatch", value=int(audit.vectors.model_mismatch), labels=labels),
        ]
    return out


def _findings(audit: FreshnessAudit) -> list[Finding]:
    findings: list[Finding] = []
    mismatched = _mismatched_documents(audit)
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
                message=_reason(state, None),
                source_id=state.id,
                chunk_ids=tuple(affected),
                evidence={
                    "rules": dict(state.rules),
                    "coverage": state.coverage,
                    "moved_to": state.moved_to,
                    "reason": state.reason,
                    "stale_age_seconds_max": max(state.stale_ages) if state.stale_ages else None,
                },
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
    vectors = audit.vectors
    if vectors is not None and vectors.model_mismatch:
        why = (
            f"stored vectors have {vectors.stored_dimension} dimensions, "
            f"{vectors.model} gives {vectors.model_dimension}"
            if vectors.dimension_mismatch
            else f"{100 * vectors.mismatch_share:.0f}% of {vectors.sampled} sampled vectors do "
            f"not match their text under {vectors.model}"
        )
        findings.append(
            Finding(
                kind="model_mismatch",
                severity=Severity.CRITICAL,
                message=f"the collection was not embedded with the configured model: {why}",
                evidence={
                    "stored_dimension": vectors.stored_dimension,
                    "model_dimension": vectors.model_dimension,
                    "mismatch_share": vectors.mismatch_share,
                },
            )
        )
    elif vectors is not None:
        cosines = {m.chunk_id: m.cosine for m in vectors.mismatches}
        for doc, n in sorted(mismatched.items()):
            ids = sorted(i for i in cosines if audit.vector_owners.get(i) == doc)
            findings.append(
                Finding(
                    kind="embedding_mismatch",
                    severity=Severity.WARNING,
                    message=_reason(DocumentState(id=doc, status=DocClass.FRESH), n),
                    source_id=doc,
                    chunk_ids=tuple(ids),
                    evidence={"cosine": {i: cosines[i] for i in ids}},
                )
            )
    if len(audit.models) > 1:
        findings.append(
            Finding(
                kind="mixed_models",
                severity=Severity.WARNING,
                message="chunks record different embedding models: "
                + ", ".join(f"{m} ({n})" for m, n in audit.models.most_common()),
                evidence={"models": dict(audit.models)},
            )
        )
    for conflict in audit.conflicts:
        findings.append(
            Finding(
                kind="conflicting_duplicate",
                severity=Severity.WARNING,
                message=f"{conflict.source_ids[0]} says “{conflict.sentences[0]}” but "
                f"{conflict.source_ids[1]} says “{conflict.sentences[1]}”",
                source_id=conflict.source_ids[0],
                chunk_ids=conflict.chunk_ids,
                evidence={**asdict(conflict), "similarity": round(conflict.similarity, 4)},
            )
        )
    return findings
