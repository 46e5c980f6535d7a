"""The reference ingester behind `ragmon index`: chunk, embed, and record provenance.

Chunks are cut by semantic-text-splitter (sentence-aware; Markdown-aware for .md files)
with sizes counted in the embedding model's own tokens. Each chunk carries the metadata
of the ``ragmon`` preset (see `monitor.provenance.RAGMON_KEYS`). Re-running re-embeds only
documents whose normalised text changed and removes the chunks of deleted documents.

It never deletes what it could not read: the chunks of a document the catalog could not
use (or that lies under a directory it could not list) are kept, and a run that would
delete more than ``index.max_delete_share`` of the collection is refused before it
writes anything, unless explicitly allowed (vanished sources are more often an unmounted
share than a purge).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from monitor import clock
from monitor.config import ChunkingConfig
from monitor.errors import MassDeleteError, SourceFileError
from monitor.ports import Embedder, IndexTarget, SourceCatalog, VectorStore
from monitor.provenance import RAGMON_KEYS
from monitor.records import SourceDocument, SourceProblem
from monitor.sources.problems import UnreadableSources
from monitor.text import printable, sha256_text

DEFAULT_MAX_DELETE_SHARE = 0.2

log = logging.getLogger(__name__)

CHUNKER_NAME = "semantic-text-splitter"


@dataclass(kw_only=True)
class IndexReport:
    """What one `ragmon index` run did."""

    documents: int = 0
    indexed: list[str] = field(default_factory=list)
    """Documents (re-)embedded: new or changed."""
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    """Documents deleted from the sources whose chunks were removed."""
    chunks_written: int = 0
    chunks_deleted: int = 0
    problems: list[SourceProblem] = field(default_factory=list)

    @property
    def wrote_anything(self) -> bool:
        return bool(self.chunks_written or self.chunks_deleted)


class Chunker:
    """Token-sized, sentence-aware splitting with the embedding model's tokenizer."""

    def __init__(self, tokenizer: Any, config: ChunkingConfig):
        from semantic_text_splitter import MarkdownSplitter, TextSplitter
        from tokenizers import Tokenizer

        # A private copy without truncation, so sizes reflect the whole text.
        counting = Tokenizer.from_str(tokenizer.to_str())
        counting.no_truncation()
        counting.no_padding()
        size, overlap = config.max_tokens, config.overlap_tokens
        self._markdown = MarkdownSplitter.from_huggingface_tokenizer(counting, size, overlap)
        self._text = TextSplitter.from_huggingface_tokenizer(counting, size, overlap)
        self.params = {"max_tokens": size, "overlap_tokens": overlap}

    def split(self, document_id: str, text: str) -> tuple[str, list[str]]:
        """The splitter used (``markdown`` or ``text``) and the chunks of ``text``."""
        if document_id.lower().endswith((".md", ".markdown")):
            return "markdown", [c for c in self._markdown.chunks(text) if c.strip()]
        return "text", [c for c in self._text.chunks(text) if c.strip()]


@dataclass(kw_only=True)
class IndexPlan:
    """What an index run would do: compares the catalog with the store's ragmon metadata."""

    new: list[SourceDocument] = field(default_factory=list)
    changed: list[SourceDocument] = field(default_factory=list)
    unchanged: list[SourceDocument] = field(default_factory=list)
    removed: dict[str, list[str]] = field(default_factory=dict)
    """Source ids gone from the catalog, with the ids of their chunks."""
    unreadable: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    """Source ids the catalog could not read, with the reason and their chunks (kept)."""
    stored_ids: dict[str, list[str]] = field(default_factory=dict)
    problems: list[SourceProblem] = field(default_factory=list)
    total_chunks: int = 0
    """Chunks in the collection, of any origin."""

    @property
    def behind(self) -> bool:
        """True when the store does not reflect the sources."""
        return bool(self.new or self.changed or self.removed)

    @property
    def deleting(self) -> int:
        """Chunks the run would delete outright (those of removed documents)."""
        return sum(len(ids) for ids in self.removed.values())

    def check_deletes(self, max_share: float) -> None:
        """Raise `MassDeleteError` when the run would delete more than ``max_share``."""
        if self.deleting and self.deleting > max_share * self.total_chunks:
            raise MassDeleteError(
                deleting=self.deleting,
                total=self.total_chunks,
                documents=len(self.removed),
                limit=max_share,
            )

    def describe(self, max_delete_share: float = DEFAULT_MAX_DELETE_SHARE) -> str:
        """What the run would do, one document per line; names are escaped onto one line."""
        lines = [
            f"{len(self.new)} new, {len(self.changed)} changed, {len(self.removed)} deleted, "
            f"{len(self.unchanged)} unchanged documents since the last index."
        ]
        lines += [f"  new      {printable(d.id)}" for d in self.new]
        lines += [f"  changed  {printable(d.id)}" for d in self.changed]
        lines += [
            f"  deleted  {printable(s)} ({len(ids)} chunks)"
            for s, ids in sorted(self.removed.items())
        ]
        lines += [
            f"  kept     {printable(s)} ({len(ids)} chunks): {printable(why)}"
            for s, (why, ids) in sorted(self.unreadable.items())
        ]
        lines += [f"  skipped  {printable(p.path)}: {printable(p.reason)}" for p in self.problems]
        try:
            self.check_deletes(max_delete_share)
        except MassDeleteError as exc:
            lines.append(f"ragmon index would refuse this run without --allow-mass-delete: {exc}")
        return "\n".join(lines)


