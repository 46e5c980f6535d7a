"""One pass over a collection for the freshness audit: what it keeps of each chunk.

A chunk whose stored source hash can be compared with its current document is judged on
the spot; every other chunk is kept as a small `ChunkInfo` for the checks that need text.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from monitor.config import FreshnessConfig, PathRewrite
from monitor.freshness.embeddings import Sample, id_hash
from monitor.freshness.llamaindex import NODE_CONTENT, recorded_document, recorded_span
from monitor.freshness.matching import SourceResolver
from monitor.freshness.spool import TextSpool
from monitor.freshness.states import ChunkClass, ChunkInfo, DocumentState, stale_age
from monitor.provenance import MetadataMapping
from monitor.records import Chunk, SourceDocument

if TYPE_CHECKING:
    from monitor.freshness.audit import FreshnessAudit

_T = TypeVar("_T")
_DIGIT = re.compile(r"\d")
"""Every value the conflict check compares has a digit: a chunk without one cannot conflict."""


class _Seen(NamedTuple):
    """What the scan keeps of a chunk until it can be placed (compact on purpose)."""

    id: str
    source: str
    source_sha256: str | None
    text_sha256: str | None
    embedded_at: datetime | None
    chunk_index: int | None
    has_text: bool
    has_digit: bool | None
    """Known for chunks read before the catalog (their text is not at hand later)."""
    text_at: tuple[int, int] | None
    """Where its text was spooled, for chunks read before the catalog was known."""
    char_start: int | None
    """Its recorded start in the document's text (LlamaIndex), a hint for the text check."""


