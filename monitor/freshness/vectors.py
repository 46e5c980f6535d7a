"""Do the stored vectors come from the configured model and the stored text?

A sample of chunks is re-embedded and compared with the vector in the store. A
different dimension means the whole collection was embedded by another model; a low
cosine on one chunk means its vector was made by another model or from other text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from monitor.ports import Embedder, VectorStore

log = logging.getLogger(__name__)

MODEL_MISMATCH_SHARE = 0.5
"""When at least this share of the sample mismatches, blame the model, not the chunks."""


@dataclass(frozen=True, kw_only=True, slots=True)
class VectorMismatch:
    chunk_id: str
    cosine: float


@dataclass(frozen=True, kw_only=True, slots=True)
class VectorCheck:
    """The outcome of re-embedding a sample."""

    model: str
    sampled: int
    stored_dimension: int | None
    model_dimension: int
    mismatches: tuple[VectorMismatch, ...] = field(default=())
    min_cosine: float = 0.98

    @property
    def dimension_mismatch(self) -> bool:
        return self.stored_dimension is not None and self.stored_dimension != self.model_dimension

    @property
    def mismatch_share(self) -> float:
        if self.dimension_mismatch:
            return 1.0
        return len(self.mismatches) / self.sampled if self.sampled else 0.0

    @property
    def model_mismatch(self) -> bool:
        """The collection as a whole was not embedded with the configured model."""
        return self.dimension_mismatch or (
            self.sampled > 0 and self.mismatch_share >= MODEL_MISMATCH_SHARE
        )


def check_vectors(
    store: VectorStore,
    ids: Sequence[str],
    embedder: Embedder,
    *,
    min_cosine: float,
    batch: int = 256,
) -> VectorCheck:
    """Re-embed the text of the chunks ``ids`` and compare with their stored vectors."""
    mismatches: list[VectorMismatch] = []
    sampled = 0
    stored_dimension: int | None = None
    model_dimension = embedder.dimension
    for start in range(0, len(ids), batch):
        chunks = [
            c
            for c in store.get(ids[start : start + batch], include_embeddings=True)
            if c.text and c.embedding is not None
        ]
        if not chunks:
            continue
        stored = np.asarray([np.asarray(c.embedding, dtype=np.float32) for c in chunks])
        stored_dimension = int(stored.shape[1])
        if stored_dimension != model_dimension:
            log.warning(
                "stored vectors have %d dimensions, %s gives %d",
                stored_dimension,
                embedder.name,
                model_dimension,
            )
            return VectorCheck(
                model=embedder.name,
                sampled=len(chunks),
                stored_dimension=stored_dimension,
                model_dimension=model_dimension,
                min_cosine=min_cosine,
            )
        fresh = np.asarray(embedder.embed([str(c.text) for c in chunks]), dtype=np.float32)
        norms = np.linalg.norm(stored, axis=1) * np.linalg.norm(fresh, axis=1)
        cosines = np.einsum("ij,ij->i", stored, fresh) / np.where(norms == 0, 1, norms)
        sampled += len(chunks)
        mismatches += [
            VectorMismatch(chunk_id=c.id, cosine=round(float(cos), 4))
            for c, cos in zip(chunks, cosines, strict=True)
            if cos < min_cosine
        ]
    return VectorCheck(
        model=embedder.name,
        sampled=sampled,
        stored_dimension=stored_dimension,
        model_dimension=model_dimension,
        mismatches=tuple(mismatches),
        min_cosine=min_cosine,
    )
