"""The fix queue: per document, the one action that brings the store back in line.

Built from an audit (`fix_queue`), stored inside `FreshnessResult`, and shown by
`ragmon fix-queue` (table, JSON, CSV) and the report, with the retrievals and the
low-grounding answers of the response logs filled in when there are any
(`with_retrievals`): then the documents behind the most low-grounding answers come first.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, TextIO

from monitor.freshness.fixcsv import spreadsheet_safe
from monitor.freshness.states import ChunkClass, DocClass, DocumentState

if TYPE_CHECKING:
    from monitor.freshness.audit import FreshnessAudit

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
    DocClass.UNREADABLE: "review",  # fix access or encoding; never delete what was not read
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
    low_grounding: int | None = None
    """Low-grounding answers that retrieved one of its chunks (once response logs are
    configured): the queue's first ordering key, since fixing these touches them."""
    target: str | None = None
    """For ``re-point``: the document's new path."""
    changed_share: float | None = None
    """For chunks stale by ``edited``: the largest share of one chunk's text that changed
    (a one-word fix is small, a rewritten paragraph large)."""


FIX_QUEUE_COLUMNS = (
    "document",
    "action",
    "chunks",
    "age_days",
    "changed_share",
    "low_grounding",
    "retrievals",
    "target",
    "reason",
)
"""The fix queue's columns in the order tables and CSV files show them."""
assert set(FIX_QUEUE_COLUMNS) == {f.name for f in fields(FixItem)}


def with_retrievals(
    queue: Sequence[FixItem],
    counts: Mapping[str, int] | None,
    low_grounding: Mapping[str, int] | None = None,
) -> list[FixItem]:
    """``queue`` with each document's retrievals (``counts``) and low-grounding answers
    (``low_grounding``) from the response logs; each None when no logs were ever ingested.

    With logs, the documents behind the most low-grounding answers come first, then the
    oldest, then the most retrieved; without, the oldest first as before."""
    if counts is None and low_grounding is None:
        return list(queue)
    items = [
        replace(
            item,
            retrievals=counts.get(item.document, 0) if counts is not None else None,
            low_grounding=(
                low_grounding.get(item.document, 0) if low_grounding is not None else None
            ),
        )
        for item in queue
    ]
    items.sort(
        key=lambda i: (
            -(i.low_grounding or 0),
            -(i.age_days or 0),
            -(i.retrievals or 0),
            i.document,
        )
    )
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
        if state.status in (DocClass.ORPHANED, DocClass.MOVED, DocClass.UNREADABLE):
            since = state.embedded_at
        age = max(state.stale_ages) if state.stale_ages else None
        if age is None and since is not None:
            age = (now - since).total_seconds()
        items.append(
            FixItem(
                document=state.id,
                action=action,
                reason=reason(state),
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


def reason(state: DocumentState) -> str:
    """Why ``state``'s document is in the queue, in one line (also its finding's message)."""
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
        case DocClass.UNREADABLE:
            kept = state.count(ChunkClass.UNREADABLE)
            return f"cannot be read ({state.reason})" + (
                f"; its {kept} chunks are kept until it can be read" if kept else ""
            )
    return state.status.value
