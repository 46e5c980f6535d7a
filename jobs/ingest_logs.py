"""The `ingest-logs` job: read what is new in the application's response logs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from jobs.registry import register
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import Finding, Metric, RunResult, RunStatus, Severity

log = logging.getLogger(__name__)
SCHEMA = "ragmon.ingest-logs/1"


@register("ingest-logs", schedule="*/5 * * * *", after=("freshness",), signal=True)
def run(config: Config, history: HistoryStore, *, full: bool = False) -> RunResult:
    """Ingest new responses from the configured logs, with each chunk's lineage."""
    from monitor.history.response_reads import reject_counts, response_count
    from monitor.logs.files import find_files
    from monitor.logs.ingest import ingest_logs, make_log

    settings = config.logs
    if not settings.paths:
        return RunResult(
            status=RunStatus.OK,
            summary="no response logs configured ([logs] paths is empty)",
            details={"schema": SCHEMA, "configured": False},
        )
    files = find_files(settings.paths, config.base_dir)
    quarantine = settings.quarantine
    if not quarantine.is_absolute():
        quarantine = config.base_dir / quarantine
    with lineage_for(config, history) as lineage:
        report = ingest_logs(
            history,
            make_log(settings),
            files,
            lineage=lineage,
            settings=settings,
            quarantine=quarantine,
        )
    total_rejects = reject_counts(history)
    labels = {"format": settings.format}
    metrics = [
        Metric(name="responses_ingested", value=report.responses, labels=labels),
        Metric(name="response_lines_read", value=report.lines, labels=labels),
        Metric(name="response_duplicates", value=report.duplicates, labels=labels),
        Metric(name="retrieved_chunk_refs", value=report.chunk_refs, labels=labels),
        Metric(name="unknown_chunk_refs", value=report.unknown_chunks, labels=labels),
        Metric(name="traces_waiting", value=report.waiting, labels=labels),
        Metric(name="responses_total", value=response_count(history), labels=labels),
    ]
    metrics += [
        Metric(name="log_lines_quarantined", value=n, labels={**labels, "reason": reason})
        for reason, n in sorted(report.rejects.items())
    ]
    findings = []
    if report.rejects:
        findings.append(
            Finding(
                kind="quarantined_lines",
                severity=Severity.WARNING,
                message=f"{sum(report.rejects.values())} log line(s) could not be used ("
                + ", ".join(f"{r} {n}" for r, n in sorted(report.rejects.items()))
                + f"); see {quarantine}",
                evidence={"reasons": dict(report.rejects), "quarantine": str(quarantine)},
            )
        )
    summary = (
        f"{report.responses} new responses from {report.files_read} of {report.files} files "
        f"({report.lines} lines, {report.duplicates} already stored, "
        f"{sum(report.rejects.values())} quarantined); {report.unknown_chunks} of "
        f"{report.chunk_refs} retrieved chunk ids unknown to the store"
    )
    matches = report.text_matches
    if matches is not None and (matches.matched or matches.ambiguous or matches.not_found):
        summary += (
            f"; chunks logged without an id, found by their text: {matches.matched}, "
            f"text shared by several chunks: {matches.ambiguous}, "
            f"text not in the store: {matches.not_found}"
        )
        metrics.append(
            Metric(name="chunk_refs_matched_by_text", value=matches.matched, labels=labels)
        )
    details: dict[str, Any] = {
        "schema": SCHEMA,
        "configured": True,
        "format": settings.format,
        "files": report.files,
        "files_read": report.files_read,
        "bytes_read": report.bytes_read,
        "lines": report.lines,
        "responses": report.responses,
        "duplicates": report.duplicates,
        "chunk_refs": report.chunk_refs,
        "unknown_chunks": report.unknown_chunks,
        "text_matches": (
            None
            if matches is None
            else {
                "matched": matches.matched,
                "ambiguous": matches.ambiguous,
                "not_found": matches.not_found,
            }
        ),
        "quarantined": dict(report.rejects),
        "quarantined_total": dict(total_rejects),
        "quarantine_file": str(quarantine),
        "expired_traces": report.expired,
        "traces_waiting": report.waiting,
        "deleted_by_retention": report.deleted,
    }
    return RunResult(
        status=RunStatus.OK,
        summary=summary,
        metrics=tuple(metrics),
        findings=tuple(findings),
        details=details,
    )


@contextlib.contextmanager
def lineage_for(config: Config, history: HistoryStore) -> Iterator[Any]:
    """Lineage against the latest completed freshness run and the configured store.

    Without a reachable store (or with ``store.snapshot``), chunk ids the audit does not
    list are ``unknown``.
    """
    from monitor.errors import StoreError
    from monitor.freshness.results import FreshnessResult
    from monitor.logs.lineage import Lineage
    from monitor.provenance import MetadataMapping
    from monitor.stores import open_store

    run = history.last_success("freshness")
    audit = FreshnessResult.from_json(history.details(run.id)) if run is not None else None
    stamps = history.source_stamps()
    run_id = run.id if run is not None else None
    if config.store.snapshot and config.store.path is not None:
        # Opening an embedded store rewrites its files; with store.snapshot the user asked
        # for them untouched, and copying the store every five minutes is not an option.
        log.info("chunk lineage from the audit alone (store.snapshot is set)")
        yield Lineage(run_id=run_id, audit=audit, stamps=stamps)
        return
    try:
        with open_store(config.store) as store:
            yield Lineage.for_store(
                run_id=run_id,
                audit=audit,
                stamps=stamps,
                store=store,
                mapping=MetadataMapping(config.mapping),
                root=config.sources.root,
                rewrites=config.mapping.path_rewrites,
            )
    except StoreError as exc:
        log.warning("chunk lineage without the store: %s", exc)
        yield Lineage(run_id=run_id, audit=audit, stamps=stamps)