class Scan:
    """One pass over the collection.

    A chunk whose stored source hash can be compared with its current document is judged
    on the spot and, when fresh, only counted; every other chunk is kept as a small
    `ChunkInfo` for the checks that need text. So memory grows with the chunks that need
    attention, not with the collection. Chunks read before the catalog is known wait in
    `early` until `start`.
    """

    def __init__(
        self,
        mapping: MetadataMapping,
        settings: FreshnessConfig,
        result: FreshnessAudit,
        rotation: int,
        now: datetime,
        spool: TextSpool,
    ):
        self.mapping, self.result, self.now, self.spool = mapping, result, now, spool
        self.docs: Mapping[str, SourceDocument] | None = None
        self.resolver: SourceResolver | None = None
        self.early: list[_Seen] = []
        self.pending: dict[str, list[ChunkInfo]] = defaultdict(list)
        self.recorded: Counter[str] = Counter()
        """Chunks per recorded source value."""
        self.llamaindex: dict[str, dict[str, dict[str, Any]]] = {}
        """Per recorded source: the document hashes (and metadata) LlamaIndex stored."""
        # Chunks of one document repeat its hash and timestamp: keep one object of each.
        self.shared: dict[Any, Any] = {}
        self.conflict_sample = Sample(settings.duplicates_sample, f"conflicts-{rotation}")

    def start(
        self,
        docs: Mapping[str, SourceDocument],
        root: Path,
        rewrites: Sequence[PathRewrite],
    ) -> None:
        """The catalog is known: place the chunks that were waiting for it."""
        self.docs = docs
        self.resolver = SourceResolver(docs.keys(), root, rewrites)
        for seen in self.early:
            self._place(seen, None)
        self.early = []

    def page(self, chunks: Sequence[Chunk]) -> None:
        result = self.result
        for chunk in chunks:
            result.chunk_total += 1
            prov = self.mapping.provenance(chunk)
            if prov.embedding_model:
                result.models[prov.embedding_model] += 1
            if prov.embedded_at is not None and (
                result.newest_embedding is None or prov.embedded_at > result.newest_embedding
            ):
                result.newest_embedding = prov.embedded_at
            if prov.source is None:
                result.untraceable.append(chunk.id)
                continue
            self.recorded[prov.source] += 1
            char_start = None
            if NODE_CONTENT in (chunk.metadata or {}):
                span = recorded_span(chunk.metadata)
                char_start = span[0] if span else None  # the end is not needed: one int kept
                if prov.source not in self.llamaindex:
                    # One parse per file: its chunks share the document's hash.
                    found = recorded_document(chunk.metadata)
                    self.llamaindex[prov.source] = dict([found]) if found else {}
            text = chunk.text or ""
            has_text = bool(text)
            # Hashed only where no stored source hash can decide the verdict; a stored chunk
            # hash keys the text check of a chunk whose source hash no longer matches.
            text_sha = (
                _text_key(text) if has_text and prov.source_sha256 is None else prov.chunk_sha256
            )
            seen = _Seen(
                id=chunk.id,
                source=_one(self.shared, prov.source),
                source_sha256=_one(self.shared, prov.source_sha256),
                text_sha256=text_sha,
                embedded_at=_one(self.shared, prov.embedded_at),
                chunk_index=prov.chunk_index,
                has_text=has_text,
                has_digit=(has_text and _DIGIT.search(text) is not None)
                if self.docs is None
                else None,
                text_at=self.spool.add(text) if has_text and self.docs is None else None,
                char_start=char_start,
            )
            if self.docs is None:
                self.early.append(seen)
            else:
                self._place(seen, text)

    def _text_at(self, seen: _Seen, text: str | None) -> tuple[int, int] | None:
        """Where the text check will find the chunk's text (spooled now if need be)."""
        if seen.text_at is not None or not text:
            return seen.text_at
        return self.spool.add(text)

    def _place(self, seen: _Seen, text: str | None) -> None:
        """Judge or keep one chunk; ``text`` is its text unless it was spooled already."""
        assert self.docs is not None and self.resolver is not None
        chunk_id = seen.id
        source = self.resolver.resolve(seen.source)
        state = self.result.documents.get(source)
        if state is None:
            state = self.result.documents[source] = DocumentState(id=source)
        state.embedded(seen.embedded_at)
        doc = self.docs.get(source)
        if doc is not None and seen.source_sha256 is not None:
            self._judge_by_hash(state, doc, seen, text)
        else:
            self.pending[source].append(
                ChunkInfo(
                    id=chunk_id,
                    source_sha256=seen.source_sha256,
                    text_sha256=seen.text_sha256,
                    embedded_at=seen.embedded_at,
                    chunk_index=seen.chunk_index,
                    text_at=self._text_at(seen, text) if seen.text_sha256 else None,
                    char_start=seen.char_start,
                )
            )
        if seen.has_text:
            digest = id_hash(chunk_id)
            sample = self.conflict_sample
            if sample.wants(digest):  # the digit test only for the few it may keep
                mark = seen.has_digit
                if mark is None:
                    mark = text is not None and _DIGIT.search(text) is not None
                sample.offer(chunk_id, digest, source, mark=mark)

    def _judge_by_hash(
        self, state: DocumentState, doc: SourceDocument, seen: _Seen, text: str | None
    ) -> None:
        state.modified_at = doc.modified_at
        if seen.source_sha256 == doc.sha256:
            state.hashed += 1
            state.add(ChunkClass.FRESH, seen.id, "source-hash")
            if seen.chunk_index is not None:
                state.fresh_indexes += 1
                state.max_index = max(state.max_index, seen.chunk_index)
        elif seen.has_text:
            # The hash says the document changed; its text says which chunks did.
            self.pending[state.id].append(
                ChunkInfo(
                    id=seen.id,
                    source_sha256=seen.source_sha256,
                    text_sha256=seen.text_sha256 or f"source:{seen.source_sha256}",
                    embedded_at=seen.embedded_at,
                    chunk_index=seen.chunk_index,
                    text_at=self._text_at(seen, text),
                    char_start=seen.char_start,
                )
            )
        else:
            state.hashed += 1
            state.add(ChunkClass.STALE, seen.id, "source-hash")
            state.stale_ages.append(stale_age(doc, seen.embedded_at, self.now))


def _text_key(text: str) -> str:
    """What keys a chunk's remembered text check: a hash of its text as stored. (Not
    `sha256_text`: normalising every chunk of a large collection costs more than hashing
    it, and a chunk whose stored text changed only in whitespace is merely checked again.)"""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _one(pool: dict[Any, Any], value: _T) -> _T:
    """The pooled object equal to ``value`` (so equal values share one object)."""
    found: _T = pool.setdefault(value, value)
    return found
