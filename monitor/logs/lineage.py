"""Chunk lineage: what the latest freshness audit knew of each retrieved chunk id.

The audit's stored result lists, per non-fresh document, its chunk ids per class; fresh
chunks are only counted. So a chunk id is classed as listed; a chunk the store still holds
and that is not listed is fresh, unless it was embedded after the audit (``unknown``); a
chunk id the store does not hold is ``unknown_chunk``. Sources and versions come from the
chunk's metadata (through the provenance mapping) and the audit's source hashes. The
edit size of a chunk stale by ``edited``, its document's staleness age and whether its
document is in a conflicting-duplicates group come from the same result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.freshness.results import FreshnessResult
from monitor.logs.textmatch import TextIndex
from monitor.records import Chunk, ChunkLineage, RetrievedChunk, SourceStamp

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
UNKNOWN_CHUNK = "unknown_chunk"
LOOKUP_BATCH = 500


class Lineage:
    """Classifies chunk ids against one freshness run, looking chunks up in the store once."""

    def __init__(
        self,
        *,
        run_id: int | None,
        audit: FreshnessResult | None,
        stamps: Mapping[str, SourceStamp],
        lookup: Callable[[Sequence[str]], list[Chunk]] | None = None,
        provenance: Callable[[Chunk], Any] | None = None,
        resolve: Callable[[str], str] | None = None,
        texts: TextIndex | None = None,
    ):
        self.run_id = run_id
        self._stamps = stamps
        self._lookup = lookup
        self._provenance = provenance
        self._resolve = resolve or (lambda s: s)
        self.texts = texts
        """Finds the ids of chunks a log names only by text; None without a store."""
        self._listed: dict[str, tuple[str, str]] = {}
        self._audited_at: datetime | None = None
        self._edits: dict[str, float] = {}
        self._ages: dict[str, float] = {}
        self._conflicted: set[str] | None = None
        if audit is not None:
            for doc, verdict in audit.by_document.items():
                for cls, ids in verdict.chunk_ids.items():
                    for cid in ids:
                        self._listed[cid] = (cls.value, doc)
                for cid, edit in verdict.edits.items():
                    self._edits[cid] = edit.changed_share
                if verdict.stale_age_seconds is not None:
                    self._ages[doc] = verdict.stale_age_seconds
            for cid in audit.untraceable:
                self._listed[cid] = ("untraceable", "")
            self._audited_at = audit.audited_at
            self._conflicted = {v.source_id for g in audit.conflicts for v in g.voices}
        self._known: dict[str, ChunkLineage] = {}

    @classmethod
    def for_store(
        cls,
        *,
        run_id: int | None,
        audit: FreshnessResult | None,
        stamps: Mapping[str, SourceStamp],
        store: Any,
        mapping: Any,
        root: Path,
        rewrites: Sequence[Any] = (),
    ) -> Lineage:
        """Lineage that looks chunks up in ``store`` (a `VectorStore`) and reads their
        provenance with ``mapping`` (a `MetadataMapping`), as the freshness audit does."""
        from monitor.freshness.matching import SourceResolver

        resolver = SourceResolver(set(stamps), root, rewrites)
        return cls(
            run_id=run_id,
            audit=audit,
            stamps=stamps,
            lookup=lambda ids: store.get(ids),
            provenance=mapping.provenance,
            resolve=resolver.resolve,
            texts=TextIndex(
                lambda: store.pages(include_text=True),
                lambda chunk: mapping.provenance(chunk).source,
            ),
        )

    def identify(self, chunks: tuple[RetrievedChunk, ...]) -> tuple[RetrievedChunk, ...]:
        """``chunks`` with ids found by text for those the log gave without one."""
        if self.texts is None or all(c.id is not None or not c.text for c in chunks):
            return chunks
        return self.texts.identify(chunks)

    def classify(self, ids: Iterable[str]) -> dict[str, ChunkLineage]:
        """The lineage of each id (looked up once per run, then remembered)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._known]
        for start in range(0, len(wanted), LOOKUP_BATCH):
            self._resolve_batch(wanted[start : start + LOOKUP_BATCH])
        return self._known

    def _resolve_batch(self, ids: list[str]) -> None:
        chunks: dict[str, Chunk] = {}
        if self._lookup is not None:
            chunks = {c.id: c for c in self._lookup(ids)}
        for cid in ids:
            self._known[cid] = self._one(cid, chunks.get(cid))

    def _one(self, cid: str, chunk: Chunk | None) -> ChunkLineage:
        listed = self._listed.get(cid)
        prov = self._provenance(chunk) if chunk is not None and self._provenance else None
        source_version = None
        if prov is not None:
            if prov.source_sha256:
                source_version = f"sha256:{prov.source_sha256}"
            elif prov.embedded_at is not None:
                source_version = f"embedded:{prov.embedded_at.isoformat()}"
        if listed is not None:
            cls, doc = listed
            source = doc or None
        elif chunk is None:
            cls = UNKNOWN if self._lookup is None else UNKNOWN_CHUNK
            source = None
        else:
            source = self._resolve(prov.source) if prov is not None and prov.source else None
            embedded = prov.embedded_at if prov is not None else None
            late = self._audited_at and embedded and embedded > self._audited_at
            cls = "fresh" if self.run_id is not None and not late else UNKNOWN
            if source is None:
                cls = "untraceable" if self.run_id is not None else UNKNOWN
        stamp = self._stamps.get(source) if source else None
        return ChunkLineage(
            chunk_id=cid,
            chunk_class=cls,
            source_id=source,
            source_version=source_version,
            current_version=f"sha256:{stamp.sha256}" if stamp is not None else None,
            freshness_run=self.run_id,
            changed_share=self._edits.get(cid),
            stale_age_s=self._ages.get(source) if source else None,
            in_conflict=(
                None if self._conflicted is None or source is None else source in self._conflicted
            ),
        )
