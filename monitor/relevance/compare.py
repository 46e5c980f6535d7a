"""Which labelled probes regressed since an earlier run, and from which rank to which."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.relevance.metrics import ProbeOutcome


@dataclass(frozen=True, kw_only=True, slots=True)
class Regression:
    """A probe that does worse than in the run it is compared with."""

    probe: str
    query: str
    against: str
    """``previous`` or ``baseline``."""
    run_id: int | None
    rank_from: int | None
    rank_to: int | None
    """None: not found within the search depth."""
    recall_from: float
    recall_to: float


def regressions(
    current: Sequence[ProbeOutcome],
    earlier: Sequence[ProbeOutcome],
    queries: dict[str, str],
    *,
    k: int,
    against: str,
    run_id: int | None,
) -> list[Regression]:
    """Probes whose recall@k fell, or whose best expected hit moved down from the top k.

    A move below the top k on both sides (rank 15 to 16) is not a regression: deep ranks
    of an approximate index shift without anything having changed.
    """
    before = {o.id: o for o in earlier}
    found = []
    for now in current:
        then = before.get(now.id)
        if then is None:
            continue
        moved_down = then.rank is not None and then.rank <= k and _worse(now.rank, then.rank)
        if now.recall < then.recall or moved_down:
            found.append(
                Regression(
                    probe=now.id,
                    query=queries.get(now.id, ""),
                    against=against,
                    run_id=run_id,
                    rank_from=then.rank,
                    rank_to=now.rank,
                    recall_from=then.recall,
                    recall_to=now.recall,
                )
            )
    return found


def _worse(now: int | None, then: int) -> bool:
    return now is None or now > then
