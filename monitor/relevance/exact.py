"""The index against an exact search: recall@k of the store's approximate neighbours.

A seeded sample of stored vectors is used as queries. The store answers them through its
index (HNSW for Chroma); the exact answer is a brute-force numpy search over every
stored vector, streamed page by page with a running top k per query, so memory stays at
one page plus the queries. A degrading approximate index loses relevant chunks no probe
label would explain; this is the figure that shows it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.ports import VectorStore


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexCheck:
    queries: int
    k: int
    recall: float
    """Mean share of the exact top k that the index returned."""
    worst: float
    """The lowest recall of one query."""


def sample_ids(all_ids: Sequence[str], size: int, seed: int) -> list[str]:
    """A seeded sample of chunk ids (sorted first, so the store's order does not matter)."""
    pool = sorted(all_ids)
    return random.Random(f"index:{seed}").sample(pool, min(size, len(pool)))


def index_recall(store: VectorStore, ids: Sequence[str], k: int) -> IndexCheck | None:
    """Recall@k of ``store.query`` against an exact search, with stored vectors as queries."""
    import numpy as np

    chunks = [c for c in store.get(list(ids), include_embeddings=True) if c.embedding is not None]
    if not chunks:
        return None
    queries = np.asarray([c.embedding for c in chunks], dtype=np.float32)
    approximate = [[n.id for n in hits] for hits in store.query(list(queries), k)]
    exact = _exact_top_k(store, queries, k)
    recalls = [
        len(set(a) & set(e)) / len(e) if e else 1.0 for a, e in zip(approximate, exact, strict=True)
    ]
    return IndexCheck(
        queries=len(chunks), k=k, recall=float(np.mean(recalls)), worst=float(min(recalls))
    )


def _exact_top_k(store: VectorStore, queries: Any, k: int) -> list[list[str]]:
    import numpy as np

    space = store.space or "l2"
    if space == "cosine":
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    n = len(queries)
    best_scores = np.full((n, 0), -np.inf, dtype=np.float32)
    best_ids = np.empty((n, 0), dtype=object)
    for page in store.pages(include_text=False, include_embeddings=True):
        ids = np.asarray([c.id for c in page], dtype=object)
        vectors = np.asarray([c.embedding for c in page], dtype=np.float32)
        scores = _scores(queries, vectors, space)
        scores = np.concatenate([best_scores, scores], axis=1)
        pool = np.concatenate(
            [np.broadcast_to(best_ids, (n, best_ids.shape[1])), np.tile(ids, (n, 1))], axis=1
        )
        keep = min(k, scores.shape[1])
        top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        best_scores = np.take_along_axis(scores, top, axis=1)
        best_ids = np.take_along_axis(pool, top, axis=1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return [list(row) for row in np.take_along_axis(best_ids, order, axis=1)]


def _scores(queries: Any, vectors: Any, space: str) -> Any:
    """Higher is nearer, in the collection's own space."""
    import numpy as np

    if space == "cosine":
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return queries @ (vectors / norms).T
    if space == "ip":
        return queries @ vectors.T
    # Squared L2: |q|^2 - 2 q.v + |v|^2; |q|^2 is the same for every v of one query.
    return 2 * queries @ vectors.T - (vectors * vectors).sum(axis=1)[None, :]
