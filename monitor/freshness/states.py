"""The classes a chunk and a document can be in, and what an audit found per document."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple


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


class DocClass(enum.StrEnum):
    FRESH = "fresh"
    STALE = "stale"
    PARTIALLY_INDEXED = "partially_indexed"
    SUSPECT = "suspect"
    UNVERIFIED = "unverified"
    ORPHANED = "orphaned"
    MOVED = "moved"
    MISSING = "missing"


class ChunkInfo(NamedTuple):
    """What the audit keeps of each chunk between the scan and the verdict (small on purpose)."""

    id: str
    source_sha256: str | None
    text_sha256: str | None
    embedded_at: datetime | None
    chunk_index: int | None


@dataclass(kw_only=True)
class DocumentState:
    """One source document (current, or recorded by orphaned chunks) and its chunks."""

    id: str
    status: DocClass = DocClass.FRESH
    chunks: dict[ChunkClass, list[str]] = field(default_factory=dict)
    rules: Counter[str] = field(default_factory=Counter)
    """How many chunks each rule decided (source-hash, exact, fuzzy, numbers-changed...)."""
    modified_at: datetime | None = None
    embedded_at: datetime | None = None
    """Oldest embedding time among its chunks."""
    coverage: float | None = None
    """Share of the current text its chunks cover, where it was measured."""
    moved_to: str | None = None
    moved_from: str | None = None
    stale_ages: list[float] = field(default_factory=list)
    """Seconds each stale chunk has been behind its source."""

    def add(self, cls: ChunkClass, chunk_id: str, rule: str) -> None:
        self.chunks.setdefault(cls, []).append(chunk_id)
        self.rules[rule] += 1

    def count(self, cls: ChunkClass) -> int:
        return len(self.chunks.get(cls, ()))

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.chunks.values())

    def settle(self, min_coverage: float) -> None:
        """Derive the document status from its chunks (orphan and missing are set by the caller)."""
        if self.status in (DocClass.ORPHANED, DocClass.MOVED, DocClass.MISSING):
            return
        if self.count(ChunkClass.STALE):
            self.status = DocClass.STALE
        elif self.coverage is not None and self.coverage < min_coverage:
            self.status = DocClass.PARTIALLY_INDEXED
        elif self.count(ChunkClass.SUSPECT):
            self.status = DocClass.SUSPECT
        elif self.total and self.count(ChunkClass.UNVERIFIED) == self.total:
            self.status = DocClass.UNVERIFIED
        else:
            self.status = DocClass.FRESH
