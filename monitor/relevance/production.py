"""Production queries: query embedding drift and retrieval score drift between two windows.

`production_drift` takes plain `QueryRecord`s (time, query, and the top scores the
application saw, when it logged them), so a query file and the response-log tables
(`monitor.relevance.logged`) feed the same function. The current window ends at ``now``;
the reference window is the one before it. A seeded sample of each is embedded: their
embeddings are compared through `monitor.drift_evidently`, their retrieval scores (the
logged ones, in the kind they were logged as, else the store is asked now) with a
two-sample Kolmogorov-Smirnov test.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.errors import RelevanceInputError
from monitor.relevance.metrics import similarity
from monitor.relevance.retrieval import Retriever

log = logging.getLogger(__name__)

MIN_QUERIES = 10
"""Fewer queries in a window than this: no drift is computed."""
KEPT_SCORES = 500
"""Scores per window kept in the result for the report's distributions."""


SIMILARITY = "similarity"
DISTANCE = "distance"


@dataclass(frozen=True, kw_only=True, slots=True)
class QueryRecord:
    """One production query and the scores of the chunks it retrieved, if logged."""

    time: datetime
    query: str
    scores: tuple[float, ...] | None = None
    """In the order the application logged them (its rank order)."""
    score_kind: str | None = None
    """``similarity`` (higher is nearer) or ``distance``; None: similarity."""
    rid: int | None = None
    """The response's row in the history, when the query came from the response logs."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ScoreTest:
    """A two-sample test of one score distribution, reference against current."""

    test: str
    statistic: float
    """The K-S statistic: the largest gap between the two CDFs, also the effect size."""
    p_value: float
    median_shift: float
    """Current median minus reference median."""


@dataclass(frozen=True, kw_only=True, slots=True)
class QueryDriftFigure:
    method: str
    score: float
    threshold: float | None
    bootstrap: bool
    quantile: float | None
    drifted: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class Production:
    """Production query figures of one run."""

    window: tuple[datetime, datetime]
    reference_window: tuple[datetime, datetime]
    queries: int
    reference_queries: int
    sampled: int
    reference_sampled: int
    skipped: str | None = None
    """Why no drift was computed (too few queries), else None."""
    source: str = "file"
    """Where the queries came from: ``logs`` (the ingested responses) or ``file``."""
    source_detail: str | None = None
    """The query file's path, or which responses were read."""
    score_kind: str = "cosine similarity"
    """What the scores below measure: ``cosine similarity`` (asked from the store now),
    or the kind they were logged as, ``similarity`` or ``distance`` (lower is nearer)."""
    scores_from: str = "store"
    """``logged`` when the records carried scores, ``store`` when asked now."""
    query_drift: QueryDriftFigure | None = None
    top1: ScoreTest | None = None
    topk: ScoreTest | None = None
    floor: float | None = 0.0
    """The score floor on the scale of ``score_kind`` (a distance for logged distances;
    None for distances in an unknown space)."""
    no_relevant_share: float | None = None
    reference_no_relevant_share: float | None = None
    over_budget_share: float | None = None
    top1_scores: tuple[float, ...] = ()
    reference_top1_scores: tuple[float, ...] = ()
    report: str | None = None
    """File name of evidently's HTML report, next to the ragmon report."""
    per_response: PerResponse | None = None
    """The per-response retrieval state written for logged responses."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PerResponse:
    """What was stored in ``response_retrieval`` for the sampled current-window responses."""

    rows: int
    """Responses that got a row: the current window's sample (``query_sample``)."""
    novelty: str
    """How ``query_novelty`` was measured."""
    drift_rule: str
    """When ``query_drifted`` is true."""
    novelty_threshold: float | None
    """Novelty above which a query counts as drifted (None: too few reference queries)."""
    drifted: int
    over_budget: int
    tokens_unknown: int
    """Responses whose retrieved context could not be counted (text not logged, ids gone)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Windows:
    """One comparison of the two windows, with the samples and vectors behind it."""

    production: Production
    current: list[QueryRecord]
    """The current window's sample, in the order of ``current_vectors``."""
    reference: list[QueryRecord]
    current_vectors: Any = None
    """Unit-length query embeddings (None when the windows were too small to compare)."""
    reference_vectors: Any = None


