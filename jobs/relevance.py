"""The `relevance` job: labelled and self-retrieval probes, the index check, production queries."""

from __future__ import annotations

import logging
import statistics
from datetime import datetime
from typing import Any

from jobs.registry import register
from monitor import clock
from monitor.alerts.builtin import BuiltinRule
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import COMPLETED, Finding, Metric, RunResult, RunStatus, Severity

log = logging.getLogger(__name__)

JOB = "relevance"

RULES = (
    BuiltinRule(
        name="recall-drop",
        metric="relevance_recall_relative_drop",
        labels={"probes": "labelled"},
        threshold=0.10,
        gate=True,
        finding_kinds=("regressed_probe",),
        description="Recall@k of the labelled probes fell by more than 10% against the "
        "pinned baseline (ragmon baseline set relevance) or the median of recent runs: the "
        "right documents exist but retrieval stopped surfacing them.",
    ),
    BuiltinRule(
        name="index-recall",
        metric="index_recall_at_k",
        op="<",
        threshold=0.95,
        gate=True,
        finding_kinds=("index_recall",),
        description="The store's approximate index misses more than 5% of the exact "
        "nearest neighbours of its own vectors. Rebuild the index or raise its search "
        "effort (hnsw:search_ef).",
    ),
    BuiltinRule(
        name="self-retrieval-drop",
        metric="relevance_recall_relative_drop",
        labels={"probes": "self"},
        threshold=0.10,
        finding_kinds=("truncated_chunk",),
        description="Chunks found by their own sentences fell by more than 10%: a new "
        "chunker, a new model or truncated chunks. It tracks change, not absolute quality.",
    ),
    BuiltinRule(
        name="query-drift",
        metric="query_drift_detected",
        op=">=",
        threshold=1,
        finding_kinds=("query_drift",),
        description="Production queries moved away from the reference window: the probes "
        "may no longer represent what people ask.",
    ),
    BuiltinRule(
        name="nothing-relevant",
        metric="no_relevant_share",
        labels={"window": "current"},
        threshold=0.25,
        description="More than a quarter of production queries found no chunk above the "
        "score floor (relevance.score_floor).",
    ),
)
"""The relevance signal's built-in alert rules; the gates set `ragmon run`'s exit code."""


@register(JOB, schedule="30 2 * * *", signal=True, rules=RULES)
def run(config: Config, history: HistoryStore, *, full: bool = False) -> RunResult:
    """Probe retrieval: recall, MRR and ranks of probes; the index; production queries."""
    return run_relevance(config, history)


def run_relevance(
    config: Config, history: HistoryStore, *, now: datetime | None = None
) -> RunResult:
    """Measure retrieval relevance on the configured collection and compare with history."""
    from monitor.embedding.sbert import SentenceTransformerEmbedder
    from monitor.provenance import MetadataMapping
    from monitor.relevance.analysis import measure_run, with_reference
    from monitor.relevance.logged import write_states
    from monitor.relevance.probes import load_probes
    from monitor.relevance.retrieval import Retriever, token_counter
    from monitor.stores import describe_store, open_store

    settings = config.relevance.resolved(config.base_dir)
    now = now or clock.now()
    probes = load_probes(settings.probes) if settings.probes else []
    queries = _queries(settings, history, now)
    embedder = SentenceTransformerEmbedder.from_config(config.embedding)
    if settings.tokenizer is not None:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(settings.tokenizer))
    else:
        tokenizer = embedder.tokenizer
    earlier = _earlier(history)
    report_path = config.report.out_dir / f"relevance-query-drift-{now:%Y%m%dT%H%M%SZ}.html"
    with open_store(config.store) as store:
        retriever = Retriever(
            store=store,
            embedder=embedder,
            mapping=MetadataMapping(config.mapping),
            rewrites=config.mapping.path_rewrites,
            count_tokens=token_counter(tokenizer),
        )
        measured = measure_run(
            retriever,
            settings,
            now=now,
            location=describe_store(config.store),
            probes=probes,
            probes_file=str(settings.probes or ""),
            queries=queries,
            earlier=earlier,
            report_path=report_path,
        )
    result = measured.result
    if measured.states:
        write_states(
            history,
            measured.states,
            run_id=_running_run(history),
            now_us=int(clock.now().timestamp() * 1_000_000),
        )
    figures = _figures(result)
    reference, drops = _references(history, figures, settings.rolling_runs)
    result = with_reference(result, reference)
    figures += drops
    return RunResult(
        status=RunStatus.OK,
        summary=_summary(result),
        metrics=tuple(figures),
        findings=tuple(_findings(result)),
        details=result.to_json(),
    )


