"""The freshness audit: classify every chunk of a collection against the current sources.

It streams the store page by page (ids, text, metadata; never every vector at once)
and keeps only a small record per chunk. Evidence is used in order of strength:

1. the source hash stored with the chunk equals the current one -> fresh;
2. otherwise, where the chunk's text is known: fresh only when its normalised text occurs
   in the source; found with edits -> stale (``edited``, with the word diff); not found
   -> stale (``text-gone``). A collection whose loader rewrote the text is detected and
   judged by the tolerant rule instead (`TextMode`);
3. only timestamps: the source was modified after ``embedded_at`` -> suspect.

Text checks are remembered by a hash of their inputs (`memo_get`), so a second audit of
unchanged sources reads no source file.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor import clock
from monitor.config import FreshnessConfig, PathRewrite
from monitor.freshness.conflict_groups import ConflictGroup, group_conflicts
from monitor.freshness.conflicts import Conflict, find_conflicts
from monitor.freshness.llamaindex import (
    unchanged,
)
from monitor.freshness.matching import SourceResolver
from monitor.freshness.moves import find_moves
from monitor.freshness.rewrites import refuse_mass_orphaning
from monitor.freshness.scan import Scan
from monitor.freshness.spool import TextSpool
from monitor.freshness.states import ChunkClass, ChunkInfo, DocClass, DocumentState
from monitor.freshness.textchecks import MemoGet, TextChecks, TextMode
from monitor.ports import SourceCatalog, VectorStore
from monitor.provenance import MetadataMapping
from monitor.records import Chunk, SourceDocument, SourceProblem, SourceStamp
from monitor.sources.problems import UnreadableSources
from monitor.stores.prefetch import prefetched

log = logging.getLogger(__name__)


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
    conflicts: list[Conflict] = field(default_factory=list)
    conflict_groups: list[ConflictGroup] = field(default_factory=list)
    """The conflicts grouped by sentence template, documents oldest first."""
    source_reads: int = 0
    source_problems: list[SourceProblem] = field(default_factory=list)
    stamps: dict[str, SourceStamp] = field(default_factory=dict)
    memos: dict[str, Any] = field(default_factory=dict)
    text_mode: TextMode = field(default_factory=TextMode)
    """How the chunks' text compares with the sources: verbatim, or rewritten by the loader."""


