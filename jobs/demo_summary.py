"""The demo's closing summary: which planted problems the latest results show, and the
correlation's strongest finding and top hotspot."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from jobs.demo_planted import MOVED, PLANTED, day_of

if TYPE_CHECKING:
    from monitor.history import HistoryStore


def planted_findings(history: HistoryStore) -> dict[str, bool]:
    """Whether the latest stored results show each planted problem (by its key)."""
    from jobs.demo_rechunk import BAD_DOCUMENTS, OTHER_MODEL
    from jobs.setup import last_details

    fresh = last_details(history, "freshness") or {}
    status = {doc: d.get("status") for doc, d in fresh.get("by_document", {}).items()}
    chunking = last_details(history, "chunking") or {}
    changed = {c["document"] for c in (chunking.get("comparison") or {}).get("documents", [])}
    embeddings = last_details(history, "embeddings") or {}
    return {
        "vacation-edit": status.get("handbook/vacation-policy.md") == "stale",
        "new-section": status.get("handbook/expenses.md") == "partially_indexed",
        "warranty-edit": status.get("products/warranty.txt") == "stale",
        "folder-moved": all(status.get(p) == "moved" for p in MOVED),
        "page-deleted": status.get("faq/it-faq.md") == "orphaned",
        "new-page": status.get("handbook/parental-leave.md") == "missing",
        "bad-rechunk": set(BAD_DOCUMENTS) <= changed,
        "model-swap": OTHER_MODEL in embeddings.get("embedding", {}).get("models_in_metadata", {})
        and bool(embeddings.get("embedding", {}).get("mismatched"))
        and relevance_dropped(history),
        "reflow": "handbook/security-basics.md" not in status,
    }


def relevance_dropped(history: HistoryStore) -> bool:
    """Whether the labelled probes' recall fell below its first run's."""
    series = recall_series(history)
    return len(series) > 1 and min(v for _, v in series[1:]) < series[0][1]


def recall_series(history: HistoryStore) -> list[tuple[datetime, float]]:
    """The labelled probes' recall@k of every relevance run, oldest first."""
    from sqlalchemy import select

    from monitor.history.models import MetricRow, RunRow

    with history.session() as session:
        rows = session.execute(
            select(RunRow.started_at, MetricRow.value, MetricRow.labels)
            .join(MetricRow, MetricRow.run_id == RunRow.id)
            .where(RunRow.job == "relevance", MetricRow.name == "relevance_recall_at_k")
            .order_by(RunRow.started_at)
        ).all()
    return [(at, value) for at, value, labels in rows if "labelled" in json.dumps(labels or {})]


PLANTED_DOCUMENTS = (
    "handbook/vacation-policy.md",
    "handbook/expenses.md",
    "products/warranty.txt",
    *MOVED,
    "faq/it-faq.md",
)
"""Documents the demo's drift makes stale, moved or orphaned (the re-chunked and
re-embedded ones are named by `jobs.demo_rechunk`)."""


def correlation_lines(history: HistoryStore) -> list[str]:
    """The correlate job's strongest finding and top hotspot, and whether the hotspot is a
    document the demo planted a problem in."""
    from jobs.demo_rechunk import BAD_DOCUMENTS, SWAPPED_DOCUMENTS
    from jobs.setup import last_details
    from monitor.correlation.results import CorrelationResult, describe
    from monitor.errors import ResultSchemaError

    stored = last_details(history, "correlate")
    try:
        result = CorrelationResult.from_json(stored) if stored else None
    except ResultSchemaError:
        result = None
    if result is None:
        note = (stored or {}).get("note", "the correlate job did not run")
        return [f"correlation: not enough data ({note})"]
    found = [f for f in result.features if f.status == "finding" and f.kind == "binary" and f.diff]
    found.sort(key=lambda f: f.diff or 0)
    lines = [
        f"{result.n_responses} scored answers, {result.n_low} low-grounding; "
        f"{len(found)} binary feature(s) going with lower or higher grounding"
    ]
    if found:
        lines.append(f"strongest: {describe(found[0])}")
    if result.hotspots:
        top = result.hotspots[0]
        planted = {*PLANTED_DOCUMENTS, *BAD_DOCUMENTS, *SWAPPED_DOCUMENTS}
        mark = (
            "a document the demo planted a problem in"
            if top.source_id in planted
            else ("NOT one of the planted documents")
        )
        lines.append(
            f"top hotspot: {top.source_id} ({top.status}), retrieved by {top.low_responses} "
            f"of the {result.n_low} low-grounding answers: {mark}"
        )
    return lines


def summary_lines(found: dict[str, bool], days: int) -> list[str]:
    lines = []
    for p in PLANTED:
        mark = "found" if found.get(p.key) else "NOT FOUND"
        if p.key == "reflow":
            mark = "fresh, as it should be" if found.get(p.key) else "WRONGLY FLAGGED"
        lines.append(f"day {day_of(p, days) + 1:>2}  {p.what}")
        lines.append(f"        {mark}; report: {p.section}")
    return lines
