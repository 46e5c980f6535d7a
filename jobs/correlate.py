"""The `correlate` job: which upstream problems the low-grounding answers come from."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from jobs.registry import register
from monitor.alerts.builtin import BuiltinRule
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import Metric, RunResult, RunStatus

if TYPE_CHECKING:
    from monitor.correlation.features import Frames

log = logging.getLogger(__name__)
JOB = "correlate"

RULES = (
    BuiltinRule(
        name="stale-drives-grounding",
        metric="correlation_stale_grounding_drop",
        op=">=",
        threshold=0.1,
        threshold_key="correlation.min_effect",
        finding_kinds=("correlation",),
        description="Answers that retrieved a stale chunk are grounded at least min_effect "
        "worse than the rest, and the difference is a finding after adjusting for every "
        "feature tested: stale content is driving low grounding (an association in the "
        "logs, not proof of cause). Re-embed the hotspot documents first.",
    ),
)
"""The correlation signal's built-in alert rule (a warning, no gate). Its threshold is
``[correlation] min_effect`` (an alias), or the rule's own in ``[[alerts.rules]]``."""


@register(
    JOB,
    schedule="15 4 * * *",
    after=("chunking", "relevance", "grounding"),
    signal=True,
    rules=RULES,
)
def run(config: Config, history: HistoryStore, *, full: bool = False) -> RunResult:
    """Correlation: each upstream feature's association with grounding, hotspots, lags."""
    window = analysis_window(config, history)
    if window is None:
        return _not_enough(None, "no response with a grounding score was ever ingested")
    since, until = window
    frames = load_window(config, history, since=since, until=until)
    if frames.responses.empty:
        return _not_enough(
            window, f"no response with a grounding score between {since:%Y-%m-%d} and {until}"
        )
    from monitor.correlation.results import figures, findings
    from monitor.correlation.stats import analyse

    result = analyse(
        frames.responses,
        frames.retrieved,
        config.correlation,
        documents=frames.documents,
        grounding_source=frames.grounding_source,
        since=since,
        until=until,
    )
    found = findings(result)
    metrics = [Metric(name=name, value=value) for name, value in figures(result).items()]
    summary = (
        f"{result.n_responses} responses ({result.n_low} low-grounding, "
        f"{frames.grounding_source} scores) from {since:%Y-%m-%d} to {until:%Y-%m-%d}: "
        f"{len(found)} finding(s)"
    )
    return RunResult(
        status=RunStatus.OK,  # no gate: the rule alerts, the exit code stays 0
        summary=summary,
        metrics=tuple(metrics),
        findings=tuple(found),
        details=result.to_json(),
    )


def analysis_window(config: Config, history: HistoryStore) -> tuple[datetime, datetime] | None:
    """``window_days`` days ending just after the newest stored response; None without
    responses."""
    from sqlalchemy import func, select

    from monitor.history.models import ResponseRow

    with history.session() as session:
        newest = session.scalar(select(func.max(ResponseRow.at_us)))
    if newest is None:
        return None
    until = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(newest) + 1)
    return until - timedelta(days=config.correlation.window_days), until


def load_window(
    config: Config, history: HistoryStore, *, since: datetime, until: datetime
) -> Frames:
    """The frames of ``[since, until)`` (`monitor.correlation.features.load_frames`)."""
    from monitor.correlation.features import load_frames

    return load_frames(history, config, since=since, until=until)


def _not_enough(window: tuple[datetime, datetime] | None, why: str) -> RunResult:
    """A normal run with nothing to analyse: exit 0, no figures."""
    from monitor.correlation.results import EMPTY_SCHEMA

    details: dict[str, Any] = {"schema": EMPTY_SCHEMA, "status": "not_enough_data", "note": why}
    if window is not None:
        details["window"] = {"since": window[0].isoformat(), "until": window[1].isoformat()}
    return RunResult(
        status=RunStatus.OK,
        summary=f"not enough data: {why}",
        metrics=(Metric(name="correlation_responses", value=0.0),),
        details=details,
    )
