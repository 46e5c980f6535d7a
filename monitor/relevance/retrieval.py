"""One retrieval step shared by every probe: embed the queries, query the store, rank.

The store is asked in batches; each neighbour becomes a `RankedHit` with its source id
(read through the metadata mapping, after the configured path rewrites), its similarity
and, when a token counter is given, its tokens. Time spent embedding and querying is
added up in `Timings`, which the benchmark reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.config import PathRewrite
from monitor.errors import ConfigError, StoreError
from monitor.ports import Embedder, VectorStore
from monitor.provenance import MetadataMapping
from monitor.records import Chunk, Neighbour
from monitor.relevance.metrics import RankedHit, similarity

QUERY_BATCH = 256
"""Query embeddings sent to the store per call."""


@dataclass(kw_only=True, slots=True)
class Timings:
    """Seconds spent in the model and in the store, summed over calls."""

    embedding: float = 0.0
    querying: float = 0.0
    queries: int = 0


@dataclass(kw_only=True, slots=True)
class Retriever:
    """Embeds queries and ranks the store's chunks for them."""

    store: VectorStore
    embedder: Embedder
    mapping: MetadataMapping = field(default_factory=MetadataMapping)
    rewrites: Sequence[PathRewrite] = ()
    count_tokens: Callable[[Sequence[str]], list[int]] | None = None
    timings: Timings = field(default_factory=Timings)
    _tokens: dict[str, int] = field(default_factory=dict)
    _sources: dict[str, str | None] = field(default_factory=dict)

    def embed(self, texts: Sequence[str]) -> Any:
        """The queries' vectors (unit length, float32)."""
        started = time.perf_counter()
        vectors = self.embedder.embed(list(texts))
        self.timings.embedding += time.perf_counter() - started
        return vectors

    def search(self, vectors: Any, depth: int) -> list[list[Neighbour]]:
        """The ``depth`` nearest chunks of each vector, in batches."""
        started = time.perf_counter()
        found: list[list[Neighbour]] = []
        for start in range(0, len(vectors), QUERY_BATCH):
            try:
                found += self.store.query(vectors[start : start + QUERY_BATCH], depth)
            except StoreError:
                self._refuse_another_model(len(vectors[0]))
                raise
        self.timings.querying += time.perf_counter() - started
        self.timings.queries += len(vectors)
        return found

    def _refuse_another_model(self, dimension: int) -> None:
        """A failed query whose cause is a collection built with another model: say so."""
        page = next(iter(self.store.pages(include_text=False, include_embeddings=True)), [])
        stored = next((c.embedding for c in page if c.embedding is not None), None)
        if stored is not None and len(stored) != dimension:
            raise ConfigError(
                "config",
                "embedding.model",
                f"the collection's vectors have {len(stored)} dimensions and "
                f"{self.embedder.name} gives {dimension}: queries must be embedded with the "
                "model the collection was built with (set [embedding] model to it; "
                "`ragmon run embeddings` checks the match)",
            )

    def rank(
        self, texts: Sequence[str], depth: int, *, k: int | None = None
    ) -> list[list[RankedHit]]:
        """Embed ``texts``, search, and rank: one list of hits per text."""
        return self.ranked(self.search(self.embed(texts), depth), k=k)

    def ranked(
        self, neighbours: Sequence[Sequence[Neighbour]], *, k: int | None = None
    ) -> list[list[RankedHit]]:
        """Neighbours as `RankedHit`s with sources and similarities; the first ``k`` of
        each list (all without ``k``) with their tokens, which is what the budget reads."""
        space = self.store.space
        self._count([n for hits in neighbours for n in (hits[:k] if k is not None else hits)])
        return [
            [
                RankedHit(
                    chunk_id=n.id,
                    source=self.source_of(n.id, n.metadata),
                    similarity=similarity(n.distance, space),
                    tokens=self._tokens.get(n.id),
                )
                for n in hits
            ]
            for hits in neighbours
        ]

    def source_of(self, chunk_id: str, metadata: Any) -> str | None:
        """The chunk's source id as recorded, after the configured prefix rewrites."""
        # The same chunks come back for many queries: read each one's metadata once.
        if chunk_id not in self._sources:
            self._sources[chunk_id] = self._source(chunk_id, metadata)
        return self._sources[chunk_id]

    def _source(self, chunk_id: str, metadata: Any) -> str | None:
        recorded = self.mapping.provenance(Chunk(id=chunk_id, text=None, metadata=metadata)).source
        if recorded is None:
            return None
        for rule in self.rewrites:
            if recorded.startswith(rule.from_):
                return rule.to + recorded[len(rule.from_) :]
        return recorded

    def _count(self, neighbours: Sequence[Neighbour]) -> None:
        if self.count_tokens is None:
            return
        todo = {n.id: n.text or "" for n in neighbours if n.id not in self._tokens}
        if todo:
            # Copies of one text (duplicated chunks) are tokenised once.
            distinct = list(dict.fromkeys(todo.values()))
            counts = dict(zip(distinct, self.count_tokens(distinct), strict=True))
            self._tokens.update((cid, counts[text]) for cid, text in todo.items())


def token_counter(tokenizer: Any) -> Callable[[Sequence[str]], list[int]]:
    """Count tokens (no special tokens) of many texts at once with a `tokenizers.Tokenizer`.

    Counted on a copy without padding or truncation: a model's tokenizer pads a batch to
    its longest text and cuts at the model's window (sentence-transformers even changes
    those settings on the shared object when it encodes), which would count a short chunk
    as long as its batch's longest and a long one as the window.
    """
    from tokenizers import Tokenizer

    own = Tokenizer.from_str(tokenizer.to_str())
    own.no_padding()
    own.no_truncation()

    def count(texts: Sequence[str]) -> list[int]:
        encoded = own.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encoded]

    return count
