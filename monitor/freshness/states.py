"""The classes a chunk and a document can be in, and what an audit found per document."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from monitor.records import SourceDocument


class ChunkClass(enum.StrEnum):
    FRESH = "fresh"
    STALE = "stale"
    """The source changed after the chunk was embedded."""
    SUSPECT = "suspect"
    """Only timestamps to go on: the source was modified after the chunk was embedded."""
    ORPHANED = "orphaned"
    """The source document no longer exists."""
    MOVED = "moved"
    """Orphaned, but the text lives on in another current document."""
    UNTRACEABLE = "untraceable"
    """The metadata names no source."""
    UNVERIFIED = "unverified"
    """A source, but no hash, no text and no timestamp to check it against."""
    UNREADABLE = "unreadable"
    """The source exists (or did) but could not be read: never taken for deleted."""


class DocClass(enum.StrEnum):
    FRESH = "fresh"
    STALE = "stale"
    PARTIALLY_INDEXED = "partially_indexed"
    SUSPECT = "suspect"
    UNVERIFIED = "unverified"
    ORPHANED = "orphaned"
    MOVED = "moved"
    MISSING = "missing"
    UNREADABLE = "unreadable"


class ChunkInfo(NamedTuple):
    """What the audit keeps of each chunk between the scan and the verdict (small on purpose)."""

    id: str
    source_sha256: str | None
    text_sha256: str | None
    embedded_at: datetime | None
    chunk_index: int | None
    text_at: tuple[int, int] | None = None
    """Where the scan spooled the chunk's text (`monitor.freshness.spool.TextSpool`)."""
    char_start: int | None = None
    """Where the chunk's text started in its document's text when indexed, as recorded
    (LlamaIndex's ``start_char_idx``): a hint for the text check."""


@dataclass(kw_only=True)
class DocumentState:
    """One source document (current, or recorded by orphaned chunks) and its chunks.

    Fresh chunks are only counted: keeping their ids would make memory grow with the
    collection, and nothing needs them. Every other class keeps its chunk ids.
    """

    id: str
    status: DocClass = DocClass.FRESH
    chunks: dict[ChunkClass, list[str]] = field(default_factory=dict)
    """Chunk ids per class, fresh excepted."""
    fresh: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    """How many chunks each rule decided (source-hash, exact, edited, text-gone...)."""
    modified_at: datetime | None = None
    embedded_at: datetime | None = None
    """Oldest embedding time among its chunks."""
    coverage: float | None = None
    """Share of the current text its chunks cover, where it was measured."""
    moved_to: str | None = None
    moved_from: str | None = None
    reason: str | None = None
    """Why the source could not be read (for `DocClass.UNREADABLE`)."""
    stale_ages: list[float] = field(default_factory=list)
    """Seconds each stale chunk has been behind its source."""
    hashed: int = 0
    """Chunks judged by their stored source hash."""
    fresh_indexes: int = 0
    """Fresh hashed chunks that carry a chunk index, and the highest such index."""
    max_index: int = -1
    unembedded: int = 0
    """Characters of current text in the longest stretch no chunk covers, where that
    stretch is long enough to be text that was never embedded (0 otherwise)."""
    edits: dict[str, tuple[float, str]] = field(default_factory=dict)
    """Per chunk stale by ``edited``: the share of its text changed, and the word diff."""

    def add(self, cls: ChunkClass, chunk_id: str, rule: str) -> None:
        if cls is ChunkClass.FRESH:
            self.fresh += 1
        else:
            self.chunks.setdefault(cls, []).append(chunk_id)
        self.rules[rule] += 1

    def unreadable(self, reason: str, chunk_ids: list[str]) -> None:
        """The source could not be read: these chunks are kept, whatever else is known."""
        self.status = DocClass.UNREADABLE
        self.reason = reason
        for chunk_id in chunk_ids:
            self.add(ChunkClass.UNREADABLE, chunk_id, "unreadable")

    def embedded(self, moment: datetime | None) -> None:
        """Note a chunk's embedding time (the state keeps the oldest)."""
        if moment is not None and (self.embedded_at is None or moment < self.embedded_at):
            self.embedded_at = moment

    def count(self, cls: ChunkClass) -> int:
        if cls is ChunkClass.FRESH:
            return self.fresh
        return len(self.chunks.get(cls, ()))

    @property
    def total(self) -> int:
        return self.fresh + sum(len(v) for v in self.chunks.values())

    def settle(self, min_coverage: float) -> None:
        """Derive the document status from its chunks (orphan and missing are set by the caller)."""
        if self.status in (DocClass.ORPHANED, DocClass.MOVED, DocClass.MISSING):
            return
        if self.status is DocClass.UNREADABLE or self.count(ChunkClass.UNREADABLE):
            # Some chunks could not be checked: no verdict on the document as a whole.
            self.status = DocClass.UNREADABLE
        elif self.count(ChunkClass.STALE):
            self.status = DocClass.STALE
        elif self.unembedded or (self.coverage is not None and self.coverage < min_coverage):
            self.status = DocClass.PARTIALLY_INDEXED
        elif self.count(ChunkClass.SUSPECT):
            self.status = DocClass.SUSPECT
        elif self.total and self.count(ChunkClass.UNVERIFIED) == self.total:
            self.status = DocClass.UNVERIFIED
        else:
            self.status = DocClass.FRESH


def stale_age(doc: SourceDocument, embedded_at: datetime | None, now: datetime) -> float:
    """Seconds a chunk embedded at ``embedded_at`` has been behind its changed source."""
    since = doc.modified_at
    if embedded_at is not None and embedded_at > since:
        since = embedded_at
    return max(0.0, (now - since).total_seconds())
