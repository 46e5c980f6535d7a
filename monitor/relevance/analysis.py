"""One relevance run: labelled probes, self-retrieval, the index check, production queries.

Plain inputs (a store, an embedder, probes, query records, the previous result) in, one
`RelevanceResult` out (and, for logged queries, the per-response states to store); the
job reads the config and the history and calls `measure_run`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.relevance.compare import Regression, regressions
from monitor.relevance.exact import index_recall, sample_ids
from monitor.relevance.logged import LoggedResponse
from monitor.relevance.metrics import aggregate, score_probe
from monitor.relevance.perresponse import ResponseState, response_states
from monitor.relevance.probes import Probe
from monitor.relevance.production import QueryRecord, compare_windows
from monitor.relevance.results import Labelled, RelevanceResult, Timings
from monitor.relevance.retrieval import Retriever
from monitor.relevance.selfprobe import choose_sample, self_retrieval
from monitor.relevance.settings import RelevanceConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class Earlier:
    """A result to compare with: the previous run's, or the pinned baseline's."""

    run_id: int
    result: RelevanceResult
    against: str
    """``previous`` or ``baseline``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class QueryInput:
    """Production queries of one run and where they came from."""

    records: Sequence[QueryRecord]
    source: str = "file"
    """``logs`` or ``file``."""
    detail: str | None = None
    totals: tuple[int, int] | None = None
    """The windows' query counts when ``records`` are already a sample (logs)."""
    logged: Sequence[LoggedResponse] = ()
    """The sampled current-window responses, when the queries came from the logs."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Measured:
    result: RelevanceResult
    states: tuple[ResponseState, ...] = ()
    """Per-response state of the sampled logged responses (``response_retrieval``)."""


def labelled_probes(
    retriever: Retriever, probes: Sequence[Probe], settings: RelevanceConfig, file: str
) -> Labelled:
    """Embed and run the labelled probes; figures per probe and their means."""
    ranked = retriever.rank([p.query for p in probes], settings.search_depth, k=settings.k)
    outcomes = tuple(
        score_probe(p.id, p.expected, p.unit, hits, k=settings.k, budget=settings.budget_tokens)
        for p, hits in zip(probes, ranked, strict=True)
    )
    return Labelled(
        file=file,
        aggregate=aggregate(outcomes),
        outcomes=outcomes,
        queries={p.id: p.query for p in probes},
    )


def measure(retriever: Retriever, settings: RelevanceConfig, **options: Any) -> RelevanceResult:
    """Everything the relevance job measures, as one result (`measure_run`'s options)."""
    return measure_run(retriever, settings, **options).result


def measure_run(
    retriever: Retriever,
    settings: RelevanceConfig,
    *,
    now: datetime,
    location: str,
    probes: Sequence[Probe] = (),
    probes_file: str = "",
    queries: Sequence[QueryRecord] | QueryInput | None = None,
    earlier: Sequence[Earlier] = (),
    report_path: Path | None = None,
) -> Measured:
    """Everything the relevance job measures, and the per-response states of logged queries."""
    store = retriever.store
    all_ids: list[str] | None = None
    if settings.self_sample or settings.index_sample:
        all_ids = [c.id for page in store.pages(include_text=False) for c in page]
    labelled = labelled_probes(retriever, probes, settings, probes_file) if probes else None
    previous = next((e for e in earlier if e.against == "previous"), None)
    own = None
    if settings.self_sample and all_ids:
        before = previous.result.self_retrieval if previous else None
        choice = choose_sample(
            all_ids,
            before.sample_ids if before and before.seed == settings.seed else (),
            size=settings.self_sample,
            seed=settings.seed,
        )
        own, _ = self_retrieval(
            retriever,
            choice,
            k=settings.k,
            depth=settings.search_depth,
            seed=settings.seed,
            match=settings.self_match,
            budget=settings.budget_tokens,
        )
    index = None
    if settings.index_sample and all_ids:
        index = index_recall(
            store, sample_ids(all_ids, settings.index_sample, settings.seed), settings.k
        )
    production = None
    states: list[ResponseState] = []
    if queries is not None:
        given = queries if isinstance(queries, QueryInput) else QueryInput(records=queries)
        windows = compare_windows(
            given.records,
            retriever,
            now=now,
            window=settings.window,
            reference_window=settings.reference_window,
            sample=settings.query_sample,
            seed=settings.seed,
            k=settings.k,
            floor=settings.score_floor,
            threshold=settings.drift_threshold,
            budget=settings.budget_tokens,
            report_path=report_path if settings.drift_report else None,
            totals=given.totals,
            source=given.source,
            source_detail=given.detail,
        )
        production = windows.production
        if given.logged:
            states, summary = response_states(
                windows,
                given.logged,
                store,
                count=retriever.count_tokens,
                budget=settings.budget_tokens,
            )
            known = [s.over_budget for s in states if s.over_budget is not None]
            production = replace(
                production,
                per_response=summary,
                over_budget_share=sum(known) / len(known) if known else None,
            )
    found: list[Regression] = []
    if labelled is not None:
        for e in earlier:
            if e.result.labelled is None:
                continue
            found += regressions(
                labelled.outcomes,
                e.result.labelled.outcomes,
                labelled.queries,
                k=settings.k,
                against=e.against,
                run_id=e.run_id,
            )
    t = retriever.timings
    result = RelevanceResult(
        collection=store.name,
        store=location,
        ran_at=now,
        k=settings.k,
        depth=settings.search_depth,
        space=store.space,
        score_kind="cosine similarity" if store.space in ("cosine", "ip", "l2") else "-distance",
        budget_tokens=settings.budget_tokens,
        chunks=len(all_ids) if all_ids is not None else store.count(),
        labelled=labelled,
        regressions=tuple(found),
        self_retrieval=own,
        index=index,
        production=production,
        timings=Timings(
            embedding_seconds=round(t.embedding, 3),
            querying_seconds=round(t.querying, 3),
            queries=t.queries,
        ),
    )
    return Measured(result=result, states=tuple(states))


def with_reference(result: RelevanceResult, reference: object) -> RelevanceResult:
    """``result`` with what its recall was compared with."""
    return replace(result, reference=reference)  # type: ignore[arg-type]