def _queries(settings: Any, history: HistoryStore, now: datetime) -> Any:
    """Production queries: the response logs' or the query file's (`relevance.query_source`).

    ``auto`` takes the logs when both windows hold at least `MIN_QUERIES` logged queries,
    else the file when one is configured, else the logs (the result then says why nothing
    was compared).
    """
    from monitor.relevance.analysis import QueryInput
    from monitor.relevance.logged import logged_query_count, logged_windows
    from monitor.relevance.production import MIN_QUERIES, load_queries

    split = now - settings.window
    start = split - settings.reference_window
    source = settings.query_source
    if source == "auto":
        current = logged_query_count(history, start=split, end=now)
        reference = logged_query_count(history, start=start, end=split)
        if min(current, reference) >= MIN_QUERIES or (
            settings.queries is None and current + reference
        ):
            source = "logs"
        elif settings.queries is not None:
            source = "file"
        else:
            return None
    if source == "file":
        return QueryInput(
            records=load_queries(settings.queries), source="file", detail=str(settings.queries)
        )
    logged = logged_windows(
        history,
        start=start,
        split=split,
        end=now,
        sample=settings.query_sample,
        seed=settings.seed,
    )
    return QueryInput(
        records=logged.records,
        source="logs",
        detail="ingested response logs (history tables responses, response_chunks)",
        totals=(logged.current_total, logged.reference_total),
        logged=logged.current,
    )


def _running_run(history: HistoryStore) -> int | None:
    """This run's id: the relevance run the runner recorded as running (None when the job
    is called directly, outside the runner)."""
    newest = history.runs(JOB, limit=1)
    return newest[0].id if newest and newest[0].status == RunStatus.RUNNING else None


def _earlier(history: HistoryStore) -> list[Any]:
    """The previous completed run's result, and the pinned baseline's when one is pinned."""
    from monitor.errors import ResultSchemaError
    from monitor.relevance.analysis import Earlier
    from monitor.relevance.results import RelevanceResult

    wanted: list[tuple[int, str]] = []
    previous = history.last_success(JOB)
    if previous is not None:
        wanted.append((previous.id, "previous"))
    pinned = _pinned_run(history)
    if pinned is not None and pinned != (previous.id if previous else None):
        wanted.append((pinned, "baseline"))
    found = []
    for run_id, against in wanted:
        try:
            result = RelevanceResult.from_json(history.details(run_id) or {})
        except ResultSchemaError as exc:
            log.warning("run %d of relevance cannot be compared with: %s", run_id, exc)
            continue
        found.append(Earlier(run_id=run_id, result=result, against=against))
    return found


def _pinned_run(history: HistoryStore) -> int | None:
    """The run pinned with `ragmon baseline set relevance`, if any."""
    from monitor.history.pins import pinned

    pin = pinned(history, JOB)
    return pin.run_id if pin is not None else None


def _figures(result: Any) -> list[Metric]:
    k = str(result.k)
    out: list[Metric] = []

    def add(name: str, value: float | None, **labels: str) -> None:
        if value is not None:
            out.append(Metric(name=name, value=float(value), labels=labels))

    if result.labelled is not None:
        a = result.labelled.aggregate
        add("relevance_probes", a.probes, probes="labelled")
        add("relevance_hit_at_k", a.hit_at_k, probes="labelled", k=k)
        add("relevance_recall_at_k", a.recall_at_k, probes="labelled", k=k)
        add("relevance_mrr", a.mrr, probes="labelled")
        add("relevance_ndcg_at_k", a.ndcg_at_k, probes="labelled", k=k)
        add("context_over_budget_share", a.over_budget_share, probes="labelled")
        add("context_beyond_budget_hits", a.beyond_budget, probes="labelled")
        for against in ("previous", "baseline"):
            if any(r.against == against for r in result.regressions) or against == "previous":
                add(
                    "relevance_regressed_probes",
                    sum(r.against == against for r in result.regressions),
                    against=against,
                )
    own = result.self_retrieval
    if own is not None:
        add("relevance_probes", own.overall.probes, probes="self")
        add("relevance_hit_at_k", own.overall.hit_at_k, probes="self", k=k)
        add("relevance_recall_at_k", own.overall.recall_at_k, probes="self", k=k)
        add("relevance_mrr", own.overall.mrr, probes="self")
        add("context_over_budget_share", own.overall.over_budget_share, probes="self")
        add("relevance_self_replaced", own.replaced)
        for position, agg in own.by_position.items():
            add("relevance_hit_at_k", agg.hit_at_k, probes="self", k=k, position=position)
            add("relevance_mrr", agg.mrr, probes="self", position=position)
    if result.index is not None:
        add("index_recall_at_k", result.index.recall, k=str(result.index.k))
    prod = result.production
    if prod is not None:
        add("production_queries", prod.queries, window="current")
        add("production_queries", prod.reference_queries, window="reference")
        if prod.query_drift is not None:
            d = prod.query_drift
            decided = f"bootstrap-q{d.quantile}" if d.bootstrap else f"auc>{d.threshold}"
            add("query_drift_auc", d.score, method=d.method, threshold=decided)
            add("query_drift_detected", 1.0 if d.drifted else 0.0, method=d.method)
        for scores, test in (("top1", prod.top1), ("topk", prod.topk)):
            if test is not None:
                add("score_drift_p_value", test.p_value, scores=scores)
                add("score_drift_statistic", test.statistic, scores=scores)
                add("score_drift_median_shift", test.median_shift, scores=scores)
        add("no_relevant_share", prod.no_relevant_share, window="current")
        add("no_relevant_share", prod.reference_no_relevant_share, window="reference")
        add("context_over_budget_share", prod.over_budget_share, probes="production")
        each = prod.per_response
        if each is not None:
            add("response_retrieval_rows", each.rows)
            if each.rows and each.novelty_threshold is not None:
                add("query_novel_share", each.drifted / each.rows, window="current")
    return out


