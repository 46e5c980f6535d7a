"""The freshness audit: classify every chunk of a collection against the current sources.

It streams the store page by page (ids, text, metadata; never every vector at once)
and keeps only a small record per chunk. Evidence is used in order of strength:

1. the source hash stored with the chunk differs from the current one -> stale;
2. no hash: the chunk's normalised text is no longer in the source (exactly, or
   near-verbatim with the same numbers) -> stale;
3. only timestamps: the source was modified after ``embedded_at`` -> suspect.

Text checks are remembered by a hash of their inputs (`memo_get`), so a second audit of
unchanged sources reads no source file.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from monitor.config import FreshnessConfig, PathRewrite
from monitor.freshness.conflicts import Conflict, find_conflicts
from monitor.freshness.matching import SourceResolver, coverage, match_text
from monitor.freshness.states import ChunkClass, ChunkInfo, DocClass, DocumentState
from monitor.freshness.vectors import VectorCheck, check_vectors
from monitor.ports import Embedder, SourceCatalog, VectorStore
from monitor.provenance import MetadataMapping
from monitor.records import Chunk, SourceDocument, SourceProblem, SourceStamp
from monitor.text import normalise, sha256_text

log = logging.getLogger(__name__)

_T = TypeVar("_T")
MemoGet = Callable[[Iterable[str]], Mapping[str, Any]]


@dataclass(kw_only=True)
class FreshnessAudit:
    """Everything one audit found, before it becomes figures and findings."""

    collection: str
    location: str
    audited_at: datetime
    chunk_total: int = 0
    documents: dict[str, DocumentState] = field(default_factory=dict)
    """Current documents by id, plus the sources recorded by orphaned chunks."""
    catalog_documents: int = 0
    untraceable: list[str] = field(default_factory=list)
    models: Counter[str] = field(default_factory=Counter)
    """Chunks per recorded embedding model."""
    newest_embedding: datetime | None = None
    """The latest ``embedded_at`` of any chunk: when the ingest pipeline last wrote."""
    newest_source_change: datetime | None = None
    vectors: VectorCheck | None = None
    conflicts: list[Conflict] = field(default_factory=list)
    source_reads: int = 0
    source_problems: list[SourceProblem] = field(default_factory=list)
    stamps: dict[str, SourceStamp] = field(default_factory=dict)
    memos: dict[str, Any] = field(default_factory=dict)


class _Sample:
    """The ``size`` ids with the smallest salted hash: a deterministic streaming sample."""

    def __init__(self, size: int, salt: str):
        self._size, self._salt = size, salt.encode()
        self._heap: list[tuple[int, str]] = []

    def offer(self, chunk_id: str) -> None:
        if self._size <= 0:
            return
        digest = hashlib.blake2b(chunk_id.encode(), digest_size=8, key=self._salt).digest()
        item = (-int.from_bytes(digest, "big"), chunk_id)
        if len(self._heap) < self._size:
            heapq.heappush(self._heap, item)
        elif item > self._heap[0]:
            heapq.heapreplace(self._heap, item)

    @property
    def ids(self) -> list[str]:
        return sorted(chunk_id for _, chunk_id in self._heap)


def audit(
    catalog: SourceCatalog,
    store: VectorStore,
    mapping: MetadataMapping,
    settings: FreshnessConfig,
    *,
    root: Path,
    rewrites: Sequence[PathRewrite] = (),
    embedder: Embedder | None = None,
    known: Mapping[str, SourceStamp] | None = None,
    memo_get: MemoGet = lambda keys: {},
    rotation: int = 0,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> FreshnessAudit:
    """Audit ``store`` against ``catalog``. Reads both; writes to neither."""
    now = now or datetime.now(UTC)
    result = FreshnessAudit(collection=store.name, location=store.location, audited_at=now)
    reads_before = catalog.reads
    docs = {d.id: d for d in catalog.documents(known)}
    result.source_problems = list(catalog.problems)
    result.catalog_documents = len(docs)
    result.newest_source_change = max((d.modified_at for d in docs.values()), default=None)
    result.stamps = {
        d.id: SourceStamp(size=d.size, mtime_ns=d.mtime_ns, sha256=d.sha256) for d in docs.values()
    }
    resolver = SourceResolver(docs.keys(), root, rewrites)
    groups, vector_sample, conflict_sample = _scan(
        store, mapping, resolver, settings, result, rotation, progress
    )

    for source in sorted(groups):
        infos = groups[source]
        state = DocumentState(id=source)
        result.documents[source] = state
        state.embedded_at = min((i.embedded_at for i in infos if i.embedded_at), default=None)
        if source in docs:
            _classify(state, docs[source], infos, now)
        else:
            state.status = DocClass.ORPHANED
            for info in infos:
                state.add(ChunkClass.ORPHANED, info.id, "source-gone")
    for doc_id, doc in docs.items():
        if doc_id not in result.documents:
            result.documents[doc_id] = DocumentState(
                id=doc_id, status=DocClass.MISSING, modified_at=doc.modified_at
            )

    checker = _TextChecks(catalog, store, settings, memo_get, result.memos, now)
    checker.run(result.documents, groups, docs)
    _find_moves(result.documents, groups, docs, checker)
    for state in result.documents.values():
        state.settle(settings.min_coverage)

    if embedder is not None and vector_sample.ids:
        result.vectors = check_vectors(
            store, vector_sample.ids, embedder, min_cosine=settings.embedding_min_cosine
        )
    if conflict_sample.ids:
        result.conflicts = _conflicts(store, conflict_sample.ids, mapping, resolver, settings)
    result.source_reads = catalog.reads - reads_before
    return result


def _scan(
    store: VectorStore,
    mapping: MetadataMapping,
    resolver: SourceResolver,
    settings: FreshnessConfig,
    result: FreshnessAudit,
    rotation: int,
    progress: Callable[[int], None] | None,
) -> tuple[dict[str, list[ChunkInfo]], _Sample, _Sample]:
    """Stream the collection once; keep a small record per chunk, grouped by source."""
    groups: dict[str, list[ChunkInfo]] = defaultdict(list)
    # Chunks of one document repeat its hash and timestamp: keep one object of each.
    shared: dict[Any, Any] = {}
    vector_sample = _Sample(settings.embedding_sample, "vectors")
    conflict_sample = _Sample(settings.duplicates_sample, f"conflicts-{rotation}")
    for page in store.pages(include_text=True):
        for chunk in page:
            result.chunk_total += 1
            prov = mapping.provenance(chunk)
            if prov.embedding_model:
                result.models[prov.embedding_model] += 1
            if prov.embedded_at is not None and (
                result.newest_embedding is None or prov.embedded_at > result.newest_embedding
            ):
                result.newest_embedding = prov.embedded_at
            if prov.source is None:
                result.untraceable.append(chunk.id)
                continue
            has_text = bool(chunk.text)
            groups[resolver.resolve(prov.source)].append(
                ChunkInfo(
                    id=chunk.id,
                    source_sha256=_one(shared, prov.source_sha256),
                    # Hashed only where no stored source hash decides the verdict.
                    text_sha256=sha256_text(chunk.text or "")
                    if has_text and prov.source_sha256 is None
                    else None,
                    embedded_at=_one(shared, prov.embedded_at),
                    chunk_index=prov.chunk_index,
                )
            )
            if has_text:
                vector_sample.offer(chunk.id)
                conflict_sample.offer(chunk.id)
        if progress is not None:
            progress(len(page))
    return groups, vector_sample, conflict_sample


def _one(pool: dict[Any, Any], value: _T) -> _T:
    """The pooled object equal to ``value`` (so equal values share one object)."""
    found: _T = pool.setdefault(value, value)
    return found


def _classify(
    state: DocumentState, doc: SourceDocument, infos: list[ChunkInfo], now: datetime
) -> None:
    """Verdicts that need no source text: stored hashes, then timestamps."""
    state.modified_at = doc.modified_at
    indexes: set[int] = set()
    hashed = 0
    for info in infos:
        if info.source_sha256 is not None:
            hashed += 1
            if info.source_sha256 == doc.sha256:
                state.add(ChunkClass.FRESH, info.id, "source-hash")
                if info.chunk_index is not None:
                    indexes.add(info.chunk_index)
            else:
                state.add(ChunkClass.STALE, info.id, "source-hash")
                state.stale_ages.append(_age(doc, info, now))
        elif info.text_sha256 is not None:
            continue  # decided by the text check
        elif info.embedded_at is not None:
            if doc.modified_at > info.embedded_at:
                state.add(ChunkClass.SUSPECT, info.id, "modified-after-embedding")
            else:
                state.add(ChunkClass.FRESH, info.id, "timestamp")
        else:
            state.add(ChunkClass.UNVERIFIED, info.id, "no-evidence")
    if indexes and hashed == len(infos):
        # Chunks made from the current text: a gap in their indexes is text never embedded.
        state.coverage = len(indexes) / (max(indexes) + 1)


def _age(doc: SourceDocument, info: ChunkInfo, now: datetime) -> float:
    """Seconds the chunk has been behind its source."""
    since = doc.modified_at
    if info.embedded_at is not None and info.embedded_at > since:
        since = info.embedded_at
    return max(0.0, (now - since).total_seconds())


class _TextChecks:
    """Text-based verdicts, remembered by a hash of every input they depend on."""

    def __init__(
        self,
        catalog: SourceCatalog,
        store: VectorStore,
        settings: FreshnessConfig,
        memo_get: MemoGet,
        memos: dict[str, Any],
        now: datetime,
    ):
        self._catalog, self._store, self._settings = catalog, store, settings
        self._memo_get, self._memos = memo_get, memos
        self._now = now
        self._texts: dict[str, str] = {}

    def source_text(self, doc: SourceDocument) -> str:
        if doc.id not in self._texts:
            self._texts[doc.id] = normalise(self._catalog.read_text(doc))
        return self._texts[doc.id]

    def chunk_texts(self, ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            out.update(
                (c.id, normalise(c.text or "")) for c in self._store.get(ids[start : start + 500])
            )
        return out

    def key(self, *parts: object) -> str:
        blob = "\x1f".join(map(str, (*parts, self._settings.fuzzy_threshold)))
        return hashlib.sha256(blob.encode()).hexdigest()

    def remembered(self, keys: Iterable[str]) -> Mapping[str, Any]:
        return self._memo_get(keys)

    def remember(self, key: str, value: Any) -> None:
        """Keep ``value`` for the next audit (hits are kept too, so they do not expire)."""
        self._memos[key] = value

    def run(
        self,
        states: dict[str, DocumentState],
        groups: Mapping[str, list[ChunkInfo]],
        docs: Mapping[str, SourceDocument],
    ) -> None:
        pending = {
            doc_id: [i for i in groups[doc_id] if i.source_sha256 is None and i.text_sha256]
            for doc_id in groups
            if doc_id in docs
        }
        pending = {k: v for k, v in pending.items() if v}
        keys = {
            doc_id: self.key(docs[doc_id].sha256, *sorted(f"{i.id}:{i.text_sha256}" for i in infos))
            for doc_id, infos in pending.items()
        }
        stored = self.remembered(keys.values())
        for doc_id, infos in pending.items():
            verdict = stored.get(keys[doc_id]) or self._check(docs[doc_id], infos)
            self.remember(keys[doc_id], verdict)
            state = states[doc_id]
            for info in infos:
                present, rule = verdict["chunks"][info.id]
                if present:
                    state.add(ChunkClass.FRESH, info.id, rule)
                else:
                    state.add(ChunkClass.STALE, info.id, rule)
                    state.stale_ages.append(_age(docs[doc_id], info, self._now))
            state.coverage = verdict["coverage"]

    def _check(self, doc: SourceDocument, infos: list[ChunkInfo]) -> dict[str, Any]:
        source = self.source_text(doc)
        texts = self.chunk_texts([i.id for i in infos])
        verdicts: dict[str, tuple[bool, str]] = {}
        spans = []
        for info in infos:
            found = match_text(
                texts.get(info.id, ""), source, threshold=self._settings.fuzzy_threshold
            )
            verdicts[info.id] = (found.present, found.rule)
            if found.present and found.span:
                spans.append(found.span)
        return {"chunks": verdicts, "coverage": round(coverage(spans, len(source)), 4)}


def _find_moves(
    states: dict[str, DocumentState],
    groups: Mapping[str, list[ChunkInfo]],
    docs: Mapping[str, SourceDocument],
    checker: _TextChecks,
) -> None:
    """Orphaned chunks whose content lives on in a current, unindexed document: moved.

    Only unindexed documents are candidates: content that is indexed elsewhere already
    makes the orphans plain duplicates, to be deleted.
    """
    unindexed = sorted(k for k, s in states.items() if s.status is DocClass.MISSING)
    by_sha = {docs[k].sha256: k for k in unindexed}
    orphans = [k for k, s in states.items() if s.status is DocClass.ORPHANED]
    for source in orphans:
        state, infos = states[source], groups[source]
        targets: dict[str, str] = {}
        for info in infos:
            if info.source_sha256 in by_sha:
                targets[info.id] = by_sha[info.source_sha256]
        rest = [i for i in infos if i.id not in targets]
        if rest and unindexed:
            targets.update(_text_moves(source, rest, unindexed, docs, checker))
        if not targets:
            continue
        state.chunks = {}
        state.rules = Counter()
        for info in infos:
            if info.id in targets:
                state.add(ChunkClass.MOVED, info.id, "same-content")
            else:
                state.add(ChunkClass.ORPHANED, info.id, "source-gone")
        destination = Counter(targets.values()).most_common(1)[0][0]
        state.moved_to = destination
        if len(targets) == len(infos):
            state.status = DocClass.MOVED
        target_state = states[destination]
        if target_state.status is DocClass.MISSING:
            target_state.status = DocClass.MOVED
            target_state.moved_from = source


def _text_moves(
    source: str,
    infos: list[ChunkInfo],
    candidates: list[str],
    docs: Mapping[str, SourceDocument],
    checker: _TextChecks,
) -> dict[str, str]:
    """Which orphaned chunks' text occurs in which unindexed document (remembered)."""
    key = checker.key(
        "moved",
        source,
        *sorted(f"{i.id}:{i.text_sha256 or i.source_sha256}" for i in infos),
        *(f"{c}:{docs[c].sha256}" for c in candidates),
    )
    found = checker.remembered([key]).get(key)
    if found is None:
        texts = checker.chunk_texts([i.id for i in infos])
        found = {}
        for info in infos:
            text = texts.get(info.id)
            if not text:
                continue
            for candidate in candidates:
                match = match_text(text, checker.source_text(docs[candidate]), threshold=100.0)
                if match.present:
                    found[info.id] = candidate
                    break
    checker.remember(key, found)
    return dict(found)


def _conflicts(
    store: VectorStore,
    ids: list[str],
    mapping: MetadataMapping,
    resolver: SourceResolver,
    settings: FreshnessConfig,
) -> list[Conflict]:
    def source_of(metadata: Mapping[str, Any]) -> str | None:
        recorded = mapping.provenance(Chunk(id="", text=None, metadata=metadata)).source
        return resolver.resolve(recorded) if recorded else None

    conflicts: list[Conflict] = []
    for start in range(0, len(ids), 500):
        chunks = store.get(ids[start : start + 500], include_embeddings=True)
        conflicts += find_conflicts(
            store,
            chunks,
            source_of,
            neighbours=settings.duplicate_neighbours,
            min_cosine=settings.duplicate_min_cosine,
        )
    unique = {c.chunk_ids: c for c in conflicts}
    return [unique[k] for k in sorted(unique)]
