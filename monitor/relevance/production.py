"""Production queries: query embedding drift and retrieval score drift between two windows.

`production_drift` takes plain `QueryRecord`s (time, query, and the top scores the
application saw, when it logged them), so a query file today and the response-log
tables later feed the same function. The current window ends at ``now``; the reference
window is the one before it. A seeded sample of each is embedded: their embeddings are
compared through `monitor.drift_evidently`, their retrieval scores (the logged ones, else
the store is asked now) with a two-sample Kolmogorov-Smirnov test.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.errors import RelevanceInputError
from monitor.relevance.retrieval import Retriever

log = logging.getLogger(__name__)

MIN_QUERIES = 10
"""Fewer queries in a window than this: no drift is computed."""
KEPT_SCORES = 500
"""Scores per window kept in the result for the report's distributions."""


@dataclass(frozen=True, kw_only=True, slots=True)
class QueryRecord:
    """One production query; ``scores`` are the similarities of its top k, if logged."""

    time: datetime
    query: str
    scores: tuple[float, ...] | None = None


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
    score_kind: str = "cosine similarity"
    scores_from: str = "store"
    """``logged`` when the records carried scores, ``store`` when asked now."""
    query_drift: QueryDriftFigure | None = None
    top1: ScoreTest | None = None
    topk: ScoreTest | None = None
    floor: float = 0.0
    no_relevant_share: float | None = None
    reference_no_relevant_share: float | None = None
    over_budget_share: float | None = None
    top1_scores: tuple[float, ...] = ()
    reference_top1_scores: tuple[float, ...] = ()
    report: str | None = None
    """File name of evidently's HTML report, next to the ragmon report."""


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
    records: Sequence[QueryRecord],
    retriever: Retriever,
    *,
    now: datetime,
    window: timedelta,
    reference_window: timedelta,
    sample: int,
    seed: int,
    k: int,
    floor: float,
    threshold: float,
    budget: int | None = None,
    report_path: Path | None = None,
) -> Production:
    """Compare the current window's queries with the reference window's."""
    start = now - window
    ref_start = start - reference_window
    current = [r for r in records if start <= r.time < now]
    reference = [r for r in records if ref_start <= r.time < start]
    base = Production(
        window=(start, now),
        reference_window=(ref_start, start),
        queries=len(current),
        reference_queries=len(reference),
        sampled=0,
        reference_sampled=0,
        floor=floor,
    )
    if min(len(current), len(reference)) < MIN_QUERIES:
        return _replace(base, skipped=f"fewer than {MIN_QUERIES} queries in a window")
    cur = _sample(current, sample, f"{seed}:current")
    ref = _sample(reference, sample, f"{seed}:reference")
    vectors_cur = retriever.embed([r.query for r in cur])
    vectors_ref = retriever.embed([r.query for r in ref])
    logged = all(r.scores for r in cur + ref)
    over_budget: float | None = None
    if logged:
        scores_cur = [list(r.scores or ()) for r in cur]
        scores_ref = [list(r.scores or ()) for r in ref]
    else:
        hits_cur = retriever.ranked(retriever.search(vectors_cur, k))
        hits_ref = retriever.ranked(retriever.search(vectors_ref, k), k=0)
        scores_cur = [[h.similarity for h in hits] for hits in hits_cur]
        scores_ref = [[h.similarity for h in hits] for hits in hits_ref]
        if budget is not None and retriever.count_tokens is not None:
            totals = [sum(h.tokens or 0 for h in hits) for hits in hits_cur]
            over_budget = sum(t > budget for t in totals) / len(totals)
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
    return _replace(
        base,
        sampled=len(cur),
        reference_sampled=len(ref),
        scores_from="logged" if logged else "store",
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
        no_relevant_share=_below(top1_cur, floor),
        reference_no_relevant_share=_below(top1_ref, floor),
        over_budget_share=over_budget,
        top1_scores=tuple(round(s, 5) for s in top1_cur[:KEPT_SCORES]),
        reference_top1_scores=tuple(round(s, 5) for s in top1_ref[:KEPT_SCORES]),
        report=report,
    )


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


def _below(scores: Sequence[float], floor: float) -> float | None:
    return sum(s < floor for s in scores) / len(scores) if scores else None


def _sample(records: Sequence[QueryRecord], size: int, seed: str) -> list[QueryRecord]:
    ordered = sorted(records, key=lambda r: (r.time, r.query))
    if len(ordered) <= size:
        return ordered
    return random.Random(seed).sample(ordered, size)


def _replace(production: Production, **changes: object) -> Production:
    from dataclasses import replace

    return replace(production, **changes)  # type: ignore[arg-type]