def _references(
    history: HistoryStore, figures: list[Metric], rolling_runs: int
) -> tuple[Any, list[Metric]]:
    """Relative drop of recall@k against the pinned baseline, else the rolling median."""
    from monitor.relevance.results import Reference

    recalls = {
        m.labels["probes"]: m
        for m in figures
        if m.name == "relevance_recall_at_k" and "position" not in m.labels
    }
    pinned = _pinned_run(history)
    if pinned is not None:
        runs = [pinned]
        kind = "baseline"
    else:
        runs = [r.id for r in history.runs(JOB, limit=rolling_runs * 3) if r.status in COMPLETED]
        runs = runs[:rolling_runs]
        kind = "rolling"
    drops: list[Metric] = []
    labelled_reference: Any = Reference(kind="none")
    for probes, metric in recalls.items():
        values = [
            m.value
            for run_id in runs
            for m in history.metrics(run_id)
            if m.name == metric.name and dict(m.labels) == dict(metric.labels)
        ]
        if not values:
            continue
        reference = statistics.median(values)
        drop = (reference - metric.value) / abs(reference) if reference else 0.0
        drops.append(
            Metric(
                name="relevance_recall_relative_drop",
                value=drop,
                labels={**metric.labels, "reference": kind},
            )
        )
        if probes == "labelled":
            labelled_reference = Reference(
                kind=kind, run_ids=tuple(runs), recall=reference, relative_drop=drop
            )
    return labelled_reference, drops


def _summary(result: Any) -> str:
    parts = []
    if result.labelled is not None:
        a = result.labelled.aggregate
        parts.append(f"recall@{result.k} {a.recall_at_k:.2f}, MRR {a.mrr:.2f} ({a.probes} probes)")
        if result.regressions:
            parts.append(f"{len({r.probe for r in result.regressions})} regressed")
    if result.self_retrieval is not None:
        parts.append(f"self hit@{result.k} {result.self_retrieval.overall.hit_at_k:.2f}")
    if result.index is not None:
        parts.append(f"index recall {result.index.recall:.3f}")
    prod = result.production
    if prod is not None and prod.query_drift is not None:
        parts.append(f"query drift AUC {prod.query_drift.score:.2f} (queries from {prod.source})")
    return "; ".join(parts) or "no probes configured and no chunks to sample"


def _findings(result: Any) -> list[Finding]:
    out = []
    for r in result.regressions:
        rank_from = r.rank_from if r.rank_from is not None else f">{result.depth}"
        rank_to = r.rank_to if r.rank_to is not None else f">{result.depth}"
        out.append(
            Finding(
                kind="regressed_probe",
                severity=Severity.WARNING,
                message=f"probe {r.probe} ({r.query[:80]}): rank {rank_from} -> {rank_to}, "
                f"recall@{result.k} {r.recall_from:.2f} -> {r.recall_to:.2f} "
                f"(against the {r.against} run {r.run_id})",
                evidence={"against": r.against, "run_id": r.run_id},
            )
        )
    own = result.self_retrieval
    if own is not None and own.late_misses:
        out.append(
            Finding(
                kind="truncated_chunk",
                severity=Severity.INFO,
                message=f"{len(own.late_misses)} sampled chunks are found by their first "
                "sentence but not by their last: their ends are likely past the model's window",
                chunk_ids=tuple(own.late_misses),
            )
        )
    if result.index is not None and result.index.recall < 1.0:
        out.append(
            Finding(
                kind="index_recall",
                severity=Severity.INFO,
                message=f"the index returned {result.index.recall:.1%} of the exact top "
                f"{result.index.k} over {result.index.queries} stored vectors",
            )
        )
    prod = result.production
    if prod is not None and prod.query_drift is not None and prod.query_drift.drifted:
        out.append(
            Finding(
                kind="query_drift",
                severity=Severity.WARNING,
                message=f"production queries drifted: classifier ROC AUC "
                f"{prod.query_drift.score:.3f} over {prod.sampled} current and "
                f"{prod.reference_sampled} reference queries",
            )
        )
    return out
