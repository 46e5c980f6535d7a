"""Hotspots: the source documents that the low-grounding answers retrieved most.

Documents are ranked by the low-grounding answers that retrieved at least one of their
chunks (ties: the larger share of its answers that were low, then the id). The
cumulative share counts each low answer once, at the first-ranked document it
retrieved, so "fixing the first 5 touches 61% of the low-grounding answers" is a share
of distinct answers, not a sum that could pass 100%.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.correlation.results import Hotspot

if TYPE_CHECKING:
    import pandas as pd

KEEP = 50
"""Hotspot documents kept in the result."""


def hotspots(
    responses: pd.DataFrame,
    retrieved: pd.DataFrame,
    documents: Mapping[str, Any],
    *,
    low: np.ndarray,
    keep: int = KEEP,
) -> tuple[tuple[Hotspot, ...], int]:
    """The top ``keep`` documents by ``low``-grounding answers (one flag per row of
    ``responses``), and how many documents any low-grounding answer retrieved.
    ``documents`` gives each listed document's freshness ``status``, fix-queue
    ``action`` and ``fix_rank``."""
    import pandas as pd

    if not len(responses) or not len(retrieved) or "source_id" not in retrieved:
        return (), 0
    n_low = int(low.sum())
    if n_low == 0:
        return (), 0
    response = pd.Index(responses["rid"]).get_indexer(retrieved["rid"])
    doc, names = pd.factorize(retrieved["source_id"])
    valid = (response >= 0) & (doc >= 0)
    d = len(names)
    pairs = np.sort(response[valid].astype(np.int64) * d + doc[valid])
    if pairs.size:
        pairs = pairs[np.append(True, pairs[1:] != pairs[:-1])]  # np.unique hashes: slower
    pair_response, pair_doc = pairs // d, pairs % d
    pair_low = low[pair_response]
    answers = np.bincount(pair_doc, minlength=d)
    low_answers = np.bincount(pair_doc[pair_low], minlength=d)
    candidates = np.flatnonzero(low_answers > 0)
    if candidates.size == 0:
        return (), 0
    rate = low_answers[candidates] / answers[candidates]
    by_name = np.argsort(np.argsort(np.asarray(names[candidates], dtype=str)))
    order = candidates[np.lexsort((by_name, -rate, -low_answers[candidates]))]
    rank = np.full(d, np.iinfo(np.int64).max)
    rank[order] = np.arange(order.size)
    first = np.full(len(responses), np.iinfo(np.int64).max)
    np.minimum.at(first, pair_response[pair_low], rank[pair_doc[pair_low]])
    touched = np.bincount(first[first < order.size], minlength=order.size)
    cumulative = np.cumsum(touched) / n_low
    out = []
    for position, index in enumerate(order[:keep]):
        source_id = str(names[index])
        state = documents.get(source_id)
        out.append(
            Hotspot(
                source_id=source_id,
                low_responses=int(low_answers[index]),
                responses=int(answers[index]),
                share_of_low=float(low_answers[index] / n_low),
                cumulative_share_of_low=float(cumulative[position]),
                status=_value(getattr(state, "status", None)) or "fresh",
                action=_value(getattr(state, "action", None)),
                fix_rank=getattr(state, "fix_rank", None),
            )
        )
    return tuple(out), int(order.size)


def _value(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.value) if isinstance(value, enum.Enum) else str(value)
