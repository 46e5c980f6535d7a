"""Optional: point each claim at the passage it is closest to (sentence embeddings).

Not a grounding signal (on the RAGTruth dev set sentence-embedding similarity ranks
hallucinated answers at AUROC 0.61): a pointer for the person reading the evidence, or
the passage to cite. Claims and passages are embedded together by the `Embedder` (the
packaged all-MiniLM-L6-v2 unless the application hands its own); a passage longer than
the model's window (256 word pieces for MiniLM) is judged by its beginning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from monitor.grounding.results import NearestPassage
from monitor.ports import Embedder


def nearest_passages(
    embedder: Embedder, claims: Sequence[str], passages: Sequence[str]
) -> list[NearestPassage]:
    """Per claim, the index of the most similar passage and the cosine between them
    (the first passage on a tie)."""
    if not claims or not passages:
        return []
    vectors = np.asarray(embedder.embed([*claims, *passages]), dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms == 0, 1.0, norms)
    cosines = vectors[: len(claims)] @ vectors[len(claims) :].T
    best = cosines.argmax(axis=1)
    return [
        NearestPassage(index=int(i), cosine=float(cosines[row, i])) for row, i in enumerate(best)
    ]
