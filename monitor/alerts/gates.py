"""Gates: the alert rules that also decide a run's exit code.

A rule marked ``gate`` is evaluated on a run's own figures as soon as the job returns,
before the run is stored, with the same code the alert evaluation uses afterwards; so a
threshold that makes `ragmon run` exit 1 is the threshold that fires the alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from monitor.alerts.rules import evaluate_rule, runs_needed
from monitor.alerts.settings import RuleSettings
from monitor.history.alerts import AlertStore
from monitor.records import Evaluation, FigureRun, LabelKey, Metric, RunResult, RunStatus


def gate_rules(rules: Sequence[RuleSettings], job: str) -> list[RuleSettings]:
    """The enabled gates of ``job``."""
    return [r for r in rules if r.gate and r.enabled and r.job == job]


def check_gates(
    rules: Sequence[RuleSettings],
    result: RunResult,
    *,
    job: str,
    run_id: int,
    started_at: datetime,
    store: AlertStore,
) -> RunResult:
    """``result`` with its gate evaluations; its status is ``findings`` when one fired."""
    checks: list[Evaluation] = []
    for rule in gate_rules(rules, job):
        current = FigureRun(
            run_id=run_id, job=job, started_at=started_at, series=_series(result.metrics, rule)
        )
        earlier = store.figure_runs(rule.metric, job=job, runs=runs_needed(rule))
        pinned = None
        if rule.baseline is not None and rule.baseline.run is not None:
            pinned = store.figure_in_run(rule.metric, rule.baseline.run)
        checks += evaluate_rule(rule, [current, *earlier], pinned=pinned)
    crossed = sum(1 for c in checks if c.firing)
    if not checks:
        return result
    return replace(
        result,
        gates=tuple(checks),
        status=RunStatus.FINDINGS if crossed else result.status,
        summary=result.summary + (f"; {crossed} threshold(s) crossed" if crossed else ""),
    )


def _series(metrics: Sequence[Metric], rule: RuleSettings) -> dict[LabelKey, float]:
    return {tuple(sorted(m.labels.items())): m.value for m in metrics if m.name == rule.metric}