def audit(
    catalog: SourceCatalog,
    store: VectorStore,
    mapping: MetadataMapping,
    settings: FreshnessConfig,
    *,
    root: Path,
    rewrites: Sequence[PathRewrite] = (),
    known: Mapping[str, SourceStamp] | None = None,
    memo_get: MemoGet = lambda keys: {},
    rotation: int = 0,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> FreshnessAudit:
    """Audit ``store`` against ``catalog``. Reads both; writes to neither; needs no model
    (the embedding check is `monitor.freshness.embeddings`, a job of its own)."""
    now = now or clock.now()
    result = FreshnessAudit(collection=store.name, location=store.location, audited_at=now)
    reads_before = catalog.reads
    with TextSpool() as spool:
        return _audit(
            catalog,
            store,
            mapping,
            settings,
            result,
            spool,
            root=root,
            rewrites=rewrites,
            known=known,
            memo_get=memo_get,
            rotation=rotation,
            now=now,
            progress=progress,
            reads_before=reads_before,
        )


def _audit(
    catalog: SourceCatalog,
    store: VectorStore,
    mapping: MetadataMapping,
    settings: FreshnessConfig,
    result: FreshnessAudit,
    spool: TextSpool,
    *,
    root: Path,
    rewrites: Sequence[PathRewrite],
    known: Mapping[str, SourceStamp] | None,
    memo_get: MemoGet,
    rotation: int,
    now: datetime,
    progress: Callable[[int], None] | None,
    reads_before: int,
) -> FreshnessAudit:
    scan = Scan(mapping, settings, result, rotation, now, spool)
    # Hashing the sources (file reads and C code) and reading the store's next pages
    # (chromadb's reads release the GIL) overlap with judging the current page; the chunks
    # that arrive before the hashing is done wait in a small buffer.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragmon-catalog") as pool:
        hashing = pool.submit(lambda: {d.id: d for d in catalog.documents(known)})
        for page in prefetched(store.pages(include_text=True)):
            if scan.docs is None and hashing.done():
                scan.start(hashing.result(), root, rewrites)
            scan.page(page)
            if progress is not None:
                progress(len(page))
        if scan.docs is None:
            scan.start(hashing.result(), root, rewrites)
    docs, resolver = scan.docs, scan.resolver
    assert docs is not None and resolver is not None
    if not rewrites:
        # Not a mass orphaning but a store indexed with other paths: say which rewrite.
        refuse_mass_orphaning(scan.recorded, docs.keys(), root, resolver)
    result.source_problems = list(catalog.problems)
    result.catalog_documents = len(docs)
    result.newest_source_change = max((d.modified_at for d in docs.values()), default=None)
    result.stamps = {
        d.id: SourceStamp(size=d.size, mtime_ns=d.mtime_ns, sha256=d.sha256) for d in docs.values()
    }
    pending = scan.pending
    unreadable = UnreadableSources(result.source_problems)

    for source, infos in pending.items():
        state = result.documents[source]
        if source in docs:
            _classify(state, docs[source], infos)
        elif (why := unreadable.reason(source)) is not None:
            state.unreadable(why, [info.id for info in infos])
        else:
            state.status = DocClass.ORPHANED
            for info in infos:
                state.add(ChunkClass.ORPHANED, info.id, "source-gone")
    for source, why in unreadable.files.items():
        # A file that cannot be read but has no chunks is still a source to look at.
        if source not in result.documents:
            result.documents[source] = DocumentState(
                id=source, status=DocClass.UNREADABLE, reason=why
            )
    for state in result.documents.values():
        if state.hashed and state.hashed == state.total and state.fresh_indexes:
            # Chunks made from the current text: a gap in their indexes is text never embedded.
            state.coverage = min(1.0, state.fresh_indexes / (state.max_index + 1))
    for doc_id, doc in docs.items():
        if doc_id not in result.documents:
            result.documents[doc_id] = DocumentState(
                id=doc_id, status=DocClass.MISSING, modified_at=doc.modified_at
            )

    checker = TextChecks(catalog, store, settings, memo_get, result.memos, now, spool)
    by_text = _by_document_hash(result.documents, pending, docs, catalog, checker, scan, resolver)
    result.text_mode = checker.run(result.documents, by_text, docs)
    find_moves(result.documents, pending, docs, checker)
    for doc_id, why in checker.failed.items():
        # Read when the scan listed it, gone (or changed into something unreadable) since.
        state = result.documents[doc_id]
        if state.status is DocClass.MISSING:
            state.status, state.reason = DocClass.UNREADABLE, why
    for state in result.documents.values():
        state.settle(settings.min_coverage)

    # Only sampled chunks with a digit can state a value that conflicts: the others need
    # no vector query (on a large collection the first one loads the whole index).
    if wanted := scan.conflict_sample.marked:
        result.conflicts = _conflicts(store, wanted, mapping, resolver, settings)
        modified = {k: d.modified_at for k, d in docs.items()}
        result.conflict_groups = group_conflicts(result.conflicts, modified)
    result.source_reads = catalog.reads - reads_before
    return result


def _by_document_hash(
    states: dict[str, DocumentState],
    pending: dict[str, list[ChunkInfo]],
    docs: Mapping[str, SourceDocument],
    catalog: SourceCatalog,
    checker: TextChecks,
    scan: Scan,
    resolver: SourceResolver,
) -> dict[str, list[ChunkInfo]]:
    """Settle documents whose LlamaIndex document hash still matches; the rest for text."""
    recorded: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for source, hashes in scan.llamaindex.items():
        recorded[resolver.resolve(source)].update(hashes)
    rest = dict(pending)
    for doc_id, hashes in recorded.items():
        infos = [i for i in pending.get(doc_id, ()) if i.text_sha256]
        if not hashes or not infos or doc_id not in docs:
            continue
        doc = docs[doc_id]
        key = checker.key("llamaindex", doc.sha256, *sorted(hashes))
        same = checker.remembered([key]).get(key)
        if same is None:
            same = unchanged(catalog.read_text(doc, markup=True), hashes)
        checker.remember(key, same)
        if same:
            for info in infos:
                states[doc_id].add(ChunkClass.FRESH, info.id, "document-hash")
            rest[doc_id] = [i for i in pending[doc_id] if not i.text_sha256]
    return rest


def _classify(state: DocumentState, doc: SourceDocument, infos: list[ChunkInfo]) -> None:
    """Verdicts without a usable stored hash: text is left to `TextChecks`; then timestamps."""
    state.modified_at = doc.modified_at
    for info in infos:
        if info.text_sha256 is not None:
            continue  # decided by the text check
        if info.embedded_at is not None:
            if doc.modified_at > info.embedded_at:
                state.add(ChunkClass.SUSPECT, info.id, "modified-after-embedding")
            else:
                state.add(ChunkClass.FRESH, info.id, "timestamp")
        else:
            state.add(ChunkClass.UNVERIFIED, info.id, "no-evidence")


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
