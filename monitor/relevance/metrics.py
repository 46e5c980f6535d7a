"""Ranking figures of one probe (hit@k, recall@k, reciprocal rank, nDCG@k) and their means.

A probe's retrieved list is scored against the ids it expects: source ids when the probe
names documents (several chunks of one document count once, at the first), chunk ids
when it names chunks. Ranks are 1-based and looked for down to the search depth, so a
probe that fell from rank 3 to 14 says so even with k = 5.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, kw_only=True, slots=True)
class RankedHit:
    """One retrieved chunk, nearest first."""

    chunk_id: str
    source: str | None
    similarity: float
    tokens: int | None = None
    """Tokens of its text in the budget's tokenizer, when counted."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ProbeOutcome:
    """What one probe found."""

    id: str
    hit: bool
    """An expected id in the top k."""
    recall: float
    """Share of the expected ids found in the top k."""
    rr: float
    """1 / rank of the first expected hit within the search depth, else 0."""
    ndcg: float
    rank: int | None
    """Rank of the best expected hit (None: not within the search depth)."""
    score: float | None
    """Similarity of that hit."""
    margin: float | None
    """Its similarity minus that of the best hit that was not expected."""
    tokens: int | None = None
    """Tokens of the retrieved top k."""
    over_budget: bool = False
    beyond_budget: int = 0
    """Expected ids in the top k that fall past the context budget."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Aggregate:
    """Means over a set of probes."""

    probes: int
    hit_at_k: float
    recall_at_k: float
    mrr: float
    ndcg_at_k: float
    over_budget_share: float
    beyond_budget: int


def similarity(distance: float, space: str | None) -> float:
    """A similarity (higher is nearer) from a distance in the collection's space.

    Chroma's ``cosine`` and ``ip`` distances are 1 - similarity; its ``l2`` is the squared
    distance, 2 - 2 cos for the unit vectors sentence-transformers writes. An unknown
    space keeps the negated distance, which still orders hits.
    """
    if space in ("cosine", "ip"):
        return 1.0 - distance
    if space == "l2":
        return 1.0 - distance / 2.0
    return -distance


def score_probe(
    probe_id: str,
    expected: Mapping[str, float],
    unit: Literal["source", "chunk"],
    ranked: Sequence[RankedHit],
    *,
    k: int,
    budget: int | None = None,
) -> ProbeOutcome:
    """Score one retrieved list against the expected ids (and the context budget)."""
    first_at: dict[str, int] = {}
    rank: int | None = None
    best_other: float | None = None
    for position, hit in enumerate(ranked, start=1):
        key = hit.source if unit == "source" else hit.chunk_id
        if key is not None and key in expected:
            first_at.setdefault(key, position)
            if rank is None:
                rank = position
        elif best_other is None:
            best_other = hit.similarity
    found_at_k = {key: pos for key, pos in first_at.items() if pos <= k}
    dcg = sum(expected[key] / math.log2(pos + 1) for key, pos in found_at_k.items())
    ideal = sorted(expected.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    score = ranked[rank - 1].similarity if rank is not None else None
    tokens, over, beyond = _budget(ranked[:k], found_at_k, budget)
    return ProbeOutcome(
        id=probe_id,
        hit=bool(found_at_k),
        recall=len(found_at_k) / len(expected),
        rr=1.0 / rank if rank is not None else 0.0,
        ndcg=dcg / idcg if idcg else 0.0,
        rank=rank,
        score=score,
        margin=score - best_other if score is not None and best_other is not None else None,
        tokens=tokens,
        over_budget=over,
        beyond_budget=beyond,
    )


def _budget(
    top: Sequence[RankedHit], found_at_k: Mapping[str, int], budget: int | None
) -> tuple[int | None, bool, int]:
    """Tokens of the top k, whether they overflow, and expected hits cut by the budget."""
    if budget is None or any(hit.tokens is None for hit in top):
        return None, False, 0
    running, cut_from = 0, None
    for position, hit in enumerate(top, start=1):
        running += hit.tokens or 0
        if running > budget and cut_from is None:
            cut_from = position
    beyond = sum(1 for pos in found_at_k.values() if cut_from is not None and pos >= cut_from)
    return running, running > budget, beyond


def aggregate(outcomes: Sequence[ProbeOutcome]) -> Aggregate:
    """Means of the probes' figures (zeros when there are none)."""
    n = len(outcomes)

    def mean(values: Sequence[float]) -> float:
        return sum(values) / n if n else 0.0

    return Aggregate(
        probes=n,
        hit_at_k=mean([float(o.hit) for o in outcomes]),
        recall_at_k=mean([o.recall for o in outcomes]),
        mrr=mean([o.rr for o in outcomes]),
        ndcg_at_k=mean([o.ndcg for o in outcomes]),
        over_budget_share=mean([float(o.over_budget) for o in outcomes]),
        beyond_budget=sum(o.beyond_budget for o in outcomes),
    )
