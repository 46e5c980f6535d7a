"""Per-response retrieval state: how novel each sampled query is, and whether its context fit.

For each response of the current window's sample (the one the drift check embedded):

- ``query_novelty``: the mean cosine distance (1 - cosine) from the query's embedding to
  its `NEIGHBOURS` nearest reference-window query embeddings; higher is further from what
  people asked before.
- ``query_drifted``: the novelty is above the reference window's own leave-one-out
  novelty at the 95% level: each reference query's novelty against the *other*
  reference queries is computed, and the threshold is the ceil((n + 1) x 0.95)-th
  smallest of those n values (the split-conformal quantile). A current query from the
  reference distribution exceeds it with probability at most 5%; with fewer than 19
  reference queries no such threshold exists and ``query_drifted`` stays empty. (A
  current query has one more reference neighbour to choose from than a left-out one,
  which only makes the rule more conservative.)
- ``context_tokens``: the tokens (in the budget's tokenizer) of every chunk the response
  was given, from the logged chunk text, else the store's document for the chunk id, else
  the logged context as one text; ``over_budget`` compares them with the context budget.
  When a chunk's text is neither logged nor stored, the count is unknown; ``over_budget``
  is still true when the chunks that could be counted already exceed the budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.ports import VectorStore
from monitor.relevance.logged import LoggedResponse
from monitor.relevance.production import PerResponse, Windows

NEIGHBOURS = 5
"""Reference queries a query's novelty is measured against."""
LEVEL = 0.95
_STORE_BATCH = 1000
_ROW_BLOCK = 1024

NOVELTY = f"mean cosine distance to the {NEIGHBOURS} nearest reference-window queries"
DRIFT_RULE = (
    f"novelty above the reference window's leave-one-out novelty at the {LEVEL:.0%} "
    "conformal quantile"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ResponseState:
    """One row of ``response_retrieval``."""

    rid: int
    at_us: int
    query_novelty: float | None
    query_drifted: bool | None
    context_tokens: int | None
    over_budget: bool | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Novelty:
    """Novelty of the current queries against the reference, and the threshold."""

    current: list[float]
    threshold: float | None


def query_novelty(reference: Any, current: Any, *, neighbours: int = NEIGHBOURS) -> Novelty:
    """Each current row's mean cosine distance to its nearest reference rows, and the
    reference's leave-one-out conformal threshold (see the module's docstring)."""
    import numpy as np

    ref = _unit(np.asarray(reference, dtype=np.float32))
    cur = _unit(np.asarray(current, dtype=np.float32))
    if len(ref) < 2 or len(cur) == 0:
        return Novelty(current=[math.nan] * len(cur), threshold=None)
    m = min(neighbours, len(ref) - 1)
    novelty = _mean_nearest(cur, ref, m, leave_out=False)
    own = np.sort(_mean_nearest(ref, ref, m, leave_out=True))
    rank = math.ceil((len(own) + 1) * LEVEL)
    threshold = float(own[rank - 1]) if rank <= len(own) else None
    return Novelty(current=[float(v) for v in novelty], threshold=threshold)


def _unit(vectors: Any) -> Any:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def _mean_nearest(rows: Any, ref: Any, m: int, *, leave_out: bool) -> Any:
    """Mean of 1 - cosine to the ``m`` nearest ``ref`` rows, in blocks of rows (memory stays
    at a block times the reference). ``leave_out``: ``rows`` is ``ref``, skip the row itself."""
    import numpy as np

    out = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), _ROW_BLOCK):
        block = rows[start : start + _ROW_BLOCK] @ ref.T
        if leave_out:
            idx = np.arange(start, start + len(block))
            block[np.arange(len(block)), idx] = -np.inf
        nearest = -np.partition(-block, m - 1, axis=1)[:, :m]
        out[start : start + len(block)] = 1.0 - nearest.mean(axis=1)
    return out


def context_tokens(
    responses: Sequence[LoggedResponse],
    store: VectorStore,
    count: Callable[[Sequence[str]], list[int]],
) -> dict[int, tuple[int | None, int]]:
    """Per response rid: (tokens of its whole context or None when some chunk's text is
    unknown, tokens of the part that could be counted)."""
    wanted = sorted(
        {c.chunk_id for r in responses for c in r.chunks if c.text is None and c.chunk_id}
    )
    stored: dict[str, str] = {}
    for start in range(0, len(wanted), _STORE_BATCH):
        for chunk in store.get(wanted[start : start + _STORE_BATCH]):
            if chunk.text is not None:
                stored[chunk.id] = chunk.text
    texts: dict[int, list[str | None]] = {}
    for r in responses:
        rid = r.record.rid
        assert rid is not None
        if r.chunks:
            texts[rid] = [
                c.text if c.text is not None else stored.get(c.chunk_id or "") for c in r.chunks
            ]
        elif r.context:
            texts[rid] = [r.context]
        else:
            texts[rid] = [None]
    distinct = list(dict.fromkeys(t for parts in texts.values() for t in parts if t is not None))
    counted = dict(zip(distinct, count(distinct), strict=True)) if distinct else {}
    out: dict[int, tuple[int | None, int]] = {}
    for rid, parts in texts.items():
        known = sum(counted[t] for t in parts if t is not None)
        out[rid] = (known if all(t is not None for t in parts) else None, known)
    return out


def response_states(
    windows: Windows,
    logged: Sequence[LoggedResponse],
    store: VectorStore,
    *,
    count: Callable[[Sequence[str]], list[int]] | None,
    budget: int,
) -> tuple[list[ResponseState], PerResponse]:
    """The state of every response in the current window's sample."""
    by_rid = {r.record.rid: r for r in logged}
    sample = [by_rid[r.rid] for r in windows.current if r.rid in by_rid]
    novelty: dict[int, float] = {}
    threshold = None
    if windows.current_vectors is not None and windows.reference_vectors is not None:
        found = query_novelty(windows.reference_vectors, windows.current_vectors)
        threshold = found.threshold
        novelty = {
            r.rid: v
            for r, v in zip(windows.current, found.current, strict=True)
            if r.rid is not None and not math.isnan(v)
        }
    tokens = context_tokens(sample, store, count) if count is not None else {}
    states = []
    for r in sample:
        rid = r.record.rid
        assert rid is not None
        value = novelty.get(rid)
        total, known = tokens.get(rid, (None, 0))
        if total is not None:
            over: bool | None = total > budget
        else:
            over = True if known > budget else None
        states.append(
            ResponseState(
                rid=rid,
                at_us=r.at_us,
                query_novelty=value,
                query_drifted=(value > threshold)
                if value is not None and threshold is not None
                else None,
                context_tokens=total,
                over_budget=over,
            )
        )
    summary = PerResponse(
        rows=len(states),
        novelty=NOVELTY,
        drift_rule=DRIFT_RULE,
        novelty_threshold=threshold,
        drifted=sum(bool(s.query_drifted) for s in states),
        over_budget=sum(bool(s.over_budget) for s in states),
        tokens_unknown=sum(s.context_tokens is None for s in states),
    )
    return states, summary