def load_queries(path: Path) -> list[QueryRecord]:
    """Read ``{"query": ..., "time": ..., "scores": [...]?}`` lines; errors name the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise RelevanceInputError(path, None, "no such query file (relevance.queries)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RelevanceInputError(path, None, f"cannot be read ({exc})") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RelevanceInputError(path, number, f"not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise RelevanceInputError(path, number, "expected an object with query and time")
        query, when = item.get("query"), item.get("time")
        if not isinstance(query, str) or not query.strip():
            raise RelevanceInputError(path, number, "key 'query': expected a non-empty string")
        try:
            moment = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
        except ValueError:
            raise RelevanceInputError(
                path, number, f"key 'time': expected an ISO 8601 time, got {when!r}"
            ) from None
        scores = item.get("scores")
        if scores is not None and not (
            isinstance(scores, list) and all(isinstance(s, int | float) for s in scores)
        ):
            raise RelevanceInputError(path, number, "key 'scores': expected a list of numbers")
        records.append(
            QueryRecord(
                time=moment if moment.tzinfo else moment.replace(tzinfo=UTC),
                query=query,
                scores=tuple(float(s) for s in scores) if scores else None,
            )
        )
    return records


def production_drift(
    records: Sequence[QueryRecord], retriever: Retriever, **settings: Any
) -> Production:
    """Compare the current window's queries with the reference window's (`compare_windows`)."""
    return compare_windows(records, retriever, **settings).production


def compare_windows(
    records: Sequence[QueryRecord],
    retriever: Retriever,
    *,
    now: datetime,
    window: timedelta,
    reference_window: timedelta,
    sample: int,
    seed: int,
    k: int,
    floor: float | None,
    threshold: float,
    budget: int | None = None,
    report_path: Path | None = None,
    totals: tuple[int, int] | None = None,
    source: str = "file",
    source_detail: str | None = None,
) -> Windows:
    """Compare the current window's queries with the reference window's.

    ``totals`` are the windows' query counts when ``records`` are already a sample of them
    (the response logs are sampled in the database). Logged scores are used when every
    sampled query carries them; otherwise both samples are asked from the store now.
    """
    start = now - window
    ref_start = start - reference_window
    current = [r for r in records if start <= r.time < now]
    reference = [r for r in records if ref_start <= r.time < start]
    cur = _sample(current, sample, f"{seed}:current")
    ref = _sample(reference, sample, f"{seed}:reference")
    base = Production(
        window=(start, now),
        reference_window=(ref_start, start),
        queries=totals[0] if totals else len(current),
        reference_queries=totals[1] if totals else len(reference),
        sampled=0,
        reference_sampled=0,
        floor=floor,
        source=source,
        source_detail=source_detail,
    )
    if min(len(current), len(reference)) < MIN_QUERIES:
        skipped = _replace(base, skipped=f"fewer than {MIN_QUERIES} queries in a window")
        return Windows(production=skipped, current=cur, reference=ref)
    vectors_cur = retriever.embed([r.query for r in cur])
    vectors_ref = retriever.embed([r.query for r in ref])
    logged = _logged_scores(cur + ref, k, retriever.store.space)
    over_budget: float | None = None
    kind = "cosine similarity"
    if logged is not None:
        kind, best_first = logged
        scores_cur, scores_ref = best_first[: len(cur)], best_first[len(cur) :]
        floor = _floor_as(kind, floor, retriever.store.space)
    else:
        hits_cur = retriever.ranked(retriever.search(vectors_cur, k))
        hits_ref = retriever.ranked(retriever.search(vectors_ref, k), k=0)
        scores_cur = [[h.similarity for h in hits] for hits in hits_cur]
        scores_ref = [[h.similarity for h in hits] for hits in hits_ref]
        if budget is not None and retriever.count_tokens is not None:
            tokens = [sum(h.tokens or 0 for h in hits) for hits in hits_cur]
            over_budget = sum(t > budget for t in tokens) / len(tokens)
    from monitor.drift_evidently import embedding_drift, write_drift_report

    drift = embedding_drift(vectors_ref, vectors_cur, threshold=threshold)
    report = None
    if report_path is not None:
        write_drift_report(vectors_ref, vectors_cur, report_path, threshold=threshold)
        report = report_path.name
    top1_cur = [s[0] for s in scores_cur if s]
    top1_ref = [s[0] for s in scores_ref if s]
    mean_cur = [sum(s) / len(s) for s in scores_cur if s]
    mean_ref = [sum(s) / len(s) for s in scores_ref if s]
    production = _replace(
        base,
        sampled=len(cur),
        reference_sampled=len(ref),
        score_kind=kind,
        floor=floor,
        scores_from="logged" if logged is not None else "store",
        query_drift=QueryDriftFigure(
            method=drift.method,
            score=drift.score,
            threshold=drift.threshold,
            bootstrap=drift.bootstrap,
            quantile=drift.quantile,
            drifted=drift.drifted,
        ),
        top1=score_test(top1_ref, top1_cur),
        topk=score_test(mean_ref, mean_cur),
        no_relevant_share=_below(top1_cur, floor, kind),
        reference_no_relevant_share=_below(top1_ref, floor, kind),
        over_budget_share=over_budget,
        top1_scores=tuple(round(s, 5) for s in top1_cur[:KEPT_SCORES]),
        reference_top1_scores=tuple(round(s, 5) for s in top1_ref[:KEPT_SCORES]),
        report=report,
    )
    return Windows(
        production=production,
        current=cur,
        reference=ref,
        current_vectors=vectors_cur,
        reference_vectors=vectors_ref,
    )


def _logged_scores(
    records: Sequence[QueryRecord], k: int, space: str | None
) -> tuple[str, list[list[float]]] | None:
    """The records' logged scores, best first and cut at ``k``, and their kind; None when a
    record has none (then the store is asked).

    One kind throughout is kept as logged. Mixed kinds (an application that changed what
    it logs) are compared as similarities, the distances converted through the
    collection's space; in an unknown space they cannot be, and None is returned.
    """
    if not records or not all(r.scores for r in records):
        return None
    kinds = {r.score_kind or SIMILARITY for r in records}
    if len(kinds) == 1:
        kind = kinds.pop()
        rows = [list(r.scores or ()) for r in records]
    elif space in ("cosine", "ip", "l2"):
        kind = SIMILARITY
        rows = [
            [similarity(s, space) for s in r.scores or ()]
            if r.score_kind == DISTANCE
            else list(r.scores or ())
            for r in records
        ]
    else:
        return None
    return kind, [sorted(row, reverse=kind != DISTANCE)[:k] for row in rows]


def _floor_as(kind: str, floor: float | None, space: str | None) -> float | None:
    """The similarity floor on the scale of logged ``kind`` scores: for a distance, the
    distance of that similarity in the collection's space (None in an unknown space)."""
    if kind != DISTANCE or floor is None:
        return floor
    if space in ("cosine", "ip"):
        return 1.0 - floor
    if space == "l2":
        return 2.0 - 2.0 * floor
    return None


def score_test(reference: Sequence[float], current: Sequence[float]) -> ScoreTest:
    """Two-sample Kolmogorov-Smirnov test (`monitor.drift`); its statistic is the effect size."""
    import statistics

    from monitor.drift import distribution_test

    found = distribution_test(list(reference), list(current))
    shift = (
        statistics.median(current) - statistics.median(reference) if reference and current else 0.0
    )
    return ScoreTest(
        test=found.test, statistic=found.statistic, p_value=found.p_value, median_shift=shift
    )


def _below(scores: Sequence[float], floor: float | None, kind: str) -> float | None:
    """Share of best scores worse than the floor (a distance above it, a similarity below)."""
    if not scores or floor is None:
        return None
    if kind == DISTANCE:
        return sum(s > floor for s in scores) / len(scores)
    return sum(s < floor for s in scores) / len(scores)


def _sample(records: Sequence[QueryRecord], size: int, seed: str) -> list[QueryRecord]:
    ordered = sorted(records, key=lambda r: (r.time, r.query))
    if len(ordered) <= size:
        return ordered
    return random.Random(seed).sample(ordered, size)


def _replace(production: Production, **changes: object) -> Production:
    from dataclasses import replace

    return replace(production, **changes)  # type: ignore[arg-type]
