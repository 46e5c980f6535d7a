"""From a `FreshnessAudit` to figures, findings, the fix queue and the `--json` result."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from monitor.config import FreshnessConfig
from monitor.freshness.audit import FreshnessAudit
from monitor.freshness.states import ChunkClass, DocClass, DocumentState
from monitor.records import Finding, Metric, RunResult, RunStatus, Severity

SCHEMA = "ragmon.freshness/2"
_STALE_RULES = ("edited", "text-gone")
"""Text rules that make a chunk stale (``exact`` and ``tolerant-fuzzy`` keep it fresh)."""

_ACTIONS = {
    DocClass.STALE: "re-embed",
    DocClass.PARTIALLY_INDEXED: "re-embed",
    DocClass.ORPHANED: "delete",
    DocClass.MOVED: "re-point",
    DocClass.MISSING: "ingest",
    DocClass.SUSPECT: "review",
    DocClass.UNVERIFIED: "review",
}
_SEVERITY = {
    DocClass.STALE: Severity.WARNING,
    DocClass.PARTIALLY_INDEXED: Severity.WARNING,
    DocClass.ORPHANED: Severity.WARNING,
    DocClass.MISSING: Severity.WARNING,
    DocClass.MOVED: Severity.INFO,
    DocClass.SUSPECT: Severity.INFO,
    DocClass.UNVERIFIED: Severity.INFO,
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
    changed_share: float | None = None
    """For chunks stale by ``edited``: the largest share of one chunk's text that changed
    (a one-word fix is small, a rewritten paragraph large)."""


def to_result(audit: FreshnessAudit, settings: FreshnessConfig) -> RunResult:
    """Figures, findings, thresholds and the machine-readable result of one audit."""
    chunk_counts = {c.value: 0 for c in ChunkClass}
    doc_counts = {c.value: 0 for c in DocClass}
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
    shares = {
        "stale": chunk_counts[ChunkClass.STALE] / total,
        "orphaned": (chunk_counts[ChunkClass.ORPHANED] + chunk_counts[ChunkClass.MOVED]) / total,
        "coverage": indexed / audit.catalog_documents if audit.catalog_documents else 1.0,
    }
    age = _quantiles(ages)
    queue = fix_queue(audit)
    checks = _thresholds(audit, settings, shares, chunk_counts, doc_counts)
    crossed = [c for c in checks if c["crossed"]]
    summary = (
        f"{audit.chunk_total} chunks from {audit.catalog_documents} documents: "
        f"{chunk_counts['stale']} stale, {chunk_counts['orphaned']} orphaned, "
        f"{chunk_counts['moved']} moved; {doc_counts['missing']} document(s) never indexed"
        + (f"; {len(crossed)} threshold(s) crossed" if crossed else "")
    )
    details = {
        "schema": SCHEMA,
        "collection": audit.collection,
        "store": audit.location,
        "audited_at": audit.audited_at.isoformat(),
        "chunks": audit.chunk_total,
        "documents": audit.catalog_documents,
        "counts": {"chunks": chunk_counts, "documents": doc_counts},
        "shares": {k: round(v, 6) for k, v in shares.items()},
        "staleness_age_seconds": age,
        "newest_embedding": _iso(audit.newest_embedding),
        "newest_source_change": _iso(audit.newest_source_change),
        "thresholds": checks,
        "text_check": _text_check_json(audit),
        "models_in_metadata": dict(audit.models),
        "conflicts": [g.to_json() for g in audit.conflict_groups],
        "untraceable": audit.untraceable,
        "source_reads": audit.source_reads,
        "source_problems": [{"path": p.path, "reason": p.reason} for p in audit.source_problems],
        "by_document": {
            s.id: _document_json(s) for s in audit.documents.values() if s.status != DocClass.FRESH
        },
        "fix_queue": [asdict(item) for item in queue],
    }
    return RunResult(
        status=RunStatus.FINDINGS if crossed else RunStatus.OK,
        summary=summary,
        metrics=tuple(_metrics(chunk_counts, doc_counts, shares, age, audit)),
        findings=tuple(_findings(audit)),
        details=details,
        source_stamps=audit.stamps,
        memos=audit.memos,
    )


def fix_queue(audit: FreshnessAudit) -> list[FixItem]:
    """Per document, the action that brings the store back in line, oldest first."""
    items: list[FixItem] = []
    now = audit.audited_at
    for state in audit.documents.values():
        action = _ACTIONS.get(state.status)
        if state.status is DocClass.MOVED and state.moved_from is not None:
            continue  # the move is listed once, under the old path
        if action is None:
            continue
        since = state.modified_at if state.status is DocClass.MISSING else None
        if state.status is DocClass.ORPHANED or state.status is DocClass.MOVED:
            since = state.embedded_at
        age = max(state.stale_ages) if state.stale_ages else None
        if age is None and since is not None:
            age = (now - since).total_seconds()
        items.append(
            FixItem(
                document=state.id,
                action=action,
                reason=_reason(state),
                chunks=state.total,
                age_days=round(age / 86400, 2) if age is not None else None,
                target=state.moved_to,
                changed_share=max((e[0] for e in state.edits.values()), default=None),
            )
        )
    for group in audit.conflict_groups:
        newest = group.newest
        for voice in group.voices[:-1]:
            if voice.value == newest.value:
                continue
            items.append(
                FixItem(
                    document=voice.source_id,
                    action="review",
                    reason=f"says {voice.value} where {newest.source_id} (newest) says "
                    f"{newest.value}: “{group.template}”",
                    chunks=1,
                    age_days=None,
                    target=newest.source_id,
                )
            )
    items.sort(key=lambda i: (-(i.age_days or 0), -(i.retrievals or 0), i.document))
    return items


def _reason(state: DocumentState) -> str:
    n = state.total
    match state.status:
        case DocClass.STALE:
            rules = ", ".join(sorted(r for r in state.rules if r in _STALE_RULES))
            rule = "source hash changed" if state.rules.get("source-hash") else rules
            if state.edits:
                # The smallest edit first: the one a reader checks fastest.
                _share, diff = min(state.edits.values())
                rule += f": {diff}" if len(state.edits) == 1 else f", e.g. {diff}"
            return f"{state.count(ChunkClass.STALE)} of {n} chunks stale ({rule})"
        case DocClass.PARTIALLY_INDEXED:
            covered = f"its chunks cover {100 * (state.coverage or 0):.0f}% of the current text"
            if state.unembedded:
                covered += f"; {state.unembedded} characters in one stretch were never embedded"
            return covered
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
    return state.status.value


def _moved_targets(audit: FreshnessAudit) -> int:
    return sum(1 for s in audit.documents.values() if s.moved_from is not None)


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _quantiles(ages: list[float]) -> dict[str, float | None]:
    if not ages:
        return {"p50": None, "p95": None, "max": None}
    values = np.asarray(ages)
    return {
        "p50": round(float(np.percentile(values, 50)), 1),
        "p95": round(float(np.percentile(values, 95)), 1),
        "max": round(float(values.max()), 1),
    }


def _thresholds(
    audit: FreshnessAudit,
    settings: FreshnessConfig,
    shares: dict[str, float],
    chunks: dict[str, int],
    docs: dict[str, int],
) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = [
        _check("max_stale_share", shares["stale"], settings.max_stale_share),
        _check("max_orphaned", chunks["orphaned"] + chunks["moved"], settings.max_orphaned),
    ]
    if settings.max_missing is not None:
        checks.append(_check("max_missing", docs["missing"], settings.max_missing))
    return checks


def _check(name: str, value: float, limit: float) -> dict[str, Any]:
    return {"name": name, "value": round(value, 6), "limit": limit, "crossed": value > limit}


def _text_check_json(audit: FreshnessAudit) -> dict[str, Any]:
    mode = audit.text_mode
    return {
        "rule": mode.rule,
        "loader_rewrote_text": mode.tolerant,
        "checked": mode.checked,
        "verbatim": mode.verbatim,
        "aligned_closely": mode.close,
        "note": mode.describe() if mode.checked else None,
    }


def _edits_json(state: DocumentState) -> dict[str, Any]:
    return {
        chunk_id: {"changed_share": share, "diff": diff}
        for chunk_id, (share, diff) in sorted(state.edits.items())
    }


def _document_json(state: DocumentState) -> dict[str, Any]:
    return {
        "status": state.status.value,
        "chunk_ids": {cls.value: sorted(ids) for cls, ids in sorted(state.chunks.items())},
        "rules": dict(state.rules),
        "coverage": state.coverage,
        "unembedded_chars": state.unembedded,
        "modified_at": state.modified_at.isoformat() if state.modified_at else None,
        "embedded_at": state.embedded_at.isoformat() if state.embedded_at else None,
        "moved_to": state.moved_to,
        "moved_from": state.moved_from,
        "stale_age_seconds": round(max(state.stale_ages), 1) if state.stale_ages else None,
        "edits": _edits_json(state),
    }


def _metrics(
    chunks: dict[str, int],
    docs: dict[str, int],
    shares: dict[str, float],
    age: dict[str, float | None],
    audit: FreshnessAudit,
) -> list[Metric]:
    labels = {"collection": audit.collection}
    out = [Metric(name="chunks", value=v, labels={**labels, "class": k}) for k, v in chunks.items()]
    out += [
        Metric(name="documents", value=v, labels={**labels, "class": k}) for k, v in docs.items()
    ]
    out += [
        Metric(name="chunks_total", value=audit.chunk_total, labels=labels),
        Metric(name="stale_share", value=shares["stale"], labels=labels),
        Metric(name="orphan_share", value=shares["orphaned"], labels=labels),
        Metric(name="coverage", value=shares["coverage"], labels=labels),
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
    out += [
        Metric(name="staleness_age_seconds", value=v, labels={**labels, "stat": k})
        for k, v in age.items()
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
                message=_reason(state),
                source_id=state.id,
                chunk_ids=tuple(affected),
                evidence={
                    "rules": dict(state.rules),
                    "coverage": state.coverage,
                    "moved_to": state.moved_to,
                    "stale_age_seconds_max": max(state.stale_ages) if state.stale_ages else None,
                    "edits": _edits_json(state),
                },
            )
        )
    if audit.text_mode.tolerant:
        findings.append(
            Finding(
                kind="loader_rewrote_text",
                severity=Severity.INFO,
                message=audit.text_mode.describe(),
                evidence=_text_check_json(audit),
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