def plan_index(catalog: SourceCatalog, store: VectorStore) -> IndexPlan:
    """Compare ``catalog`` with what ``store`` holds; read the store only."""
    plan = IndexPlan()
    stored, plan.total_chunks = _stored_state(store)
    for document in catalog.documents():
        sha, ids = stored.pop(document.id, (None, []))
        plan.stored_ids[document.id] = ids
        if not ids:
            plan.new.append(document)
        elif sha != document.sha256:
            plan.changed.append(document)
        else:
            plan.unchanged.append(document)
    plan.problems = list(catalog.problems)
    unreadable = UnreadableSources(plan.problems)
    for source, (_sha, ids) in sorted(stored.items()):
        why = unreadable.reason(source)
        if why is None:
            plan.removed[source] = ids
        else:
            plan.unreadable[source] = (why, ids)
    return plan


def index_sources(
    catalog: SourceCatalog,
    target: IndexTarget,
    embedder: Embedder,
    chunking: ChunkingConfig,
    *,
    max_delete_share: float = DEFAULT_MAX_DELETE_SHARE,
    allow_mass_delete: bool = False,
    progress: Callable[[SourceDocument], None] | None = None,
) -> IndexReport:
    """Bring ``target`` up to date with ``catalog``; return what changed.

    Raises `MassDeleteError`, before writing anything, when the run would delete more than
    ``max_delete_share`` of the collection and ``allow_mass_delete`` is not set. Chunks of
    sources that could not be read are never deleted; a document that cannot be read when
    its turn comes keeps its old chunks and is reported in ``problems``.
    """
    plan = plan_index(catalog, target.reader)
    if not allow_mass_delete:
        plan.check_deletes(max_delete_share)
    report = IndexReport(
        documents=len(plan.new) + len(plan.changed) + len(plan.unchanged),
        unchanged=len(plan.unchanged),
        problems=list(plan.problems),
    )
    chunker: Chunker | None = None
    for document in plan.unchanged:
        if progress is not None:
            progress(document)
    for document in [*plan.changed, *plan.new]:
        chunker = chunker or Chunker(embedder.tokenizer, chunking)
        previous_ids = plan.stored_ids.get(document.id, [])
        try:
            text = catalog.read_text(document)
        except SourceFileError as exc:
            # Listed, then gone or changed into something unreadable: keep what is stored.
            log.warning("skipped %s: %s", printable(document.id), printable(exc.reason))
            report.problems.append(SourceProblem(path=document.id, reason=exc.reason))
            continue
        report.chunks_written += _index_document(
            target, embedder, chunker, document, text, previous_ids
        )
        report.chunks_deleted += len(previous_ids)
        report.indexed.append(document.id)
        if progress is not None:
            progress(document)
    for source_id, ids in plan.removed.items():
        target.delete(ids)
        report.removed.append(source_id)
        report.chunks_deleted += len(ids)
    return report


def _index_document(
    target: IndexTarget,
    embedder: Embedder,
    chunker: Chunker,
    document: SourceDocument,
    text: str,
    previous_ids: list[str],
) -> int:
    splitter, pieces = chunker.split(document.id, text)
    embedded_at = clock.now().isoformat(timespec="seconds")
    params = json.dumps({**chunker.params, "splitter": splitter}, sort_keys=True)
    ids = [f"{document.id}#{i}" for i in range(len(pieces))]
    metadatas = [
        {
            RAGMON_KEYS["source_key"]: document.id,
            RAGMON_KEYS["source_sha256_key"]: document.sha256,
            RAGMON_KEYS["chunk_sha256_key"]: sha256_text(piece),
            RAGMON_KEYS["chunk_index_key"]: i,
            RAGMON_KEYS["embedded_at_key"]: embedded_at,
            RAGMON_KEYS["embedding_model_key"]: embedder.name,
            "ragmon_chunker": CHUNKER_NAME,
            "ragmon_chunker_params": params,
        }
        for i, piece in enumerate(pieces)
    ]
    keep = set(ids)
    target.delete([i for i in previous_ids if i not in keep])
    if pieces:
        target.add(ids, pieces, embedder.embed(pieces), metadatas)
    log.info("indexed %s: %d chunks", printable(document.id), len(pieces))
    return len(pieces)


def _stored_state(store: VectorStore) -> tuple[dict[str, tuple[str | None, list[str]]], int]:
    """Per source id: the source hash its chunks were made from, and their ids; and the
    number of chunks in the collection.

    A document whose chunks disagree on the hash (two ingests mixed) gets None, which
    forces a re-index.
    """
    state: dict[str, tuple[str | None, list[str]]] = {}
    source_key = RAGMON_KEYS["source_key"]
    sha_key = RAGMON_KEYS["source_sha256_key"]
    total = 0
    for page in store.pages(include_text=False):
        total += len(page)
        for chunk in page:
            source = chunk.metadata.get(source_key)
            if source is None:
                continue
            sha, ids = state.setdefault(str(source), (chunk.metadata.get(sha_key), []))
            ids.append(chunk.id)
            if sha != chunk.metadata.get(sha_key):
                state[str(source)] = (None, ids)
    return state, total
