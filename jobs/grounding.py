"""The `grounding` job: score every newly ingested response against its context."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from jobs.registry import register
from monitor.alerts.builtin import BuiltinRule
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import Finding, Metric, RunResult, RunStatus, Severity

if TYPE_CHECKING:
    from monitor.grounding.scheduled import ChunkText, ScoringRun

log = logging.getLogger(__name__)
JOB = "grounding"
WINDOW_DAYS = 30
"""Days of scores the report's band chart, worst answers and calibration look at."""
WORST = 10
"""Worst answers kept in the result."""
FINDINGS = 20
"""Escalated answers of one run reported as findings (the rest are counted)."""
LATEST = {"window": "latest_day"}

RULES = (
    BuiltinRule(
        name="grounding-escalate-share",
        metric="grounding_band_share",
        labels={"band": "escalate", **LATEST},
        threshold=0.2,
        finding_kinds=("ungrounded_answer",),
        description="More than 20% of the latest day's answers are so poorly backed by "
        "their context that they should have gone to a person.",
    ),
    BuiltinRule(
        name="grounding-mean-drop",
        metric="grounding_mean_score",
        labels=dict(LATEST),
        op=">=",
        threshold=0.1,
        change="drop",
        baseline={"rolling_runs": 24},
        finding_kinds=("ungrounded_answer",),
        description="The latest day's mean grounding score fell by 0.1 or more against "
        "the last 24 runs: retrieval, the prompt or the model changed for the worse.",
    ),
)
"""The grounding signal's built-in alert rules (warnings, no gates)."""


@register(JOB, schedule="10 * * * *", after=("ingest-logs",), signal=True, rules=RULES)
def run(config: Config, history: HistoryStore, *, full: bool = False) -> RunResult:
    """Grounding of the logged answers: score, band and evidence; band shares per day."""
    from monitor.errors import ConfigError, NliModelError
    from monitor.grounding.runresult import DayBands, GroundingRunResult
    from monitor.grounding.scheduled import (
        adopted_calibration,
        calibrate_scores,
        score_pending,
        scorer_version,
        worst_answers,
    )
    from monitor.grounding.scorer import Scorer
    from monitor.grounding.stored import (
        DAY_US,
        day_of,
        day_summaries,
        forget_scores,
        newest_scored_us,
    )
    from monitor.grounding.summary import BandSummary

    settings = config.grounding.resolved(config.base_dir)
    # New scores get the calibration the last run adopted for this same scorer.
    calibration = adopted_calibration(history, JOB, scorer_version(settings))
    try:
        scorer = Scorer(settings, calibration=calibration)
    except NliModelError as exc:
        raise ConfigError(config.file or "config", exc.KEY, exc.problem) from None
    if full:
        log.info("dropped %d stored grounding rows (--full)", forget_scores(history))
    with _chunk_text(config) as chunk_text:
        scoring = score_pending(history, scorer, chunk_text=chunk_text)
    newest = newest_scored_us(history)
    since_us = (newest or 0) - (WINDOW_DAYS - 1) * DAY_US
    since_day = day_of(since_us) if newest is not None else None
    days = day_summaries(history, since=since_day) if newest is not None else []
    touched = day_summaries(history, days=scoring.days) if scoring.days else []
    calibrations, note = (
        calibrate_scores(history, since_us=since_us) if newest is not None else ((), "")
    )
    result = GroundingRunResult(
        scorer=scorer_version(scorer),
        bands=settings.bands.model_dump(),
        scored=scoring.scored,
        no_context=scoring.no_context,
        no_answer=scoring.no_answer,
        deferred=scoring.deferred,
        from_store=scoring.from_store,
        days_touched=tuple(sorted(scoring.days)),
        days=tuple(
            DayBands(
                day=s.day,
                responses=s.responses,
                counts={b.value: n for b, n in s.counts.items()},
                mean_score=s.mean_score,
            )
            for s in days
            if s.day is not None
        ),
        worst=worst_answers(history, since_us=since_us, n=WORST) if newest is not None else (),
        calibration_applied=calibration.version if calibration is not None else "",
        calibration=calibrations,
        calibration_note=note,
    )
    metrics = [
        Metric(name="grounding_scored", value=scoring.scored),
        Metric(name="grounding_no_context", value=scoring.no_context),
        Metric(name="grounding_context_from_store", value=scoring.from_store),
        Metric(name="grounding_deferred", value=scoring.deferred),
    ]
    for day_summary in touched:
        metrics += day_summary.metrics()
    if days:
        latest = days[-1]
        # The newest day again without its date label, so one series (and one alert)
        # follows "today" from run to run.
        metrics += BandSummary(
            day=None,
            responses=latest.responses,
            counts=latest.counts,
            mean_score=latest.mean_score,
        ).metrics(LATEST)
    for cal in calibrations:
        for kind, value in (("raw", cal.ece_raw), ("calibrated", cal.ece_calibrated)):
            metrics.append(
                Metric(
                    name="grounding_calibration_error",
                    value=value,
                    labels={"source": cal.source, "calibration": kind},
                )
            )
    findings = _findings(scoring)
    summary = (
        f"{scoring.scored} responses scored ({scoring.from_store} from the store's chunk "
        f"text), {scoring.no_context} without context, {scoring.no_answer} without answer"
    )
    if scoring.deferred:
        summary += f", {scoring.deferred} left for the next run (the store could not be read)"
    if days:
        latest_day = days[-1]
        shares = latest_day.shares
        summary += (
            f"; {latest_day.day}: "
            + ", ".join(f"{b.value} {shares[b]:.0%}" for b in shares)
            + f" of {latest_day.responses}"
        )
    return RunResult(
        status=RunStatus.OK,  # no gate: the rules alert, the exit code stays 0
        summary=summary,
        metrics=tuple(metrics),
        findings=tuple(findings),
        details=result.to_json(),
    )


def _findings(scoring: ScoringRun) -> list[Finding]:
    escalated = sorted(scoring.escalated, key=lambda pair: pair[1].score)
    out = []
    for response, result in escalated[:FINDINGS]:
        claims = "; ".join(f"{c.text!r} ({c.reason})" for c in result.unsupported_claims)
        values = "; ".join(f"{v.text} ({v.reason})" for v in result.violations)
        out.append(
            Finding(
                kind="ungrounded_answer",
                severity=Severity.WARNING,
                message=f"response {response.id} scores {result.score:.2f} (escalate): "
                + (claims or "no unsupported claim")
                + (f"; values: {values}" if values else ""),
                evidence={"response": response.id, **result.to_json()},
            )
        )
    if len(escalated) > FINDINGS:
        log.info("%d more escalated answers not listed", len(escalated) - FINDINGS)
    return out


@contextlib.contextmanager
def _chunk_text(config: Config) -> Iterator[ChunkText | None]:
    """Chunk text from the store, opened on first use; None when it cannot be read."""
    from monitor.errors import StoreError
    from monitor.stores import open_store

    with contextlib.ExitStack() as stack:
        store = None
        broken = False

        def lookup(ids: Sequence[str]) -> dict[str, str] | None:
            nonlocal store, broken
            if broken:
                return None
            try:
                if store is None:
                    store = stack.enter_context(open_store(config.store))
                return {c.id: c.text for c in store.get(list(ids)) if c.text}
            except StoreError as exc:
                log.warning("no chunk text from the store: %s", exc)
                broken = True
                return None

        yield lookup
