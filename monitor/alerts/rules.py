"""Rules over stored figures: a value (or its change against a baseline) and a threshold.

Generic over the history ``metrics`` table: a rule names a figure and optionally some
labels; every series of that figure in the newest completed run of its job whose labels
include the rule's is evaluated on its own, and is its own alert (its fingerprint is the
rule name plus the series' labels). A series missing from the newest run is not firing.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from monitor.alerts.figures import compare, fingerprint, format_value, series_name
from monitor.alerts.settings import RuleSettings
from monitor.records import Evaluation, FigureRun, LabelKey

_CHANGE_WORDS = {
    "drop": "drop",
    "relative_drop": "relative drop",
    "rise": "rise",
    "relative_rise": "relative rise",
}


def runs_needed(rule: RuleSettings) -> int:
    """How many recent runs of the job a rule looks at."""
    rolling = rule.baseline.rolling_runs if rule.baseline and rule.baseline.rolling_runs else 0
    return rule.for_runs + rolling


def evaluate_rule(
    rule: RuleSettings, runs: Sequence[FigureRun], *, pinned: FigureRun | None = None
) -> list[Evaluation]:
    """One evaluation per matching series of the newest run in ``runs`` (newest first).

    ``pinned`` is the run named by ``baseline.run``, when the rule pins its baseline to one.
    """
    if not runs:
        return []
    latest = runs[0]
    out = []
    for key in sorted(latest.series):
        labels = dict(key)
        if all(labels.get(k) == v for k, v in rule.labels.items()):
            out.append(_evaluate_series(rule, key, runs, pinned))
    return out


def _evaluate_series(
    rule: RuleSettings, key: LabelKey, runs: Sequence[FigureRun], pinned: FigureRun | None
) -> Evaluation:
    values = [run.series.get(key) for run in runs]
    quantities: list[float | None] = []
    reference: float | None = None
    for index in range(rule.for_runs):
        value = values[index] if index < len(values) else None
        if value is None:
            quantities.append(None)
            continue
        ref = _reference(rule, key, values[index + 1 :], pinned)
        if index == 0:
            reference = ref
        quantities.append(_quantity(rule, value, ref))
    firing = all(q is not None and compare(q, rule.op, rule.threshold) for q in quantities)
    labels = dict(key)
    current = values[0]
    return Evaluation(
        rule=rule.name,
        fingerprint=fingerprint(rule.name, labels),
        labels=labels,
        severity=rule.severity,
        firing=firing,
        summary=_summary(rule, labels, current, quantities[0], reference),
        description=rule.description,
        metric=rule.metric,
        value=current,
        threshold=rule.threshold,
        op=rule.op,
        job=runs[0].job,
        run_id=runs[0].run_id,
        cooldown=rule.cooldown,
    )


def _reference(
    rule: RuleSettings,
    key: LabelKey,
    earlier: Sequence[float | None],
    pinned: FigureRun | None,
) -> float | None:
    baseline = rule.baseline
    if baseline is None:
        return None
    if baseline.value is not None:
        return baseline.value
    if baseline.run is not None:
        return pinned.series.get(key) if pinned is not None else None
    window = [v for v in earlier[: baseline.rolling_runs] if v is not None]
    if not window:
        return None
    return statistics.median(window) if baseline.stat == "median" else statistics.fmean(window)


def _quantity(rule: RuleSettings, value: float, reference: float | None) -> float | None:
    """What the threshold is compared with: the value, or its change against the baseline."""
    if rule.change is None:
        return value
    if reference is None:
        return None
    delta = value - reference
    if rule.change.startswith("relative"):
        if reference == 0:
            return None
        delta /= abs(reference)
    return -delta if rule.change.endswith("drop") else delta


def _summary(
    rule: RuleSettings,
    labels: Mapping[str, str],
    value: float | None,
    quantity: float | None,
    reference: float | None,
) -> str:
    name = series_name(rule.metric, labels)
    streak = f" for {rule.for_runs} runs" if rule.for_runs > 1 else ""
    if rule.change is None or rule.baseline is None:
        limit = format_value(rule.metric, rule.threshold)
        return f"{name} = {format_value(rule.metric, value)} (threshold {rule.op} {limit}{streak})"
    relative = rule.change.startswith("relative")
    unit = "relative" if relative else rule.metric

    def fmt(number: float | None) -> str:
        return format_value("x_share" if relative else unit, number)

    baseline = rule.baseline
    if baseline.rolling_runs:
        against = f"{baseline.stat} of {baseline.rolling_runs} runs before"
    elif baseline.run is not None:
        against = f"run {baseline.run}"
    else:
        against = "pinned value"
    return (
        f"{name} = {format_value(rule.metric, value)}: {_CHANGE_WORDS[rule.change]} "
        f"{fmt(quantity)} against the {against} ({format_value(rule.metric, reference)}) "
        f"(threshold {rule.op} {fmt(rule.threshold)}{streak})"
    )
