"""The reference ingester behind `ragmon index`: chunk, embed, and record provenance.

Chunks are cut by semantic-text-splitter (sentence-aware; Markdown-aware for .md files)
with sizes counted in the embedding model's own tokens. Each chunk carries the metadata
of the ``ragmon`` preset (see `monitor.provenance.RAGMON_KEYS`). Re-running re-embeds only
documents whose normalised text changed and removes the chunks of deleted documents.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.config import ChunkingConfig
from monitor.ports import Embedder, IndexTarget, SourceCatalog, VectorStore
from monitor.provenance import RAGMON_KEYS
from monitor.records import SourceDocument, SourceProblem
from monitor.text import sha256_text

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
    stored_ids: dict[str, list[str]] = field(default_factory=dict)
    problems: list[SourceProblem] = field(default_factory=list)

    @property
    def behind(self) -> bool:
        """True when the store does not reflect the sources."""
        return bool(self.new or self.changed or self.removed)

    def describe(self) -> str:
        lines = [
            f"{len(self.new)} new, {len(self.changed)} changed, {len(self.removed)} deleted, "
            f"{len(self.unchanged)} unchanged documents since the last index."
        ]
        lines += [f"  new      {d.id}" for d in self.new]
        lines += [f"  changed  {d.id}" for d in self.changed]
        lines += [f"  deleted  {s} ({len(ids)} chunks)" for s, ids in sorted(self.removed.items())]
        lines += [f"  skipped  {p.path}: {p.reason}" for p in self.problems]
        return "\n".join(lines)


def plan_index(catalog: SourceCatalog, store: VectorStore) -> IndexPlan:
    """Compare ``catalog`` with what ``store`` holds; read the store only."""
    plan = IndexPlan()
    stored = _stored_state(store)
    for document in catalog.documents():
        sha, ids = stored.pop(document.id, (None, []))
        plan.stored_ids[document.id] = ids
        if not ids:
            plan.new.append(document)
        elif sha != document.sha256:
            plan.changed.append(document)
        else:
            plan.unchanged.append(document)
    plan.removed = {source: ids for source, (_sha, ids) in sorted(stored.items())}
    plan.problems = list(catalog.problems)
    return plan


def index_sources(
    catalog: SourceCatalog,
    target: IndexTarget,
    embedder: Embedder,
    chunking: ChunkingConfig,
    *,
    progress: Callable[[SourceDocument], None] | None = None,
) -> IndexReport:
    """Bring ``target`` up to date with ``catalog``; return what changed."""
    plan = plan_index(catalog, target.reader)
    report = IndexReport(
        documents=len(plan.new) + len(plan.changed) + len(plan.unchanged),
        unchanged=len(plan.unchanged),
        problems=plan.problems,
    )
    chunker: Chunker | None = None
    for document in plan.unchanged:
        if progress is not None:
            progress(document)
    for document in [*plan.changed, *plan.new]:
        chunker = chunker or Chunker(embedder.tokenizer, chunking)
        previous_ids = plan.stored_ids.get(document.id, [])
        report.chunks_written += _index_document(
            catalog, target, embedder, chunker, document, previous_ids
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
    catalog: SourceCatalog,
    target: IndexTarget,
    embedder: Embedder,
    chunker: Chunker,
    document: SourceDocument,
    previous_ids: list[str],
) -> int:
    splitter, pieces = chunker.split(document.id, catalog.read_text(document))
    embedded_at = datetime.now(UTC).isoformat(timespec="seconds")
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
    log.info("indexed %s: %d chunks", document.id, len(pieces))
    return len(pieces)


def _stored_state(store: VectorStore) -> dict[str, tuple[str | None, list[str]]]:
    """Per source id: the source hash its chunks were made from, and their ids.

    A document whose chunks disagree on the hash (two ingests mixed) gets None, which
    forces a re-index.
    """
    state: dict[str, tuple[str | None, list[str]]] = {}
    source_key = RAGMON_KEYS["source_key"]
    sha_key = RAGMON_KEYS["source_sha256_key"]
    for page in store.pages(include_text=False):
        for chunk in page:
            source = chunk.metadata.get(source_key)
            if source is None:
                continue
            sha, ids = state.setdefault(str(source), (chunk.metadata.get(sha_key), []))
            ids.append(chunk.id)
            if sha != chunk.metadata.get(sha_key):
                state[str(source)] = (None, ids)
    return state
